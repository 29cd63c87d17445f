/*
 * codec_binary.c - the binary framing (doc/protocol.md, "Binary format").
 *
 *   offset  size  field
 *   0       4     LENGTH: big-endian u32, bytes after these 4
 *   4       1     meta
 *   5       1     flags: bit 0 HAS_DATA, bit 1 HAS_LEVEL, bits 2-7 zero
 *   6       1     name length (other_client)
 *   7       1     id length (connection_id)
 *   8       1     level, only when HAS_LEVEL
 *   ...           name, id, then data: the rest of the frame
 *
 * Every field is checked as soon as its bytes are in, so a bad or oversize
 * frame is refused before the rest of it is buffered.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "errbuf.h"
#include "message.h"
#include "name.h"

#define PREFIX_LEN 4 /* the LENGTH field */
#define FIXED_LEN 4  /* meta, flags, name length, id length */
#define HEADER_MAX (PREFIX_LEN + FIXED_LEN + 1)

#define FLAG_HAS_DATA 0x01
#define FLAG_HAS_LEVEL 0x02
#define FLAGS_RESERVED 0xfc

/* Header and names of the largest frame, plus room to send small data in
 * the same write. */
#define ENCODE_STACK 1024

static uint32_t read_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static void write_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The parsed fixed part of a frame. */
struct header {
    uint32_t length; /* LENGTH: bytes after the prefix */
    uint8_t meta, flags, name_len, id_len, level;
    size_t header_len; /* prefix, fixed part and level byte */
    size_t data_len;
};

/*
 * Check what is known of the header from buf[0..len), len >= PREFIX_LEN.
 * Returns NEED_MORE when the header is incomplete but valid so far, OK
 * when it is complete and consistent, ERROR with the reason otherwise.
 */
static enum mp_decode_status parse_header(const unsigned char *buf,
                                          size_t len, size_t max_size,
                                          struct header *h, char *err,
                                          size_t errlen)
{
    h->length = read_be32(buf);
    /* In 64 bits: a 4 GiB frame must not wrap on 32-bit hosts. */
    uint64_t total = (uint64_t)h->length + PREFIX_LEN;
    if (total > max_size)
        return mp_decode_fail(err, errlen,
                    "message of %" PRIu64 " bytes exceeds the limit of %zu",
                    total, max_size);
    if (h->length < FIXED_LEN)
        return mp_decode_fail(err, errlen, "frame length %" PRIu32 " is too short",
                    h->length);
    if (len < PREFIX_LEN + FIXED_LEN)
        return MP_DECODE_NEED_MORE;

    h->meta = buf[4];
    h->flags = buf[5];
    h->name_len = buf[6];
    h->id_len = buf[7];
    if (h->flags & FLAGS_RESERVED)
        return mp_decode_fail(err, errlen, "reserved flag bits set (flags 0x%02x)",
                    h->flags);

    size_t level_len = (h->flags & FLAG_HAS_LEVEL) ? 1 : 0;
    size_t needed = FIXED_LEN + level_len + h->name_len + h->id_len;
    if (needed > h->length)
        return mp_decode_fail(err, errlen,
                    "frame length %" PRIu32 " is too short for its header"
                    " and names (%zu bytes)",
                    h->length, needed);
    h->header_len = PREFIX_LEN + FIXED_LEN + level_len;
    h->data_len = h->length - needed;
    if (h->data_len > 0 && !(h->flags & FLAG_HAS_DATA))
        return mp_decode_fail(err, errlen,
                    "%zu bytes of data in a frame without the data flag",
                    h->data_len);
    if (len < h->header_len)
        return MP_DECODE_NEED_MORE;
    h->level = level_len ? buf[PREFIX_LEN + FIXED_LEN] : 0;
    return MP_DECODE_OK;
}

/* Copy a name or id into the message after checking it is UTF-8 (the JSON
 * format cannot carry anything else, and both must agree). */
static int take_string(const unsigned char *p, size_t n, const char *what,
                       int (*set)(struct mp_message *, const char *, size_t),
                       struct mp_message *msg, char *err, size_t errlen)
{
    if (!mp_utf8_valid(p, n)) {
        mp_decode_fail(err, errlen, "%s is not valid UTF-8", what);
        return -1;
    }
    return set(msg, (const char *)p, n);
}

static enum mp_decode_status binary_decode(void *stream,
                                           const unsigned char *buf,
                                           size_t len, size_t max_size,
                                           struct mp_message *msg,
                                           size_t *consumed, char *err,
                                           size_t errlen)
{
    struct header h = { 0 };
    enum mp_decode_status st;

    (void)stream;
    if (len < PREFIX_LEN)
        return MP_DECODE_NEED_MORE;
    st = parse_header(buf, len, max_size, &h, err, errlen);
    if (st != MP_DECODE_OK)
        return st;
    if (len - PREFIX_LEN < h.length)
        return MP_DECODE_NEED_MORE;

    const unsigned char *p = buf + h.header_len;
    msg->meta = h.meta;
    msg->level = h.level;
    if (take_string(p, h.name_len, "OtherClient",
                    mp_message_set_other_client, msg, err, errlen) < 0 ||
        take_string(p + h.name_len, h.id_len, "ConnectionID",
                    mp_message_set_connection_id, msg, err, errlen) < 0) {
        mp_message_clear(msg);
        return MP_DECODE_ERROR;
    }
    p += h.name_len + h.id_len;
    if ((h.flags & FLAG_HAS_DATA) &&
        mp_message_set_data(msg, p, h.data_len) < 0) {
        mp_message_clear(msg);
        return mp_decode_fail(err, errlen, "out of memory");
    }
    *consumed = PREFIX_LEN + (size_t)h.length;
    return MP_DECODE_OK;
}

/* The frame of msg, with data[0..data_len) as its data (when has_data). */
static int encode_frame(const struct mp_message *msg, const unsigned char *data,
                        size_t data_len, mp_write_fn write, void *ctx)
{
    unsigned char buf[ENCODE_STACK];
    size_t level_len = msg->level != 0 ? 1 : 0;
    size_t head = PREFIX_LEN + FIXED_LEN + level_len + msg->other_client_len +
                  msg->connection_id_len;

    if (!msg->has_data)
        data_len = 0;
    /* LENGTH must fit in a u32 (compared in 64 bits for 32-bit hosts). */
    if ((uint64_t)data_len > UINT32_MAX - (head - PREFIX_LEN))
        return -1;

    write_be32(buf, (uint32_t)(head - PREFIX_LEN + data_len));
    buf[4] = msg->meta;
    buf[5] = (unsigned char)((msg->has_data ? FLAG_HAS_DATA : 0) |
                             (level_len ? FLAG_HAS_LEVEL : 0));
    buf[6] = msg->other_client_len;
    buf[7] = msg->connection_id_len;
    unsigned char *p = buf + PREFIX_LEN + FIXED_LEN;
    if (level_len)
        *p++ = msg->level;
    mp_copy(p, msg->other_client, msg->other_client_len);
    p += msg->other_client_len;
    mp_copy(p, msg->connection_id, msg->connection_id_len);
    p += msg->connection_id_len;

    /* Small data rides in the same write; large data gets its own. */
    if (data_len <= sizeof buf - head) {
        mp_copy(p, data, data_len);
        return write(ctx, buf, head + data_len);
    }
    if (write(ctx, buf, head) < 0)
        return -1;
    return write(ctx, data, data_len);
}

static int binary_encode(void *stream, const struct mp_message *msg,
                         mp_write_fn write, void *ctx)
{
    (void)stream;
    return encode_frame(msg, msg->data, msg->data_len, write, ctx);
}

/* The fast lane (mp_codec_ops.decode_wire): binary_decode() without the
 * copy of the data, which the frame already holds as it is. */
static int binary_decode_wire(void *stream, const unsigned char *buf,
                              size_t len, size_t max_size,
                              struct mp_message *msg, size_t *consumed,
                              size_t *wire_off, size_t *wire_len)
{
    struct header h = { 0 };
    char err[64]; /* binary_decode() words the errors */

    (void)stream;
    if (len < PREFIX_LEN ||
        parse_header(buf, len, max_size, &h, err, sizeof err) != MP_DECODE_OK ||
        len - PREFIX_LEN < h.length)
        return 0;
    const unsigned char *p = buf + h.header_len;
    if (!mp_utf8_valid(p, h.name_len) ||
        !mp_utf8_valid(p + h.name_len, h.id_len))
        return 0;
    msg->meta = h.meta;
    msg->level = h.level;
    mp_message_set_other_client(msg, (const char *)p, h.name_len);
    mp_message_set_connection_id(msg, (const char *)p + h.name_len, h.id_len);
    msg->has_data = (h.flags & FLAG_HAS_DATA) != 0;
    msg->data_len = h.data_len; /* absent data has no bytes */
    *wire_off = h.header_len + h.name_len + h.id_len;
    *wire_len = h.data_len;
    *consumed = PREFIX_LEN + (size_t)h.length;
    return 1;
}

/* Binary data is its own wire form: the frame is a header rewrite. */
static int binary_encode_wire(void *stream, const struct mp_message *msg,
                              const unsigned char *wire, size_t wire_len,
                              mp_write_fn write, void *ctx)
{
    (void)stream;
    return encode_frame(msg, wire, wire_len, write, ctx);
}

/* A frame starts with the high byte of LENGTH, which is 0 for any frame
 * under 16 MiB; JSON cannot start with a NUL byte. */
static int binary_sniff(const unsigned char *buf, size_t len)
{
    (void)len;
    return buf[0] == 0x00;
}

/* Binary data is its own wire form: a copy. */
static int binary_wire_data(const unsigned char *wire, size_t wire_len,
                            struct mp_message *msg)
{
    return mp_message_set_data(msg, wire, wire_len);
}

const struct mp_codec_ops mp_codec_binary = {
    .size = sizeof(struct mp_codec_ops),
    .sniff = binary_sniff,
    .stream_new = NULL,
    .stream_free = NULL,
    .decode = binary_decode,
    .encode = binary_encode,
    .decode_wire = binary_decode_wire,
    .encode_wire = binary_encode_wire,
    .wire_data = binary_wire_data,
};
