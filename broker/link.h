/*
 * link.h - the direct TCP links between the brokers of a cluster
 * (doc/cluster.md, "Links"). Clients' messages to a client on another
 * broker travel here, never through Redis.
 *
 * A link to another broker (a *peer*, known by its broker id) is a pair
 * of one-way TCP streams: each broker writes only on the stream it
 * dialed, and reads only the one the peer dialed. So each direction
 * keeps its order (every connection stays FIFO without sequence
 * numbers), and two brokers that dial each other at the same moment
 * need no tie-break. The acceptor of a stream dials back at once, so a
 * link is up when both streams are.
 *
 * Every stream starts with a handshake that proves both ends know the
 * cluster's shared secret without sending it (HMAC-SHA256 over both
 * nonces and both ids; link_frame.h), and that the dialer reached the
 * broker id it meant to (an id is random per start, so a restarted
 * broker at the same address is not taken for the old one). A peer that
 * fails it never gets a link: REFUSED, logged, closed.
 *
 * Liveness: a broker sends PING on its stream when it has sent nothing
 * for ping_ms; a peer whose stream brought nothing for timeout_ms, or
 * whose stream closed or failed, is *down*: both streams are closed,
 * events->down runs once, and the peer object is freed after it (a
 * later link_peer_get() makes a new one and dials again).
 *
 * Output: frames queued in one turn of the loop go out at its end in one
 * writev, as for clients (session_io.c). Frames queued before the link
 * is up wait, up to max_pending bytes (past it the peer is down:
 * "too much queued before the link came up"). Reads are batched
 * (mp_read_batch), decoded in place, and handed to events->frame.
 *
 * Ownership: the link set owns its listener, its peers and their
 * sockets. A struct link_peer pointer is valid until events->down has
 * run for it (or link_set_free()). The frames handed to events->frame
 * point into the input buffer and are valid during the call only.
 */
#ifndef MP_BROKER_LINK_H
#define MP_BROKER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link_frame.h"

struct event_base;
struct errors;
struct link_set;
struct link_peer;

struct link_conf {
    const char *address;      /* listen address (IPv4/IPv6 literal) */
    int port;                 /* 0: an ephemeral port (tests) */
    const char *advertise;    /* the host others dial (default: address) */
    int advertise_port;       /* the port they dial (0: the bound one;
                                 another behind a port mapping or proxy) */
    const unsigned char *secret; /* the shared secret */
    size_t secret_len;
    unsigned ping_ms;         /* default 1000 */
    unsigned timeout_ms;      /* default 3000 */
    unsigned handshake_ms;    /* a handshake's bound, default 2000 */
    size_t max_frame;         /* largest frame accepted (max_message_size
                                 plus room for the header) */
    size_t max_pending;       /* bytes queued before the link is up */
};

struct link_events {
    /* A frame from `peer` (FORWARD, CREDIT, KICK; never the handshake
     * or PING). The peer may be dropped from inside the call. */
    void (*frame)(void *arg, struct link_peer *peer,
                  const struct link_frame *frame);
    /* Both streams are up: queued frames are on their way. Optional. */
    void (*up)(void *arg, struct link_peer *peer);
    /* The peer is down (`why` for the log): every connection over it is
     * gone. `peer` is freed when this returns. */
    void (*down)(void *arg, struct link_peer *peer, const char *why);
    /* The peer's queue fell to the low water mark given to
     * link_peer_watch_drain() (once per watch): senders paused for it
     * may be read again. Optional. */
    void (*drained)(void *arg, struct link_peer *peer);
};

/* A link set for `base`; `conf` is copied (the secret too). Returns NULL
 * with an error in errs when the address cannot be parsed. */
struct link_set *link_set_new(struct event_base *base,
                              const struct link_conf *conf,
                              const struct link_events *events, void *arg,
                              struct errors *errs);

/* Bind and listen; logs "cluster link listening on HOST:PORT" (the
 * actual port when conf->port is 0). Returns 0, or -1 with an error in
 * errs. */
int link_set_listen(struct link_set *ls, struct errors *errs);

/* The port actually bound (after link_set_listen). */
int link_set_port(const struct link_set *ls);

/* This broker's id (registry.h) from now on: handshakes use it. Every
 * peer is dropped when it changes (events->down for each). "" refuses
 * every handshake (not registered). */
void link_set_set_id(struct link_set *ls, const char *broker_id);

/* Drop every peer (events->down for each), e.g. when fencing. */
void link_set_drop_all(struct link_set *ls, const char *why);

/* Close the listener and every socket, no events. NULL is ignored. */
void link_set_free(struct link_set *ls);

/* The peer with broker id `id`, made and dialed at host:port if there is
 * none yet. Never NULL (memory: xalloc.h). */
struct link_peer *link_peer_get(struct link_set *ls, const char *id,
                                const char *host, int port);

/* The peer with broker id `id`, or NULL. */
struct link_peer *link_peer_find(struct link_set *ls, const char *id);

/* Close both streams now; events->down runs (from this call). */
void link_peer_drop(struct link_peer *p, const char *why);

const char *link_peer_id(const struct link_peer *p);
bool link_peer_is_up(const struct link_peer *p);

/* Queue a frame for the peer (sent at the end of this turn, or when the
 * link is up). A FORWARD's data is copied from frame->u.forward.data.
 * Returns 0, or -1 when the frame cannot be encoded (a field too long)
 * or the peer went down (queue past max_pending). */
int link_send(struct link_peer *p, const struct link_frame *frame);

/* Bytes queued for the peer and not yet written. */
size_t link_peer_queued(const struct link_peer *p);

/* Arrange for events->drained once the peer's queue falls to
 * `low_water` bytes or fewer (at once if it already has). */
void link_peer_watch_drain(struct link_peer *p, size_t low_water);

/* The caller's data per peer (remote.c keeps its endpoints there). */
void link_peer_set_user(struct link_peer *p, void *user);
void *link_peer_user(const struct link_peer *p);

/* Figures for the metrics endpoint. */
struct link_stats {
    uint64_t peers_up;          /* links up now */
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out;
    uint64_t handshakes_refused;
    uint64_t downs;             /* links that went down */
};
const struct link_stats *link_set_stats(const struct link_set *ls);

#endif
