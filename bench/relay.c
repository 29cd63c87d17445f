/*
 * relay.c - the physical limit of one hop: pairs two TCP clients and
 * copies the bytes each sends to the other, unparsed.
 *
 *   relay PORT       listen on 127.0.0.1:PORT
 *
 * A client's first 4 bytes are a pairing token; when a second client
 * sends the same token, both get the byte 'R' and from then on every
 * byte one sends is written to the other. It reads up to 256 KiB per
 * read(2) and writes everything pending with one writev(2), which is
 * about the fewest system calls a hop can make; a side whose peer has
 * more than 4 MiB unsent stops being read until that drains. When either
 * side closes, both are closed. It does the least a broker could do for
 * a message, so mpbench's "relay" figures are the ceiling of this
 * machine, not a competitor: at 4 KiB it spends 1.2 to 1.9 us of CPU
 * per message, against 1.8 to 2.1 for mpbench (the kernel's copies and
 * TCP, both; quiet and busy machine), and socat 2.0 to 2.7.
 * Splicing through a pipe instead of reading and writing was tried and
 * measured no cheaper on loopback.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "malloc_tune.h"
#include "read_batch.h"

#define HIGH_WATER (4u << 20)
#define READ_SIZE (256u << 10)

static bool retriable(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

struct side {
    evutil_socket_t fd;
    struct event *readable, *writable;
    struct evbuffer *pending;   /* read from the peer, not yet written */
    struct side *peer;
    uint32_t token;
    struct side *next_waiting;
    struct bufferevent *bev;    /* only until paired: reads the token */
    struct evbuffer *early;     /* sent right after the token */
};

static struct side *waiting; /* clients whose token has no partner yet */

static void side_free(struct side *s)
{
    for (struct side **p = &waiting; *p != NULL; p = &(*p)->next_waiting)
        if (*p == s) {
            *p = s->next_waiting;
            break;
        }
    if (s->bev != NULL)
        bufferevent_free(s->bev); /* closes fd */
    else
        evutil_closesocket(s->fd);
    if (s->readable != NULL)
        event_free(s->readable);
    if (s->writable != NULL)
        event_free(s->writable);
    if (s->pending != NULL)
        evbuffer_free(s->pending);
    if (s->early != NULL)
        evbuffer_free(s->early);
    free(s);
}

static void close_pair(struct side *s)
{
    if (s->peer != NULL)
        side_free(s->peer);
    side_free(s);
}

/* Write what is pending for `to`; wait for writability if some is left. */
static int flush(struct side *to)
{
    while (evbuffer_get_length(to->pending) > 0) {
        int n = evbuffer_write(to->pending, to->fd);
        if (n < 0 && retriable())
            break;
        if (n <= 0)
            return -1;
    }
    if (evbuffer_get_length(to->pending) > 0)
        event_add(to->writable, NULL);
    else
        event_del(to->writable);
    if (evbuffer_get_length(to->pending) > HIGH_WATER)
        event_del(to->peer->readable);
    else
        event_add(to->peer->readable, NULL);
    return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct side *s = arg;
    (void)what;
    ssize_t got = mp_read_batch(s->peer->pending, fd, READ_SIZE);
    if (got < 0 && retriable())
        return;
    if (got <= 0 || flush(s->peer) < 0)
        close_pair(s);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct side *s = arg;
    (void)fd, (void)what;
    if (flush(s) < 0)
        close_pair(s);
}

/* The token phase is over: from here on, plain events on the socket. */
static void go_raw(struct side *s, struct event_base *base)
{
    s->early = evbuffer_new();
    s->fd = bufferevent_getfd(s->bev);
    evbuffer_add_buffer(s->early, bufferevent_get_input(s->bev));
    bufferevent_setfd(s->bev, -1); /* keep the socket open */
    bufferevent_free(s->bev);
    s->bev = NULL;
    s->pending = evbuffer_new();
    s->readable = event_new(base, s->fd, EV_READ | EV_PERSIST, on_readable, s);
    s->writable = event_new(base, s->fd, EV_WRITE | EV_PERSIST, on_writable, s);
}

static void pair(struct side *a, struct side *b)
{
    struct event_base *base = bufferevent_get_base(a->bev);
    a->peer = b, b->peer = a;
    go_raw(a, base);
    go_raw(b, base);
    evbuffer_add(a->pending, "R", 1);
    evbuffer_add(b->pending, "R", 1);
    /* What each sent right after its token is owed to the other. */
    evbuffer_add_buffer(b->pending, a->early);
    evbuffer_add_buffer(a->pending, b->early);
    if (flush(a) < 0 || flush(b) < 0)
        close_pair(a);
}

static void closed_early(struct bufferevent *bev, short what, void *arg)
{
    (void)bev, (void)what;
    side_free(arg);
}

static void read_token(struct bufferevent *bev, void *arg)
{
    struct side *s = arg;
    unsigned char t[4];
    if (evbuffer_get_length(bufferevent_get_input(bev)) < 4)
        return;
    evbuffer_remove(bufferevent_get_input(bev), t, 4);
    s->token = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
    for (struct side **p = &waiting; *p != NULL; p = &(*p)->next_waiting)
        if ((*p)->token == s->token) {
            struct side *other = *p;
            *p = other->next_waiting;
            pair(other, s);
            return;
        }
    s->next_waiting = waiting;
    waiting = s;
}

static void accepted(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                     int len, void *arg)
{
    (void)l, (void)sa, (void)len, (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct side *s = calloc(1, sizeof *s);
    s->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, read_token, NULL, closed_early, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: relay PORT\n");
        return 2;
    }
    mp_tune_malloc(); /* a ceiling must not pay for heap trimming */
    signal(SIGPIPE, SIG_IGN); /* a client that leaves closes its pair, no more */
    struct event_base *base = event_base_new();
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[1])),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *l = evconnlistener_new_bind(
        base, accepted, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
        (struct sockaddr *)&sin, sizeof sin);
    if (l == NULL) {
        perror("relay: listen");
        return 1;
    }
    event_base_dispatch(base);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
