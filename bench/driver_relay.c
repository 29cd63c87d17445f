/*
 * driver_relay.c - bench/relay.c, the physical limit of one hop, and a
 * raw byte relay made by socat.
 *
 * relay: a client sends a 4-byte pairing token; the relay answers 'R'
 * once both clients with that token are there, then copies every byte
 * one sends to the other. socat: no token and no answer; the sender
 * connects to one port and the receiver to another (--receiver-address),
 * and socat copies one way:
 *
 *   socat -b 262144 -u TCP-LISTEN:A,bind=127.0.0.1,reuseaddr,fork \
 *         TCP-LISTEN:B,bind=127.0.0.1,reuseaddr
 *
 * (each connection to A forks a child that listens on B for its
 * receiver). Messages are a 4-byte big-endian length and the payload.
 */
#include "driver.h"

static void relay_hello(struct bench_client *c)
{
    unsigned char token[4] = {(unsigned char)(c->pair_token >> 24),
                              (unsigned char)(c->pair_token >> 16),
                              (unsigned char)(c->pair_token >> 8),
                              (unsigned char)c->pair_token};
    evbuffer_add(c->out, token, 4);
}

static ssize_t frames(struct bench_client *c, const unsigned char *in, size_t len)
{
    size_t used = 0;

    while (!c->closing && len - used >= 4) {
        size_t size = bench_be32(in + used);
        if (len - used < 4 + size)
            break;
        used += 4 + size;
        bench_received(c, size);
    }
    return (ssize_t)used;
}

static ssize_t relay_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    size_t used = 0;

    if (!c->ready) {
        if (len == 0)
            return 0;
        if (in[0] != 'R') {
            bench_fail(c, "relay answered 0x%02x", in[0]);
            return -1;
        }
        used = 1;
        bench_ready(c);
    }
    return (ssize_t)used + frames(c, in + used, len - used);
}

static void relay_send(struct bench_client *c, size_t len)
{
    unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len};

    evbuffer_add(c->out, head, 4);
    bench_add_filler(c->out, len);
}

static void socat_hello(struct bench_client *c)
{
    (void)c; /* nothing to say: bytes go straight through */
}

const struct bench_driver bench_driver_relay = {
    .name = "relay", .pub_sub = true, .has_names = false,
    .hello = relay_hello, .input = relay_input, .send = relay_send,
};

const struct bench_driver bench_driver_socat = {
    .name = "socat", .pub_sub = true, .has_names = false, .two_addresses = true,
    .hello = socat_hello, .connected = bench_ready, .input = frames, .send = relay_send,
};
