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

#define LINE_MAX_BYTES 512

static void nats_hello(struct bench_client *c)
{
    evbuffer_add_printf(c->out,
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

/* One line or MSG at in[0..len): its size, or 0 when it is not all here. */
static ssize_t nats_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    const char *head = (const char *)in;
    size_t look = len < LINE_MAX_BYTES ? len : LINE_MAX_BYTES;
    const char *eol = memchr(head, '\r', look);

    if (eol == NULL || (size_t)(eol - head) + 1 >= len) {
        if (look == LINE_MAX_BYTES) {
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
        if (len < total)
            return 0;
        bench_received(c, (size_t)size);
        return (ssize_t)total;
    }
    if (line == 4 && memcmp(head, "PING", 4) == 0)
        evbuffer_add(c->out, "PONG\r\n", 6);
    else if (line == 4 && memcmp(head, "PONG", 4) == 0 && !c->ready) {
        bench_ready(c);
    } else if (line >= 4 && memcmp(head, "-ERR", 4) == 0) {
        bench_fail(c, "nats-server: %.*s", (int)line, head);
        return -1;
    }
    return (ssize_t)(line + 2); /* INFO, +OK */
}

static ssize_t nats_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, nats_one);
}

static void nats_send(struct bench_client *c, size_t len)
{
    evbuffer_add_printf(c->out, "PUB %s %zu\r\n", c->peer, len);
    bench_add_filler(c->out, len);
    evbuffer_add(c->out, "\r\n", 2);
}

const struct bench_driver bench_driver_nats = {
    .name = "nats", .pub_sub = true, .has_names = true,
    .hello = nats_hello, .input = nats_input, .send = nats_send,
};
