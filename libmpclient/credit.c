/*
 * credit.c - per-connection flow control at protocol level 2
 * (doc/protocol.md, "Credit: flow control per connection").
 *
 * Each connection keeps two counts, in bytes of cost (a message's length
 * plus MP_CREDIT_MESSAGE_COST):
 *   send_credit  what we may still send; a Data is admitted while it is
 *                above zero, and the peer's Credit adds to it.
 *   peer_credit  what the peer may still send us, as far as we know:
 *                the window we granted minus what arrived. It only keeps
 *                our grants below MP_CREDIT_MAX; we never police it (a
 *                level-1 sender is paced by the broker, not exactly).
 * Receiving, an automatic connection counts the cost it consumed and
 * grants it back once it reaches half its window: one Credit per half
 * window, not one per message (the specification asks for that, and at
 * 64-byte messages a Credit each would double the traffic).
 *
 * Everything here is a no-op at level 1, where conn->recv_window is 0.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "client-internal.h"

/* ------------------------------------------------------------------------
 * Numbers on the wire
 */

bool credit_parse_decimal(const void *data, size_t len, long long max,
                          long long *out)
{
    const unsigned char *p = data;
    long long v = 0;

    /* Decimal without sign or leading zeros, as the specification writes
     * every number: "0" itself only where 0 is allowed (max decides). */
    if (p == NULL || len == 0 || len > 19 || (p[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

/* Send a Credit of `bytes` on conn (the library's own message: never
 * held back by the queue's bounds). */
static int send_grant(struct mp_conn *conn, long long bytes)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", bytes);
    int rc = send_message(conn->client, NULL, MP_META_CREDIT, conn->peer,
                          conn->peer_len, conn->id, conn->id_len, text,
                          (size_t)n, true, NULL, NULL);

    if (rc == MP_OK)
        conn->peer_credit += bytes;
    return rc;
}

/* ------------------------------------------------------------------------
 * The life of a connection
 */

void credit_init(struct mp_conn *conn)
{
    const struct mp_client *c = conn->client;
    size_t want = c->receive_window > c->window ? c->receive_window
                                                : c->window;

    if (c->level < 2)
        return;
    if (want > MP_CREDIT_MAX)
        want = MP_CREDIT_MAX;
    conn->send_credit = (long long)c->window;
    conn->recv_window = want;
    conn->peer_credit = (long long)c->window;
    conn->manual_credit = c->manual_credit;
}

void credit_opened(struct mp_conn *conn)
{
    const struct mp_client *c = conn->client;

    /* The larger window of the receive_window option: the difference,
     * right after our Syn or Ack, as the specification says. */
    if (conn->recv_window > c->window)
        send_grant(conn, (long long)(conn->recv_window - c->window));
}

/* ------------------------------------------------------------------------
 * Sending
 */

int credit_admit(struct mp_conn *conn)
{
    if (conn->recv_window == 0 || conn->send_credit > 0)
        return MP_OK;
    if (!conn->send_blocked) {
        conn->send_blocked = true;
        conn->client->blocked_conns++;
    }
    return MP_ERR_WOULD_BLOCK;
}

void credit_spent(struct mp_conn *conn, size_t data_len)
{
    if (conn->recv_window > 0)
        conn->send_credit -= (long long)data_len + MP_CREDIT_MESSAGE_COST;
}

bool credit_available(const struct mp_conn *conn)
{
    return conn->recv_window == 0 || conn->send_credit > 0;
}

void credit_received(struct mp_conn *conn, const struct mp_message *msg)
{
    long long bytes;

    /* The broker checks every grant; one that is malformed, or would take
     * us past the maximum, can only come from a broker that does not:
     * ignored, and the credit held stays within its range. */
    if (conn->recv_window == 0 || !msg->has_data ||
        !credit_parse_decimal(msg->data, msg->data_len, MP_CREDIT_MAX,
                              &bytes) ||
        bytes == 0)
        return;
    conn->send_credit += bytes;
    if (conn->send_credit > MP_CREDIT_MAX)
        conn->send_credit = MP_CREDIT_MAX;
    /* A send that waited for this: its drained callback, from the loop
     * (outq.c's notify_cb, which also checks the queue's bounds). */
    if (conn->send_blocked && conn->send_credit > 0)
        event_active(conn->client->notify, EV_WRITE, 0);
}

/* ------------------------------------------------------------------------
 * Receiving
 */

long long credit_consume(struct mp_conn *conn, size_t data_len)
{
    long long cost = (long long)data_len + MP_CREDIT_MESSAGE_COST, due;

    if (conn->recv_window == 0)
        return 0;
    conn->peer_credit -= cost;
    if (conn->manual_credit)
        return 0;
    conn->consumed += cost;
    if (conn->consumed < (long long)(conn->recv_window / 2))
        return 0;
    due = conn->consumed;
    conn->consumed = 0;
    return due;
}

void credit_grant_due(struct mp_conn *conn, long long due)
{
    if (due > 0 && conn->peer_credit + due <= MP_CREDIT_MAX)
        send_grant(conn, due);
}

/* ------------------------------------------------------------------------
 * Public API
 */

long long mp_conn_credit(const struct mp_conn *conn)
{
    if (conn == NULL || conn->recv_window == 0)
        return LLONG_MAX;
    return conn->send_credit;
}

void mp_conn_set_manual_credit(struct mp_conn *conn, int manual)
{
    if (conn == NULL)
        return;
    /* What automatic mode counted and did not grant yet is the
     * application's to grant from now on. */
    conn->manual_credit = manual != 0;
    conn->consumed = 0;
}

int mp_conn_grant(struct mp_conn *conn, size_t bytes)
{
    if (conn == NULL || bytes == 0 || bytes > MP_CREDIT_MAX)
        return MP_ERR_INVALID;
    if (conn->ending)
        return MP_ERR_CLOSED;
    if (conn->recv_window == 0)
        return MP_ERR_LEVEL;
    if (conn->peer_credit + (long long)bytes > MP_CREDIT_MAX)
        return MP_ERR_INVALID;
    return send_grant(conn, (long long)bytes);
}
