/* xalloc.c - allocation that aborts on failure (see xalloc.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "log.h"
#include "xalloc.h"

void mp_xhashmap_put(struct hashmap *map, const void *key, size_t len,
                     void *value)
{
    if (hashmap_put(map, key, len, value) != 0)
        mp_out_of_memory("a hash table entry", len);
}

struct hashmap *mp_xhashmap_new(void)
{
    struct hashmap *map = hashmap_new();

    if (map == NULL)
        mp_out_of_memory("a hash table", 0);
    return map;
}

_Noreturn void mp_out_of_memory(const char *what, size_t size)
{
    log_error("out of memory allocating %zu bytes for %s: aborting "
              "(the configured limits do not fit this machine's memory)",
              size, what);
    abort();
}

void *mp_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        mp_out_of_memory("malloc", size);
    return p;
}

void *mp_xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (size != 0 && nmemb > SIZE_MAX / size)
        mp_out_of_memory("calloc (overflow)", SIZE_MAX);
    p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        mp_out_of_memory("calloc", nmemb * size);
    return p;
}

void *mp_xreallocarray(void *old, size_t nmemb, size_t size)
{
    void *p;
    size_t total;

    if (size != 0 && nmemb > SIZE_MAX / size)
        mp_out_of_memory("realloc (overflow)", SIZE_MAX);
    total = nmemb * size;

    p = realloc(old, total != 0 ? total : 1);
    if (p == NULL)
        mp_out_of_memory("realloc", total);
    return p;
}

char *mp_xstrdup(const char *s)
{
    size_t len = strlen(s) + 1;

    return memcpy(mp_xmalloc(len), s, len);
}
