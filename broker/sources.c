/* sources.c - sockets per source address (see sources.h). */
#define _GNU_SOURCE /* struct ucred */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hashmap.h"
#include "sources.h"

struct source_table {
    struct hashmap *by_key;
};

struct source_table *source_table_new(void)
{
    struct source_table *t = calloc(1, sizeof *t);

    if (t == NULL || (t->by_key = hashmap_new()) == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void source_table_free(struct source_table *t)
{
    struct source *src;

    if (t == NULL)
        return;
    /* Only at a teardown that skipped releases: free what is left. */
    while ((src = hashmap_any(t->by_key)) != NULL) {
        hashmap_remove(t->by_key, src->key, strlen(src->key));
        free(src);
    }
    hashmap_free(t->by_key);
    free(t);
}

/* An IPv6 address's /64: its first 8 bytes, the rest zero. */
static void ipv6_prefix_key(const struct in6_addr *addr, char *key)
{
    struct in6_addr prefix = *addr;
    char text[INET6_ADDRSTRLEN];

    memset(prefix.s6_addr + 8, 0, 8);
    inet_ntop(AF_INET6, &prefix, text, sizeof text);
    snprintf(key, SOURCE_KEY_MAX, "%s/64", text);
}

void source_key(const struct sockaddr *sa, evutil_socket_t fd, char *key)
{
    const struct sockaddr_in6 *in6;
    struct ucred cred;
    socklen_t len = sizeof cred;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, key, SOURCE_KEY_MAX);
        return;
    }
    if (sa->sa_family == AF_INET6) {
        in6 = (const struct sockaddr_in6 *)(const void *)sa;
        /* An IPv4 client of a dual-stack socket is its IPv4 address. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, key,
                      SOURCE_KEY_MAX);
        else
            ipv6_prefix_key(&in6->sin6_addr, key);
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        snprintf(key, SOURCE_KEY_MAX, "uid:%lu", (unsigned long)cred.uid);
    else
        snprintf(key, SOURCE_KEY_MAX, "unix");
}

struct source *source_find(const struct source_table *t, const char *key)
{
    return hashmap_get(t->by_key, key, strnlen(key, SOURCE_KEY_MAX - 1));
}

struct source *source_acquire(struct source_table *t, const char *key)
{
    size_t len = strnlen(key, SOURCE_KEY_MAX - 1);
    struct source *src = hashmap_get(t->by_key, key, len);

    if (src == NULL) {
        src = calloc(1, sizeof *src + len + 1);
        if (src == NULL)
            return NULL;
        memcpy(src->key, key, len);
        if (hashmap_put(t->by_key, src->key, len, src) != 0) {
            free(src);
            return NULL;
        }
    }
    src->sockets++;
    src->unauthenticated++;
    return src;
}

void source_release(struct source_table *t, struct source *src,
                    int was_unauthenticated)
{
    if (was_unauthenticated)
        src->unauthenticated--;
    if (--src->sockets > 0)
        return;
    hashmap_remove(t->by_key, src->key, strlen(src->key));
    free(src);
}

size_t source_table_count(const struct source_table *t)
{
    return hashmap_count(t->by_key);
}
