/* gobclient.c - a gob client on a raw socket (see gobclient.h). */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gob_transcript.h"
#include "gobclient.h"

/* ------------------------------------------------------------------------
 * Bytes
 */

void gob_put(struct gob_bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void gob_put_byte(struct gob_bytes *b, unsigned char c)
{
    gob_put(b, &c, 1);
}

static int hex_digit(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

struct gob_bytes gob_unhex(const char *hex)
{
    struct gob_bytes b = { 0 };

    for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2)
        gob_put_byte(&b, (unsigned char)(hex_digit(hex[i]) << 4 |
                                         hex_digit(hex[i + 1])));
    return b;
}

char *gob_hex(const unsigned char *p, size_t n)
{
    char *s = malloc(2 * n + 1);

    cr_assert_not_null(s);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------
 * Gob, from the specification
 */

void gob_uint(struct gob_bytes *b, uint64_t v)
{
    unsigned char tmp[8];
    size_t n = 0;

    if (v < 0x80) {
        gob_put_byte(b, (unsigned char)v);
        return;
    }
    for (; v != 0; v >>= 8)
        tmp[n++] = (unsigned char)v;
    gob_put_byte(b, (unsigned char)(256 - n));
    while (n > 0)
        gob_put_byte(b, tmp[--n]);
}

/* A uint at p[*off..len); false if it is not all there. */
bool gob_read_uint(const unsigned char *p, size_t len, size_t *off,
                   uint64_t *v)
{
    size_t n;

    if (*off >= len)
        return false;
    if (p[*off] < 0x80) {
        *v = p[(*off)++];
        return true;
    }
    n = (size_t)(256 - p[*off]);
    cr_assert_leq(n, 8, "bad gob length byte 0x%02x", p[*off]);
    if (len - *off - 1 < n)
        return false;
    *v = 0;
    for (size_t i = 1; i <= n; i++)
        *v = *v << 8 | p[*off + i];
    *off += n + 1;
    return true;
}

/* The original's definition of Message, type 65: what every gob stream
 * in the capture starts with, and what the broker must send first. */
struct gob_bytes gob_message_definition(void)
{
    return gob_unhex(GOB_MESSAGE_DEFINITION_HEX);
}

/* One Message value (type 65), Go's way: zero fields left out, fields
 * numbered Meta 0, OtherClient 1, ConnectionID 2, Data 3 as deltas. */
struct gob_bytes gob_value(unsigned meta, const char *other,
                           const char *id, const void *data,
                           size_t data_len)
{
    struct gob_bytes body = { 0 }, msg = { 0 };
    int last = -1;

    gob_put(&body, "\xff\x82", 2);
    if (meta != 0) {
        gob_uint(&body, (uint64_t)(0 - last));
        gob_uint(&body, meta);
        last = 0;
    }
    if (other[0] != '\0') {
        gob_uint(&body, (uint64_t)(1 - last));
        gob_uint(&body, strlen(other));
        gob_put(&body, other, strlen(other));
        last = 1;
    }
    if (id[0] != '\0') {
        gob_uint(&body, (uint64_t)(2 - last));
        gob_uint(&body, strlen(id));
        gob_put(&body, id, strlen(id));
        last = 2;
    }
    if (data_len > 0) {
        gob_uint(&body, (uint64_t)(3 - last));
        gob_uint(&body, data_len);
        gob_put(&body, data, data_len);
    }
    gob_put_byte(&body, 0);
    gob_uint(&msg, body.len);
    gob_put(&msg, body.p, body.len);
    free(body.p);
    return msg;
}

void gob_parse_value(const unsigned char *p, size_t len,
                     struct gob_msg *m)
{
    size_t off = 0;
    uint64_t count, delta, v;
    int field = -1;

    memset(m, 0, sizeof *m);
    cr_assert(gob_read_uint(p, len, &off, &count) && off + count == len);
    cr_assert(len - off >= 2 && p[off] == 0xff && p[off + 1] == 0x82,
              "not a value of type 65");
    off += 2;
    while (gob_read_uint(p, len, &off, &delta) && delta != 0) {
        field += (int)delta;
        cr_assert(field >= 0 && field <= 3, "field %d", field);
        cr_assert(gob_read_uint(p, len, &off, &v));
        if (field == 0) {
            m->meta = (unsigned)v;
            continue;
        }
        cr_assert_leq(v, len - off);
        if (field == 3) {
            m->data = malloc(v + 1);
            memcpy(m->data, p + off, v);
            m->data_len = v;
        } else {
            cr_assert_leq(v, 255);
            memcpy(field == 1 ? m->other : m->id, p + off, v);
        }
        off += v;
    }
    cr_assert_eq(off, len, "the value ends with its struct");
}

/* ------------------------------------------------------------------------
 * A gob client on a raw socket
 */

struct gob_client *gc_connect(struct harness *h, size_t listener)
{
    struct gob_client *c = calloc(1, sizeof *c);

    cr_assert_not_null(c);
    c->rc = rc_connect(h, listener, RC_BINARY); /* only its socket */
    return c;
}

void gc_close(struct gob_client *c)
{
    rc_close(c->rc);
    free(c->in.p);
    free(c);
}

void gc_send(struct gob_client *c, const void *p, size_t n)
{
    cr_assert(rc_send_raw(c->rc, p, n), "send failed: %s", rc_error(c->rc));
}

void gc_send_value(struct gob_client *c, unsigned meta,
                   const char *other, const char *id, const void *data,
                   size_t data_len)
{
    struct gob_bytes v = gob_value(meta, other, id, data, data_len);

    gc_send(c, v.p, v.len);
    free(v.p);
}

/* Read more bytes; false on EOF. Fails the test on a timeout. */
bool gc_fill(struct gob_client *c)
{
    struct pollfd pfd = { .fd = rc_fd(c->rc), .events = POLLIN };
    unsigned char buf[65536];
    ssize_t n;
    int r = poll(&pfd, 1, mpt_ms(MPT_MSG_MS));

    cr_assert_gt(r, 0, "no bytes from the broker in time");
    n = read(pfd.fd, buf, sizeof buf);
    if (n <= 0) {
        cr_assert(n == 0 || errno == ECONNRESET, "read: %s", strerror(errno));
        return false;
    }
    gob_put(&c->in, buf, (size_t)n);
    return true;
}

/* The next whole gob message, byte count included (malloc'd into *m). */
void gc_recv_raw(struct gob_client *c, struct gob_bytes *m)
{
    for (;;) {
        size_t off = 0;
        uint64_t count;
        if (gob_read_uint(c->in.p, c->in.len, &off, &count) &&
            c->in.len - off >= count) {
            size_t n = off + (size_t)count;
            *m = (struct gob_bytes){ 0 };
            gob_put(m, c->in.p, n);
            memmove(c->in.p, c->in.p + n, c->in.len - n);
            c->in.len -= n;
            return;
        }
        cr_assert(gc_fill(c), "the broker closed the socket mid-message");
    }
}

void gc_expect_raw(struct gob_client *c, const unsigned char *want,
                   size_t len, const char *what)
{
    struct gob_bytes got;

    gc_recv_raw(c, &got);
    if (got.len != len || memcmp(got.p, want, len) != 0) {
        char *g = gob_hex(got.p, got.len), *w = gob_hex(want, len);
        cr_assert_fail("%s:\n got  %s\n want %s", what, g, w);
    }
    free(got.p);
}

/* The next value, after the broker's definition on the first call. */
void gc_recv(struct gob_client *c, struct gob_msg *m)
{
    struct gob_bytes raw;

    if (!c->defined) {
        struct gob_bytes def = gob_message_definition();
        gc_expect_raw(c, def.p, def.len, "the broker's type definition");
        free(def.p);
        c->defined = true;
    }
    gc_recv_raw(c, &raw);
    gob_parse_value(raw.p, raw.len, m);
    free(raw.p);
}

/* data NULL: no Data field (absent and empty are the same in gob). */
void gc_expect(struct gob_client *c, unsigned meta, const char *other,
               const char *id, const void *data, size_t data_len)
{
    struct gob_msg m;

    gc_recv(c, &m);
    cr_assert_eq(m.meta, meta);
    cr_assert_str_eq(m.other, other);
    cr_assert_str_eq(m.id, id);
    if (data == NULL) {
        cr_assert_null(m.data, "Data should be left out");
    } else {
        cr_assert_not_null(m.data, "Data should be there");
        cr_assert_eq(m.data_len, data_len);
        cr_assert(memcmp(m.data, data, data_len) == 0);
    }
    free(m.data);
}

void gc_expect_eof(struct gob_client *c)
{
    cr_assert_eq(c->in.len, 0, "bytes before EOF");
    cr_assert_not(gc_fill(c), "bytes instead of EOF");
}

/* Log in: the definition with the Auth, as the Go client does. */
struct gob_client *gc_login(struct harness *h, size_t listener,
                            const char *name)
{
    struct gob_client *c = gc_connect(h, listener);
    struct gob_bytes b = gob_message_definition();
    struct gob_bytes v = gob_value(RC_AUTH, name, "", MPT_SECRET_ALLOW_ALL,
                               strlen(MPT_SECRET_ALLOW_ALL));

    gob_put(&b, v.p, v.len);
    gc_send(c, b.p, b.len);
    gc_expect(c, RC_AUTH_OK, name, "", NULL, 0);
    free(b.p);
    free(v.p);
    return c;
}

/* ----------------------------------------------------------------------
 * The capture, replayed
 */

/*
 * The capture's cross-client order is only approximately causal (a
 * delivery sometimes shows before the send that caused it). So what each
 * client is to receive is queued, and checked before that client sends
 * anything next (a Go client reacts to what it read) and at the end.
 */
struct pending {
    const struct gob_chunk *chunk[GOB_TRANSCRIPT_LEN];
    size_t head, tail;
};

/* Check one received chunk message by message: each gob message of the
 * capture against the next one from the broker. */
static void expect_chunk(struct gob_client *c, const struct gob_chunk *k,
                         size_t index)
{
    struct gob_bytes want;
    size_t off = 0;
    char what[64];

    if (k->hex == NULL) {
        gc_expect_eof(c);
        return;
    }
    want = gob_unhex(k->hex);
    for (int n = 0; off < want.len; n++) {
        size_t start = off;
        uint64_t count;
        cr_assert(gob_read_uint(want.p, want.len, &off, &count));
        off += (size_t)count;
        snprintf(what, sizeof what, "chunk %zu (c%d<), message %d", index,
                 k->client, n);
        gc_expect_raw(c, want.p + start, off - start, what);
    }
    free(want.p);
}

static void drain(struct gob_client *c, struct pending *q)
{
    while (q->head < q->tail) {
        const struct gob_chunk *k = q->chunk[q->head++];
        expect_chunk(c, k, (size_t)(k - gob_transcript));
    }
}

void gc_replay_transcript(struct gob_client *c[2])
{
    struct pending q[2] = { { .head = 0 }, { .head = 0 } };
    bool logged_in[2] = { false, false };

    for (size_t i = 0; i < GOB_TRANSCRIPT_LEN; i++) {
        const struct gob_chunk *k = &gob_transcript[i];
        int n = k->client - 1;

        if (k->dir == '<') {
            q[n].chunk[q[n].tail++] = k;
            continue;
        }
        drain(c[n], &q[n]);
        if (k->hex == NULL) {
            /* The Go client closes; half-closing keeps our side readable
             * so that the broker's own close can be seen. */
            cr_assert_eq(shutdown(rc_fd(c[n]->rc), SHUT_WR), 0);
        } else {
            struct gob_bytes b = gob_unhex(k->hex);
            gc_send(c[n], b.p, b.len);
            free(b.p);
        }
        if (!logged_in[n]) {
            logged_in[n] = true;
            cr_assert(i + 1 < GOB_TRANSCRIPT_LEN &&
                      gob_transcript[i + 1].client == k->client &&
                      gob_transcript[i + 1].dir == '<');
            q[n].chunk[q[n].tail++] = &gob_transcript[++i];
            drain(c[n], &q[n]);
        }
    }
    drain(c[0], &q[0]);
    drain(c[1], &q[1]);
}
