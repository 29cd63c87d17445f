/* malloc_tune.c - see malloc_tune.h. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MALLOPT
#include <malloc.h>
#endif

#include "malloc_tune.h"

/* Up to this much free memory stays at the top of the heap, and no
 * allocation below this size is an mmap of its own (the buffers of a
 * burst of large messages come and go from the heap). */
enum {
    KEEP_FREE_AT_TOP = 2 * 1024 * 1024,
    MMAP_FROM = 1024 * 1024,
};

static bool user_tuned_malloc(void)
{
    const char *tunables = getenv("GLIBC_TUNABLES");

    return (tunables != NULL && strstr(tunables, "glibc.malloc.") != NULL) ||
           getenv("MALLOC_TRIM_THRESHOLD_") != NULL ||
           getenv("MALLOC_MMAP_THRESHOLD_") != NULL;
}

void mp_tune_malloc(void)
{
#ifdef HAVE_MALLOPT
    if (user_tuned_malloc())
        return;
    mallopt(M_TRIM_THRESHOLD, KEEP_FREE_AT_TOP);
    mallopt(M_MMAP_THRESHOLD, MMAP_FROM);
#endif
}
