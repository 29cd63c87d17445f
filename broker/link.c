/*
 * link.c - the link set and the user's operations on it and its peers
 * (link.h), its reaper and its flusher. The files beside it:
 * link_listen.c (the listener), link_peer.c (a peer's life: up,
 * liveness, down), link_stream.c (a stream's socket and output),
 * link_input.c (its input), link_handshake.c (the HMAC handshake);
 * link-internal.h has the states and why nothing is freed from inside a
 * callback.
 *
 * Defaults for a zero setting: ping_ms 1000, timeout_ms 3000,
 * handshake_ms 2000, max_frame 1 MiB plus the largest header,
 * max_pending 4 MiB.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "errors.h"
#include "link-internal.h"
#include "log.h"
#include "xalloc.h"

void *link_must(void *p, const char *what)
{
    if (p == NULL)
        mp_out_of_memory(what, 0);
    return p;
}

uint64_t link_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void link_format_addr(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':') != NULL)
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
}

/* ------------------------------------------------------------------------
 * The reaper and the flusher
 */

static void reap(struct link_set *ls)
{
    while (!TAILQ_EMPTY(&ls->dead_streams)) {
        struct link_stream *s = TAILQ_FIRST(&ls->dead_streams);
        TAILQ_REMOVE(&ls->dead_streams, s, entry);
        link_stream_free(s);
    }
    while (!TAILQ_EMPTY(&ls->dead_peers)) {
        struct link_peer *p = TAILQ_FIRST(&ls->dead_peers);
        TAILQ_REMOVE(&ls->dead_peers, p, entry);
        link_peer_free(p);
    }
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg);
}

void link_schedule_reap(struct link_set *ls)
{
    event_active(ls->reaper, 0, 0);
}

static void flusher_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_streams_flush(arg);
}

/* ------------------------------------------------------------------------
 * The set
 */

static unsigned or_default(unsigned v, unsigned dflt)
{
    return v != 0 ? v : dflt;
}

struct link_set *link_set_new(struct event_base *base,
                              const struct link_conf *conf,
                              const struct link_events *events, void *arg,
                              struct errors *errs)
{
    struct link_set *ls = mp_xcalloc(1, sizeof *ls);

    ls->base = base;
    ls->conf = *conf;
    ls->address = mp_xstrdup(conf->address != NULL ? conf->address : "");
    ls->advertise = mp_xstrdup(conf->advertise != NULL ? conf->advertise
                                                       : ls->address);
    ls->secret = mp_xmalloc(conf->secret_len + 1);
    if (conf->secret_len > 0)
        memcpy(ls->secret, conf->secret, conf->secret_len);
    ls->conf.address = ls->address;
    ls->conf.advertise = ls->advertise;
    ls->conf.secret = ls->secret;
    ls->conf.ping_ms = or_default(conf->ping_ms, 1000);
    ls->conf.timeout_ms = or_default(conf->timeout_ms, 3000);
    ls->conf.handshake_ms = or_default(conf->handshake_ms, 2000);
    if (ls->conf.max_frame == 0)
        ls->conf.max_frame = (1u << 20) + LINK_FRAME_HEADER_MAX;
    if (ls->conf.max_pending == 0)
        ls->conf.max_pending = 4u << 20;
    ls->events = *events;
    ls->arg = arg;
    ls->listen_fd = -1;
    TAILQ_INIT(&ls->peers);
    TAILQ_INIT(&ls->dead_peers);
    TAILQ_INIT(&ls->orphans);
    TAILQ_INIT(&ls->dead_streams);
    LIST_INIT(&ls->to_flush);
    ls->flusher = link_must(event_new(base, -1, 0, flusher_cb, ls), "an event");
    ls->reaper = link_must(event_new(base, -1, 0, reaper_cb, ls), "an event");
    if (strlen(ls->advertise) > MP_NAME_MAX) {
        /* It travels in HELLO as a string. */
        errors_add(errs, NULL, 0, "cluster link: advertised host longer "
                   "than %d bytes", MP_NAME_MAX);
        link_set_free(ls);
        return NULL;
    }
    if (link_parse_listen_address(ls, errs) < 0) {
        link_set_free(ls);
        return NULL;
    }
    return ls;
}

/* Every peer now, as an array: a down handler may make new peers, which
 * are not dropped with these. */
void link_set_drop_all(struct link_set *ls, const char *why)
{
    struct link_peer **all, *p;
    size_t n = 0, i = 0;

    TAILQ_FOREACH(p, &ls->peers, entry)
        n++;
    if (n == 0)
        return;
    all = mp_xreallocarray(NULL, n, sizeof *all);
    TAILQ_FOREACH(p, &ls->peers, entry)
        all[i++] = p;
    /* A down handler may drop others of these: link_peer_down() skips
     * the dead, and none is freed before the reaper runs. */
    for (i = 0; i < n; i++)
        link_peer_down(all[i], why);
    free(all);
}

void link_set_set_id(struct link_set *ls, const char *broker_id)
{
    if (strcmp(ls->id, broker_id) == 0)
        return;
    snprintf(ls->id, sizeof ls->id, "%s", broker_id);
    /* Handshakes under way were started under the old id. */
    while (!TAILQ_EMPTY(&ls->orphans))
        link_stream_close(TAILQ_FIRST(&ls->orphans));
    link_set_drop_all(ls, "this broker's id changed");
}

static void close_quietly(struct link_peer *p)
{
    struct link_set *ls = p->ls;

    p->dead = true;
    if (p->out != NULL)
        link_stream_close(p->out);
    if (p->in != NULL)
        link_stream_close(p->in);
    TAILQ_REMOVE(&ls->peers, p, entry);
    TAILQ_INSERT_TAIL(&ls->dead_peers, p, entry);
}

void link_set_free(struct link_set *ls)
{
    if (ls == NULL)
        return;
    /* The callers' frames and peers would be freed under them. */
    assert(ls->dispatching == 0);
    while (!TAILQ_EMPTY(&ls->peers))
        close_quietly(TAILQ_FIRST(&ls->peers));
    while (!TAILQ_EMPTY(&ls->orphans))
        link_stream_close(TAILQ_FIRST(&ls->orphans));
    reap(ls);
    if (ls->accept_ev != NULL)
        event_free(ls->accept_ev);
    if (ls->listen_fd >= 0)
        close(ls->listen_fd);
    event_free(ls->flusher);
    event_free(ls->reaper);
    free(ls->address);
    free(ls->advertise);
    free(ls->secret);
    free(ls);
}

/* ------------------------------------------------------------------------
 * Peers: the user's operations
 */

struct link_peer *link_peer_find(struct link_set *ls, const char *id)
{
    struct link_peer *p;

    TAILQ_FOREACH(p, &ls->peers, entry)
        if (strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

struct link_peer *link_peer_get(struct link_set *ls, const char *id,
                                const char *host, int port)
{
    struct link_peer *p = link_peer_find(ls, id);
    size_t id_len = strlen(id);

    if (p != NULL)
        return p;
    p = link_peer_new(ls, id, id_len <= MP_NAME_MAX ? id_len : MP_NAME_MAX,
                      host, port);
    if (id_len == 0 || id_len > MP_NAME_MAX) {
        p->fail = "not a broker id";
        event_active(p->timer, EV_TIMEOUT, 0);
    } else if (ls->id[0] == '\0') {
        p->fail = "this broker is not registered yet";
        event_active(p->timer, EV_TIMEOUT, 0);
    } else {
        link_stream_dial(p);
    }
    return p;
}

void link_peer_drop(struct link_peer *p, const char *why)
{
    link_peer_down(p, why);
}

const char *link_peer_id(const struct link_peer *p)
{
    return p->id;
}

bool link_peer_is_up(const struct link_peer *p)
{
    return p->up && !p->dead;
}

int link_send(struct link_peer *p, const struct link_frame *frame)
{
    unsigned char header[LINK_FRAME_HEADER_MAX];
    size_t n, size;

    if (p->dead)
        return -1;
    n = link_frame_encode_header(frame, header, sizeof header);
    if (n == 0)
        return -1;
    size = link_frame_size(frame);
    /* The peer would take a frame past max_frame for malformed, and drop
     * the link with every connection on it: refuse this one only. */
    if (size - LINK_FRAME_PREFIX > p->ls->conf.max_frame)
        return -1;
    if (!p->up &&
        evbuffer_get_length(p->queue) + size > p->ls->conf.max_pending) {
        link_peer_down(p, "too much queued before the link came up");
        return -1;
    }
    evbuffer_add(p->queue, header, n);
    if (size > n)
        evbuffer_add(p->queue, frame->u.forward.data, size - n);
    p->ls->stats.frames_out++;
    if (p->up)
        link_stream_want_flush(p->out);
    return 0;
}

size_t link_peer_queued(const struct link_peer *p)
{
    return evbuffer_get_length(p->queue);
}

void link_peer_watch_drain(struct link_peer *p, size_t low_water)
{
    p->drain_watch = true;
    p->drain_low = low_water;
    link_queue_drained(p);
}

void link_peer_set_user(struct link_peer *p, void *user)
{
    p->user = user;
}

void *link_peer_user(const struct link_peer *p)
{
    return p->user;
}

const struct link_stats *link_set_stats(const struct link_set *ls)
{
    return &ls->stats;
}

