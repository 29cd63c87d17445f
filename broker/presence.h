/*
 * presence.h - protocol level 2's presence (doc/protocol.md, "Presence"):
 * Watch and Unwatch a name or a prefix, Presence notices when a watched
 * name logs in or out here, List of the names online under a prefix.
 *
 * What a client may learn is asked of the authorization plugins
 * (plugins_authorize_see) for each name, at the time it is told. Changes
 * are held for limits.presence_coalesce_ms: a name is reported only if
 * its state at the end differs from its state at the start, so a name
 * that flaps (a reconnect, a replacing login) costs its watchers
 * nothing. Once muted (shutdown) nothing more is sent. Names on other
 * brokers of a cluster are not covered.
 *
 * Ownership: the broker owns the one struct presence (presence_new, at
 * start; presence_free, at exit). Watches belong to their watcher and go
 * with it (presence_forget_watcher, from router_unregister).
 */
#ifndef MP_BROKER_PRESENCE_H
#define MP_BROKER_PRESENCE_H

#include <stddef.h>

struct broker;
struct endpoint;
struct mp_message;
struct presence;

struct presence *presence_new(struct broker *b);
void presence_free(struct presence *p);

/* `name` logged in or out here (router.c). */
void presence_changed(struct presence *p, const char *name, size_t len);

/* A Watch, Unwatch or List from a level-2 client (router.c): answered,
 * or WAT for a bad one. */
void presence_request(struct endpoint *from, const struct mp_message *msg);

/* `ep` is going: its watches end. */
void presence_forget_watcher(struct presence *p, struct endpoint *ep);

/* The broker is shutting down: no more notices (its clients are told
 * GoingAway instead). */
void presence_mute(struct presence *p);

#endif
