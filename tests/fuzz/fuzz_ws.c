/*
 * fuzz_ws.c - libFuzzer harness for WebSocket frames (broker/ws_frame.c):
 * the input is what a client sends once the handshake is done.
 *
 * The first byte sets the scene: bits 0-1 the largest frame payload
 * (16, 125, 1024 or unbounded), bits 2-3 the largest message (64, 300,
 * 4096 or unbounded), bits 4-6 the size of the pieces payloads arrive in
 * (1, 2, 3, 5, 8, 13, 64 bytes or whole). The rest is read as a reader
 * reads a socket: frame after frame, each payload unmasked and, for a
 * data frame, fed to the message in pieces; a close frame's payload is
 * parsed and the stream ends there, as it does on the first error.
 * Every parse gets an exact-size copy of what has arrived, so a read
 * past `len` is an ASan report. Checks:
 *   - a header parses as NEED_MORE at every cut, and writes back to
 *     exactly its bytes (lengths have one form only);
 *   - header_len <= WS_MAX_HEADER, payload_len <= max, masked, control
 *     frames whole and <= 125 bytes; errors carry 1002 or 1009 and a why;
 *   - unmasking in pieces is unmasking at once;
 *   - the UTF-8 verdict of a text message, fed in pieces across frames,
 *     is that of an independent decoder of the whole message;
 *   - a message never grows past max_message; control frames between
 *     fragments leave it alone;
 *   - ws_parse_close agrees with an independent reading of section
 *     5.5.1, and ws_write_close_payload's output parses back.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t max_payloads[] = {16, 125, 1024, UINT64_MAX};
static const uint64_t max_messages[] = {64, 300, 4096, UINT64_MAX};
static const size_t piece_sizes[] = {1, 2, 3, 5, 8, 13, 64, SIZE_MAX};

struct scene {
    uint64_t max_payload, max_message;
    size_t piece;
};

/* ------------------------------------------------------------------------
 * An independent UTF-8 reading: decode each character's value and judge
 * it, rather than follow a state machine.
 */

enum utf8_verdict { UTF8_VALID, UTF8_TRUNCATED, UTF8_INVALID };

/* The length of the sequence a lead byte starts, the smallest value it
 * may encode, and the value bits the lead byte holds; 0 for a byte that
 * starts nothing. */
static size_t utf8_length(uint8_t lead, uint32_t *min, uint32_t *cp)
{
    static const struct {
        uint8_t mask, bits;
        size_t len;
        uint32_t min;
    } forms[] = {
        {0x80, 0x00, 1, 0},
        {0xe0, 0xc0, 2, 0x80},
        {0xf0, 0xe0, 3, 0x800},
        {0xf8, 0xf0, 4, 0x10000},
    };

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if ((lead & forms[i].mask) == forms[i].bits) {
            *min = forms[i].min;
            *cp = lead & (uint8_t)~forms[i].mask;
            return forms[i].len;
        }
    return 0;
}

static bool scalar_value(uint32_t cp, uint32_t min)
{
    return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

/* A character cut after its first bytes (value bits cp, `missing`
 * continuation bytes to come): can any continuation make it valid? Its
 * values span [cp << 6m, that + 2^6m - 1]; the span must meet the valid
 * values, and not only surrogates. */
static bool completable(uint32_t cp, size_t missing, uint32_t min)
{
    uint32_t lo = cp << (6 * missing);
    uint32_t hi = lo + ((UINT32_C(1) << (6 * missing)) - 1);

    if (lo < min)
        lo = min;
    if (hi > 0x10ffff)
        hi = 0x10ffff;
    if (lo > hi)
        return false;
    return !(lo >= 0xd800 && hi <= 0xdfff);
}

/* The verdict on a prefix of a stream: INVALID as soon as no
 * continuation could make it valid, which is when a validator must
 * stop. */
static enum utf8_verdict utf8_reference(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint32_t min, cp;
        size_t n = utf8_length(s[i], &min, &cp);

        if (n == 0)
            return UTF8_INVALID;
        for (size_t k = 1; k < n; k++) {
            if (i + k == len)
                return completable(cp, n - k, min) ? UTF8_TRUNCATED
                                                   : UTF8_INVALID;
            if ((s[i + k] & 0xc0) != 0x80)
                return UTF8_INVALID;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (!scalar_value(cp, min))
            return UTF8_INVALID;
        i += n;
    }
    return UTF8_VALID;
}

/* ------------------------------------------------------------------------
 * Frames
 */

static enum ws_parse_status parse_copy(const uint8_t *bytes, size_t len,
                                       uint64_t max,
                                       struct ws_frame_header *h,
                                       uint16_t *code, const char **why)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    enum ws_parse_status st;

    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, bytes, len);
    *why = NULL;
    st = ws_parse_header(copy, len, true, max, h, code, why);
    free(copy);
    return st;
}

static void check_header(const uint8_t *bytes, size_t left,
                         const struct ws_frame_header *h, uint64_t max)
{
    uint8_t out[WS_MAX_HEADER];
    struct ws_frame_header g;
    uint16_t code;
    const char *why;

    FUZZ_CHECK(h->header_len >= 2 && h->header_len <= WS_MAX_HEADER &&
                   h->header_len <= left,
               "header_len %zu of %zu", h->header_len, left);
    FUZZ_CHECK(h->payload_len <= max, "payload %llu over max",
               (unsigned long long)h->payload_len);
    FUZZ_CHECK(h->masked, "a client frame accepted unmasked");
    FUZZ_CHECK(!(h->opcode & 0x8) ||
                   (h->fin && h->payload_len <= WS_MAX_CONTROL_PAYLOAD),
               "control frame fin %d len %llu", h->fin,
               (unsigned long long)h->payload_len);
    FUZZ_CHECK((bytes[0] & 0x70) == 0, "reserved bits accepted");
    FUZZ_CHECK(ws_write_header(out, h->opcode, h->fin, h->payload_len,
                               h->mask) == h->header_len &&
                   memcmp(out, bytes, h->header_len) == 0,
               "the header writes back to other bytes");
    for (size_t cut = 0; cut < h->header_len; cut++)
        FUZZ_CHECK(parse_copy(bytes, cut, max, &g, &code, &why) ==
                       WS_PARSE_NEED_MORE,
                   "cut at %zu of %zu", cut, h->header_len);
}

static void check_error(const uint8_t *bytes, size_t left, uint16_t code,
                        const char *why, uint64_t max)
{
    FUZZ_CHECK(why != NULL && why[0] != '\0', "an error without a why");
    FUZZ_CHECK(code == WS_CLOSE_PROTOCOL_ERROR || code == WS_CLOSE_TOO_BIG,
               "header error code %u", code);
    FUZZ_CHECK(left >= 2, "an error before two bytes");
    /* 1009 only for a length over max; nothing else was wrong before. */
    if (code == WS_CLOSE_TOO_BIG) {
        struct ws_frame_header h;
        uint16_t c;
        const char *w;

        FUZZ_CHECK(max < UINT64_MAX, "1009 without a limit");
        FUZZ_CHECK(parse_copy(bytes, left, UINT64_MAX, &h, &c, &w) !=
                       WS_PARSE_ERROR,
                   "1009 for a frame that is wrong anyway: %s", w);
    }
}

/* Unmask payload[0..len) in pieces and at once: the same bytes. */
static uint8_t *unmask_payload(const uint8_t *payload, size_t len,
                               const struct ws_frame_header *h,
                               uint64_t offset, size_t piece)
{
    uint8_t *a = malloc(len > 0 ? len : 1), *b = malloc(len > 0 ? len : 1);

    FUZZ_CHECK(a != NULL && b != NULL, "out of memory");
    memcpy(a, payload, len);
    memcpy(b, payload, len);
    ws_unmask(a, len, h->mask, offset);
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;

        ws_unmask(b + at, n, h->mask, offset + at);
    }
    FUZZ_CHECK(len == 0 || memcmp(a, b, len) == 0,
               "unmasking in pieces differs");
    free(b);
    return a;
}

/* ------------------------------------------------------------------------
 * Messages
 */

struct reader {
    struct scene sc;
    struct ws_message m;
    struct fuzz_buf text;       /* the open text message so far */
    bool done;
};

static void feed_data(struct reader *rd, const uint8_t *plain, size_t len)
{
    uint16_t code = 0;
    const char *why = NULL;

    for (size_t at = 0; at < len; at += rd->sc.piece) {
        size_t n = len - at < rd->sc.piece ? len - at : rd->sc.piece;
        bool ok = ws_message_payload(&rd->m, plain + at, n, &code, &why);

        if (rd->m.opcode == WS_OP_TEXT)
            fuzz_buf_add(&rd->text, plain + at, n);
        if (rd->m.opcode != WS_OP_TEXT) {
            FUZZ_CHECK(ok, "binary payload refused");
            continue;
        }
        enum utf8_verdict v = utf8_reference(rd->text.bytes, rd->text.len);

        FUZZ_CHECK(ok == (v != UTF8_INVALID),
                   "UTF-8: validator %d, reference %d at %zu bytes", ok, v,
                   rd->text.len);
        if (!ok) {
            FUZZ_CHECK(code == WS_CLOSE_INVALID_DATA && why, "code %u", code);
            rd->done = true;
            return;
        }
    }
}

static void end_message(struct reader *rd)
{
    uint16_t code = 0;
    const char *why = NULL;
    bool text = rd->m.opcode == WS_OP_TEXT;
    enum utf8_verdict v = text ? utf8_reference(rd->text.bytes, rd->text.len)
                               : UTF8_VALID;
    bool ok = ws_message_end(&rd->m, &code, &why);

    FUZZ_CHECK(ok == (v == UTF8_VALID), "message end %d, reference %d", ok,
               v);
    FUZZ_CHECK(ok || (code == WS_CLOSE_INVALID_DATA && why), "code %u",
               code);
    FUZZ_CHECK(rd->m.opcode == 0 && rd->m.length == 0, "not reset");
    rd->text.len = 0;
    if (!ok)
        rd->done = true;
}

/* ------------------------------------------------------------------------
 * Close frames
 */

static bool close_code_reference(uint16_t c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
           (c >= 3000 && c <= 4999);
}

static void check_close(const uint8_t *payload, size_t len)
{
    uint16_t close_code = 0, code = 0;
    const uint8_t *reason = NULL;
    size_t reason_len = 0;
    const char *why = NULL;
    bool ok = ws_parse_close(payload, len, &close_code, &reason, &reason_len,
                             &code, &why);
    bool expect = len == 0 ||
                  (len >= 2 &&
                   close_code_reference((uint16_t)(payload[0] << 8 |
                                                   payload[1])) &&
                   utf8_reference(payload + 2, len - 2) == UTF8_VALID);

    FUZZ_CHECK(ok == expect, "close payload of %zu: %d, expected %d", len,
               ok, expect);
    if (!ok) {
        FUZZ_CHECK(why != NULL, "no why");
        return;
    }
    FUZZ_CHECK(len > 0 || close_code == WS_CLOSE_NO_STATUS, "empty close");
    FUZZ_CHECK(len == 0 || (reason == payload + 2 && reason_len == len - 2),
               "reason not the rest of the payload");

    /* Write it back: the reason up to its first NUL, cut to fit. */
    char text[WS_MAX_CONTROL_PAYLOAD + 1];
    uint8_t out[WS_MAX_CONTROL_PAYLOAD];
    size_t n;

    memcpy(text, reason, reason_len);
    text[reason_len] = '\0';
    n = ws_write_close_payload(out, len ? close_code : 1000, text);
    FUZZ_CHECK(n >= 2 && n <= WS_MAX_CONTROL_PAYLOAD, "wrote %zu", n);
    FUZZ_CHECK(n - 2 <= strlen(text) && memcmp(out + 2, text, n - 2) == 0,
               "not a prefix of the reason");
    FUZZ_CHECK(ws_parse_close(out, n, &close_code, &reason, &reason_len,
                              &code, &why),
               "a written close payload does not parse: %s", why);
}

/* ------------------------------------------------------------------------
 * The stream
 */

/* One whole or partial frame at bytes[0..left): returns the bytes it
 * took, or 0 when the stream ends here. */
static size_t read_frame(struct reader *rd, const uint8_t *bytes,
                         size_t left)
{
    struct ws_frame_header h;
    uint16_t code = 0;
    const char *why = NULL;
    enum ws_parse_status st =
        parse_copy(bytes, left, rd->sc.max_payload, &h, &code, &why);

    if (st == WS_PARSE_NEED_MORE) {
        FUZZ_CHECK(left < WS_MAX_HEADER, "NEED_MORE with %zu bytes", left);
        return 0;
    }
    if (st == WS_PARSE_ERROR) {
        check_error(bytes, left, code, why, rd->sc.max_payload);
        return 0;
    }
    check_header(bytes, left, &h, rd->sc.max_payload);

    struct ws_message before = rd->m;

    st = ws_message_frame(&rd->m, &h, rd->sc.max_message, &code, &why);
    if (h.opcode & 0x8)
        FUZZ_CHECK(st == WS_PARSE_OK && before.opcode == rd->m.opcode &&
                       before.length == rd->m.length &&
                       before.utf8_state == rd->m.utf8_state,
                   "a control frame touched the message");
    if (st != WS_PARSE_OK) {
        FUZZ_CHECK(why && (code == WS_CLOSE_PROTOCOL_ERROR ||
                           code == WS_CLOSE_TOO_BIG),
                   "message error %u", code);
        return 0;
    }
    FUZZ_CHECK(rd->m.length <= rd->sc.max_message, "message past max");

    /* What has arrived of the payload. */
    size_t avail = left - h.header_len;
    size_t len = h.payload_len < avail ? (size_t)h.payload_len : avail;
    uint8_t *plain = unmask_payload(bytes + h.header_len, len, &h, 0,
                                    rd->sc.piece);

    if (!(h.opcode & 0x8))
        feed_data(rd, plain, len);
    else if (h.opcode == WS_OP_CLOSE && len == h.payload_len)
        check_close(plain, len);
    free(plain);
    if (rd->done || len < h.payload_len || h.opcode == WS_OP_CLOSE)
        return 0;
    if (h.fin && !(h.opcode & 0x8))
        end_message(rd);
    return rd->done ? 0 : h.header_len + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader rd = {0};
    size_t pos = 1;

    if (size == 0)
        return 0;
    rd.sc.max_payload = max_payloads[data[0] & 3];
    rd.sc.max_message = max_messages[(data[0] >> 2) & 3];
    rd.sc.piece = piece_sizes[(data[0] >> 4) & 7];
    while (pos < size) {
        size_t used = read_frame(&rd, data + pos, size - pos);

        if (used == 0)
            break;
        pos += used;
    }
    fuzz_buf_free(&rd.text);
    return 0;
}
