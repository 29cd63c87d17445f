/* credit.c - per-connection credit (see credit.h). */
#include "config.h"

#include <mp/protocol.h>

#include "conn_table.h"
#include "credit.h"
#include "endpoint.h"
#include "flow.h"

uint64_t credit_cost(size_t data_len)
{
    return (uint64_t)data_len + MP_CREDIT_MESSAGE_COST;
}

void credit_open(struct conn *conn, uint32_t window)
{
    conn->window = window;
    for (int i = 0; i < 2; i++)
        conn->dir[i] = (struct conn_direction){.credit = window};
}

/* The direction of `conn` in which `sender` sends. (A connection to self
 * has one end in both roles: it uses direction 0 only.) */
static int sending(const struct conn *conn, const struct endpoint *sender)
{
    return conn->initiator == &sender->conns ? 0 : 1;
}

/* The direction in which `receiver` receives. */
static int receiving(const struct conn *conn, const struct endpoint *receiver)
{
    return conn->target == &receiver->conns ? 0 : 1;
}

static struct endpoint *sender_of(const struct conn *conn, int direction)
{
    return endpoint_of_peer(direction == 0 ? conn->initiator : conn->target);
}

bool credit_available(const struct conn *conn, const struct endpoint *sender)
{
    return conn->dir[sending(conn, sender)].credit > 0;
}

static bool grant_direction(struct conn *conn, int direction,
                            const struct endpoint *receiver, uint64_t bytes)
{
    struct conn_direction *d = &conn->dir[direction];
    struct endpoint *sender = sender_of(conn, direction);

    if (bytes > (uint64_t)MP_CREDIT_MAX ||
        d->credit + (int64_t)bytes > MP_CREDIT_MAX)
        return false;
    d->credit += (int64_t)bytes;
    if (d->stalled && d->credit > 0) {
        d->stalled = false;
        flow_credit_unstall(sender);
    }
    if (sender->ops->credit != NULL)
        sender->ops->credit(sender, conn, receiver, bytes);
    return true;
}

bool credit_grant(struct conn *conn, struct endpoint *receiver,
                  uint64_t bytes)
{
    return grant_direction(conn, receiving(conn, receiver), receiver, bytes);
}

/* A level-1 client sends no Credit: what it was given counts as
 * consumed once queued for it (its senders are held back by its queue's
 * high water mark instead), granted by half windows so that a sender is
 * not sent a Credit per message. */
static void grant_for_level1(struct conn *conn, int direction,
                             const struct endpoint *receiver, uint64_t cost)
{
    struct conn_direction *d = &conn->dir[direction];
    uint64_t half = conn->window / 2 ? conn->window / 2 : 1;

    d->owed += cost;
    if (d->owed < half)
        return;
    /* Never more than was spent: the credit stays at most the window. */
    while (d->owed > 0) {
        uint64_t n = d->owed > MP_CREDIT_MAX ? MP_CREDIT_MAX : d->owed;
        d->owed -= n;
        if (!grant_direction(conn, direction, receiver, n))
            break;
    }
    d->owed = 0;
}

void credit_spend(struct conn *conn, struct endpoint *sender,
                  struct endpoint *receiver, size_t data_len)
{
    int direction = sending(conn, sender);
    struct conn_direction *d = &conn->dir[direction];
    uint64_t cost = credit_cost(data_len);

    d->credit -= cost > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2
                                                : (int64_t)cost;
    if (receiver->is_client && receiver->level < 2)
        grant_for_level1(conn, direction, receiver, cost);
    if (d->credit <= 0 && !d->stalled && sender->is_client &&
        sender->level < 2) {
        d->stalled = true;
        flow_credit_stall(sender);
    }
}

bool credit_parse(const unsigned char *data, size_t len, uint32_t *bytes)
{
    uint64_t n = 0;

    /* 2147483647 has ten digits. */
    if (data == NULL || len == 0 || len > 10 || data[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (data[i] < '0' || data[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(data[i] - '0');
    }
    if (n > MP_CREDIT_MAX)
        return false;
    *bytes = (uint32_t)n;
    return true;
}

void credit_forget(struct conn *conn)
{
    for (int i = 0; i < 2; i++) {
        if (conn->dir[i].stalled) {
            conn->dir[i].stalled = false;
            flow_credit_unstall(sender_of(conn, i));
        }
    }
}
