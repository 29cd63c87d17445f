/*
 * broker.h - the broker's process-wide state, shared by its parts.
 *
 * One event loop thread, one event_base; only the work pool's threads
 * (work_pool.h) run beside it, on jobs they are handed. Ownership: struct
 * broker owns the work pool, the config, the plugins, the listeners, every
 * session and both tables; broker_new() makes one and broker_free()
 * frees it with everything it owns.
 */
#ifndef MP_BROKER_BROKER_H
#define MP_BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "client_log.h"
#include "conf.h"
#include "plugin_loader.h"
#include "session.h"
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
struct cluster;

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
    struct session_list sessions; /* every session */
    size_t n_sessions;
    struct dead_sessions dead;  /* closed sessions waiting to be freed */
    struct event *reaper;       /* frees `dead` from the loop, never from
                                   inside a session's own callback */
    struct flush_list to_flush; /* plain sessions with output queued in
                                   this turn of the loop (session_io.c) */
    struct event *flusher;      /* writes it, after this turn's reads */
    unsigned notify_generation; /* dedupes ClientClosed (see router.c) */
    struct broker_stats stats;  /* for the metrics endpoint */
    struct http_server *metrics; /* the metrics listener, if configured */
    struct cluster *cluster;    /* NULL: not in a cluster (cluster.h) */
    struct presence *presence;  /* level 2's watches (presence.h) */
    uint64_t last_session_id;   /* ids given to sessions (endpoint.id) */
    bool shutting_down;         /* SIGTERM/SIGINT: flushing, then exit */
    struct event *shutdown_timer; /* bounds that by shutdown_timeout_ms */
    bool in_grace;              /* ... after GoingAway, serving level-2
                                   clients for shutdown_grace_ms first */
    struct event *grace_timer;  /* ends that (shutdown.h) */
};

struct errors;

/* A broker with its event loop, name and connection tables, source
 * table, reaper and shutdown timer, and nothing configured: conf_load()
 * and plugins_load() fill b->conf and b->plugins, then
 * broker_configure(). Aborts when memory is exhausted (xalloc.h);
 * NULL only when no event loop can be made. */
struct broker *broker_new(void);

/* The parts the configuration sizes: the login throttle and the work
 * pool. Returns 0, or -1 with an error added to errs. */
int broker_configure(struct broker *b, struct errors *errs);

/* Free the broker and everything it owns (sessions first, at once and
 * without telling anyone; then listeners, tables, plugins, config and
 * the event loop). NULL is ignored. */
void broker_free(struct broker *b);

#endif
