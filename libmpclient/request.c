/*
 * request.c - request/reply in one call: mp_client_request() opens a
 * connection, sends one message, hands the first reply to its callback
 * and closes; mp_client_handle_requests() is the server side, a handler
 * whose connections deliver each message to one callback.
 *
 * Built on the public connection API (mp_client_open, mp_conn_send,
 * mp_conn_close and the callbacks) and one libevent timer per request.
 * Every outcome reaches the library's own callbacks first: the open's,
 * the connection's on_message and on_close, the timer's. Only two
 * things need the client's insides: the size check before the open
 * (request_too_big), and mp_client_disconnect(), which closes open
 * connections without an on_close and so ends requests through
 * requests_end_all().
 *
 * A request times out while its open is still pending: there is no way
 * to withdraw a Syn the peer may be answering, so the callback gets
 * MP_ERR_TIMEOUT at once and the request lives on, without a timer or
 * data, until the open's outcome arrives (or the client is freed, lost
 * or disconnected, which ends the open too), then closes the connection
 * if it was accepted and frees itself.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client-internal.h"
#include "name.h"

struct request {
    struct mp_client *client;
    struct mp_conn *conn;  /* once the open succeeded, until closed */
    bool open_pending;     /* mp_client_open() has not called back yet */
    bool answered;         /* cb has run: only the open is awaited */
    unsigned char *data;   /* our copy, until it is queued */
    size_t len;
    struct event *timer;   /* timeout_ms; NULL when unbounded */
    mp_reply_cb cb;
    void *arg;
    LIST_ENTRY(request) entry; /* in client->requests until answered */
};

/* Why a connection ended, as the status a requester gets. */
static int close_status(int reason)
{
    switch (reason) {
    case MP_CLOSE_PEER_LEFT:
        return MP_ERR_PEER_LEFT;
    case MP_CLOSE_BROKER_LOST:
        return MP_ERR_BROKER_GONE;
    default: /* by the peer, the client freed, a message dropped */
        return MP_ERR_CLOSED;
    }
}

static void request_release(struct request *req)
{
    if (req->timer != NULL)
        event_free(req->timer);
    req->timer = NULL;
    free(req->data);
    req->data = NULL;
}

/*
 * The outcome, exactly once: off the client's list, the timer and the
 * copy released, then the callback. The request is freed first unless
 * its open is still pending (request_opened frees it then), so that the
 * callback may do anything - free nothing, open again, disconnect.
 */
static void request_answer(struct request *req, int status, const void *data,
                           size_t len)
{
    struct mp_client *c = req->client;
    mp_reply_cb cb = req->cb;
    void *arg = req->arg;

    LIST_REMOVE(req, entry);
    req->answered = true;
    request_release(req);
    if (!req->open_pending)
        free(req);
    cb(c, status, data, len, arg);
}

/* Close the connection, if open (the peer is told), then answer. */
static void request_end(struct request *req, int status, const void *data,
                        size_t len)
{
    struct mp_conn *conn = req->conn;

    req->conn = NULL;
    if (conn != NULL)
        mp_conn_close(conn);
    request_answer(req, status, data, len);
}

/* ------------------------------------------------------------------------
 * The exchange
 */

/* Send the question; a full queue (or, at level 2, a connection out of
 * credit) is retried from on_drained. */
static void request_send(struct request *req)
{
    int rc = mp_conn_send(req->conn, req->data, req->len);

    if (rc == MP_ERR_WOULD_BLOCK)
        return;
    if (rc != MP_OK) {
        request_end(req, rc, NULL, 0);
        return;
    }
    /* Queued (copied): ours is of no more use. */
    free(req->data);
    req->data = NULL;
}

static void request_drained(struct mp_conn *conn, void *arg)
{
    struct request *req = arg;

    (void)conn;
    if (req->data != NULL)
        request_send(req);
}

/* The first message back is the reply; data stays valid after the close
 * (it is the link's message, not the connection's). */
static void request_reply(struct mp_conn *conn, const void *data, size_t len,
                          void *arg)
{
    (void)conn;
    request_end(arg, MP_OK, data, len);
}

/* The connection ended before a reply; it is freed after this. */
static void request_closed(struct mp_conn *conn, int reason, void *arg)
{
    struct request *req = arg;

    (void)conn;
    req->conn = NULL;
    request_answer(req, close_status(reason), NULL, 0);
}

static void request_opened(struct mp_conn *conn, int status, void *arg)
{
    struct request *req = arg;

    req->open_pending = false;
    if (req->answered) {
        /* Timed out (or ended by a disconnect) meanwhile. */
        if (conn != NULL)
            mp_conn_close(conn);
        free(req);
        return;
    }
    if (conn == NULL) {
        /* Refused: mp_client_open_reason() holds while cb runs. */
        request_answer(req, status, NULL, 0);
        return;
    }
    req->conn = conn;
    mp_conn_set_callbacks(conn, request_reply, request_closed, req);
    mp_conn_on_drained(conn, request_drained, req);
    request_send(req);
}

static void request_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    request_end(arg, MP_ERR_TIMEOUT, NULL, 0);
}

void requests_end_all(struct mp_client *c, int status)
{
    /* A callback may start or end requests: take the head each time. */
    while (!LIST_EMPTY(&c->requests))
        request_end(LIST_FIRST(&c->requests), status, NULL, 0);
}

/* ------------------------------------------------------------------------
 * The size check
 */

/*
 * Would the question pass max_message_size? send.c's own rule, applied
 * to the Data with the id the open will take: exact in every format.
 * Only once logged in, when no encoder has state a Data changes (gob
 * sent its type definition with the Auth).
 */
static bool request_too_big(struct mp_client *c, const char *peer,
                            const void *data, size_t len)
{
    char id[MP_NAME_MAX + 1];
    int id_len = conn_next_id(c, id, sizeof id);

    if (id_len < 0 || mp_name_check(peer, strlen(peer)) != NULL)
        return len > c->max_message_size; /* mp_client_open refuses it */
    return send_too_big(c, MP_META_DATA, peer, strlen(peer), id,
                        (size_t)id_len, data, len);
}

/* ------------------------------------------------------------------------
 * Public API
 */

static struct request *request_new(struct mp_client *c, const void *data,
                                   size_t len, unsigned timeout_ms,
                                   mp_reply_cb cb, void *arg)
{
    struct request *req = calloc(1, sizeof *req);

    if (req == NULL)
        return NULL;
    req->client = c;
    req->cb = cb;
    req->arg = arg;
    req->len = len;
    req->data = malloc(len ? len : 1);
    if (req->data != NULL && len > 0)
        memcpy(req->data, data, len);
    if (timeout_ms > 0)
        req->timer = evtimer_new(c->base, request_timeout, req);
    if (req->data == NULL || (timeout_ms > 0 && req->timer == NULL)) {
        request_release(req);
        free(req);
        return NULL;
    }
    return req;
}

int mp_client_request(struct mp_client *c, const char *peer,
                      const char *protocol, const void *data, size_t len,
                      unsigned timeout_ms, mp_reply_cb cb, void *arg)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (timeout_ms % 1000) * 1000};
    struct request *req;
    int rc;

    if (c == NULL || peer == NULL || protocol == NULL || cb == NULL ||
        (data == NULL && len > 0))
        return MP_ERR_INVALID;
    /* Not logged in: mp_client_open says why, and nothing is encoded. */
    if (c->state == CLIENT_READY && request_too_big(c, peer, data, len))
        return MP_ERR_TOO_BIG;
    req = request_new(c, data, len, timeout_ms, cb, arg);
    if (req == NULL)
        return MP_ERR_NOMEM;
    rc = mp_client_open(c, peer, protocol, request_opened, req);
    if (rc != MP_OK) {
        request_release(req);
        free(req);
        return rc;
    }
    req->open_pending = true;
    if (req->timer != NULL)
        evtimer_add(req->timer, &tv);
    LIST_INSERT_HEAD(&c->requests, req, entry);
    return MP_OK;
}

/* The server side: each message of an accepted connection goes to the
 * callback its handler had when the peer opened it (conn_handle_syn
 * copies it: the handler may be gone before the connection is). */
static void requests_message(struct mp_conn *conn, const void *data,
                             size_t len, void *arg)
{
    conn->on_request(conn, data, len, arg);
}

static void requests_accept(struct mp_conn *conn, void *arg)
{
    mp_conn_set_callbacks(conn, requests_message, NULL, arg);
}

int mp_client_handle_requests(struct mp_client *c, const char *protocol,
                              mp_request_cb cb, void *arg)
{
    if (c == NULL || protocol == NULL || cb == NULL)
        return MP_ERR_INVALID;
    return handler_add(c, protocol, requests_accept, arg, cb);
}
