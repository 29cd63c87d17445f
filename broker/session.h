/*
 * session.h - one client socket: its bufferevent, wire format, state
 * machine (AUTHENTICATING -> READY -> CLOSING) and teardown.
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

#include <event2/util.h>
#include <mp/plugin.h>

#include "client_log.h"
#include "conn_table.h"

struct broker;
struct listener;
struct loaded_plugin;
struct bufferevent;
struct event;
struct mp_auth_ticket;
struct source;

/* A small set of sessions (a few at most in practice). */
struct session_list {
    struct session **items;
    size_t count, cap;
};

enum session_state {
    SESSION_AUTHENTICATING,
    SESSION_READY,
    SESSION_CLOSING,
};

struct session {
    struct broker *broker;
    struct listener *listener;  /* counts us in n_sessions */
    struct bufferevent *bev;
    const struct loaded_plugin *translator; /* NULL until sniffed (auto) */
    void *decode_stream;
    void *encode_stream;
    enum session_state state;

    /* Asked for at Auth, owned once READY: a malloc'ed copy of exactly
     * name_len + 1 bytes, or a shared "" before Auth (an idle client
     * should not carry 256 bytes for a short name). Never NULL. */
    char *name;
    size_t name_len;
    bool registered;            /* in broker->names */
    unsigned level;             /* protocol level announced at Auth */
    struct source *source;      /* its address's counts (sources.h); NULL
                                   for a session made without one */
    struct log_limit log_limit; /* lines about this client (client_log.h) */
    uint32_t bad_messages;      /* WAT-worthy messages in this window */
    uint32_t bad_window_s;      /* the window's start, monotonic seconds */
    char peer[64];              /* "127.0.0.1:5555", "[::1]:5555",
                                   "unix(uid=1000)" */

    struct conn_peer conns;      /* connections this client is an end of */
    /* The auth timeout, the close linger, the slow-consumer close; NULL
     * while a logged-in client needs none of them (memory per idle
     * client), made again on demand. */
    struct event *timer;
    struct mp_auth_ticket *auth; /* authentication waiting on a plugin */
    bool processing;             /* inside session_process_input() */
    unsigned notified;           /* broker->notify_generation when told */
    bool dying;                  /* on broker->dead, freed by the reaper */
    bool too_slow;               /* too slow a reader: closing */
    bool unauthenticated;        /* counted in broker->n_unauthenticated
                                    and source->unauthenticated */
    bool close_logged;           /* the line about its refused login said
                                    it all: its close adds none */
    bool slow_deadline;          /* the timer is the slow-consumer deadline:
                                    output passed the high water mark and
                                    has not drained below the low one */

    /* Backpressure (session.c): senders this session's queued output has
     * paused, and the recipients that hold this session paused. */
    struct session_list paused;
    struct session_list blockers;

    struct session *prev, *next; /* broker->sessions */
    struct session *next_dead;   /* broker->dead */
};

/* Start a session on an accepted socket (which it then owns), counted
 * as not logged in yet. It takes over one reference to `source` (from
 * source_acquire(); NULL: none), released when it is freed. Returns
 * NULL, having closed fd and released the source, on failure. */
struct session *session_new(struct broker *broker,
                            struct listener *listener,
                            evutil_socket_t fd, const char *peer,
                            struct source *source);

/* The client sent something WAT-worthy (`why`): counted against
 * limits.bad_messages_max per minute; past it, the client is answered
 * WAT and disconnected. Returns true if it was. */
bool session_bad_message(struct session *s, const char *why);

/* Queue `msg` for the client. Returns 0, or -1 if the session is closing
 * or the message could not be encoded. */
int session_send(struct session *s, const struct mp_message *msg);

/* session_send() with the data given in the wire form of the session's
 * translator (its encode_wire()), in place of msg->data. */
int session_send_wire(struct session *s, const struct mp_message *msg,
                      const unsigned char *wire, size_t wire_len);

/* Send a broker message {meta, other_client, connection_id, reason}. */
void session_send_notice(struct session *s, enum mp_meta meta,
                         const char *other_client,
                         const char *connection_id, size_t connection_id_len,
                         const char *reason);

/* Decode and handle what the client has sent, as far as possible. */
void session_process_input(struct session *s);

/* Orderly close: see the header comment. Idempotent. */
void session_close(struct session *s, const char *reason);

/* The authentication chain's verdict (called by auth_chain.c); `by` is
 * the authenticator that gave it (its name, for the log), NULL when none
 * did (every one deferred, or the broker ran out of memory). */
void session_auth_finished(struct session *s, enum mp_auth_result result,
                           const char *reason, const char *by);

/* Free at once, without telling anyone (broker shutdown and reaper). */
void session_free(struct session *s);

/* Free every session on broker->dead (the reaper's job). */
void sessions_reap(struct broker *broker);

#endif
