/*
 * sources.h - the sockets of each source address, for the per-address
 * limits (limits.max_clients_per_address and
 * limits.max_unauthenticated_per_address).
 *
 * A source is where a socket comes from, grouped as an attacker's
 * addresses are, and as the login throttle counts them (its
 * auth_throttle_source() makes the keys): an IPv4 address; an IPv6 /64
 * (the smallest prefix a site is given, so one host can rotate through
 * 2^64 addresses); the user id of a Unix socket peer (SO_PEERCRED). A
 * source lives while
 * sockets of it do, so the table holds no more entries than sockets.
 *
 * Ownership: the broker owns the table; the table owns its sources. A
 * session holds one reference to its source from source_acquire() until
 * source_release().
 */
#ifndef MP_BROKER_SOURCES_H
#define MP_BROKER_SOURCES_H

#include <stddef.h>

struct source_table;

struct source {
    unsigned sockets;         /* sessions from this source */
    unsigned unauthenticated; /* ... not logged in yet */
    char key[];               /* "192.0.2.7", "2001:db8:1:2::/64", "uid:1000" */
};

/* Longest key, with its NUL (keys are made by auth_throttle_source(),
 * whose AUTH_SOURCE_MAX this is). */
#define SOURCE_KEY_MAX 64

struct source_table *source_table_new(void);
/* Every source must have been released. */
void source_table_free(struct source_table *table);

/* The source named `key`, or NULL if it has no socket now. */
struct source *source_find(const struct source_table *table, const char *key);

/* The source named `key`, made if new, with one more socket counted (an
 * unauthenticated one). Aborts when memory is exhausted (xalloc.h). */
struct source *source_acquire(struct source_table *table, const char *key);

/* One socket of `src` is gone (was_unauthenticated: it had not logged in);
 * the source is freed with its last socket. */
void source_release(struct source_table *table, struct source *src,
                    int was_unauthenticated);

/* Sources known now (for tests). */
size_t source_table_count(const struct source_table *table);

#endif
