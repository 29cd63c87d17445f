/* xalloc_libevent.c - libevent's allocations under the broker's policy
 * (xalloc.h). Apart from xalloc.c so that what uses only the latter
 * (the tables and their unit tests) need not link libevent. */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "xalloc.h"

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
