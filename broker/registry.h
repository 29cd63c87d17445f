/*
 * registry.h - the cluster's shared state in Redis: which brokers are
 * alive, who owns each name, and the fencing of stale owners
 * (doc/cluster.md, "The registry").
 *
 * Redis is the only authority. Every change is one Lua script run with
 * Redis's own clock (TIME), so no broker's clock matters and each step is
 * atomic on the primary. Keys, all under one hash tag so that a Redis
 * Cluster keeps them in one slot ("{P}" is the configured key prefix):
 *
 *   {P}:epoch          set once (SET NX); a different value, or none,
 *                      means Redis lost its data: re-register
 *   {P}:brokers        sorted set: broker id -> lease deadline (ms)
 *   {P}:broker:<id>    hash: host, port (its link address), since (ms)
 *   {P}:name:<name>    "<broker id> <session id>", no TTL
 *   {P}:names:<id>     set of the names broker <id> owns
 *   {P}:mbox:<id>      list of notices for <id>: "kick <sid> <name>",
 *                      "dead <broker id>"; drained on each renewal
 *
 * The registry renews this broker's lease every second (renew_ms). A
 * broker that has not had a renewal answered within fence_ms of sending
 * it *fences* itself (events->fenced): it closes its clients and links,
 * and registers again under a new id once Redis answers. hiredis 0.14
 * has no timeout for asynchronous calls, so a watchdog (a libevent
 * timer) frees a context whose oldest call has waited command_timeout_ms
 * and connects again: every call still waiting is answered
 * REGISTRY_UNAVAILABLE.
 *
 * Reaping: each renewal of a broker whose registration is at least one
 * lease old also removes up to a bounded number of names of brokers
 * whose lease has expired, then their set, hash and mailbox, and posts
 * "dead <id>" to every live broker's mailbox.
 *
 * Everything runs on the broker's event loop thread; every callback is
 * called from the loop, never from inside the call that started it.
 *
 * Ownership: the registry owns its hiredis context, its timers and its
 * calls. A caller's `arg` is not touched after its callback ran or after
 * registry_cancel(). Strings passed to callbacks are valid only during
 * the callback.
 */
#ifndef MP_BROKER_REGISTRY_H
#define MP_BROKER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct errors;
struct registry;
struct registry_call;

/* A broker id: 16 lowercase hex digits (64 random bits), NUL-terminated. */
#define REGISTRY_ID_LEN 16

struct registry_conf {
    const char *redis;          /* "tcp:HOST:PORT" or "unix:PATH" */
    const char *key_prefix;     /* the hash tag's text, e.g. "mpbroker" */
    unsigned lease_ms;          /* a lease's length (default 10000) */
    unsigned fence_ms;          /* fence if no renewal answered within this
                                   (default 8000; < lease_ms) */
    unsigned renew_ms;          /* renewal period (default 1000) */
    unsigned command_timeout_ms; /* the watchdog's bound (default 2000) */
    const char *link_host;      /* what other brokers dial to reach us */
    int link_port;
    const char *redis_user;     /* AUTH as this ACL user (NULL: none) */
    const char *redis_password; /* ... with this password (NULL: no
                                   AUTH); copied, wiped when freed */
};

/* Where another broker's links are, as its hash says. */
struct registry_owner {
    char broker_id[REGISTRY_ID_LEN + 1];
    uint64_t session_id;
    char host[256];
    int port;
};

enum registry_status {
    REGISTRY_OK,          /* done (claim: the name is ours) */
    REGISTRY_TAKEN,       /* claim: a live owner holds it (reject mode) */
    REGISTRY_REPLACED,    /* claim: taken over from a live owner, who is
                             in *owner (its mailbox got a kick) */
    REGISTRY_NOT_FOUND,   /* lookup: nobody (alive) owns the name */
    REGISTRY_UNAVAILABLE, /* Redis did not answer, or this broker is not
                             registered (fenced, starting) */
};

struct registry_events {
    /* Registered (at start, after fencing, after Redis lost its data):
     * `broker_id` is this broker's id from now on. `fresh` is true when
     * the id is new (start, fencing): nothing of ours is in the
     * registry; false when Redis lost its data and the same id was
     * registered again: the caller re-claims its names
     * (registry_reclaim). */
    void (*registered)(void *arg, const char *broker_id, bool fresh);
    /* No renewal was answered within fence_ms: this broker may no longer
     * own any name. Close every client and link now. The registry
     * registers again with a new id when Redis answers. */
    void (*fenced)(void *arg, const char *why);
    /* A newer login on another broker took `name` from our session
     * `session_id` (its mailbox; the link usually told us first). */
    void (*kick)(void *arg, const char *name, uint64_t session_id);
    /* Broker `broker_id` was reaped (its lease expired): drop its link. */
    void (*dead)(void *arg, const char *broker_id);
};

/* A registry for `base`; nothing is sent yet. conf is copied. Returns
 * NULL with an error in errs when conf->redis cannot be parsed. */
struct registry *registry_new(struct event_base *base,
                              const struct registry_conf *conf,
                              const struct registry_events *events,
                              void *arg, struct errors *errs);

/* Connect and register (asynchronously: events->registered tells). */
void registry_start(struct registry *r);

/* Remove this broker from the registry (its names, set, hash, lease)
 * and post "dead" to the others, waiting at most timeout_ms for the
 * answer (broker shutdown). It polls the Redis connection itself rather
 * than running the loop, so it may be called from inside a callback of
 * the loop (a signal event). Afterwards nothing more is sent: calls get
 * REGISTRY_UNAVAILABLE, releases are dropped; registry_free follows. */
void registry_leave(struct registry *r, unsigned timeout_ms);

/* Free at once; calls still waiting get no callback. NULL is ignored.
 * Not from inside one of the registry's own callbacks. */
void registry_free(struct registry *r);

/* This broker's id, "" while not registered. */
const char *registry_broker_id(const struct registry *r);

/* Is this broker registered with a lease renewed within fence_ms? */
bool registry_is_live(const struct registry *r);

typedef void (*registry_claim_cb)(void *arg, enum registry_status status,
                                  const struct registry_owner *owner);
typedef void (*registry_lookup_cb)(void *arg, enum registry_status status,
                                   const struct registry_owner *owner);

/*
 * Claim `name` for our session `session_id`: free, or owned by an
 * expired broker -> REGISTRY_OK; owned by a live broker (another, or us
 * under another session id) -> REGISTRY_TAKEN, or with `replace`
 * REGISTRY_REPLACED (the old owner is in `owner`, its mailbox has a
 * kick). A broker that is not live gets REGISTRY_UNAVAILABLE without a
 * call to Redis. The returned handle may be cancelled until cb runs;
 * a claim cancelled after it was sent is released once answered.
 */
struct registry_call *registry_claim(struct registry *r, const char *name,
                                     uint64_t session_id, bool replace,
                                     registry_claim_cb cb, void *arg);

/* Who owns `name` now: REGISTRY_OK with `owner` (its broker alive), or
 * REGISTRY_NOT_FOUND, or REGISTRY_UNAVAILABLE. */
struct registry_call *registry_lookup(struct registry *r, const char *name,
                                      registry_lookup_cb cb, void *arg);

/* Forget a call: its callback will not run. */
void registry_cancel(struct registry *r, struct registry_call *call);

/* Our session `session_id` logged out: delete `name` if it is still
 * ours under that session id (compare-and-delete). Fire and forget: if
 * Redis is unavailable it is sent once it answers again. */
void registry_release(struct registry *r, const char *name,
                      uint64_t session_id);

/* After Redis lost its data (registered with fresh = false): claim
 * `name` for `session_id` again. TAKEN means another broker's client
 * took it first: the caller closes its session. */
struct registry_call *registry_reclaim(struct registry *r, const char *name,
                                       uint64_t session_id,
                                       registry_claim_cb cb, void *arg);

/* Figures for the metrics endpoint. */
struct registry_stats {
    uint64_t brokers_alive;     /* in the sorted set at the last renewal */
    uint64_t renewals;
    uint64_t fencings;          /* times this broker fenced itself */
    uint64_t reaped;            /* brokers this broker reaped */
    uint64_t calls_failed;      /* answered REGISTRY_UNAVAILABLE */
    uint64_t rtt_us_last;       /* the last renewal's round trip */
    uint64_t rtt_us_sum;        /* all renewals' round trips */
};
const struct registry_stats *registry_stats(const struct registry *r);

#endif
