/*
 * link_stream.c - one stream of a link: its socket, non-blocking
 * connect, closing and refusing, and its output, batched per turn of the
 * loop as the broker's plain client sockets do (session_io.c): frames
 * queued during a turn are written at its end by the set's flusher
 * event, one writev per stream; the write event is armed only while the
 * socket would block. Its input is link_input.c's.
 *
 * A stream never frees itself: link_stream_close() stops its events and
 * hands it to the reaper (link-internal.h).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "link-internal.h"
#include "log.h"
#include "xalloc.h"

/* Most bytes one writev may take. A link carries every cross-broker
 * message: a turn's batch goes out at once rather than in pieces. */
enum { WRITE_BATCH = 1024 * 1024 };

static void on_writable(evutil_socket_t fd, short what, void *arg);
static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg);

static bool retriable(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static struct link_stream *stream_new(struct link_set *ls,
                                      enum link_role role, evutil_socket_t fd)
{
    struct link_stream *s = mp_xcalloc(1, sizeof *s);
    int one = 1;

    s->ls = ls;
    s->role = role;
    s->fd = fd;
    s->read_size = LINK_READ_MIN;
    s->in = link_must(evbuffer_new(), "an evbuffer");
    s->out = link_must(evbuffer_new(), "an evbuffer");
    s->read_ev = link_must(event_new(ls->base, fd, EV_READ | EV_PERSIST,
                                link_stream_readable, s), "an event");
    s->timer = link_must(evtimer_new(ls->base, on_handshake_timeout, s),
                    "an event");
    /* Frames are batched per turn already: no Nagle delay on top. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

static void start_handshake_timer(struct link_stream *s)
{
    struct timeval tv = {s->ls->conf.handshake_ms / 1000,
                         (s->ls->conf.handshake_ms % 1000) * 1000};

    evtimer_add(s->timer, &tv);
}

/* ------------------------------------------------------------------------
 * Opening: accepted and dialed streams
 */

static void sockaddr_string(char *buf, size_t len, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    link_format_addr(buf, len, host, port);
}

struct link_stream *link_stream_accepted(struct link_set *ls,
                                         evutil_socket_t fd,
                                         const struct sockaddr *sa)
{
    struct link_stream *s = stream_new(ls, LINK_ACCEPTED, fd);

    sockaddr_string(s->addr, sizeof s->addr, sa);
    TAILQ_INSERT_TAIL(&ls->orphans, s, entry);
    ls->n_orphans++;
    s->state = STREAM_WAIT_HELLO;
    event_add(s->read_ev, NULL);
    start_handshake_timer(s);
    link_handshake_start(s);
    return s;
}

static int parse_host(const char *host, int port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    struct sockaddr_in *in = (void *)ss;
    struct sockaddr_in6 *in6 = (void *)ss;

    memset(ss, 0, sizeof *ss);
    if (port <= 0 || port > 65535)
        return -1;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

/* A failure found while dialing is reported from the loop, never from
 * inside link_peer_get(): its caller gets a peer, and its down later. */
static void fail_later(struct link_peer *p, const char *why)
{
    p->fail = why;
    event_active(p->timer, EV_TIMEOUT, 0);
}

void link_stream_dial(struct link_peer *p)
{
    struct link_set *ls = p->ls;
    struct sockaddr_storage ss;
    socklen_t len;
    struct link_stream *s;
    evutil_socket_t fd;

    if (parse_host(p->host, p->port, &ss, &len) < 0) {
        fail_later(p, "not an IP address and port");
        return;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_later(p, "cannot make a socket");
        return;
    }
    s = stream_new(ls, LINK_DIALED, fd);
    s->peer = p;
    p->out = s;
    snprintf(s->addr, sizeof s->addr, "%s", p->addr);
    s->state = STREAM_CONNECTING;
    start_handshake_timer(s);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        fail_later(p, "connect failed at once");
        return;
    }
    s->write_ev = link_must(event_new(ls->base, fd, EV_WRITE | EV_PERSIST,
                                 on_writable, s), "an event");
    event_add(s->write_ev, NULL);
}

static void connected(struct link_stream *s)
{
    int err = 0;
    socklen_t len = sizeof err;

    event_del(s->write_ev);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", strerror(err));
        link_stream_failed(s, why);
        return;
    }
    s->state = STREAM_WAIT_CHALLENGE;
    event_add(s->read_ev, NULL);
}

/* ------------------------------------------------------------------------
 * Closing
 */

void link_stream_close(struct link_stream *s)
{
    struct link_set *ls = s->ls;

    if (s->state == STREAM_CLOSED)
        return;
    if (s->peer == NULL) {
        TAILQ_REMOVE(&ls->orphans, s, entry);
        ls->n_orphans--;
    }
    s->state = STREAM_CLOSED;
    event_del(s->read_ev);
    event_del(s->timer);
    if (s->write_ev != NULL)
        event_del(s->write_ev);
    if (s->flush_queued)
        LIST_REMOVE(s, flush);
    s->flush_queued = false;
    TAILQ_INSERT_TAIL(&ls->dead_streams, s, entry);
    link_schedule_reap(ls);
}

void link_stream_free(struct link_stream *s)
{
    event_free(s->read_ev);
    event_free(s->timer);
    if (s->write_ev != NULL)
        event_free(s->write_ev);
    evbuffer_free(s->in);
    evbuffer_free(s->out);
    evutil_closesocket(s->fd);
    free(s);
}

void link_stream_failed(struct link_stream *s, const char *why)
{
    if (s->state == STREAM_CLOSED)
        return;
    if (s->peer != NULL) {
        link_peer_down(s->peer, why);
        return;
    }
    if (link_log_stranger(s->ls))
        log_info("cluster: a link from %s closed during its handshake: %s",
                 s->addr, why);
    link_stream_close(s);
}

void link_stream_refuse(struct link_stream *s, const char *reason)
{
    struct link_frame f = {.type = LINK_REFUSED};
    char why[160];

    if (s->state == STREAM_CLOSED)
        return;
    f.u.refused.reason = (struct link_str){reason, strlen(reason)};
    if (f.u.refused.reason.len > MP_NAME_MAX)
        f.u.refused.reason.len = MP_NAME_MAX; /* a string's most */
    /* One attempt, straight away: the socket closes next. */
    link_stream_queue_frame(s, &f);
    evbuffer_write(s->out, s->fd);
    s->ls->stats.handshakes_refused++;
    if (s->peer != NULL)
        log_notice("cluster: refused a link to %s (%s): %s",
                   LOG_VALUE(s->peer->id), s->addr, reason);
    else if (link_log_stranger(s->ls))
        log_notice("cluster: refused a link from %s: %s", s->addr, reason);
    snprintf(why, sizeof why, "handshake refused: %s", reason);
    if (s->peer != NULL)
        link_peer_down(s->peer, why);
    else
        link_stream_close(s);
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct link_stream *s = arg;

    (void)fd;
    (void)what;
    if (s->state == STREAM_CONNECTING)
        link_stream_failed(s, "connect timed out");
    else if (s->state != STREAM_OPEN)
        link_stream_refuse(s, "handshake timeout");
}

/* ------------------------------------------------------------------------
 * Output
 */

void link_stream_queue_frame(struct link_stream *s, const struct link_frame *f)
{
    unsigned char header[LINK_FRAME_HEADER_MAX];
    size_t n = link_frame_encode_header(f, header, sizeof header);

    /* Handshake frames are ours, made of valid fields. */
    if (n > 0)
        evbuffer_add(s->out, header, n);
    link_stream_want_flush(s);
}

void link_stream_want_flush(struct link_stream *s)
{
    struct link_set *ls = s->ls;

    if (s->flush_queued || s->state == STREAM_CLOSED ||
        s->state == STREAM_CONNECTING)
        return;
    if (LIST_EMPTY(&ls->to_flush))
        event_active(ls->flusher, 0, 0);
    LIST_INSERT_HEAD(&ls->to_flush, s, flush);
    s->flush_queued = true;
}

static struct evbuffer *what_to_write(struct link_stream *s)
{
    if (s->role == LINK_DIALED && s->state == STREAM_OPEN)
        return s->peer->queue;
    return s->out;
}

static void wait_until_writable(struct link_stream *s)
{
    if (s->write_ev == NULL)
        s->write_ev = link_must(event_new(s->ls->base, s->fd, EV_WRITE | EV_PERSIST,
                                     on_writable, s), "an event");
    event_add(s->write_ev, NULL);
}

/* One writev of what is queued; the write event only while some is
 * left. */
static void write_queued(struct link_stream *s)
{
    struct evbuffer *src = what_to_write(s);
    int n;

    if (evbuffer_get_length(src) == 0)
        n = 0;
    else
        n = evbuffer_write_atmost(src, s->fd, WRITE_BATCH);
    if (n < 0 && !retriable(errno)) {
        link_stream_failed(s, evutil_socket_error_to_string(errno));
        return;
    }
    if (n > 0) {
        s->ls->stats.bytes_out += (uint64_t)n;
        if (s->peer != NULL && s == s->peer->out)
            s->peer->last_sent_ms = link_now_ms();
    }
    if (evbuffer_get_length(src) > 0)
        wait_until_writable(s);
    else if (s->write_ev != NULL)
        event_del(s->write_ev);
    if (n > 0 && src != s->out)
        link_queue_drained(s->peer);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct link_stream *s = arg;

    (void)fd;
    (void)what;
    if (s->state == STREAM_CONNECTING)
        connected(s);
    else
        write_queued(s);
}

void link_streams_flush(struct link_set *ls)
{
    while (!LIST_EMPTY(&ls->to_flush)) {
        struct link_stream *s = LIST_FIRST(&ls->to_flush);

        LIST_REMOVE(s, flush);
        s->flush_queued = false;
        /* A socket already waiting for writability gets its turn then. */
        if (s->write_ev == NULL || !event_pending(s->write_ev, EV_WRITE, NULL))
            write_queued(s);
    }
}

