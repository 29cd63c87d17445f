/*
 * session_io.c - moving a session's bytes: a plain socket's own events
 * and buffers, or, for TLS and WebSocket, a bufferevent (libevent's
 * OpenSSL one for TLS; a socket one for plain WebSocket).
 *
 * A WebSocket session (ws_session.h) keeps its own input and output
 * buffers beside the bufferevent's: the input holds the payloads of the
 * client's frames, which the format decodes; the output holds one
 * message at a time, framed into the bufferevent as soon as it is whole.
 *
 * A plain socket (TCP or Unix) has no bufferevent, for three reasons
 * measured at 4 KiB messages and with 10 000 idle clients (bench/):
 *   - Reads: libevent 2.1's bufferevent asks FIONREAD and reads at most
 *     4 KiB per wake-up. Here one readv per wake-up takes what the socket
 *     holds, sized from what the previous read returned.
 *   - Writes: a bufferevent arms its write event when bytes are queued
 *     and disarms it when they are written, two epoll_ctl per message
 *     for a client that keeps up. Here whatever is queued for a client
 *     during one turn of the loop is written at the end of that turn, in
 *     one writev, directly (the broker's flush list, as Redis writes its
 *     replies before it sleeps); the write event is armed only when the
 *     socket would block.
 *   - Memory: a bufferevent and its two evbuffers are about 930 bytes
 *     per client. Here an idle client holds one event; its buffers exist
 *     only while bytes wait in them.
 *
 * Ownership: the session owns its socket, events and buffers; session_io
 * frees them in session_io_free(). A buffer returned by session_input()
 * or session_output() is valid until control returns to the loop.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bev_output.h"
#include "broker.h"
#include "flow.h"
#include "listener.h"
#include "log.h"
#include "read_batch.h"
#include "session-internal.h"
#include "tls.h"
#include "ws_session.h"
#include "xalloc.h"

/* Reads start at READ_MIN and double while they come back full, up to
 * READ_MAX; a read that returns less than a quarter halves the next.
 * Before login a client needs a few hundred bytes, and reads stay at
 * READ_MIN (what libevent read): the limits before authentication count
 * what is buffered. READ_MAX stays below malloc's mmap threshold
 * (malloc_tune.h). */
enum {
    READ_MIN = 4 * 1024,
    READ_MAX = 256 * 1024,
};

/* An evbuffer rounds a chunk it allocates up to a power of two, its own
 * header included: a read of 2^k bytes would take 2^(k+1). Reads ask for
 * a power of two less this much, so that each fills one chunk. */
enum { CHAIN_HEADER = 256 };

/* Most bytes one writev may take: a batch of queued messages at once,
 * while no client's queue holds the loop for long. */
enum { WRITE_BATCH = 256 * 1024 };

static void on_readable(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);

static bool retriable(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static bool is_plain(const struct session *s)
{
    return s->bev == NULL;
}

static bool is_ws(const struct session *s)
{
    return s->ws != NULL;
}

/* ------------------------------------------------------------------------
 * TLS and WebSocket: the bufferevent's callbacks
 */

static void tls_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    session_input_arrived(arg);
}

static void ws_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ws_session_read(arg);
}

/* Output fell to its low water mark (0 while closing). */
static void bev_write_cb(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;

    (void)bev;
    if (s->state != SESSION_CLOSING)
        session_output_drained(s);
    else if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        session_schedule_free(s);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;
    char why[256];

    if (what & BEV_EVENT_CONNECTED) {
        /* The handshake completed: nothing to do until Auth. */
        log_debug("TLS handshake with %s done", s->ep.peer);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        session_lost(s, "connection closed by client");
        return;
    }
    tls_error_string(bev, why, sizeof why);
    session_lost(s, why);
}

/* ------------------------------------------------------------------------
 * Opening and freeing
 */

/* Read and write through `bev` (NULL: out of memory; a TLS one closed
 * the socket), reading with `read_cb`. */
static void start_bufferevent(struct session *s, struct bufferevent *bev,
                              bufferevent_data_cb read_cb)
{
    if (bev == NULL)
        mp_out_of_memory("a bufferevent", 0);
    s->bev = bev;
    bufferevent_setcb(bev, read_cb, bev_write_cb, bev_event_cb, s);
    bufferevent_set_max_single_write(bev, WRITE_BATCH);
    session_io_apply_limits(s, &s->ep.broker->conf);
    bufferevent_enable(bev, EV_READ);
}

void session_io_open(struct session *s, evutil_socket_t fd)
{
    struct broker *b = s->ep.broker;

    s->fd = fd;
    s->read_size = READ_MIN;
    if (s->listener->ws != NULL) {
        evutil_make_socket_nonblocking(fd);
        s->ws = ws_session_new(s);
        start_bufferevent(s, s->listener->tls != NULL
                                 ? tls_bufferevent_new(b->base, fd,
                                                       s->listener->tls)
                                 : bufferevent_socket_new(
                                       b->base, fd, BEV_OPT_CLOSE_ON_FREE),
                          ws_read_cb);
        return;
    }
    if (s->listener->tls != NULL) {
        start_bufferevent(s, tls_bufferevent_new(b->base, fd, s->listener->tls),
                          tls_read_cb);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    s->read_ev = event_new(b->base, fd, EV_READ | EV_PERSIST, on_readable, s);
    if (s->read_ev == NULL)
        mp_out_of_memory("an event", 0);
    event_add(s->read_ev, NULL);
}

static void forget_output(struct session *s)
{
    if (s->write_ev != NULL)
        event_free(s->write_ev);
    s->write_ev = NULL;
    if (s->out != NULL)
        evbuffer_free(s->out);
    s->out = NULL;
}

static void unqueue_flush(struct session *s)
{
    if (s->flush_queued)
        LIST_REMOVE(s, flush);
    s->flush_queued = false;
}

void session_io_stop(struct session *s)
{
    if (!is_plain(s)) {
        bufferevent_disable(s->bev, EV_READ | EV_WRITE);
        return;
    }
    event_del(s->read_ev);
    if (s->write_ev != NULL)
        event_del(s->write_ev);
    unqueue_flush(s);
}

void session_io_free(struct session *s)
{
    if (!is_plain(s)) {
        bufferevent_free(s->bev); /* BEV_OPT_CLOSE_ON_FREE: the socket too */
        if (is_ws(s)) {
            ws_session_free(s->ws);
            forget_output(s);
            if (s->in != NULL)
                evbuffer_free(s->in);
        }
        return;
    }
    unqueue_flush(s);
    event_free(s->read_ev);
    forget_output(s);
    if (s->in != NULL)
        evbuffer_free(s->in);
    free(s->carry);
    evutil_closesocket(s->fd);
}

void session_io_apply_limits(struct session *s, const struct broker_conf *conf)
{
    /* A plain socket reads output_low_water when it writes. */
    if (!is_plain(s))
        bufferevent_setwatermark(s->bev, EV_WRITE, conf->output_low_water, 0);
}

/* ------------------------------------------------------------------------
 * Input
 */

static struct evbuffer *new_buffer(void)
{
    struct evbuffer *buf = evbuffer_new();

    if (buf == NULL)
        mp_out_of_memory("an evbuffer", 0);
    return buf;
}

struct evbuffer *session_input(struct session *s)
{
    if (is_ws(s)) {
        if (s->in == NULL)
            s->in = new_buffer();
        return s->in;
    }
    if (!is_plain(s))
        return bufferevent_get_input(s->bev);
    if (s->in != NULL)
        return s->in;
    s->in = new_buffer();
    if (s->carry != NULL) {
        evbuffer_add(s->in, s->carry, s->carry_len);
        free(s->carry);
        s->carry = NULL;
        s->carry_len = 0;
    }
    return s->in;
}

size_t session_input_length(const struct session *s)
{
    if (is_ws(s))
        return s->in != NULL ? evbuffer_get_length(s->in) : 0;
    if (!is_plain(s))
        return evbuffer_get_length(bufferevent_get_input(s->bev));
    return s->in != NULL ? evbuffer_get_length(s->in) : s->carry_len;
}

/* The next read's size, from what this one returned. */
static void adapt_read_size(struct session *s, size_t asked, size_t got)
{
    if (got == asked - CHAIN_HEADER && s->read_size < READ_MAX)
        s->read_size *= 2;
    else if (got < asked / 4 && s->read_size > READ_MIN)
        s->read_size /= 2;
}

/* An idle client holds no input buffer: none when nothing is left, and
 * a few bytes left over (the newline after a JSON message, when it came
 * in a read of its own; the start of the next message) move to a small
 * allocation of their own, instead of pinning a read's 4-256 KiB chunk.
 * The bytes stay as they were, so a decoder's stream state holds. */
enum { CARRY_MAX = 64 };

static void release_input(struct session *s)
{
    size_t left;

    if (s->in == NULL)
        return;
    left = evbuffer_get_length(s->in);
    if (left > CARRY_MAX)
        return;
    if (left > 0) {
        s->carry = mp_xmalloc(left);
        evbuffer_remove(s->in, s->carry, left);
        s->carry_len = (uint8_t)left;
    }
    evbuffer_free(s->in);
    s->in = NULL;
}

/* Paused or closing: leave the rest in the socket. */
static bool wants_input(struct session *s)
{
    return s->state != SESSION_CLOSING && !flow_is_paused(&s->ep);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    size_t asked = s->state == SESSION_READY ? s->read_size : READ_MIN;
    ssize_t got;

    (void)what;
    /* What is buffered goes first (left by a pause; or a partial
     * message): the buffer holds at most one read more than the largest
     * message, however often the client is paused and resumed. */
    if (session_input_length(s) > 0) {
        session_input_arrived(s);
        if (!wants_input(s)) {
            release_input(s);
            return;
        }
    }
    got = mp_read_batch(session_input(s), fd, asked - CHAIN_HEADER);
    if (got == 0) {
        session_lost(s, "connection closed by client");
        return;
    }
    if (got < 0) {
        if (!retriable(errno))
            session_lost(s, evutil_socket_error_to_string(errno));
        else
            release_input(s);
        return;
    }
    adapt_read_size(s, asked, (size_t)got);
    session_input_arrived(s);
    release_input(s);
}

void session_io_set_reading(struct session *s, bool reading)
{
    if (!is_plain(s)) {
        if (!reading) {
            bufferevent_disable(s->bev, EV_READ);
            return;
        }
        bufferevent_enable(s->bev, EV_READ);
        /* What it sent meanwhile waits in its input buffer: run its read
         * callback from the loop, not from inside whoever resumed it. */
        if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0 ||
            session_input_length(s) > 0)
            bufferevent_trigger(s->bev, EV_READ,
                                BEV_TRIG_IGNORE_WATERMARKS |
                                    BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    if (!reading) {
        event_del(s->read_ev);
        return;
    }
    event_add(s->read_ev, NULL);
    if (session_input_length(s) > 0)
        event_active(s->read_ev, EV_READ, 0);
}

/* ------------------------------------------------------------------------
 * Output
 */

struct evbuffer *session_output(struct session *s)
{
    if (!is_plain(s) && !is_ws(s))
        return bufferevent_get_output(s->bev);
    if (s->out == NULL)
        s->out = new_buffer();
    return s->out;
}

size_t session_queued(const struct session *s)
{
    if (!is_plain(s))
        return evbuffer_get_length(bufferevent_get_output(s->bev)) +
               (s->out != NULL ? evbuffer_get_length(s->out) : 0);
    return s->out != NULL ? evbuffer_get_length(s->out) : 0;
}

void session_discard_output(struct session *s)
{
    if (!is_plain(s)) {
        mp_bev_discard_output(s->bev);
        if (s->out != NULL) /* WebSocket */
            evbuffer_drain(s->out, evbuffer_get_length(s->out));
        return;
    }
    if (s->out != NULL)
        evbuffer_drain(s->out, evbuffer_get_length(s->out));
}

void session_io_written(struct session *s)
{
    struct broker *b = s->ep.broker;

    if (is_ws(s) && s->out != NULL) {
        ws_session_queue_message(s, s->out); /* the bufferevent writes */
        return;
    }
    if (!is_plain(s) || s->flush_queued || s->dying)
        return;
    if (LIST_EMPTY(&b->to_flush))
        event_active(b->flusher, 0, 0);
    LIST_INSERT_HEAD(&b->to_flush, s, flush);
    s->flush_queued = true;
}

/* What follows a write: a closing session's end once all is out; for
 * the others, the limits' low water mark. */
static void after_write(struct session *s)
{
    size_t left = session_queued(s);

    if (s->state == SESSION_CLOSING) {
        if (left == 0)
            session_schedule_free(s);
        return;
    }
    if (left <= s->ep.broker->conf.output_low_water)
        session_output_drained(s);
    if (left == 0)
        forget_output(s); /* an idle client holds no buffer or event */
}

void session_io_flush_before_close(struct session *s)
{
    if (!is_plain(s)) {
        /* The write callback then runs when all is out. */
        bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
        return;
    }
    session_io_written(s);
}

static void wait_until_writable(struct session *s)
{
    if (s->write_ev == NULL) {
        s->write_ev = event_new(s->ep.broker->base, s->fd,
                                EV_WRITE | EV_PERSIST, on_writable, s);
        if (s->write_ev == NULL)
            mp_out_of_memory("an event", 0);
    }
    event_add(s->write_ev, NULL);
}

/* One writev of what is queued; the write event only if some is left. */
static void write_queued(struct session *s)
{
    int n;

    if (s->dying || s->out == NULL)
        return;
    n = evbuffer_write_atmost(s->out, s->fd, WRITE_BATCH);
    if (n < 0 && !retriable(errno)) {
        session_lost(s, evutil_socket_error_to_string(errno));
        return;
    }
    if (evbuffer_get_length(s->out) > 0) {
        wait_until_writable(s);
        if (n <= 0)
            return;
    }
    after_write(s);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_queued(arg);
}

void sessions_flush(struct broker *b)
{
    while (!LIST_EMPTY(&b->to_flush)) {
        struct session *s = LIST_FIRST(&b->to_flush);

        unqueue_flush(s);
        /* A socket already waiting for writability gets its turn then. */
        if (s->write_ev == NULL || !event_pending(s->write_ev, EV_WRITE, NULL))
            write_queued(s);
    }
}
