/*
 * mpcat_echo.c - listen -e at protocol level 2: echoes that honour the
 * peer's credit.
 *
 * At level 1 an echo that cannot be queued sheds the peer (mpcat.c,
 * shed()): waiting would stall every connection, which share one socket.
 * At level 2 a peer that does not read only stops its own connection, so
 * waiting is right: an echo refused for credit waits in the connection's
 * backlog and goes out from its drained callback. The connection grants
 * manually, and grants back what arrived only once its echo went out, so
 * the peer cannot send more than a window ahead of its echoes: the
 * backlog stays under a window and a message. --conn-queue still bounds
 * it (a peer that ignores its credit is shed as at level 1).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mpcat.h"

static struct echo *echo_of(struct app *a, const struct mp_conn *conn)
{
    /* A listener's connections are few: a list is enough. */
    for (struct echo *e = a->echoes; e != NULL; e = e->next) {
        if (e->conn == conn)
            return e;
    }
    return NULL;
}

/* An echo of len bytes went out: grant its cost back, half a window at a
 * time (the specification asks for batches, not a Credit a message). */
static void echoed(struct echo *e, size_t len)
{
    size_t half = mp_client_window(e->app->client) / 2;

    e->ungranted += len + MP_CREDIT_MESSAGE_COST;
    if (e->ungranted >= half && mp_conn_grant(e->conn, e->ungranted) == MP_OK)
        e->ungranted = 0;
}

static bool backlog_add(struct echo *e, const void *data, size_t len)
{
    struct buf *b = &e->backlog;
    size_t need;

    /* What went out is dropped once it is half the buffer: the backlog
     * may never empty under steady traffic. */
    if (e->sent > 0 && e->sent >= b->len / 2) {
        memmove(b->data, b->data + e->sent, b->len - e->sent);
        b->len -= e->sent;
        e->sent = 0;
    }
    need = b->len + 4 + len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        unsigned char *p = realloc(b->data, cap);
        if (p == NULL)
            return false;
        b->data = p;
        b->cap = cap;
    }
    b->data[b->len] = (unsigned char)(len >> 24);
    b->data[b->len + 1] = (unsigned char)(len >> 16);
    b->data[b->len + 2] = (unsigned char)(len >> 8);
    b->data[b->len + 3] = (unsigned char)len;
    if (len > 0)
        memcpy(b->data + b->len + 4, data, len);
    b->len = need;
    return true;
}

/* Send what waits, in order, while the credit lasts. */
static int backlog_flush(struct echo *e)
{
    struct buf *b = &e->backlog;

    while (e->sent < b->len) {
        const unsigned char *p = b->data + e->sent;
        size_t len = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
                     ((size_t)p[2] << 8) | p[3];
        int r = mp_conn_send(e->conn, p + 4, len);
        if (r == MP_ERR_WOULD_BLOCK)
            return MP_OK; /* the drained callback goes on */
        if (r != MP_OK)
            return r;
        e->sent += 4 + len;
        echoed(e, len);
    }
    b->len = 0;
    e->sent = 0;
    return MP_OK;
}

static void echo_drained(struct mp_conn *conn, void *arg)
{
    struct echo *e = arg;
    int r = backlog_flush(e);

    if (r != MP_OK)
        fail(e->app, status_of(r), "cannot echo to %s: %s",
             mp_conn_peer(conn), mp_strerror(r));
}

bool echo_attach(struct app *a, struct mp_conn *conn)
{
    struct echo *e;

    if (!a->cfg.echo || mp_client_level(a->client) < 2)
        return true;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return false;
    e->app = a;
    e->conn = conn;
    e->next = a->echoes;
    a->echoes = e;
    mp_conn_set_manual_credit(conn, 1);
    mp_conn_on_drained(conn, echo_drained, e);
    return true;
}

int echo_message(struct app *a, struct mp_conn *conn, const void *data,
                 size_t len)
{
    struct echo *e = echo_of(a, conn);
    size_t max = a->cfg.conn_queue ? a->cfg.conn_queue : CONN_QUEUE_MAX;
    int r;

    if (e == NULL)
        return mp_conn_send(conn, data, len);
    if (e->sent == e->backlog.len) {
        r = mp_conn_send(conn, data, len);
        if (r == MP_OK)
            echoed(e, len);
        if (r != MP_ERR_WOULD_BLOCK)
            return r;
    }
    /* Waits for credit, behind what already waits. */
    if (e->backlog.len - e->sent + 4 + len > max)
        return MP_ERR_WOULD_BLOCK;
    return backlog_add(e, data, len) ? MP_OK : MP_ERR_NOMEM;
}

static void echo_free(struct echo *e)
{
    free(e->backlog.data);
    free(e);
}

void echo_detach(struct app *a, struct mp_conn *conn)
{
    for (struct echo **p = &a->echoes; *p != NULL; p = &(*p)->next) {
        if ((*p)->conn == conn) {
            struct echo *e = *p;
            *p = e->next;
            echo_free(e);
            return;
        }
    }
}

void echo_free_all(struct app *a)
{
    while (a->echoes != NULL) {
        struct echo *e = a->echoes;
        a->echoes = e->next;
        echo_free(e);
    }
}
