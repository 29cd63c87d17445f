/* xalloc.c - allocation that aborts on failure (see xalloc.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "xalloc.h"

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

static void *event_xmalloc(size_t size)
{
    return mp_xmalloc(size);
}

static void *event_xrealloc(void *p, size_t size)
{
    return mp_xreallocarray(p, 1, size);
}

void mp_xalloc_install_for_libevent(void)
{
    event_set_mem_functions(event_xmalloc, event_xrealloc, free);
}
