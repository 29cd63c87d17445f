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

#endif
