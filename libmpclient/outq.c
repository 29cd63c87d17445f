/*
 * outq.c - libmpclient's output queue: what each message waiting for the
 * broker costs in memory, which connection it belongs to, and when it has
 * left.
 *
 * Every message goes into the bufferevent's output through outq_append(),
 * which stores it so that its memory is known: small messages are copied
 * and packed into evbuffer chains of at most 4 KiB; larger ones are copied
 * into one block of their exact size added by reference (a plain
 * evbuffer_add would round its chain up to a power of two, up to twice
 * the bytes); data handed over with mp_conn_send_take() is referenced
 * where it is. Moving the encoder's scratch chains instead, as 0.2 did,
 * kept a 1 KiB chain per small message: mpcat grew to 228 MB under a
 * 4 MiB max_queued.
 *
 * A ring of records, oldest first, follows the messages through the
 * output: an evbuffer callback learns how many bytes left, pops the
 * records they complete and gives their cost back to the client and to
 * the connection. The application hears of it through a deferred event
 * (c->notify, notify_cb), never from inside libevent's write.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client-internal.h"

/* Largest message copied into the shared chains (libevent's chain size
 * for small adds, EVBUFFER_CHAIN_MAX_AUTO_SIZE). */
#define PACK_MAX 4096

/* What a message costs beyond its bytes: its record (and the ring's
 * doubling slack), and for a message stored in a block of its own, the
 * block's malloc header and libevent's chain and reference structures
 * (about 100 bytes on 64-bit glibc; rounded up). */
#define RECORD_COST (2 * sizeof(struct out_record))
#define BLOCK_COST 256

struct out_record {
    struct mp_conn *conn; /* NULL: the library's own, or conn gone */
    size_t left;          /* bytes still in the output */
    size_t cost;          /* memory given back when it has left */
};

static struct out_record *record_at(struct mp_client *c, size_t i)
{
    return &c->outq[(c->outq_head + i) % c->outq_cap];
}

static int records_grow(struct mp_client *c)
{
    size_t ncap = c->outq_cap ? c->outq_cap * 2 : 64;
    struct out_record *n = malloc(ncap * sizeof *n);

    if (n == NULL)
        return -1;
    for (size_t i = 0; i < c->outq_len; i++)
        n[i] = *record_at(c, i);
    free(c->outq);
    c->outq = n;
    c->outq_cap = ncap;
    c->outq_head = 0;
    return 0;
}

static void free_block(const void *data, size_t len, void *extra)
{
    (void)len;
    (void)extra;
    free((void *)data);
}

/* Copy n bytes of scratch's front into out; returns their cost or
 * (size_t)-1 when out of memory. */
static size_t copy_out(struct mp_client *c, struct evbuffer *out,
                       struct evbuffer *scratch, size_t n)
{
    unsigned char *block;

    if (n == 0)
        return 0;
    if (n <= PACK_MAX) {
        /* After a reference chain, evbuffer_add would size the next
         * chain like it: start a small one instead. */
        if (c->outq_tail_is_block && evbuffer_expand(out, PACK_MAX) != 0)
            return (size_t)-1;
        const unsigned char *bytes = evbuffer_pullup(scratch, (ssize_t)n);
        if (bytes == NULL || evbuffer_add(out, bytes, n) != 0)
            return (size_t)-1;
        evbuffer_drain(scratch, n);
        c->outq_tail_is_block = false;
        return n;
    }
    block = malloc(n);
    if (block == NULL)
        return (size_t)-1;
    evbuffer_remove(scratch, block, n);
    if (evbuffer_add_reference(out, block, n, free_block, NULL) != 0) {
        free(block);
        return (size_t)-1;
    }
    c->outq_tail_is_block = true;
    return n + BLOCK_COST;
}

/* A record has left: give its cost back. */
static void record_done(struct mp_client *c, struct out_record *r)
{
    c->queued_cost -= r->cost;
    if (r->conn != NULL) {
        r->conn->queued_cost -= r->cost;
        r->conn->queued_msgs--;
    }
    c->outq_head = (c->outq_head + 1) % c->outq_cap;
    c->outq_len--;
}

int outq_append(struct mp_client *c, struct mp_conn *conn,
                struct evbuffer *scratch, struct outq_taken *taken)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t before = evbuffer_get_length(out);
    size_t total = evbuffer_get_length(scratch), cost = RECORD_COST, part;
    size_t head = taken != NULL ? taken->offset : total, left;
    struct out_record *r;

    if (c->outq_len == c->outq_cap && records_grow(c) != 0)
        return MP_ERR_NOMEM;
    part = copy_out(c, out, scratch, head);
    if (part != (size_t)-1 && taken != NULL) {
        if (evbuffer_add_reference(out, taken->data, taken->len,
                                   taken->cleanup, taken->extra) != 0) {
            part = (size_t)-1;
        } else {
            taken->added = true;
            part += taken->len + BLOCK_COST;
            c->outq_tail_is_block = true;
        }
    }
    if (part != (size_t)-1) {
        size_t tail = copy_out(c, out, scratch, total - head);
        part = tail == (size_t)-1 ? (size_t)-1 : part + tail;
    }
    cost = part == (size_t)-1 ? 0 : cost + part;
    /* Adding never deletes, so the record may follow the bytes: it holds
     * what went in, even when an allocation failure left half a message
     * (the stream is then broken, and the caller says so). */
    left = evbuffer_get_length(out) - before;
    if (left == 0)
        return part == (size_t)-1 ? MP_ERR_NOMEM : MP_OK;
    r = record_at(c, c->outq_len++);
    *r = (struct out_record){.conn = conn, .left = left, .cost = cost};
    c->queued_cost += cost;
    if (conn != NULL) {
        conn->queued_cost += cost;
        conn->queued_msgs++;
    }
    return part == (size_t)-1 ? MP_ERR_NOMEM : MP_OK;
}

static bool anyone_waits(const struct mp_client *c)
{
    return c->send_blocked || c->blocked_conns > 0 || c->read_paused;
}

static void output_changed(struct evbuffer *buf,
                           const struct evbuffer_cb_info *info, void *arg)
{
    struct mp_client *c = arg;
    size_t n = info->n_deleted;

    (void)buf;
    while (n > 0 && c->outq_len > 0) {
        struct out_record *r = record_at(c, 0);
        size_t k = n < r->left ? n : r->left;
        r->left -= k;
        n -= k;
        if (r->left == 0)
            record_done(c, r);
    }
    /* A burst's ring is not kept once it is over. */
    if (c->outq_len == 0 && c->outq_cap > 1024) {
        free(c->outq);
        c->outq = NULL;
        c->outq_cap = 0;
        c->outq_head = 0;
    }
    if (info->n_deleted > 0 && anyone_waits(c))
        event_active(c->notify, EV_WRITE, 0);
}

int outq_attach(struct mp_client *c)
{
    c->outq_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
                                 output_changed, c);
    return c->outq_cb != NULL ? MP_OK : MP_ERR_NOMEM;
}

void outq_detach(struct mp_client *c)
{
    if (c->outq_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->outq_cb);
    c->outq_cb = NULL;
    while (c->outq_len > 0)
        record_done(c, record_at(c, 0));
    free(c->outq);
    c->outq = NULL;
    c->outq_cap = 0;
    c->outq_head = 0;
}

void outq_forget_conn(struct mp_client *c, struct mp_conn *conn)
{
    if (conn->send_blocked)
        c->blocked_conns--;
    conn->send_blocked = false;
    for (size_t i = 0; i < c->outq_len && conn->queued_msgs > 0; i++) {
        struct out_record *r = record_at(c, i);
        if (r->conn == conn) {
            r->conn = NULL;
            conn->queued_msgs--;
        }
    }
}

/* ------------------------------------------------------------------------
 * Limits
 */

/* A connection's backlog may grow again: below half of each bound. */
static bool conn_has_room(const struct mp_conn *conn)
{
    const struct mp_client *c = conn->client;

    return conn->queued_cost <= c->max_queued_per_conn / 2 &&
           c->queued_cost <= c->max_queued / 2;
}

int outq_admit(struct mp_client *c, struct mp_conn *conn)
{
    bool total = c->queued_cost > 0 && c->queued_cost >= c->max_queued;
    bool own = conn != NULL && conn->queued_cost > 0 &&
               conn->queued_cost >= c->max_queued_per_conn;

    if (!total && !own)
        return MP_OK;
    if (total && (conn == NULL || conn->drained_cb == NULL))
        c->send_blocked = true;
    if (conn != NULL && !conn->send_blocked) {
        conn->send_blocked = true;
        c->blocked_conns++;
    }
    return MP_ERR_WOULD_BLOCK;
}

size_t outq_pause_level(const struct mp_client *c)
{
    /* Past what the application may queue (max_queued, and the one
     * message a nearly full queue still accepts, JSON-encoded), the
     * library's answers may take a quarter more. */
    return c->max_queued + c->max_message_size + c->max_message_size / 3 +
           c->max_queued / 4;
}

/* The first connection whose blocked send may be retried, or NULL. */
static struct mp_conn *drained_conn(struct mp_client *c)
{
    struct mp_conn *conn;

    if (c->blocked_conns == 0)
        return NULL;
    LIST_FOREACH(conn, &c->conns, entry) {
        if (conn->send_blocked && conn_has_room(conn) &&
            credit_available(conn))
            return conn;
    }
    return NULL;
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mp_client *c = arg;
    struct mp_conn *conn;

    (void)fd;
    (void)what;
    if (c->state != CLIENT_READY)
        return;
    if (c->read_paused && c->queued_cost <= c->max_queued)
        link_resume_reading(c);
    /* A callback may close or open connections: find the next one
     * afresh each time. */
    while (c->state == CLIENT_READY && (conn = drained_conn(c)) != NULL) {
        conn->send_blocked = false;
        c->blocked_conns--;
        if (conn->drained_cb != NULL) {
            conn->drained_cb(conn, conn->drained_arg);
        } else if (c->drained_cb != NULL) {
            /* A program that knows only the client's callback (0.2). */
            c->send_blocked = false;
            c->drained_cb(c, c->drained_arg);
        }
    }
    if (c->state == CLIENT_READY && c->send_blocked &&
        c->queued_cost <= c->max_queued / 2) {
        c->send_blocked = false;
        if (c->drained_cb != NULL)
            c->drained_cb(c, c->drained_arg);
    }
}

int outq_init(struct mp_client *c)
{
    c->notify = event_new(c->base, -1, 0, notify_cb, c);
    return c->notify != NULL ? MP_OK : MP_ERR_NOMEM;
}

void outq_free(struct mp_client *c)
{
    if (c->notify != NULL)
        event_free(c->notify);
    c->notify = NULL;
}

/* ------------------------------------------------------------------------
 * Public API
 */

size_t mp_client_queued(const struct mp_client *c)
{
    return c != NULL ? c->queued_cost : 0;
}

size_t mp_conn_queued(const struct mp_conn *conn)
{
    return conn != NULL ? conn->queued_cost : 0;
}

void mp_conn_on_drained(struct mp_conn *conn, mp_conn_drained_cb cb,
                        void *arg)
{
    conn->drained_cb = cb;
    conn->drained_arg = arg;
}
