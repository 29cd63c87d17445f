/*
 * notices.c - what a level-2 broker says about the session itself:
 * Replaced (the name logged in again elsewhere; the broker closes us
 * next) and GoingAway (the broker is shutting down and closes us within
 * a delay). Level 1 never sees either: the socket just closes, which
 * reads as MP_ERR_BROKER_GONE.
 */
#include "config.h"

#include <stdio.h>

#include "client-internal.h"

/*
 * The session is over: the broker closes the socket right after this.
 * End it now, with the reason, rather than wait for the close: nothing
 * the broker would still send (or take from us) counts any more.
 */
void notice_replaced(struct mp_client *c, struct mp_message *msg)
{
    char why[MP_NAME_MAX + 1], reason[MP_REASON_MAX];

    client_printable(why, sizeof why, msg);
    snprintf(reason, sizeof reason,
             "the broker closed this session: %s logged in again "
             "elsewhere (%s)",
             c->name, why[0] != '\0' ? why : "replaced");
    client_connection_failed(c, MP_ERR_REPLACED, reason);
}

/*
 * The broker closes within data milliseconds and serves us meanwhile.
 * The application hears of it at once (going_away_cb) and decides; the
 * close itself then reads as MP_ERR_GOING_AWAY, with the delay.
 */
void notice_going_away(struct mp_client *c, struct mp_message *msg)
{
    long long ms = 0;

    /* A malformed delay still announces the shutdown: "soon" (0). */
    if (!msg->has_data ||
        !credit_parse_decimal(msg->data, msg->data_len, 86400000, &ms))
        ms = 0;
    c->notice_status = MP_ERR_GOING_AWAY;
    snprintf(c->lost_reason, sizeof c->lost_reason,
             "the broker is shutting down (GoingAway: it closes the "
             "socket within %lld ms)", ms);
    if (c->going_away_cb != NULL)
        c->going_away_cb(c, (unsigned)ms, c->going_away_arg);
}
