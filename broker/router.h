/*
 * router.h - names and connections: who owns which name, and which
 * messages may travel between which clients (doc/protocol.md,
 * "Broker behaviour").
 */
#ifndef MP_BROKER_ROUTER_H
#define MP_BROKER_ROUTER_H

#include <stdbool.h>

#include <mp/protocol.h>

struct session;

/* Give s its name. With duplicate_names = "replace" an older session of
 * that name is closed; with "reject" this fails. Returns 0, or -1 with
 * *reason set to a static text for the client. */
int router_register(struct session *s, const char **reason);

/* Take s's name and connections away. With `notify`, every distinct peer
 * that shared a connection with s gets one ClientClosed. */
void router_unregister(struct session *s, bool notify);

/* Route one message from a READY client. `msg` may be modified. */
void router_handle(struct session *from, struct mp_message *msg);

/*
 * The fast lane: a Data message whose data is still in its wire form
 * wire[0..wire_len) (the sender's translator's decode_wire()). When it
 * is on an open connection to a client of the same translator, it is
 * delivered as router_handle() would, the data passed on as it came, and
 * true is returned. Otherwise nothing is done and false is returned: the
 * caller decodes the message in full and calls router_handle(), which
 * also answers whatever is wrong with it.
 */
bool router_forward_wire(struct session *from, struct mp_message *msg,
                         const unsigned char *wire, size_t wire_len);

#endif
