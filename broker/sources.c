/* sources.c - sockets per source address (see sources.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "sources.h"
#include "xalloc.h"

struct source_table {
    struct hashmap *by_key;
};

struct source_table *source_table_new(void)
{
    struct source_table *t = mp_xcalloc(1, sizeof *t);

    t->by_key = mp_xhashmap_new();
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

struct source *source_find(const struct source_table *t, const char *key)
{
    return hashmap_get(t->by_key, key, strnlen(key, SOURCE_KEY_MAX - 1));
}

struct source *source_acquire(struct source_table *t, const char *key)
{
    size_t len = strnlen(key, SOURCE_KEY_MAX - 1);
    struct source *src = hashmap_get(t->by_key, key, len);

    if (src == NULL) {
        src = mp_xcalloc(1, sizeof *src + len + 1);
        memcpy(src->key, key, len);
        mp_xhashmap_put(t->by_key, src->key, len, src);
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
