/*
 * mp/client.h - libmpclient, the C client library of mpbroker.
 *
 * A client connects to the broker, logs in with a name and a secret, and
 * then opens connections to other clients by (peer name, protocol) or
 * accepts the ones they open through handlers registered per protocol
 * (the original MessagePasser's MappedConnectionHandler). A connection is
 * a two-way, ordered stream of whole messages.
 *
 *     struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
 *     o.address = "tcp:127.0.0.1:7330";
 *     o.name = "alice";
 *     o.secret = "secret";     // NUL-terminated: secret_len may stay 0
 *     struct mp_client *c = mp_client_new(NULL, &o, &err);
 *     mp_client_handle(c, "echo", on_echo_connection, NULL);
 *     if (mp_client_connect_wait(c, reason, sizeof reason) == MP_OK)
 *         mp_client_run(c);
 *     mp_client_free(c);
 *
 * EVENT LOOP. A client either runs on the caller's libevent event_base
 * (pass it to mp_client_new(); the caller dispatches it) or creates and
 * runs its own (pass NULL; then mp_client_run() dispatches it until
 * mp_client_stop() or until the broker connection is gone).
 *
 * THREADING. A client and its connections are not thread-safe: call every
 * function from the thread that dispatches the client's event_base. Every
 * callback runs on that thread, from inside the event loop. Several clients
 * may share one event_base.
 *
 * CALLBACKS AND LIFETIMES. Callbacks may call any function of this API,
 * with one exception: mp_client_free() must not be called from inside a
 * callback of that client (stop the loop, then free it).
 * A `struct mp_conn *` is valid from the moment the library hands it to
 * you (on_connection or the open callback) until your on_close callback
 * returns or mp_conn_close() returns, whichever comes first; after that
 * the library has freed it.
 *
 * ERRORS. Functions return MP_OK (0) or a negative enum mp_error;
 * mp_strerror() gives a text. The library never prints, never exits or
 * aborts on anything the network sends, and a broker that vanishes
 * mid-write does not kill the program: libevent writes with writev(),
 * which raises SIGPIPE, so mp_client_new() sets SIGPIPE to SIG_IGN when
 * its disposition is still the default (a handler or an ignore the
 * program set stays as it is).
 */
#ifndef MP_CLIENT_H
#define MP_CLIENT_H

#include <stddef.h>

#include <mp/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct mp_client;
struct mp_conn;

enum mp_error {
    MP_OK = 0,
    MP_ERR_INVALID = -1,          /* bad argument */
    MP_ERR_NOMEM = -2,            /* out of memory */
    MP_ERR_ADDRESS = -3,          /* address not tcp:/tls:HOST:PORT or unix:PATH, or unresolvable */
    MP_ERR_CONNECT = -4,          /* the broker could not be reached */
    MP_ERR_AUTH = -5,             /* the broker refused the login (see reason) */
    MP_ERR_BROKER_GONE = -6,      /* the connection to the broker was lost */
    MP_ERR_NO_SUCH_CLIENT = -7,   /* the peer is not connected */
    MP_ERR_UNKNOWN_PROTOCOL = -8, /* the peer has no handler for the protocol */
    MP_ERR_CLOSED = -9,           /* the connection is closed */
    MP_ERR_TOO_BIG = -10,         /* message over max_message_size */
    MP_ERR_PROTOCOL = -11,        /* the broker sent something undecodable */
    MP_ERR_STATE = -12,           /* not possible now (not logged in, ...) */
    MP_ERR_EXISTS = -13,          /* a handler for that protocol exists */
    MP_ERR_TIMEOUT = -14,         /* no login within connect_timeout_ms, or
                                     nothing from the broker within
                                     idle_timeout_ms */
    MP_ERR_PEER_LEFT = -15,       /* the peer left before answering */
    MP_ERR_WOULD_BLOCK = -16,     /* the client's queue (max_queued) or the
                                     connection's (max_queued_per_conn)
                                     is full, or (protocol level 2) the
                                     connection is out of credit: retry
                                     after on_drained */
    MP_ERR_TLS = -17,             /* TLS setup or handshake failed (see
                                     reason) */
    /* Since libmpclient 0.4 (before, these were MP_ERR_BROKER_GONE,
     * MP_ERR_INVALID and MP_ERR_INVALID). */
    MP_ERR_FORMAT = -18,          /* the broker's listener does not speak
                                     the client's format (the reason
                                     quotes the broker's line, which
                                     names the formats it speaks) */
    MP_ERR_NAME = -19,            /* an invalid client name: own or peer */
    MP_ERR_SELF = -20,            /* mp_client_open() to the client's own
                                     name */
    /* Since libmpclient 0.5 (protocol level 2). */
    MP_ERR_DENIED = -21,          /* the open was refused: the broker's
                                     authorization or a connection limit,
                                     or the peer (see
                                     mp_client_open_reason) */
    MP_ERR_REPLACED = -22,        /* the name logged in again elsewhere:
                                     this session was closed */
    MP_ERR_GOING_AWAY = -23,      /* the broker shut down after announcing
                                     it (mp_client_on_going_away) */
    MP_ERR_LEVEL = -24,           /* needs protocol level 2, which this
                                     session does not speak (the broker's
                                     AuthOk, or the protocol_level
                                     option) */
    MP_ERR_LIMIT = -25,           /* over a limit the broker announced
                                     (the watches of AuthOk) */
    /* Since libmpclient 0.6 (before, MP_ERR_NAME_TAKEN was MP_ERR_AUTH). */
    MP_ERR_NAME_TAKEN = -26,      /* the broker refused the login: the
                                     name is logged in already
                                     (duplicate_names = "reject"); a
                                     reconnecting client stops there */
    MP_ERR_DISCONNECTED = -27,    /* reconnecting: the broker connection
                                     is down for now (nothing was queued);
                                     try again after on_reconnected */
};

/* A static, never NULL, text for an mp_error value. */
const char *mp_strerror(int error);

/* Why a connection ended (the on_close callback's `reason`). */
enum mp_close_reason {
    MP_CLOSE_BY_PEER = 1,     /* the peer closed it */
    MP_CLOSE_PEER_LEFT = 2,   /* the peer disconnected from the broker */
    MP_CLOSE_BROKER_LOST = 3, /* this client lost the broker */
    MP_CLOSE_CLIENT_FREED = 4, /* mp_client_free() while it was open */
    MP_CLOSE_DATA_DROPPED = 5 /* the broker dropped a message sent on it
                                 (WAT "data beyond the connection's
                                 credit": the stream has a gap), and the
                                 library closed it (since 0.5) */
};

/* A static text for an mp_close_reason. */
const char *mp_close_reason_string(int reason);

/* ------------------------------------------------------------------------
 * Clients
 */

struct mp_client_options {
    size_t size;             /* sizeof(struct mp_client_options): set by
                                MP_CLIENT_OPTIONS_INIT */
    const char *address;     /* "tcp:HOST:PORT" ("tcp:[::1]:7330"),
                                "tls:HOST:PORT" or "unix:PATH". A HOST
                                name is resolved by mp_client_connect()
                                with getaddrinfo(), which may block; every
                                address it gives is tried (Happy Eyeballs,
                                RFC 8305: families alternate, the next
                                starts when one is refused or after 250 ms
                                without an answer, the first to connect
                                wins), all within connect_timeout_ms */
    const char *format;      /* "binary" (default when NULL), "json",
                                "protobuf" (mp.proto's messages, each
                                after its length as a varint) or "gob"
                                (Go's encoding/gob, as the original's
                                Gob translator) */
    const char *name;        /* the name to log in with: 1 to 255 bytes
                                of UTF-8, no ':', no control character */
    const void *secret;      /* the secret: a NUL-terminated string when
                                secret_len is 0 (since 0.4; before, 0
                                meant an empty secret, whatever secret
                                pointed to: an empty secret is now NULL
                                or ""), or secret_len bytes (any, NUL
                                included) */
    size_t secret_len;
    size_t max_message_size; /* bytes of one encoded message we send;
                                0 = 1048576, the broker's default. What
                                we receive may be larger: the broker
                                checks the sender's encoding, puts the
                                sender's name in, and encodes for us, so
                                a message of up to this + 255 + 1024
                                bytes is accepted in binary and gob, and
                                in JSON (base64 data, escaped names) up
                                to 4/3 of this + 6 * 510 + 1028 */
    unsigned connect_timeout_ms; /* connect (every address) + TLS + login;
                                    0 = 10000 */

    /* Since libmpclient 0.2 (a program built against 0.1 passes a smaller
     * `size`, and these take their defaults). */
    size_t max_queued;       /* memory (bytes) that messages waiting to
                                reach the broker may hold - their bytes
                                plus a per-message overhead of 48 bytes,
                                and 256 more for one over 4 KiB or sent
                                with mp_conn_send_take() (a block of its
                                own) - past which mp_conn_send() and
                                mp_client_open() fail with
                                MP_ERR_WOULD_BLOCK; 0 = 16 MiB. A
                                message is always accepted into an empty
                                queue, so a single one may exceed it.
                                The library's own answers (ConnAck,
                                refusals) may add a quarter of it and 4/3
                                of max_message_size; then it stops
                                reading from the broker until the queue
                                is back under max_queued. */
    /* tls: only. The broker's certificate is verified against tls_ca_file
     * (PEM), or the system's CAs when NULL, and must name HOST (or
     * tls_server_name when set): a DNS name or an IP address. */
    const char *tls_ca_file;
    const char *tls_cert_file;   /* client certificate chain (PEM), for
                                    brokers that ask for one; or NULL */
    const char *tls_key_file;    /* its private key (PEM); NULL: in
                                    tls_cert_file */
    const char *tls_server_name; /* name to verify instead of HOST */

    /* Since libmpclient 0.3. */
    size_t max_queued_per_conn; /* memory one connection's messages may
                                   hold in the queue, counted as
                                   max_queued: past it, mp_conn_send() on
                                   that connection alone fails with
                                   MP_ERR_WOULD_BLOCK. 0 = max_queued / 2
                                   (at most max_queued) */
    int keepalive_s;         /* TCP keepalive: probe after this many
                                seconds of silence, then every third of
                                it; three lost probes end the broker
                                connection. 0 = 60; negative = off */
    unsigned idle_timeout_ms; /* end the broker connection (lost_cb with
                                MP_ERR_TIMEOUT) when nothing arrives from
                                the broker for this long; 0 = never. For
                                applications that expect regular
                                traffic: protocol level 1 has no ping */
    unsigned max_incoming_conns; /* connections peers opened to us that
                                may be open at once; a Syn past it is
                                refused with UnknownProto, as for a
                                protocol without a handler. 0 = 4096
                                (the broker's max_connections_per_client
                                default) */

    /* Since libmpclient 0.5: protocol level 2 (doc/protocol.md). */
    unsigned protocol_level; /* the level announced at Auth: 0 = the
                                highest this library speaks
                                (MP_PROTOCOL_LEVEL, 2); 1 = level 1,
                                every byte sent as by libmpclient 0.4.
                                The broker answers with the level it
                                speaks (mp_client_level). gob: 0 means
                                1, since a broker that predates level 2
                                refuses gob's five-field type; give 2 to
                                announce it. A program built against 0.4
                                or older (a smaller `size`) stays at 1 */
    size_t receive_window;   /* level 2: the window, in bytes, each
                                connection's peer may send ahead of what
                                this client consumed. 0, or not above
                                the broker's window: the broker's
                                (AuthOk); larger: the difference is
                                granted right after the Syn or the Ack
                                (at most MP_CREDIT_MAX) */
    int manual_credit;       /* level 2: non-zero: no connection grants
                                credit by itself, the application calls
                                mp_conn_grant() (see CREDIT below);
                                mp_conn_set_manual_credit() changes it
                                per connection */

    /* Since libmpclient 0.6: more brokers, and reconnecting (see
     * RECONNECT below). */
    const char *const *addresses; /* n_addresses more broker addresses
                                (each as `address`; copied), tried in
                                turn after `address` - which may then be
                                NULL: the first of these is tried first -
                                by mp_client_connect() when one cannot be
                                reached (does not resolve, refuses, or
                                does not connect within
                                connect_timeout_ms, which each address
                                has anew), and by each reconnect
                                attempt */
    size_t n_addresses;
    int reconnect;           /* non-zero: when the broker connection is
                                lost after a login, log in again (see
                                RECONNECT); 0: the client is done, as
                                before 0.6 */
    unsigned reconnect_initial_ms; /* the delay before the second attempt
                                (the first has none); it doubles with
                                each attempt. 0 = 100 */
    unsigned reconnect_max_ms; /* the most the delay grows to; 0 = 10000 */
    unsigned reconnect_max_attempts; /* failed attempts in a row after
                                which the client gives up (lost
                                callback); 0 = never give up */
};

#define MP_CLIENT_OPTIONS_INIT {sizeof(struct mp_client_options), NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0}

/*
 * Create a client. `base` is the caller's event_base, or NULL for a loop of
 * the client's own. Every string and the secret of `opts` are copied.
 * Returns NULL and sets *error (if error is not NULL) on failure:
 * MP_ERR_NAME (no or an invalid name), MP_ERR_INVALID (another bad
 * option), MP_ERR_NOMEM. Nothing is sent, and the address is not
 * resolved, before mp_client_connect().
 */
struct mp_client *mp_client_new(struct event_base *base,
                                const struct mp_client_options *opts,
                                int *error);

/*
 * Close every connection (their on_close gets MP_CLOSE_CLIENT_FREED), the
 * socket, and - in own-loop mode - the event_base, and free the client.
 * Pending opens and requests get MP_ERR_CLOSED. What is still queued for the broker is
 * handed to the kernel as far as it takes it without blocking, but
 * nothing waits for the broker to read it: to be sure the last messages
 * arrive, mp_client_disconnect() first. NULL is a no-op. Not from inside
 * one of this client's callbacks.
 */
void mp_client_free(struct mp_client *c);

/*
 * Called once the login is decided: status MP_OK when logged in; otherwise
 * an mp_error and `reason` (valid during the call) says more, or is NULL:
 * the broker's text for MP_ERR_AUTH, OpenSSL's for MP_ERR_TLS, the
 * broker's line for MP_ERR_FORMAT, and for MP_ERR_CONNECT and
 * MP_ERR_TIMEOUT the addresses tried and what each gave ("cannot connect
 * to localhost:7330: tried ::1 (connection refused), 127.0.0.1
 * (connection refused)"). After a failure the client is disconnected and
 * can only be freed; mp_client_lost_reason() keeps the reason.
 */
typedef void (*mp_ready_cb)(struct mp_client *c, int status,
                            const char *reason, void *arg);

/*
 * Called when the broker connection is lost after a successful login (the
 * broker stopped, the network failed, or the broker closed it, e.g. for a
 * newer login with the same name). By then every connection has had its
 * on_close (MP_CLOSE_BROKER_LOST) and every pending open its callback
 * (MP_ERR_BROKER_GONE). status is MP_ERR_BROKER_GONE, MP_ERR_PROTOCOL (the
 * broker sent something undecodable, or a message past the receive
 * limit) or MP_ERR_TIMEOUT (idle_timeout_ms); at protocol level 2 also
 * MP_ERR_REPLACED (the broker said Replaced: the name logged in again
 * elsewhere; do not log in again by yourself, or the other session is
 * replaced in turn) or MP_ERR_GOING_AWAY (the broker closed the socket
 * after its GoingAway). mp_client_lost_reason() says more.
 * With the reconnect option (since 0.6) it is called only when the
 * client gives up (see RECONNECT), with the last attempt's error, which
 * may then also be MP_ERR_CONNECT, MP_ERR_ADDRESS, MP_ERR_AUTH,
 * MP_ERR_NAME_TAKEN, MP_ERR_FORMAT or MP_ERR_TLS.
 */
typedef void (*mp_lost_cb)(struct mp_client *c, int status, void *arg);

/* Set the lost callback (before or after connecting). */
void mp_client_on_lost(struct mp_client *c, mp_lost_cb cb, void *arg);

/* Why the broker connection was lost, the login failed or
 * mp_client_connect() returned MP_ERR_ADDRESS, when the library knows
 * more than the error code ("undecodable input from the broker: ...");
 * "" otherwise. Valid until the client is freed. (Since 0.3.) */
const char *mp_client_lost_reason(const struct mp_client *c);

/* Called once a disconnect is complete (see mp_client_disconnect). */
typedef void (*mp_disconnected_cb)(struct mp_client *c, void *arg);

/*
 * Leave the broker gracefully: every open connection is closed as by
 * mp_conn_close() (the peers are told; no on_close here), pending opens
 * and requests get MP_ERR_CLOSED, everything queued is sent, and once the broker has
 * read it all and closed its side (or after connect_timeout_ms), cb runs
 * (may be NULL) and, in own-loop mode, mp_client_run() returns. Then free
 * the client. Use this rather than a bare mp_client_free() when the last
 * messages matter. MP_ERR_STATE unless logged in or reconnecting (then
 * the attempts stop, and cb runs from the loop).
 */
int mp_client_disconnect(struct mp_client *c, mp_disconnected_cb cb,
                         void *arg);

/* Start connecting and logging in; `cb` reports the outcome. Resolves a
 * HOST name first, with getaddrinfo() (it may block). Returns MP_OK if
 * the attempt started (the outcome then always comes through cb), or an
 * error (MP_ERR_ADDRESS, with mp_client_lost_reason() saying why;
 * MP_ERR_STATE if already started). */
int mp_client_connect(struct mp_client *c, mp_ready_cb cb, void *arg);

/*
 * The blocking helper for simple programs: connect, log in, and return
 * once it is decided, dispatching the client's event_base meanwhile (in
 * attached mode that runs the caller's other events too). Returns MP_OK or
 * the error; the ready callback's reason (see mp_ready_cb), or "", is
 * copied into reason[0..reason_len) (reason may be NULL).
 */
int mp_client_connect_wait(struct mp_client *c, char *reason,
                           size_t reason_len);

/* Own-loop mode: dispatch until mp_client_stop() or until nothing is left
 * to do (the broker connection is closed). Returns MP_OK, or MP_ERR_STATE
 * in attached mode (dispatch your own event_base). */
int mp_client_run(struct mp_client *c);

/* Make mp_client_run() (or mp_client_connect_wait(), which then returns
 * MP_ERR_STATE: the login goes on, its outcome unreported) return soon. */
void mp_client_stop(struct mp_client *c);

/* The event_base the client runs on (the caller's, or its own). */
struct event_base *mp_client_base(const struct mp_client *c);

/* The name the client logged in with (valid while the client lives). */
const char *mp_client_name(const struct mp_client *c);

/* Memory held by what is queued for the broker and not yet handed to the
 * kernel, counted as max_queued is (since 0.3; 0.2 counted bytes). */
size_t mp_client_queued(const struct mp_client *c);

/* Called once the queue, after a send failed with MP_ERR_WOULD_BLOCK, has
 * fallen to half of max_queued: send again from here. A send refused for
 * a connection's own bound calls this too, when that connection has no
 * on_drained of its own (mp_conn_on_drained). */
typedef void (*mp_drained_cb)(struct mp_client *c, void *arg);

/* Set the drained callback (NULL to remove it). */
void mp_client_on_drained(struct mp_client *c, mp_drained_cb cb, void *arg);

/* ------------------------------------------------------------------------
 * Incoming connections
 */

/* A peer opened a connection for a protocol you handle: it is accepted
 * and open. Set its callbacks here (mp_conn_set_callbacks), or close it. */
typedef void (*mp_connection_cb)(struct mp_conn *conn, void *arg);

/*
 * Accept connections for `protocol` (copied) with on_connection. A peer
 * opening a protocol without a handler is refused with UnknownProto,
 * automatically. Returns MP_OK, MP_ERR_EXISTS or MP_ERR_NOMEM.
 */
int mp_client_handle(struct mp_client *c, const char *protocol,
                     mp_connection_cb on_connection, void *arg);

/* Stop accepting `protocol` (open connections stay). MP_OK or
 * MP_ERR_INVALID if no such handler. */
int mp_client_unhandle(struct mp_client *c, const char *protocol);

/* ------------------------------------------------------------------------
 * Outgoing connections
 */

/*
 * The outcome of mp_client_open(): conn is the open connection and status
 * MP_OK, or conn is NULL and status is MP_ERR_UNKNOWN_PROTOCOL (refused:
 * no handler), MP_ERR_DENIED (level 2: refused by the broker's
 * authorization or a connection limit, or by the peer; the reason is
 * mp_client_open_reason() during the call), MP_ERR_NO_SUCH_CLIENT,
 * MP_ERR_PEER_LEFT, MP_ERR_BROKER_GONE or MP_ERR_CLOSED (client freed).
 */
typedef void (*mp_open_cb)(struct mp_conn *conn, int status, void *arg);

/*
 * Open a connection to `peer` for `protocol` (both copied). Only once
 * logged in (MP_ERR_STATE otherwise; MP_ERR_DISCONNECTED while
 * reconnecting). Returns MP_OK if the request was
 * sent - the outcome then always comes through cb, exactly once - or an
 * error (MP_ERR_NAME for an invalid peer name, MP_ERR_INVALID for a NULL
 * one or a NULL protocol, ...).
 */
/* (A client cannot open a connection to itself: MP_ERR_SELF. Both ends
 * would share one id, and the directions could not be told apart.) */
int mp_client_open(struct mp_client *c, const char *peer,
                   const char *protocol, mp_open_cb cb, void *arg);

/* Inside an open callback with MP_ERR_DENIED: the reason the broker or
 * the peer gave ("not authorized", "too many connections"), printable
 * ASCII, at most 255 bytes. "" otherwise. Valid during the callback.
 * (Since 0.5.) */
const char *mp_client_open_reason(const struct mp_client *c);

/* ------------------------------------------------------------------------
 * Connections
 */

/* A message: data[0..len) is valid during the call only. */
typedef void (*mp_message_cb)(struct mp_conn *conn, const void *data,
                              size_t len, void *arg);

/* The connection ended (enum mp_close_reason); it is freed when this
 * returns. Not called for mp_conn_close(). */
typedef void (*mp_close_cb)(struct mp_conn *conn, int reason, void *arg);

/* Set the callbacks and their argument (either callback may be NULL:
 * messages are then dropped). Messages are delivered in order. */
void mp_conn_set_callbacks(struct mp_conn *conn, mp_message_cb on_message,
                           mp_close_cb on_close, void *arg);

/*
 * Send one message (a copy of data[0..len); len 0 is an empty message).
 * Returns MP_OK once it is queued, MP_ERR_TOO_BIG if its encoding would
 * exceed max_message_size, MP_ERR_WOULD_BLOCK if max_queued bytes already
 * wait for the broker (nothing was queued: retry from on_drained),
 * MP_ERR_CLOSED if the broker is gone or conn is in its on_close,
 * MP_ERR_INVALID for a NULL conn, or NULL data with a length.
 */
int mp_conn_send(struct mp_conn *conn, const void *data, size_t len);

/*
 * Send without a copy where the format allows (binary; gob for data over
 * about 2 KiB; JSON copies, in base64): the library owns
 * `data` from this call on and calls free_fn(data, len, free_arg) once it
 * no longer needs it - immediately, or after the bytes left the socket.
 * free_fn is called on every outcome, errors included (free_fn may be
 * NULL for static data).
 */
int mp_conn_send_take(struct mp_conn *conn, void *data, size_t len,
                      void (*free_fn)(void *data, size_t len, void *arg),
                      void *free_arg);

/* Close: the peer is told (its on_close gets MP_CLOSE_BY_PEER); conn is
 * freed before this returns and its on_close is not called. */
void mp_conn_close(struct mp_conn *conn);

/* The peer's name, the protocol and the connection id (valid while conn
 * lives). */
const char *mp_conn_peer(const struct mp_conn *conn);
const char *mp_conn_protocol(const struct mp_conn *conn);
const char *mp_conn_id(const struct mp_conn *conn);

/* The client the connection belongs to. */
struct mp_client *mp_conn_client(const struct mp_conn *conn);

/*
 * PEERS THAT DO NOT READ (since 0.3). All connections share one socket to
 * the broker; a peer that stops reading makes the broker stop reading us
 * (protocol level 1 has no per-connection credit), and what we send to
 * it piles up in our queue. max_queued_per_conn bounds one connection's
 * share: past it mp_conn_send() on that connection returns
 * MP_ERR_WOULD_BLOCK, while the others still have room. A server then
 * either waits for on_drained or sheds the peer: mp_conn_close() the
 * connection (what it queued is still sent; the peer is told), as a NATS
 * server cuts a slow consumer. mpcat -e does the latter.
 */

/* Memory held by this connection's messages in the queue. */
size_t mp_conn_queued(const struct mp_conn *conn);

/* Called once, after mp_conn_send() on conn failed with
 * MP_ERR_WOULD_BLOCK, when conn's share and the whole queue have fallen
 * to half their bounds and (level 2) the peer granted credit again: send
 * again from here. */
typedef void (*mp_conn_drained_cb)(struct mp_conn *conn, void *arg);

/* Set conn's drained callback (NULL to remove it). */
void mp_conn_on_drained(struct mp_conn *conn, mp_conn_drained_cb cb,
                        void *arg);

/* ------------------------------------------------------------------------
 * Protocol level 2 (since 0.5; doc/protocol.md, "Protocol level 2")
 *
 * The library announces level 2 at Auth (unless protocol_level is 1) and
 * the broker's AuthOk says which level the session speaks. At level 1
 * (an older broker, the gob format, or protocol_level 1) everything
 * below returns MP_ERR_LEVEL or does nothing, and the library sends
 * exactly what libmpclient 0.4 sent.
 */

/* The level the session speaks: 1 or 2; 0 before the login. */
int mp_client_level(const struct mp_client *c);
/* Level 2: the window of AuthOk, in bytes, that each direction of a
 * connection starts with; 0 at level 1. */
size_t mp_client_window(const struct mp_client *c);
/* Level 2: the most watches the broker allows at once (AuthOk's
 * `watches`); 0 at level 1, or when the broker did not say. */
unsigned mp_client_max_watches(const struct mp_client *c);

/*
 * CREDIT. At level 2 each direction of each connection has its own
 * window, in bytes: a message costs its length plus
 * MP_CREDIT_MESSAGE_COST. A connection may send while the credit it
 * holds is above zero (the message that takes it to zero or below still
 * goes); then mp_conn_send() on that connection only returns
 * MP_ERR_WOULD_BLOCK until the peer grants credit again, when the
 * connection's on_drained (or, without one, the client's) is called.
 * Other connections are not held back by a peer that does not read.
 *
 * Receiving, the library grants credit by itself: after the message
 * callback returns, once the messages consumed since the last grant cost
 * half the window or more. In manual mode (the manual_credit option, or
 * mp_conn_set_manual_credit) it grants nothing: the application calls
 * mp_conn_grant() with what it consumed (each message: its length plus
 * MP_CREDIT_MESSAGE_COST), when it is ready for more; until then the
 * peer stops once its window is spent.
 */

/* The credit held for sending on conn, in bytes (0 or less: sends wait
 * for a grant). LLONG_MAX at level 1, where there is no credit. */
long long mp_conn_credit(const struct mp_conn *conn);

/* Manual (non-zero) or automatic (0) grants for what conn receives. Set
 * it in on_connection or the open callback, before messages arrive. */
void mp_conn_set_manual_credit(struct mp_conn *conn, int manual);

/* Grant the peer `bytes` more credit on conn (a Credit message; in
 * either mode). MP_OK, MP_ERR_INVALID (bytes 0, or the peer's credit
 * would pass MP_CREDIT_MAX), MP_ERR_LEVEL, MP_ERR_CLOSED. */
int mp_conn_grant(struct mp_conn *conn, size_t bytes);

/*
 * PRESENCE. Watch a name (its state now, then every change) or a prefix
 * (every change of a name that starts with it; "" = every name): the
 * presence callback gets each name with online 1 or 0. At most
 * mp_client_max_watches() at once (MP_ERR_LIMIT past it; watching what
 * is already watched asks for its state again and counts once). Names
 * a client may not see are never reported (a watched one is "offline").
 * Each returns MP_OK once the request is queued, MP_ERR_NAME (an invalid
 * name, a prefix over 255 bytes or with a control character),
 * MP_ERR_STATE (not logged in), MP_ERR_LEVEL, MP_ERR_LIMIT, or
 * MP_ERR_NOMEM. Unwatching what is not watched: MP_ERR_INVALID.
 */
typedef void (*mp_presence_cb)(struct mp_client *c, const char *name,
                               int online, void *arg);
void mp_client_on_presence(struct mp_client *c, mp_presence_cb cb,
                           void *arg);
int mp_client_watch(struct mp_client *c, const char *name);
int mp_client_watch_prefix(struct mp_client *c, const char *prefix);
int mp_client_unwatch(struct mp_client *c, const char *name);
int mp_client_unwatch_prefix(struct mp_client *c, const char *prefix);

/*
 * The names online that start with `prefix` ("" = all), in no particular
 * order: the broker's replies are gathered, and cb runs once, with
 * names[0..n) (valid during the call) and truncated non-zero when the
 * broker had more than it lists (limits.max_list_names) or the replies
 * passed 16 MiB. status is MP_OK, or MP_ERR_BROKER_GONE / MP_ERR_CLOSED
 * (n 0) when the broker was lost or the client freed or disconnected
 * first. Returns MP_OK (cb will run, exactly once) or an error as for
 * mp_client_watch_prefix (cb will not run).
 */
typedef void (*mp_list_cb)(struct mp_client *c, const char *prefix,
                           const char *const *names, size_t n,
                           int truncated, int status, void *arg);
int mp_client_list(struct mp_client *c, const char *prefix, mp_list_cb cb,
                   void *arg);

/*
 * GOING AWAY. The broker is shutting down: it closes the socket within
 * delay_ms and serves the session meanwhile, so that it can finish and
 * move to another broker (mp_client_disconnect, then connect elsewhere).
 * When the socket closes, the lost callback gets MP_ERR_GOING_AWAY.
 */
typedef void (*mp_going_away_cb)(struct mp_client *c, unsigned delay_ms,
                                 void *arg);
void mp_client_on_going_away(struct mp_client *c, mp_going_away_cb cb,
                             void *arg);

/* ------------------------------------------------------------------------
 * RECONNECT (since 0.6)
 *
 * With the reconnect option, a client that loses the broker after a login
 * (the broker restarted, the network failed, the broker said GoingAway
 * and closed) logs in again by itself, with the same name and secret,
 * and mp_client_run() keeps running meanwhile. What belonged to the lost
 * session is never resumed silently: every connection is reported closed
 * (on_close with MP_CLOSE_BROKER_LOST), every pending open fails
 * (MP_ERR_BROKER_GONE), every pending List ends (MP_ERR_BROKER_GONE);
 * the registered protocol handlers stay, and the watches are sent again
 * once logged in (the presence callback then reports each name's state
 * anew). While disconnected, mp_client_open(), mp_client_request(),
 * mp_client_watch*() and mp_client_list() fail at once with
 * MP_ERR_DISCONNECTED: nothing is buffered for later.
 *
 * The sequence: the interrupted callback (why the session was lost),
 * then for each attempt the reconnecting callback (its number, from 1,
 * and the delay before it starts), then either the reconnected callback
 * or, when the client gives up, the lost callback - which with
 * reconnect on means "done for good", as it always does without it.
 *
 * Attempt n waits min(reconnect_max_ms, reconnect_initial_ms * 2^(n-2))
 * scaled by a random factor in [0.5, 1] (jitter: clients that lost the
 * same broker do not all come back at once), except the first, which
 * starts at once (a restarted broker is often back already). Each attempt
 * tries the next broker address, round robin, starting after the one
 * that was lost. An attempt that cannot connect, times out
 * (connect_timeout_ms) or is closed before the answer is followed by the
 * next; the client gives up, calling the lost callback with the attempt's
 * error, after reconnect_max_attempts failed attempts in a row, or at
 * once on an error that retrying cannot mend: MP_ERR_NAME_TAKEN (another
 * session took the name), MP_ERR_AUTH (the secret is no longer accepted;
 * but a refusal that ends in "try again later" - the broker's rate limit
 * on failed logins, a cluster without its registry - is retried),
 * MP_ERR_FORMAT, MP_ERR_TLS, MP_ERR_NOMEM; and a session ended by
 * MP_ERR_REPLACED is not reconnected at all (the other session would be
 * replaced in turn). mp_client_disconnect() while disconnected stops the
 * attempts (its callback runs from the loop); mp_client_free() too.
 */

/* The session was lost and the client will reconnect: status as for
 * mp_lost_cb, reason is mp_client_lost_reason() ("" when nothing more is
 * known); the "disconnected" callback of other libraries. By then every
 * connection of the session has had its on_close. */
typedef void (*mp_interrupted_cb)(struct mp_client *c, int status,
                                  const char *reason, void *arg);
void mp_client_on_interrupted(struct mp_client *c, mp_interrupted_cb cb,
                              void *arg);

/* Attempt `attempt` (1, 2, ...) to log in again starts in delay_ms, at
 * mp_client_address(c). mp_client_lost_reason() says why the previous
 * attempt failed (or, for the first, why the session was lost). */
typedef void (*mp_reconnecting_cb)(struct mp_client *c, unsigned attempt,
                                   unsigned delay_ms, void *arg);
void mp_client_on_reconnecting(struct mp_client *c, mp_reconnecting_cb cb,
                               void *arg);

/* Logged in again (at mp_client_address(c)): open connections, send. */
typedef void (*mp_reconnected_cb)(struct mp_client *c, void *arg);
void mp_client_on_reconnected(struct mp_client *c, mp_reconnected_cb cb,
                              void *arg);

/* The broker address of the session, of the attempt under way or of the
 * next one (one of the options' addresses; valid while the client
 * lives). */
const char *mp_client_address(const struct mp_client *c);

/* ------------------------------------------------------------------------
 * REQUEST/REPLY (since 0.6)
 */

/*
 * The outcome of mp_client_request(), exactly once: status MP_OK and the
 * first message the peer sent back, data[0..len) (valid during the call);
 * or data NULL and status MP_ERR_TIMEOUT (no reply within timeout_ms),
 * MP_ERR_UNKNOWN_PROTOCOL, MP_ERR_DENIED (mp_client_open_reason() says
 * why, during the call), MP_ERR_NO_SUCH_CLIENT, MP_ERR_CLOSED (the peer
 * closed the connection without replying, or the client was freed or
 * disconnected), MP_ERR_PEER_LEFT, or MP_ERR_BROKER_GONE.
 */
typedef void (*mp_reply_cb)(struct mp_client *c, int status,
                            const void *data, size_t len, void *arg);

/*
 * Ask `peer` one question: open a connection for `protocol`, send
 * data[0..len) (copied) as one message, deliver the first reply to cb as
 * soon as it arrives, and close the connection. timeout_ms bounds the
 * whole exchange (0: no bound). Returns MP_OK - cb then runs exactly
 * once, never from inside this call - or an error as mp_client_open()
 * does (MP_ERR_DISCONNECTED while reconnecting), or MP_ERR_TOO_BIG when
 * the message could never be sent.
 */
int mp_client_request(struct mp_client *c, const char *peer,
                      const char *protocol, const void *data, size_t len,
                      unsigned timeout_ms, mp_reply_cb cb, void *arg);

/*
 * The server side: accept connections for `protocol` (as
 * mp_client_handle) and call cb for each message that arrives on them,
 * in order; cb answers with mp_conn_send(conn, ...) - at once or later,
 * while conn is open - and may mp_conn_close(conn). A connection stays
 * open until the requester closes it (mp_client_request does after the
 * first reply), so one connection may carry several requests. Returns as
 * mp_client_handle.
 */
typedef void (*mp_request_cb)(struct mp_conn *conn, const void *data,
                              size_t len, void *arg);
int mp_client_handle_requests(struct mp_client *c, const char *protocol,
                              mp_request_cb cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* MP_CLIENT_H */
