/*
 * link.c - the link to the broker once its socket has a bufferevent:
 * reading and decoding what arrives (the login's answer goes to login.c,
 * everything after it to conn.c), pausing input while the library's own
 * answers pile up in the output, the orderly close of
 * mp_client_disconnect(), and the events that end the link, which
 * client_connection_failed() (client.c) turns into the client's end.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client-internal.h"
#include "message.h"

/* ------------------------------------------------------------------------
 * Reading
 */

/*
 * Who handles what the broker sends once logged in: a row per meta
 * value, with the protocol level that defines it. What a level-1
 * session gets of a later level, and what the broker never sends (Auth,
 * Watch, ...), is ignored, as the 2015 client did.
 */
typedef void (*message_handler)(struct mp_client *c, struct mp_message *msg);

static const struct route {
    message_handler handle;
    unsigned level;
} routes[MP_META_LEVEL2_MAX + 1] = {
    [MP_META_DATA] = {conn_handle_message, 1},
    [MP_META_WAT] = {conn_handle_message, 1},
    [MP_META_NO_SUCH_CONNECTION] = {conn_handle_message, 1},
    [MP_META_UNKNOWN_PROTO] = {conn_handle_message, 1},
    [MP_META_CLIENT_CLOSED] = {conn_handle_client_closed, 1},
    [MP_META_CONN_SYN] = {conn_handle_syn, 1},
    [MP_META_CONN_ACK] = {conn_handle_message, 1},
    [MP_META_CONN_CLOSED] = {conn_handle_message, 1},
    [MP_META_CREDIT] = {conn_handle_message, 2},
    [MP_META_PRESENCE] = {presence_handle, 2},
    [MP_META_LIST] = {list_handle, 2},
    [MP_META_DENIED] = {conn_handle_message, 2},
    [MP_META_REPLACED] = {notice_replaced, 2},
    [MP_META_GOING_AWAY] = {notice_going_away, 2},
};

static void dispatch(struct mp_client *c, struct mp_message *msg)
{
    const struct route *r;

    if (msg->meta > MP_META_LEVEL2_MAX)
        return;
    r = &routes[msg->meta];
    if (r->handle != NULL && c->level >= r->level)
        r->handle(c, msg);
}

/* Decode and handle one message; false when the loop must stop. */
static bool process_one(struct mp_client *c)
{
    struct evbuffer *in;
    size_t len, consumed = 0;
    const unsigned char *buf;
    struct mp_message msg;
    char err[160];
    enum mp_decode_status st;

    if (c->bev == NULL ||
        (c->state != CLIENT_AUTHENTICATING && c->state != CLIENT_READY))
        return false;
    if (c->queued_cost >= outq_pause_level(c)) {
        /* The broker sends faster than it reads what we owe it (Acks,
         * refusals): read no more until the output drains, rather than
         * queue without bound. outq.c resumes (link_resume_reading). */
        c->read_paused = true;
        bufferevent_disable(c->bev, EV_READ);
        return false;
    }
    in = bufferevent_get_input(c->bev);
    len = evbuffer_get_length(in);
    if (len == 0)
        return false;
    buf = evbuffer_pullup(in, -1);
    if (c->state == CLIENT_AUTHENTICATING && buf != NULL &&
        login_refusal(c, buf, len) != MP_DECODE_ERROR)
        return false;
    memset(&msg, 0, sizeof msg);
    st = buf == NULL ? MP_DECODE_ERROR
                     : c->codec->decode(c->decode_stream, buf, len,
                                        client_receive_limit(c), &msg,
                                        &consumed,
                                        err, sizeof err);
    if (st == MP_DECODE_NEED_MORE)
        return false;
    if (st == MP_DECODE_ERROR) {
        char reason[sizeof c->lost_reason];
        snprintf(reason, sizeof reason, "undecodable input from the broker: %s",
                 buf == NULL ? "out of memory" : err);
        client_connection_failed(c, MP_ERR_PROTOCOL, reason);
        return false;
    }
    evbuffer_drain(in, consumed);
    if (c->state == CLIENT_AUTHENTICATING)
        login_answer(c, &msg);
    else
        dispatch(c, &msg);
    mp_message_clear(&msg);
    return true;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct mp_client *c = arg;

    if (c->state == CLIENT_CLOSING) {
        /* Leaving: read only to see the broker's close. */
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    while (process_one(c))
        ;
}

void link_resume_reading(struct mp_client *c)
{
    c->read_paused = false;
    bufferevent_enable(c->bev, EV_READ);
    /* What is already buffered is not announced again by libevent. */
    read_cb(c->bev, c);
}

/* ------------------------------------------------------------------------
 * Events and the end of the link
 */

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct mp_client *c = arg;
    char tls_reason[200];

    if (what & BEV_EVENT_CONNECTED) {
        /* TLS only: the handshake is done. */
        login_send_auth(c);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && c->state == CLIENT_READY) {
        char reason[128];
        snprintf(reason, sizeof reason,
                 "nothing from the broker for %u ms (idle_timeout_ms)",
                 c->idle_timeout_ms);
        client_connection_failed(c, MP_ERR_TIMEOUT, reason);
        return;
    }
    /* Messages that arrived with the close (an AuthFailure) come first. */
    if (what & BEV_EVENT_EOF)
        c->input_ended = true;
    read_cb(bev, c);
    if ((c->state == CLIENT_CONNECTING || c->state == CLIENT_AUTHENTICATING) &&
        (what & BEV_EVENT_ERROR) &&
        mp_tls_error(bev, tls_reason, sizeof tls_reason))
        client_connection_failed(c, MP_ERR_TLS, tls_reason);
    else if (c->state == CLIENT_CONNECTING)
        client_connection_failed(c, MP_ERR_CONNECT, NULL);
    else
        client_connection_failed(c, MP_ERR_BROKER_GONE, NULL);
}

void link_start(struct mp_client *c)
{
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Everything queued has left: half-close, so the broker reads to the end
 * and closes its side, which event_cb then sees. */
static void flushed_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    mp_tls_close_notify(bev);
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

void link_shutdown(struct mp_client *c)
{
    /* Input paused for backpressure: the broker's close must be seen. */
    if (c->read_paused) {
        c->read_paused = false;
        bufferevent_enable(c->bev, EV_READ);
    }
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(c->bev, read_cb, flushed_cb, event_cb, c);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        flushed_cb(c->bev, c);
}
