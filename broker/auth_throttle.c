/* auth_throttle.c - failed logins per source address (see auth_throttle.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_throttle.h"
#include "hashmap.h"

/* One source address. Entries form a list from least to most recently
 * counted, so the stale ones are at the front. */
struct source {
    char address[AUTH_SOURCE_MAX]; /* the key in `by_address` */
    size_t len;
    unsigned failures;    /* within the current window */
    time_t last_failure;
    struct source *prev, *next;
};

struct auth_throttle {
    unsigned max_failures;
    unsigned block_s;
    struct hashmap *by_address;
    struct source *oldest, *newest;
};

struct auth_throttle *auth_throttle_new(unsigned max_failures,
                                        unsigned block_s)
{
    struct auth_throttle *t = calloc(1, sizeof *t);

    if (t == NULL || (t->by_address = hashmap_new()) == NULL) {
        free(t);
        return NULL;
    }
    t->max_failures = max_failures;
    t->block_s = block_s;
    return t;
}

void auth_throttle_configure(struct auth_throttle *t, unsigned max_failures,
                             unsigned block_s)
{
    t->max_failures = max_failures;
    t->block_s = block_s;
}

static void unlink_source(struct auth_throttle *t, struct source *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        t->oldest = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        t->newest = s->prev;
    s->prev = s->next = NULL;
}

static void append_source(struct auth_throttle *t, struct source *s)
{
    s->prev = t->newest;
    if (t->newest != NULL)
        t->newest->next = s;
    else
        t->oldest = s;
    t->newest = s;
}

static void forget(struct auth_throttle *t, struct source *s)
{
    unlink_source(t, s);
    hashmap_remove(t->by_address, s->address, s->len);
    free(s);
}

void auth_throttle_free(struct auth_throttle *t)
{
    if (t == NULL)
        return;
    while (t->oldest != NULL)
        forget(t, t->oldest);
    hashmap_free(t->by_address);
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

/* The counted source of a peer; false for peers not counted. */
static bool source_of(const char *peer, char *out, size_t outlen,
                      size_t *len)
{
    if (!auth_throttle_source(peer, out, outlen))
        return false;
    *len = strlen(out);
    return true;
}

/* Drop the sources whose last failure is older than the block time. */
static void expire(struct auth_throttle *t, time_t now)
{
    while (t->oldest != NULL &&
           now - t->oldest->last_failure >= (time_t)t->block_s)
        forget(t, t->oldest);
}

static struct source *lookup(struct auth_throttle *t, const char *peer,
                             time_t now)
{
    char address[sizeof ((struct source *)0)->address];
    size_t len;

    if (t->max_failures == 0 || !source_of(peer, address, sizeof address, &len))
        return NULL;
    expire(t, now);
    return hashmap_get(t->by_address, address, len);
}

bool auth_throttle_allows(struct auth_throttle *t, const char *peer,
                          time_t now)
{
    struct source *s = lookup(t, peer, now);

    return s == NULL || s->failures < t->max_failures;
}

static struct source *add_source(struct auth_throttle *t, const char *peer)
{
    struct source *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    source_of(peer, s->address, sizeof s->address, &s->len);
    if (hashmap_count(t->by_address) >= THROTTLE_MAX_TRACKED)
        forget(t, t->oldest);
    if (hashmap_put(t->by_address, s->address, s->len, s) != 0) {
        free(s);
        return NULL;
    }
    append_source(t, s);
    return s;
}

bool auth_throttle_failed(struct auth_throttle *t, const char *peer,
                          time_t now)
{
    char address[sizeof ((struct source *)0)->address];
    size_t len;
    struct source *s;

    if (t->max_failures == 0 || !source_of(peer, address, sizeof address, &len))
        return false;
    s = lookup(t, peer, now);
    if (s == NULL && (s = add_source(t, peer)) == NULL)
        return false; /* out of memory: fail open rather than lock out */
    bool was_blocked = s->failures >= t->max_failures;

    if (!was_blocked)
        s->failures++;
    s->last_failure = now;
    unlink_source(t, s);
    append_source(t, s);
    return !was_blocked && s->failures >= t->max_failures;
}

size_t auth_throttle_tracked(const struct auth_throttle *t)
{
    return hashmap_count(t->by_address);
}
