/*
 * client-internal.h - libmpclient's private structures, shared by its
 * source files and never installed.
 */
#ifndef MP_CLIENT_INTERNAL_H
#define MP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include <mp/client.h>
#include <mp/plugin.h>

struct bufferevent;
struct event;
struct evbuffer;
struct hashmap;
struct ssl_ctx_st;

enum client_state {
    CLIENT_NEW,            /* created, not connecting yet */
    CLIENT_CONNECTING,     /* TCP/Unix connect in progress */
    CLIENT_AUTHENTICATING, /* Auth sent, waiting for AuthOk */
    CLIENT_READY,          /* logged in */
    CLIENT_CLOSING,        /* mp_client_disconnect(): flushing, waiting
                              for the broker to close */
    CLIENT_DONE,           /* login failed or broker lost: free it */
};

struct handler {
    char *protocol;
    mp_connection_cb on_connection;
    void *arg;
    struct handler *next;
};

struct mp_client {
    struct event_base *base;
    bool own_base;
    enum client_state state;

    char *address;
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
    struct ssl_ctx_st *tls_ctx; /* "tls:" addresses only */
    char *tls_server_name;
    bool send_blocked;        /* a send got MP_ERR_WOULD_BLOCK */
    mp_drained_cb drained_cb;
    void *drained_arg;

    struct bufferevent *bev;
    struct evbuffer *scratch; /* one message being encoded */
    struct event *timer;      /* connect/login timeout, deferred errors */
    int deferred_error;       /* reported by the timer when non-zero */
    char deferred_reason[256]; /* ... with this reason, if not empty */
    char tls_error[256];      /* why the TLS context could not be made */

    mp_ready_cb ready_cb;
    void *ready_arg;
    mp_lost_cb lost_cb;
    void *lost_arg;
    mp_disconnected_cb disconnected_cb;
    void *disconnected_arg;

    struct handler *handlers;
    struct hashmap *conns_by_id;
    struct mp_conn *conns;    /* every connection, open or opening */
    unsigned long next_conn;  /* suffix of our next connection id */

    bool waiting;             /* inside mp_client_connect_wait() */
    bool wait_done;
    int wait_status;
    char wait_reason[256];
};

enum conn_state {
    CONN_OPENING, /* our Syn is out, no answer yet */
    CONN_OPEN,
};

struct mp_conn {
    struct mp_client *client;
    enum conn_state state;
    char id[MP_NAME_MAX + 1];
    size_t id_len;
    char peer[MP_NAME_MAX + 1];
    size_t peer_len;
    char *protocol;
    bool ending;  /* inside its on_close: being freed */

    mp_open_cb open_cb;
    void *open_arg;
    mp_message_cb on_message;
    mp_close_cb on_close;
    void *arg;

    struct mp_conn *prev, *next;
};

/* A parsed broker address. */
struct mp_address {
    struct sockaddr_storage sa;
    socklen_t len;
    bool tls;      /* "tls:HOST:PORT" */
    char host[256]; /* TCP and TLS: HOST, without brackets */
};

/* address.c: parse "tcp:HOST:PORT" / "tls:HOST:PORT" / "unix:PATH".
 * Returns MP_OK or MP_ERR_ADDRESS. */
int mp_address_parse(const char *address, struct mp_address *a);

/* tls.c: a client TLS context from the options (c->tls_ctx), created when
 * the address is "tls:"; MP_OK, MP_ERR_TLS (reason in c->wait_reason is
 * not touched: the text goes to err) or MP_ERR_NOMEM. */
int mp_tls_context_new(struct mp_client *c, const struct mp_client_options *o,
                       char *err, size_t errlen);
void mp_tls_context_free(struct mp_client *c);
/* A connecting TLS bufferevent verifying `host` (or tls_server_name). */
struct bufferevent *mp_tls_bufferevent_new(struct mp_client *c,
                                           const char *host);
/* OpenSSL's reason a TLS bufferevent failed, or false if it was not TLS. */
bool mp_tls_error(struct bufferevent *bev, char *buf, size_t len);
/* Hand queued output to the kernel through TLS without waiting, then send
 * close_notify. */
void mp_tls_flush(struct bufferevent *bev);
void mp_tls_close_notify(struct bufferevent *bev);

/* conn.c */
struct mp_conn *conn_new(struct mp_client *c, const char *id, size_t id_len,
                         const char *peer, size_t peer_len,
                         const void *protocol, size_t protocol_len,
                         enum conn_state state);
struct mp_conn *conn_find(const struct mp_client *c, const char *id,
                          size_t id_len);
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
/* Handle a connection-level message from the broker. */
void conn_handle_message(struct mp_client *c, struct mp_message *msg);

/* client.c: queue a message for the broker. `take`/`free_fn` as in
 * mp_conn_send_take (take may be NULL: copy). */
int client_send(struct mp_client *c, enum mp_meta meta, const char *other,
                size_t other_len, const char *id, size_t id_len,
                const void *data, size_t data_len, bool has_data,
                void (*free_fn)(void *, size_t, void *), void *free_arg);

/* The handler for a Syn's protocol (not NUL-terminated), or NULL. */
const struct handler *client_find_handler(struct mp_client *c,
                                          const void *protocol, size_t len);

#endif
