/* broker.c - making and freeing the broker's process-wide state
 * (broker.h). main.c and the fuzz harness both build it here, so that
 * what a test drives is what runs. */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "auth_throttle.h"
#include "broker.h"
#include "cluster.h"
#include "conn_table.h"
#include "credit.h"
#include "errors.h"
#include "hashmap.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "presence.h"
#include "session.h"
#include "shutdown.h"
#include "sources.h"
#include "work_pool.h"
#include "xalloc.h"

/* Frees the closed sessions; at shutdown, ends the loop when none is
 * left. */
static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct broker *b = arg;

    (void)fd;
    (void)what;
    sessions_reap(b);
    if (b->in_grace)
        shutdown_grace_check(b);
    if (b->shutting_down && b->n_sessions == 0) {
        log_notice("every client flushed and closed");
        event_base_loopbreak(b->base);
    }
}

static void flusher_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sessions_flush(arg);
}

/* With epoll's changelist, an event added and deleted within one turn
 * of the loop costs no epoll_ctl (a write event armed because a socket
 * would block, then disarmed when the next write got it all out). */
static struct event_base *new_event_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static void shutdown_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    shutdown_grace_over(arg);
}

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct broker *b = arg;

    (void)fd;
    (void)what;
    log_warn("shutdown_timeout_ms passed with %zu client%s still flushing; "
             "closing them", b->n_sessions, b->n_sessions == 1 ? "" : "s");
    event_base_loopbreak(b->base);
}

/* The tables return NULL only when memory is exhausted. */
static void *must(void *p, const char *what)
{
    if (p == NULL)
        mp_out_of_memory(what, 0);
    return p;
}

struct broker *broker_new(void)
{
    struct broker *b = mp_xcalloc(1, sizeof *b);

    b->base = new_event_base();
    if (b->base == NULL) {
        free(b);
        return NULL;
    }
    TAILQ_INIT(&b->sessions);
    SLIST_INIT(&b->dead);
    LIST_INIT(&b->to_flush);
    b->names = mp_xhashmap_new();
    b->conns = conn_table_new(credit_forget);
    b->sources = source_table_new();
    b->reaper = must(event_new(b->base, -1, 0, reaper_cb, b), "an event");
    b->flusher = must(event_new(b->base, -1, 0, flusher_cb, b), "an event");
    b->shutdown_timer = must(evtimer_new(b->base, shutdown_timeout_cb, b),
                             "an event");
    b->grace_timer = must(evtimer_new(b->base, shutdown_grace_cb, b),
                          "an event");
    b->presence = presence_new(b);
    return b;
}

int broker_configure(struct broker *b, struct errors *errs)
{
    struct auth_throttle_limits throttle;
    char pool_err[256];

    conf_throttle_limits(&b->conf, &throttle);
    b->auth_throttle = auth_throttle_new(&throttle);
    b->work_pool = work_pool_new(b->base, b->conf.auth_workers,
                                 b->conf.auth_queue_max,
                                 b->conf.auth_queue_per_source, pool_err,
                                 sizeof pool_err);
    if (b->work_pool == NULL) {
        errors_add(errs, NULL, 0, "%s", pool_err);
        return -1;
    }
    return 0;
}

void broker_free(struct broker *b)
{
    if (b == NULL)
        return;
    metrics_close(b);
    /* Sessions first: each tells its listener it is gone. */
    while (!TAILQ_EMPTY(&b->sessions))
        session_free(TAILQ_FIRST(&b->sessions));
    SLIST_INIT(&b->dead);
    listeners_close(b);
    cluster_free(b->cluster);
    conn_table_free(b->conns);
    presence_free(b->presence);
    auth_throttle_free(b->auth_throttle);
    source_table_free(b->sources);
    /* Before the plugins whose functions its jobs call are unloaded. */
    work_pool_free(b->work_pool);
    hashmap_free(b->names);
    event_free(b->reaper);
    event_free(b->flusher);
    event_free(b->shutdown_timer);
    event_free(b->grace_timer);
    plugins_unload(&b->plugins);
    conf_free(&b->conf);
    event_base_free(b->base);
    free(b);
}
