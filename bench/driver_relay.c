/*
 * driver_relay.c - bench/relay.c, the physical limit of one hop.
 *
 * A client sends a 4-byte pairing token; the relay answers 'R' once both
 * clients with that token are there, then copies every byte one sends to
 * the other. Messages are a 4-byte big-endian length and the payload.
 */
#include "driver.h"

#include <event2/bufferevent.h>

static void relay_hello(struct bench_client *c)
{
    unsigned char token[4] = {(unsigned char)(c->pair_token >> 24),
                              (unsigned char)(c->pair_token >> 16),
                              (unsigned char)(c->pair_token >> 8),
                              (unsigned char)c->pair_token};
    evbuffer_add(bufferevent_get_output(c->bev), token, 4);
}

static int relay_input(struct bench_client *c, struct evbuffer *in)
{
    if (!c->ready) {
        unsigned char r;
        if (evbuffer_remove(in, &r, 1) != 1)
            return 0;
        if (r != 'R') {
            bench_fail(c, "relay answered 0x%02x", r);
            return -1;
        }
        bench_ready(c);
    }
    unsigned char head[4];
    while (!c->closing && bench_peek(in, head, 4) == 4) {
        size_t len = (size_t)head[0] << 24 | (size_t)head[1] << 16 |
                     (size_t)head[2] << 8 | head[3];
        if (evbuffer_get_length(in) < 4 + len)
            break;
        evbuffer_drain(in, 4 + len);
        bench_received(c, len);
    }
    return 0;
}

static void relay_send(struct bench_client *c, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};

    evbuffer_add(out, head, 4);
    bench_add_filler(out, len);
}

const struct bench_driver bench_driver_relay = {
    .name = "relay", .pub_sub = true, .has_names = false,
    .hello = relay_hello, .input = relay_input, .send = relay_send,
};
