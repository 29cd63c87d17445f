/*
 * test_gob.c - translator_gob.so in the real broker: the capture of the
 * original Go server and clients (tests/gob_transcript.h) replayed over
 * raw sockets, every message the broker sends compared byte for byte with
 * what the original server sent; gob, JSON and binary clients talking to
 * each other through one broker; a bad type definition refused.
 *
 * The gob client here has its own writer and reader, written from the gob
 * specification, so that a bug in common/codec_gob.c cannot hide itself.
 * It rides on an rc_client for the socket (connect, rc_send_raw) but
 * reads the socket itself: rc_recv() is never called on it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "gob_transcript.h"
#include "harness.h"
#include "rawclient.h"

TestSuite(gob, .fini = harness_reap_all, .timeout = 60);

/* Listener 0 speaks gob, listener 1 picks by the first bytes. The
 * prologue harness_write_config() writes names json and binary only, so
 * the whole config is written here. */
static const char config[] =
    "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
    "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
    "                { name = \"binary\"; module = \"translator_binary.so\"; },\n"
    "                { name = \"gob\"; module = \"translator_gob.so\"; } );\n"
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"gob\"; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n"
    MPT_AUTH_ALLOW_ALL;
#define L_GOB 0
#define L_AUTO 1

static struct harness *start_broker(void)
{
    struct harness *h = harness_new();

    harness_launch(h, harness_write_file(h, "mpbroker.conf", config));
    cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)),
              "the broker did not become ready");
    return h;
}

/* ------------------------------------------------------------------------
 * Bytes
 */

struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
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

static void put_byte(struct bytes *b, unsigned char c)
{
    put(b, &c, 1);
}

static int hex_digit(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static struct bytes unhex(const char *hex)
{
    struct bytes b = { 0 };

    for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2)
        put_byte(&b, (unsigned char)(hex_digit(hex[i]) << 4 |
                                     hex_digit(hex[i + 1])));
    return b;
}

static char *to_hex(const unsigned char *p, size_t n)
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

static void gob_uint(struct bytes *b, uint64_t v)
{
    unsigned char tmp[8];
    size_t n = 0;

    if (v < 0x80) {
        put_byte(b, (unsigned char)v);
        return;
    }
    for (; v != 0; v >>= 8)
        tmp[n++] = (unsigned char)v;
    put_byte(b, (unsigned char)(256 - n));
    while (n > 0)
        put_byte(b, tmp[--n]);
}

/* A uint at p[*off..len); false if it is not all there. */
static bool gob_read_uint(const unsigned char *p, size_t len, size_t *off,
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
static struct bytes message_definition(void)
{
    struct bytes b = unhex(gob_transcript[1].hex);

    b.len = 73;
    return b;
}

/* One Message value (type 65), Go's way: zero fields left out, fields
 * numbered Meta 0, OtherClient 1, ConnectionID 2, Data 3 as deltas. */
static struct bytes gob_value(unsigned meta, const char *other,
                              const char *id, const void *data,
                              size_t data_len)
{
    struct bytes body = { 0 }, msg = { 0 };
    int last = -1;

    put(&body, "\xff\x82", 2);
    if (meta != 0) {
        gob_uint(&body, (uint64_t)(0 - last));
        gob_uint(&body, meta);
        last = 0;
    }
    if (other[0] != '\0') {
        gob_uint(&body, (uint64_t)(1 - last));
        gob_uint(&body, strlen(other));
        put(&body, other, strlen(other));
        last = 1;
    }
    if (id[0] != '\0') {
        gob_uint(&body, (uint64_t)(2 - last));
        gob_uint(&body, strlen(id));
        put(&body, id, strlen(id));
        last = 2;
    }
    if (data_len > 0) {
        gob_uint(&body, (uint64_t)(3 - last));
        gob_uint(&body, data_len);
        put(&body, data, data_len);
    }
    put_byte(&body, 0);
    gob_uint(&msg, body.len);
    put(&msg, body.p, body.len);
    free(body.p);
    return msg;
}

/* A value as received, in the broker's numbering. */
struct gob_msg {
    unsigned meta;
    char other[256], id[256];
    unsigned char *data; /* NULL: no Data field */
    size_t data_len;
};

static void gob_parse_value(const unsigned char *p, size_t len,
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

struct gob_client {
    struct rc_client *rc; /* the socket */
    struct bytes in;      /* received, not yet taken */
    bool defined;         /* the broker's definition has been checked */
};

static struct gob_client *gc_connect(struct harness *h, size_t listener)
{
    struct gob_client *c = calloc(1, sizeof *c);

    cr_assert_not_null(c);
    c->rc = rc_connect(h, listener, RC_BINARY); /* only its socket */
    return c;
}

static void gc_close(struct gob_client *c)
{
    rc_close(c->rc);
    free(c->in.p);
    free(c);
}

static void gc_send(struct gob_client *c, const void *p, size_t n)
{
    cr_assert(rc_send_raw(c->rc, p, n), "send failed: %s", rc_error(c->rc));
}

static void gc_send_value(struct gob_client *c, unsigned meta,
                          const char *other, const char *id, const void *data,
                          size_t data_len)
{
    struct bytes v = gob_value(meta, other, id, data, data_len);

    gc_send(c, v.p, v.len);
    free(v.p);
}

/* Read more bytes; false on EOF. Fails the test on a timeout. */
static bool gc_fill(struct gob_client *c)
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
    put(&c->in, buf, (size_t)n);
    return true;
}

/* The next whole gob message, byte count included (malloc'd into *m). */
static void gc_recv_raw(struct gob_client *c, struct bytes *m)
{
    for (;;) {
        size_t off = 0;
        uint64_t count;
        if (gob_read_uint(c->in.p, c->in.len, &off, &count) &&
            c->in.len - off >= count) {
            size_t n = off + (size_t)count;
            *m = (struct bytes){ 0 };
            put(m, c->in.p, n);
            memmove(c->in.p, c->in.p + n, c->in.len - n);
            c->in.len -= n;
            return;
        }
        cr_assert(gc_fill(c), "the broker closed the socket mid-message");
    }
}

static void gc_expect_raw(struct gob_client *c, const unsigned char *want,
                          size_t len, const char *what)
{
    struct bytes got;

    gc_recv_raw(c, &got);
    if (got.len != len || memcmp(got.p, want, len) != 0) {
        char *g = to_hex(got.p, got.len), *w = to_hex(want, len);
        cr_assert_fail("%s:\n got  %s\n want %s", what, g, w);
    }
    free(got.p);
}

/* The next value, after the broker's definition on the first call. */
static void gc_recv(struct gob_client *c, struct gob_msg *m)
{
    struct bytes raw;

    if (!c->defined) {
        struct bytes def = message_definition();
        gc_expect_raw(c, def.p, def.len, "the broker's type definition");
        free(def.p);
        c->defined = true;
    }
    gc_recv_raw(c, &raw);
    gob_parse_value(raw.p, raw.len, m);
    free(raw.p);
}

/* data NULL: no Data field (absent and empty are the same in gob). */
static void gc_expect(struct gob_client *c, unsigned meta, const char *other,
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

static void gc_expect_eof(struct gob_client *c)
{
    cr_assert_eq(c->in.len, 0, "bytes before EOF");
    cr_assert_not(gc_fill(c), "bytes instead of EOF");
}

/* Log in: the definition with the Auth, as the Go client does. */
static struct gob_client *gc_login(struct harness *h, size_t listener,
                                   const char *name)
{
    struct gob_client *c = gc_connect(h, listener);
    struct bytes b = message_definition();
    struct bytes v = gob_value(RC_AUTH, name, "", MPT_SECRET_ALLOW_ALL,
                               strlen(MPT_SECRET_ALLOW_ALL));

    put(&b, v.p, v.len);
    gc_send(c, b.p, b.len);
    gc_expect(c, RC_AUTH_OK, name, "", NULL, 0);
    free(b.p);
    free(v.p);
    return c;
}

/* ------------------------------------------------------------------------
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
    struct bytes want;
    size_t off = 0;
    char what[64];

    if (k->hex == NULL) {
        gc_expect_eof(c);
        return;
    }
    want = unhex(k->hex);
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

static void replay(size_t listener)
{
    struct harness *h = start_broker();
    struct gob_client *c[2] = { gc_connect(h, listener),
                                gc_connect(h, listener) };
    struct pending q[2] = { { .head = 0 }, { .head = 0 } };

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
            struct bytes b = unhex(k->hex);
            gc_send(c[n], b.p, b.len);
            free(b.p);
        }
    }
    drain(c[0], &q[0]);
    drain(c[1], &q[1]);
    gc_close(c[0]);
    gc_close(c[1]);
    harness_stop(h);
}

Test(gob, transcript_on_gob_listener)
{
    replay(L_GOB);
}

Test(gob, transcript_on_auto_listener)
{
    replay(L_AUTO);
}

/* ------------------------------------------------------------------------
 * Across formats
 */

#define BINARY "\x00\x01\x02\xff\x0a\x22"

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

Test(gob, gob_json_and_binary_clients)
{
    struct harness *h = start_broker();
    struct gob_client *g = gc_login(h, L_AUTO, "gopher");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jason");
    struct rc_client *b = rc_login_any(h, L_AUTO, RC_BINARY, "bina");
    unsigned char big[1000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31);

    /* gob opens to JSON. */
    gc_send_value(g, RC_SYN, "jason", "gopher:0", "echo", 4);
    rc_expect(j, RC_SYN, "gopher", "gopher:0", rc_str("echo"));
    send_ok(j, RC_ACK, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_ACK, "jason", "gopher:0", NULL, 0);
    gc_send_value(g, RC_DATA, "jason", "gopher:0", BINARY, 6);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", rc_bytes(BINARY, 6));
    /* gob cannot send empty Data: its absence on a Data message is
     * empty, not null. */
    gc_send_value(g, RC_DATA, "jason", "gopher:0", NULL, 0);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", RC_EMPTY);
    send_ok(j, RC_DATA, "gopher", "gopher:0", rc_str("hi <&>"));
    gc_expect(g, RC_DATA, "jason", "gopher:0", "hi <&>", 6);
    send_ok(j, RC_DATA, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_DATA, "jason", "gopher:0", NULL, 0);

    /* binary opens to gob. */
    send_ok(b, RC_SYN, "gopher", "bina:1", rc_str("chat"));
    gc_expect(g, RC_SYN, "bina", "bina:1", "chat", 4);
    gc_send_value(g, RC_ACK, "bina", "bina:1", NULL, 0);
    rc_expect(b, RC_ACK, "gopher", "bina:1", RC_NULL);
    send_ok(b, RC_DATA, "gopher", "bina:1", RC_EMPTY);
    gc_expect(g, RC_DATA, "bina", "bina:1", NULL, 0);
    send_ok(b, RC_DATA, "gopher", "bina:1", rc_bytes(big, 300));
    gc_expect(g, RC_DATA, "bina", "bina:1", big, 300);
    gc_send_value(g, RC_DATA, "bina", "bina:1", big, sizeof big);
    rc_expect(b, RC_DATA, "gopher", "bina:1", rc_bytes(big, sizeof big));

    /* A Syn to nobody comes back to gob as NoSuchConnection. */
    gc_send_value(g, RC_SYN, "nobody", "gopher:2", "echo", 4);
    gc_expect(g, RC_NO_SUCH_CONN, "nobody", "gopher:2", "echo", 4);

    /* gob leaves: both peers are told. */
    gc_close(g);
    rc_expect(j, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_expect(b, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* Two gob clients, one on each listener, and a JSON client's view of a
 * gob ConnClosed (absent data stays null). */
Test(gob, gob_to_gob_and_close)
{
    struct harness *h = start_broker();
    struct gob_client *a = gc_login(h, L_GOB, "alice");
    struct gob_client *z = gc_login(h, L_AUTO, "zed");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jo");

    gc_send_value(a, RC_SYN, "zed", "alice:1", "p", 1);
    gc_expect(z, RC_SYN, "alice", "alice:1", "p", 1);
    gc_send_value(z, RC_ACK, "alice", "alice:1", NULL, 0);
    gc_expect(a, RC_ACK, "zed", "alice:1", NULL, 0);
    gc_send_value(z, RC_CLOSED, "alice", "alice:1", NULL, 0);
    gc_expect(a, RC_CLOSED, "zed", "alice:1", NULL, 0);

    gc_send_value(a, RC_SYN, "jo", "alice:2", "p", 1);
    rc_expect(j, RC_SYN, "alice", "alice:2", rc_str("p"));
    send_ok(j, RC_ACK, "alice", "alice:2", RC_NULL);
    gc_expect(a, RC_ACK, "jo", "alice:2", NULL, 0);
    gc_send_value(a, RC_CLOSED, "jo", "alice:2", NULL, 0);
    rc_expect(j, RC_CLOSED, "alice", "alice:2", RC_NULL);

    gc_close(a);
    gc_close(z);
    rc_close(j);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Bad input
 */

/* A definition with the wrong field type: AuthFailure with the reason,
 * in gob, then the socket closes. */
Test(gob, wrong_type_definition_refused)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_connect(h, L_GOB);
    struct bytes b = message_definition();
    struct gob_msg m;

    /* Meta's type: uint (3, sent as 0x06) becomes int (2, 0x04). */
    cr_assert_eq(b.p[27], 0x06);
    b.p[27] = 0x04;
    gc_send(c, b.p, b.len);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_AUTH_FAILURE);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "field Meta has type int, expected "
                                     "uint") != NULL,
              "reason: %s", (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    free(b.p);
    gc_close(c);
    harness_stop(h);
}

/* After login, a malformed value gets WAT with the reason, then the
 * socket closes; the others carry on. */
Test(gob, malformed_value_after_login)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_login(h, L_GOB, "mallory");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jo");
    struct gob_msg m;

    /* Meta 256 does not fit in a uint8. */
    gc_send(c, "\x07\xff\x82\x01\xfe\x01\x00\x00", 8);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_WAT);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "Meta value 256") != NULL, "reason: %s",
              (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    gc_close(c);
    send_ok(j, RC_SYN, "jo", "jo:1", rc_str("self"));
    rc_expect(j, RC_SYN, "jo", "jo:1", rc_str("self"));
    rc_close(j);
    harness_stop(h);
}

/* A value too big for max_message_size is refused from its byte count:
 * the broker answers before the rest is sent. */
Test(gob, oversize_refused_from_the_count)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_login(h, L_GOB, "big");
    struct gob_msg m;

    /* 2 MiB announced (the default limit is 1 MiB): 0xfd + 3 bytes. */
    gc_send(c, "\xfd\x20\x00\x00\xff\x82", 6);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_WAT);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "exceeds the limit") != NULL,
              "reason: %s", (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    gc_close(c);
    harness_stop(h);
}
