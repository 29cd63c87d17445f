/*
 * client-internal.h - libmpclient's private structures, shared by its
 * source files and never installed.
 *
 * The files, in the order a message travels (doc/hacking.md has the map):
 *   client.c    the client object: options, creation, the loop modes,
 *               disconnecting, freeing, and every way the broker link ends
 *   login.c     mp_client_connect: dial, TLS, Auth, the broker's answer
 *   link.c      the broker socket's events: reading and decoding (to
 *               login.c before AuthOk, conn.c after), pausing, closing
 *   send.c      encoding one message for the broker (send_message)
 *   outq.c      the output queue: memory per message, limits, drained
 *   conn.c      connections: the table, the broker's messages about
 *               them, mp_conn_* and mp_client_open
 *   handlers.c  protocols we accept (mp_client_handle)
 *   credit.c    level 2: credit per connection, sending and granting
 *   presence.c  level 2: Watch, Unwatch, Presence and List
 *   notices.c   level 2: Replaced and GoingAway, the broker's notices
 *               about the session
 *   reconnect.c the broker addresses in turn, and logging in again after
 *               a lost session (backoff, attempts, giving up)
 *   request.c   request/reply: mp_client_request (an open, one send, the
 *               first reply, a close) and mp_client_handle_requests
 *   address.c, dialer.c, tls.c   reaching the broker; strerror.c  texts
 * An internal function's prefix names its file (login_finish is in
 * login.c); mp_tls_, mp_address_ and mp_dialer_ are tls.c, address.c and
 * dialer.c. Nothing here is exported: local.mk exports only mp_client_*,
 * mp_conn_* and the two string functions, so no internal name may start
 * with "mp_client_" or "mp_conn_".
 */
#ifndef MP_CLIENT_INTERNAL_H
#define MP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/queue.h>
#include <sys/socket.h>

#include <mp/client.h>
#include <mp/plugin.h>

#include "dialer.h"

struct bufferevent;
struct event;
struct evbuffer;
struct evbuffer_cb_entry;
struct out_record;
struct hashmap;
struct request;
struct ssl_ctx_st;

/* Room for a reason: "cannot connect to HOST:PORT: tried" and up to
 * MP_DIAL_MAX addresses with what became of each. */
#define MP_REASON_MAX 1024

enum client_state {
    CLIENT_NEW,            /* created, not connecting yet */
    CLIENT_CONNECTING,     /* TCP/Unix connect (the dialer), then the
                              TLS handshake, in progress */
    CLIENT_AUTHENTICATING, /* Auth sent, waiting for AuthOk */
    CLIENT_READY,          /* logged in */
    CLIENT_CLOSING,        /* mp_client_disconnect(): flushing, waiting
                              for the broker to close */
    CLIENT_RECONNECTING,   /* the session was lost: waiting for the next
                              attempt to log in again (reconnect.c); an
                              attempt itself is CONNECTING and
                              AUTHENTICATING with `attempt` > 0 */
    CLIENT_DONE,           /* login failed, broker lost or disconnected:
                              only mp_client_free() is left */
};

/* presence.c: a Watch held (a name, or a prefix). */
struct watch {
    bool prefix;
    size_t len;
    char name[MP_NAME_MAX + 1];
    SLIST_ENTRY(watch) entry;
};

/* presence.c: a List request waiting for its last reply. Owns names[]
 * and each name in it. */
struct list_request {
    char id[32];
    char prefix[MP_NAME_MAX + 1];
    mp_list_cb cb;
    void *arg;
    char **names;
    size_t n, cap, bytes;
    bool truncated;
    SLIST_ENTRY(list_request) entry;
};

/* handlers.c: a protocol we accept, from mp_client_handle(). */
struct handler {
    char *protocol;
    mp_connection_cb on_connection;
    void *arg;
    mp_request_cb on_request; /* mp_client_handle_requests(); else NULL */
    SLIST_ENTRY(handler) entry;
};

struct mp_client {
    struct event_base *base;
    bool own_base;
    enum client_state state;

    const char *address;   /* the one in use: addresses[address_index] */
    char **addresses;      /* every broker address, in the options' order */
    size_t n_addresses;
    size_t address_index;
    const struct mp_codec_ops *codec;
    void *decode_stream;   /* codec state of what the broker sends */
    void *encode_stream;   /* codec state of what we send */
    char name[MP_NAME_MAX + 1];
    size_t name_len;
    unsigned char *secret; /* wiped before free */
    size_t secret_len;
    size_t max_message_size;
    unsigned connect_timeout_ms;
    size_t max_queued;        /* see mp_client_options */
    size_t max_queued_per_conn;
    int keepalive_s;          /* < 0: off */
    unsigned idle_timeout_ms; /* 0: none */
    unsigned max_incoming_conns;
    unsigned incoming_conns;  /* open connections peers opened */
    const struct mp_format *format; /* in common/format.h's registry */
    struct ssl_ctx_st *tls_ctx; /* "tls:" addresses only */
    char *tls_server_name;
    char tls_host[256];       /* HOST of a "tls:" address, to verify */
    struct mp_dialer *dialer; /* while the TCP/Unix connect is under way */
    bool input_ended;         /* the broker closed its side */
    bool send_blocked;        /* a send got MP_ERR_WOULD_BLOCK for the
                                 client's whole queue */
    unsigned blocked_conns;   /* connections with send_blocked */
    bool read_paused;         /* output past outq_pause_level(): input
                                 waits (backpressure on the broker) */
    mp_drained_cb drained_cb;
    void *drained_arg;

    struct bufferevent *bev;
    struct evbuffer *scratch; /* one message being encoded */
    /* The output queue (outq.c): a ring of records, oldest first. */
    struct out_record *outq;
    size_t outq_head, outq_len, outq_cap;
    size_t queued_cost;       /* memory the output holds, in bytes */
    bool outq_tail_is_block;  /* the output ends with a reference chain */
    struct evbuffer_cb_entry *outq_cb;
    struct event *notify;     /* drained callbacks, resuming input */
    char lost_reason[MP_REASON_MAX];    /* why the broker connection was lost */
    struct event *timer;      /* connect/login and disconnect timeouts,
                                 deferred errors (client.c) */
    int deferred_error;       /* reported by the timer when non-zero */
    char deferred_reason[MP_REASON_MAX]; /* ... with this reason, if not empty */
    char tls_error[256];      /* why the TLS context could not be made */

    /* Protocol level 2 (doc/protocol.md). */
    unsigned announce_level;  /* sent at Auth: 1 (no level field) or 2 */
    unsigned level;           /* AuthOk's: 1 or 2; 0 before the login */
    size_t window;            /* AuthOk's window (level 2) */
    unsigned max_watches;     /* AuthOk's watches; 0: not said */
    size_t receive_window;    /* see mp_client_options */
    bool manual_credit;
    unsigned long long next_conn_serial; /* see mp_conn.serial */
    const char *open_reason;  /* during an open callback (Denied) */
    int notice_status;        /* MP_ERR_GOING_AWAY once announced: the
                                 status the lost callback gets */
    mp_going_away_cb going_away_cb;
    void *going_away_arg;
    mp_presence_cb presence_cb;
    void *presence_arg;
    SLIST_HEAD(, watch) watches;
    unsigned n_watches;
    SLIST_HEAD(, list_request) lists;
    unsigned long next_list;  /* suffix of our next List request id */

    /* request.c: mp_client_request()s not answered yet (zeroed by
     * calloc: an empty list). */
    LIST_HEAD(, request) requests;

    mp_ready_cb ready_cb;
    void *ready_arg;
    mp_lost_cb lost_cb;
    void *lost_arg;
    mp_disconnected_cb disconnected_cb;
    void *disconnected_arg;

    /* Reconnecting (reconnect.c). */
    bool reconnect;           /* the option */
    unsigned reconnect_initial_ms, reconnect_max_ms, reconnect_max_attempts;
    unsigned attempt;         /* the reconnect attempt under way or waited
                                 for (1, 2, ...); 0: none */
    size_t addresses_tried;   /* the first login: addresses that could
                                 not be reached so far */
    char failover_reason[MP_REASON_MAX]; /* ... and what each gave */
    unsigned long long jitter_state; /* xorshift64*, for the backoff */
    mp_interrupted_cb interrupted_cb;
    void *interrupted_arg;
    mp_reconnecting_cb reconnecting_cb;
    void *reconnecting_arg;
    mp_reconnected_cb reconnected_cb;
    void *reconnected_arg;

    SLIST_HEAD(, handler) handlers;
    struct hashmap *conns_by_id;
    LIST_HEAD(, mp_conn) conns; /* every connection, open or opening */
    unsigned long next_conn;  /* suffix of our next connection id */

    bool waiting;             /* inside mp_client_connect_wait() */
    bool wait_done;
    int wait_status;
    char wait_reason[MP_REASON_MAX];
};

/* A connection's state as this client sees it (the broker's own view is
 * enum conn_state in broker/conn_table.h). */
enum client_conn_state {
    CLIENT_CONN_OPENING, /* our Syn is out, no answer yet */
    CLIENT_CONN_OPEN,
};

struct mp_conn {
    struct mp_client *client;
    enum client_conn_state state;
    char id[MP_NAME_MAX + 1];
    size_t id_len;
    char peer[MP_NAME_MAX + 1];
    size_t peer_len;
    char *protocol;
    bool ending;  /* inside its on_close: being freed */
    bool incoming; /* a peer opened it (counted in incoming_conns) */
    size_t queued_cost;  /* memory its messages hold in the output */
    size_t queued_msgs;  /* ... in that many records */
    bool send_blocked;   /* a send got MP_ERR_WOULD_BLOCK */
    mp_conn_drained_cb drained_cb;
    void *drained_arg;
    /* Unique within the client: tells a connection from one that took
     * its id (and perhaps its memory) during a callback. */
    unsigned long long serial;
    /* Level 2 (credit.c); all 0 at level 1. */
    size_t recv_window;       /* what the peer may send ahead of us */
    long long send_credit;    /* what we may still send */
    long long peer_credit;    /* what the peer may still send, as granted */
    long long consumed;       /* automatic: cost not granted back yet */
    bool manual_credit;

    mp_open_cb open_cb;
    void *open_arg;
    /* Accepted through mp_client_handle_requests(): its callback, which
     * on_message (request.c) calls. */
    mp_request_cb on_request;
    mp_message_cb on_message;
    mp_close_cb on_close;
    void *arg;

    LIST_ENTRY(mp_conn) entry; /* in client->conns */
};

/* A member of the options, or 0/NULL when the program was built against
 * an older header whose struct ends before it. */
#define OPTION(o, member)                                                   \
    ((o)->size >= offsetof(struct mp_client_options, member) +              \
                      sizeof (o)->member                                   \
         ? (o)->member                                                      \
         : 0)

/* A parsed broker address, resolved: the sockets to try (dialer.h). */
struct mp_address {
    bool is_unix;  /* "unix:PATH" */
    bool tls;      /* "tls:HOST:PORT" */
    char host[256]; /* TCP and TLS: HOST, without brackets */
    struct mp_sockaddr addrs[MP_DIAL_MAX]; /* in the resolver's order */
    size_t n_addrs;
};

/* address.c: parse "tcp:HOST:PORT" / "tls:HOST:PORT" / "unix:PATH" and
 * resolve HOST. Returns MP_OK, or MP_ERR_ADDRESS with why in err. */
int mp_address_parse(const char *address, struct mp_address *a, char *err,
                     size_t errlen);

/* tls.c: a client TLS context from the options (c->tls_ctx), created when
 * the address is "tls:"; MP_OK, MP_ERR_TLS with OpenSSL's reason in err,
 * or MP_ERR_NOMEM. */
int mp_tls_context_new(struct mp_client *c, const struct mp_client_options *o,
                       char *err, size_t errlen);
void mp_tls_context_free(struct mp_client *c);
/* A TLS bufferevent on the connected socket fd, starting the handshake
 * and verifying `host` (or tls_server_name). It owns fd; NULL if it could
 * not be made (fd is then still the caller's). */
struct bufferevent *mp_tls_bufferevent_new(struct mp_client *c,
                                           const char *host, int fd);
/* OpenSSL's reason a TLS bufferevent failed, or false if it was not TLS. */
bool mp_tls_error(struct bufferevent *bev, char *buf, size_t len);
/* Hand queued output to the kernel through TLS without waiting, then send
 * close_notify. */
void mp_tls_flush(struct bufferevent *bev);
void mp_tls_close_notify(struct bufferevent *bev);

/* client.c: the client object and the end of its broker link. */
/* A fatal problem with the broker connection, in any state: the login
 * fails (login_finish), the broker is lost (lost_cb), or a disconnect
 * completes (disconnected_cb). `reason` (NULL: none) becomes
 * mp_client_lost_reason() unless one is already set. */
void client_connection_failed(struct mp_client *c, int status,
                              const char *reason);
/* Close the broker socket and drop what it still queues. */
void client_release_bev(struct mp_client *c);
/* Run c->timer (timer_cb: timeouts, deferred errors, the next reconnect
 * attempt) in `ms`. */
void client_set_timer(struct mp_client *c, unsigned ms);
/* New codec streams for a new socket (gob's are stateful). */
int client_open_streams(struct mp_client *c);
/* The longest encoding of a legal message we accept. */
size_t client_receive_limit(const struct mp_client *c);
/* A broker's or peer's text (msg's data) for the application, cut to
 * out_len - 1 bytes, printable ASCII only ('?' for other bytes): it may
 * end up on a terminal. */
void client_printable(char *out, size_t out_len,
                      const struct mp_message *msg);

/* login.c: from a connected socket to READY. */
/* The login's outcome: READY, or DONE with the socket released; then the
 * ready callback. */
void login_finish(struct mp_client *c, int status, const char *reason);
/* Send Auth (AUTHENTICATING): at once on a plain socket, after the
 * handshake on TLS. */
void login_send_auth(struct mp_client *c);
/* Before the answer: is buf[0..len) the line an "auto" listener writes
 * when it knows none of our formats? MP_DECODE_OK: yes, and the login has
 * failed with MP_ERR_FORMAT; MP_DECODE_NEED_MORE: it may be;
 * MP_DECODE_ERROR: no, decode it. */
enum mp_decode_status login_refusal(struct mp_client *c,
                                    const unsigned char *buf, size_t len);
/* The broker's answer to Auth, decoded. */
void login_answer(struct mp_client *c, const struct mp_message *msg);
/* Why connect_timeout_ms ran out, by how far the login got ("" when it
 * was not under way). */
void login_timeout_reason(const struct mp_client *c, char *buf, size_t len);
/* Dial c->address (CONNECTING, the outcome through login_finish), or
 * MP_ERR_ADDRESS with why in lost_reason, or MP_ERR_NOMEM. */
int login_start(struct mp_client *c);

/* link.c: the broker socket's bufferevent callbacks. */
/* c->bev is made: read it and report its events. */
void link_start(struct mp_client *c);
/* Read the broker again after a pause (from outq.c). */
void link_resume_reading(struct mp_client *c);
/* mp_client_disconnect(): let the output drain, then half-close; the
 * broker's close ends it (client_connection_failed in CLOSING). */
void link_shutdown(struct mp_client *c);

/* send.c: queue a message for the broker, counted against `conn` (NULL:
 * the library's own; a Data send is also bounded by conn's share).
 * `free_fn` as in mp_conn_send_take (NULL: data is copied). */
int send_message(struct mp_client *c, struct mp_conn *conn,
                 enum mp_meta meta, const char *other, size_t other_len,
                 const char *id, size_t id_len, const void *data,
                 size_t data_len, bool has_data,
                 void (*free_fn)(void *, size_t, void *), void *free_arg);

/* send.c: would a message of `meta` with these fields encode to more
 * than max_message_size? (The encoder's state is used, not changed: only
 * once logged in.) */
bool send_too_big(struct mp_client *c, enum mp_meta meta, const char *other,
                  size_t other_len, const char *id, size_t id_len,
                  const void *data, size_t data_len);

/* outq.c: the output queue (see there). */
/* Data sent with mp_conn_send_take(), referenced, not copied: it goes in
 * after the first `offset` bytes of the encoding. `added` is set once
 * libevent owns it (cleanup then runs when it has left). */
struct outq_taken {
    size_t offset;
    const void *data;
    size_t len;
    void (*cleanup)(const void *data, size_t len, void *extra);
    void *extra;
    bool added;
};
int outq_init(struct mp_client *c);
void outq_free(struct mp_client *c);
/* Follow the output of c->bev (after it is made), and stop (before it is
 * freed: every record is dropped). */
int outq_attach(struct mp_client *c);
void outq_detach(struct mp_client *c);
/* Move the encoded message in scratch (emptied) to the output. */
int outq_append(struct mp_client *c, struct mp_conn *conn,
                struct evbuffer *scratch, struct outq_taken *taken);
/* MP_OK if an application send on conn (NULL: a Syn) may be queued, else
 * MP_ERR_WOULD_BLOCK, remembering who waits. */
int outq_admit(struct mp_client *c, struct mp_conn *conn);
/* The queued memory past which the client stops reading the broker. */
size_t outq_pause_level(const struct mp_client *c);
/* conn is going away: its records stay, as the library's own. */
void outq_forget_conn(struct mp_client *c, struct mp_conn *conn);

/* conn.c: connections, owned by their client (c->conns, c->conns_by_id). */
struct mp_conn *conn_new(struct mp_client *c, const char *id, size_t id_len,
                         const char *peer, size_t peer_len,
                         const void *protocol, size_t protocol_len,
                         enum client_conn_state state);
struct mp_conn *conn_find(const struct mp_client *c, const char *id,
                          size_t id_len);
/* The id mp_client_open() gives the next connection, into id[0..size):
 * its length, or -1 if it does not fit. */
int conn_next_id(const struct mp_client *c, char *id, size_t size);
void conn_destroy(struct mp_conn *conn);
/* Tell the application a connection is over: on_close for an open one,
 * the open callback with `open_error` for an opening one; then free it. */
void conn_end(struct mp_conn *conn, int close_reason, int open_error);
/* End every connection with `peer` (all connections when peer is NULL). */
void conns_end_all(struct mp_client *c, const char *peer, size_t peer_len,
                   int close_reason, int open_error);
/* Close every connection as mp_conn_close() does; pending opens get
 * MP_ERR_CLOSED. */
void conns_close_all(struct mp_client *c);
/* Handle a message from the broker about one connection (by its id),
 * a peer's Syn, and a peer's departure. */
void conn_handle_message(struct mp_client *c, struct mp_message *msg);
void conn_handle_syn(struct mp_client *c, struct mp_message *msg);
void conn_handle_client_closed(struct mp_client *c, struct mp_message *msg);

/* credit.c: credit per connection (level 2; every function is a no-op
 * at level 1). */
/* A decimal number as the protocol writes them (no sign, no leading
 * zero), at most max. */
bool credit_parse_decimal(const void *data, size_t len, long long max,
                          long long *out);
/* A new connection's windows (from conn_new). */
void credit_init(struct mp_conn *conn);
/* Our Syn or Ack is out: grant the larger receive_window, if any. */
void credit_opened(struct mp_conn *conn);
/* MP_OK if a Data may go on conn now; else MP_ERR_WOULD_BLOCK, and conn
 * waits (send_blocked) for a Credit. */
int credit_admit(struct mp_conn *conn);
/* A Data of data_len bytes went out on conn. */
void credit_spent(struct mp_conn *conn, size_t data_len);
/* Is conn's credit above zero (or at level 1)? */
bool credit_available(const struct mp_conn *conn);
/* The peer's Credit for conn. */
void credit_received(struct mp_conn *conn, const struct mp_message *msg);
/* A Data of data_len bytes arrived on conn: what to grant once the
 * application has it (0: nothing yet). */
long long credit_consume(struct mp_conn *conn, size_t data_len);
/* Grant what credit_consume said was due. */
void credit_grant_due(struct mp_conn *conn, long long due);

/* presence.c: level 2's Watch, Unwatch, Presence and List. */
void presence_handle(struct mp_client *c, struct mp_message *msg);
void list_handle(struct mp_client *c, struct mp_message *msg);
/* End every pending List with `status` (the broker is lost, the client
 * freed or disconnecting), and forget the watches unless keep_watches
 * (reconnecting: presence_rewatch sends them again). */
void presence_end(struct mp_client *c, int status, bool keep_watches);
/* Logged in again: send a Watch for every watch held (level 2). */
void presence_rewatch(struct mp_client *c);

/* notices.c: what the broker says about the session (level 2). */
void notice_replaced(struct mp_client *c, struct mp_message *msg);
void notice_going_away(struct mp_client *c, struct mp_message *msg);

/* reconnect.c: the addresses in turn, and logging in again. */
/* Copy `address` and addresses[] from the options (c->addresses). */
int reconnect_copy_options(struct mp_client *c,
                           const struct mp_client_options *o);
void reconnect_free(struct mp_client *c);
/* Does any address start with `scheme` ("tls:")? */
bool reconnect_any_address(const struct mp_client *c, const char *scheme);
/* The error for an operation that needs a session, when there is none:
 * MP_ERR_DISCONNECTED while reconnecting, MP_ERR_STATE otherwise. */
int reconnect_state_error(const struct mp_client *c);
/* Is the client between sessions (waiting for or in an attempt)? */
bool reconnect_pending(const struct mp_client *c);
/* The session is lost with `status`: should the client log in again? */
bool reconnect_wanted(const struct mp_client *c, int status);
/* The session was lost (state RECONNECTING, connections ended): tell the
 * application and schedule the first attempt. */
void reconnect_begin(struct mp_client *c, int status);
/* c->timer fired in RECONNECTING: start the attempt. */
void reconnect_attempt_start(struct mp_client *c);
/* The first login could not reach c->address (`status`, why in
 * lost_reason): dial the next address not tried yet. MP_OK when one is
 * being dialed; else the last error, lost_reason saying what each
 * address gave. */
int reconnect_failover(struct mp_client *c, int status);
/* login_finish with a failure, socket released: true when reconnect.c
 * took it over (another address or attempt follows, or it gave up and
 * called the lost callback); false: the first login failed, report it
 * with *reason (which may be replaced by what every address gave). */
bool reconnect_login_failed(struct mp_client *c, int status,
                            const char **reason);
/* login_finish with MP_OK (READY): true when it was a reconnect attempt
 * (the reconnected callback ran), false for the first login. */
bool reconnect_logged_in(struct mp_client *c);
/* mp_client_disconnect() between sessions: stop the attempts; cb runs
 * from the loop. */
int reconnect_stop(struct mp_client *c, mp_disconnected_cb cb, void *arg);

/* handlers.c: register a handler (on_request: NULL, or the callback of
 * mp_client_handle_requests); returns as mp_client_handle. */
int handler_add(struct mp_client *c, const char *protocol,
                mp_connection_cb on_connection, void *arg,
                mp_request_cb on_request);
/* The handler for a Syn's protocol (not NUL-terminated), or
 * NULL; and freeing them all (mp_client_free). */
const struct handler *handler_find(struct mp_client *c, const void *protocol,
                                   size_t len);
void handlers_free(struct mp_client *c);

/* request.c: end every unanswered request with `status`, closing its
 * connection (mp_client_disconnect, which closes connections without
 * their on_close). */
void requests_end_all(struct mp_client *c, int status);

#endif
