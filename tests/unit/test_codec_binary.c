/* test_codec_binary.c - common/codec_binary.c: the frame byte by byte,
 * round trips, every split point, malformed frames and limits. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "codec.h"
#include "codec_check.h"
#include "message.h"

#define MAX_SIZE 1048576
#define ERRLEN 256

static const struct mp_codec_ops *const codec = &mp_codec_binary;

#define BINARY "\x00\x01\x02\xff\x0a\x22"

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

static void assert_bytes(const struct codec_out *o, const char *want, size_t len)
{
    cr_assert_eq(o->len, len, "length %zu, want %zu", o->len, len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(o->p[i], (unsigned char)want[i],
                     "byte %zu: 0x%02x, want 0x%02x", i, o->p[i],
                     (unsigned char)want[i]);
}

#define ASSERT_BYTES(o, lit) assert_bytes((o), (lit), sizeof(lit) - 1)

/* ------------------------------------------------------------------------
 * The frame, byte by byte (the worked example of doc/protocol.md)
 */

Test(binary_encode, worked_example)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, MP_META_CONN_SYN, "bob", "alice:0", "echo", 4);
    o = encode(&msg);
    ASSERT_BYTES(&o, "\x00\x00\x00\x12" /* LENGTH 18 */
                     "\x05"             /* meta ConnSyn */
                     "\x01"             /* flags HAS_DATA */
                     "\x03\x07"         /* name and id lengths */
                     "bob" "alice:0" "echo");
    cr_assert_eq(o.writes, 1, "a small frame is one write");
    free(o.p);
    mp_message_clear(&msg);
}

Test(binary_encode, null_and_empty_data)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, MP_META_AUTH_OK, "alice", "", NULL, 0);
    o = encode(&msg);
    ASSERT_BYTES(&o, "\x00\x00\x00\x09\x09\x00\x05\x00" "alice");
    free(o.p);

    mp_message_set_data(&msg, "", 0);
    o = encode(&msg);
    ASSERT_BYTES(&o, "\x00\x00\x00\x09\x09\x01\x05\x00" "alice");
    free(o.p);
    mp_message_clear(&msg);
}

Test(binary_encode, level_byte_only_when_set)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, MP_META_AUTH, "alice", "", "pw", 2);
    msg.level = 2;
    o = encode(&msg);
    ASSERT_BYTES(&o, "\x00\x00\x00\x0c\x08\x03\x05\x00\x02" "alice" "pw");
    free(o.p);
    msg.level = 0;
    o = encode(&msg);
    ASSERT_BYTES(&o, "\x00\x00\x00\x0b\x08\x01\x05\x00" "alice" "pw");
    free(o.p);
    mp_message_clear(&msg);
}

Test(binary_encode, large_data_in_two_writes)
{
    size_t n = 70000;
    unsigned char *data = malloc(n);
    struct mp_message msg;
    struct codec_out o;

    memset(data, 0xab, n);
    make(&msg, 0, "b", "a:1", data, n);
    o = encode(&msg);
    cr_assert_eq(o.writes, 2);
    cr_assert_eq(o.len, 4 + 4 + 1 + 3 + n);
    cr_assert_eq(o.p[0], 0x00);
    cr_assert_eq(o.p[1], 0x01);
    cr_assert_eq(o.p[2], 0x11);
    cr_assert_eq(o.p[3], 0x78); /* 4 + 1 + 3 + 70000 = 0x11178 */
    cr_assert(memcmp(o.p + 12, data, n) == 0);
    free(o.p);
    mp_message_clear(&msg);
    free(data);
}

Test(binary_encode, write_failure_is_reported)
{
    struct mp_message msg;
    unsigned char *big = calloc(1, 5000);
    struct codec_out o = { .fail_from = 1 };

    make(&msg, 0, "b", "a:1", "x", 1);
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    mp_message_set_data(&msg, big, 5000);
    o = (struct codec_out){ .fail_from = 1 };
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    o = (struct codec_out){ .fail_from = 2 };
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    free(o.p);
    free(big);
    mp_message_clear(&msg);
}

Test(binary_decode, worked_example)
{
    static const char frame[] = "\x00\x00\x00\x12\x05\x01\x03\x07"
                                "bob" "alice:0" "echo" "trailing";
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(frame, sizeof frame - 1, MAX_SIZE, &msg, &consumed,
                          err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, 22);
    cr_assert_eq(msg.meta, 5);
    cr_assert_str_eq(msg.other_client, "bob");
    cr_assert_eq(msg.other_client_len, 3);
    cr_assert_str_eq(msg.connection_id, "alice:0");
    cr_assert(msg.has_data);
    cr_assert_eq(msg.data_len, 4);
    cr_assert(memcmp(msg.data, "echo", 4) == 0);
    cr_assert_eq(msg.level, 0);
    mp_message_clear(&msg);
}

Test(binary_decode, level_zero_byte_is_accepted)
{
    static const char frame[] = "\x00\x00\x00\x05\x08\x02\x00\x00\x00";
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(frame, sizeof frame - 1, MAX_SIZE, &msg, &consumed,
                          err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, 9);
    cr_assert_eq(msg.level, 0);
    cr_assert(!msg.has_data);
}

/* ------------------------------------------------------------------------
 * Round trips
 */

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

Test(binary_roundtrip, every_meta_with_null_empty_and_binary_data)
{
    for (unsigned meta = 0; meta <= 255; meta++) {
        struct mp_message msg;
        make(&msg, meta, "alice", "alice:ff", NULL, 0);
        round_trip(&msg);
        mp_message_set_data(&msg, "", 0);
        round_trip(&msg);
        mp_message_set_data(&msg, BINARY, 6);
        round_trip(&msg);
        msg.level = (uint8_t)meta;
        round_trip(&msg);
        mp_message_clear_data(&msg);
        round_trip(&msg);
        mp_message_clear(&msg);
    }
}

Test(binary_roundtrip, longest_names_empty_names_and_sizes)
{
    char name[MP_NAME_MAX];
    unsigned char data[2000];
    struct mp_message msg;

    for (size_t i = 0; i < sizeof name; i++)
        name[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)i;
    memset(&msg, 0, sizeof msg);
    round_trip(&msg);
    mp_message_set_other_client(&msg, name, sizeof name);
    mp_message_set_connection_id(&msg, name, sizeof name);
    /* Around the one-write/two-write boundary and beyond. */
    for (size_t n = 0; n <= sizeof data; n += (n < 600 ? 1 : 97)) {
        mp_message_set_data(&msg, data, n);
        round_trip(&msg);
    }
    msg.level = 7;
    round_trip(&msg);
    mp_message_clear(&msg);
}

/* ------------------------------------------------------------------------
 * Every split point
 */

static void build_stream(struct codec_out *o, size_t ends[3])
{
    struct mp_message m;

    *o = (struct codec_out){ 0 };
    make(&m, 5, "bob", "alice:0", "echo", 4);
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, o), 0);
    ends[0] = o->len;
    mp_message_clear(&m);
    make(&m, 9, "alice", "", NULL, 0);
    m.level = 3;
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, o), 0);
    ends[1] = o->len;
    make(&m, 0, "", "x:1", "", 0);
    cr_assert_eq(codec->encode(NULL, &m, codec_out_write, o), 0);
    ends[2] = o->len;
    mp_message_clear(&m);
}

static void check_message(size_t k, const struct mp_message *m)
{
    static const unsigned metas[] = { 5, 9, 0 };

    cr_assert_eq(m->meta, metas[k]);
    switch (k) {
    case 0:
        cr_assert_str_eq(m->other_client, "bob");
        cr_assert_str_eq(m->connection_id, "alice:0");
        cr_assert(m->has_data && m->data_len == 4);
        cr_assert(memcmp(m->data, "echo", 4) == 0);
        break;
    case 1:
        cr_assert_str_eq(m->other_client, "alice");
        cr_assert_eq(m->level, 3);
        cr_assert(!m->has_data);
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
                          "need more at %zu with frame %zu ending at %zu",
                          avail, k, ends[k]);
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

Test(binary_split, every_prefix_one_byte_at_a_time)
{
    feed(0, 1);
}

Test(binary_split, every_split_into_two_pieces)
{
    struct codec_out o;
    size_t ends[3];

    build_stream(&o, ends);
    free(o.p);
    for (size_t s = 0; s <= ends[2]; s++)
        feed(s, ends[2]);
}

/* ------------------------------------------------------------------------
 * Malformed frames, each refused as soon as its header shows it
 */

static void fails(const char *frame, size_t len, size_t max,
                  const char *why)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(frame, len, max, &msg, &consumed, err),
                 MP_DECODE_ERROR, "accepted a bad frame (%s)", why);
    cr_assert(strstr(err, why) != NULL, "got \"%s\", want \"%s\"", err, why);
}

#define FAILS(lit, why) fails(lit, sizeof(lit) - 1, MAX_SIZE, why)

Test(binary_malformed, reserved_flag_bits)
{
    for (unsigned bit = 2; bit < 8; bit++) {
        char frame[8] = { 0, 0, 0, 4, 0, (char)(1u << bit), 0, 0 };
        fails(frame, sizeof frame, MAX_SIZE, "reserved flag bits");
    }
    FAILS("\x00\x00\x00\x04\x00\xff\x00\x00", "reserved flag bits");
}

Test(binary_malformed, length_too_short)
{
    FAILS("\x00\x00\x00\x00", "too short");
    FAILS("\x00\x00\x00\x03", "too short");
    /* HAS_LEVEL needs a fifth byte. */
    FAILS("\x00\x00\x00\x04\x00\x02\x00\x00", "too short");
    /* Names longer than the frame. */
    FAILS("\x00\x00\x00\x06\x00\x00\x02\x01", "too short");
    FAILS("\x00\x00\x00\x04\x00\x01\xff\x00", "too short");
}

Test(binary_malformed, data_without_data_flag)
{
    FAILS("\x00\x00\x00\x05\x00\x00\x00\x00", "without the data flag");
    FAILS("\x00\x00\x00\x07\x00\x00\x01\x01" "ab" "c",
          "without the data flag");
}

Test(binary_malformed, names_must_be_utf8)
{
    FAILS("\x00\x00\x00\x05\x00\x00\x01\x00\xff",
          "OtherClient is not valid UTF-8");
    FAILS("\x00\x00\x00\x06\x00\x00\x00\x02\xc0\x80",
          "ConnectionID is not valid UTF-8");
    FAILS("\x00\x00\x00\x07\x00\x00\x00\x03\xed\xa0\x80", "UTF-8");
}

Test(binary_limits, oversize_refused_from_the_length_alone)
{
    /* LENGTH 97: a 101-byte frame, limit 100; only 4 bytes buffered. */
    fails("\x00\x00\x00\x61", 4, 100, "message of 101 bytes exceeds the "
                                      "limit of 100");
    fails("\xff\xff\xff\xff", 4, MAX_SIZE, "message of 4294967299 bytes");
    /* Exactly at the limit: wait for the rest. */
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];
    cr_assert_eq(decode_n("\x00\x00\x00\x60", 4, 100, &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
    /* The largest LENGTH with no limit to speak of. */
    cr_assert_eq(decode_n("\xff\xff\xff\xff\x00\x01\x00\x00", 8, SIZE_MAX,
                          &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
}

Test(binary_limits, frame_of_exactly_max_size)
{
    struct mp_message msg;
    struct codec_out o;
    size_t consumed;
    char err[ERRLEN];

    make(&msg, 0, "b", "a:1", "0123456789", 10);
    o = encode(&msg);
    cr_assert_eq(o.len, 22);
    mp_message_clear(&msg);
    cr_assert_eq(decode_n(o.p, o.len, 22, &msg, &consumed, err),
                 MP_DECODE_OK);
    mp_message_clear(&msg);
    cr_assert_eq(decode_n(o.p, o.len, 21, &msg, &consumed, err),
                 MP_DECODE_ERROR);
    free(o.p);
}

Test(binary_limits, truncated_frames_need_more)
{
    static const char frame[] = "\x00\x00\x00\x0c\x08\x03\x05\x00\x02"
                                "alice" "pw";
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    for (size_t n = 0; n < sizeof frame - 1; n++)
        cr_assert_eq(decode_n(frame, n, MAX_SIZE, &msg, &consumed, err),
                     MP_DECODE_NEED_MORE, "n=%zu: %s", n, err);
    cr_assert_eq(decode_n(frame, sizeof frame - 1, MAX_SIZE, &msg, &consumed,
                          err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(msg.level, 2);
    mp_message_clear(&msg);
}

/* ------------------------------------------------------------------------
 * Sniffing and the ops table
 */

/* ------------------------------------------------------------------------
 * The fast lane: decode_wire and encode_wire against decode and encode
 */

static void assert_wire_takes(const struct mp_message *msg)
{
    struct codec_out o = encode(msg);

    cr_assert(codec_check_wire(codec, o.p, o.len, MAX_SIZE),
              "decode_wire refused meta %u", msg->meta);
    for (size_t cut = 0; cut < o.len; cut += 1 + cut / 4)
        cr_assert(!codec_check_wire(codec, o.p, cut, MAX_SIZE),
                  "took %zu of %zu bytes", cut, o.len);
    cr_assert(!codec_check_wire(codec, o.p, o.len, o.len - 1),
              "took a frame over the size limit");
    free(o.p);
}

Test(binary_wire, takes_every_valid_frame_and_writes_what_encode_writes)
{
    unsigned char big[3000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    for (unsigned meta = 0; meta <= 255; meta++) {
        struct mp_message msg;
        make(&msg, meta, meta % 2 ? "alice" : "", "alice:ff", NULL, 0);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, "", 0);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, BINARY, 6);
        assert_wire_takes(&msg);
        mp_message_set_data(&msg, big, sizeof big);
        assert_wire_takes(&msg);
        msg.level = (uint8_t)meta;
        assert_wire_takes(&msg);
        mp_message_clear(&msg);
    }
}

Test(binary_wire, leaves_malformed_frames_to_decode)
{
    static const struct {
        const char *frame;
        size_t len;
    } bad[] = {
        { "\x00\x00\x00\x04\x00\xff\x00\x00", 8 },          /* reserved flags */
        { "\x00\x00\x00\x03\x00\x00\x00", 7 },              /* too short */
        { "\x00\x00\x00\x05\x00\x00\x00\x00x", 9 },         /* data, no flag */
        { "\x00\x00\x00\x06\x00\x00\x02\x00\xc0\xaf", 10 }, /* bad UTF-8 */
        { "\x00\x00\x00\x06\x00\x00\x00\x02\xed\xa0", 10 }, /* bad UTF-8 id */
        { "\x00\x00\x00\x08\x00\x00\x09\x00" "abc", 11 },       /* names overrun */
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!codec_check_wire(codec, bad[i].frame, bad[i].len, MAX_SIZE),
                  "case %zu", i);
}

Test(binary_ops, sniff)
{
    static const unsigned char no[] = { '{', ' ', '\n', 0x01, 0xff };
    static const unsigned char zero = 0;

    cr_assert_eq(codec->sniff(&zero, 1), 1);
    for (size_t i = 0; i < sizeof no; i++)
        cr_assert_eq(codec->sniff(&no[i], 1), 0, "0x%02x", no[i]);
}

Test(binary_ops, table)
{
    cr_assert_eq(codec->size, sizeof(struct mp_codec_ops));
    cr_assert_null(codec->stream_new);
    cr_assert_null(codec->stream_free);
    cr_assert_not_null(codec->decode);
    cr_assert_not_null(codec->encode);
    cr_assert_not_null(codec->sniff);
}
