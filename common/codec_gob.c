/*
 * codec_gob.c - Go's encoding/gob as the original's Gob translator used it
 * (doc/protocol.md, "Gob"). Each direction of a socket is one gob stream
 * of
 *
 *     type Message struct { Meta uint8; OtherClient string;
 *                           ConnectionID string; Data []byte }
 *
 * or, from a client that announces a protocol level (level 2), the same
 * with a fifth field `Level int` (doc/protocol.md, "Protocol level 2").
 *
 * A gob stream is a sequence of gob messages, each an unsigned byte count
 * and that many bytes: a type id, then either a type definition (negative
 * id) or a value of that type. A writer defines Message once, then sends
 * one value per message.
 *
 * Numbers: an unsigned integer below 128 is one byte; a larger one is the
 * negated count of its big-endian bytes (0xff: one byte follows, 0xfe:
 * two, ...) and those bytes. A signed integer i travels as the unsigned
 * i << 1 when i >= 0, (~i << 1) | 1 when negative. A struct is its
 * non-zero fields, each the delta of its field number from the previous
 * one (counting from -1) and its value, then a 0. Strings and []byte are
 * a count and the bytes.
 *
 * The decoder reads the peer's type definition, checks that it is the
 * Message struct, with or without Level (its fields in whatever order the
 * peer defined them) and keeps the peer's field numbering in the
 * per-stream state; the encoder sends its own definition, the original
 * server's bytes (four fields: the broker announces no level, and Go's
 * decoder leaves a Level it does not receive at zero), before its first
 * value.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "errbuf.h"
#include "message.h"
#include "name.h"

/* Type ids gob predefines; user types start at FIRST_USER_ID. */
enum gob_type_id {
    T_BOOL = 1,
    T_INT = 2,
    T_UINT = 3,
    T_FLOAT = 4,
    T_BYTES = 5,
    T_STRING = 6,
    T_COMPLEX = 7,
    T_INTERFACE = 8,
    /* 16 to 23: the types of type definitions themselves */
};
#define FIRST_USER_ID 64
#define TYPE_ID_MAX INT32_MAX /* Go's typeId is an int32 */

/* The id our encoder gives Message: what Go assigns to the first type a
 * program sends, and what the original server sent. */
#define OUR_TYPE_ID 65

/* A Message definition is 63 bytes with an empty type name, 72 with
 * "Message"; 512 leaves room for a 255-byte name and non-minimal number
 * encodings. A longer first message is not a Message definition. */
#define TYPEDEF_MIN 63
#define TYPEDEF_MAX 512
#define TYPE_NAME_MAX 255

/* Go's decoder (1.x, 32-bit hosts) refuses messages of this many bytes
 * or more, so the encoder never writes one. */
#define GOB_TOO_BIG (UINT64_C(1) << 30)

/* The longest unsigned integer: a length byte and eight bytes. */
#define UINT_MAX_LEN 9

/* A value's bytes before its data: type id, Meta, both names, the data
 * count; the data's closing 0, Level's delta and value (one byte each:
 * a level is at most 255, an int of 510: 0xfe 0x01 0xfe) follow. */
#define VALUE_HEAD_MAX (2 + 2 + 2 * (1 + 2 + MP_NAME_MAX) + 1 + UINT_MAX_LEN)
#define VALUE_TAIL_MAX (1 + 3 + 1)
/* Our definition, the head of the largest value, and small data. */
#define ENCODE_STACK 2048

/* The Message fields, in our numbering (which is also the original's
 * declaration order, and so the field numbers our encoder writes; it
 * writes the first N_WRITTEN_FIELDS only). Level comes from level-2
 * clients alone, and only they define it. */
enum field {
    F_META, F_OTHER_CLIENT, F_CONNECTION_ID, F_DATA, F_LEVEL, N_FIELDS
};
#define N_WRITTEN_FIELDS F_LEVEL

static const struct {
    const char *name;
    int64_t type;
    bool optional; /* a definition may leave it out */
} message_fields[N_FIELDS] = {
    [F_META] = { "Meta", T_UINT, false },
    [F_OTHER_CLIENT] = { "OtherClient", T_STRING, false },
    [F_CONNECTION_ID] = { "ConnectionID", T_STRING, false },
    [F_DATA] = { "Data", T_BYTES, false },
    [F_LEVEL] = { "Level", T_INT, true },
};

/*
 * The original server's definition of Message, byte for byte as it wrote
 * it (wire/go-gob-transcript.txt). A definition is a value of gob's own
 * wireType{ArrayT, SliceT, StructT, MapT, ...} with only StructT set.
 */
static const unsigned char message_type_def[] = {
    0x48,       /* 72 bytes follow */
    0xff, 0x81, /* type id -65: the definition of type 65 */
    0x03,       /* wireType field 2, StructT: a structType */
    0x01,       /*   field 0, CommonType */
    0x01, 0x07, 'M', 'e', 's', 's', 'a', 'g', 'e', /* Name */
    0x01, 0xff, 0x82, /* Id 65 */
    0x00,       /*   end of CommonType */
    0x01, 0x04, /*   field 1, Field: four fieldTypes {Name, Id} */
    0x01, 0x04, 'M', 'e', 't', 'a', 0x01, 0x06, 0x00, /* uint (3) */
    0x01, 0x0b, 'O', 't', 'h', 'e', 'r', 'C', 'l', 'i', 'e', 'n', 't',
    0x01, 0x0c, 0x00, /* string (6) */
    0x01, 0x0c, 'C', 'o', 'n', 'n', 'e', 'c', 't', 'i', 'o', 'n', 'I', 'D',
    0x01, 0x0c, 0x00, /* string (6) */
    0x01, 0x04, 'D', 'a', 't', 'a', 0x01, 0x0a, 0x00, /* []byte (5) */
    0x00,       /* end of structType */
    0x00,       /* end of wireType */
};
_Static_assert(sizeof message_type_def == 73, "72 bytes and their count");

/*
 * A level-2 client's definition: the same with a fifth field `Level int`,
 * byte for byte what Go's encoder writes for it (doc/protocol.md,
 * "Protocol level 2", "Gob"). Only mp_codec_gob_client writes it.
 */
static const unsigned char message_level_type_def[] = {
    0x52,       /* 82 bytes follow */
    0xff, 0x81, /* type id -65: the definition of type 65 */
    0x03,       /* wireType field 2, StructT: a structType */
    0x01,       /*   field 0, CommonType */
    0x01, 0x07, 'M', 'e', 's', 's', 'a', 'g', 'e', /* Name */
    0x01, 0xff, 0x82, /* Id 65 */
    0x00,       /*   end of CommonType */
    0x01, 0x05, /*   field 1, Field: five fieldTypes {Name, Id} */
    0x01, 0x04, 'M', 'e', 't', 'a', 0x01, 0x06, 0x00, /* uint (3) */
    0x01, 0x0b, 'O', 't', 'h', 'e', 'r', 'C', 'l', 'i', 'e', 'n', 't',
    0x01, 0x0c, 0x00, /* string (6) */
    0x01, 0x0c, 'C', 'o', 'n', 'n', 'e', 'c', 't', 'i', 'o', 'n', 'I', 'D',
    0x01, 0x0c, 0x00, /* string (6) */
    0x01, 0x04, 'D', 'a', 't', 'a', 0x01, 0x0a, 0x00, /* []byte (5) */
    0x01, 0x05, 'L', 'e', 'v', 'e', 'l', 0x01, 0x04, 0x00, /* int (2) */
    0x00,       /* end of structType */
    0x00,       /* end of wireType */
};
_Static_assert(sizeof message_level_type_def == 83,
               "82 bytes and their count");

/* The peer's Message type, as its definition numbered the fields. */
struct gob_type {
    int64_t id;               /* 0: not defined yet */
    uint8_t n_fields;         /* how many the peer defined */
    uint8_t field[N_FIELDS];  /* the peer's field i is our field[i] */
};

/* One direction of a socket: the decoder uses `type`, the encoder the
 * rest. */
struct gob_stream {
    struct gob_type type;
    bool type_sent;
    bool may_define_level; /* mp_codec_gob_client's: a client's stream */
    bool level_defined;    /* the definition sent has Level */
};

/* ========================================================================
 * Reading
 */

/* A bounded view of input: reads never pass len. */
struct reader {
    const unsigned char *p;
    size_t len, off;
    char *err;
    size_t errlen;
};

enum { R_OK = 0, R_SHORT = -1, R_BAD = -2 };

static int failf(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report an error into the reader's buffer; returns -1. */
static int failf(struct reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mp_vset_error(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int unexpected(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A type definition that is not the Message struct. */
static int unexpected(struct reader *r, const char *fmt, ...)
{
    char why[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return failf(r, "gob: unexpected type definition: %s", why);
}

/* An unsigned integer: R_OK, R_SHORT if its bytes are not all there, or
 * R_BAD for a length byte claiming more than eight bytes. */
static int get_uint(struct reader *r, uint64_t *v)
{
    unsigned char b;
    size_t n;
    uint64_t x = 0;

    if (r->off >= r->len)
        return R_SHORT;
    b = r->p[r->off];
    if (b < 0x80) {
        *v = b;
        r->off++;
        return R_OK;
    }
    n = (size_t)(256 - b); /* 0xff: one byte, 0xfe: two, ... */
    if (n > 8)
        return R_BAD;
    if (r->len - r->off - 1 < n)
        return R_SHORT;
    /* Go accepts non-minimal forms (0xff 0x05 for 5), and so do we. */
    for (size_t i = 1; i <= n; i++)
        x = x << 8 | r->p[r->off + i];
    r->off += 1 + n;
    *v = x;
    return R_OK;
}

static int get_int(struct reader *r, int64_t *v)
{
    uint64_t u;
    int rc = get_uint(r, &u);

    if (rc == R_OK) /* u >> 1 <= INT64_MAX: neither form overflows */
        *v = (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
    return rc;
}

/* Inside a complete gob message, running out of bytes is an error. */
static int need_uint(struct reader *r, uint64_t *v, const char *what)
{
    size_t at = r->off;

    switch (get_uint(r, v)) {
    case R_OK:
        return 0;
    case R_SHORT:
        return failf(r, "gob: message ends inside %s", what);
    default:
        return failf(r, "gob: invalid integer (length byte 0x%02x) in %s",
                     r->p[at], what);
    }
}

static int need_int(struct reader *r, int64_t *v, const char *what)
{
    uint64_t u;

    if (need_uint(r, &u, what) < 0)
        return -1;
    *v = (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
    return 0;
}

/* A string or []byte: its count, then at most `max` bytes, all inside
 * the message. */
static int need_bytes(struct reader *r, size_t max, const unsigned char **p,
                      size_t *n, const char *what)
{
    uint64_t count;

    if (need_uint(r, &count, what) < 0)
        return -1;
    if (count > r->len - r->off)
        return failf(r,
                     "gob: %s of %" PRIu64 " bytes runs past the end of its"
                     " message (%zu bytes left)",
                     what, count, r->len - r->off);
    if (count > max)
        return failf(r, "gob: %s of %" PRIu64 " bytes is longer than %zu",
                     what, count, max);
    *p = r->p + r->off;
    *n = (size_t)count;
    r->off += (size_t)count;
    return 0;
}

/*
 * The next field of a struct of `nfields` fields. *field is the previous
 * field's number (-1 before the first). Returns 1 with the new number in
 * *field, 0 at the end of the struct, -1 on error. Deltas are positive,
 * so a field cannot come twice or go back.
 */
static int next_field(struct reader *r, int *field, int nfields,
                      const char *what)
{
    uint64_t delta;

    if (need_uint(r, &delta, what) < 0)
        return -1;
    if (delta == 0)
        return 0;
    if (delta >= (uint64_t)(nfields - *field))
        return failf(r,
                     "gob: field delta %" PRIu64 " after field %d is out of"
                     " range in %s (%d fields)",
                     delta, *field, what, nfields);
    *field += (int)delta;
    return 1;
}

/* A type id for messages: "uint", "string", or "type id 70". */
static const char *type_desc(int64_t id, char *buf, size_t len)
{
    static const char *const builtin[] = {
        [T_BOOL] = "bool",
        [T_INT] = "int",
        [T_UINT] = "uint",
        [T_FLOAT] = "float",
        [T_BYTES] = "[]byte",
        [T_STRING] = "string",
        [T_COMPLEX] = "complex",
        [T_INTERFACE] = "interface",
    };

    if (id > 0 && id < (int64_t)(sizeof builtin / sizeof builtin[0]) &&
        builtin[id] != NULL)
        return builtin[id];
    snprintf(buf, len, "type id %" PRId64, id);
    return buf;
}

/* A field name from the wire, made safe to print: printable ASCII, at
 * most 40 bytes shown. */
static void printable(const unsigned char *s, size_t n, char *out,
                      size_t outlen)
{
    size_t shown = n < 40 ? n : 40, o = 0;

    for (size_t i = 0; i < shown && o + 1 < outlen; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    if (shown < n && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------------------
 * The type definition
 */

/* What each wireType field defines; StructT is the one we accept. */
#define WIRE_STRUCT 2
static const char *const wire_kinds[] = {
    "an array", "a slice", "a struct", "a map",
    "a GobEncoder", "a BinaryMarshaler", "a TextMarshaler",
};
#define N_WIRE_KINDS ((int)(sizeof wire_kinds / sizeof wire_kinds[0]))

/* The id a definition (negative id) defines; INT64_MIN included. */
static uint64_t defined_id(int64_t id)
{
    return 0 - (uint64_t)id;
}

/* Is the id of a gob message acceptable where a definition of Message
 * is due? Shared by the early check and the full parse. */
static int check_definition_id(struct reader *r, int64_t id)
{
    char buf[32];

    if (id >= 0)
        return failf(r,
                     "gob: expected the Message type definition first,"
                     " got a value of %s",
                     type_desc(id, buf, sizeof buf));
    if (id < -(int64_t)TYPE_ID_MAX || -id < FIRST_USER_ID)
        return failf(r,
                     "gob: type definition for type id %" PRIu64
                     ", not a user type id (%d to %" PRId32 ")",
                     defined_id(id), FIRST_USER_ID, (int32_t)TYPE_ID_MAX);
    return 0;
}

/* CommonType{Name string; Id typeId}: the name is free (Go ignores it
 * when matching types); the id must be the one being defined. */
static int parse_common_type(struct reader *r, int64_t *id)
{
    int field = -1, rc;
    const unsigned char *name;
    size_t name_len;

    while ((rc = next_field(r, &field, 2, "CommonType")) > 0) {
        if (field == 0)
            rc = need_bytes(r, TYPE_NAME_MAX, &name, &name_len,
                            "the type name");
        else
            rc = need_int(r, id, "the type id");
        if (rc < 0)
            return -1;
    }
    return rc;
}

/* Which Message field a wire name is, or N_FIELDS. Go matches names
 * exactly, case included. */
static enum field field_named(const unsigned char *s, size_t n)
{
    for (int f = 0; f < N_FIELDS; f++) {
        if (strlen(message_fields[f].name) == n &&
            memcmp(message_fields[f].name, s, n) == 0)
            return (enum field)f;
    }
    return N_FIELDS;
}

/* fieldType{Name string; Id typeId}: one field of the struct, the
 * peer's field number `index`. */
static int parse_field_type(struct reader *r, struct gob_type *t,
                            size_t index, bool seen[N_FIELDS])
{
    const unsigned char *name = (const unsigned char *)"";
    size_t name_len = 0;
    int64_t id = 0;
    int field = -1, rc;
    char shown[48], buf[32];
    enum field f;

    while ((rc = next_field(r, &field, 2, "a field definition")) > 0) {
        if (field == 0)
            rc = need_bytes(r, MP_NAME_MAX, &name, &name_len,
                            "a field name");
        else
            rc = need_int(r, &id, "a field type");
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    printable(name, name_len, shown, sizeof shown);
    f = field_named(name, name_len);
    if (f == N_FIELDS)
        return unexpected(r, "unknown field \"%s\"", shown);
    if (seen[f])
        return unexpected(r, "field %s defined twice", shown);
    if (id != message_fields[f].type) {
        char want[32];
        return unexpected(r, "field %s has type %s, expected %s", shown,
                          type_desc(id, buf, sizeof buf),
                          type_desc(message_fields[f].type, want,
                                    sizeof want));
    }
    seen[f] = true;
    t->field[index] = (uint8_t)f;
    return 0;
}

/* Field []fieldType: the struct's fields, in the peer's order. */
static int parse_fields(struct reader *r, struct gob_type *t,
                        bool seen[N_FIELDS])
{
    uint64_t count;

    if (need_uint(r, &count, "the field count") < 0)
        return -1;
    /* Checked before the loop: a count of 2^60 is refused at once. */
    if (count > N_FIELDS)
        return unexpected(r,
                          "%" PRIu64 " fields, expected the %d of Message"
                          " (%d with Level)",
                          count, N_WRITTEN_FIELDS, N_FIELDS);
    for (size_t i = 0; i < count; i++) {
        if (parse_field_type(r, t, i, seen) < 0)
            return -1;
    }
    t->n_fields = (uint8_t)count;
    return 0;
}

/* structType{CommonType; Field []fieldType}. */
static int parse_struct_type(struct reader *r, struct gob_type *t)
{
    bool seen[N_FIELDS] = { false };
    int64_t common_id = 0;
    int field = -1, rc;

    /* Each field at most once, since deltas only move forward. */
    while ((rc = next_field(r, &field, 2, "the struct type")) > 0) {
        rc = field == 0 ? parse_common_type(r, &common_id)
                        : parse_fields(r, t, seen);
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (common_id != t->id)
        return unexpected(r, "sent as type id %" PRId64
                          " but its CommonType says %" PRId64,
                          t->id, common_id);
    for (int f = 0; f < N_FIELDS; f++) {
        if (!seen[f] && !message_fields[f].optional)
            return unexpected(r, "field %s is missing",
                              message_fields[f].name);
    }
    return 0;
}

/* The body of a definition gob message: the id, then a wireType. */
static int parse_definition(struct reader *r, struct gob_type *t)
{
    int64_t id;
    int field = -1, rc;
    bool have_struct = false;

    if (need_int(r, &id, "the type id") < 0 || check_definition_id(r, id) < 0)
        return -1;
    t->id = -id;
    while ((rc = next_field(r, &field, N_WIRE_KINDS, "the type definition")) >
           0) {
        if (field != WIRE_STRUCT)
            return unexpected(r, "%s type, expected the Message struct",
                              wire_kinds[field]);
        if (parse_struct_type(r, t) < 0)
            return -1;
        have_struct = true;
    }
    if (rc < 0)
        return -1;
    if (!have_struct)
        return unexpected(r, "defines no type");
    if (r->off != r->len)
        return failf(r, "gob: %zu stray byte(s) after the type definition",
                     r->len - r->off);
    return 0;
}

/* ------------------------------------------------------------------------
 * The value
 */

/* Is the id of a gob message acceptable where a Message value is due? */
static int check_value_id(struct reader *r, const struct gob_type *t,
                          int64_t id)
{
    char buf[32];

    if (id < 0)
        return failf(r,
                     "gob: unexpected type definition (type id %" PRIu64
                     ") after the Message type",
                     defined_id(id));
    if (id != t->id)
        return failf(r,
                     "gob: expected a Message value (type id %" PRId64
                     "), got a value of %s",
                     t->id, type_desc(id, buf, sizeof buf));
    return 0;
}

/* Metas whose Data the original clients always set (the secret, the
 * protocol name, the payload): gob cannot send an empty []byte, so absent
 * Data there means empty, not null. */
static bool data_always_present(uint8_t meta)
{
    return meta == MP_META_DATA || meta == MP_META_CONN_SYN ||
           meta == MP_META_AUTH;
}

static int take_name(struct reader *r, enum field f, struct mp_message *msg)
{
    const unsigned char *s;
    size_t n;
    const char *what = message_fields[f].name;

    if (need_bytes(r, MP_NAME_MAX, &s, &n, what) < 0)
        return -1;
    /* As in the binary format: JSON cannot carry anything else, and a
     * message must pass to a client of any format. */
    if (!mp_utf8_valid(s, n))
        return failf(r, "gob: %s is not valid UTF-8", what);
    if (f == F_OTHER_CLIENT)
        return mp_message_set_other_client(msg, (const char *)s, n);
    return mp_message_set_connection_id(msg, (const char *)s, n);
}

/* Level is an int on the wire (Go's `Level int`); a level is 0-255, as
 * in the other formats, where it is one byte. */
static int take_level(struct reader *r, struct mp_message *msg)
{
    int64_t level;

    if (need_int(r, &level, "Level") < 0)
        return -1;
    if (level < 0 || level > UINT8_MAX)
        return failf(r, "gob: Level value %" PRId64 " is not 0 to 255",
                     level);
    msg->level = (uint8_t)level;
    return 0;
}

static int take_field(struct reader *r, enum field f, struct mp_message *msg)
{
    uint64_t meta;
    const unsigned char *s;
    size_t n;

    switch (f) {
    case F_LEVEL:
        return take_level(r, msg);
    case F_META:
        if (need_uint(r, &meta, "Meta") < 0)
            return -1;
        if (meta > UINT8_MAX)
            return failf(r, "gob: Meta value %" PRIu64
                         " does not fit in a uint8", meta);
        msg->meta = (uint8_t)meta;
        return 0;
    case F_DATA:
        /* Bounded by the message, itself bounded by max_size. */
        if (need_bytes(r, SIZE_MAX, &s, &n, "Data") < 0)
            return -1;
        if (mp_message_set_data(msg, s, n) < 0)
            return failf(r, "out of memory");
        return 0;
    default:
        return take_name(r, f, msg);
    }
}

/* The body of a value gob message: the id, then a Message struct. On
 * error msg holds no allocation. */
static int parse_value(struct reader *r, const struct gob_type *t,
                       struct mp_message *msg)
{
    int64_t id;
    int field = -1, rc;

    if (need_int(r, &id, "the type id") < 0 || check_value_id(r, t, id) < 0)
        return -1;
    while ((rc = next_field(r, &field, t->n_fields, "the Message value")) >
           0) {
        if (take_field(r, (enum field)t->field[field], msg) < 0) {
            mp_message_clear(msg);
            return -1;
        }
    }
    if (rc == 0 && r->off != r->len)
        rc = failf(r, "gob: %zu stray byte(s) after the Message value",
                   r->len - r->off);
    if (rc < 0) {
        mp_message_clear(msg);
        return -1;
    }
    if (!msg->has_data && data_always_present(msg->meta))
        mp_message_take_data(msg, NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------------
 * Gob messages in the stream
 */

/* Where a gob message is due, which ids are acceptable. */
struct expect {
    const struct gob_type *type; /* NULL: the definition of Message */
    size_t limit;                /* bytes, byte count included */
    const char *what;            /* for the size error */
};

static int check_id(struct reader *r, const struct expect *e, int64_t id)
{
    return e->type == NULL ? check_definition_id(r, id)
                           : check_value_id(r, e->type, id);
}

/*
 * Find the gob message at buf[off..len): on OK its body is
 * buf[*start..*end). Everything that can be refused before the body is
 * all there is refused at once: a bad byte count, one over the limit, an
 * unexpected type id.
 */
static enum mp_decode_status frame(const unsigned char *buf, size_t len,
                                   size_t off, const struct expect *e,
                                   size_t *start, size_t *end, char *err,
                                   size_t errlen)
{
    struct reader r = { buf + off, len - off, 0, err, errlen };
    uint64_t count;
    int64_t id;
    size_t prefix;

    switch (get_uint(&r, &count)) {
    case R_SHORT:
        return MP_DECODE_NEED_MORE;
    case R_BAD:
        return mp_decode_fail(err, errlen,
                    "gob: invalid message length (length byte 0x%02x)",
                    buf[off]);
    }
    prefix = r.off;
    if (count == 0)
        return mp_decode_fail(err, errlen, "gob: empty message");
    /* Compared without adding: a count near 2^64 must not wrap. */
    if (count > e->limit || prefix > e->limit - count)
        return mp_decode_fail(err, errlen,
                    "gob: %s of %" PRIu64 " bytes exceeds the limit of %zu",
                    e->what,
                    count > UINT64_MAX - prefix ? UINT64_MAX : prefix + count,
                    e->limit);
    /* The type id may be in already, even if the rest is not. */
    if (r.len - prefix > count)
        r.len = prefix + (size_t)count;
    if (get_int(&r, &id) == R_OK && check_id(&r, e, id) < 0)
        return MP_DECODE_ERROR;
    *start = off + prefix;
    if (len - *start < count)
        return MP_DECODE_NEED_MORE;
    *end = *start + (size_t)count;
    return MP_DECODE_OK;
}

/* ========================================================================
 * The ops
 */

static void *gob_stream_new(void *plugin_state)
{
    (void)plugin_state;
    return calloc(1, sizeof(struct gob_stream));
}

static void *gob_client_stream_new(void *plugin_state)
{
    struct gob_stream *gs = gob_stream_new(plugin_state);

    if (gs != NULL)
        gs->may_define_level = true;
    return gs;
}

static void gob_stream_free(void *stream)
{
    free(stream);
}

/* The definition of Message at the start of the stream: on OK, *type is
 * filled and *next is where the first value starts. */
static enum mp_decode_status read_definition(const unsigned char *buf,
                                             size_t len,
                                             struct gob_type *type,
                                             size_t *next, char *err,
                                             size_t errlen)
{
    const struct expect e = { NULL, TYPEDEF_MAX,
                              "first message (the type definition)" };
    size_t start = 0, end = 0;
    enum mp_decode_status st = frame(buf, len, 0, &e, &start, &end, err,
                                     errlen);

    if (st != MP_DECODE_OK)
        return st;
    struct reader r = { buf + start, end - start, 0, err, errlen };
    if (parse_definition(&r, type) < 0)
        return MP_DECODE_ERROR;
    *next = end;
    return MP_DECODE_OK;
}

static enum mp_decode_status gob_decode(void *stream,
                                        const unsigned char *buf, size_t len,
                                        size_t max_size,
                                        struct mp_message *msg,
                                        size_t *consumed, char *err,
                                        size_t errlen)
{
    struct gob_stream *gs = stream;
    struct gob_type type;
    size_t off = 0, start = 0, end = 0;
    enum mp_decode_status st;

    if (gs == NULL)
        return mp_decode_fail(err, errlen, "gob: no stream state");
    /* Work on a copy: the definition is only committed with the first
     * value, so NEED_MORE leaves the stream as it was and the next call
     * (the same bytes and more) reads the definition again. It is at
     * most TYPEDEF_MAX bytes. */
    type = gs->type;
    if (type.id == 0) {
        st = read_definition(buf, len, &type, &off, err, errlen);
        if (st != MP_DECODE_OK)
            return st;
    }
    const struct expect e = { &type, max_size, "message" };
    st = frame(buf, len, off, &e, &start, &end, err, errlen);
    if (st != MP_DECODE_OK)
        return st;
    struct reader r = { buf + start, end - start, 0, err, errlen };
    if (parse_value(&r, &type, msg) < 0)
        return MP_DECODE_ERROR;
    gs->type = type;
    *consumed = end;
    return MP_DECODE_OK;
}

/* ------------------------------------------------------------------------
 * Encoding: byte for byte what the original server's gob.Encoder wrote.
 */

/* An unsigned integer at p; returns its length (at most UINT_MAX_LEN). */
static size_t put_uint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    if (v < 0x80) {
        p[0] = (unsigned char)v;
        return 1;
    }
    for (uint64_t x = v; x != 0; x >>= 8)
        n++;
    p[0] = (unsigned char)(256 - n);
    for (size_t i = 0; i < n; i++)
        p[n - i] = (unsigned char)(v >> (8 * i));
    return n + 1;
}

/* A field's delta from the previous one written. */
static size_t put_delta(unsigned char *p, int *last, enum field f)
{
    size_t n = put_uint(p, (uint64_t)((int)f - *last));

    *last = (int)f;
    return n;
}

static size_t put_name(unsigned char *p, int *last, enum field f,
                       const char *s, size_t len)
{
    size_t n;

    if (len == 0) /* zero values are omitted */
        return 0;
    n = put_delta(p, last, f);
    n += put_uint(p + n, len);
    memcpy(p + n, s, len);
    return n + len;
}

/* A value's bytes up to its data: the type id and every non-zero field,
 * Data's delta and count included; *last is the last field written (-1:
 * none). The data and put_value_tail() follow. */
static size_t put_value_head(unsigned char *p, const struct mp_message *msg,
                             size_t data_len, int *last)
{
    size_t n = put_uint(p, (uint64_t)OUR_TYPE_ID << 1); /* as an int */

    *last = -1;
    if (msg->meta != 0) {
        n += put_delta(p + n, last, F_META);
        n += put_uint(p + n, msg->meta);
    }
    n += put_name(p + n, last, F_OTHER_CLIENT, msg->other_client,
                  msg->other_client_len);
    n += put_name(p + n, last, F_CONNECTION_ID, msg->connection_id,
                  msg->connection_id_len);
    if (data_len > 0) {
        n += put_delta(p + n, last, F_DATA);
        n += put_uint(p + n, data_len);
    }
    return n;
}

/* A value's bytes after its data: Level when the stream defined it and
 * the level is not zero (Go leaves zero fields out), then the struct's
 * closing 0. `last` is the last field written before. */
static size_t put_value_tail(unsigned char *p, const struct mp_message *msg,
                             bool with_level, int last)
{
    size_t n = 0;

    if (with_level && msg->level != 0) {
        n += put_delta(p, &last, F_LEVEL);
        n += put_uint(p + n, (uint64_t)msg->level << 1); /* as an int */
    }
    p[n] = 0x00;
    return n + 1;
}

/*
 * The definition that starts a stream: the original's, except on a
 * client's stream (mp_codec_gob_client) whose first message announces a
 * level, which defines Message with Level as a level-2 Go client does.
 * A client that announces no level keeps the original's definition, so
 * that a broker that predates Level still reads it.
 */
static size_t put_definition(unsigned char *p, struct gob_stream *gs,
                             const struct mp_message *msg)
{
    if (gs->may_define_level && msg->level != 0) {
        gs->level_defined = true;
        memcpy(p, message_level_type_def, sizeof message_level_type_def);
        return sizeof message_level_type_def;
    }
    memcpy(p, message_type_def, sizeof message_type_def);
    return sizeof message_type_def;
}

static int gob_encode(void *stream, const struct mp_message *msg,
                      mp_write_fn write, void *ctx)
{
    struct gob_stream *gs = stream;
    unsigned char buf[ENCODE_STACK], head[VALUE_HEAD_MAX],
        tail[VALUE_TAIL_MAX];
    /* Gob cannot tell empty from absent data: both are omitted. */
    size_t data_len = msg->has_data ? msg->data_len : 0;
    size_t head_len, tail_len, o = 0;
    int last;

    if (gs == NULL) /* without it, the definition would never be sent */
        return -1;
    if (!gs->type_sent)
        o = put_definition(buf, gs, msg);
    /* The level travels only in a definition that has Level: the
     * broker's never has (only clients announce a level). */
    head_len = put_value_head(head, msg, data_len, &last);
    tail_len = put_value_tail(tail, msg, gs->level_defined, last);
    if ((uint64_t)data_len >= GOB_TOO_BIG - head_len - tail_len)
        return -1;
    o += put_uint(buf + o, head_len + data_len + tail_len);
    memcpy(buf + o, head, head_len);
    o += head_len;

    /* Small data rides in the same write; large data gets its own. */
    if (data_len + tail_len <= sizeof buf - o) {
        if (data_len > 0)
            memcpy(buf + o, msg->data, data_len);
        memcpy(buf + o + data_len, tail, tail_len);
        if (write(ctx, buf, o + data_len + tail_len) < 0)
            return -1;
        gs->type_sent = true;
        return 0;
    }
    if (write(ctx, buf, o) < 0)
        return -1;
    gs->type_sent = true;
    if (write(ctx, msg->data, data_len) < 0 ||
        write(ctx, tail, tail_len) < 0)
        return -1;
    return 0;
}

/*
 * A gob stream starts with the definition of Message: a byte count of 63
 * to TYPEDEF_MAX, a negative user type id, then 0x03 0x01 (wireType's
 * StructT, structType's CommonType). The first byte is thus 0x3f-0x7f,
 * or 0xfe/0xff for a definition of 128 bytes or more: never 0x00
 * (binary) nor JSON whitespace. '{' (0x7b, a 123-byte definition, which
 * takes a 58-byte type name) is left to JSON.
 */
static int gob_sniff(const unsigned char *buf, size_t len)
{
    struct reader r = { buf, len, 0, NULL, 0 };
    uint64_t count;
    int64_t id;
    int rc;

    if (buf[0] == '{')
        return 0;
    rc = get_uint(&r, &count);
    if (rc == R_OK && (count < TYPEDEF_MIN || count > TYPEDEF_MAX))
        return 0;
    if (rc == R_OK)
        rc = get_int(&r, &id);
    if (rc == R_OK && (id >= 0 || id < -(int64_t)TYPE_ID_MAX ||
                       -id < FIRST_USER_ID))
        return 0;
    if (rc == R_BAD)
        return 0;
    for (size_t i = 0; rc == R_OK && i < 2; i++) {
        if (r.off >= r.len)
            rc = R_SHORT;
        else if (r.p[r.off++] != (i == 0 ? 0x03 : 0x01))
            return 0;
    }
    return rc == R_OK ? 1 : -1;
}

const struct mp_codec_ops mp_codec_gob = {
    .size = sizeof(struct mp_codec_ops),
    .sniff = gob_sniff,
    .stream_new = gob_stream_new,
    .stream_free = gob_stream_free,
    .decode = gob_decode,
    .encode = gob_encode,
};

const struct mp_codec_ops mp_codec_gob_client = {
    .size = sizeof(struct mp_codec_ops),
    .sniff = gob_sniff,
    .stream_new = gob_client_stream_new,
    .stream_free = gob_stream_free,
    .decode = gob_decode,
    .encode = gob_encode,
};
