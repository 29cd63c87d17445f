/*
 * relay.c - the physical limit of one hop: pairs two TCP clients and
 * copies the bytes each sends to the other, unparsed.
 *
 *   relay PORT       listen on 127.0.0.1:PORT
 *
 * A client's first 4 bytes are a pairing token; when a second client
 * sends the same token, both get the byte 'R' and from then on every
 * byte is moved (not copied: evbuffer_add_buffer) to the other side.
 * A side whose peer has more than 4 MiB unsent stops being read until
 * that drains, so memory stays bounded. When either side closes, both
 * are closed. It does the least a broker could do for one message, so
 * mpbench's "relay" figures are the ceiling for this machine.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define HIGH_WATER (4u << 20)

struct side {
    struct bufferevent *bev;
    struct side *peer;
    uint32_t token;
    struct side *next_waiting;
};

static struct side *waiting; /* clients whose token has no partner yet */

static void side_free(struct side *s)
{
    for (struct side **p = &waiting; *p != NULL; p = &(*p)->next_waiting)
        if (*p == s) {
            *p = s->next_waiting;
            break;
        }
    bufferevent_free(s->bev);
    free(s);
}

static void forward(struct bufferevent *bev, void *arg)
{
    struct side *s = arg;
    struct evbuffer *out = bufferevent_get_output(s->peer->bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) > HIGH_WATER)
        bufferevent_disable(bev, EV_READ);
}

/* The peer's output drained below the low water mark: read again. */
static void drained(struct bufferevent *bev, void *arg)
{
    struct side *s = arg;
    (void)bev;
    if (s->peer != NULL)
        bufferevent_enable(s->peer->bev, EV_READ);
}

static void closed(struct bufferevent *bev, short what, void *arg)
{
    struct side *s = arg, *peer = s->peer;
    (void)bev, (void)what;
    if (peer != NULL)
        side_free(peer);
    side_free(s);
}

static void pair(struct side *a, struct side *b)
{
    a->peer = b, b->peer = a;
    bufferevent_setcb(a->bev, forward, drained, closed, a);
    bufferevent_setcb(b->bev, forward, drained, closed, b);
    bufferevent_setwatermark(a->bev, EV_WRITE, HIGH_WATER / 4, 0);
    bufferevent_setwatermark(b->bev, EV_WRITE, HIGH_WATER / 4, 0);
    bufferevent_write(a->bev, "R", 1);
    bufferevent_write(b->bev, "R", 1);
    /* Bytes sent right after the token are already buffered. */
    forward(a->bev, a);
    forward(b->bev, b);
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
    bufferevent_setcb(s->bev, read_token, NULL, closed, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: relay PORT\n");
        return 2;
    }
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
