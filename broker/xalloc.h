/*
 * xalloc.h - the broker's memory-failure policy: allocation never fails.
 *
 * Everything a client can make the broker allocate is bounded by the
 * configuration (max_clients, max_message_size, the output limits, the
 * connection limits, the throttle and source tables' caps), so running
 * out of memory means the limits do not fit the machine, not that a
 * client misbehaves. Past that point no path can promise to keep every
 * other client served, and "handling" a failure in hundreds of places
 * that no test ever reaches only hides bugs. So, as OpenBSD daemons and
 * tmux do, the broker logs one line and aborts (systemd restarts it), and
 * code calls these instead of checking for NULL. libevent's allocations
 * follow the same policy (mp_xalloc_install_for_libevent).
 *
 * libmpclient does not: a library returns MP_ERR_NOMEM to its caller.
 * Plugins decide for themselves; the host API reports their errors.
 */
#ifndef MP_BROKER_XALLOC_H
#define MP_BROKER_XALLOC_H

#include <stddef.h>

/* Log "out of memory" with what was being allocated, and abort(). */
_Noreturn void mp_out_of_memory(const char *what, size_t size);

void *mp_xmalloc(size_t size);
void *mp_xcalloc(size_t nmemb, size_t size);
/* realloc(p, nmemb * size), aborting on overflow as on failure. */
void *mp_xreallocarray(void *p, size_t nmemb, size_t size);
char *mp_xstrdup(const char *s);

/* hashmap.h's, aborting where those return NULL or -1. */
struct hashmap;
struct hashmap *mp_xhashmap_new(void);
void mp_xhashmap_put(struct hashmap *map, const void *key, size_t len,
                     void *value);

/* Route libevent's allocations through the above; call before libevent
 * allocates anything (first thing in main). */
void mp_xalloc_install_for_libevent(void);

#endif
