/*
 * hashmap.h - a string-keyed hash table (chained, power-of-two buckets,
 * SipHash-1-3 with a per-process random key so that clients choosing names
 * cannot force collisions).
 *
 * Ownership: the map stores the key pointer, not a copy. The key bytes must
 * stay valid and unchanged while the entry is in the map; they usually live
 * in the value (a session's name, a connection's id). Values are never
 * freed by the map.
 */
#ifndef MP_COMMON_HASHMAP_H
#define MP_COMMON_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hashmap;

struct hashmap *hashmap_new(void);
void hashmap_free(struct hashmap *map);

/* The value stored under key[0..len), or NULL. */
void *hashmap_get(const struct hashmap *map, const char *key, size_t len);

/* Store value under key (which must not be present yet). Returns 0, or -1
 * on allocation failure. */
int hashmap_put(struct hashmap *map, const char *key, size_t len,
                void *value);

/* Remove key and return its value, or NULL if absent. */
void *hashmap_remove(struct hashmap *map, const char *key, size_t len);

size_t hashmap_count(const struct hashmap *map);

/* Some value in the map (which one is unspecified), or NULL if empty: lets
 * an owner drain the map by removing what it returns. */
void *hashmap_any(const struct hashmap *map);

/* Call visit(value, arg) for each entry, in no particular order, until
 * it returns false. visit must not change the map. Returns false if a
 * visit stopped it. */
bool hashmap_each(const struct hashmap *map,
                  bool (*visit)(void *value, void *arg), void *arg);

#endif
