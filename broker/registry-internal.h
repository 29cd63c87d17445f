/*
 * registry-internal.h - what the files of the registry share with each
 * other and nobody else: registry.c (life cycle), registry_conn.c (the
 * connection and the watchdog), registry_calls.c (claims, look-ups,
 * releases), registry_lease.c (registration, renewal, fencing, reaping,
 * leaving) and registry_scripts.c (the Lua texts).
 */
#ifndef MP_BROKER_REGISTRY_INTERNAL_H
#define MP_BROKER_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event2/util.h>

#include "registry.h"

struct event;
struct redisAsyncContext;
struct redisReply;

/* Releases waiting for Redis to answer again; the oldest are dropped
 * beyond this (their names are then freed by reaping or a takeover). */
#define REGISTRY_RELEASE_QUEUE_MAX 10000
/* Names an expired broker loses per renewal of a reaping broker: bounds
 * the time one script holds Redis. */
#define REGISTRY_REAP_BUDGET 1000
/* Key lengths: "{prefix}:" with a prefix of at most
 * REGISTRY_PREFIX_MAX bytes, then "broker:" and an id, or "name:" and a
 * client name (MP_NAME_MAX, 255). */
#define REGISTRY_PREFIX_MAX 64
#define REGISTRY_NAME_MAX 255 /* MP_NAME_MAX: longer ones are refused */
#define KEY_MAX (REGISTRY_PREFIX_MAX + 4 + 16 + REGISTRY_ID_LEN)
#define NAME_KEY_MAX (REGISTRY_PREFIX_MAX + 4 + 8 + 256)
/* The reconnection backoff: first delay, doubled up to the cap. */
#define REGISTRY_BACKOFF_MIN_MS 20
#define REGISTRY_BACKOFF_MAX_MS 1000

enum registry_call_kind {
    CALL_REGISTER,
    CALL_RENEW,
    CALL_CLAIM,
    CALL_LOOKUP,
    CALL_RELEASE,
    CALL_LEAVE,
};

/*
 * One command: sent (in r->pending, in the order Redis answers), and/or
 * waiting for its REGISTRY_UNAVAILABLE to be delivered from the loop (in
 * r->failed), or a release queued until Redis answers (r->releases).
 * Freed once in none of the lists.
 */
struct registry_call {
    struct registry *r;
    enum registry_call_kind kind;
    TAILQ_ENTRY(registry_call) pending_link;
    TAILQ_ENTRY(registry_call) failed_link;
    TAILQ_ENTRY(registry_call) queue_link; /* a release waiting for Redis */
    bool in_pending, in_failed, in_queue;
    bool done;                  /* the caller's callback ran, or cancelled */
    bool abandoned;             /* failed while sent: its answer goes to
                                   nobody (a claim answered OK is released) */
    uint64_t sent_ms;           /* monotonic */
    uint64_t sent_us;           /* the same, finer: round-trip times */
    unsigned generation;        /* register/renew: r->generation at send */
    char broker_id[REGISTRY_ID_LEN + 1]; /* claim/release: under which id */
    char *name;                 /* claim/lookup/release */
    uint64_t session_id;
    bool replace;
    registry_claim_cb claim_cb; /* claim (and reclaim) */
    registry_lookup_cb lookup_cb;
    void *arg;
};
TAILQ_HEAD(registry_call_list, registry_call);

enum registry_state {
    STATE_IDLE,        /* before registry_start */
    STATE_REGISTERING, /* a register script is due or in flight */
    STATE_REGISTERED,
    STATE_LEFT,        /* registry_leave ran: nothing more is sent */
};

struct registry {
    struct event_base *base;
    struct registry_conf conf;  /* strings owned */
    char *redis_host;           /* NULL for a unix socket */
    char *redis_path;
    int redis_port;
    char *prefix;               /* "{key_prefix}:" */
    struct registry_events events;
    void *arg;

    struct redisAsyncContext *ac; /* NULL while disconnected */
    bool connecting;            /* ac's connection not confirmed yet */
    uint64_t connect_started_ms;
    bool outage;                /* logged "unavailable", not yet back */
    bool freeing;               /* registry_free: no callbacks */
    int in_reply;               /* inside a hiredis reply callback */
    char drop_why[96];          /* for a drop deferred out of a reply */
    uint64_t refused_logged_ms; /* the last error reply logged */
    unsigned backoff_ms;

    enum registry_state state;
    bool fresh;                 /* the registration due is under a new id */
    char id[REGISTRY_ID_LEN + 1]; /* ours; "" while not registered */
    char next_id[REGISTRY_ID_LEN + 1]; /* what registering uses */
    char fenced_id[REGISTRY_ID_LEN + 1]; /* the id before the last fence */
    char *epoch;                /* NULL until registered */
    unsigned generation;        /* bumped by each registration and fence */
    bool register_in_flight, renew_in_flight;
    uint64_t last_ok_sent_ms;   /* send time of the last answered renewal */

    struct registry_call_list pending; /* sent, oldest first */
    struct registry_call_list failed;  /* UNAVAILABLE to deliver */
    struct registry_call_list releases; /* to send when Redis is back */
    size_t nreleases;
    bool releases_dropped;      /* warned of dropping, this outage */
    bool leave_done;

    struct event *renew_ev;     /* every renew_ms */
    struct event *check_ev;     /* the watchdog and the fence bound */
    struct event *reconnect_ev;
    struct event *deliver_ev;   /* zero timeout: r->failed */
    struct event *drop_ev;      /* zero timeout: a deferred drop */

    struct registry_stats stats;
};

static inline void ms_timeval(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

/* registry.c */
/* A key "{prefix}:<what><arg>" in buf. */
const char *registry_key(const struct registry *r, char *buf, size_t len,
                         const char *what, const char *arg);
/* Stop for good: no timers, no context (registry_leave). */
void registry_stop(struct registry *r);

/* registry_conn.c */
uint64_t registry_now_ms(void);
uint64_t registry_now_us(void);
/* Send script `text` with nkeys KEYS then ARGV (argv: NULL-terminated
 * strings). Returns false (call untouched) when it could not be sent. */
bool registry_send(struct registry *r, struct registry_call *call,
                   const char *text, int nkeys, const char *const *argv);
/* Connect (if not connected), then register and flush releases. */
void registry_connect(struct registry *r);
/* The registry's timers (registry.c arms them). */
void registry_drop_deferred(evutil_socket_t fd, short what, void *arg);
void registry_reconnect_cb(evutil_socket_t fd, short what, void *arg);
void registry_check_cb(evutil_socket_t fd, short what, void *arg);
void registry_renew_cb(evutil_socket_t fd, short what, void *arg);

/* registry_calls.c */
struct registry_call *registry_call_new(struct registry *r,
                                        enum registry_call_kind kind);
/* Free `call` unless a list still holds it. */
void registry_call_free_if_unused(struct registry_call *call);
/* Redis answered `call` (not an error reply). */
void registry_call_answered(struct registry *r, struct registry_call *call,
                            const struct redisReply *reply);
/* The context went away before `call` was answered, or Redis refused. */
void registry_call_lost(struct registry *r, struct registry_call *call);
/* The zero-timeout event that delivers REGISTRY_UNAVAILABLE. */
void registry_deliver_failed(evutil_socket_t fd, short what, void *arg);
/* Fail every sent claim now (fencing): their callers get UNAVAILABLE,
 * their answers, when OK, are released. */
void registry_fail_pending_claims(struct registry *r);
/* Send what waited for Redis: queued releases. */
void registry_flush_releases(struct registry *r);
/* Compare-and-delete "<broker_id> <session_id>" of `name`, now or, while
 * Redis is unavailable, once it answers again. */
void registry_release_as(struct registry *r, const char *broker_id,
                         const char *name, uint64_t session_id);

/* registry_lease.c */
void registry_new_id(char out[REGISTRY_ID_LEN + 1]);
/* Send the register script if one is due and none is in flight. */
void registry_send_register(struct registry *r);
void registry_renew_tick(struct registry *r);
void registry_check_fence(struct registry *r, uint64_t now);
void registry_fence(struct registry *r, const char *why);
void registry_on_register(struct registry *r, struct registry_call *call,
                          const struct redisReply *reply);
void registry_on_renew(struct registry *r, struct registry_call *call,
                       const struct redisReply *reply);
/* Register/renew that got no answer (context dropped). */
void registry_lease_call_lost(struct registry *r,
                              struct registry_call *call);

#endif
