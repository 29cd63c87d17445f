/*
 * test_codec_protobuf.c - common/codec_protobuf.c: doc/protocol.md's
 * worked examples byte for byte, round trips, every split point, every
 * error, the fast lane and sniffing; and the codec against libprotobuf-c
 * with protoc-c's code for proto/mp.proto (tests/proto/mp.pb-c.c, made
 * at build time) as the independent reference: the same bytes for the
 * same message, the same message for the same bytes, whatever unknown
 * fields, repetitions and field order the bytes hold.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "codec.h"
#include "codec_check.h"
#include "message.h"
#include "mp.pb-c.h"

#define MAX_SIZE 1048576
#define ERRLEN 256

static const struct mp_codec_ops *const codec = &mp_codec_protobuf;

/* doc/protocol.md's worked examples, prefix and all. */
static const unsigned char auth_example[] = {
    0x13, 0x08, 0x08, 0x12, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x22,
    0x06, 0x73, 0x33, 0x63, 0x72, 0x65, 0x74, 0x28, 0x02
};
static const unsigned char data_example[] = {
    0x14, 0x12, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x1a, 0x07, 0x61,
    0x6c, 0x69, 0x63, 0x65, 0x3a, 0x31, 0x22, 0x02, 0x68, 0x69
};

/* ------------------------------------------------------------------------
 * Helpers
 */

static struct codec_out encode(const struct mp_message *msg)
{
    struct codec_out o = { 0 };

    cr_assert_eq(codec->encode(NULL, msg, codec_out_write, &o), 0);
    return o;
}

/* Decode from an exact-size copy (so ASan/valgrind see overreads). */
static enum mp_decode_status decode_n(const void *bytes, size_t len,
                                      size_t max_size, struct mp_message *msg,
                                      size_t *consumed, char *err)
{
    return codec_decode_exact(codec, NULL, bytes, len, max_size, msg,
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

static void assert_same(const struct mp_message *a,
                        const struct mp_message *b)
{
    cr_assert_eq(a->meta, b->meta);
    cr_assert_eq(a->level, b->level);
    cr_assert_eq(a->other_client_len, b->other_client_len);
    cr_assert(memcmp(a->other_client, b->other_client,
                     a->other_client_len) == 0);
    cr_assert_eq(a->other_client[a->other_client_len], '\0');
    cr_assert_eq(a->connection_id_len, b->connection_id_len);
    cr_assert(memcmp(a->connection_id, b->connection_id,
                     a->connection_id_len) == 0);
    cr_assert_eq(a->connection_id[a->connection_id_len], '\0');
    cr_assert_eq(a->has_data, b->has_data);
    cr_assert_eq(a->data_len, b->data_len);
    if (a->data_len > 0)
        cr_assert(memcmp(a->data, b->data, a->data_len) == 0);
}

static void assert_bytes(const unsigned char *got, size_t got_len,
                         const unsigned char *want, size_t len)
{
    cr_assert_eq(got_len, len, "length %zu, want %zu", got_len, len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i,
                     got[i], want[i]);
}

static void out_byte(struct codec_out *o, unsigned char b)
{
    cr_assert_eq(codec_out_write(o, &b, 1), 0);
}

/* Protobuf's wire format written by hand, for the bytes no encoder
 * writes (unknown fields, repetitions, another order, errors). */
static void put_varint(struct codec_out *o, uint64_t v)
{
    while (v >= 0x80) {
        out_byte(o, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    out_byte(o, (unsigned char)v);
}

static void put_key(struct codec_out *o, uint64_t field, unsigned type)
{
    put_varint(o, field << 3 | type);
}

static void put_varint_field(struct codec_out *o, uint64_t field, uint64_t v)
{
    put_key(o, field, 0);
    put_varint(o, v);
}

static void put_len_field(struct codec_out *o, uint64_t field,
                          const void *bytes, size_t len)
{
    put_key(o, field, 2);
    put_varint(o, len);
    if (len > 0)
        cr_assert_eq(codec_out_write(o, bytes, len), 0);
}

/* body with its varint length in front: a frame. */
static struct codec_out framed(const struct codec_out *body)
{
    struct codec_out o = { 0 };

    put_varint(&o, body->len);
    if (body->len > 0)
        cr_assert_eq(codec_out_write(&o, body->p, body->len), 0);
    return o;
}

/* The bytes of a varint at p: how many. */
static size_t varint_len(const unsigned char *p)
{
    size_t n = 1;

    while (p[n - 1] & 0x80)
        n++;
    return n;
}

/* ------------------------------------------------------------------------
 * The reference: libprotobuf-c with protoc-c's code for proto/mp.proto
 */

/* msg as protoc-c's struct; the strings are msg's own. */
static void to_ref(const struct mp_message *msg, Mp__Message *ref)
{
    mp__message__init(ref);
    ref->meta = (Mp__Meta)msg->meta;
    ref->other_client = (char *)msg->other_client;
    ref->connection_id = (char *)msg->connection_id;
    ref->level = msg->level;
    if (msg->has_data) {
        ref->payload_case = MP__MESSAGE__PAYLOAD_DATA;
        ref->data.len = msg->data_len;
        ref->data.data = msg->data;
    }
}

/* protobuf_c_message_pack() of msg: the body, without a prefix. */
static struct codec_out ref_pack(const struct mp_message *msg)
{
    Mp__Message ref;
    struct codec_out o = { 0 };

    to_ref(msg, &ref);
    o.len = protobuf_c_message_get_packed_size(&ref.base);
    o.cap = o.len + 1;
    o.p = malloc(o.cap);
    cr_assert_not_null(o.p);
    cr_assert_eq(protobuf_c_message_pack(&ref.base, o.p), o.len);
    return o;
}

/* protobuf-c's reading of body[0..len), which must succeed. */
static Mp__Message *ref_unpack(const unsigned char *body, size_t len)
{
    Mp__Message *ref = mp__message__unpack(NULL, len, body);

    cr_assert_not_null(ref, "protobuf-c refuses the body (%zu bytes)", len);
    return ref;
}

/* protobuf-c's message and ours hold the same fields (our names have no
 * NUL byte here, so protobuf-c's C strings are the whole names). */
static void assert_ref_same(const Mp__Message *ref,
                            const struct mp_message *msg)
{
    cr_assert_eq((unsigned)ref->meta, msg->meta);
    cr_assert_eq(ref->level, msg->level);
    cr_assert_str_eq(ref->other_client, msg->other_client);
    cr_assert_str_eq(ref->connection_id, msg->connection_id);
    cr_assert_eq(ref->payload_case == MP__MESSAGE__PAYLOAD_DATA,
                 msg->has_data);
    if (msg->has_data) {
        cr_assert_eq(ref->data.len, msg->data_len);
        cr_assert(msg->data_len == 0 ||
                  memcmp(ref->data.data, msg->data, msg->data_len) == 0);
    }
}

/* A body both must read as `want`: ours with a prefix, protobuf-c bare. */
static void assert_both_read(const struct codec_out *body,
                             const struct mp_message *want)
{
    struct codec_out f = framed(body);
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(f.p, f.len, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, f.len);
    assert_same(&msg, want);
    Mp__Message *ref = ref_unpack(body->p, body->len);
    assert_ref_same(ref, want);
    mp__message__free_unpacked(ref, NULL);
    mp_message_clear(&msg);
    free(f.p);
}

/* ------------------------------------------------------------------------
 * doc/protocol.md's worked examples, both ways
 */

static void assert_encodes_to(const struct mp_message *msg,
                              const unsigned char *want, size_t len)
{
    struct codec_out o = encode(msg);

    assert_bytes(o.p, o.len, want, len);
    free(o.p);
}

Test(protobuf_example, auth_encodes_byte_for_byte)
{
    struct mp_message msg;

    make(&msg, MP_META_AUTH, "alice", "", "s3cret", 6);
    msg.level = 2;
    assert_encodes_to(&msg, auth_example, sizeof auth_example);
    struct codec_out o = encode(&msg);
    cr_assert_eq(o.writes, 1, "a small message is one write");
    free(o.p);
    mp_message_clear(&msg);
}

Test(protobuf_example, data_encodes_byte_for_byte)
{
    struct mp_message msg;

    make(&msg, MP_META_DATA, "alice", "alice:1", "hi", 2);
    assert_encodes_to(&msg, data_example, sizeof data_example);
    mp_message_clear(&msg);
}

Test(protobuf_example, auth_decodes)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(auth_example, sizeof auth_example, MAX_SIZE, &msg,
                          &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, sizeof auth_example);
    cr_assert_eq(msg.meta, MP_META_AUTH);
    cr_assert_str_eq(msg.other_client, "alice");
    cr_assert_eq(msg.other_client_len, 5);
    cr_assert_eq(msg.connection_id_len, 0);
    cr_assert(msg.has_data);
    cr_assert_eq(msg.data_len, 6);
    cr_assert(memcmp(msg.data, "s3cret", 6) == 0);
    cr_assert_eq(msg.level, 2);
    mp_message_clear(&msg);
}

Test(protobuf_example, data_decodes_and_leaves_what_follows)
{
    unsigned char two[sizeof data_example + 3];
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    memcpy(two, data_example, sizeof data_example);
    memcpy(two + sizeof data_example, "\x02\x08\x01", 3);
    cr_assert_eq(decode_n(two, sizeof two, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, sizeof data_example);
    cr_assert_eq(msg.meta, MP_META_DATA);
    cr_assert_str_eq(msg.other_client, "alice");
    cr_assert_str_eq(msg.connection_id, "alice:1");
    cr_assert_eq(msg.connection_id_len, 7);
    cr_assert(msg.has_data && msg.data_len == 2);
    cr_assert(memcmp(msg.data, "hi", 2) == 0);
    cr_assert_eq(msg.level, 0);
    mp_message_clear(&msg);
}

Test(protobuf_example, the_reference_agrees)
{
    Mp__Message *ref = ref_unpack(auth_example + 1, sizeof auth_example - 1);

    cr_assert_eq(ref->meta, MP__META__META_AUTH);
    cr_assert_str_eq(ref->other_client, "alice");
    cr_assert_str_eq(ref->connection_id, "");
    cr_assert_eq(ref->payload_case, MP__MESSAGE__PAYLOAD_DATA);
    cr_assert_eq(ref->data.len, 6);
    cr_assert_eq(ref->level, 2);
    mp__message__free_unpacked(ref, NULL);
    ref = ref_unpack(data_example + 1, sizeof data_example - 1);
    cr_assert_eq(ref->meta, MP__META__META_DATA);
    cr_assert_str_eq(ref->connection_id, "alice:1");
    mp__message__free_unpacked(ref, NULL);
}

/* ------------------------------------------------------------------------
 * Fields one by one
 */

Test(protobuf_encode, absent_and_empty_data)
{
    struct mp_message msg;

    make(&msg, MP_META_AUTH_OK, "alice", "", NULL, 0);
    assert_encodes_to(&msg, (const unsigned char *)"\x09\x08\x09\x12\x05"
                                                   "alice", 10);
    mp_message_set_data(&msg, "", 0);
    assert_encodes_to(&msg, (const unsigned char *)"\x0b\x08\x09\x12\x05"
                                                   "alice\x22\x00", 12);
    mp_message_clear(&msg);
    /* The empty message: a zero length and nothing else. */
    memset(&msg, 0, sizeof msg);
    assert_encodes_to(&msg, (const unsigned char *)"\x00", 1);
    mp_message_set_data(&msg, "", 0);
    assert_encodes_to(&msg, (const unsigned char *)"\x02\x22\x00", 3);
    mp_message_clear(&msg);
}

Test(protobuf_decode, absent_and_empty_data_differ)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n("\x02\x08\x09", 3, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert(!msg.has_data);
    cr_assert_null(msg.data);
    cr_assert_eq(msg.data_len, 0);
    cr_assert_eq(decode_n("\x04\x08\x09\x22\x00", 5, MAX_SIZE, &msg,
                          &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert(msg.has_data);
    cr_assert_eq(msg.data_len, 0);
    mp_message_clear(&msg);
    /* The empty message is a message: meta Data, nothing else. */
    cr_assert_eq(decode_n("\x00", 1, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, 1);
    cr_assert_eq(msg.meta, 0);
    cr_assert(!msg.has_data);
}

Test(protobuf_encode, level_only_when_set)
{
    struct mp_message msg;

    make(&msg, MP_META_AUTH, "", "", NULL, 0);
    msg.level = 2;
    assert_encodes_to(&msg, (const unsigned char *)"\x04\x08\x08\x28\x02", 5);
    msg.level = 255; /* a two-byte varint */
    assert_encodes_to(&msg, (const unsigned char *)"\x05\x08\x08\x28\xff\x01",
                      6);
    msg.level = 0;
    assert_encodes_to(&msg, (const unsigned char *)"\x02\x08\x08", 3);
}

Test(protobuf_encode, every_known_meta_and_an_unknown_one)
{
    for (unsigned meta = 0; meta <= MP_META_GOING_AWAY; meta++) {
        struct mp_message msg;
        make(&msg, meta, "", "", NULL, 0);
        struct codec_out o = encode(&msg);
        if (meta == 0) {
            assert_bytes(o.p, o.len, (const unsigned char *)"\x00", 1);
        } else {
            const unsigned char want[] = { 2, 0x08, (unsigned char)meta };
            assert_bytes(o.p, o.len, want, sizeof want);
        }
        free(o.p);
    }
    struct mp_message msg;
    make(&msg, 200, "", "", NULL, 0); /* 200 = 0xc8 0x01 */
    assert_encodes_to(&msg, (const unsigned char *)"\x03\x08\xc8\x01", 4);
}

static void round_trip(const struct mp_message *msg)
{
    struct mp_message back;
    struct codec_out o = encode(msg);
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(o.p, o.len, MAX_SIZE, &back, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, o.len);
    assert_same(&back, msg);
    mp_message_clear(&back);
    free(o.p);
}

Test(protobuf_roundtrip, every_meta_level_and_data)
{
    for (unsigned meta = 0; meta <= 255; meta++) {
        struct mp_message msg;
        make(&msg, meta, "alice", "alice:ff", NULL, 0);
        round_trip(&msg);
        mp_message_set_data(&msg, "", 0);
        round_trip(&msg);
        mp_message_set_data(&msg, "\x00\x01\xff\x0a", 4);
        round_trip(&msg);
        msg.level = (uint8_t)meta;
        round_trip(&msg);
        mp_message_clear_data(&msg);
        round_trip(&msg);
        mp_message_clear(&msg);
    }
}

Test(protobuf_roundtrip, names_of_255_bytes_and_utf8)
{
    char name[MP_NAME_MAX];
    struct mp_message msg;

    for (size_t i = 0; i < sizeof name; i++)
        name[i] = (char)('a' + i % 26);
    memset(&msg, 0, sizeof msg);
    mp_message_set_other_client(&msg, name, sizeof name);
    mp_message_set_connection_id(&msg, name, sizeof name);
    round_trip(&msg);
    /* A 255-byte name takes a two-byte length: 0x12 0xff 0x01. */
    struct codec_out o = encode(&msg);
    cr_assert_eq(o.p[varint_len(o.p)], 0x12);
    cr_assert_eq(o.p[varint_len(o.p) + 1], 0xff);
    cr_assert_eq(o.p[varint_len(o.p) + 2], 0x01);
    free(o.p);
    mp_message_clear(&msg);

    /* "zoë" and "日本:1" with a 4-byte character. */
    make(&msg, MP_META_CONN_SYN, "zo\xc3\xab", "\xe6\x97\xa5\xe6\x9c\xac:"
         "\xf0\x9f\x98\x80", "chat", 4);
    round_trip(&msg);
    mp_message_clear(&msg);
}

Test(protobuf_roundtrip, one_mib_of_data_with_multibyte_varints)
{
    size_t n = 1 << 20;
    unsigned char *data = malloc(n);
    struct mp_message msg, back;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_not_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    make(&msg, MP_META_DATA, "bob", "alice:9", data, n);
    msg.level = 3;
    struct codec_out o = encode(&msg);
    /* Body: 5 + 9 + (1 + 3 + 2^20) + 2 = 2^20 + 20, a 3-byte varint. */
    size_t body = n + 20;
    cr_assert_eq(o.len, 3 + body);
    cr_assert_eq(o.p[0], (unsigned char)(body | 0x80));
    cr_assert_eq(o.p[1], (unsigned char)((body >> 7) | 0x80));
    cr_assert_eq(o.p[2], (unsigned char)(body >> 14));
    /* The data's length 2^20 = 0x80 0x80 0x40. */
    cr_assert(memcmp(o.p + 3 + 5 + 9, "\x22\x80\x80\x40", 4) == 0);
    cr_assert(memcmp(o.p + 3 + 5 + 9 + 4, data, n) == 0);
    cr_assert(memcmp(o.p + o.len - 2, "\x28\x03", 2) == 0);
    cr_assert_gt(o.writes, 1, "large data is not copied into the header");

    cr_assert_eq(decode_n(o.p, o.len, o.len, &back, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, o.len);
    assert_same(&back, &msg);
    mp_message_clear(&back);
    /* One byte short of the limit: refused from the prefix. */
    cr_assert_eq(decode_n(o.p, 3, o.len - 1, &back, &consumed, err),
                 MP_DECODE_ERROR);

    /* protobuf-c writes the same body and reads ours. */
    struct codec_out ref = ref_pack(&msg);
    assert_bytes(o.p + 3, o.len - 3, ref.p, ref.len);
    Mp__Message *r = ref_unpack(o.p + 3, o.len - 3);
    assert_ref_same(r, &msg);
    mp__message__free_unpacked(r, NULL);
    free(ref.p);
    free(o.p);
    mp_message_clear(&msg);
    free(data);
}

Test(protobuf_encode, write_failure_is_reported)
{
    struct mp_message msg;
    unsigned char *big = calloc(1, 5000);
    struct codec_out o = { .fail_from = 1 };

    make(&msg, 0, "b", "a:1", "x", 1);
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    mp_message_set_data(&msg, big, 5000);
    msg.level = 2; /* header, data, level: three writes */
    for (int from = 1; from <= 3; from++) {
        o = (struct codec_out){ .fail_from = from };
        cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1,
                     "write %d failed unnoticed", from);
        free(o.p);
    }
    free(big);
    mp_message_clear(&msg);
}

/* ------------------------------------------------------------------------
 * Every split point (codec_check.h's exact-size decodes)
 */

static void build_stream(struct codec_out *o, size_t ends[3])
{
    struct mp_message m;

    *o = (struct codec_out){ 0 };
    cr_assert_eq(codec_out_write(o, auth_example, sizeof auth_example), 0);
    ends[0] = o->len;
    make(&m, MP_META_CONN_SYN, "bob", "alice:0", "echo", 4);
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, o), 0);
    ends[1] = o->len;
    mp_message_clear(&m);
    make(&m, 0, "", "x:1", "", 0);
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, o), 0);
    ends[2] = o->len;
    mp_message_clear(&m);
}

static void check_message(size_t k, const struct mp_message *m)
{
    static const unsigned metas[] = { MP_META_AUTH, MP_META_CONN_SYN, 0 };

    cr_assert_eq(m->meta, metas[k]);
    switch (k) {
    case 0:
        cr_assert_str_eq(m->other_client, "alice");
        cr_assert_eq(m->level, 2);
        cr_assert(m->has_data && m->data_len == 6);
        break;
    case 1:
        cr_assert_str_eq(m->other_client, "bob");
        cr_assert_str_eq(m->connection_id, "alice:0");
        cr_assert(m->has_data && m->data_len == 4);
        cr_assert(memcmp(m->data, "echo", 4) == 0);
        break;
    default:
        cr_assert_str_eq(m->connection_id, "x:1");
        cr_assert(m->has_data && m->data_len == 0);
        break;
    }
}

/* First `first` bytes arrive, then `step` more at a time. */
static void feed(size_t first, size_t step)
{
    struct codec_out o;
    size_t ends[3], pos = 0, avail = 0, k = 0;
    bool started = false;

    build_stream(&o, ends);
    while (avail < o.len) {
        avail = started ? avail + step : first;
        started = true;
        if (avail > o.len)
            avail = o.len;
        for (;;) {
            struct mp_message msg;
            size_t consumed;
            char err[ERRLEN];
            enum mp_decode_status st = decode_n(o.p + pos, avail - pos,
                                                MAX_SIZE, &msg, &consumed,
                                                err);
            if (st == MP_DECODE_NEED_MORE) {
                cr_assert(k == 3 || avail < ends[k],
                          "need more at %zu with message %zu ending at %zu",
                          avail, k, ends[k]);
                cr_assert(!msg.has_data && msg.data == NULL);
                break;
            }
            cr_assert_eq(st, MP_DECODE_OK, "%s", err);
            cr_assert_lt(k, 3);
            cr_assert_eq(pos + consumed, ends[k]);
            check_message(k, &msg);
            mp_message_clear(&msg);
            pos += consumed;
            k++;
        }
    }
    cr_assert_eq(k, 3);
    cr_assert_eq(pos, o.len);
    free(o.p);
}

Test(protobuf_split, every_prefix_one_byte_at_a_time)
{
    feed(0, 1);
}

Test(protobuf_split, every_split_into_two_pieces)
{
    struct codec_out o;
    size_t ends[3];

    build_stream(&o, ends);
    free(o.p);
    for (size_t s = 0; s <= ends[2]; s++)
        feed(s, ends[2]);
}

Test(protobuf_split, need_more_at_each_prefix_length)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    for (size_t n = 0; n < sizeof auth_example; n++)
        cr_assert_eq(decode_n(auth_example, n, MAX_SIZE, &msg, &consumed,
                              err),
                     MP_DECODE_NEED_MORE, "n=%zu: %s", n, err);
    /* A length prefix cut inside: 0x80 0x01 is 128. */
    cr_assert_eq(decode_n("\x80", 1, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_n("\x80\x01", 2, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
}

/* ------------------------------------------------------------------------
 * Against the reference
 */

/* The messages the reference checks run on; data of 300 bytes takes a
 * two-byte length. */
#define REF_CASES 12

static void ref_case(size_t i, struct mp_message *m)
{
    static unsigned char big[300];
    static const char utf8[] = "\xc3\xa9t\xc3\xa9:\xe2\x82\xac";

    for (size_t k = 0; k < sizeof big; k++)
        big[k] = (unsigned char)(k * 13);
    switch (i) {
    case 0: make(m, 0, "", "", NULL, 0); break;
    case 1: make(m, 0, "", "", "", 0); break;
    case 2: make(m, MP_META_AUTH, "alice", "", "s3cret", 6); m->level = 2; break;
    case 3: make(m, 0, "alice", "alice:1", "hi", 2); break;
    case 4: make(m, MP_META_CONN_SYN, "bob", "alice:0", "echo", 4); break;
    case 5: make(m, MP_META_AUTH_OK, "alice", "", NULL, 0); break;
    case 6: make(m, MP_META_GOING_AWAY, "", "", "1000", 4); break;
    case 7: make(m, 200, "x", "y:z", big, sizeof big); m->level = 255; break;
    case 8: make(m, MP_META_CONN_ACK, utf8, utf8, "\x00\xff", 2); break;
    case 9: make(m, 127, "", "", NULL, 0); m->level = 128; break;
    case 10: make(m, 128, "", "a:b", "", 0); m->level = 1; break;
    default: {
        char name[MP_NAME_MAX + 1];
        memset(name, 'n', MP_NAME_MAX);
        name[MP_NAME_MAX] = '\0';
        make(m, MP_META_WATCH, name, name, big, 200);
        break;
    }
    }
}

Test(protobuf_reference, our_body_is_protobuf_c_pack)
{
    for (size_t i = 0; i < REF_CASES; i++) {
        struct mp_message msg;
        ref_case(i, &msg);
        struct codec_out ours = encode(&msg), ref = ref_pack(&msg);
        size_t prefix = varint_len(ours.p);
        struct codec_out want_prefix = { 0 };
        put_varint(&want_prefix, ref.len);
        assert_bytes(ours.p, prefix, want_prefix.p, want_prefix.len);
        assert_bytes(ours.p + prefix, ours.len - prefix, ref.p, ref.len);
        free(want_prefix.p);
        free(ours.p);
        free(ref.p);
        mp_message_clear(&msg);
    }
}

Test(protobuf_reference, we_read_protobuf_c_pack)
{
    for (size_t i = 0; i < REF_CASES; i++) {
        struct mp_message msg;
        ref_case(i, &msg);
        struct codec_out ref = ref_pack(&msg);
        assert_both_read(&ref, &msg);
        free(ref.p);
        mp_message_clear(&msg);
    }
}

/* The fields of `m`, each on its own, as protobuf writes them. */
struct fields {
    struct codec_out f[5];
    size_t n;
};

static void split_fields(const struct mp_message *m, struct fields *fs)
{
    memset(fs, 0, sizeof *fs);
    if (m->meta != 0)
        put_varint_field(&fs->f[fs->n++], 1, m->meta);
    if (m->other_client_len != 0)
        put_len_field(&fs->f[fs->n++], 2, m->other_client,
                      m->other_client_len);
    if (m->connection_id_len != 0)
        put_len_field(&fs->f[fs->n++], 3, m->connection_id,
                      m->connection_id_len);
    if (m->has_data)
        put_len_field(&fs->f[fs->n++], 4, m->data, m->data_len);
    if (m->level != 0)
        put_varint_field(&fs->f[fs->n++], 5, m->level);
}

static void free_fields(struct fields *fs)
{
    for (size_t i = 0; i < 5; i++)
        free(fs->f[i].p);
}

static void append(struct codec_out *o, const struct codec_out *part)
{
    if (part->len > 0)
        cr_assert_eq(codec_out_write(o, part->p, part->len), 0);
}

/* An unknown field of each wire type (numbers 6, 15, 16 and 2^29 - 1
 * give one- to five-byte keys). */
static void put_unknown(struct codec_out *o, unsigned which)
{
    switch (which) {
    case 0: put_varint_field(o, 6, UINT64_MAX); break;             /* 10 bytes */
    case 1: put_key(o, 15, 1); codec_out_write(o, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); break;
    case 2: put_len_field(o, 16, "\x08\x08\x22\x00", 4); break;   /* looks like fields */
    case 3: put_key(o, (1u << 29) - 1, 5); codec_out_write(o, "\xff\xff\xff\xff", 4); break;
    case 4: put_key(o, 100, 2); put_varint(o, 0); break;          /* empty LEN */
    default: put_varint_field(o, 7, 0); break;
    }
}

Test(protobuf_reference, unknown_fields_anywhere_are_skipped)
{
    for (size_t i = 0; i < REF_CASES; i++) {
        struct mp_message msg;
        struct fields fs;
        ref_case(i, &msg);
        split_fields(&msg, &fs);
        for (unsigned which = 0; which < 6; which++) {
            for (size_t at = 0; at <= fs.n; at++) {
                struct codec_out body = { 0 };
                for (size_t k = 0; k <= fs.n; k++) {
                    if (k == at)
                        put_unknown(&body, which);
                    if (k < fs.n)
                        append(&body, &fs.f[k]);
                }
                assert_both_read(&body, &msg);
                free(body.p);
            }
        }
        /* All of them at once, around every field. */
        struct codec_out body = { 0 };
        for (size_t k = 0; k < fs.n; k++) {
            put_unknown(&body, (unsigned)k);
            append(&body, &fs.f[k]);
            put_unknown(&body, (unsigned)(5 - k));
        }
        assert_both_read(&body, &msg);
        free(body.p);
        free_fields(&fs);
        mp_message_clear(&msg);
    }
}

Test(protobuf_reference, a_repeated_field_takes_its_last_value)
{
    struct mp_message want;
    struct codec_out body = { 0 };

    make(&want, MP_META_CONN_SYN, "bob", "alice:2", "new", 3);
    want.level = 2;
    put_varint_field(&body, 1, MP_META_AUTH);
    put_len_field(&body, 2, "carol", 5);
    put_len_field(&body, 3, "alice:1", 7);
    put_len_field(&body, 4, "old data", 8);
    put_varint_field(&body, 5, 7);
    put_varint_field(&body, 1, MP_META_CONN_SYN);
    put_len_field(&body, 2, "bob", 3);
    put_len_field(&body, 4, "new", 3);
    put_len_field(&body, 3, "alice:2", 7);
    put_varint_field(&body, 5, 2);
    assert_both_read(&body, &want);
    free(body.p);

    /* The last value wins even when it is the default. */
    mp_message_clear(&want);
    make(&want, 0, "", "", "", 0);
    body = (struct codec_out){ 0 };
    put_varint_field(&body, 1, 9);
    put_varint_field(&body, 1, 0);
    put_len_field(&body, 2, "x", 1);
    put_len_field(&body, 2, "", 0);
    put_len_field(&body, 4, "abc", 3);
    put_len_field(&body, 4, "", 0);
    put_varint_field(&body, 5, 2);
    put_varint_field(&body, 5, 0);
    assert_both_read(&body, &want);
    free(body.p);
    mp_message_clear(&want);
}

/* Every order of the fields (all 120 for a message with five). */
static void permute(const struct fields *fs, size_t *order, size_t k,
                    const struct mp_message *want, size_t *count)
{
    if (k == fs->n) {
        struct codec_out body = { 0 };
        for (size_t i = 0; i < fs->n; i++)
            append(&body, &fs->f[order[i]]);
        assert_both_read(&body, want);
        free(body.p);
        (*count)++;
        return;
    }
    for (size_t i = k; i < fs->n; i++) {
        size_t t = order[k];
        order[k] = order[i];
        order[i] = t;
        permute(fs, order, k + 1, want, count);
        order[i] = order[k];
        order[k] = t;
    }
}

Test(protobuf_reference, fields_in_any_order_decode_the_same)
{
    for (size_t i = 0; i < REF_CASES; i++) {
        struct mp_message msg;
        struct fields fs;
        size_t order[5] = { 0, 1, 2, 3, 4 }, count = 0;
        ref_case(i, &msg);
        split_fields(&msg, &fs);
        permute(&fs, order, 0, &msg, &count);
        if (fs.n == 5)
            cr_assert_eq(count, 120);
        free_fields(&fs);
        mp_message_clear(&msg);
    }
}

/* ------------------------------------------------------------------------
 * Errors, each with its reason
 */

static void fails_n(const void *frame, size_t len, size_t max,
                    const char *why)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(frame, len, max, &msg, &consumed, err),
                 MP_DECODE_ERROR, "accepted a bad message (%s)", why);
    cr_assert(strstr(err, why) != NULL, "got \"%s\", want \"%s\"", err, why);
    /* The fast lane leaves it to decode(). */
    cr_assert(!codec_check_wire(codec, frame, len, max));
}

#define FAILS(lit, why) fails_n(lit, sizeof(lit) - 1, MAX_SIZE, why)

/* A body, framed, must fail with `why`. */
static void body_fails(struct codec_out *body, const char *why)
{
    struct codec_out f = framed(body);

    fails_n(f.p, f.len, MAX_SIZE, why);
    free(f.p);
    free(body->p);
    *body = (struct codec_out){ 0 };
}

Test(protobuf_errors, oversize_refused_from_the_prefix_alone)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    /* 99 = 0x63: 100 bytes with the prefix, limit 99; only the prefix. */
    fails_n("\x63", 1, 99, "exceeds");
    fails_n("\x63", 1, 99, "100 bytes");
    /* doc/protocol.md's example, word for word. */
    fails_n("\xff\xff\x7f", 3, 8192,
            "message of 2097154 bytes exceeds the limit of 8192");
    /* 2^20 + 1 in three bytes, over 1 MiB. */
    fails_n("\x81\x80\x40", 3, MAX_SIZE, "exceeds");
    /* The largest varint: no wrap around. */
    fails_n("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, SIZE_MAX,
            "exceeds");
    /* Exactly at the limit: wait for the rest. */
    cr_assert_eq(decode_n("\x62", 1, 99, &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_n("\x62", 1, 98, &msg, &consumed, err),
                 MP_DECODE_ERROR);
}

Test(protobuf_errors, malformed_prefix)
{
    /* Eleven bytes of varint. */
    FAILS("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", "length prefix");
    /* Ten bytes, the last above 1: past 2^64. */
    FAILS("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", "length prefix");
}

Test(protobuf_errors, truncated_fields)
{
    struct codec_out body = { 0 };

    put_key(&body, 1, 0); /* a key with no value */
    body_fails(&body, "meta");
    put_key(&body, 1, 0);
    out_byte(&body, 0x80); /* a varint cut */
    body_fails(&body, "malformed varint");
    put_key(&body, 2, 2); /* a LEN with no length */
    body_fails(&body, "other_client");
    put_key(&body, 6, 1);
    codec_out_write(&body, "1234567", 7);
    body_fails(&body, "past the end");
    put_key(&body, 6, 5);
    codec_out_write(&body, "123", 3);
    body_fails(&body, "past the end");
    out_byte(&body, 0x88); /* a key cut */
    body_fails(&body, "key");
}

/* A key and a LEN field's length are 32-bit: at most 5 bytes, as
 * protobuf-c reads them; padded to 5 they are still taken. */
Test(protobuf_errors, keys_and_lengths_longer_than_5_bytes)
{
    struct codec_out body = { 0 };
    struct mp_message want;

    codec_out_write(&body, "\x88\x80\x80\x80\x00\x08", 6); /* meta 8 */
    codec_out_write(&body, "\x12\x85\x80\x80\x80\x00" "alice", 11);
    make(&want, MP_META_AUTH, "alice", "", NULL, 0);
    assert_both_read(&body, &want);
    free(body.p);
    body = (struct codec_out){ 0 };
    codec_out_write(&body, "\x88\x80\x80\x80\x80\x00\x08", 7);
    cr_assert_null(mp__message__unpack(NULL, body.len, body.p));
    body_fails(&body, "key");
    codec_out_write(&body, "\x12\x81\x80\x80\x80\x80\x00" "a", 8);
    cr_assert_null(mp__message__unpack(NULL, body.len, body.p));
    body_fails(&body, "other_client");
    /* A value (meta, level, unknown varints) may take all ten. */
    codec_out_write(&body, "\x08\x88\x80\x80\x80\x80\x80\x80\x80\x80"
                           "\x00", 11);
    mp_message_clear(&want);
    make(&want, MP_META_AUTH, "", "", NULL, 0);
    assert_both_read(&body, &want);
    free(body.p);
    mp_message_clear(&want);
}

Test(protobuf_errors, len_past_the_end)
{
    struct codec_out body = { 0 };

    put_key(&body, 4, 2);
    put_varint(&body, 3);
    codec_out_write(&body, "ab", 2);
    body_fails(&body, "past the end");
    /* The largest length (32 bits) must not wrap. */
    put_key(&body, 2, 2);
    put_varint(&body, UINT32_MAX);
    body_fails(&body, "past the end");
    /* Unknown LEN fields too. */
    put_key(&body, 9, 2);
    put_varint(&body, 1);
    body_fails(&body, "past the end");
}

Test(protobuf_errors, field_number_zero_and_too_large)
{
    struct codec_out body = { 0 };

    put_varint_field(&body, 0, 1);
    body_fails(&body, "field number 0");
    put_key(&body, 0, 2);
    put_varint(&body, 0);
    body_fails(&body, "out of range");
    put_varint_field(&body, (uint64_t)1 << 29, 1);
    body_fails(&body, "out of range");
}

Test(protobuf_errors, wire_types_3_4_6_7)
{
    static const unsigned types[] = { 3, 4, 6, 7 };

    for (size_t i = 0; i < 4; i++) {
        for (uint64_t field = 1; field <= 6; field += 5) {
            struct codec_out body = { 0 };
            put_key(&body, field, types[i]);
            put_varint(&body, 0);
            body_fails(&body, "wire type");
        }
    }
}

Test(protobuf_errors, known_field_with_the_wrong_wire_type)
{
    static const struct {
        uint64_t field;
        unsigned type;
        const char *name;
    } cases[] = {
        { 1, 2, "meta" }, { 1, 1, "meta" }, { 1, 5, "meta" },
        { 2, 0, "other_client" }, { 3, 0, "connection_id" },
        { 4, 0, "data" }, { 4, 5, "data" }, { 5, 2, "level" },
        { 5, 1, "level" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct codec_out body = { 0 };
        put_key(&body, cases[i].field, cases[i].type);
        switch (cases[i].type) {
        case 0: put_varint(&body, 1); break;
        case 1: codec_out_write(&body, "12345678", 8); break;
        case 2: put_varint(&body, 1); out_byte(&body, 'x'); break;
        default: codec_out_write(&body, "1234", 4); break;
        }
        struct codec_out f = framed(&body);
        fails_n(f.p, f.len, MAX_SIZE, "wire type");
        fails_n(f.p, f.len, MAX_SIZE, cases[i].name);
        free(f.p);
        free(body.p);
    }
}

Test(protobuf_errors, meta_and_level_out_of_range)
{
    struct codec_out body = { 0 };

    put_varint_field(&body, 1, 256);
    body_fails(&body, "meta 256");
    put_varint_field(&body, 5, 256);
    body_fails(&body, "level 256");
    /* An int32 enum of -1, as protobuf writes it: ten bytes. */
    put_varint_field(&body, 1, (uint64_t)(int64_t)-1);
    cr_assert_eq(body.len, 11);
    body_fails(&body, "meta");
    put_varint_field(&body, 1, (uint64_t)(int64_t)-8);
    body_fails(&body, "out of range");
    /* 255 is the largest. */
    put_varint_field(&body, 1, 255);
    put_varint_field(&body, 5, 255);
    struct mp_message want;
    make(&want, 255, "", "", NULL, 0);
    want.level = 255;
    assert_both_read(&body, &want);
    free(body.p);
}

Test(protobuf_errors, names_of_256_bytes)
{
    char name[MP_NAME_MAX + 1];
    struct codec_out body = { 0 };

    memset(name, 'a', sizeof name);
    put_len_field(&body, 2, name, sizeof name);
    body_fails(&body, "other_client is 256 bytes");
    put_len_field(&body, 3, name, sizeof name);
    body_fails(&body, "connection_id is 256 bytes");
}

Test(protobuf_errors, names_must_be_utf8)
{
    static const char *const bad[] = {
        "\xff", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82", "\x80",
        "\xf4\x90\x80\x80",
    };
    struct codec_out body = { 0 };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_len_field(&body, 2, bad[i], strlen(bad[i]));
        body_fails(&body, "other_client is not valid UTF-8");
        put_varint_field(&body, 1, 8);
        put_len_field(&body, 3, bad[i], strlen(bad[i]));
        body_fails(&body, "connection_id is not valid UTF-8");
    }
    /* Data is bytes: anything goes there. */
    struct mp_message want;
    make(&want, 0, "", "", "\xff\xc0", 2);
    put_len_field(&body, 4, "\xff\xc0", 2);
    assert_both_read(&body, &want);
    free(body.p);
    mp_message_clear(&want);
}

/* ------------------------------------------------------------------------
 * The fast lane: decode_wire and encode_wire against decode and encode
 */

Test(protobuf_wire, the_data_example_in_place)
{
    struct mp_message env, msg;
    size_t consumed = 0, off = 0, len = 0, used;
    char err[ERRLEN];

    memset(&env, 0, sizeof env);
    cr_assert_eq(codec->decode_wire(NULL, data_example, sizeof data_example,
                                    MAX_SIZE, &env, &consumed, &off, &len),
                 1);
    cr_assert_eq(consumed, sizeof data_example);
    cr_assert_eq(off, 19, "\"hi\" lies at byte 19");
    cr_assert_eq(len, 2);
    cr_assert_null(env.data);
    cr_assert(env.has_data);
    cr_assert_eq(env.data_len, 2);
    cr_assert_str_eq(env.other_client, "alice");
    cr_assert_str_eq(env.connection_id, "alice:1");

    /* decode gives the same envelope. */
    cr_assert_eq(decode_n(data_example, sizeof data_example, MAX_SIZE, &msg,
                          &used, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(msg.meta, env.meta);
    cr_assert_eq(msg.level, env.level);
    cr_assert_str_eq(msg.other_client, env.other_client);
    cr_assert_str_eq(msg.connection_id, env.connection_id);

    /* encode_wire writes what encode writes. */
    struct codec_out a = { 0 }, b = { 0 };
    cr_assert_eq(codec->encode_wire(NULL, &env, data_example + off, len,
                                    codec_out_write, &a), 0);
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &b), 0);
    assert_bytes(a.p, a.len, b.p, b.len);
    assert_bytes(a.p, a.len, data_example, sizeof data_example);
    free(a.p);
    free(b.p);

    /* wire_data gives the data. */
    struct mp_message d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(codec->wire_data(data_example + off, len, &d), 0);
    cr_assert(d.has_data && d.data_len == 2 && memcmp(d.data, "hi", 2) == 0);
    mp_message_clear(&d);
    cr_assert_eq(codec->wire_data(data_example, 0, &d), 0);
    cr_assert(d.has_data && d.data_len == 0);
    mp_message_clear(&d);
    mp_message_clear(&msg);
}

Test(protobuf_wire, absent_data_and_the_auth_example)
{
    struct mp_message env;
    size_t consumed, off, len;

    memset(&env, 0, sizeof env);
    cr_assert_eq(codec->decode_wire(NULL, (const unsigned char *)"\x02\x08\x09",
                                    3, MAX_SIZE, &env, &consumed, &off, &len),
                 1);
    cr_assert(!env.has_data);
    cr_assert_eq(len, 0);
    cr_assert_eq(env.data_len, 0);
    memset(&env, 0, sizeof env);
    cr_assert_eq(codec->decode_wire(NULL, auth_example, sizeof auth_example,
                                    MAX_SIZE, &env, &consumed, &off, &len),
                 1);
    cr_assert_eq(off, 12);
    cr_assert_eq(len, 6);
    cr_assert_eq(env.level, 2);
    cr_assert(memcmp(auth_example + off, "s3cret", 6) == 0);
}

static void assert_wire_takes(const struct mp_message *msg)
{
    struct codec_out o = encode(msg);

    cr_assert(codec_check_wire(codec, o.p, o.len, MAX_SIZE),
              "decode_wire refused meta %u", msg->meta);
    for (size_t cut = 0; cut < o.len; cut += 1 + cut / 4)
        cr_assert(!codec_check_wire(codec, o.p, cut, MAX_SIZE),
                  "took %zu of %zu bytes", cut, o.len);
    cr_assert(!codec_check_wire(codec, o.p, o.len, o.len - 1),
              "took a message over the size limit");
    free(o.p);
}

Test(protobuf_wire, takes_every_valid_message_and_writes_what_encode_writes)
{
    unsigned char big[3000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    for (unsigned meta = 0; meta <= 255; meta += (meta < 20 ? 1 : 47)) {
        struct mp_message msg;
        make(&msg, meta, meta % 2 ? "alice" : "", "alice:ff", NULL, 0);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, "", 0);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, "\x00\x01\xff", 3);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, big, sizeof big);
        assert_wire_takes(&msg);
        msg.level = (uint8_t)meta;
        assert_wire_takes(&msg);
        mp_message_clear(&msg);
    }
    for (size_t i = 0; i < REF_CASES; i++) {
        struct mp_message msg;
        ref_case(i, &msg);
        assert_wire_takes(&msg);
        mp_message_clear(&msg);
    }
}

Test(protobuf_wire, bytes_no_encoder_writes)
{
    /* Unknown fields, repetitions, another order: the envelope is the
     * same as decode's, and the data where it lies. */
    struct codec_out body = { 0 };
    put_unknown(&body, 0);
    put_len_field(&body, 4, "old", 3);
    put_varint_field(&body, 5, 2);
    put_len_field(&body, 2, "bob", 3);
    put_unknown(&body, 2);
    put_len_field(&body, 4, "data!", 5);
    put_varint_field(&body, 1, 5);
    struct codec_out f = framed(&body);
    cr_assert(codec_check_wire(codec, f.p, f.len, MAX_SIZE));

    struct mp_message env;
    size_t consumed, off, len;
    memset(&env, 0, sizeof env);
    cr_assert_eq(codec->decode_wire(NULL, f.p, f.len, MAX_SIZE, &env,
                                    &consumed, &off, &len), 1);
    cr_assert_eq(len, 5);
    cr_assert(memcmp(f.p + off, "data!", 5) == 0);
    free(f.p);
    free(body.p);
}

/* ------------------------------------------------------------------------
 * Sniffing and the ops table
 */

Test(protobuf_ops, sniff_the_auth_example)
{
    cr_assert_eq(codec->sniff(auth_example, sizeof auth_example), 1);
    cr_assert_eq(codec->sniff(auth_example, 3), 1);
    /* Length, 0x08: it cannot tell yet. */
    cr_assert_eq(codec->sniff(auth_example, 1), -1);
    cr_assert_eq(codec->sniff(auth_example, 2), -1);
    /* Other formats' first messages and other protobuf ones. */
    cr_assert_eq(codec->sniff(data_example, sizeof data_example), 0);
    cr_assert_eq(codec->sniff((const unsigned char *)"\x00\x00\x00\x12", 4),
                 0);
    cr_assert_eq(codec->sniff((const unsigned char *)"{\"Meta\":8}", 10), 0);
    cr_assert_eq(codec->sniff((const unsigned char *)"\x02\x08\x09", 3), 0);
    cr_assert_eq(codec->sniff((const unsigned char *)"\x01\x08", 2), 0);
    /* A two-byte length: 0x80 0x01 0x08 0x08. */
    cr_assert_eq(codec->sniff((const unsigned char *)"\x80\x01\x08\x08", 4),
                 1);
    cr_assert_eq(codec->sniff((const unsigned char *)"\x80\x01\x08", 3), -1);
    cr_assert_eq(codec->sniff((const unsigned char *)"\x80", 1), -1);
    /* A length longer than five bytes is beyond any limit. */
    cr_assert_eq(codec->sniff((const unsigned char *)"\x80\x80\x80\x80\x80"
                                                     "\x01", 6), 0);
}

/* An Auth of `size` bytes after its one-byte prefix (size < 128). */
static struct codec_out auth_of(size_t size)
{
    struct mp_message msg;
    char secret[128];
    /* 2 (meta) + 7 (name) + 2 (data key, length) + data = size. */
    size_t data_len = size - 2 - 7 - 2;

    memset(secret, 's', sizeof secret);
    make(&msg, MP_META_AUTH, "alice", "", secret, data_len);
    struct codec_out o = encode(&msg);
    mp_message_clear(&msg);
    cr_assert_eq(o.len, 1 + size);
    return o;
}

Test(protobuf_ops, sniff_auths_that_start_like_json)
{
    struct codec_out brace = auth_of(123), space = auth_of(32);

    cr_assert_eq(brace.p[0], '{');
    cr_assert_eq(space.p[0], ' ');
    cr_assert_eq(codec->sniff(brace.p, brace.len), 1);
    cr_assert_eq(mp_codec_json.sniff(brace.p, brace.len), 0);
    cr_assert_eq(codec->sniff(space.p, space.len), 1);
    cr_assert_eq(mp_codec_json.sniff(space.p, space.len), 0);
    cr_assert_eq(mp_codec_gob.sniff(brace.p, brace.len), 0);
    cr_assert_eq(mp_codec_binary.sniff(space.p, space.len), 0);
    free(brace.p);
    free(space.p);
}

/* Every prefix of the Auth, and of other formats' streams: where
 * protobuf cannot tell it says -1, and it never claims another's. */
Test(protobuf_ops, sniff_every_prefix)
{
    for (size_t n = 1; n <= sizeof auth_example; n++) {
        int r = codec->sniff(auth_example, n);
        cr_assert_eq(r, n < 3 ? -1 : 1, "%zu bytes: %d", n, r);
    }
}

/* For every stream start of three bytes, at most one format claims it. */
Test(protobuf_ops, at_most_one_format_claims_any_three_bytes)
{
    static const struct mp_codec_ops *const all[] = {
        &mp_codec_json, &mp_codec_binary, &mp_codec_gob, &mp_codec_protobuf,
    };
    unsigned long claimed_by[4] = { 0 };

    for (uint32_t v = 0; v < (1u << 24); v++) {
        const unsigned char b[3] = { (unsigned char)(v >> 16),
                                     (unsigned char)(v >> 8),
                                     (unsigned char)v };
        int yes = 0, who = -1;
        for (int k = 0; k < 4; k++) {
            if (all[k]->sniff(b, 3) == 1) {
                yes++;
                who = k;
            }
        }
        if (yes > 1)
            cr_assert_fail("%02x %02x %02x is claimed by %d formats", b[0],
                           b[1], b[2], yes);
        if (who >= 0)
            claimed_by[who]++;
    }
    /* Protobuf claims exactly the lengths 2-127 then 08 08. */
    cr_assert_eq(claimed_by[3], 126);
    cr_assert_eq(claimed_by[1], 1u << 16, "binary: every 00 xx xx");
    cr_assert_gt(claimed_by[0], 0);
}

Test(protobuf_ops, table)
{
    cr_assert_eq(codec->size, sizeof(struct mp_codec_ops));
    cr_assert_null(codec->stream_new);
    cr_assert_null(codec->stream_free);
    cr_assert_not_null(codec->decode);
    cr_assert_not_null(codec->encode);
    cr_assert_not_null(codec->sniff);
    cr_assert_not_null(codec->decode_wire);
    cr_assert_not_null(codec->encode_wire);
    cr_assert_not_null(codec->wire_data);
    cr_assert_eq(mp_codec_find("protobuf"), codec);
}
