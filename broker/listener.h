/*
 * listener.h - the sockets the broker accepts clients on: TCP (IPv4 and
 * IPv6) and Unix, each with a translator or "auto".
 *
 * Ownership: listeners belong to the broker (broker->listeners) and are
 * freed by listeners_close(), which also removes Unix socket files.
 */
#ifndef MP_BROKER_LISTENER_H
#define MP_BROKER_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

#include "accept_pause.h"

struct broker;
struct errors;
struct loaded_plugin;
struct ssl_ctx_st;
struct traffic_stats;
struct ws_listener;

struct listener {
    struct broker *broker;
    struct evconnlistener *evl;
    const struct loaded_plugin *translator; /* NULL: "auto" */
    char label[300];                        /* "tcp:127.0.0.1:7330",
                                               "tls:...", "ws:...",
                                               "wss:...", "unix:PATH" */
    char where[290];                        /* "127.0.0.1:7330" as bound,
                                               or "unix:PATH" */
    struct ssl_ctx_st *tls;                 /* TLS listeners only */
    struct ws_listener *ws;                 /* WebSocket listeners only
                                               (ws_session.h) */
    struct traffic_stats *traffic;          /* per translator index */
    char *address;                          /* as configured (TCP) */
    int port;                               /* as configured (0: any) */
    unsigned n_sessions;                    /* sessions that point here */
    unsigned n_by_state[3];                 /* of them, by enum
                                               session_state (metrics) */
    bool retired;                           /* removed by a reload */
    char *unix_path;                        /* to unlink at close */
    struct accept_pause pause;              /* after accept errors */
    struct listener *next;
};

/* A TCP socket listening on address:port (nonblocking, close-on-exec;
 * "::" is IPv6 only), its actual address written to label as "ADDR:PORT"
 * or "[ADDR]:PORT". Returns the socket, or -1 with an error about the
 * setting `entry` ("cannot listen on ADDR port N: why"). */
int listen_tcp(const config_setting_t *entry, const char *address, int port,
               char *label, size_t len, struct errors *errs);

/* Open every configured listener and log "listening on LABEL". Returns 0,
 * or -1 with errors (file, line) added. */
int listeners_open(struct broker *broker, struct errors *errs);

/* Reloads (reload.c). A listener is identified by its configured address
 * and port, or its socket path. */
struct listener_conf;
/* Bind one listener, not yet in broker->listeners; NULL with errors. */
struct listener *listener_open(struct broker *broker,
                               const struct listener_conf *lc,
                               struct errors *errs);
void listener_link(struct broker *broker, struct listener *l);
/* A listener without a socket (translator NULL: "auto"), not linked:
 * listener_open() starts from one, and tests hand its sessions socket
 * pairs (session_new). Free it with listener_discard() unless linked. */
struct listener *listener_new(struct broker *broker,
                              const struct loaded_plugin *translator,
                              const char *label);
/* Close and free a listener from listener_open() that was never linked. */
void listener_discard(struct listener *l);
/* Is `l` (active) the listener lc describes: same socket path, or same
 * address and port (and, for port 0, the same translator, TLS and
 * WebSocket)? A reload may change a kept listener's websocket group: its
 * new handshakes follow the new settings, accepted sessions keep theirs. */
bool listener_is(const struct listener *l, const struct listener_conf *lc);
/* Take lc's translator and TLS settings (certificates re-read); the
 * sessions already accepted keep theirs. */
int listener_update(struct listener *l, const struct listener_conf *lc,
                    struct errors *errs);
/* Stop accepting; freed once the last of its sessions is gone. */
void listener_retire(struct listener *l);
/* A session of `l` was freed (session.c). */
void listener_session_gone(struct listener *l);
void listeners_close(struct broker *broker);
/* Close the listening sockets but keep the listeners (sessions point to
 * them) until listeners_close(): shutting down. */
void listeners_stop_accepting(struct broker *broker);

#endif
