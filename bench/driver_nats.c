/*
 * driver_nats.c - nats-server, through the NATS text protocol.
 *
 * Each client subscribes to its own name and publishes to its peer's:
 * CONNECT (verbose off, no echo), SUB name 1, PING; ready at the first
 * PONG, which the server sends only after the SUB is in place.
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#define LINE_MAX_BYTES 512

static void nats_hello(struct bench_client *c)
{
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "CONNECT {\"verbose\":false,\"pedantic\":false,"
                        "\"echo\":false,\"name\":\"%s\"}\r\nSUB %s 1\r\nPING\r\n",
                        c->name, c->name);
}

/* The size of "MSG subject sid [reply] size": the last field. */
static long msg_size(const char *line, size_t len)
{
    size_t i = len;
    while (i > 0 && line[i - 1] != ' ')
        i--;
    return i == len ? -1 : strtol(line + i, NULL, 10);
}

static int nats_one(struct bench_client *c, struct evbuffer *in)
{
    char head[LINE_MAX_BYTES + 1];
    size_t got = bench_peek(in, head, LINE_MAX_BYTES);
    char *eol = memchr(head, '\r', got);

    if (eol == NULL || (size_t)(eol - head) + 1 >= got) {
        if (got == LINE_MAX_BYTES) {
            bench_fail(c, "a line longer than %d bytes", LINE_MAX_BYTES);
            return -1;
        }
        return 0;
    }
    size_t line = (size_t)(eol - head);
    if (line >= 4 && memcmp(head, "MSG ", 4) == 0) {
        long size = msg_size(head, line);
        if (size < 0) {
            bench_fail(c, "bad MSG line");
            return -1;
        }
        size_t total = line + 2 + (size_t)size + 2;
        if (evbuffer_get_length(in) < total)
            return 0;
        evbuffer_drain(in, total);
        bench_received(c, (size_t)size);
        return 1;
    }
    evbuffer_drain(in, line + 2);
    if (line == 4 && memcmp(head, "PING", 4) == 0)
        evbuffer_add(bufferevent_get_output(c->bev), "PONG\r\n", 6);
    else if (line == 4 && memcmp(head, "PONG", 4) == 0 && !c->ready) {
        bench_ready(c);
    } else if (line >= 4 && memcmp(head, "-ERR", 4) == 0) {
        bench_fail(c, "nats-server: %.*s", (int)line, head);
        return -1;
    }
    return 1; /* INFO, +OK */
}

static int nats_input(struct bench_client *c, struct evbuffer *in)
{
    return bench_parse_all(c, in, nats_one);
}

static void nats_send(struct bench_client *c, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add_printf(out, "PUB %s %zu\r\n", c->peer, len);
    bench_add_filler(out, len);
    evbuffer_add(out, "\r\n", 2);
}

const struct bench_driver bench_driver_nats = {
    .name = "nats", .pub_sub = true, .has_names = true,
    .hello = nats_hello, .input = nats_input, .send = nats_send,
};
