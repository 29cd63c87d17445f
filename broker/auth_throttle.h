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
 * The source is the peer's IPv4 address without its port, the /64 of an
 * IPv6 address (a host that owns a /64 could otherwise rotate through it),
 * or the uid of a Unix socket peer (from SO_PEERCRED: users of one
 * machine are told apart, and one user's guesses cannot lock out another;
 * a Unix peer whose uid is unknown is not counted). At
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

/* Room for any source key, NUL included ("ffff:...:ffff::/64"). */
#define AUTH_SOURCE_MAX 64

struct auth_throttle;

/* max_failures 0 turns the throttle off (every call allows). NULL when
 * out of memory. */
struct auth_throttle *auth_throttle_new(unsigned max_failures,
                                        unsigned block_s);
void auth_throttle_free(struct auth_throttle *t);

/* New limits (a reload); the addresses counted so far are kept. */
void auth_throttle_configure(struct auth_throttle *t, unsigned max_failures,
                             unsigned block_s);

/*
 * The source a peer label counts under: "192.0.2.1" for "192.0.2.1:4242",
 * "2001:db8:1:2::/64" for "[2001:db8:1:2::7]:4242", "uid:1000" for
 * "unix(uid=1000)". Returns true for those, false (out holding the label
 * itself) for a peer that is not counted, such as "unix".
 */
bool auth_throttle_source(const char *peer, char *out, size_t outlen);

/* May `peer` ("192.0.2.1:4242", "[::1]:4242", "unix(uid=1000)") try to
 * log in now? */
bool auth_throttle_allows(struct auth_throttle *t, const char *peer,
                          time_t now);

/* A login from `peer` was refused. Returns true when this failure starts
 * a block (for the log). */
bool auth_throttle_failed(struct auth_throttle *t, const char *peer,
                          time_t now);

/* Addresses remembered now (for tests and metrics). */
size_t auth_throttle_tracked(const struct auth_throttle *t);

#endif
