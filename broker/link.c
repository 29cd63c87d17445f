/*
 * link.c - the link set: its listener, its peers, their timers and the
 * events it gives its user (link.h). A stream's socket I/O is in
 * link_stream.c, the handshake in link_handshake.c; link-internal.h has
 * the states and why nothing is freed from inside a callback.
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

/* Accepted streams still in their handshake, at most: past it a new
 * connection is closed at once, so strangers cannot hold many sockets
 * for handshake_ms each. */
enum { MAX_HANDSHAKES = 64 };
/* Connections accepted per wake-up of the listener. */
enum { ACCEPT_BATCH = 16 };

static void *must(void *p, const char *what)
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

static struct timeval ms_to_tv(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    return tv;
}

/* ------------------------------------------------------------------------
 * Calls into the user: counted, so that link_set_free() can tell it is
 * called from one (which it must not be).
 */

static void call_down(struct link_peer *p, const char *why)
{
    struct link_set *ls = p->ls;

    ls->dispatching++;
    ls->events.down(ls->arg, p, why);
    ls->dispatching--;
}

void link_deliver(struct link_peer *p, const struct link_frame *f)
{
    struct link_set *ls = p->ls;

    ls->stats.frames_in++;
    ls->dispatching++;
    ls->events.frame(ls->arg, p, f);
    ls->dispatching--;
}

void link_queue_drained(struct link_peer *p)
{
    struct link_set *ls = p->ls;

    if (!p->drain_watch || p->dead ||
        evbuffer_get_length(p->queue) > p->drain_low)
        return;
    p->drain_watch = false;
    if (ls->events.drained == NULL)
        return;
    ls->dispatching++;
    ls->events.drained(ls->arg, p);
    ls->dispatching--;
}

/* ------------------------------------------------------------------------
 * The reaper and the flusher
 */

static void free_peer(struct link_peer *p)
{
    event_free(p->timer);
    evbuffer_free(p->queue);
    free(p);
}

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
        free_peer(p);
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
 * Peers: up, liveness, down
 */

static void arm_timer(struct link_peer *p, uint64_t ms)
{
    struct timeval tv = ms_to_tv(ms);

    evtimer_add(p->timer, &tv);
}

static void send_ping(struct link_peer *p)
{
    struct link_frame ping = {.type = LINK_PING};
    unsigned char header[LINK_FRAME_PREFIX + 1];
    size_t n = link_frame_encode_header(&ping, header, sizeof header);

    evbuffer_add(p->queue, header, n);
    link_stream_want_flush(p->out);
    p->last_sent_ms = link_now_ms(); /* the next only after ping_ms */
}

/* Up: a PING when nothing was written for ping_ms, down when nothing
 * was read for timeout_ms; the timer wakes at the nearer of the two.
 * Before up: the bound on coming up, or a failure from the dial. */
static void peer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link_peer *p = arg;
    const struct link_conf *c = &p->ls->conf;
    uint64_t now = link_now_ms(), ping_at, dead_at;
    char why[96];

    (void)fd;
    (void)what;
    if (p->fail != NULL) {
        link_peer_down(p, p->fail);
        return;
    }
    if (!p->up) {
        snprintf(why, sizeof why, "the link did not come up within %u ms",
                 2 * c->handshake_ms);
        link_peer_down(p, why);
        return;
    }
    dead_at = p->last_recv_ms + c->timeout_ms;
    if (now >= dead_at) {
        snprintf(why, sizeof why, "nothing received for %u ms", c->timeout_ms);
        link_peer_down(p, why);
        return;
    }
    if (now >= p->last_sent_ms + c->ping_ms)
        send_ping(p);
    ping_at = p->last_sent_ms + c->ping_ms;
    arm_timer(p, (ping_at < dead_at ? ping_at : dead_at) - now);
}

void link_peer_check_up(struct link_peer *p)
{
    struct link_set *ls = p->ls;

    if (p->up || p->dead || p->out == NULL || p->in == NULL ||
        p->out->state != STREAM_OPEN || p->in->state != STREAM_OPEN)
        return;
    p->up = true;
    ls->stats.peers_up++;
    log_notice("cluster: link to %s (%s) up", LOG_VALUE(p->id), p->addr);
    p->last_sent_ms = p->last_recv_ms = link_now_ms();
    event_del(p->timer);
    arm_timer(p, ls->conf.ping_ms < ls->conf.timeout_ms ? ls->conf.ping_ms
                                                        : ls->conf.timeout_ms);
    link_stream_want_flush(p->out); /* what waited for the link */
    if (ls->events.up != NULL) {
        ls->dispatching++;
        ls->events.up(ls->arg, p);
        ls->dispatching--;
    }
    if (!p->dead)
        link_stream_resume_input(p->in);
}

void link_peer_down(struct link_peer *p, const char *why)
{
    struct link_set *ls = p->ls;

    if (p->dead)
        return;
    p->dead = true;
    if (p->out != NULL)
        link_stream_close(p->out);
    if (p->in != NULL)
        link_stream_close(p->in);
    event_del(p->timer);
    TAILQ_REMOVE(&ls->peers, p, entry);
    if (p->up)
        ls->stats.peers_up--;
    ls->stats.downs++;
    log_notice("cluster: link to %s (%s) down: %s", LOG_VALUE(p->id), p->addr,
               why);
    call_down(p, why);
    TAILQ_INSERT_TAIL(&ls->dead_peers, p, entry);
    link_schedule_reap(ls);
}

struct link_peer *link_peer_new(struct link_set *ls, const char *id,
                                size_t id_len, const char *host, int port)
{
    struct link_peer *p = mp_xcalloc(1, sizeof *p);

    p->ls = ls;
    snprintf(p->id, sizeof p->id, "%.*s", (int)id_len, id);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    link_format_addr(p->addr, sizeof p->addr, host, port);
    p->queue = must(evbuffer_new(), "an evbuffer");
    p->timer = must(evtimer_new(ls->base, peer_timer_cb, p), "an event");
    TAILQ_INSERT_TAIL(&ls->peers, p, entry);
    arm_timer(p, 2 * (uint64_t)ls->conf.handshake_ms);
    return p;
}

/* ------------------------------------------------------------------------
 * The listener
 */

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    struct link_set *ls = arg;

    (void)what;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        evutil_socket_t fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("cluster: accept on the link listener: %s",
                         strerror(errno));
            return;
        }
        if (ls->n_orphans >= MAX_HANDSHAKES) {
            ls->stats.handshakes_refused++;
            evutil_closesocket(fd);
            continue;
        }
        link_stream_accepted(ls, fd, (struct sockaddr *)&ss);
    }
}

static int parse_listen_address(struct link_set *ls, struct errors *errs)
{
    struct sockaddr_in *in = (void *)&ls->listen_addr;
    struct sockaddr_in6 *in6 = (void *)&ls->listen_addr;
    int port = ls->conf.port;

    if (port < 0 || port > 65535) {
        errors_add(errs, NULL, 0, "cluster link: port %d out of range", port);
        return -1;
    }
    if (inet_pton(AF_INET, ls->address, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ls->listen_addr_len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, ls->address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ls->listen_addr_len = sizeof *in6;
        return 0;
    }
    errors_add(errs, NULL, 0,
               "cluster link: address \"%s\" is not an IPv4 or IPv6 literal",
               ls->address);
    return -1;
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int link_set_listen(struct link_set *ls, struct errors *errs)
{
    int one = 1;
    char addr[LINK_ADDR_MAX];
    evutil_socket_t fd;

    fd = socket(ls->listen_addr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errors_add(errs, NULL, 0, "cluster link: socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ls->listen_addr, ls->listen_addr_len) < 0 ||
        listen(fd, 128) < 0) {
        link_format_addr(addr, sizeof addr, ls->address, ls->conf.port);
        errors_add(errs, NULL, 0, "cluster link: cannot listen on %s: %s",
                   addr, strerror(errno));
        close(fd);
        return -1;
    }
    ls->listen_fd = fd;
    ls->port = bound_port(fd);
    ls->accept_ev = must(event_new(ls->base, fd, EV_READ | EV_PERSIST,
                                   accept_cb, ls), "an event");
    event_add(ls->accept_ev, NULL);
    link_format_addr(addr, sizeof addr, ls->address, ls->port);
    log_notice("cluster link listening on %s", addr);
    return 0;
}

int link_set_port(const struct link_set *ls)
{
    return ls->port;
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
    ls->flusher = must(event_new(base, -1, 0, flusher_cb, ls), "an event");
    ls->reaper = must(event_new(base, -1, 0, reaper_cb, ls), "an event");
    if (parse_listen_address(ls, errs) < 0) {
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
