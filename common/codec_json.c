/*
 * codec_json.c - the JSON wire format, compatible with the original Go
 * JSON translator: encoding/json on
 *
 *     type Message struct { Meta uint8; OtherClient string;
 *                           ConnectionID string; Data []byte }
 *
 * one object per message, followed by "\n" (doc/protocol.md, "JSON
 * format").
 *
 * Decoding is two passes over each message. A small incremental scanner
 * finds where the object ends, keeping its position in the per-stream
 * state so that a message arriving in many pieces is scanned once overall
 * (yajl's own streaming re-reads a token that spans pieces from its start
 * on every piece, which is quadratic for a large Data string). The scanner
 * also refuses what can never become valid (a non-object, stray bytes,
 * unpaired surrogate escapes, oversize) as soon as it sees it. yajl then
 * parses the complete object once, and its callbacks apply Go's decoding
 * rules to the fields.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "base64.h"
#include "codec.h"
#include "errbuf.h"
#include "message.h"
#include "name.h"

/* Go's encoding/json refuses input nested deeper than this. */
#define MAX_DEPTH 10000


/* ========================================================================
 * Scanner: where does the object end?
 */

enum scan_state {
    SCAN_LEAD = 0, /* whitespace before the object (the zero state) */
    SCAN_VALUE,    /* inside the object, outside strings */
    SCAN_STRING,   /* inside a string */
    SCAN_ESCAPE,   /* after a backslash */
    SCAN_HEX,      /* in the four hex digits of \uXXXX */
};

enum scan_result { SCAN_MORE, SCAN_DONE, SCAN_ERROR };

/* The per-stream state: how far the current message has been scanned.
 * All zero is the state at the start of a message. */
struct json_scan {
    size_t off;        /* bytes of the buffer examined so far */
    size_t start;      /* offset of the object's '{' */
    uint32_t depth;    /* objects and arrays open */
    uint8_t state;     /* enum scan_state */
    uint8_t hex_left;  /* hex digits still to come in a \u escape */
    uint16_t hex_val;  /* value of the \u escape so far */
    bool want_low;     /* a high surrogate escape needs its low half next */
};

/* Classes of bytes outside strings. Literals (numbers, true, false, null)
 * and punctuation are left to yajl; the scanner only refuses bytes that
 * cannot appear in any JSON outside a string. */
enum {
    V_BAD = 0,
    V_SKIP,  /* whitespace, ',', ':', and the bytes of literals */
    V_OPEN,  /* '{' '[' */
    V_CLOSE, /* '}' ']' */
    V_QUOTE,
};

static const uint8_t value_class[256] = {
    [' '] = V_SKIP, ['\t'] = V_SKIP, ['\n'] = V_SKIP, ['\r'] = V_SKIP,
    [','] = V_SKIP, [':'] = V_SKIP,
    ['0'] = V_SKIP, ['1'] = V_SKIP, ['2'] = V_SKIP, ['3'] = V_SKIP,
    ['4'] = V_SKIP, ['5'] = V_SKIP, ['6'] = V_SKIP, ['7'] = V_SKIP,
    ['8'] = V_SKIP, ['9'] = V_SKIP, ['-'] = V_SKIP, ['+'] = V_SKIP,
    ['.'] = V_SKIP, ['e'] = V_SKIP, ['E'] = V_SKIP,
    ['t'] = V_SKIP, ['r'] = V_SKIP, ['u'] = V_SKIP, ['f'] = V_SKIP,
    ['a'] = V_SKIP, ['l'] = V_SKIP, ['s'] = V_SKIP, ['n'] = V_SKIP,
    ['{'] = V_OPEN, ['['] = V_OPEN,
    ['}'] = V_CLOSE, [']'] = V_CLOSE,
    ['"'] = V_QUOTE,
};

/* Bytes inside a string that end a run of plain bytes: the quote, the
 * backslash, and control characters (which JSON does not allow there). */
static const uint8_t string_stop[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
    [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

static bool is_json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * A \uXXXX escape is complete. UTF-16 surrogates must come in pairs: yajl
 * would turn a lone one into '?' (eating the next byte) or glue it to any
 * following escape, and Go into U+FFFD; neither is a faithful reading, so
 * they are refused.
 */
static bool finish_hex_escape(struct json_scan *sc)
{
    bool high = sc->hex_val >= 0xd800 && sc->hex_val <= 0xdbff;
    bool low = sc->hex_val >= 0xdc00 && sc->hex_val <= 0xdfff;

    if (sc->want_low) {
        sc->want_low = false;
        return low;
    }
    if (low)
        return false;
    sc->want_low = high;
    return true;
}

/* Skip whitespace before the object; on '{' enter it. */
static enum scan_result scan_lead(struct json_scan *sc,
                                  const unsigned char *buf, size_t len,
                                  size_t max_size, char *err, size_t errlen)
{
    size_t i = sc->off;

    while (i < len && is_json_space(buf[i]))
        i++;
    sc->off = i;
    /* Whitespace costs memory too: bound it like a message. The bound
     * holds whether or not an object follows, so that the answer does not
     * depend on how the bytes arrived (all at once, or the whitespace
     * first). */
    if (i > max_size) {
        mp_set_error(err, errlen,
                     "more than %zu bytes of whitespace without a message",
                     max_size);
        return SCAN_ERROR;
    }
    if (i == len)
        return SCAN_MORE;
    if (buf[i] != '{') {
        mp_set_error(err, errlen, "message is not a JSON object");
        return SCAN_ERROR;
    }
    sc->start = i;
    sc->off = i + 1;
    sc->depth = 1;
    sc->state = SCAN_VALUE;
    return SCAN_MORE;
}

/* One byte outside strings. */
static enum scan_result scan_value_byte(struct json_scan *sc,
                                        unsigned char c, char *err,
                                        size_t errlen)
{
    switch (value_class[c]) {
    case V_SKIP:
        return SCAN_MORE;
    case V_OPEN:
        if (++sc->depth > MAX_DEPTH) {
            mp_set_error(err, errlen, "invalid JSON: nested deeper than %d",
                      MAX_DEPTH);
            return SCAN_ERROR;
        }
        return SCAN_MORE;
    case V_CLOSE:
        /* Mismatched pairs such as {] are left for yajl to refuse. */
        return --sc->depth == 0 ? SCAN_DONE : SCAN_MORE;
    case V_QUOTE:
        sc->state = SCAN_STRING;
        return SCAN_MORE;
    default:
        if (c >= 0x20 && c < 0x7f)
            mp_set_error(err, errlen, "invalid JSON: unexpected '%c'", c);
        else
            mp_set_error(err, errlen, "invalid JSON: unexpected byte 0x%02x",
                      c);
        return SCAN_ERROR;
    }
}

/* One byte after a backslash. */
static enum scan_result scan_escape_byte(struct json_scan *sc,
                                         unsigned char c, char *err,
                                         size_t errlen)
{
    if (c == 'u') {
        sc->state = SCAN_HEX;
        sc->hex_left = 4;
        sc->hex_val = 0;
        return SCAN_MORE;
    }
    if (sc->want_low) {
        mp_set_error(err, errlen, "invalid JSON: unpaired surrogate escape");
        return SCAN_ERROR;
    }
    if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
        mp_set_error(err, errlen, "invalid JSON: invalid escape in a string");
        return SCAN_ERROR;
    }
    sc->state = SCAN_STRING;
    return SCAN_MORE;
}

/* One byte of the hex digits of \uXXXX. */
static enum scan_result scan_hex_byte(struct json_scan *sc, unsigned char c,
                                      char *err, size_t errlen)
{
    int d = hex_digit(c);

    if (d < 0) {
        mp_set_error(err, errlen, "invalid JSON: bad \\u escape in a string");
        return SCAN_ERROR;
    }
    sc->hex_val = (uint16_t)((unsigned)sc->hex_val << 4 | (unsigned)d);
    if (--sc->hex_left > 0)
        return SCAN_MORE;
    if (!finish_hex_escape(sc)) {
        mp_set_error(err, errlen, "invalid JSON: unpaired surrogate escape");
        return SCAN_ERROR;
    }
    sc->state = SCAN_STRING;
    return SCAN_MORE;
}

/* The byte that ended a run of plain string bytes. */
static enum scan_result scan_string_stop(struct json_scan *sc,
                                         unsigned char c, char *err,
                                         size_t errlen)
{
    if (sc->want_low && c != '\\') {
        mp_set_error(err, errlen, "invalid JSON: unpaired surrogate escape");
        return SCAN_ERROR;
    }
    if (c == '"') {
        sc->state = SCAN_VALUE;
        return SCAN_MORE;
    }
    if (c == '\\') {
        sc->state = SCAN_ESCAPE;
        return SCAN_MORE;
    }
    mp_set_error(err, errlen, "invalid JSON: control character in a string");
    return SCAN_ERROR;
}

/*
 * Scan the object from sc->off up to `limit`. On SCAN_DONE, *end is the
 * offset just past its closing '}'.
 */
static enum scan_result scan_object(struct json_scan *sc,
                                    const unsigned char *buf, size_t limit,
                                    size_t *end, char *err, size_t errlen)
{
    size_t i = sc->off;
    enum scan_result r = SCAN_MORE;

    while (i < limit && r == SCAN_MORE) {
        if (sc->state == SCAN_STRING) {
            /* The hot loop: the bulk of a message is string bytes. A
             * pending low surrogate must see its backslash at once. */
            if (!sc->want_low)
                while (i < limit && !string_stop[buf[i]])
                    i++;
            if (i == limit)
                break;
            r = scan_string_stop(sc, buf[i], err, errlen);
        } else if (sc->state == SCAN_VALUE) {
            r = scan_value_byte(sc, buf[i], err, errlen);
        } else if (sc->state == SCAN_ESCAPE) {
            r = scan_escape_byte(sc, buf[i], err, errlen);
        } else {
            r = scan_hex_byte(sc, buf[i], err, errlen);
        }
        i++;
    }
    sc->off = i;
    if (r == SCAN_DONE)
        *end = i;
    return r;
}

/*
 * Find the end of the message starting at buf[0], continuing from what
 * `sc` remembers. The object may take at most max_size bytes from its
 * '{': beyond that the answer is an error, whatever follows.
 */
static enum scan_result scan(struct json_scan *sc, const unsigned char *buf,
                             size_t len, size_t max_size, size_t *end,
                             char *err, size_t errlen)
{
    size_t limit = len;
    enum scan_result r;

    if (sc->state == SCAN_LEAD) {
        r = scan_lead(sc, buf, len, max_size, err, errlen);
        if (r != SCAN_MORE || sc->state == SCAN_LEAD)
            return r;
    }
    if (len - sc->start > max_size)
        limit = sc->start + max_size;
    r = scan_object(sc, buf, limit, end, err, errlen);
    if (r == SCAN_MORE && limit < len) {
        mp_set_error(err, errlen, "message exceeds %zu bytes", max_size);
        return SCAN_ERROR;
    }
    return r;
}

/* ========================================================================
 * Parser: yajl callbacks applying Go's rules to the fields.
 */

enum field { F_NONE, F_META, F_OTHER_CLIENT, F_CONNECTION_ID, F_DATA,
             F_LEVEL };

static const char *const field_names[] = {
    [F_NONE] = "", [F_META] = "Meta", [F_OTHER_CLIENT] = "OtherClient",
    [F_CONNECTION_ID] = "ConnectionID", [F_DATA] = "Data",
    [F_LEVEL] = "Level",
};

struct parse {
    struct mp_message *msg;
    unsigned depth;     /* containers open; 1 = inside the message object */
    enum field field;   /* the field whose value comes next, at depth 1 */
    const char *error;  /* why a callback stopped the parse */
};

/* ASCII case-insensitive equality. Go folds Unicode too, but the only
 * non-ASCII letters that fold to ASCII are K (Kelvin) and long s, and no
 * field name has a k or an s. */
static bool key_equal(const unsigned char *key, size_t len, const char *name)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char a = key[i], b = (unsigned char)name[i];
        if (b == '\0')
            return false;
        if (a >= 'A' && a <= 'Z')
            a |= 0x20;
        if (b >= 'A' && b <= 'Z')
            b |= 0x20;
        if (a != b)
            return false;
    }
    return name[i] == '\0';
}

static enum field match_field(const unsigned char *key, size_t len)
{
    for (enum field f = F_META; f <= F_LEVEL; f++)
        if (key_equal(key, len, field_names[f]))
            return f;
    return F_NONE;
}

/* The reason for a value of the wrong JSON type for a known field. */
static const char *type_error(enum field f)
{
    switch (f) {
    case F_META:
        return "Meta is not an integer 0-255";
    case F_LEVEL:
        return "Level is not an integer 0-255";
    case F_OTHER_CLIENT:
        return "OtherClient is not a string";
    case F_CONNECTION_ID:
        return "ConnectionID is not a string";
    default:
        return "Data is not a base64 string or null";
    }
}

/* Which field does this value belong to? F_NONE for values of unknown
 * keys and values nested in them. Consumes the pending key. */
static enum field value_field(struct parse *p)
{
    enum field f = p->depth == 1 ? p->field : F_NONE;

    if (p->depth == 1)
        p->field = F_NONE;
    return f;
}

static int fail_with(struct parse *p, const char *reason)
{
    p->error = reason;
    return 0; /* stops yajl */
}

static int on_null(void *ctx)
{
    struct parse *p = ctx;

    /* Go sets a nil slice for null and leaves other types alone. */
    if (value_field(p) == F_DATA)
        mp_message_clear_data(p->msg);
    return 1;
}

static int on_boolean(void *ctx, int value)
{
    struct parse *p = ctx;
    enum field f = value_field(p);

    (void)value;
    return f == F_NONE ? 1 : fail_with(p, type_error(f));
}

/* A JSON number as a Go uint8: digits only (no sign, fraction or
 * exponent, as strconv.ParseUint), at most 255. */
static bool parse_uint8(const char *s, size_t len, uint8_t *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 255)
        return false;
    *out = (uint8_t)v;
    return true;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    struct parse *p = ctx;
    enum field f = value_field(p);

    switch (f) {
    case F_NONE:
        return 1;
    case F_META:
        return parse_uint8(s, len, &p->msg->meta) ? 1
                                                  : fail_with(p, type_error(f));
    case F_LEVEL:
        return parse_uint8(s, len, &p->msg->level)
                   ? 1
                   : fail_with(p, type_error(f));
    default:
        return fail_with(p, type_error(f));
    }
}

static int set_name(struct parse *p, enum field f, const unsigned char *s,
                    size_t len)
{
    if (len > MP_NAME_MAX)
        return fail_with(p, f == F_OTHER_CLIENT
                                ? "OtherClient is longer than 255 bytes"
                                : "ConnectionID is longer than 255 bytes");
    /* yajl's UTF-8 check lets overlong forms and the like through. */
    if (!mp_utf8_valid(s, len))
        return fail_with(p, f == F_OTHER_CLIENT
                                ? "OtherClient is not valid UTF-8"
                                : "ConnectionID is not valid UTF-8");
    if (f == F_OTHER_CLIENT)
        mp_message_set_other_client(p->msg, (const char *)s, len);
    else
        mp_message_set_connection_id(p->msg, (const char *)s, len);
    return 1;
}

static int set_data(struct parse *p, const unsigned char *s, size_t len)
{
    size_t max = mp_base64_decoded_max(len), n;
    unsigned char *data = NULL;

    if (max > 0) {
        data = malloc(max);
        if (data == NULL)
            return fail_with(p, "out of memory");
    }
    if (mp_base64_decode((const char *)s, len, data, &n) < 0) {
        free(data);
        return fail_with(p, "Data is not valid base64");
    }
    if (n == 0) {
        /* Present but empty: no buffer needed. */
        free(data);
        data = NULL;
    }
    mp_message_take_data(p->msg, data, n);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct parse *p = ctx;
    enum field f = value_field(p);

    switch (f) {
    case F_NONE:
        /* Ignored, but still held to the rule every string follows:
         * yajl lets overlong forms and encoded surrogates through. */
        if (!mp_utf8_valid(s, len))
            return fail_with(p, "a string is not valid UTF-8");
        return 1;
    case F_OTHER_CLIENT:
    case F_CONNECTION_ID:
        return set_name(p, f, s, len);
    case F_DATA:
        return set_data(p, s, len);
    default: /* Go will not read "5" into a uint8 */
        return fail_with(p, type_error(f));
    }
}

static int on_start_container(void *ctx)
{
    struct parse *p = ctx;
    enum field f = value_field(p);

    if (f != F_NONE)
        return fail_with(p, type_error(f));
    p->depth++;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct parse *p = ctx;

    if (!mp_utf8_valid(key, len))
        return fail_with(p, "a key is not valid UTF-8");
    if (p->depth == 1)
        p->field = match_field(key, len);
    return 1;
}

static int on_end_container(void *ctx)
{
    struct parse *p = ctx;

    p->depth--;
    return 1;
}

static const yajl_callbacks parse_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number, /* numbers as text: no overflow errors */
    .yajl_string = on_string,
    .yajl_start_map = on_start_container,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_container,
    .yajl_start_array = on_start_container,
    .yajl_end_array = on_end_container,
};

/* yajl's reason, first line only ("parse error: ..."). */
static void yajl_reason(yajl_handle h, char *err, size_t errlen)
{
    unsigned char *text = yajl_get_error(h, 0, NULL, 0);

    if (text == NULL) {
        mp_set_error(err, errlen, "invalid JSON");
        return;
    }
    size_t n = strcspn((const char *)text, "\n");
    mp_set_error(err, errlen, "invalid JSON: %.*s", (int)n, (const char *)text);
    yajl_free_error(h, text);
}

/* Parse the complete object span[0..len) into msg. Returns 0 or -1. */
static int parse_object(const unsigned char *span, size_t len,
                        struct mp_message *msg, char *err, size_t errlen)
{
    struct parse p = { .msg = msg };
    yajl_handle h = yajl_alloc(&parse_callbacks, NULL, &p);
    yajl_status st;

    if (h == NULL) {
        mp_set_error(err, errlen, "out of memory");
        return -1;
    }
    st = yajl_parse(h, span, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_client_canceled)
        mp_set_error(err, errlen, "%s", p.error);
    else if (st != yajl_status_ok)
        yajl_reason(h, err, errlen);
    yajl_free(h);
    if (st != yajl_status_ok) {
        mp_message_clear(msg);
        return -1;
    }
    return 0;
}

/* ========================================================================
 * The fast path
 *
 * Every known writer - the original's Go encoder, this file's encoder,
 * libmpclient, the Python client - writes the canonical form
 *
 *   {"Meta":N,"OtherClient":"...","ConnectionID":"...","Data":"..."|null}
 *
 * keys in that order and spelling, no whitespace inside the object,
 * strings without escapes, and Data in canonical base64 (what every
 * encoder writes). Such a message is read in one pass, without
 * the scanner and yajl (which cost half of a JSON broker's time). Any
 * other form - spacing, key order or case, escapes, Level, unknown keys -
 * and any error at all take the general path, which therefore alone words
 * every error: the fast path only accepts what the general path accepts,
 * with the same result (tests/unit/test_codec_json.c holds the two paths
 * to that on every input it has).
 */

/* Step over the literal lit[0..n) at *p. */
static bool skip_literal(const unsigned char **p, const unsigned char *end,
                         const char *lit, size_t n)
{
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* A string without escapes or control bytes; *p is just past its opening
 * quote and ends just past its closing one. */
static bool plain_string(const unsigned char **p, const unsigned char *end,
                         const unsigned char **s, size_t *len)
{
    const unsigned char *q = *p;

    while (q < end && !string_stop[*q])
        q++;
    if (q == end || *q != '"')
        return false;
    *s = *p;
    *len = (size_t)(q - *p);
    *p = q + 1;
    return true;
}

static bool plain_name(const unsigned char **p, const unsigned char *end,
                       const unsigned char **s, size_t *len)
{
    return plain_string(p, end, s, len) && *len <= MP_NAME_MAX &&
           mp_utf8_valid(*s, *len);
}

/* Data's text, when it is canonical base64: up to the first quote
 * (memchr's speed; base64 has no quote, backslash or control character,
 * so that quote ends the string), checked in one pass. Anything else,
 * escapes and newlines included, is left to the general path. */
static bool canonical_base64(const unsigned char **p,
                             const unsigned char *end,
                             const unsigned char **s, size_t *len)
{
    const unsigned char *q = memchr(*p, '"', (size_t)(end - *p));

    if (q == NULL || !mp_base64_is_canonical((const char *)*p,
                                             (size_t)(q - *p)))
        return false;
    *s = *p;
    *len = (size_t)(q - *p);
    *p = q + 1;
    return true;
}

/* The parts of a canonical message, pointing into the buffer. */
struct canonical {
    uint8_t meta;
    const unsigned char *other, *id, *data; /* data NULL: null */
    size_t other_len, id_len, data_len;
    size_t end;                             /* bytes up to the '}' */
};

static bool parse_canonical(const unsigned char *buf, size_t len,
                            size_t max_size, struct canonical *c)
{
    const unsigned char *p = buf, *end = buf + len, *digits;

    while (p < end && is_json_space(*p))
        p++;
    if (!skip_literal(&p, end, "{\"Meta\":", 8))
        return false;
    for (digits = p; p < end && *p >= '0' && *p <= '9'; p++)
        ;
    if ((p - digits > 1 && *digits == '0') ||
        !parse_uint8((const char *)digits, (size_t)(p - digits), &c->meta))
        return false;
    if (!skip_literal(&p, end, ",\"OtherClient\":\"", 16) ||
        !plain_name(&p, end, &c->other, &c->other_len) ||
        !skip_literal(&p, end, ",\"ConnectionID\":\"", 17) ||
        !plain_name(&p, end, &c->id, &c->id_len) ||
        !skip_literal(&p, end, ",\"Data\":", 8))
        return false;
    c->data = NULL;
    c->data_len = 0;
    if (!skip_literal(&p, end, "null}", 5) &&
        !(skip_literal(&p, end, "\"", 1) &&
          canonical_base64(&p, end, &c->data, &c->data_len) &&
          skip_literal(&p, end, "}", 1)))
        return false;
    c->end = (size_t)(p - buf);
    return c->end <= max_size;
}

static void set_envelope(struct mp_message *msg, const struct canonical *c)
{
    msg->meta = c->meta;
    mp_message_set_other_client(msg, (const char *)c->other, c->other_len);
    mp_message_set_connection_id(msg, (const char *)c->id, c->id_len);
}

static bool fast_decode(const unsigned char *buf, size_t len, size_t max_size,
                        struct mp_message *msg, size_t *consumed)
{
    struct canonical c;
    unsigned char *bytes = NULL;
    size_t n = 0;

    if (!parse_canonical(buf, len, max_size, &c))
        return false;
    if (c.data_len > 0) {
        bytes = malloc(mp_base64_decoded_max(c.data_len));
        if (bytes == NULL ||
            mp_base64_decode((const char *)c.data, c.data_len, bytes, &n) < 0 ||
            n == 0) {
            free(bytes);
            return false;
        }
    }
    set_envelope(msg, &c);
    if (c.data != NULL)
        mp_message_take_data(msg, bytes, n);
    *consumed = c.end;
    return true;
}

/*
 * The fast lane (mp_codec_ops.decode_wire): a canonical message whose
 * base64 is canonical too, so that passing the text on is the same as
 * decoding and encoding it. A message seen whole at the first look is
 * read at once; one that arrives in pieces goes through the stream's
 * scanner as decode() does (the two share it), and is read when the
 * scanner has found its end. Anything not taken is left to decode(),
 * with the scanner where decode() expects it: after a piece, at the end
 * of what was scanned; after an error or a whole message, at the start.
 */
/* The bytes canonical base64 text of `len` characters decodes to: three
 * per quantum, less one per '=' of padding. */
static size_t base64_canonical_len(const unsigned char *text, size_t len)
{
    size_t n = len / 4 * 3;

    if (len >= 1 && text[len - 1] == '=')
        n--;
    if (len >= 2 && text[len - 2] == '=')
        n--;
    return n;
}

static int json_decode_wire(void *stream, const unsigned char *buf, size_t len,
                            size_t max_size, struct mp_message *msg,
                            size_t *consumed, size_t *wire_off,
                            size_t *wire_len)
{
    struct json_scan local = { 0 };
    struct json_scan *sc = stream != NULL ? stream : &local;
    struct canonical c;
    size_t end = 0;
    char err[64];

    if (sc->off > len)
        memset(sc, 0, sizeof *sc);
    if (sc->off != 0 || !parse_canonical(buf, len, max_size, &c)) {
        enum scan_result r = scan(sc, buf, len, max_size, &end, err, sizeof err);
        if (r == SCAN_MORE)
            return 0;
        memset(sc, 0, sizeof *sc);
        if (r == SCAN_ERROR || !parse_canonical(buf, end, max_size, &c))
            return 0;
    }
    /* parse_canonical() took only canonical base64 data. */
    set_envelope(msg, &c);
    msg->has_data = c.data != NULL;
    msg->data_len = c.data != NULL ? base64_canonical_len(c.data, c.data_len)
                                   : 0;
    *wire_off = c.data != NULL ? (size_t)(c.data - buf) : 0;
    *wire_len = c.data_len;
    *consumed = c.end;
    return 1;
}

/* ========================================================================
 * The ops
 */

static void *json_stream_new(void *plugin_state)
{
    (void)plugin_state;
    return calloc(1, sizeof(struct json_scan));
}

static void json_stream_free(void *stream)
{
    free(stream);
}

static enum mp_decode_status json_decode(void *stream,
                                         const unsigned char *buf,
                                         size_t len, size_t max_size,
                                         struct mp_message *msg,
                                         size_t *consumed, char *err,
                                         size_t errlen)
{
    struct json_scan local = { 0 };
    struct json_scan *sc = stream != NULL ? stream : &local;
    size_t start, end = 0;
    enum scan_result r;

    /* A shorter buffer than last time breaks the host's promise; start
     * over rather than trust offsets past its end. */
    if (sc->off > len)
        memset(sc, 0, sizeof *sc);
    /* A message seen whole at its first look may take the fast path; one
     * that arrives in pieces is scanned once, as it comes. */
    if (sc->off == 0 && fast_decode(buf, len, max_size, msg, consumed))
        return MP_DECODE_OK;
    r = scan(sc, buf, len, max_size, &end, err, errlen);
    if (r == SCAN_MORE)
        return MP_DECODE_NEED_MORE;
    start = sc->start;
    memset(sc, 0, sizeof *sc); /* the next call starts a new message */
    if (r == SCAN_ERROR)
        return MP_DECODE_ERROR;
    /* Whole now, perhaps after several pieces: canonical, it still needs
     * no yajl. */
    if (fast_decode(buf, end, max_size, msg, consumed))
        return MP_DECODE_OK;
    if (parse_object(buf + start, end - start, msg, err, errlen) < 0)
        return MP_DECODE_ERROR;
    *consumed = end;
    return MP_DECODE_OK;
}

/* ------------------------------------------------------------------------
 * Encoder: byte for byte what Go's json.Marshal writes.
 */

/* Fixed bytes of the longest object: keys, punctuation, three-digit Meta
 * and Level, "null", "\n" (72), rounded up. */
#define ENCODE_FIXED 96
/* Most messages: short names, a little data. */
#define ENCODE_STACK 2048

static const char hex_lower[] = "0123456789abcdef";

/*
 * How Go escapes each ASCII byte in a string (with HTML escaping, the
 * default): 0 = as is, 'u' = \u00XX, else the letter after a backslash.
 * \b and \f were \u0008 and \u000c until Go 1.22, and the 2015 original
 * wrote them that way.
 */
static const char ascii_escape[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'u', 't', 'n', 'u', 'u', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\', ['<'] = 'u', ['>'] = 'u', ['&'] = 'u',
};

/*
 * Length of the UTF-8 sequence at s[0..n) (s[0] >= 0x80) as Go's
 * utf8.DecodeRune accepts it, or 0 where Go sees RuneError of width 1
 * (bad lead byte, bad continuation, overlong, surrogate, past U+10FFFF,
 * truncated).
 */
static size_t go_rune_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c < 0xc2)
        return 0;
    if (c < 0xe0) {
        len = 2;
    } else if (c < 0xf0) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c < 0xf5) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LITERAL(o, lit) put((o), (lit), sizeof(lit) - 1)

static char *put_u8(char *o, unsigned v)
{
    if (v >= 100)
        *o++ = (char)('0' + v / 100);
    if (v >= 10)
        *o++ = (char)('0' + v / 10 % 10);
    *o++ = (char)('0' + v % 10);
    return o;
}

/* Write s[0..n) as a quoted JSON string; at most 6 * n + 2 bytes. */
static char *put_string(char *o, const unsigned char *s, size_t n)
{
    size_t i = 0;

    *o++ = '"';
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            char e = ascii_escape[c];
            i++;
            if (e == 0) {
                *o++ = (char)c;
            } else if (e != 'u') {
                *o++ = '\\';
                *o++ = e;
            } else {
                o = PUT_LITERAL(o, "\\u00");
                *o++ = hex_lower[c >> 4];
                *o++ = hex_lower[c & 0xf];
            }
            continue;
        }
        size_t len = go_rune_len(s + i, n - i);
        if (len == 0) {
            o = PUT_LITERAL(o, "\\ufffd");
            i++;
        } else if (len == 3 && c == 0xe2 && s[i + 1] == 0x80 &&
                   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
            /* U+2028 and U+2029 end lines in JavaScript. */
            o = PUT_LITERAL(o, "\\u202");
            *o++ = s[i + 2] == 0xa8 ? '8' : '9';
            i += 3;
        } else {
            o = put(o, (const char *)s + i, len);
            i += len;
        }
    }
    *o++ = '"';
    return o;
}

/* msg as one JSON line at o; returns its end. Its data is `wire`, base64
 * text passed on as it came, when that is not NULL. */
static char *put_message(char *o, const struct mp_message *msg,
                         const unsigned char *wire, size_t wire_len)
{
    o = PUT_LITERAL(o, "{\"Meta\":");
    o = put_u8(o, msg->meta);
    o = PUT_LITERAL(o, ",\"OtherClient\":");
    o = put_string(o, (const unsigned char *)msg->other_client,
                   msg->other_client_len);
    o = PUT_LITERAL(o, ",\"ConnectionID\":");
    o = put_string(o, (const unsigned char *)msg->connection_id,
                   msg->connection_id_len);
    o = PUT_LITERAL(o, ",\"Data\":");
    if (msg->has_data) {
        *o++ = '"';
        if (wire != NULL) {
            mp_copy(o, wire, wire_len);
            o += wire_len;
        } else {
            o += mp_base64_encode(msg->data, msg->data_len, o);
        }
        *o++ = '"';
    } else {
        o = PUT_LITERAL(o, "null");
    }
    if (msg->level != 0) {
        /* Only clients announce a level; Go clients ignore the key. */
        o = PUT_LITERAL(o, ",\"Level\":");
        o = put_u8(o, msg->level);
    }
    return PUT_LITERAL(o, "}\n");
}

/* Encode msg with its data as bytes (wire NULL) or as base64 text. */
static int encode_message(const struct mp_message *msg, const unsigned char *wire,
                          size_t wire_len, mp_write_fn write, void *ctx)
{
    char stack[ENCODE_STACK];
    char *buf = stack;
    size_t bound = ENCODE_FIXED +
                   6 * ((size_t)msg->other_client_len +
                        msg->connection_id_len);
    int rc;

    if (msg->has_data && wire != NULL) {
        if (wire_len > SIZE_MAX - bound)
            return -1;
        bound += wire_len;
    } else if (msg->has_data) {
        if (msg->data_len > MP_BASE64_ENCODE_MAX ||
            mp_base64_encoded_len(msg->data_len) > SIZE_MAX - bound)
            return -1;
        bound += mp_base64_encoded_len(msg->data_len);
    }
    if (bound > sizeof stack) {
        buf = malloc(bound);
        if (buf == NULL)
            return -1;
    }
    /* One write: the host may queue it as one piece. */
    rc = write(ctx, buf, (size_t)(put_message(buf, msg, wire, wire_len) - buf));
    if (buf != stack)
        free(buf);
    return rc < 0 ? -1 : 0;
}

static int json_encode(void *stream, const struct mp_message *msg,
                       mp_write_fn write, void *ctx)
{
    (void)stream;
    return encode_message(msg, NULL, 0, write, ctx);
}

static int json_encode_wire(void *stream, const struct mp_message *msg,
                            const unsigned char *wire, size_t wire_len,
                            mp_write_fn write, void *ctx)
{
    (void)stream;
    /* A zero-length text is "" (present, empty): never NULL here. */
    return encode_message(msg, wire != NULL ? wire : (const unsigned char *)"",
                          wire_len, write, ctx);
}

/*
 * JSON text starts with '{' or whitespace; a binary frame with 0x00. A
 * protobuf stream may start with '{' or a space too (its first length,
 * 123 or 32), but goes on with 0x08, the key of its meta field, which
 * JSON never has outside a string: the second byte tells them apart.
 */
static int json_sniff(const unsigned char *buf, size_t len)
{
    if (buf[0] != '{' && !is_json_space(buf[0]))
        return 0;
    if (len < 2)
        return -1;
    return buf[1] != 0x08;
}

/* The wire form is canonical base64 (json_decode_wire): decode it. */
static int json_wire_data(const unsigned char *wire, size_t wire_len,
                          struct mp_message *msg)
{
    unsigned char *bytes;
    size_t len = 0;

    bytes = malloc(mp_base64_decoded_max(wire_len) + 1);
    if (bytes == NULL)
        return -1;
    if (mp_base64_decode((const char *)wire, wire_len, bytes, &len) != 0) {
        free(bytes);
        return -1;
    }
    mp_message_take_data(msg, bytes, len);
    return 0;
}

const struct mp_codec_ops mp_codec_json = {
    .size = sizeof(struct mp_codec_ops),
    .sniff = json_sniff,
    .stream_new = json_stream_new,
    .stream_free = json_stream_free,
    .decode = json_decode,
    .encode = json_encode,
    .decode_wire = json_decode_wire,
    .encode_wire = json_encode_wire,
    .wire_data = json_wire_data,
};
