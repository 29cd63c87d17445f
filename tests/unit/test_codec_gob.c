/*
 * test_codec_gob.c - common/codec_gob.c: every chunk of the capture of the
 * original Go server and clients (decoded, and re-encoded byte for byte),
 * the encoder's stream state, type definitions in another field order,
 * every split point, and malformed input: each refused with a reason,
 * as early as its bytes show it, never read past the buffer (every
 * decode gets an exact-size copy, for ASan and valgrind).
 *
 * The gob bytes the tests build come from a small encoder of their own
 * (struct gb below), written from the gob specification; it is checked
 * against the capture first.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "codec.h"
#include "gob_transcript.h"
#include "codec_check.h"
#include "message.h"

#define MAX_SIZE 1048576
#define ERRLEN 256

static const struct mp_codec_ops *const codec = &mp_codec_gob;

#define SECRET "No password needed!"
#define BINARY "\x00\x01\x02\xff\x0a\x22"

/* ------------------------------------------------------------------------
 * Helpers
 */

static void *new_stream(void)
{
    void *s = codec->stream_new(NULL);

    cr_assert_not_null(s);
    return s;
}

/* Decode from an exact-size copy (so ASan/valgrind see overreads). */
static enum mp_decode_status decode_n(void *stream, const void *bytes,
                                      size_t len, size_t max_size,
                                      struct mp_message *msg,
                                      size_t *consumed, char *err)
{
    return codec_decode_exact(codec, stream, bytes, len, max_size, msg,
                              consumed, err, ERRLEN);
}

static void make(struct mp_message *m, unsigned meta, const char *other,
                 const char *id, const void *data, size_t data_len)
{
    memset(m, 0, sizeof *m);
    m->meta = (uint8_t)meta;
    cr_assert_eq(mp_message_set_other_client(m, other, strlen(other)), 0);
    cr_assert_eq(mp_message_set_connection_id(m, id, strlen(id)), 0);
    if (data != NULL)
        cr_assert_eq(mp_message_set_data(m, data, data_len), 0);
}

/* data NULL: absent. */
static void assert_fields_level(const struct mp_message *m, unsigned meta,
                                unsigned level, const char *other,
                                const char *id, const void *data,
                                size_t data_len)
{
    cr_assert_eq(m->meta, meta);
    cr_assert_eq(m->level, level);
    cr_assert_str_eq(m->other_client, other);
    cr_assert_eq(m->other_client_len, strlen(other));
    cr_assert_str_eq(m->connection_id, id);
    cr_assert_eq(m->connection_id_len, strlen(id));
    if (data == NULL) {
        cr_assert_not(m->has_data, "data should be absent");
        cr_assert_null(m->data);
        cr_assert_eq(m->data_len, 0);
    } else {
        cr_assert(m->has_data, "data should be present");
        cr_assert_eq(m->data_len, data_len);
        if (data_len > 0)
            cr_assert(memcmp(m->data, data, data_len) == 0);
    }
}

/* A message that announces no level. */
static void assert_fields(const struct mp_message *m, unsigned meta,
                          const char *other, const char *id,
                          const void *data, size_t data_len)
{
    assert_fields_level(m, meta, 0, other, id, data, data_len);
}

static void assert_bytes(const unsigned char *got, size_t got_len,
                         const unsigned char *want, size_t want_len,
                         const char *what)
{
    cr_assert_eq(got_len, want_len, "%s: length %zu, want %zu", what,
                 got_len, want_len);
    for (size_t i = 0; i < want_len; i++)
        cr_assert_eq(got[i], want[i], "%s: byte %zu: 0x%02x, want 0x%02x",
                     what, i, got[i], want[i]);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A hex chunk of the capture as bytes; malloc'd. */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *b = malloc(n + 1);

    cr_assert(b != NULL && strlen(hex) % 2 == 0);
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        cr_assert(hi >= 0 && lo >= 0, "bad hex in %s", hex);
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n;
    return b;
}

/* ------------------------------------------------------------------------
 * The tests' own gob writer, from the specification
 */

struct gb {
    unsigned char b[8192];
    size_t n;
};

static void gb_byte(struct gb *g, unsigned char c)
{
    cr_assert_lt(g->n, sizeof g->b);
    g->b[g->n++] = c;
}

static void gb_uint(struct gb *g, uint64_t v)
{
    unsigned char tmp[8];
    size_t n = 0;

    if (v < 0x80) {
        gb_byte(g, (unsigned char)v);
        return;
    }
    for (; v != 0; v >>= 8)
        tmp[n++] = (unsigned char)v;
    gb_byte(g, (unsigned char)(256 - n));
    while (n > 0)
        gb_byte(g, tmp[--n]);
}

static void gb_int(struct gb *g, int64_t v)
{
    gb_uint(g, v < 0 ? ((uint64_t)~v << 1) | 1 : (uint64_t)v << 1);
}

static void gb_mem(struct gb *g, const void *p, size_t n)
{
    cr_assert_leq(g->n + n, sizeof g->b);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}

static void gb_str(struct gb *g, const char *s)
{
    gb_uint(g, strlen(s));
    gb_mem(g, s, strlen(s));
}

/* Append body as one gob message: its byte count, then the bytes. */
static void gb_message(struct gb *g, const struct gb *body)
{
    gb_uint(g, body->n);
    gb_mem(g, body->b, body->n);
}

struct fdef {
    const char *name;
    int64_t type; /* 3 uint, 5 []byte, 6 string, 2 int, ... */
};

static const struct fdef message_fields[] = {
    { "Meta", 3 }, { "OtherClient", 6 }, { "ConnectionID", 6 },
    { "Data", 5 }, { "Level", 2 },
};
/* message_fields[0..3] is the original's Message; all five, a level-2
 * client's (doc/protocol.md, "Protocol level 2", "Gob"). */
#define LEVEL_FIELDS 5

/* The body of a struct type definition: wireType{StructT: structType{
 * CommonType{Name, Id}, Field: []fieldType{Name, Id}}}. */
static void gb_typedef_body(struct gb *g, int64_t id, const char *type_name,
                            const struct fdef *f, size_t nf)
{
    gb_int(g, -id);
    gb_uint(g, 3); /* wireType.StructT */
    gb_uint(g, 1); /* structType.CommonType */
    if (type_name[0] != '\0') {
        gb_uint(g, 1);
        gb_str(g, type_name);
        gb_uint(g, 1);
    } else {
        gb_uint(g, 2); /* Name omitted: straight to Id */
    }
    gb_int(g, id);
    gb_uint(g, 0);
    gb_uint(g, 1); /* structType.Field */
    gb_uint(g, nf);
    for (size_t i = 0; i < nf; i++) {
        gb_uint(g, 1);
        gb_str(g, f[i].name);
        gb_uint(g, 1);
        gb_int(g, f[i].type);
        gb_uint(g, 0);
    }
    gb_uint(g, 0); /* end of structType */
    gb_uint(g, 0); /* end of wireType */
}

static void gb_typedef(struct gb *g, int64_t id, const char *type_name,
                       const struct fdef *f, size_t nf)
{
    struct gb body = { .n = 0 };

    gb_typedef_body(&body, id, type_name, f, nf);
    gb_message(g, &body);
}

static void gb_message_typedef(struct gb *g)
{
    gb_typedef(g, 65, "Message", message_fields, 4);
}

/* A Message value in our field numbering (Meta 0 ... Data 3); NULL or
 * zero fields omitted, as Go does. */
static void gb_value(struct gb *g, int64_t id, unsigned meta,
                     const char *other, const char *cid, const void *data,
                     size_t data_len)
{
    struct gb body = { .n = 0 };
    int last = -1;

    gb_int(&body, id);
    if (meta != 0) {
        gb_uint(&body, (uint64_t)(0 - last));
        gb_uint(&body, meta);
        last = 0;
    }
    if (other[0] != '\0') {
        gb_uint(&body, (uint64_t)(1 - last));
        gb_str(&body, other);
        last = 1;
    }
    if (cid[0] != '\0') {
        gb_uint(&body, (uint64_t)(2 - last));
        gb_str(&body, cid);
        last = 2;
    }
    if (data != NULL && data_len > 0) {
        gb_uint(&body, (uint64_t)(3 - last));
        gb_uint(&body, data_len);
        gb_mem(&body, data, data_len);
    }
    gb_uint(&body, 0);
    gb_message(g, &body);
}

/* ------------------------------------------------------------------------
 * The capture
 */

/* The embedded copy is the capture (tests/data/wire holds the captures,
 * copied from the project's shared notes). */
Test(gob_go, embedded_transcript_is_the_capture)
{
    const char *srcdir = getenv("MP_SRCDIR");
    char path[4096], line[8192];
    size_t k = 0;
    FILE *f;

    if (srcdir == NULL)
        cr_skip_test("MP_SRCDIR is not set: run through make check");
    snprintf(path, sizeof path, "%s/tests/data/wire/go-gob-transcript.txt",
             srcdir);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f) != NULL) {
        char who[8], hex[8192];
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        cr_assert_eq(sscanf(line, "%7s %8191s", who, hex), 2, "%s", line);
        cr_assert_lt(k, GOB_TRANSCRIPT_LEN, "capture has more chunks");
        const struct gob_chunk *c = &gob_transcript[k++];
        cr_assert_eq(who[1] - '0', c->client, "chunk %zu", k);
        cr_assert_eq(who[2], c->dir, "chunk %zu", k);
        cr_assert_str_eq(hex, c->hex ? c->hex : "<EOF>", "chunk %zu", k);
    }
    fclose(f);
    cr_assert_eq(k, GOB_TRANSCRIPT_LEN);
}

/* The tests' writer produces the capture's type definition. */
Test(gob_go, test_writer_matches_capture)
{
    struct gb g = { .n = 0 };
    size_t len;
    unsigned char *first = unhex(gob_transcript[1].hex, &len);

    gb_message_typedef(&g);
    gb_value(&g, 65, 9, "goecho69300", "", NULL, 0);
    assert_bytes(g.b, g.n, first, len, "typedef and AuthOk");
    free(first);
}

/* The four streams of the capture, each decoded from start to end with
 * its own stream state, and every message the server wrote encoded again
 * with an encoder stream per socket: the same bytes, chunk by chunk. */
struct replay {
    void *dec[2][2]; /* [client - 1][dir == '<'] */
    void *enc[2][2];
    size_t messages[2][2];
};

static void replay_open(struct replay *r)
{
    for (int c = 0; c < 2; c++) {
        r->dec[c][0] = new_stream();
        r->dec[c][1] = new_stream();
        r->enc[c][0] = new_stream();
        r->enc[c][1] = new_stream();
        r->messages[c][0] = r->messages[c][1] = 0;
    }
}

static void replay_close(struct replay *r)
{
    for (int c = 0; c < 2; c++) {
        codec->stream_free(r->dec[c][0]);
        codec->stream_free(r->dec[c][1]);
        codec->stream_free(r->enc[c][0]);
        codec->stream_free(r->enc[c][1]);
    }
}

/* Decode every message of one chunk; re-encode them into *o. */
static void replay_chunk(struct replay *r, size_t i, struct codec_out *o,
                         void (*check)(size_t, const struct mp_message *))
{
    const struct gob_chunk *c = &gob_transcript[i];
    size_t len, off = 0;
    unsigned char *b = unhex(c->hex, &len);
    int s = c->dir == '<';

    while (off < len) {
        struct mp_message m;
        size_t used = 0;
        char err[ERRLEN];
        enum mp_decode_status st = decode_n(r->dec[c->client - 1][s],
                                            b + off, len - off, MAX_SIZE, &m,
                                            &used, err);
        cr_assert_eq(st, MP_DECODE_OK, "chunk %zu at %zu: %s", i, off, err);
        if (check != NULL)
            check(i, &m);
        cr_assert_eq(codec->encode(r->enc[c->client - 1][s], &m, codec_out_write, o),
                     0);
        r->messages[c->client - 1][s]++;
        off += used;
        mp_message_clear(&m);
    }
    free(b);
}

/* The fields of the distinctive messages of the capture. */
static void check_known(size_t i, const struct mp_message *m)
{
    static const char echo[] = "echo";

    switch (m->meta) {
    case MP_META_AUTH:
        cr_assert(m->has_data && m->data_len == sizeof SECRET - 1 &&
                  memcmp(m->data, SECRET, m->data_len) == 0);
        cr_assert_eq(m->connection_id_len, 0);
        break;
    case MP_META_AUTH_OK:
        assert_fields(m, 9, gob_transcript[i].client == 1 ? "goecho69300"
                                                          : "gocli69300",
                      "", NULL, 0);
        break;
    case MP_META_CONN_ACK:
    case MP_META_CONN_CLOSED:
    case MP_META_UNKNOWN_PROTO:
    case MP_META_CLIENT_CLOSED:
        cr_assert_not(m->has_data, "chunk %zu: meta %u has no data", i,
                      m->meta);
        break;
    case MP_META_NO_SUCH_CONNECTION:
        assert_fields(m, 2, "absent69300", "gocli69300:2", echo, 4);
        break;
    case MP_META_CONN_SYN:
        cr_assert(m->has_data);
        break;
    case MP_META_DATA:
        cr_assert(m->has_data && m->data_len > 0);
        cr_assert(memcmp(m->data, "msg ", 4) == 0 ||
                  (m->data_len == 6 && memcmp(m->data, BINARY, 6) == 0));
        break;
    default:
        cr_assert_fail("chunk %zu: unexpected meta %u", i, m->meta);
    }
}

Test(gob_go, every_chunk_decodes_and_reencodes_byte_exact)
{
    struct replay r;
    size_t chunks = 0;

    replay_open(&r);
    for (size_t i = 0; i < GOB_TRANSCRIPT_LEN; i++) {
        const struct gob_chunk *c = &gob_transcript[i];
        struct codec_out o = { 0 };
        size_t len;
        unsigned char *want;

        if (c->hex == NULL)
            continue;
        replay_chunk(&r, i, &o, check_known);
        /* What the server wrote must come out identical; the clients'
         * chunks too, as they came from the same gob.Encoder. */
        want = unhex(c->hex, &len);
        assert_bytes(o.p, o.len, want, len, c->hex);
        free(want);
        free(o.p);
        chunks++;
    }
    cr_assert_eq(chunks, 419);
    /* c1> Auth, Ack, 100 echoes, UnknownProto, Ack */
    cr_assert_eq(r.messages[0][0], 104);
    /* c2> Auth, Syn, 100 data, Closed, Syn x3 */
    cr_assert_eq(r.messages[1][0], 106);
    /* c1< AuthOk, Syn, 100 data, Closed, Syn x2 */
    cr_assert_eq(r.messages[0][1], 105);
    /* c2< AuthOk, Ack, 100 echoes, UnknownProto, bounce, Ack,
     * ClientClosed */
    cr_assert_eq(r.messages[1][1], 106);
    replay_close(&r);
}

/* What the broker builds must come out as the server's bytes, from a
 * fresh stream: the definition, then AuthOk. */
Test(gob_go, auth_ok_like_go_server)
{
    void *s = new_stream();
    struct mp_message m;
    struct codec_out o = { 0 };
    size_t len;
    unsigned char *want = unhex(gob_transcript[1].hex, &len);

    make(&m, MP_META_AUTH_OK, "goecho69300", "", NULL, 0);
    cr_assert_eq(codec->encode(s, &m, codec_out_write, &o), 0);
    assert_bytes(o.p, o.len, want, len, "AuthOk");
    cr_assert_eq(o.writes, 1, "definition and value in one write");
    free(want);
    free(o.p);
    codec->stream_free(s);
}

/* The server's side of socket 2, all of it, arriving a byte at a time. */
Test(gob_go, server_stream_byte_by_byte)
{
    unsigned char all[16384];
    size_t total = 0, pos = 0, k = 0;
    void *s = new_stream();

    for (size_t i = 0; i < GOB_TRANSCRIPT_LEN; i++) {
        const struct gob_chunk *c = &gob_transcript[i];
        size_t len;
        unsigned char *b;
        if (c->hex == NULL || c->client != 2 || c->dir != '<')
            continue;
        b = unhex(c->hex, &len);
        cr_assert_leq(total + len, sizeof all);
        memcpy(all + total, b, len);
        total += len;
        free(b);
    }
    for (size_t p = 0; p <= total; p++) {
        struct mp_message m;
        size_t used;
        char err[ERRLEN];
        enum mp_decode_status st = decode_n(s, all + pos, p - pos, MAX_SIZE,
                                            &m, &used, err);
        if (st == MP_DECODE_OK) {
            pos += used;
            k++;
            mp_message_clear(&m);
        } else {
            cr_assert_eq(st, MP_DECODE_NEED_MORE, "at %zu: %s", p, err);
        }
    }
    cr_assert_eq(pos, total);
    cr_assert_eq(k, 106);
    codec->stream_free(s);
}

/* The first chunk (definition and Auth) split in two at every point,
 * each time on a fresh stream. */
Test(gob_go, first_chunk_every_split)
{
    size_t len;
    unsigned char *b = unhex(gob_transcript[0].hex, &len);

    for (size_t cut = 0; cut <= len; cut++) {
        void *s = new_stream();
        struct mp_message m;
        size_t used;
        char err[ERRLEN];
        enum mp_decode_status st = decode_n(s, b, cut, MAX_SIZE, &m, &used,
                                            err);
        if (cut < len) {
            cr_assert_eq(st, MP_DECODE_NEED_MORE, "cut %zu: %s", cut, err);
            st = decode_n(s, b, len, MAX_SIZE, &m, &used, err);
        }
        cr_assert_eq(st, MP_DECODE_OK, "cut %zu: %s", cut, err);
        cr_assert_eq(used, len);
        assert_fields(&m, 8, "goecho69300", "", SECRET, sizeof SECRET - 1);
        mp_message_clear(&m);
        codec->stream_free(s);
    }
    free(b);
}

/* ------------------------------------------------------------------------
 * Encoding
 */

static struct codec_out encode_on(void *s, const struct mp_message *m)
{
    struct codec_out o = { 0 };

    cr_assert_eq(codec->encode(s, m, codec_out_write, &o), 0);
    return o;
}

Test(gob_encode, definition_once_per_stream)
{
    void *s1 = new_stream(), *s2 = new_stream();
    struct mp_message m;
    struct codec_out a, b, c;

    make(&m, MP_META_CONN_ACK, "bob", "alice:0", NULL, 0);
    a = encode_on(s1, &m);
    b = encode_on(s1, &m);
    c = encode_on(s2, &m);
    cr_assert_eq(a.len, 73 + b.len);
    assert_bytes(a.p + 73, a.len - 73, b.p, b.len, "value after definition");
    assert_bytes(c.p, c.len, a.p, a.len, "a new stream defines again");
    free(a.p);
    free(b.p);
    free(c.p);
    codec->stream_free(s1);
    codec->stream_free(s2);
}

/* Fields with zero values are left out; deltas skip them. */
Test(gob_encode, zero_fields_omitted)
{
    void *s = new_stream();
    struct mp_message m;
    struct codec_out o;

    free(encode_on(s, &(struct mp_message){ 0 }).p); /* the definition */

    make(&m, 0, "", "", NULL, 0);
    o = encode_on(s, &m);
    assert_bytes(o.p, o.len, (const unsigned char *)"\x03\xff\x82\x00", 4,
                 "all zero");
    free(o.p);

    make(&m, 0, "", "x:1", NULL, 0);
    o = encode_on(s, &m);
    assert_bytes(o.p, o.len,
                 (const unsigned char *)"\x08\xff\x82\x03\x03x:1\x00", 9,
                 "only ConnectionID: delta 3");
    free(o.p);

    make(&m, 4, "goecho69300", "", NULL, 0);
    o = encode_on(s, &m);
    size_t len;
    unsigned char *want = unhex("12ff820104010b676f6563686f363933303000",
                                &len);
    assert_bytes(o.p, o.len, want, len, "ClientClosed as captured");
    free(want);
    free(o.p);
    codec->stream_free(s);
}

static struct codec_out encode_after_definition(const struct mp_message *m)
{
    void *s = new_stream();
    struct codec_out o;

    free(encode_on(s, &(struct mp_message){ 0 }).p);
    o = encode_on(s, m);
    codec->stream_free(s);
    return o;
}

/* Gob cannot tell absent data from empty: both are omitted. */
Test(gob_encode, null_and_empty_data_both_omitted)
{
    struct mp_message null_data, empty_data, one_byte;
    struct codec_out a, b, c;

    make(&null_data, 0, "b", "a:1", NULL, 0);
    make(&empty_data, 0, "b", "a:1", "", 0);
    make(&one_byte, 0, "b", "a:1", "z", 1);
    a = encode_after_definition(&null_data);
    b = encode_after_definition(&empty_data);
    c = encode_after_definition(&one_byte);
    assert_bytes(a.p, a.len, b.p, b.len, "null vs empty");
    assert_bytes(a.p, a.len,
                 (const unsigned char *)"\x0b\xff\x82\x02\x01" "b" "\x01\x03"
                                        "a:1\x00", 12, "no Data");
    assert_bytes(c.p, c.len,
                 (const unsigned char *)"\x0e\xff\x82\x02\x01" "b" "\x01\x03"
                                        "a:1\x01\x01z\x00", 15, "Data");
    free(a.p);
    free(b.p);
    free(c.p);
    mp_message_clear(&one_byte);
    mp_message_clear(&empty_data);
}

/* Gob has no field for it: a level is dropped (the peer sees level 1). */
Test(gob_encode, level_is_not_sent)
{
    struct mp_message m;
    struct codec_out a, b;

    make(&m, MP_META_AUTH, "alice", "", "pw", 2);
    a = encode_after_definition(&m);
    m.level = 2;
    b = encode_after_definition(&m);
    assert_bytes(a.p, a.len, b.p, b.len, "with and without level");
    free(a.p);
    free(b.p);
    mp_message_clear(&m);
}

/* Counts of 128 bytes and more take the 0xff/0xfe/0xfd forms; large data
 * goes out in writes of its own. */
Test(gob_encode, long_counts_and_large_data)
{
    static const size_t sizes[] = { 127, 128, 255, 256, 2000, 65535, 65536,
                                    300000 };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *data = malloc(n);
        struct mp_message m, back;
        struct gb want = { .n = 0 };
        struct codec_out o;
        void *enc = new_stream(), *dec = new_stream();
        size_t used;
        char err[ERRLEN];

        for (size_t j = 0; j < n; j++)
            data[j] = (unsigned char)(j * 7);
        make(&m, 0, "peer", "me:1", data, n);
        o = encode_on(enc, &m);
        /* The head as the tests' writer makes it (data aside). */
        gb_message_typedef(&want);
        cr_assert(o.len > want.n + 16);
        cr_assert(memcmp(o.p, want.b, want.n) == 0);
        cr_assert_eq(decode_n(dec, o.p, o.len, MAX_SIZE, &back, &used, err),
                     MP_DECODE_OK, "%zu: %s", n, err);
        cr_assert_eq(used, o.len);
        assert_fields(&back, 0, "peer", "me:1", data, n);
        if (n > 2000)
            cr_assert_eq(o.writes, 3, "head, data, end of struct");
        mp_message_clear(&back);
        mp_message_clear(&m);
        free(o.p);
        free(data);
        codec->stream_free(enc);
        codec->stream_free(dec);
    }
}

Test(gob_encode, write_failure_is_reported)
{
    void *s = new_stream();
    struct mp_message m;
    struct codec_out o = { .fail_from = 1 };
    unsigned char *big = calloc(1, 10000);

    make(&m, 0, "b", "a:1", "x", 1);
    cr_assert_eq(codec->encode(s, &m, codec_out_write, &o), -1);
    /* Nothing went out: the next message still carries the definition. */
    o.fail_from = 0;
    cr_assert_eq(codec->encode(s, &m, codec_out_write, &o), 0);
    cr_assert_eq(o.p[0], 0x48);
    mp_message_clear(&m);

    make(&m, 0, "b", "a:1", big, 10000);
    for (int from = 1; from <= 3; from++) {
        struct codec_out f = { .fail_from = from };
        cr_assert_eq(codec->encode(s, &m, codec_out_write, &f), -1, "%d", from);
        free(f.p);
    }
    free(o.p);
    free(big);
    mp_message_clear(&m);
    codec->stream_free(s);
}

Test(gob_encode, needs_a_stream)
{
    struct mp_message m;
    struct codec_out o = { 0 };

    make(&m, 0, "b", "a:1", NULL, 0);
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, &o), -1);
    cr_assert_eq(o.writes, 0);
}

/* ------------------------------------------------------------------------
 * Decoding
 */

/* Decode every message of g on a fresh stream; return how many. */
static size_t decode_all(const struct gb *g, struct mp_message *msgs,
                         size_t max)
{
    void *s = new_stream();
    size_t off = 0, k = 0;

    while (off < g->n) {
        size_t used;
        char err[ERRLEN];
        cr_assert_lt(k, max);
        cr_assert_eq(decode_n(s, g->b + off, g->n - off, MAX_SIZE, &msgs[k],
                              &used, err),
                     MP_DECODE_OK, "message %zu: %s", k, err);
        off += used;
        k++;
    }
    codec->stream_free(s);
    return k;
}

/* Absent Data is empty for the metas whose data the original clients
 * always send (Data, ConnSyn, Auth), absent (null) for the others. */
Test(gob_decode, absent_data_by_meta)
{
    struct gb g = { .n = 0 };
    struct mp_message m[256];

    gb_message_typedef(&g);
    for (unsigned meta = 0; meta < 256; meta++)
        gb_value(&g, 65, meta, "peer", "me:1", NULL, 0);
    cr_assert_eq(decode_all(&g, m, 256), 256);
    for (unsigned meta = 0; meta < 256; meta++) {
        bool empty = meta == 0 || meta == 5 || meta == 8;
        assert_fields(&m[meta], meta, "peer", "me:1", empty ? "" : NULL, 0);
        mp_message_clear(&m[meta]);
    }
}

/* A Data field present with a zero count (Go never writes one) is
 * present and empty whatever the meta. */
Test(gob_decode, zero_count_data_is_present)
{
    struct gb g = { .n = 0 }, body = { .n = 0 };
    struct mp_message m;

    gb_message_typedef(&g);
    gb_int(&body, 65);
    gb_uint(&body, 1);
    gb_uint(&body, 6);      /* Meta 6 */
    gb_uint(&body, 3);      /* Data */
    gb_uint(&body, 0);
    gb_uint(&body, 0);
    gb_message(&g, &body);
    cr_assert_eq(decode_all(&g, &m, 1), 1);
    assert_fields(&m, 6, "", "", "", 0);
}

/* The peer may define the fields in any order and under any user type
 * id and name: its numbering is used for its values. */
Test(gob_decode, peer_field_order_and_type_id)
{
    static const struct fdef reversed[] = {
        { "Data", 5 }, { "ConnectionID", 6 }, { "OtherClient", 6 },
        { "Meta", 3 },
    };
    struct gb g = { .n = 0 }, body = { .n = 0 };
    struct mp_message m[2];

    gb_typedef(&g, 70, "", reversed, 4);
    /* Data (peer field 0) and Meta (peer field 3). */
    gb_int(&body, 70);
    gb_uint(&body, 1);
    gb_str(&body, "payload");
    gb_uint(&body, 3);
    gb_uint(&body, 5);
    gb_uint(&body, 0);
    gb_message(&g, &body);
    /* OtherClient (peer field 2) only. */
    body.n = 0;
    gb_int(&body, 70);
    gb_uint(&body, 3);
    gb_str(&body, "bob");
    gb_uint(&body, 0);
    gb_message(&g, &body);
    cr_assert_eq(decode_all(&g, m, 2), 2);
    assert_fields(&m[0], 5, "", "", "payload", 7);
    assert_fields(&m[1], 0, "bob", "", "", 0);
    mp_message_clear(&m[0]);
    mp_message_clear(&m[1]);
}

/* Go reads non-minimal numbers (0xff 0x05 for 5); so do we. */
Test(gob_decode, non_minimal_numbers)
{
    struct gb g = { .n = 0 };
    struct mp_message m;
    static const unsigned char value[] = {
        0xfe, 0x00, 0x0f,       /* 15 bytes, in two */
        0xff, 0x82,             /* type 65 */
        0xff, 0x01, 0xff, 0x07, /* Meta 7 */
        0x01, 0xfd, 0x00, 0x00, 0x03, 'b', 'o', 'b',
        0x00,
    };

    gb_message_typedef(&g);
    gb_mem(&g, value, sizeof value);
    cr_assert_eq(decode_all(&g, &m, 1), 1);
    assert_fields(&m, 7, "bob", "", NULL, 0);
}

/* The definition is committed with the first value only: a stream whose
 * first value is incomplete can be fed again from the start. */
Test(gob_decode, definition_kept_across_calls)
{
    struct gb g = { .n = 0 };
    void *s = new_stream();
    struct mp_message m;
    size_t used, first;
    char err[ERRLEN];

    gb_message_typedef(&g);
    gb_value(&g, 65, 8, "alice", "", "pw", 2);
    first = g.n;
    gb_value(&g, 65, 5, "bob", "alice:0", "echo", 4);
    cr_assert_eq(decode_n(s, g.b, first - 1, MAX_SIZE, &m, &used, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_n(s, g.b, g.n, MAX_SIZE, &m, &used, err),
                 MP_DECODE_OK);
    cr_assert_eq(used, first);
    assert_fields(&m, 8, "alice", "", "pw", 2);
    mp_message_clear(&m);
    /* From now on values alone. */
    cr_assert_eq(decode_n(s, g.b + first, g.n - first, MAX_SIZE, &m, &used,
                          err),
                 MP_DECODE_OK, "%s", err);
    assert_fields(&m, 5, "bob", "alice:0", "echo", 4);
    mp_message_clear(&m);
    codec->stream_free(s);
}

/* max_size applies to each value, byte count included; the definition
 * has its own limit. */
Test(gob_decode, value_of_exactly_max_size)
{
    struct gb g = { .n = 0 };
    struct mp_message m;
    size_t used, def;
    char err[ERRLEN];
    void *s = new_stream();

    gb_message_typedef(&g);
    def = g.n;
    gb_value(&g, 65, 0, "b", "a:1", "0123456789", 10);
    size_t value_len = g.n - def; /* 1 + 20 */
    cr_assert_eq(decode_n(s, g.b, g.n, value_len - 1, &m, &used, err),
                 MP_DECODE_ERROR);
    cr_assert(strstr(err, "exceeds the limit") != NULL, "%s", err);
    cr_assert_eq(decode_n(s, g.b, g.n, value_len, &m, &used, err),
                 MP_DECODE_OK, "%s", err);
    mp_message_clear(&m);
    codec->stream_free(s);
}

Test(gob_decode, needs_a_stream)
{
    struct mp_message m;
    size_t used;
    char err[ERRLEN];
    size_t len;
    unsigned char *b = unhex(gob_transcript[0].hex, &len);

    cr_assert_eq(decode_n(NULL, b, len, MAX_SIZE, &m, &used, err),
                 MP_DECODE_ERROR);
    free(b);
}

/* ------------------------------------------------------------------------
 * Malformed input: refused with a reason
 */

/* Decode g on a fresh stream (after `defined`, a definition of Message,
 * when set); the first error must contain `why`. */
static void fails_max(const struct gb *g, bool defined, size_t max,
                      const char *why)
{
    void *s = new_stream();
    struct gb all = { .n = 0 };
    struct mp_message m;
    size_t used, off = 0;
    char err[ERRLEN];
    enum mp_decode_status st;

    if (defined)
        gb_message_typedef(&all);
    gb_mem(&all, g->b, g->n);
    do {
        st = decode_n(s, all.b + off, all.n - off, max, &m, &used, err);
        if (st == MP_DECODE_OK) {
            off += used;
            mp_message_clear(&m);
        }
    } while (st == MP_DECODE_OK && off < all.n);
    cr_assert_eq(st, MP_DECODE_ERROR, "accepted bad input (%s)", why);
    cr_assert(strstr(err, why) != NULL, "got \"%s\", want \"%s\"", err, why);
    codec->stream_free(s);
}

static void fails(const struct gb *g, bool defined, const char *why)
{
    fails_max(g, defined, MAX_SIZE, why);
}

static void fails_raw(const void *bytes, size_t len, bool defined,
                      const char *why)
{
    struct gb g = { .n = 0 };

    gb_mem(&g, bytes, len);
    fails(&g, defined, why);
}

#define FAILS_RAW(lit, defined, why) \
    fails_raw(lit, sizeof(lit) - 1, defined, why)

/* g after a five-field definition must fail with `why`. */
static void fails_level(const struct gb *g, const char *why)
{
    struct gb all = { .n = 0 };

    gb_typedef(&all, 65, "Message", message_fields, LEVEL_FIELDS);
    gb_mem(&all, g->b, g->n);
    fails(&all, false, why);
}

#define FAILS_RAW_LEVEL(lit, why) \
    do { \
        struct gb raw_ = { .n = 0 }; \
        gb_mem(&raw_, lit, sizeof(lit) - 1); \
        fails_level(&raw_, why); \
    } while (0)

static void fails_typedef(const struct fdef *f, size_t nf, const char *why)
{
    struct gb g = { .n = 0 };

    gb_typedef(&g, 65, "Message", f, nf);
    gb_value(&g, 65, 0, "b", "a:1", NULL, 0);
    fails(&g, false, why);
}

Test(gob_malformed, wrong_field_types)
{
    struct fdef f[4];

    memcpy(f, message_fields, sizeof f);
    f[0].type = 2;
    fails_typedef(f, 4, "gob: unexpected type definition: field Meta has "
                        "type int, expected uint");
    memcpy(f, message_fields, sizeof f);
    f[1].type = 5;
    fails_typedef(f, 4, "field OtherClient has type []byte, expected string");
    memcpy(f, message_fields, sizeof f);
    f[3].type = 6;
    fails_typedef(f, 4, "field Data has type string, expected []byte");
    memcpy(f, message_fields, sizeof f);
    f[2].type = 66;
    fails_typedef(f, 4, "field ConnectionID has type type id 66, expected "
                        "string");
    memcpy(f, message_fields, sizeof f);
    f[2].type = 0;
    fails_typedef(f, 4, "field ConnectionID has type type id 0");
}

Test(gob_malformed, wrong_field_sets)
{
    struct fdef f[6];

    memcpy(f, message_fields, sizeof message_fields);
    fails_typedef(f, 3, "field Data is missing");
    fails_typedef(f, 0, "field Meta is missing");
    f[5] = (struct fdef){ "Extra", 2 };
    fails_typedef(f, 6, "6 fields, expected the 4 of Message (5 with "
                        "Level)");
    f[4] = (struct fdef){ "Level", 3 };
    fails_typedef(f, 5, "field Level has type uint, expected int");
    f[4] = (struct fdef){ "Level", 6 };
    fails_typedef(f, 5, "field Level has type string, expected int");
    f[4] = (struct fdef){ "level", 2 };
    fails_typedef(f, 5, "unknown field \"level\"");
    f[4] = (struct fdef){ "Meta", 3 };
    fails_typedef(f, 5, "field Meta defined twice");
    /* Level does not stand in for a field of the original. */
    f[3] = (struct fdef){ "Level", 2 };
    fails_typedef(f, 4, "field Data is missing");
    f[4] = (struct fdef){ "Level", 2 };
    fails_typedef(f, 5, "field Level defined twice");
    f[3] = (struct fdef){ "data", 5 };
    fails_typedef(f, 4, "unknown field \"data\"");
    f[3] = (struct fdef){ "Meta", 3 };
    fails_typedef(f, 4, "field Meta defined twice");
    f[3] = (struct fdef){ "Da\n\xfft", 5 };
    fails_typedef(f, 4, "unknown field \"Da??t\"");
}

/* Hand-made definitions: other kinds of type, bad ids, stray bytes. */
static void fails_definition_body(const unsigned char *body, size_t len,
                                  const char *why)
{
    struct gb g = { .n = 0 }, b = { .n = 0 };

    gb_mem(&b, body, len);
    gb_message(&g, &b);
    gb_value(&g, 65, 0, "b", "a:1", NULL, 0);
    fails(&g, false, why);
}

#define FAILS_DEF(lit, why) fails_definition_body((const unsigned char *)lit, \
                                                  sizeof(lit) - 1, why)

Test(gob_malformed, other_kinds_of_type)
{
    /* wireType.ArrayT (field 0), SliceT (1), MapT (3), GobEncoderT (4) */
    FAILS_DEF("\xff\x81\x01\x01\x01\x02\xff\x82\x00\x00\x00",
              "unexpected type definition: an array type");
    FAILS_DEF("\xff\x81\x02\x01\x01\x02\xff\x82\x00\x00\x00",
              "a slice type");
    FAILS_DEF("\xff\x81\x04\x00", "a map type");
    FAILS_DEF("\xff\x81\x05\x00", "a GobEncoder type");
    FAILS_DEF("\xff\x81\x08\x00", "field delta 8 after field -1 is out of "
                                  "range");
    FAILS_DEF("\xff\x81\x00", "defines no type");

    /* A whole Message struct, then MapT as well. */
    struct gb b = { .n = 0 };
    gb_typedef_body(&b, 65, "Message", message_fields, 4);
    b.n--; /* wireType's end */
    gb_uint(&b, 1);
    gb_uint(&b, 0);
    fails_definition_body(b.b, b.n, "a map type");
}

Test(gob_malformed, definition_ids)
{
    /* CommonType.Id 66 in the definition of 65. */
    FAILS_DEF("\xff\x81\x03\x01\x02\xff\x84\x00\x00\x00",
              "sent as type id 65 but its CommonType says 66");
    /* No CommonType at all: Id 0. */
    FAILS_DEF("\xff\x81\x03\x00\x00", "but its CommonType says 0");
    /* Definitions of builtin or out-of-range ids. */
    FAILS_DEF("\x0b\x03\x00\x00", "type definition for type id 6, not a "
                                  "user type id");
    /* 64, the first user id, is fine (this one fails further on). */
    FAILS_DEF("\x7f\x03\x00\x00", "sent as type id 64");
    FAILS_DEF("\xfb\x01\x00\x00\x00\x01\x03\x00\x00",
              "type definition for type id 2147483649, not a user type id");
    FAILS_DEF("\xf8\xff\xff\xff\xff\xff\xff\xff\xff\x03\x00\x00",
              "type id 9223372036854775808, not a user type id");
}

Test(gob_malformed, stray_bytes)
{
    struct gb g = { .n = 0 }, b = { .n = 0 };

    gb_typedef_body(&b, 65, "Message", message_fields, 4);
    gb_byte(&b, 0x00);
    gb_message(&g, &b);
    fails(&g, false, "1 stray byte(s) after the type definition");

    g.n = 0;
    b.n = 0;
    gb_int(&b, 65);
    gb_uint(&b, 0);
    gb_byte(&b, 0x2a);
    gb_message(&g, &b);
    fails(&g, true, "1 stray byte(s) after the Message value");
}

Test(gob_malformed, values_of_other_types)
{
    struct gb g = { .n = 0 };

    /* A value first, no definition. */
    gb_value(&g, 65, 0, "b", "a:1", NULL, 0);
    fails(&g, false, "expected the Message type definition first, got a "
                     "value of type id 65");
    /* A top-level string (type 6): singleton field 0, then the string. */
    FAILS_RAW("\x05\x0c\x00\x02hi", true,
              "expected a Message value (type id 65), got a value of string");
    FAILS_RAW("\x05\x0c\x00\x02hi", false, "got a value of string");
    /* A value of a type never defined. */
    g.n = 0;
    gb_value(&g, 66, 0, "b", "a:1", NULL, 0);
    fails(&g, true, "got a value of type id 66");
    /* A second definition. */
    g.n = 0;
    gb_typedef(&g, 66, "Message", message_fields, 4);
    fails(&g, true, "unexpected type definition (type id 66) after the "
                    "Message type");
    /* ... even of the same type again. */
    g.n = 0;
    gb_message_typedef(&g);
    fails(&g, true, "(type id 65) after the Message type");
}

Test(gob_malformed, field_values)
{
    /* Meta 256 and 2^64 - 1. */
    FAILS_RAW("\x07\xff\x82\x01\xfe\x01\x00\x00", true,
              "Meta value 256 does not fit in a uint8");
    FAILS_RAW("\x0d\xff\x82\x01\xf8\xff\xff\xff\xff\xff\xff\xff\xff\x00",
              true, "Meta value 18446744073709551615");
    /* Names: longer than 255, not UTF-8. */
    struct gb g = { .n = 0 }, b = { .n = 0 };
    char name[257];
    memset(name, 'n', 256);
    name[256] = '\0';
    gb_int(&b, 65);
    gb_uint(&b, 2);
    gb_str(&b, name);
    gb_uint(&b, 0);
    gb_message(&g, &b);
    fails(&g, true, "OtherClient of 256 bytes is longer than 255");
    FAILS_RAW("\x06\xff\x82\x02\x01\xff\x00", true,
              "OtherClient is not valid UTF-8");
    FAILS_RAW("\x07\xff\x82\x03\x02\xc0\x80\x00", true,
              "ConnectionID is not valid UTF-8");
    /* Field deltas: past the last field, and huge. */
    FAILS_RAW("\x04\xff\x82\x05\x00", true,
              "field delta 5 after field -1 is out of range in the Message "
              "value (4 fields)");
    FAILS_RAW("\x0d\xff\x82\x04\x00\xf8\x7f\xff\xff\xff\xff\xff\xff\xff",
              true, "field delta 9223372036854775807 after field 3");
}

/* Counts that lie: a field running past its message, a message ending
 * inside a field, an invalid length byte. */
Test(gob_malformed, lying_counts)
{
    FAILS_RAW("\x07\xff\x82\x04\x05" "abc", true,
              "Data of 5 bytes runs past the end of its message (3 bytes "
              "left)");
    FAILS_RAW("\x0c\xff\x82\x04\xf8\x7f\xff\xff\xff\xff\xff\xff\xff", true,
              "Data of 9223372036854775807 bytes runs past the end");
    FAILS_RAW("\x05\xff\x82\x02\x09" "b", true,
              "OtherClient of 9 bytes runs past the end");
    FAILS_RAW("\x03\xff\x82\x01", true, "message ends inside Meta");
    FAILS_RAW("\x04\xff\x82\x01\xfe\x01", true, "message ends inside Meta");
    FAILS_RAW("\x02\xff\x82", true, "message ends inside the Message value");
    FAILS_RAW("\x01\xff", true, "message ends inside the type id");
    FAILS_RAW("\x04\xff\x82\x01\x80", true,
              "invalid integer (length byte 0x80) in Meta");
    FAILS_RAW("\x04\xff\x82\xf7\x01", true,
              "invalid integer (length byte 0xf7) in the Message value");
    FAILS_RAW("\x80", true, "invalid message length (length byte 0x80)");
    FAILS_RAW("\x80", false, "invalid message length (length byte 0x80)");
    FAILS_RAW("\x00", true, "empty message");
    FAILS_RAW("\x00", false, "empty message");
    /* A lying count inside the definition. */
    FAILS_DEF("\xff\x81\x03\x01\x01\x50Message", "the type name of 80 bytes "
                                                 "runs past the end");
    FAILS_DEF("\xff\x81\x03\x01\x01", "message ends inside the type name");
    FAILS_DEF("\xff\x81\x03\x01", "message ends inside CommonType");
}

/* Huge counts are refused before anything is allocated or looped over. */
Test(gob_malformed, huge_counts)
{
    struct gb g = { .n = 0 }, b = { .n = 0 };

    /* A definition claiming 2^62 fields. */
    gb_int(&b, -65);
    gb_uint(&b, 3);
    gb_uint(&b, 2); /* straight to Field */
    gb_uint(&b, UINT64_C(1) << 62);
    gb_message(&g, &b);
    fails(&g, false, "4611686018427387904 fields, expected the 4 of Message");
    /* Type names: too long, and too long for any definition. */
    char name[601];
    memset(name, 'T', 600);
    name[600] = '\0';
    g.n = 0;
    gb_typedef(&g, 65, name, message_fields, 4);
    fails(&g, false, "first message (the type definition) of 670 bytes "
                     "exceeds the limit of 512");
    name[256] = '\0';
    g.n = 0;
    gb_typedef(&g, 65, name, message_fields, 4);
    fails(&g, false, "the type name of 256 bytes is longer than 255");
}

/* Oversize messages are refused from their byte count alone. */
Test(gob_limits, oversize_refused_from_the_count_alone)
{
    /* A value of 101 bytes (count 100 in one byte), limit 100. */
    fails_max(&(struct gb){ .b = { 0x64 }, .n = 1 }, true, 100,
              "gob: message of 101 bytes exceeds the limit of 100");
    /* 2^64 - 1, in nine bytes. */
    fails_max(&(struct gb){ .b = { 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff },
                            .n = 9 },
              true, MAX_SIZE, "message of 18446744073709551615 bytes");
    fails_max(&(struct gb){ .b = { 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xf8 },
                            .n = 9 },
              true, SIZE_MAX, "message of 18446744073709551615 bytes");
    /* The first message is a definition: at most 512 bytes. */
    fails_max(&(struct gb){ .b = { 0xfe, 0x02, 0x01 }, .n = 3 }, false,
              MAX_SIZE,
              "first message (the type definition) of 516 bytes exceeds the "
              "limit of 512");
}

/* Type ids are checked as soon as they arrive, before the rest. */
Test(gob_limits, type_ids_checked_early)
{
    /* A value of type 66, 100 bytes announced, 3 here. */
    FAILS_RAW("\x64\xff\x84", true, "got a value of type id 66");
    /* JSON on a gob stream: '{' is 123 bytes, '"' a value of type 17. */
    FAILS_RAW("{\"Meta\"", false,
              "expected the Message type definition first, got a value of "
              "type id 17");
}

/* Every prefix of a stream needs more; none is an error. */
Test(gob_limits, truncated_streams_need_more)
{
    struct gb g = { .n = 0 };
    void *s = new_stream();
    struct mp_message m;
    size_t used;
    char err[ERRLEN];

    gb_message_typedef(&g);
    gb_value(&g, 65, 0, "peer", "me:7", "the payload", 11);
    for (size_t n = 0; n < g.n; n++)
        cr_assert_eq(decode_n(s, g.b, n, MAX_SIZE, &m, &used, err),
                     MP_DECODE_NEED_MORE, "n=%zu: %s", n, err);
    cr_assert_eq(decode_n(s, g.b, g.n, MAX_SIZE, &m, &used, err),
                 MP_DECODE_OK, "%s", err);
    mp_message_clear(&m);
    codec->stream_free(s);
}

/* ------------------------------------------------------------------------
 * Level: a level-2 gob client's Message has a fifth field, `Level int`
 */

/*
 * What Go's encoding/gob (go1.19, Debian's golang-go) writes for
 *
 *     type Message struct { Meta MetaType; OtherClient string;
 *         ConnectionID string; Data []byte; Level int } // MetaType uint8
 *
 * encoding Auth{alice, "pw", Level 2}, then Data{bob, alice:0, "hi"}
 * (Level 0: omitted): the definition (83 bytes) and the Auth in one
 * write, the Data in the next, as doc/protocol.md shows them.
 */
static const char go_level_stream[] =
    "52ff81030101074d65737361676501ff8200010501044d657461010600010b4f7468"
    "6572436c69656e74010c00010c436f6e6e656374696f6e4944010c00010444617461"
    "010a0001054c6576656c0104000000"
    "12ff8201080105616c69636502027077010400";
static const char go_level_data[] =
    "15ff820203626f620107616c6963653a300102686900";

/* A value of the five-field Message (Level is field 4). */
static void gb_value_level(struct gb *g, unsigned meta, const char *other,
                           const char *cid, const char *data, int64_t level)
{
    struct gb body = { .n = 0 };
    int last = -1;

    gb_int(&body, 65);
    if (meta != 0) {
        gb_uint(&body, 1);
        gb_uint(&body, meta);
        last = 0;
    }
    if (other[0] != '\0') {
        gb_uint(&body, (uint64_t)(1 - last));
        gb_str(&body, other);
        last = 1;
    }
    if (cid[0] != '\0') {
        gb_uint(&body, (uint64_t)(2 - last));
        gb_str(&body, cid);
        last = 2;
    }
    if (data[0] != '\0') {
        gb_uint(&body, (uint64_t)(3 - last));
        gb_str(&body, data);
        last = 3;
    }
    if (level != 0) {
        gb_uint(&body, (uint64_t)(4 - last));
        gb_int(&body, level);
    }
    gb_uint(&body, 0);
    gb_message(g, &body);
}

static void gb_level_typedef(struct gb *g)
{
    gb_typedef(g, 65, "Message", message_fields, LEVEL_FIELDS);
}

/* The tests' writer agrees with Go on the five-field stream. */
Test(gob_level, test_writer_matches_go)
{
    struct gb g = { .n = 0 };
    size_t len;
    unsigned char *go = unhex(go_level_stream, &len);

    gb_level_typedef(&g);
    cr_assert_eq(g.n, 83, "the definition is 83 bytes, count included");
    gb_value_level(&g, 8, "alice", "", "pw", 2);
    assert_bytes(g.b, g.n, go, len, "five-field definition and Auth");
    /* An "auto" listener recognizes it as it does the four-field one. */
    cr_assert_eq(codec->sniff(go, len), 1);
    cr_assert_eq(mp_codec_json.sniff(go, len), 0);
    cr_assert_eq(mp_codec_binary.sniff(go, len), 0);
    free(go);
}

/* Go's stream: the Auth announces level 2, the Data after it carries no
 * Level (0, omitted) and is level 0 as in any four-field stream. */
Test(gob_level, go_stream_with_level)
{
    void *s = new_stream();
    size_t len, len2, used;
    unsigned char *first = unhex(go_level_stream, &len);
    unsigned char *second = unhex(go_level_data, &len2);
    struct mp_message m;
    char err[ERRLEN];

    cr_assert_eq(decode_n(s, first, len, MAX_SIZE, &m, &used, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(used, len);
    assert_fields_level(&m, MP_META_AUTH, 2, "alice", "", "pw", 2);
    mp_message_clear(&m);
    cr_assert_eq(decode_n(s, second, len2, MAX_SIZE, &m, &used, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(used, len2);
    assert_fields(&m, MP_META_DATA, "bob", "alice:0", "hi", 2);
    mp_message_clear(&m);
    codec->stream_free(s);
    free(first);
    free(second);
}

/* The definition and Auth split in two at every point. */
Test(gob_level, go_stream_every_split)
{
    size_t len;
    unsigned char *b = unhex(go_level_stream, &len);

    for (size_t cut = 0; cut < len; cut++) {
        void *s = new_stream();
        struct mp_message m;
        size_t used;
        char err[ERRLEN];

        cr_assert_eq(decode_n(s, b, cut, MAX_SIZE, &m, &used, err),
                     MP_DECODE_NEED_MORE, "cut %zu: %s", cut, err);
        cr_assert_eq(decode_n(s, b, len, MAX_SIZE, &m, &used, err),
                     MP_DECODE_OK, "cut %zu: %s", cut, err);
        assert_fields_level(&m, MP_META_AUTH, 2, "alice", "", "pw", 2);
        mp_message_clear(&m);
        codec->stream_free(s);
    }
    free(b);
}

/* Level is read as Go writes an int, in any form: 0 to 255 are levels,
 * a value past them or below 0 is refused as Meta 256 is. */
Test(gob_level, level_range)
{
    static const int64_t good[] = { 1, 2, 63, 64, 127, 128, 255 };
    struct gb g = { .n = 0 };
    struct mp_message m[8];

    gb_level_typedef(&g);
    for (size_t i = 0; i < 7; i++)
        gb_value_level(&g, 8, "alice", "", "pw", good[i]);
    cr_assert_eq(decode_all(&g, m, 8), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_fields_level(&m[i], 8, (unsigned)good[i], "alice", "", "pw",
                            2);
        mp_message_clear(&m[i]);
    }
    g.n = 0;
    gb_value_level(&g, 8, "alice", "", "pw", 256);
    fails_level(&g, "gob: Level value 256 is not 0 to 255");
    g.n = 0;
    gb_value_level(&g, 8, "alice", "", "pw", -1);
    fails_level(&g, "gob: Level value -1 is not 0 to 255");
    g.n = 0;
    gb_value_level(&g, 8, "alice", "", "pw", INT64_MIN);
    fails_level(&g, "Level value -9223372036854775808");
    /* A Level field whose int does not fit in its message. */
    FAILS_RAW_LEVEL("\x04\xff\x82\x05\xfe", "message ends inside Level");
}

/* Level may stand anywhere in the peer's definition, under any type id:
 * the peer's numbering is used for its values. */
Test(gob_level, level_first_under_another_id)
{
    static const struct fdef order[] = {
        { "Level", 2 }, { "Data", 5 }, { "Meta", 3 }, { "OtherClient", 6 },
        { "ConnectionID", 6 },
    };
    struct gb g = { .n = 0 }, body = { .n = 0 };
    struct mp_message m;

    gb_typedef(&g, 70, "", order, 5);
    gb_int(&body, 70);
    gb_uint(&body, 1); /* peer field 0: Level 3 */
    gb_int(&body, 3);
    gb_uint(&body, 2); /* peer field 2: Meta 8 */
    gb_uint(&body, 8);
    gb_uint(&body, 1); /* peer field 3: OtherClient */
    gb_str(&body, "carol");
    gb_uint(&body, 0);
    gb_message(&g, &body);
    cr_assert_eq(decode_all(&g, &m, 1), 1);
    assert_fields_level(&m, 8, 3, "carol", "", "", 0);
    mp_message_clear(&m);
}

/* A four-field stream has no field 4; a five-field one no field 5. */
Test(gob_level, field_numbers_follow_the_definition)
{
    struct gb g = { .n = 0 }, body = { .n = 0 };

    gb_message_typedef(&g);
    gb_int(&body, 65);
    gb_uint(&body, 5); /* field 4 */
    gb_int(&body, 2);
    gb_uint(&body, 0);
    gb_message(&g, &body);
    fails(&g, false, "field delta 5 after field -1 is out of range in the "
                     "Message value (4 fields)");
    g.n = 0;
    gb_level_typedef(&g);
    body.n = 0;
    gb_int(&body, 65);
    gb_uint(&body, 6);
    gb_int(&body, 2);
    gb_uint(&body, 0);
    gb_message(&g, &body);
    fails(&g, false, "field delta 6 after field -1 is out of range in the "
                     "Message value (5 fields)");
}

/* doc/protocol.md's level-2 example: a Credit as the broker writes it to
 * a gob client, after its definition. */
Test(gob_level, credit_as_documented)
{
    static const unsigned char want[] =
        "\x1b\xff\x82\x01\x0b\x01\x03" "bob" "\x01\x07" "alice:0"
        "\x01\x06" "131072" "\x00";
    struct mp_message m;
    struct codec_out o;

    make(&m, 11, "bob", "alice:0", "131072", 6);
    o = encode_after_definition(&m);
    assert_bytes(o.p, o.len, want, sizeof want - 1, "Credit");
    free(o.p);
    mp_message_clear(&m);
}

/* mp_codec_gob_client writes what Go writes for a level-2 client: the
 * five-field definition, the Auth with Level, later values without it. */
Test(gob_level, client_encoder_writes_go_bytes)
{
    const struct mp_codec_ops *client = &mp_codec_gob_client;
    void *s = client->stream_new(NULL);
    size_t len, len2;
    unsigned char *go = unhex(go_level_stream, &len);
    unsigned char *go2 = unhex(go_level_data, &len2);
    struct mp_message auth, data;
    struct codec_out o = { 0 };

    cr_assert_not_null(s);
    make(&auth, MP_META_AUTH, "alice", "", "pw", 2);
    auth.level = 2;
    make(&data, MP_META_DATA, "bob", "alice:0", "hi", 2);
    cr_assert_eq(client->encode(s, &auth, codec_out_write, &o), 0);
    assert_bytes(o.p, o.len, go, len, "definition and Auth");
    free(o.p);
    o = (struct codec_out){ 0 };
    cr_assert_eq(client->encode(s, &data, codec_out_write, &o), 0);
    assert_bytes(o.p, o.len, go2, len2, "Data");
    free(o.p);
    o = (struct codec_out){ 0 };
    /* A level on a later message travels too (the broker ignores it). */
    data.level = 255;
    cr_assert_eq(client->encode(s, &data, codec_out_write, &o), 0);
    cr_assert_eq(o.len, len2 + 4);
    cr_assert(memcmp(o.p + o.len - 5, "\x01\xfe\x01\xfe\x00", 5) == 0,
              "Level 255 is the int 0xfe 0x01 0xfe after a delta of 1");
    free(o.p);
    client->stream_free(s);
    mp_message_clear(&auth);
    mp_message_clear(&data);
    free(go);
    free(go2);
}

/* A client stream whose first message has no level writes the
 * original's definition (a broker before Level reads it), and no level
 * afterwards: the definition sent has no Level field. */
Test(gob_level, client_encoder_without_level_is_the_original)
{
    const struct mp_codec_ops *client = &mp_codec_gob_client;
    void *s = client->stream_new(NULL), *plain = new_stream();
    struct mp_message auth;
    struct codec_out a = { 0 }, b = { 0 };

    make(&auth, MP_META_AUTH, "alice", "", "pw", 2);
    cr_assert_eq(client->encode(s, &auth, codec_out_write, &a), 0);
    cr_assert_eq(codec->encode(plain, &auth, codec_out_write, &b), 0);
    assert_bytes(a.p, a.len, b.p, b.len, "first message");
    free(a.p);
    free(b.p);
    a = b = (struct codec_out){ 0 };
    auth.level = 2;
    cr_assert_eq(client->encode(s, &auth, codec_out_write, &a), 0);
    cr_assert_eq(codec->encode(plain, &auth, codec_out_write, &b), 0);
    assert_bytes(a.p, a.len, b.p, b.len, "a level after a four-field start");
    free(a.p);
    free(b.p);
    client->stream_free(s);
    codec->stream_free(plain);
    mp_message_clear(&auth);
}

/* What the client encoder writes, the decoder reads back, level and all,
 * with data large enough for its own write. */
Test(gob_level, client_encoder_round_trip)
{
    const struct mp_codec_ops *client = &mp_codec_gob_client;
    static unsigned char big[5000];
    void *enc = client->stream_new(NULL), *dec = new_stream();
    struct mp_message auth, data, m;
    struct codec_out o = { 0 };
    size_t used, off = 0;
    char err[ERRLEN];

    memset(big, 'x', sizeof big);
    make(&auth, MP_META_AUTH, "alice", "", "", 0);
    auth.level = 2;
    make(&data, MP_META_DATA, "bob", "alice:0", big, sizeof big);
    data.level = 7;
    cr_assert_eq(client->encode(enc, &auth, codec_out_write, &o), 0);
    cr_assert_eq(client->encode(enc, &data, codec_out_write, &o), 0);
    cr_assert_eq(decode_n(dec, o.p, o.len, MAX_SIZE, &m, &used, err),
                 MP_DECODE_OK, "%s", err);
    assert_fields_level(&m, MP_META_AUTH, 2, "alice", "", "", 0);
    mp_message_clear(&m);
    off = used;
    cr_assert_eq(decode_n(dec, o.p + off, o.len - off, MAX_SIZE, &m, &used,
                          err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(off + used, o.len);
    assert_fields_level(&m, MP_META_DATA, 7, "bob", "alice:0", big,
                        sizeof big);
    mp_message_clear(&m);
    free(o.p);
    client->stream_free(enc);
    codec->stream_free(dec);
    mp_message_clear(&data);
    mp_message_clear(&auth);
}

/* Reading a five-field stream changes nothing in what the encoder writes
 * back: the four-field definition, no Level. */
Test(gob_level, encoder_keeps_four_fields)
{
    size_t len;
    unsigned char *capture = unhex(gob_transcript[1].hex, &len);
    struct mp_message m;
    struct codec_out o;
    void *s = new_stream();

    make(&m, MP_META_AUTH_OK, "goecho69300", "", NULL, 0);
    m.level = 2;
    o = encode_on(s, &m);
    assert_bytes(o.p, o.len, capture, len, "definition and AuthOk");
    free(o.p);
    free(capture);
    codec->stream_free(s);
}

/* ------------------------------------------------------------------------
 * Sniffing and the ops table
 */

Test(gob_ops, sniff)
{
    size_t len;
    unsigned char *b = unhex(gob_transcript[0].hex, &len);
    static const unsigned char no[][6] = {
        { '{', '"' }, { ' ' }, { '\n' }, { '\t' }, { '\r' }, { 0x00 },
        { 'G', 'E', 'T', ' ' }, { 'P', 'O', 'S', 'T' },
        { 'H', 'E', 'A', 'D' }, { 0x48, 0x7d, 0x03, 0x01 },
        { 0x48, 0xff, 0x81, 0x02 }, { 0x48, 0xff, 0x81, 0x03, 0x02 },
        { 0x3e }, { 0xfe, 0x02, 0x01 }, { 0x80 }, { 0x16, 0x03, 0x01 },
    };

    for (size_t n = 1; n < 5; n++)
        cr_assert_eq(codec->sniff(b, n), -1, "%zu bytes: cannot tell", n);
    cr_assert_eq(codec->sniff(b, 5), 1);
    cr_assert_eq(codec->sniff(b, len), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        cr_assert_eq(codec->sniff(no[i], sizeof no[i]), 0, "case %zu", i);
    /* The formats never claim each other's streams. */
    cr_assert_eq(mp_codec_json.sniff(b, len), 0);
    cr_assert_eq(mp_codec_binary.sniff(b, len), 0);
    /* A definition under a long name: two-byte count. */
    struct gb g = { .n = 0 };
    char name[101];
    memset(name, 'N', 100);
    name[100] = '\0';
    gb_typedef(&g, 65, name, message_fields, 4);
    cr_assert_eq(g.b[0], 0xff);
    cr_assert_eq(codec->sniff(g.b, g.n), 1);
    free(b);
}

Test(gob_ops, table)
{
    cr_assert_eq(codec->size, sizeof(struct mp_codec_ops));
    cr_assert_not_null(codec->stream_new);
    cr_assert_not_null(codec->stream_free);
    cr_assert_not_null(codec->decode);
    cr_assert_not_null(codec->encode);
    cr_assert_not_null(codec->sniff);
    codec->stream_free(NULL);
}
