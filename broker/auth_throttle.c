/* auth_throttle.c - failed logins per source and per (source, name)
 * (see auth_throttle.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "auth_throttle.h"
#include "xalloc.h"
#include "hashmap.h"

/* One source, or one (source, name) pair. Entries of a table form a list
 * from least to most recently counted, so the stale ones are at the
 * front. */
struct entry {
    unsigned failures;    /* within the current window */
    time_t last_failure;
    TAILQ_ENTRY(entry) age; /* table.by_age */
    size_t len;
    char key[];           /* the source, or the source, NUL, the name */
};

TAILQ_HEAD(entries, entry);

struct table {
    struct hashmap *map;    /* key -> entry */
    struct entries by_age;  /* oldest last failure first */
};

struct auth_throttle {
    unsigned per_source_max;
    unsigned per_name_max;
    unsigned block_s;
    struct cidr *exempt;  /* owned */
    size_t n_exempt;
    struct table sources;
    struct table pairs;
};

/* ------------------------------------------------------------------------
 * A table of counters, bounded and expiring
 */

static void forget(struct table *tb, struct entry *e)
{
    TAILQ_REMOVE(&tb->by_age, e, age);
    hashmap_remove(tb->map, e->key, e->len);
    free(e);
}

static void table_clear(struct table *tb)
{
    while (!TAILQ_EMPTY(&tb->by_age))
        forget(tb, TAILQ_FIRST(&tb->by_age));
    hashmap_free(tb->map);
    tb->map = NULL;
}

/* Drop the entries whose last failure is older than the block time. */
static void expire(struct table *tb, unsigned block_s, time_t now)
{
    struct entry *oldest;

    while ((oldest = TAILQ_FIRST(&tb->by_age)) != NULL &&
           now - oldest->last_failure >= (time_t)block_s)
        forget(tb, oldest);
}

static struct entry *add_entry(struct table *tb, const char *key, size_t len)
{
    struct entry *e = mp_xcalloc(1, sizeof *e + len);

    memcpy(e->key, key, len);
    e->len = len;
    if (hashmap_count(tb->map) >= THROTTLE_MAX_TRACKED)
        forget(tb, TAILQ_FIRST(&tb->by_age));
    mp_xhashmap_put(tb->map, e->key, e->len, e);
    TAILQ_INSERT_TAIL(&tb->by_age, e, age);
    return e;
}

/* Is the counter under key at max (max 0: never)? */
static bool at_max(const struct table *tb, const char *key, size_t len,
                   unsigned max)
{
    const struct entry *e;

    if (max == 0)
        return false;
    e = hashmap_get(tb->map, key, len);
    return e != NULL && e->failures >= max;
}

/* Count a failure under key; true when it reaches max (a new block). */
static bool count(struct table *tb, const char *key, size_t len,
                  unsigned max, time_t now)
{
    struct entry *e;
    bool was_blocked;

    if (max == 0)
        return false;
    e = hashmap_get(tb->map, key, len);
    if (e == NULL)
        e = add_entry(tb, key, len);
    was_blocked = e->failures >= max;
    if (!was_blocked)
        e->failures++;
    e->last_failure = now;
    TAILQ_REMOVE(&tb->by_age, e, age);
    TAILQ_INSERT_TAIL(&tb->by_age, e, age);
    return !was_blocked && e->failures >= max;
}

/* ------------------------------------------------------------------------
 * The throttle
 */

struct auth_throttle *auth_throttle_new(const struct auth_throttle_limits *l)
{
    struct auth_throttle *t = mp_xcalloc(1, sizeof *t);

    t->sources.map = mp_xhashmap_new();
    t->pairs.map = mp_xhashmap_new();
    TAILQ_INIT(&t->sources.by_age);
    TAILQ_INIT(&t->pairs.by_age);
    auth_throttle_configure(t, l);
    return t;
}

void auth_throttle_configure(struct auth_throttle *t,
                             const struct auth_throttle_limits *l)
{
    struct cidr *exempt = NULL;

    if (l->n_exempt > 0) {
        exempt = mp_xcalloc(l->n_exempt, sizeof *exempt);
        memcpy(exempt, l->exempt, l->n_exempt * sizeof *exempt);
    }
    free(t->exempt);
    t->exempt = exempt;
    t->n_exempt = l->n_exempt;
    t->per_source_max = l->per_source_max;
    t->per_name_max = l->per_name_max;
    t->block_s = l->block_s;
}

void auth_throttle_free(struct auth_throttle *t)
{
    if (t == NULL)
        return;
    if (t->sources.map != NULL)
        table_clear(&t->sources);
    if (t->pairs.map != NULL)
        table_clear(&t->pairs);
    free(t->exempt);
    free(t);
}

/* "2001:db8:1:2::/64" for an IPv6 address: one host usually gets a whole
 * /64 (SLAAC, privacy addresses), so it could rotate through 2^64
 * addresses; an IPv4-mapped address is the IPv4 address. */
static bool ipv6_source(const char *text, size_t len, char *out,
                        size_t outlen)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a;

    if (len >= sizeof buf)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a))
        return inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)outlen) !=
               NULL;
    memset(&a.s6_addr[8], 0, 8);
    if (inet_ntop(AF_INET6, &a, buf, sizeof buf) == NULL)
        return false;
    return (size_t)snprintf(out, outlen, "%s/64", buf) < outlen;
}

bool auth_throttle_source(const char *peer, char *out, size_t outlen)
{
    const char *colon = strrchr(peer, ':');
    unsigned long uid;
    char *end;
    size_t n;

    if (strncmp(peer, "unix(uid=", 9) == 0) {
        uid = strtoul(peer + 9, &end, 10);
        if (end != peer + 9 && strcmp(end, ")") == 0 &&
            (size_t)snprintf(out, outlen, "uid:%lu", uid) < outlen)
            return true;
    } else if (peer[0] == '[' && colon != NULL && colon > peer + 1 &&
               colon[-1] == ']') {
        if (ipv6_source(peer + 1, (size_t)(colon - peer) - 2, out, outlen))
            return true;
    } else if (colon != NULL) {
        n = (size_t)(colon - peer);
        if (n > 0 && n < outlen) {
            memcpy(out, peer, n);
            out[n] = '\0';
            return true;
        }
    }
    snprintf(out, outlen, "%s", peer);
    return false;
}

bool auth_throttle_exempt(const struct auth_throttle *t, const char *peer)
{
    return cidr_list_has_peer(t->exempt, t->n_exempt, peer);
}

/* The keys a login is counted under: the source, and source NUL name
 * (names hold no NUL). False for peers that are not counted. */
struct keys {
    char pair[AUTH_SOURCE_MAX + 256];
    size_t source_len, pair_len;
};

static bool keys_of(const struct auth_throttle *t, const char *peer,
                    const char *name, struct keys *k)
{
    size_t name_len = strnlen(name, 255);

    if ((t->per_source_max == 0 && t->per_name_max == 0) ||
        !auth_throttle_source(peer, k->pair, AUTH_SOURCE_MAX) ||
        auth_throttle_exempt(t, peer))
        return false;
    k->source_len = strlen(k->pair);
    memcpy(k->pair + k->source_len + 1, name, name_len);
    k->pair_len = k->source_len + 1 + name_len;
    return true;
}

static void expire_all(struct auth_throttle *t, time_t now)
{
    expire(&t->sources, t->block_s, now);
    expire(&t->pairs, t->block_s, now);
}

enum auth_block auth_throttle_check(struct auth_throttle *t,
                                    const char *peer, const char *name,
                                    time_t now)
{
    struct keys k;

    if (!keys_of(t, peer, name, &k))
        return AUTH_BLOCK_NONE;
    expire_all(t, now);
    if (at_max(&t->sources, k.pair, k.source_len, t->per_source_max))
        return AUTH_BLOCK_SOURCE;
    if (at_max(&t->pairs, k.pair, k.pair_len, t->per_name_max))
        return AUTH_BLOCK_NAME;
    return AUTH_BLOCK_NONE;
}

enum auth_block auth_throttle_failed(struct auth_throttle *t,
                                     const char *peer, const char *name,
                                     time_t now)
{
    struct keys k;
    bool source_blocked, name_blocked;

    if (!keys_of(t, peer, name, &k))
        return AUTH_BLOCK_NONE;
    expire_all(t, now);
    source_blocked = count(&t->sources, k.pair, k.source_len,
                           t->per_source_max, now);
    name_blocked = count(&t->pairs, k.pair, k.pair_len, t->per_name_max,
                         now);
    return source_blocked ? AUTH_BLOCK_SOURCE
           : name_blocked ? AUTH_BLOCK_NAME
                          : AUTH_BLOCK_NONE;
}

size_t auth_throttle_tracked(const struct auth_throttle *t)
{
    return hashmap_count(t->sources.map);
}

size_t auth_throttle_tracked_names(const struct auth_throttle *t)
{
    return hashmap_count(t->pairs.map);
}
