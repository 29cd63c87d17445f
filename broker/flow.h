/*
 * flow.h - backpressure between endpoints.
 *
 * When a recipient's queued output passes output_high_water, the endpoint
 * whose message put it there stops being read (flow_pause); when the
 * recipient's output drains below output_low_water, every endpoint it
 * paused is read again (flow_resume_senders). A recipient whose output
 * passes output_hard_limit anyway (many senders, broker notices) is
 * disconnected as too slow by its owner (session.c). So no queue grows
 * without bound, and a sender is never dropped for going faster than a
 * reader.
 *
 * The pauses are a many-to-many relation kept on both sides: each
 * endpoint lists the senders it paused and the recipients that hold it.
 * An endpoint is read again once no recipient holds it. Reading is
 * switched through the endpoint's set_reading operation.
 *
 * A level-1 client also stops being read while it holds no credit on one
 * of its connections (protocol level 2's per-connection credit, credit.h,
 * which it cannot see): flow_credit_stall() counts such connections,
 * flow_credit_unstall() uncounts one, and it is read only when neither a
 * recipient nor a connection holds it.
 *
 * Ownership: the lists are the endpoint's; flow_release() empties and
 * frees them, and must run before the endpoint is freed.
 */
#ifndef MP_BROKER_FLOW_H
#define MP_BROKER_FLOW_H

#include <stdbool.h>
#include <stddef.h>

struct endpoint;

/* A small set of endpoints (a few at most in practice). */
struct endpoint_set {
    struct endpoint **items;
    size_t count, cap;
};

struct flow {
    struct endpoint_set paused;   /* senders this endpoint's queue paused */
    struct endpoint_set blockers; /* recipients that hold this one paused */
    size_t credit_stalls;         /* its connections it holds no credit on */
};

/* `recipient`'s queue passed its high water mark with a message from
 * `sender`: stop reading `sender` until it drains. A closing sender, or
 * one already held by `recipient`, is left as it is. */
void flow_pause(struct endpoint *sender, struct endpoint *recipient);

/* `recipient` drained (or is going away): the senders it held are read
 * again unless another recipient still holds them. */
void flow_resume_senders(struct endpoint *recipient);

/* `sender`, a level-1 client, ran out of credit on one more connection:
 * stop reading it until flow_credit_unstall() for each. */
void flow_credit_stall(struct endpoint *sender);

/* A connection that stalled `sender` got credit again, or ended. */
void flow_credit_unstall(struct endpoint *sender);

/* Is `ep` held paused by any recipient or connection? */
bool flow_is_paused(const struct endpoint *ep);

/* Forget every pause `ep` is part of, on both sides (it is going away). */
void flow_release(struct endpoint *ep);

#endif
