/*
 * broker.h - the broker's process-wide state, shared by its parts.
 *
 * One event loop thread, one event_base; only the work pool's threads
 * (work_pool.h) run beside it, on jobs they are handed. Ownership: struct
 * broker owns the work pool, the config, the plugins, the listeners, every
 * session and both tables.
 */
#ifndef MP_BROKER_BROKER_H
#define MP_BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "client_log.h"
#include "conf.h"
#include "plugin_loader.h"
#include "stats.h"

struct event;
struct event_base;
struct hashmap;
struct conn_table;
struct auth_throttle;
struct work_pool;
struct listener;
struct session;
struct http_server;
struct source_table;

struct broker {
    struct event_base *base;
    struct broker_conf conf;
    const char *default_plugin_dir; /* for config files without plugin_dir */
    struct plugin_set plugins;

    struct hashmap *names;      /* name -> READY session */
    struct conn_table *conns;   /* connection id -> connection */
    struct auth_throttle *auth_throttle; /* failed logins per address */
    struct source_table *sources; /* sockets per source address */
    size_t n_unauthenticated;   /* sessions not logged in yet */
    struct log_limit log_limit; /* client-caused log lines, all clients */
    struct work_pool *work_pool; /* hashing off the loop (run_blocking) */

    struct listener *listeners;
    struct session *sessions;   /* every session, doubly linked */
    size_t n_sessions;
    struct session *dead;       /* closed sessions waiting to be freed */
    struct event *reaper;       /* frees `dead` from the loop, never from
                                   inside a session's own callback */
    unsigned notify_generation; /* dedupes ClientClosed (see router.c) */
    struct session *sender;     /* whose message is being routed, if any:
                                   the one to pause when a recipient's
                                   output passes the high water mark */
    struct broker_stats stats;  /* for the metrics endpoint */
    struct http_server *metrics; /* the metrics listener, if configured */
    bool shutting_down;         /* SIGTERM/SIGINT: flushing, then exit */
    struct event *shutdown_timer; /* bounds that by shutdown_timeout_ms */
};

#endif
