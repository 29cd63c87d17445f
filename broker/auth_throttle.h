/*
 * auth_throttle.h - failed logins, counted per source address and per
 * (source, name) pair.
 *
 * Two counters, each with its own ceiling, within the same window:
 *   - per (source, name): after `per_name_max` refused logins for one
 *     name from one source, that name is refused from that source at
 *     once, without asking any authenticator. One user's typos lock out
 *     that user from that host, not everyone behind the host's address
 *     (a NAT, a shared build machine, every loopback client);
 *   - per source: after `per_source_max` refused logins from one source,
 *     whatever the names, every login from it is refused at once. A
 *     guesser spreading guesses over many names is stopped by this one.
 * A block lasts until `block_s` seconds have passed since the last
 * counted failure. This turns online password guessing from thousands of
 * tries a second into a few a minute per source (the idea of OpenSSH's
 * PerSourcePenalties and fail2ban, built in). Logins refused because of
 * a block are not counted again: the block ends on time.
 *
 * The source is the peer's IPv4 address without its port, the /64 of an
 * IPv6 address (a host that owns a /64 could otherwise rotate through it),
 * or the uid of a Unix socket peer (from SO_PEERCRED: users of one
 * machine are told apart, and one user's guesses cannot lock out another;
 * a Unix peer whose uid is unknown is not counted). Peers in an exempt
 * range (as OpenSSH's PerSourcePenaltyExemptList) are neither counted nor
 * blocked. At most THROTTLE_MAX_TRACKED sources and as many pairs are
 * remembered; past that, the one seen least recently is forgotten, so the
 * memory is bounded.
 *
 * Ownership: the broker owns the throttle; it copies every address, name
 * and exempt range.
 */
#ifndef MP_BROKER_AUTH_THROTTLE_H
#define MP_BROKER_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cidr.h"

#define THROTTLE_MAX_TRACKED 65536

/* Room for any source key, NUL included ("ffff:...:ffff::/64"). */
#define AUTH_SOURCE_MAX 64

struct auth_throttle;

struct auth_throttle_limits {
    unsigned per_source_max; /* limits.auth_failures_max; 0: not counted */
    unsigned per_name_max;   /* limits.auth_failures_per_name_max; 0: ditto */
    unsigned block_s;        /* limits.auth_block_s */
    const struct cidr *exempt; /* limits.auth_throttle_exempt (copied) */
    size_t n_exempt;
};

/* What blocks a login, or which block a failure started. */
enum auth_block {
    AUTH_BLOCK_NONE,
    AUTH_BLOCK_NAME,   /* this name from this source */
    AUTH_BLOCK_SOURCE, /* every name from this source */
};

/* Like every table of the broker, aborts when memory is exhausted
 * (xalloc.h): a failure not counted would let a guesser through. */
struct auth_throttle *auth_throttle_new(const struct auth_throttle_limits *l);
void auth_throttle_free(struct auth_throttle *t);

/* New limits (a reload); the failures counted so far are kept, and judged
 * by the new ceilings. */
void auth_throttle_configure(struct auth_throttle *t,
                             const struct auth_throttle_limits *l);

/*
 * The source a peer label counts under: "192.0.2.1" for "192.0.2.1:4242",
 * "2001:db8:1:2::/64" for "[2001:db8:1:2::7]:4242", "uid:1000" for
 * "unix(uid=1000)". Returns true for those, false (out holding the label
 * itself) for a peer that is not counted, such as "unix".
 */
bool auth_throttle_source(const char *peer, char *out, size_t outlen);

/* May `peer` ("192.0.2.1:4242", "[::1]:4242", "unix(uid=1000)") try to
 * log in as `name` now? AUTH_BLOCK_NONE if so, else what blocks it. */
enum auth_block auth_throttle_check(struct auth_throttle *t,
                                    const char *peer, const char *name,
                                    time_t now);

/* A login from `peer` as `name` was refused. Returns the block this
 * failure starts, if any (for the log): AUTH_BLOCK_SOURCE when it starts
 * both. */
enum auth_block auth_throttle_failed(struct auth_throttle *t,
                                     const char *peer, const char *name,
                                     time_t now);

/* Is the peer in an exempt range? */
bool auth_throttle_exempt(const struct auth_throttle *t, const char *peer);

/* Sources and (source, name) pairs remembered now (tests, metrics). */
size_t auth_throttle_tracked(const struct auth_throttle *t);
size_t auth_throttle_tracked_names(const struct auth_throttle *t);

#endif
