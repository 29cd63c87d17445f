/*
 * listener.h - the sockets the broker accepts clients on: TCP (IPv4 and
 * IPv6) and Unix, each with a translator or "auto".
 *
 * Ownership: listeners belong to the broker (broker->listeners) and are
 * freed by listeners_close(), which also removes Unix socket files.
 */
#ifndef MP_BROKER_LISTENER_H
#define MP_BROKER_LISTENER_H

#include <time.h>

struct broker;
struct errors;
struct loaded_plugin;
struct evconnlistener;
struct event;
struct ssl_ctx_st;
struct traffic_stats;

struct listener {
    struct broker *broker;
    struct evconnlistener *evl;
    const struct loaded_plugin *translator; /* NULL: "auto" */
    char label[300];                        /* "tcp:127.0.0.1:7330",
                                               "tls:...", "unix:PATH" */
    struct ssl_ctx_st *tls;                 /* TLS listeners only */
    struct traffic_stats *traffic;          /* per translator index */
    char *unix_path;                        /* to unlink at close */
    struct event *retry;                    /* re-enable after accept errors */
    unsigned long failed_accepts;           /* in the current episode */
    time_t last_accept_log;                 /* when one was last logged */
    struct listener *next;
};

/* Open every configured listener and log "listening on LABEL". Returns 0,
 * or -1 with errors (file, line) added. */
int listeners_open(struct broker *broker, struct errors *errs);
void listeners_close(struct broker *broker);
/* Close the listening sockets but keep the listeners (sessions point to
 * them) until listeners_close(): shutting down. */
void listeners_stop_accepting(struct broker *broker);

#endif
