/*
 * credit.h - per-connection credit (protocol level 2, doc/protocol.md
 * "Credit: flow control per connection").
 *
 * Each direction of each connection has a window in bytes of cost (a
 * Data message costs its data's length plus MP_CREDIT_MESSAGE_COST). The
 * broker counts, for each direction, the credit its sender still holds:
 * it starts at the window, each Data spends its cost, each grant of the
 * receiver adds to it. What that means depends on the ends:
 *
 *  - a level-2 client sending holds its own count: Data sent while its
 *    credit is not above zero is refused (the router answers WAT);
 *  - a level-1 client sending cannot see credit: it stops being read
 *    while it holds none on a connection (flow_credit_stall), the one
 *    case of head-of-line blocking left;
 *  - a level-2 client receiving grants with Credit messages, a remote
 *    (a client of another broker) with its broker's CREDIT frames;
 *  - for a level-1 client receiving, the broker grants as it queues the
 *    client's messages, by half windows; its senders are held back by
 *    socket-level backpressure instead (flow.h), as at level 1.
 *
 * A grant reaches the sender through its endpoint's credit operation
 * (endpoint.h). The state lives in struct conn (conn_table.h).
 */
#ifndef MP_BROKER_CREDIT_H
#define MP_BROKER_CREDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct endpoint;

/* What a Data message with `data_len` bytes of data costs. */
uint64_t credit_cost(size_t data_len);

/* A new connection: both directions start with `window`. */
void credit_open(struct conn *conn, uint32_t window);

/* Does `sender`, an end of `conn`, hold credit to send on it? */
bool credit_available(const struct conn *conn, const struct endpoint *sender);

/* A Data message of `data_len` bytes went from `sender` to `receiver` on
 * `conn`: spend its cost; stall a level-1 sender left without credit;
 * grant for a level-1 receiver (by half windows). */
void credit_spend(struct conn *conn, struct endpoint *sender,
                  struct endpoint *receiver, size_t data_len);

/* `receiver` grants `bytes` to the other end of `conn`, which is told
 * (its credit operation) and, if a stalled level-1 client, read again.
 * Returns false, changing nothing, when the credit would pass
 * MP_CREDIT_MAX (a level-2 client's grant: the router answers WAT). */
bool credit_grant(struct conn *conn, struct endpoint *receiver,
                  uint64_t bytes);

/* Read a Credit message's data: decimal ASCII without sign or leading
 * zero, 1 to MP_CREDIT_MAX. Returns false for anything else. */
bool credit_parse(const unsigned char *data, size_t len, uint32_t *bytes);

/* `conn` leaves the table (conn_table_new's on_remove): a level-1
 * sender it stalled is read again. */
void credit_forget(struct conn *conn);

#endif
