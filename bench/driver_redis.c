/*
 * driver_redis.c - redis-server pub/sub, through RESP3.
 *
 * HELLO 3 lets one connection both SUBSCRIBE (to its own name) and
 * PUBLISH (to its peer's), as the other targets do; ready at the
 * subscribe confirmation. Messages arrive as push values
 * (>3 message channel payload); PUBLISH answers with an integer, which
 * is read and dropped.
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

static const char push_message[] = ">3\r\n$7\r\nmessage\r\n$";
static const char push_subscribe[] = ">3\r\n$9\r\nsubscribe\r\n";

static void add_bulk(struct evbuffer *out, const char *s)
{
    evbuffer_add_printf(out, "$%zu\r\n%s\r\n", strlen(s), s);
}

static void redis_hello(struct bench_client *c)
{
    struct evbuffer *out = c->out;

    evbuffer_add_printf(out, "*2\r\n");
    add_bulk(out, "HELLO");
    add_bulk(out, "3");
    evbuffer_add_printf(out, "*2\r\n");
    add_bulk(out, "SUBSCRIBE");
    add_bulk(out, c->name);
}

/* The size of the RESP value at p[0..n): 0 if incomplete, -1 if bad. */
static long value_size(const char *p, size_t n)
{
    const char *eol = n > 0 ? memchr(p, '\n', n) : NULL;
    if (eol == NULL)
        return 0;
    long line = eol - p + 1, count = strtol(p + 1, NULL, 10), off = line;
    switch (p[0]) {
    case '+': case '-': case ':': case ',': case '_': case '#': case '(':
        return line;
    case '$': case '=': case '!':
        if (count < 0)
            return line;
        return (size_t)(line + count + 2) <= n ? line + count + 2 : 0;
    case '%': case '|':
        count *= 2;
        /* fall through */
    case '*': case '~': case '>':
        for (long i = 0; i < count; i++) {
            long one = value_size(p + off, n - (size_t)off);
            if (one <= 0)
                return one;
            off += one;
        }
        return off;
    default:
        return -1;
    }
}

/* A "message" push: its size and the payload's, from its first bytes. */
static int parse_message(const char *head, size_t got, size_t *total, size_t *payload)
{
    size_t off = sizeof push_message - 1;
    char *end;
    long channel = strtol(head + off, &end, 10);
    off = (size_t)(end - head) + 2 + (size_t)channel + 2;
    if (off + 1 >= got || head[off] != '$')
        return got < 160 ? 0 : -1;
    long size = strtol(head + off + 1, &end, 10);
    if (end >= head + got - 1)
        return 0;
    *payload = (size_t)size;
    *total = (size_t)(end - head) + 2 + (size_t)size + 2;
    return 1;
}

/* One value at in[0..len): its size, or 0 when it is not all here. */
static ssize_t redis_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    char head[160]; /* the start, NUL-terminated for strtol */
    size_t got = len < sizeof head - 1 ? len : sizeof head - 1, total, payload;

    if (got == 0)
        return 0;
    memcpy(head, in, got);
    head[got] = '\0';
    if (got >= sizeof push_message - 1 &&
        memcmp(head, push_message, sizeof push_message - 1) == 0) {
        int ok = parse_message(head, got, &total, &payload);
        if (ok < 0)
            bench_fail(c, "bad message push");
        if (ok <= 0 || len < total)
            return ok < 0 ? -1 : 0;
        bench_received(c, payload);
        return (ssize_t)total;
    }
    if (head[0] == '-') {
        bench_fail(c, "redis: %.*s", (int)strcspn(head, "\r"), head);
        return -1;
    }
    /* Rare values (HELLO's map, confirmations, PUBLISH's integer). */
    long size = value_size((const char *)in, len);
    if (size <= 0) {
        if (size < 0)
            bench_fail(c, "bad RESP value");
        return size;
    }
    if (!c->ready && (size_t)size >= sizeof push_subscribe - 1 &&
        memcmp(in, push_subscribe, sizeof push_subscribe - 1) == 0)
        bench_ready(c);
    return size;
}

static ssize_t redis_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, redis_one);
}

static void redis_send(struct bench_client *c, size_t len)
{
    evbuffer_add_printf(c->out, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n",
                        strlen(c->peer), c->peer, len);
    bench_add_filler(c->out, len);
    evbuffer_add(c->out, "\r\n", 2);
}

const struct bench_driver bench_driver_redis = {
    .name = "redis", .pub_sub = true, .has_names = true,
    .hello = redis_hello, .input = redis_input, .send = redis_send,
};
