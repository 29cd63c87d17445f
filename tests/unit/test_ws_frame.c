/* Unit tests: RFC 6455 frames without I/O (broker/ws_frame.c): every
 * length form and every header error, unmasking in pieces, written
 * headers read back, the fragmentation rules of a message, UTF-8
 * validation across feeds, and close payloads read and written. */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "ws_frame.h"

enum { MAX = 1 << 20 };

static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

struct parsed {
    enum ws_parse_status st;
    struct ws_frame_header h;
    uint16_t code;
    const char *why;
};

static struct parsed parse(const uint8_t *b, size_t len, bool from_client,
                           uint64_t max)
{
    struct parsed p = {.code = 0, .why = NULL};

    p.st = ws_parse_header(b, len, from_client, max, &p.h, &p.code, &p.why);
    return p;
}

static void expect_error(const uint8_t *b, size_t len, bool from_client,
                         uint16_t code)
{
    struct parsed p = parse(b, len, from_client, MAX);

    cr_expect_eq(p.st, WS_PARSE_ERROR, "bytes %02x %02x", b[0], b[1]);
    cr_expect_eq(p.code, code, "code %u, expected %u", p.code, code);
    cr_expect_not_null(p.why);
}

/* ------------------------------------------------------------------------
 * Headers
 */

Test(ws_header, seven_bit_length_masked)
{
    /* RFC 6455 section 5.7: a masked "Hello" from a client. */
    uint8_t b[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct parsed p = parse(b, sizeof b, true, MAX);

    cr_assert_eq(p.st, WS_PARSE_OK);
    cr_expect(p.h.fin);
    cr_expect_eq(p.h.opcode, WS_OP_TEXT);
    cr_expect(p.h.masked);
    cr_expect_arr_eq(p.h.mask, mask, 4);
    cr_expect_eq(p.h.payload_len, 5);
    cr_expect_eq(p.h.header_len, 6);
    ws_unmask(b + 6, 5, p.h.mask, 0);
    cr_expect_arr_eq(b + 6, "Hello", 5);
}

Test(ws_header, seven_bit_unmasked_from_server)
{
    uint8_t b[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    struct parsed p = parse(b, sizeof b, false, MAX);

    cr_assert_eq(p.st, WS_PARSE_OK);
    cr_expect(!p.h.masked);
    cr_expect_eq(p.h.payload_len, 5);
    cr_expect_eq(p.h.header_len, 2);
}

Test(ws_header, sixteen_bit_length)
{
    uint8_t b[] = {0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4};
    struct parsed p = parse(b, sizeof b, true, MAX);

    cr_assert_eq(p.st, WS_PARSE_OK);
    cr_expect_eq(p.h.opcode, WS_OP_BINARY);
    cr_expect_eq(p.h.payload_len, 256);
    cr_expect_eq(p.h.header_len, 8);

    /* 126 is the shortest length that needs 16 bits; 65535 the largest. */
    b[2] = 0x00, b[3] = 126;
    cr_expect_eq(parse(b, sizeof b, true, MAX).h.payload_len, 126);
    b[2] = 0xff, b[3] = 0xff;
    cr_expect_eq(parse(b, sizeof b, true, MAX).h.payload_len, 65535);
}

Test(ws_header, sixty_four_bit_length)
{
    uint8_t b[14] = {0x02, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 9, 9, 9, 9};
    struct parsed p = parse(b, sizeof b, true, UINT64_MAX);

    cr_assert_eq(p.st, WS_PARSE_OK);
    cr_expect(!p.h.fin);
    cr_expect_eq(p.h.payload_len, 65536);
    cr_expect_eq(p.h.header_len, WS_MAX_HEADER);

    /* The largest length the top-bit rule allows. */
    uint8_t big[10] = {0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff, 0xff};
    p = parse(big, sizeof big, false, UINT64_MAX);
    cr_assert_eq(p.st, WS_PARSE_OK);
    cr_expect_eq(p.h.payload_len, INT64_MAX);
}

Test(ws_header, need_more_at_every_truncation)
{
    uint8_t b[14] = {0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4};

    for (size_t n = 0; n < sizeof b; n++)
        cr_expect_eq(parse(b, n, true, MAX).st, WS_PARSE_NEED_MORE,
                     "len %zu", n);
    cr_expect_eq(parse(b, sizeof b, true, MAX).st, WS_PARSE_OK);
}

Test(ws_header, non_minimal_lengths)
{
    uint8_t b16[] = {0x82, 0xfe, 0x00, 125, 1, 2, 3, 4};
    uint8_t b64[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    uint8_t b64_small[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};

    expect_error(b16, sizeof b16, true, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(b64, sizeof b64, true, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(b64_small, sizeof b64_small, true, WS_CLOSE_PROTOCOL_ERROR);
}

Test(ws_header, top_bit_of_64_bit_length)
{
    uint8_t b[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};

    expect_error(b, sizeof b, true, WS_CLOSE_PROTOCOL_ERROR);
    /* Found before the mask is in. */
    expect_error(b, 10, true, WS_CLOSE_PROTOCOL_ERROR);
}

Test(ws_header, reserved_bits)
{
    for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
        uint8_t b[] = {(uint8_t)(0x81 | rsv), 0x80, 1, 2, 3, 4};

        expect_error(b, sizeof b, true, WS_CLOSE_PROTOCOL_ERROR);
        /* Two bytes are enough to tell. */
        expect_error(b, 2, true, WS_CLOSE_PROTOCOL_ERROR);
    }
}

Test(ws_header, unknown_opcodes)
{
    static const uint8_t unknown[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};

    for (size_t i = 0; i < sizeof unknown; i++) {
        uint8_t b[] = {(uint8_t)(0x80 | unknown[i]), 0x80, 1, 2, 3, 4};

        expect_error(b, sizeof b, true, WS_CLOSE_PROTOCOL_ERROR);
    }
}

Test(ws_header, masking_by_direction)
{
    uint8_t unmasked[] = {0x81, 0x00};
    uint8_t masked[] = {0x81, 0x80, 1, 2, 3, 4};

    expect_error(unmasked, sizeof unmasked, true, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(masked, sizeof masked, false, WS_CLOSE_PROTOCOL_ERROR);
    cr_expect_eq(parse(unmasked, sizeof unmasked, false, MAX).st,
                 WS_PARSE_OK);
    cr_expect_eq(parse(masked, sizeof masked, true, MAX).st, WS_PARSE_OK);
}

Test(ws_header, control_frames)
{
    static const uint8_t control[] = {WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG};

    for (size_t i = 0; i < sizeof control; i++) {
        uint8_t ok[] = {(uint8_t)(0x80 | control[i]), 0x80 | 125, 1, 2, 3, 4};
        uint8_t big[] = {(uint8_t)(0x80 | control[i]), 0x80 | 126, 0, 126};
        uint8_t frag[] = {control[i], 0x80, 1, 2, 3, 4};

        cr_expect_eq(parse(ok, sizeof ok, true, MAX).st, WS_PARSE_OK);
        expect_error(big, sizeof big, true, WS_CLOSE_PROTOCOL_ERROR);
        expect_error(big, 2, true, WS_CLOSE_PROTOCOL_ERROR);
        expect_error(frag, sizeof frag, true, WS_CLOSE_PROTOCOL_ERROR);
    }
}

Test(ws_header, max_payload)
{
    uint8_t at[] = {0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4};
    struct parsed p = parse(at, sizeof at, true, 256);

    cr_expect_eq(p.st, WS_PARSE_OK);
    p = parse(at, sizeof at, true, 255);
    cr_expect_eq(p.st, WS_PARSE_ERROR);
    cr_expect_eq(p.code, WS_CLOSE_TOO_BIG);
    /* Refused before the mask arrives, so nothing more is buffered. */
    p = parse(at, 4, true, 255);
    cr_expect_eq(p.st, WS_PARSE_ERROR);
    cr_expect_eq(p.code, WS_CLOSE_TOO_BIG);
}

/* ------------------------------------------------------------------------
 * Unmasking and writing
 */

Test(ws_unmask, in_pieces_at_every_split)
{
    uint8_t plain[37], whole[37];

    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 13 + 1);
    memcpy(whole, plain, sizeof whole);
    ws_unmask(whole, sizeof whole, mask, 0);
    for (size_t i = 0; i < sizeof plain; i++)
        cr_assert_eq(whole[i], plain[i] ^ mask[i % 4], "byte %zu", i);
    for (size_t a = 0; a <= sizeof plain; a++)
        for (size_t b = a; b <= sizeof plain; b++) {
            uint8_t pieces[37];

            memcpy(pieces, plain, sizeof pieces);
            ws_unmask(pieces, a, mask, 0);
            ws_unmask(pieces + a, b - a, mask, a);
            ws_unmask(pieces + b, sizeof pieces - b, mask, b);
            cr_assert_arr_eq(pieces, whole, sizeof whole, "split %zu %zu",
                             a, b);
        }
    /* Unmasking twice gives the plain bytes back. */
    ws_unmask(whole, sizeof whole, mask, 0);
    cr_expect_arr_eq(whole, plain, sizeof plain);
}

Test(ws_unmask, offset_beyond_32_bits)
{
    uint8_t a[5] = {1, 2, 3, 4, 5}, b[5] = {1, 2, 3, 4, 5};

    ws_unmask(a, sizeof a, mask, 1);
    ws_unmask(b, sizeof b, mask, (UINT64_C(1) << 40) + 1);
    cr_expect_arr_eq(a, b, sizeof a);
}

Test(ws_write_header, round_trips_every_length_form)
{
    static const uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536,
                                       UINT64_C(1) << 32, INT64_MAX};
    static const uint8_t opcodes[] = {WS_OP_CONTINUATION, WS_OP_TEXT,
                                      WS_OP_BINARY};

    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++)
        for (size_t o = 0; o < sizeof opcodes; o++)
            for (int masked = 0; masked < 2; masked++) {
                uint8_t b[WS_MAX_HEADER];
                bool fin = (i + o) % 2 == 0;
                size_t n = ws_write_header(b, opcodes[o], fin, lengths[i],
                                           masked ? mask : NULL);
                struct parsed p = parse(b, n, masked, UINT64_MAX);

                cr_assert_eq(p.st, WS_PARSE_OK, "len %llu: %s",
                             (unsigned long long)lengths[i], p.why);
                cr_expect_eq(p.h.header_len, n);
                cr_expect_leq(n, WS_MAX_HEADER);
                cr_expect_eq(p.h.payload_len, lengths[i]);
                cr_expect_eq(p.h.opcode, opcodes[o]);
                cr_expect_eq(p.h.fin, fin);
                cr_expect_eq(p.h.masked, masked);
                if (masked)
                    cr_expect_arr_eq(p.h.mask, mask, 4);
            }
}

Test(ws_write_header, sizes)
{
    uint8_t b[WS_MAX_HEADER];

    cr_expect_eq(ws_write_header(b, WS_OP_TEXT, true, 125, NULL), 2);
    cr_expect_eq(ws_write_header(b, WS_OP_TEXT, true, 126, NULL), 4);
    cr_expect_eq(ws_write_header(b, WS_OP_TEXT, true, 65536, NULL), 10);
    cr_expect_eq(ws_write_header(b, WS_OP_TEXT, true, 65536, mask), 14);
    cr_expect_eq(ws_write_header(b, WS_OP_PING, true, 0, mask), 6);
    cr_expect_eq(b[0], 0x89);
    cr_expect_eq(b[1], 0x80);
}

/* ------------------------------------------------------------------------
 * Messages: fragmentation
 */

static struct ws_frame_header frame(uint8_t opcode, bool fin, uint64_t len)
{
    return (struct ws_frame_header){.fin = fin, .opcode = opcode,
                                    .masked = true, .payload_len = len,
                                    .header_len = 6};
}

static enum ws_parse_status msg_frame(struct ws_message *m, uint8_t opcode,
                                      bool fin, uint64_t len, uint64_t max,
                                      uint16_t *code)
{
    struct ws_frame_header h = frame(opcode, fin, len);
    const char *why = NULL;

    return ws_message_frame(m, &h, max, code, &why);
}

Test(ws_message, fragments_with_control_frames_between)
{
    struct ws_message m = {0};
    uint16_t code = 0;
    const char *why;

    cr_assert_eq(msg_frame(&m, WS_OP_BINARY, false, 10, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(m.opcode, WS_OP_BINARY);
    cr_assert_eq(msg_frame(&m, WS_OP_PING, true, 5, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(m.length, 10, "a control frame leaves the message alone");
    cr_assert_eq(msg_frame(&m, WS_OP_CONTINUATION, false, 20, 100, &code),
                 WS_PARSE_OK);
    cr_assert_eq(msg_frame(&m, WS_OP_CONTINUATION, true, 70, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(m.length, 100);
    cr_expect(ws_message_end(&m, &code, &why));
    cr_expect_eq(m.opcode, 0);
    cr_expect_eq(m.length, 0);
    /* The next message starts afresh. */
    cr_expect_eq(msg_frame(&m, WS_OP_TEXT, true, 100, 100, &code),
                 WS_PARSE_OK);
}

Test(ws_message, continuation_without_start)
{
    struct ws_message m = {0};
    uint16_t code = 0;

    cr_expect_eq(msg_frame(&m, WS_OP_CONTINUATION, true, 1, 100, &code),
                 WS_PARSE_ERROR);
    cr_expect_eq(code, WS_CLOSE_PROTOCOL_ERROR);
}

Test(ws_message, new_data_frame_while_open)
{
    struct ws_message m = {0};
    uint16_t code = 0;

    cr_assert_eq(msg_frame(&m, WS_OP_TEXT, false, 1, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(msg_frame(&m, WS_OP_BINARY, true, 1, 100, &code),
                 WS_PARSE_ERROR);
    cr_expect_eq(code, WS_CLOSE_PROTOCOL_ERROR);
}

Test(ws_message, over_max_is_1009)
{
    struct ws_message m = {0};
    uint16_t code = 0;

    cr_expect_eq(msg_frame(&m, WS_OP_TEXT, true, 101, 100, &code),
                 WS_PARSE_ERROR);
    cr_expect_eq(code, WS_CLOSE_TOO_BIG);

    m = (struct ws_message){0};
    code = 0;
    cr_assert_eq(msg_frame(&m, WS_OP_BINARY, false, 60, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(msg_frame(&m, WS_OP_CONTINUATION, true, 41, 100, &code),
                 WS_PARSE_ERROR);
    cr_expect_eq(code, WS_CLOSE_TOO_BIG);

    /* Lengths that would overflow a sum. */
    m = (struct ws_message){0};
    cr_assert_eq(msg_frame(&m, WS_OP_BINARY, false, 60, 100, &code),
                 WS_PARSE_OK);
    cr_expect_eq(msg_frame(&m, WS_OP_CONTINUATION, true, UINT64_MAX, 100,
                           &code),
                 WS_PARSE_ERROR);
}

/* ------------------------------------------------------------------------
 * UTF-8
 */

static bool utf8_whole(const char *s, size_t len)
{
    uint32_t st = 0;

    return ws_utf8_feed(&st, (const uint8_t *)s, len) && st == 0;
}

#define UTF8_OK(lit) cr_expect(utf8_whole(lit, sizeof lit - 1), "%s", #lit)
#define UTF8_BAD(lit) cr_expect(!utf8_whole(lit, sizeof lit - 1), "%s", #lit)

Test(ws_utf8, valid_forms)
{
    UTF8_OK("");
    UTF8_OK("plain ASCII, longer than eight bytes at a time");
    UTF8_OK("\xc2\x80");                    /* U+0080 */
    UTF8_OK("\xdf\xbf");                    /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");                /* U+0800 */
    UTF8_OK("\xed\x9f\xbf");                /* U+D7FF */
    UTF8_OK("\xee\x80\x80");                /* U+E000 */
    UTF8_OK("\xef\xbf\xbf");                /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80");            /* U+10000 */
    UTF8_OK("\xf4\x8f\xbf\xbf");            /* U+10FFFF */
    UTF8_OK("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 ASCII after");
}

Test(ws_utf8, overlong_forms)
{
    UTF8_BAD("\xc0\xaf");
    UTF8_BAD("\xc1\xbf");
    UTF8_BAD("\xe0\x80\xaf");
    UTF8_BAD("\xe0\x9f\xbf");
    UTF8_BAD("\xf0\x80\x80\xaf");
    UTF8_BAD("\xf0\x8f\xbf\xbf");
}

Test(ws_utf8, surrogates_and_beyond_10ffff)
{
    UTF8_BAD("\xed\xa0\x80");               /* U+D800 */
    UTF8_BAD("\xed\xbf\xbf");               /* U+DFFF */
    UTF8_BAD("\xf4\x90\x80\x80");           /* U+110000 */
    UTF8_BAD("\xf5\x80\x80\x80");
    UTF8_BAD("\xff");
    UTF8_BAD("\xfe");
}

Test(ws_utf8, stray_and_missing_continuations)
{
    UTF8_BAD("\x80");
    UTF8_BAD("a\xbf");
    UTF8_BAD("\xc2\x41");
    UTF8_BAD("\xe1\x80\x41");
    UTF8_BAD("\xf1\x80\x80\xc0");
    /* Truncated: valid so far, but not whole. */
    uint32_t st = 0;

    cr_expect(ws_utf8_feed(&st, (const uint8_t *)"\xf0\x9f\x98", 3));
    cr_expect_neq(st, 0);
}

Test(ws_utf8, split_across_feeds_at_every_point)
{
    static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    const size_t n = sizeof s - 1;

    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            uint32_t st = 0;
            const uint8_t *p = (const uint8_t *)s;

            cr_assert(ws_utf8_feed(&st, p, a));
            cr_assert(ws_utf8_feed(&st, p + a, b - a));
            cr_assert(ws_utf8_feed(&st, p + b, n - b));
            cr_assert_eq(st, 0, "split %zu %zu", a, b);
        }
}

Test(ws_utf8, invalid_stays_invalid)
{
    uint32_t st = 0;

    cr_expect(!ws_utf8_feed(&st, (const uint8_t *)"\xff", 1));
    cr_expect(!ws_utf8_feed(&st, (const uint8_t *)"a", 1));
}

static bool text_payload(struct ws_message *m, const char *s, size_t len,
                         uint16_t *code)
{
    const char *why;

    return ws_message_payload(m, (const uint8_t *)s, len, code, &why);
}

Test(ws_message, text_split_across_frames)
{
    struct ws_message m = {0};
    uint16_t code = 0;
    const char *why;

    /* "é€" with the euro sign split between two frames. */
    cr_assert_eq(msg_frame(&m, WS_OP_TEXT, false, 3, 100, &code),
                 WS_PARSE_OK);
    cr_expect(text_payload(&m, "\xc3\xa9\xe2", 3, &code));
    cr_assert_eq(msg_frame(&m, WS_OP_CONTINUATION, true, 2, 100, &code),
                 WS_PARSE_OK);
    cr_expect(text_payload(&m, "\x82", 1, &code));
    cr_expect(text_payload(&m, "\xac", 1, &code));
    cr_expect(ws_message_end(&m, &code, &why));
}

Test(ws_message, invalid_text_is_1007)
{
    struct ws_message m = {0};
    uint16_t code = 0;

    cr_assert_eq(msg_frame(&m, WS_OP_TEXT, true, 3, 100, &code),
                 WS_PARSE_OK);
    cr_expect(!text_payload(&m, "\xed\xa0\x80", 3, &code));
    cr_expect_eq(code, WS_CLOSE_INVALID_DATA);
}

Test(ws_message, binary_is_not_checked)
{
    struct ws_message m = {0};
    uint16_t code = 0;
    const char *why;

    cr_assert_eq(msg_frame(&m, WS_OP_BINARY, true, 3, 100, &code),
                 WS_PARSE_OK);
    cr_expect(text_payload(&m, "\xff\xfe\xed", 3, &code));
    cr_expect(ws_message_end(&m, &code, &why));
}

Test(ws_message, text_truncated_at_message_end_is_1007)
{
    struct ws_message m = {0};
    uint16_t code = 0;
    const char *why = NULL;

    cr_assert_eq(msg_frame(&m, WS_OP_TEXT, true, 2, 100, &code),
                 WS_PARSE_OK);
    cr_expect(text_payload(&m, "a\xc3", 2, &code));
    cr_expect(!ws_message_end(&m, &code, &why));
    cr_expect_eq(code, WS_CLOSE_INVALID_DATA);
    cr_expect_not_null(why);
    cr_expect_eq(m.opcode, 0, "reset even after an error");
}

/* ------------------------------------------------------------------------
 * Close payloads
 */

struct closed {
    bool ok;
    uint16_t close_code, code;
    const uint8_t *reason;
    size_t reason_len;
};

static struct closed parse_close(const void *p, size_t len)
{
    struct closed c = {0};
    const char *why = NULL;

    c.ok = ws_parse_close(p, len, &c.close_code, &c.reason, &c.reason_len,
                          &c.code, &why);
    if (!c.ok)
        cr_expect_not_null(why);
    return c;
}

Test(ws_close, empty_is_1005)
{
    struct closed c = parse_close("", 0);

    cr_expect(c.ok);
    cr_expect_eq(c.close_code, WS_CLOSE_NO_STATUS);
    cr_expect_eq(c.reason_len, 0);
}

Test(ws_close, one_byte)
{
    struct closed c = parse_close("\x03", 1);

    cr_expect(!c.ok);
    cr_expect_eq(c.code, WS_CLOSE_PROTOCOL_ERROR);
}

Test(ws_close, invalid_codes)
{
    static const uint16_t bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016,
                                   1100, 2000, 2999, 5000, 65535};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        struct closed c = parse_close(p, 2);

        cr_expect(!c.ok, "code %u", bad[i]);
        cr_expect_eq(c.code, WS_CLOSE_PROTOCOL_ERROR, "code %u", bad[i]);
    }
}

Test(ws_close, valid_codes_and_reason)
{
    static const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                    1009, 1010, 1011, 1012, 1013, 1014,
                                    3000, 3999, 4000, 4999};

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint8_t p[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
        struct closed c = parse_close(p, 2);

        cr_expect(c.ok, "code %u", good[i]);
        cr_expect_eq(c.close_code, good[i]);
        cr_expect_eq(c.reason_len, 0);
    }

    struct closed c = parse_close("\x03\xe8" "bye \xe2\x82\xac", 9);

    cr_assert(c.ok);
    cr_expect_eq(c.close_code, 1000);
    cr_expect_eq(c.reason_len, 7);
    cr_expect_arr_eq(c.reason, "bye \xe2\x82\xac", 7);
}

Test(ws_close, bad_utf8_reason_is_1007)
{
    struct closed c = parse_close("\x03\xe8" "bye \xe2\x82", 8);

    cr_expect(!c.ok, "truncated character");
    cr_expect_eq(c.code, WS_CLOSE_INVALID_DATA);
    c = parse_close("\x03\xe8\xc0\xaf", 4);
    cr_expect(!c.ok, "overlong");
    cr_expect_eq(c.code, WS_CLOSE_INVALID_DATA);
}

Test(ws_close, write_short_reason_round_trips)
{
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_write_close_payload(p, WS_CLOSE_TOO_BIG, "too big");
    struct closed c = parse_close(p, n);

    cr_expect_eq(n, 9);
    cr_assert(c.ok);
    cr_expect_eq(c.close_code, WS_CLOSE_TOO_BIG);
    cr_expect_arr_eq(c.reason, "too big", 7);
    cr_expect_eq(ws_write_close_payload(p, 1000, NULL), 2);
    cr_expect_eq(ws_write_close_payload(p, 1000, ""), 2);
}

Test(ws_close, write_cuts_long_reason_at_a_character)
{
    char reason[200];
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];

    /* 122 ASCII bytes then a 2-byte character: 124 bytes do not fit in
     * 123, and cutting at 123 would split the character. */
    memset(reason, 'x', 122);
    strcpy(reason + 122, "\xc3\xa9 and more");
    size_t n = ws_write_close_payload(p, WS_CLOSE_POLICY, reason);
    struct closed c = parse_close(p, n);

    cr_expect_eq(n, 2 + 122);
    cr_expect(c.ok);

    /* A 4-byte character across the limit. */
    memset(reason, 'y', 121);
    strcpy(reason + 121, "\xf0\x9f\x98\x80");
    n = ws_write_close_payload(p, WS_CLOSE_POLICY, reason);
    cr_expect_eq(n, 2 + 121);
    cr_expect(parse_close(p, n).ok);

    /* Exactly 123 bytes fit whole. */
    memset(reason, 'z', 123);
    reason[123] = '\0';
    cr_expect_eq(ws_write_close_payload(p, 1000, reason),
                 WS_MAX_CONTROL_PAYLOAD);
    memset(reason, 'z', 150);
    reason[150] = '\0';
    cr_expect_eq(ws_write_close_payload(p, 1000, reason),
                 WS_MAX_CONTROL_PAYLOAD);
}

Test(ws_close, write_stops_before_invalid_utf8)
{
    uint8_t p[WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_write_close_payload(p, 1008, "name \xff\xfe rest");

    cr_expect_eq(n, 2 + 5);
    cr_expect(parse_close(p, n).ok);
}
