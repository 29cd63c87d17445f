/*
 * auth_throttle.h - failed logins, counted per source address.
 *
 * After `max_failures` refused logins from one address within `block_s`
 * seconds, further logins from that address are refused at once, without
 * asking any authenticator, until `block_s` seconds have passed since the
 * last counted failure. This turns online password guessing from
 * thousands of tries a second into `max_failures` a minute per address
 * (the idea of OpenSSH's PerSourcePenalties and fail2ban, built in).
 *
 * The source is the peer's IP address without its port; Unix socket
 * peers are not counted (file permissions decide who reaches them). At
 * most THROTTLE_MAX_TRACKED addresses are remembered; past that, the one
 * seen least recently is forgotten, so the table's memory is bounded.
 *
 * Ownership: the broker owns the throttle; it copies every address.
 */
#ifndef MP_BROKER_AUTH_THROTTLE_H
#define MP_BROKER_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define THROTTLE_MAX_TRACKED 65536

struct auth_throttle;

/* max_failures 0 turns the throttle off (every call allows). NULL when
 * out of memory. */
struct auth_throttle *auth_throttle_new(unsigned max_failures,
                                        unsigned block_s);
void auth_throttle_free(struct auth_throttle *t);

/* New limits (a reload); the addresses counted so far are kept. */
void auth_throttle_configure(struct auth_throttle *t, unsigned max_failures,
                             unsigned block_s);

/* May `peer` ("192.0.2.1:4242", "[::1]:4242", "unix") try to log in now? */
bool auth_throttle_allows(struct auth_throttle *t, const char *peer,
                          time_t now);

/* A login from `peer` was refused. Returns true when this failure starts
 * a block (for the log). */
bool auth_throttle_failed(struct auth_throttle *t, const char *peer,
                          time_t now);

/* Addresses remembered now (for tests and metrics). */
size_t auth_throttle_tracked(const struct auth_throttle *t);

#endif
