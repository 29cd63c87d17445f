/*
 * auth_chain.h - run a login through the configured authenticators, in
 * config order: ALLOW or DENY ends the chain, DEFER asks the next one, all
 * deferring means denied; PENDING waits for host->auth_done().
 *
 * The verdict reaches the session through session_auth_finished(), either
 * before auth_chain_start() returns or later from the event loop.
 */
#ifndef MP_BROKER_AUTH_CHAIN_H
#define MP_BROKER_AUTH_CHAIN_H

#include <mp/plugin.h>

#include "plugin_loader.h"

struct event_base;
struct session;

/* Start authenticating s (whose name is set) with `secret`, which is
 * copied (and wiped when done). */
void auth_chain_start(struct session *s, const unsigned char *secret,
                      size_t secret_len);

/* The client left while a plugin was deciding: tell the plugin to forget
 * the ticket. No-op when nothing is pending. */
void auth_chain_cancel(struct session *s);

/* Reloads: cancel s's pending login at the old authenticators and hand
 * back a malloc'd copy of its secret (*secret NULL when none was given),
 * so that auth_chain_start() can ask the new chain. Returns -1 if out of
 * memory (the login is then refused). */
int auth_chain_suspend(struct session *s, unsigned char **secret,
                       size_t *secret_len);

/* host->auth_done (see mp/plugin.h). */
void auth_chain_done(struct mp_auth_ticket *ticket,
                     enum mp_auth_result result, const char *reason);

/* host->run_blocking (see mp/plugin.h): queue work for the broker's work
 * pool, fairly per source of the ticket's client (auth_throttle_source). */
int auth_chain_run_blocking(struct mp_auth_ticket *ticket,
                            void (*work)(void *arg),
                            void (*done)(void *arg, int cancelled), void *arg);

/* The services a broker lends its plugins (for plugins_load()): timers on
 * `base`, and the two host functions above, so that logins a plugin
 * answers come back to this chain. */
struct plugin_services auth_chain_services(struct event_base *base);

#endif
