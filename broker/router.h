/*
 * router.h - names and connections: who owns which name, and which
 * messages may travel between which endpoints (doc/protocol.md,
 * "Broker behaviour"; doc/hacking.md, "The message path").
 *
 * The router sees endpoints only (endpoint.h), never sockets: every send
 * goes through the recipient's deliver operation and names the endpoint
 * whose message it is, the one backpressure pauses.
 */
#ifndef MP_BROKER_ROUTER_H
#define MP_BROKER_ROUTER_H

#include <stdbool.h>

#include <mp/protocol.h>

struct endpoint;
struct wire_data;

/* Give ep its name (ep->name). With duplicate_names = "replace" an older
 * endpoint of that name is closed; with "reject" this fails. Returns 0,
 * or -1 with *reason set to a static text for the client. */
int router_register(struct endpoint *ep, const char **reason);

/* Take ep's name and connections away. With `notify`, every distinct
 * peer that shared a connection with ep gets one ClientClosed. In a
 * cluster, the name is released in the registry. */
void router_unregister(struct endpoint *ep, bool notify);

/* Answer `msg` from `from` with WAT and the reason `why` (logged,
 * rate-limited), and count it against limits.bad_messages_max. */
void router_answer_wat(struct endpoint *from, const struct mp_message *msg,
                       const char *why);

/* Close `old`, whose name logged in again (here, or on another broker
 * of the cluster): a level-2 client is sent Replaced with `reason`
 * first. */
void router_replace(struct endpoint *old, const char *reason);

/* Take ep's connections away (as router_unregister, for an endpoint
 * whose name is not in the name table: a client of another broker). */
void router_forget_connections(struct endpoint *ep, bool notify);

enum route_result {
    ROUTED,           /* delivered, bounced, refused or answered */
    ROUTE_NEEDS_DATA, /* nothing done: decode the message in full (its
                         format cannot decode wire data alone) and route
                         it again without `wire` */
};

/*
 * Route one message from a logged-in endpoint: the connection rules are
 * applied once, and the message is delivered, bounced, refused or
 * answered with a WAT. `msg` may be modified.
 *
 * With `wire` (the fast lane: a message read by the sender's translator's
 * decode_wire(), msg->data NULL), its data is wire->bytes in the
 * sender's own form: it passes on as it came to an endpoint of the same
 * format, and is decoded once for any other.
 */
enum route_result route(struct endpoint *from, struct mp_message *msg,
                        const struct wire_data *wire);

#endif
