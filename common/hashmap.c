/* hashmap.c - string-keyed hash table (see hashmap.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hashmap.h"

struct entry {
    struct entry *next;
    const char *key;
    size_t len;
    uint64_t hash;
    void *value;
};

struct hashmap {
    struct entry **buckets;
    size_t mask;  /* bucket count - 1 */
    size_t count;
};

enum { INITIAL_BUCKETS = 64 };

static uint64_t sip_key[2];
static int sip_key_ready;

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                             \
    do {                                                                     \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);            \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                               \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                               \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);            \
    } while (0)

/* SipHash-1-3: one compression round, three finalization rounds. */
static uint64_t siphash13(const unsigned char *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ sip_key[0];
    uint64_t v1 = 0x646f72616e646f6dULL ^ sip_key[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ sip_key[0];
    uint64_t v3 = 0x7465646279746573ULL ^ sip_key[1];
    uint64_t b = (uint64_t)len << 56;
    size_t whole = len & ~(size_t)7;

    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = 0;
        for (int k = 7; k >= 0; k--)
            m = (m << 8) | in[i + (size_t)k];
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (size_t k = 0; k < (len & 7); k++)
        b |= (uint64_t)in[whole + k] << (8 * k);
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static void ensure_key(void)
{
    if (sip_key_ready)
        return;
    /* A fixed key still works (just predictably) if the kernel says no. */
    if (getrandom(sip_key, sizeof sip_key, GRND_NONBLOCK) != sizeof sip_key) {
        sip_key[0] = 0x0706050403020100ULL;
        sip_key[1] = 0x0f0e0d0c0b0a0908ULL;
    }
    sip_key_ready = 1;
}

struct hashmap *hashmap_new(void)
{
    struct hashmap *map = calloc(1, sizeof *map);

    if (map == NULL)
        return NULL;
    map->buckets = calloc(INITIAL_BUCKETS, sizeof *map->buckets);
    if (map->buckets == NULL) {
        free(map);
        return NULL;
    }
    map->mask = INITIAL_BUCKETS - 1;
    ensure_key();
    return map;
}

void hashmap_free(struct hashmap *map)
{
    if (map == NULL)
        return;
    for (size_t i = 0; i <= map->mask; i++) {
        struct entry *e = map->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(map->buckets);
    free(map);
}

static struct entry **find_slot(const struct hashmap *map, const char *key,
                                size_t len, uint64_t hash)
{
    struct entry **slot = &map->buckets[hash & map->mask];

    while (*slot != NULL) {
        struct entry *e = *slot;
        if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
            break;
        slot = &e->next;
    }
    return slot;
}

void *hashmap_get(const struct hashmap *map, const char *key, size_t len)
{
    uint64_t hash = siphash13((const unsigned char *)key, len);
    struct entry *e = *find_slot(map, key, len, hash);

    return e != NULL ? e->value : NULL;
}

/* Double the buckets when the load passes 1; on allocation failure keep
 * the old table (longer chains, still correct). */
static void maybe_grow(struct hashmap *map)
{
    size_t old_n = map->mask + 1;
    size_t new_n = old_n * 2;
    struct entry **nb;

    if (map->count < old_n)
        return;
    nb = calloc(new_n, sizeof *nb);
    if (nb == NULL)
        return;
    for (size_t i = 0; i < old_n; i++) {
        struct entry *e = map->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            size_t b = e->hash & (new_n - 1);
            e->next = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(map->buckets);
    map->buckets = nb;
    map->mask = new_n - 1;
}

int hashmap_put(struct hashmap *map, const char *key, size_t len,
                void *value)
{
    uint64_t hash = siphash13((const unsigned char *)key, len);
    struct entry *e = malloc(sizeof *e);
    size_t b;

    if (e == NULL)
        return -1;
    maybe_grow(map);
    b = hash & map->mask;
    e->key = key;
    e->len = len;
    e->hash = hash;
    e->value = value;
    e->next = map->buckets[b];
    map->buckets[b] = e;
    map->count++;
    return 0;
}

void *hashmap_remove(struct hashmap *map, const char *key, size_t len)
{
    uint64_t hash = siphash13((const unsigned char *)key, len);
    struct entry **slot = find_slot(map, key, len, hash);
    struct entry *e = *slot;
    void *value;

    if (e == NULL)
        return NULL;
    *slot = e->next;
    value = e->value;
    free(e);
    map->count--;
    return value;
}

size_t hashmap_count(const struct hashmap *map)
{
    return map->count;
}

void *hashmap_any(const struct hashmap *map)
{
    if (map->count == 0)
        return NULL;
    for (size_t i = 0; i <= map->mask; i++) {
        if (map->buckets[i] != NULL)
            return map->buckets[i]->value;
    }
    return NULL;
}

bool hashmap_each(const struct hashmap *map,
                  bool (*visit)(void *value, void *arg), void *arg)
{
    for (size_t i = 0; i <= map->mask; i++) {
        for (const struct entry *e = map->buckets[i]; e != NULL; e = e->next) {
            if (!visit(e->value, arg))
                return false;
        }
    }
    return true;
}
