/*
 * ws_frame.c - RFC 6455 frames without I/O (ws_frame.h).
 *
 * The header parser reports an error as soon as the bytes that show it
 * are in: the first two bytes are checked before the extended length
 * arrives, and the length before the mask, so that a peer cannot make
 * the reader buffer anything for a frame that will be refused anyway.
 */
#include "config.h"

#include <string.h>

#include "ws_frame.h"

/* ------------------------------------------------------------------------
 * Frame headers
 */

#define WS_FIN 0x80
#define WS_RSV_BITS 0x70
#define WS_OPCODE_BITS 0x0f
#define WS_MASK_BIT 0x80
#define WS_LEN7_BITS 0x7f
#define WS_LEN16 126            /* the 7-bit length that announces 16 bits */
#define WS_LEN64 127            /* ... and 64 bits */

static bool is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

static bool is_known_opcode(uint8_t opcode)
{
    switch (opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return true;
    default:
        return false;
    }
}

static enum ws_parse_status fail(uint16_t *code, const char **why,
                                 uint16_t close_code, const char *text)
{
    *code = close_code;
    *why = text;
    return WS_PARSE_ERROR;
}

/* The first two bytes alone: flags, opcode, masking and the 7-bit
 * length's limits for control frames. */
static enum ws_parse_status check_first_bytes(uint8_t b0, uint8_t b1,
                                              bool from_client,
                                              uint16_t *code,
                                              const char **why)
{
    uint8_t opcode = b0 & WS_OPCODE_BITS;
    bool masked = (b1 & WS_MASK_BIT) != 0;

    if (b0 & WS_RSV_BITS)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR, "reserved bit set");
    if (!is_known_opcode(opcode))
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
    if (from_client && !masked)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "unmasked frame from a client");
    if (!from_client && masked)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "masked frame from a server");
    if (is_control(opcode) && !(b0 & WS_FIN))
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "fragmented control frame");
    /* 126 and 127 announce longer lengths: over 125 either way. */
    if (is_control(opcode) && (b1 & WS_LEN7_BITS) > WS_MAX_CONTROL_PAYLOAD)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "control frame over 125 bytes");
    return WS_PARSE_OK;
}

static uint64_t read_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The extended length (ext_len bytes at p): section 5.2 wants the
 * shortest form, and a 64-bit length's top bit clear. */
static enum ws_parse_status read_length(const uint8_t *p, size_t ext_len,
                                        uint64_t *payload_len,
                                        uint16_t *code, const char **why)
{
    uint64_t v = read_be(p, ext_len);

    if (ext_len == 2 && v < WS_LEN16)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "16-bit length not in its shortest form");
    if (ext_len == 8 && (v >> 63))
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "64-bit length with its top bit set");
    if (ext_len == 8 && v <= UINT16_MAX)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "64-bit length not in its shortest form");
    *payload_len = v;
    return WS_PARSE_OK;
}

static size_t extended_length_size(uint8_t len7)
{
    if (len7 == WS_LEN16)
        return 2;
    if (len7 == WS_LEN64)
        return 8;
    return 0;
}

enum ws_parse_status ws_parse_header(const uint8_t *buf, size_t len,
                                     bool from_client, uint64_t max_payload,
                                     struct ws_frame_header *h,
                                     uint16_t *code, const char **why)
{
    struct ws_frame_header f = {0};
    enum ws_parse_status st;

    if (len < 2)
        return WS_PARSE_NEED_MORE;
    st = check_first_bytes(buf[0], buf[1], from_client, code, why);
    if (st != WS_PARSE_OK)
        return st;
    f.fin = (buf[0] & WS_FIN) != 0;
    f.opcode = buf[0] & WS_OPCODE_BITS;
    f.masked = (buf[1] & WS_MASK_BIT) != 0;

    uint8_t len7 = buf[1] & WS_LEN7_BITS;
    size_t ext_len = extended_length_size(len7);

    if (len < 2 + ext_len)
        return WS_PARSE_NEED_MORE;
    if (ext_len == 0)
        f.payload_len = len7;
    else if ((st = read_length(buf + 2, ext_len, &f.payload_len, code, why))
             != WS_PARSE_OK)
        return st;
    if (f.payload_len > max_payload)
        return fail(code, why, WS_CLOSE_TOO_BIG, "frame too big");

    f.header_len = 2 + ext_len + (f.masked ? 4 : 0);
    if (len < f.header_len)
        return WS_PARSE_NEED_MORE;
    if (f.masked)
        memcpy(f.mask, buf + 2 + ext_len, 4);
    *h = f;
    return WS_PARSE_OK;
}

void ws_unmask(uint8_t *buf, size_t len, const uint8_t mask[4],
               uint64_t offset)
{
    /* Rotate the key once so that the loop indexes it by i alone, which
     * compilers turn into word-wide XORs. */
    uint8_t key[4];

    for (size_t k = 0; k < 4; k++)
        key[k] = mask[(offset + k) & 3];
    for (size_t i = 0; i < len; i++)
        buf[i] ^= key[i & 3];
}

static void write_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

size_t ws_write_header(uint8_t *out, uint8_t opcode, bool fin,
                       uint64_t payload_len, const uint8_t *mask)
{
    size_t n = 2;

    out[0] = (uint8_t)((fin ? WS_FIN : 0) | (opcode & WS_OPCODE_BITS));
    out[1] = mask ? WS_MASK_BIT : 0;
    if (payload_len < WS_LEN16) {
        out[1] |= (uint8_t)payload_len;
    } else if (payload_len <= UINT16_MAX) {
        out[1] |= WS_LEN16;
        write_be(out + 2, payload_len, 2);
        n += 2;
    } else {
        out[1] |= WS_LEN64;
        write_be(out + 2, payload_len, 8);
        n += 8;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/* ------------------------------------------------------------------------
 * UTF-8 (RFC 3629 section 4), as a small state machine: the state says
 * how many continuation bytes are still due and which range the next one
 * must lie in. The narrow first ranges after E0, ED, F0 and F4 are what
 * exclude overlong forms, surrogates and code points over U+10FFFF.
 */

enum {
    U8_ACCEPT = 0,
    U8_TAIL1,                   /* 1 more byte, 80..BF */
    U8_TAIL2,                   /* 2 more, the next 80..BF */
    U8_TAIL3,                   /* 3 more, the next 80..BF */
    U8_AFTER_E0,                /* next A0..BF (no overlong 3-byte forms) */
    U8_AFTER_ED,                /* next 80..9F (no surrogates) */
    U8_AFTER_F0,                /* next 90..BF (no overlong 4-byte forms) */
    U8_AFTER_F4,                /* next 80..8F (nothing over U+10FFFF) */
    U8_REJECT,
};

/* In a state other than U8_ACCEPT: the range of the next byte, and the
 * state it leads to. */
static const struct {
    uint8_t lo, hi, next;
} u8_tail[] = {
    [U8_TAIL1] = {0x80, 0xbf, U8_ACCEPT},
    [U8_TAIL2] = {0x80, 0xbf, U8_TAIL1},
    [U8_TAIL3] = {0x80, 0xbf, U8_TAIL2},
    [U8_AFTER_E0] = {0xa0, 0xbf, U8_TAIL1},
    [U8_AFTER_ED] = {0x80, 0x9f, U8_TAIL1},
    [U8_AFTER_F0] = {0x90, 0xbf, U8_TAIL2},
    [U8_AFTER_F4] = {0x80, 0x8f, U8_TAIL2},
};

/* The state after a lead byte. C0, C1 and F5..FF never occur; 80..BF
 * is a continuation byte where a character should start. */
static uint32_t u8_lead(uint8_t b)
{
    if (b < 0x80)
        return U8_ACCEPT;
    if (b < 0xc2)
        return U8_REJECT;
    if (b < 0xe0)
        return U8_TAIL1;
    if (b == 0xe0)
        return U8_AFTER_E0;
    if (b == 0xed)
        return U8_AFTER_ED;
    if (b < 0xf0)
        return U8_TAIL2;
    if (b == 0xf0)
        return U8_AFTER_F0;
    if (b < 0xf4)
        return U8_TAIL3;
    if (b == 0xf4)
        return U8_AFTER_F4;
    return U8_REJECT;
}

/* How many bytes from p on are ASCII, eight at a time: JSON text is
 * mostly ASCII, and this keeps validation off the per-byte path. */
static size_t ascii_run(const uint8_t *p, size_t len)
{
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
    }
    return i;
}

bool ws_utf8_feed(uint32_t *state, const uint8_t *buf, size_t len)
{
    uint32_t s = *state;
    size_t i = 0;

    while (i < len && s != U8_REJECT) {
        if (s == U8_ACCEPT) {
            i += ascii_run(buf + i, len - i);
            if (i == len)
                break;
            s = u8_lead(buf[i++]);
        } else if (s < U8_REJECT && buf[i] >= u8_tail[s].lo &&
                   buf[i] <= u8_tail[s].hi) {
            s = u8_tail[s].next;
            i++;
        } else {
            s = U8_REJECT;
        }
    }
    *state = s;
    return s != U8_REJECT;
}

/* ------------------------------------------------------------------------
 * Messages (section 5.4)
 */

enum ws_parse_status ws_message_frame(struct ws_message *m,
                                      const struct ws_frame_header *h,
                                      uint64_t max_message, uint16_t *code,
                                      const char **why)
{
    /* Control frames belong to no message: they may come between a
     * message's fragments and leave it as it is. */
    if (is_control(h->opcode))
        return WS_PARSE_OK;
    if (h->opcode == WS_OP_CONTINUATION && m->opcode == 0)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "continuation frame without a message");
    if (h->opcode != WS_OP_CONTINUATION && m->opcode != 0)
        return fail(code, why, WS_CLOSE_PROTOCOL_ERROR,
                    "new message before the last one ended");
    if (h->opcode != WS_OP_CONTINUATION)
        *m = (struct ws_message){.opcode = h->opcode};
    /* Written so that nothing overflows: m->length <= max_message. */
    if (m->length > max_message || h->payload_len > max_message - m->length)
        return fail(code, why, WS_CLOSE_TOO_BIG, "message too big");
    m->length += h->payload_len;
    return WS_PARSE_OK;
}

bool ws_message_payload(struct ws_message *m, const uint8_t *buf,
                        size_t len, uint16_t *code, const char **why)
{
    if (m->opcode != WS_OP_TEXT || ws_utf8_feed(&m->utf8_state, buf, len))
        return true;
    fail(code, why, WS_CLOSE_INVALID_DATA, "text message not UTF-8");
    return false;
}

bool ws_message_end(struct ws_message *m, uint16_t *code, const char **why)
{
    bool whole = m->opcode != WS_OP_TEXT || m->utf8_state == U8_ACCEPT;

    *m = (struct ws_message){0};
    if (!whole)
        fail(code, why, WS_CLOSE_INVALID_DATA,
             "text message ends inside a character");
    return whole;
}

/* ------------------------------------------------------------------------
 * Close frames (section 5.5.1, codes in 7.4)
 */

/* May an endpoint send this code? 1000-1003 and 1007-1014 are assigned
 * for sending (1004 is reserved, 1005, 1006 and 1015 are only ever
 * reported), 3000-4999 belong to libraries and applications; the rest of
 * 1000-2999 is not assigned yet, and nothing outside 1000-4999 is a
 * code at all. */
static bool close_code_sendable(uint16_t c)
{
    if (c >= 1000 && c <= 1003)
        return true;
    if (c >= 1007 && c <= 1014)
        return true;
    return c >= 3000 && c <= 4999;
}

bool ws_parse_close(const uint8_t *payload, size_t len, uint16_t *close_code,
                    const uint8_t **reason, size_t *reason_len,
                    uint16_t *code, const char **why)
{
    uint32_t utf8 = 0;

    *reason = payload;
    *reason_len = 0;
    if (len == 0) {
        *close_code = WS_CLOSE_NO_STATUS;
        return true;
    }
    if (len == 1) {
        fail(code, why, WS_CLOSE_PROTOCOL_ERROR, "close payload of 1 byte");
        return false;
    }
    *close_code = (uint16_t)read_be(payload, 2);
    if (!close_code_sendable(*close_code)) {
        fail(code, why, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
        return false;
    }
    if (!ws_utf8_feed(&utf8, payload + 2, len - 2) || utf8 != U8_ACCEPT) {
        fail(code, why, WS_CLOSE_INVALID_DATA, "close reason not UTF-8");
        return false;
    }
    *reason = payload + 2;
    *reason_len = len - 2;
    return true;
}

/* The longest prefix of s[0..max) that is whole, valid UTF-8: cut at a
 * character boundary, and at the first invalid byte too, so that a
 * reason built from a client's bytes cannot make the peer fail the close
 * with 1007. */
static size_t utf8_prefix(const char *s, size_t max)
{
    uint32_t state = U8_ACCEPT;
    size_t whole = 0;

    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        if (!ws_utf8_feed(&state, (const uint8_t *)s + i, 1))
            break;
        if (state == U8_ACCEPT)
            whole = i + 1;
    }
    return whole;
}

size_t ws_write_close_payload(uint8_t *out, uint16_t close_code,
                              const char *reason)
{
    size_t n = reason ? utf8_prefix(reason, WS_MAX_CONTROL_PAYLOAD - 2) : 0;

    write_be(out, close_code, 2);
    if (n > 0)
        memcpy(out + 2, reason, n);
    return 2 + n;
}
