/*
 * codec_protobuf.c - the protobuf format (proto/mp.proto; doc/protocol.md,
 * "Protobuf format"): each message is a varint length, then an mp.Message
 * in protobuf's wire encoding:
 *
 *   field  name           wire type        kept as
 *   1      meta           0 (varint)       0-255
 *   2      other_client   2 (length)       at most 255 bytes of UTF-8
 *   3      connection_id  2 (length)       at most 255 bytes of UTF-8
 *   4      data           2 (length)       bytes; present even when empty
 *   5      level          0 (varint)       0-255
 *
 * Written against the wire format rather than with protoc-c's generated
 * code, which the tests use as the reference instead (test_codec_protobuf,
 * fuzz_protobuf), because libprotobuf-c 1.4
 *  - keeps a string as a NUL-terminated char * and checks no UTF-8, so a
 *    name "a\0b" would be read as "a" and routed to another client, and a
 *    connection id holding a NUL could not be written at all;
 *  - copies the data out of the frame, where the fast lane passes it on
 *    as it lies (decode_wire needs its offset);
 *  - says only "NULL" for any malformed input, where a peer and its
 *    operator deserve the field and the byte.
 * One scanner (read_frame) serves decode() and decode_wire(), so the two
 * cannot read a message differently.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "message.h"
#include "name.h"

#define VARINT_MAX 10 /* bytes of a 64-bit varint */
/* Bytes of a key or of a LEN field's length: 32-bit values, which
 * protobuf-c (and C++'s parser) read from at most 5 bytes, refusing a
 * longer, zero-padded one. So do we: what we take, they read. */
#define VARINT32_MAX 5

/* Field numbers of mp.Message, and protobuf's largest. */
enum field {
    FIELD_META = 1,
    FIELD_OTHER_CLIENT = 2,
    FIELD_CONNECTION_ID = 3,
    FIELD_DATA = 4,
    FIELD_LEVEL = 5,
};
#define FIELD_NUMBER_MAX ((1u << 29) - 1)

enum wire_type {
    WIRE_VARINT = 0,
    WIRE_I64 = 1,
    WIRE_LEN = 2,
    WIRE_I32 = 5,
};

/* The one-byte keys the encoder writes: field number << 3 | wire type. */
#define KEY(field, type) ((unsigned char)((field) << 3 | (type)))

/* The prefix, every key and length, both names and the level of the
 * largest header, plus room to send small data in the same write. */
#define ENCODE_STACK 1024

/* Where a field's bytes lie in the buffer. */
struct span {
    size_t off, len;
};

/* One message found in a buffer, checked. */
struct frame {
    size_t size; /* prefix and body: the bytes the message takes */
    uint64_t meta, level;
    struct span other_client, connection_id, data;
    bool has_data;
};

/*
 * Read a varint from p[0..len). Returns the bytes it takes, 0 if p ends
 * before it does, -1 if it is longer than 10 bytes or above 2^64 - 1.
 */
static int read_varint(const unsigned char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < VARINT_MAX; i++) {
        if (i == len)
            return 0;
        if (i == VARINT_MAX - 1 && p[i] > 1)
            return -1;
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *out = v;
            return (int)i + 1;
        }
    }
    return -1;
}

/* The bytes a 32-bit varint at `at` may take before `end`. */
static size_t varint32_room(size_t at, size_t end)
{
    return end - at < VARINT32_MAX ? end - at : VARINT32_MAX;
}

static const char *field_name(uint64_t number)
{
    static const char *const names[] = {
        [FIELD_META] = "meta",
        [FIELD_OTHER_CLIENT] = "other_client",
        [FIELD_CONNECTION_ID] = "connection_id",
        [FIELD_DATA] = "data",
        [FIELD_LEVEL] = "level",
    };

    return number >= FIELD_META && number <= FIELD_LEVEL ? names[number]
                                                         : "unknown";
}

/* The wire type each field of mp.Message must have. */
static unsigned field_wire_type(uint64_t number)
{
    return number == FIELD_META || number == FIELD_LEVEL ? WIRE_VARINT
                                                         : WIRE_LEN;
}

/* Keep a known field's value: the last occurrence wins, as in protobuf. */
static void keep_field(struct frame *f, uint64_t number, uint64_t value,
                       struct span where)
{
    switch (number) {
    case FIELD_META:
        f->meta = value;
        break;
    case FIELD_LEVEL:
        f->level = value;
        break;
    case FIELD_OTHER_CLIENT:
        f->other_client = where;
        break;
    case FIELD_CONNECTION_ID:
        f->connection_id = where;
        break;
    case FIELD_DATA:
        f->data = where;
        f->has_data = true;
        break;
    }
}

/*
 * Walk the fields of the body buf[at..end): known ones are kept, unknown
 * ones skipped (protobuf's rule, so that a newer mp.proto may add
 * fields). Offsets in the frame are from buf.
 */
static enum mp_decode_status scan_fields(const unsigned char *buf, size_t at,
                                         size_t end, struct frame *f,
                                         char *err, size_t errlen)
{
    while (at < end) {
        uint64_t key, value = 0;
        size_t key_at = at;
        int n = read_varint(buf + at, varint32_room(at, end), &key);

        if (n <= 0)
            return mp_decode_fail(err, errlen,
                                  "malformed field key at byte %zu", key_at);
        at += (size_t)n;
        uint64_t number = key >> 3;
        unsigned type = (unsigned)(key & 7);
        if (number == 0 || number > FIELD_NUMBER_MAX)
            return mp_decode_fail(err, errlen,
                                  "field number %" PRIu64 " at byte %zu is"
                                  " out of range", number, key_at);

        struct span where = { at, 0 };
        switch (type) {
        case WIRE_VARINT:
        case WIRE_LEN:
            n = read_varint(buf + at,
                            type == WIRE_LEN ? varint32_room(at, end)
                                             : end - at,
                            &value);
            if (n <= 0)
                return mp_decode_fail(err, errlen,
                                      "field %" PRIu64 " (%s): malformed"
                                      " varint at byte %zu",
                                      number, field_name(number), at);
            at += (size_t)n;
            if (type == WIRE_LEN) {
                if (value > end - at)
                    return mp_decode_fail(err, errlen,
                                          "field %" PRIu64 " (%s): %" PRIu64
                                          " bytes run past the end of the"
                                          " message", number,
                                          field_name(number), value);
                where = (struct span){ at, (size_t)value };
                at += (size_t)value;
            }
            break;
        case WIRE_I64:
        case WIRE_I32: {
            size_t width = type == WIRE_I64 ? 8 : 4;
            if (end - at < width)
                return mp_decode_fail(err, errlen,
                                      "field %" PRIu64 ": %zu-byte value"
                                      " runs past the end of the message",
                                      number, width);
            at += width;
            break;
        }
        default:
            return mp_decode_fail(err, errlen,
                                  "field %" PRIu64 " at byte %zu has wire"
                                  " type %u (groups and types 6 and 7 are"
                                  " not taken)", number, key_at, type);
        }
        if (number > FIELD_LEVEL)
            continue; /* unknown: skipped */
        if (type != field_wire_type(number))
            return mp_decode_fail(err, errlen,
                                  "field %" PRIu64 " (%s) has wire type %u,"
                                  " not %u", number, field_name(number), type,
                                  field_wire_type(number));
        keep_field(f, number, value, where);
    }
    return MP_DECODE_OK;
}

/* A name field: at most MP_NAME_MAX bytes of UTF-8 (what every other
 * format can carry too). */
static enum mp_decode_status check_name(const unsigned char *buf,
                                        struct span s, const char *what,
                                        char *err, size_t errlen)
{
    if (s.len > MP_NAME_MAX)
        return mp_decode_fail(err, errlen, "%s is %zu bytes, more than %d",
                              what, s.len, MP_NAME_MAX);
    if (!mp_utf8_valid(buf + s.off, s.len))
        return mp_decode_fail(err, errlen, "%s is not valid UTF-8", what);
    return MP_DECODE_OK;
}

/* What mp.Message allows but struct mp_message cannot hold. */
static enum mp_decode_status check_values(const unsigned char *buf,
                                          const struct frame *f, char *err,
                                          size_t errlen)
{
    if (f->meta > UINT8_MAX)
        return mp_decode_fail(err, errlen,
                              "meta %" PRIu64 " is out of range (0-255)",
                              f->meta);
    if (f->level > UINT8_MAX)
        return mp_decode_fail(err, errlen,
                              "level %" PRIu64 " is out of range (0-255)",
                              f->level);
    if (check_name(buf, f->other_client, "other_client", err, errlen) !=
        MP_DECODE_OK)
        return MP_DECODE_ERROR;
    return check_name(buf, f->connection_id, "connection_id", err, errlen);
}

/*
 * Find and check the first message of buf[0..len). Its size is checked
 * against max_size from the length prefix alone, before the body is
 * buffered; the body is read once it is all there.
 */
static enum mp_decode_status read_frame(const unsigned char *buf, size_t len,
                                        size_t max_size, struct frame *f,
                                        char *err, size_t errlen)
{
    uint64_t body;
    int n = read_varint(buf, len, &body);

    if (n < 0)
        return mp_decode_fail(err, errlen, "malformed length prefix");
    if (n == 0)
        return MP_DECODE_NEED_MORE;
    /* Body first, then the prefix against what is left: no sum that
     * could wrap, whatever the prefix and max_size (even SIZE_MAX). */
    if (body > max_size || (uint64_t)n > max_size - body)
        return mp_decode_fail(err, errlen,
                              "message of %" PRIu64 " bytes exceeds the"
                              " limit of %zu", body + (uint64_t)n, max_size);
    f->size = (size_t)n + (size_t)body;
    if (len < f->size)
        return MP_DECODE_NEED_MORE;
    if (scan_fields(buf, (size_t)n, f->size, f, err, errlen) != MP_DECODE_OK)
        return MP_DECODE_ERROR;
    return check_values(buf, f, err, errlen);
}

/* Everything but the data, from a checked frame. */
static void fill_envelope(const unsigned char *buf, const struct frame *f,
                          struct mp_message *msg)
{
    msg->meta = (uint8_t)f->meta;
    msg->level = (uint8_t)f->level;
    mp_message_set_other_client(msg, (const char *)buf + f->other_client.off,
                                f->other_client.len);
    mp_message_set_connection_id(msg,
                                 (const char *)buf + f->connection_id.off,
                                 f->connection_id.len);
}

static enum mp_decode_status protobuf_decode(void *stream,
                                             const unsigned char *buf,
                                             size_t len, size_t max_size,
                                             struct mp_message *msg,
                                             size_t *consumed, char *err,
                                             size_t errlen)
{
    struct frame f = { 0 };
    enum mp_decode_status st;

    (void)stream;
    st = read_frame(buf, len, max_size, &f, err, errlen);
    if (st != MP_DECODE_OK)
        return st;
    fill_envelope(buf, &f, msg);
    if (f.has_data &&
        mp_message_set_data(msg, buf + f.data.off, f.data.len) < 0) {
        mp_message_clear(msg);
        return mp_decode_fail(err, errlen, "out of memory");
    }
    *consumed = f.size;
    return MP_DECODE_OK;
}

/* Write v as a varint at p; returns the bytes written (at most 10). */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A length-delimited field's key, length and bytes at p. */
static size_t put_bytes_field(unsigned char *p, enum field number,
                              const void *bytes, size_t len)
{
    size_t n = 0;

    p[n++] = KEY(number, WIRE_LEN);
    n += put_varint(p + n, len);
    mp_copy(p + n, bytes, len);
    return n + len;
}

/* The size of the body of msg, with data_len bytes of data. */
static uint64_t body_size(const struct mp_message *msg, size_t data_len)
{
    uint64_t n = 0;

    if (msg->meta != 0)
        n += 1 + varint_size(msg->meta);
    if (msg->other_client_len != 0)
        n += 1 + varint_size(msg->other_client_len) + msg->other_client_len;
    if (msg->connection_id_len != 0)
        n += 1 + varint_size(msg->connection_id_len) +
             msg->connection_id_len;
    if (msg->has_data)
        n += 1 + varint_size(data_len) + (uint64_t)data_len;
    if (msg->level != 0)
        n += 1 + varint_size(msg->level);
    return n;
}

/*
 * The message msg with data[0..data_len) as its data (when has_data), as
 * protobuf libraries write it: fields in number order, a field at its
 * default (0, "") left out, data written whenever present. So the bytes
 * match protoc-c's and Python's for the same message.
 */
static int encode_frame(const struct mp_message *msg,
                        const unsigned char *data, size_t data_len,
                        mp_write_fn write, void *ctx)
{
    unsigned char buf[ENCODE_STACK];
    unsigned char *p = buf;

    if (!msg->has_data)
        data_len = 0;
    if (data_len > SIZE_MAX - ENCODE_STACK)
        return -1;
    p += put_varint(p, body_size(msg, data_len));
    if (msg->meta != 0) {
        *p++ = KEY(FIELD_META, WIRE_VARINT);
        p += put_varint(p, msg->meta);
    }
    if (msg->other_client_len != 0)
        p += put_bytes_field(p, FIELD_OTHER_CLIENT, msg->other_client,
                             msg->other_client_len);
    if (msg->connection_id_len != 0)
        p += put_bytes_field(p, FIELD_CONNECTION_ID, msg->connection_id,
                             msg->connection_id_len);

    /* The level (field 5) follows the data: the tail of the frame. */
    unsigned char tail[1 + VARINT_MAX];
    size_t tail_len = 0;
    if (msg->level != 0) {
        tail[tail_len++] = KEY(FIELD_LEVEL, WIRE_VARINT);
        tail_len += put_varint(tail + tail_len, msg->level);
    }

    if (!msg->has_data) {
        mp_copy(p, tail, tail_len);
        return write(ctx, buf, (size_t)(p - buf) + tail_len);
    }
    *p++ = KEY(FIELD_DATA, WIRE_LEN);
    p += put_varint(p, data_len);
    size_t head = (size_t)(p - buf);
    /* Small data rides in the same write; large data gets its own. */
    if (data_len + tail_len <= sizeof buf - head) {
        mp_copy(p, data, data_len);
        mp_copy(p + data_len, tail, tail_len);
        return write(ctx, buf, head + data_len + tail_len);
    }
    if (write(ctx, buf, head) < 0 || write(ctx, data, data_len) < 0)
        return -1;
    return tail_len > 0 ? write(ctx, tail, tail_len) : 0;
}

static int protobuf_encode(void *stream, const struct mp_message *msg,
                           mp_write_fn write, void *ctx)
{
    (void)stream;
    return encode_frame(msg, msg->data, msg->data_len, write, ctx);
}

/* The fast lane (mp_codec_ops.decode_wire): decode() without the copy of
 * the data, which the frame holds as it is. */
static int protobuf_decode_wire(void *stream, const unsigned char *buf,
                                size_t len, size_t max_size,
                                struct mp_message *msg, size_t *consumed,
                                size_t *wire_off, size_t *wire_len)
{
    struct frame f = { 0 };
    char err[128]; /* decode() words the errors */

    (void)stream;
    if (read_frame(buf, len, max_size, &f, err, sizeof err) != MP_DECODE_OK)
        return 0;
    fill_envelope(buf, &f, msg);
    msg->has_data = f.has_data;
    msg->data_len = f.data.len; /* absent data has no bytes */
    *wire_off = f.data.off;
    *wire_len = f.data.len;
    *consumed = f.size;
    return 1;
}

/* Protobuf data is its own wire form: the frame is a header rewrite. */
static int protobuf_encode_wire(void *stream, const struct mp_message *msg,
                                const unsigned char *wire, size_t wire_len,
                                mp_write_fn write, void *ctx)
{
    (void)stream;
    return encode_frame(msg, wire, wire_len, write, ctx);
}

static int protobuf_wire_data(const unsigned char *wire, size_t wire_len,
                              struct mp_message *msg)
{
    return mp_message_set_data(msg, wire, wire_len);
}

/*
 * A stream starts with an Auth: its length (a varint of 2 or more), then
 * meta = 8, which every protobuf library writes first (fields go in
 * number order) as 0x08 0x08. No other format can start so: binary
 * starts with 0x00, gob's type id is negative where 0x08 is 4, and JSON
 * has no byte 0x08 outside a string (codec_json.c leaves such a stream
 * alone). A client whose library writes meta elsewhere is not
 * recognized: it needs a listener whose translator is "protobuf".
 */
static int protobuf_sniff(const unsigned char *buf, size_t len)
{
    enum { PREFIX_SNIFF_MAX = 5 }; /* 2^35: beyond any max_message_size */
    static const unsigned char auth[] = { KEY(FIELD_META, WIRE_VARINT),
                                          MP_META_AUTH };
    uint64_t body;
    int n = read_varint(buf, len < PREFIX_SNIFF_MAX ? len : PREFIX_SNIFF_MAX,
                        &body);

    if (n == 0)
        return len >= PREFIX_SNIFF_MAX ? 0 : -1;
    if (n < 0 || body < sizeof auth)
        return 0;
    for (size_t i = 0; i < sizeof auth; i++) {
        if ((size_t)n + i >= len)
            return -1;
        if (buf[(size_t)n + i] != auth[i])
            return 0;
    }
    return 1;
}

const struct mp_codec_ops mp_codec_protobuf = {
    .size = sizeof(struct mp_codec_ops),
    .sniff = protobuf_sniff,
    .stream_new = NULL,
    .stream_free = NULL,
    .decode = protobuf_decode,
    .encode = protobuf_encode,
    .decode_wire = protobuf_decode_wire,
    .encode_wire = protobuf_encode_wire,
    .wire_data = protobuf_wire_data,
};
