/*
 * session.h - one client socket: its I/O, wire format, state
 * machine (AUTHENTICATING -> READY -> CLOSING) and teardown. A session is
 * the endpoint (endpoint.h) of a client connected to one of our
 * listeners.
 *
 * The parts, one file each:
 *   session.c        - creation, the state, closing and freeing, timers
 *   session_io.c     - the socket: reading, writing, the flush list
 *   session_output.c - queueing for the client: the endpoint's deliver,
 *                      the output limits and the slow-consumer deadline
 *   session_input.c  - reading: format sniffing, decoding, the fast lane
 *   login.c          - Auth: names, the throttle, the authenticators'
 *                      verdict
 *
 * Lifetime: a session is created by a listener and owned by the broker's
 * session list. session_close() starts an orderly close (peers are told,
 * queued output is flushed for a bounded time); the memory is released
 * later by the broker's reaper, never from inside one of the session's own
 * callbacks, so a pointer to a closing session stays valid until the loop
 * runs again.
 */
#ifndef MP_BROKER_SESSION_H
#define MP_BROKER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <event2/util.h>
#include <mp/plugin.h>

#include "endpoint.h"

struct broker;
struct broker_conf;
struct listener;
struct bufferevent;
struct event;
struct evbuffer;
struct mp_auth_ticket;
struct registry_call;
struct source;
struct ws_session;

enum session_state {
    SESSION_AUTHENTICATING,
    SESSION_READY,
    SESSION_CLOSING,
    SESSION_STATES
};

struct session {
    /* Name, peer address, connections, pauses, format (ep.format: its
     * translator, NULL until sniffed on an "auto" listener). The name is
     * the one asked for at Auth, owned once READY. */
    struct endpoint ep;
    struct listener *listener;  /* counts us by state */
    /* Its bytes (session_io.c): a TLS session's bufferevent; or, for a
     * plain socket, its own read event, a write event while the socket
     * would block, and buffers only while bytes wait in them. */
    struct bufferevent *bev;    /* TLS and WebSocket; NULL for a plain
                                   socket */
    struct ws_session *ws;      /* WebSocket only (ws_session.h): its
                                   handshake and frames; `in` and `out`
                                   then hold payloads and one message */
    struct event *read_ev;
    struct event *write_ev;
    struct evbuffer *in, *out;
    unsigned char *carry;       /* a few bytes left over while idle, or
                                   NULL (session_io.c) */
    uint8_t carry_len;
    evutil_socket_t fd;
    uint32_t read_size;         /* the next read's, from the last one */
    bool flush_queued;          /* on broker->to_flush */
    void *decode_stream;
    void *encode_stream;
    enum session_state state;   /* change it with session_set_state() */

    unsigned level;             /* protocol level announced at Auth */
    struct source *source;      /* its address's counts (sources.h); NULL
                                   for a session made without one */
    uint32_t bad_messages;      /* WAT-worthy messages in this window */
    uint32_t bad_window_s;      /* the window's start, monotonic seconds */

    /* The auth timeout, the close linger, the slow-consumer close; NULL
     * while a logged-in client needs none of them (memory per idle
     * client), made again on demand. */
    struct event *timer;
    struct mp_auth_ticket *auth; /* authentication waiting on a plugin */
    struct registry_call *claim; /* its name's claim waiting on the
                                    cluster's registry (cluster_login.c) */
    struct registry_call *reclaim; /* ... claimed again after Redis lost
                                      its data */
    bool kicked;                 /* a newer login elsewhere took its name
                                    before its own claim was answered */
    bool processing;             /* inside session_process_input() */
    bool dying;                  /* on broker->dead, freed by the reaper */
    bool too_slow;               /* too slow a reader: closing */
    bool unauthenticated;        /* counted in broker->n_unauthenticated
                                    and source->unauthenticated */
    bool close_logged;           /* the line about its refused login said
                                    it all: its close adds none */
    bool slow_deadline;          /* the timer is the slow-consumer deadline:
                                    output passed the high water mark and
                                    has not drained below the low one */

    TAILQ_ENTRY(session) entry;  /* broker->sessions */
    LIST_ENTRY(session) flush;   /* broker->to_flush */
    SLIST_ENTRY(session) dead;   /* broker->dead */
};

TAILQ_HEAD(session_list, session);
LIST_HEAD(flush_list, session);
SLIST_HEAD(dead_sessions, session);

/* The session an endpoint of the session kind is embedded in. */
struct session *session_of(struct endpoint *ep);

/* Start a session on an accepted socket (which it then owns), counted
 * as not logged in yet. It takes over one reference to `source` (from
 * source_acquire(); NULL: none), released when it is freed. */
struct session *session_new(struct broker *broker,
                            struct listener *listener,
                            evutil_socket_t fd, const char *peer,
                            struct source *source);

/* Move to `state`, keeping the listener's counts by state. */
void session_set_state(struct session *s, enum session_state state);

/* Apply the limits a reload may change to a session already there (its
 * output watermarks). */
void session_apply_limits(struct session *s, const struct broker_conf *conf);

/* The client sent something WAT-worthy (`why`): counted against
 * limits.bad_messages_max per minute; past it, the client is answered
 * WAT and disconnected. Returns true if it was. */
bool session_bad_message(struct session *s, const char *why);

/* Queue a broker message {meta, other_client, connection_id, reason}
 * for the client (as the broker's own: it pauses nobody). */
void session_send_notice(struct session *s, enum mp_meta meta,
                         const char *other_client,
                         const char *connection_id, size_t connection_id_len,
                         const char *reason);

/* A fatal problem with what the client sent: answer with the protocol's
 * error (AuthFailure before login, WAT after) and close. */
void session_protocol_error(struct session *s, const char *reason);

/* Decode and handle what the client has sent, as far as possible. */
void session_process_input(struct session *s);

/* Orderly close: see the header comment. Idempotent. */
void session_close(struct session *s, const char *reason);

/* The authentication chain's verdict (called by auth_chain.c); `by` is
 * the authenticator that gave it (its name, for the log), NULL when none
 * did (every one deferred). Defined in login.c. */
void session_auth_finished(struct session *s, enum mp_auth_result result,
                           const char *reason, const char *by);

/* The cluster's registry answered the claim of s's name: NULL, it is
 * ours (log in); else the refusal the client hears. Defined in
 * login.c. */
void session_claim_finished(struct session *s, const char *refusal);

/* Is s's login waiting for an authenticator or the registry? */
static inline bool session_login_waits(const struct session *s)
{
    return s->auth != NULL || s->claim != NULL;
}

/* Free at once, without telling anyone (broker shutdown and reaper). */
void session_free(struct session *s);

/* Free every session on broker->dead (the reaper's job). */
void sessions_reap(struct broker *broker);

/* Write what was queued this turn of the loop for each plain session on
 * broker->to_flush (the broker's flusher event; session_io.c). */
void sessions_flush(struct broker *broker);

#endif
