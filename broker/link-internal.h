/*
 * link-internal.h - what link.c (the set, its peers and their events),
 * link_stream.c (a stream's socket I/O) and link_handshake.c (the HMAC
 * handshake) share. Nothing here is for the rest of the broker: it uses
 * link.h.
 *
 * A stream's states (link.h has the why of two streams per peer):
 *
 *   dialed:   CONNECTING -> WAIT_CHALLENGE -> WAIT_OK -> OPEN
 *             (connect)     (send HELLO)      (check HELLO_OK's MAC)
 *   accepted: WAIT_HELLO -> OPEN
 *             (CHALLENGE sent on accept; check HELLO, send HELLO_OK)
 *
 * and CLOSED from any of them (then the reaper frees it). An accepted
 * stream belongs to no peer (it is an *orphan*) until its HELLO proved
 * who dialed; then it joins that peer (made if needed, and dialed back).
 * A dialed stream writes its peer's queue once OPEN and reads only to
 * see EOF or a REFUSED; an accepted one reads the peer's frames once
 * the peer is up (before that it stays unread, so that events->up
 * always comes before the first events->frame).
 *
 * Freeing: nothing is freed from inside a callback. A stream that
 * closes stops its events at once and moves to ls->dead_streams, a peer
 * that goes down to ls->dead_peers; the reaper event frees both lists
 * from the loop. So a frame handler may drop any peer, even the one
 * whose frame it was given, and the frame stays readable meanwhile.
 */
#ifndef MP_BROKER_LINK_INTERNAL_H
#define MP_BROKER_LINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>
#include <mp/protocol.h>

#include "client_log.h"
#include "link.h"

struct event;
struct evbuffer;

enum link_role { LINK_DIALED, LINK_ACCEPTED };

enum link_stream_state {
    STREAM_CONNECTING,
    STREAM_WAIT_CHALLENGE,
    STREAM_WAIT_OK,
    STREAM_WAIT_HELLO,
    STREAM_OPEN,
    STREAM_CLOSED,
};

/* "[v6]:port" at most, for the log. */
#define LINK_ADDR_MAX 64

struct link_stream {
    struct link_set *ls;
    struct link_peer *peer; /* NULL: an orphan (accepted, not yet proven) */
    enum link_role role;
    enum link_stream_state state;
    evutil_socket_t fd;
    struct event *read_ev;
    struct event *write_ev; /* made when first needed */
    struct event *timer;    /* the handshake's bound */
    struct evbuffer *in;
    /* Handshake frames (and a REFUSED). Once OPEN, a dialed stream
     * writes its peer's queue instead. */
    struct evbuffer *out;
    size_t read_size;
    unsigned char nonce[LINK_NONCE_LEN];       /* ours */
    unsigned char their_nonce[LINK_NONCE_LEN]; /* the other end's */
    char addr[LINK_ADDR_MAX];
    bool flush_queued;
    LIST_ENTRY(link_stream) flush;
    TAILQ_ENTRY(link_stream) entry; /* ls->orphans or ls->dead_streams */
};

struct link_peer {
    struct link_set *ls;
    char id[MP_NAME_MAX + 1];
    char host[LINK_ADDR_MAX];
    int port;
    char addr[LINK_ADDR_MAX]; /* host:port, for the log */
    struct link_stream *out; /* dialed by us: we write here */
    struct link_stream *in;  /* dialed by the peer: we read here */
    struct evbuffer *queue;  /* frames for the peer, not yet written */
    /* Before up: the bound on coming up (or a failure to report from
     * the loop, in `fail`). Up: pings and the receive timeout. */
    struct event *timer;
    const char *fail;
    uint64_t last_sent_ms, last_recv_ms;
    bool up, dead;
    bool drain_watch;
    size_t drain_low;
    void *user;
    TAILQ_ENTRY(link_peer) entry; /* ls->peers or ls->dead_peers */
};

TAILQ_HEAD(link_peer_list, link_peer);
TAILQ_HEAD(link_stream_list, link_stream);

struct link_set {
    struct event_base *base;
    struct link_conf conf; /* its strings and secret point to the copies below */
    char *address, *advertise;
    unsigned char *secret;
    struct sockaddr_storage listen_addr;
    socklen_t listen_addr_len;
    struct link_events events;
    void *arg;
    evutil_socket_t listen_fd;
    struct event *accept_ev;
    int port;
    char id[MP_NAME_MAX + 1];
    struct link_peer_list peers, dead_peers;
    struct link_stream_list orphans, dead_streams;
    size_t n_orphans;
    LIST_HEAD(, link_stream) to_flush;
    struct event *flusher, *reaper;
    unsigned dispatching; /* depth of calls into the user's events */
    struct log_limit stranger_log;
    struct link_stats stats;
};

/* The first read of a stream, and every read before its handshake. */
#define LINK_READ_MIN (4 * 1024)

/* link.c */
uint64_t link_now_ms(void);
void link_schedule_reap(struct link_set *ls);
void link_format_addr(char *buf, size_t len, const char *host, int port);
/* The memory policy (xalloc.h) for libevent's constructors. */
void *link_must(void *p, const char *what);

/* link_listen.c */
int link_parse_listen_address(struct link_set *ls, struct errors *errs);
/* May a line about a stranger's stream (an orphan) be logged now? At most
 * a few per second: anyone can connect to the link port. */
bool link_log_stranger(struct link_set *ls);

/* link_peer.c */
struct link_peer *link_peer_new(struct link_set *ls, const char *id,
                                size_t id_len, const char *host, int port);
void link_peer_check_up(struct link_peer *p);
void link_peer_down(struct link_peer *p, const char *why);
void link_peer_free(struct link_peer *p);
void link_deliver(struct link_peer *p, const struct link_frame *f);
void link_queue_drained(struct link_peer *p);

/* link_stream.c */
struct link_stream *link_stream_accepted(struct link_set *ls,
                                         evutil_socket_t fd,
                                         const struct sockaddr *sa);
void link_stream_dial(struct link_peer *p);
void link_stream_close(struct link_stream *s);
void link_stream_free(struct link_stream *s);
void link_stream_want_flush(struct link_stream *s);
void link_streams_flush(struct link_set *ls);
void link_stream_queue_frame(struct link_stream *s, const struct link_frame *f);
void link_stream_failed(struct link_stream *s, const char *why);
void link_stream_refuse(struct link_stream *s, const char *reason);

/* link_input.c */
void link_stream_readable(evutil_socket_t fd, short what, void *arg);
void link_stream_resume_input(struct link_stream *s);

/* link_handshake.c */
void link_handshake_start(struct link_stream *s);
void link_handshake_frame(struct link_stream *s, const struct link_frame *f);

#endif
