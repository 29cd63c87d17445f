/* base64.c - standard padded base64, Go StdEncoding rules (see base64.h). */
#include "config.h"

#include "base64.h"

static const char encode_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Decoding classes: 0..63 are alphabet values. The other classes all have
 * bit 6 or 7 set, so one OR of four lookups tells whether a quantum is
 * plain alphabet (the fast path).
 */
#define B64_PAD 0x40     /* '=' */
#define B64_SKIP 0x41    /* '\r' and '\n', ignored */
#define B64_INVALID 0xff
#define B64_SPECIAL 0xc0 /* mask: any of the above */

#define X B64_INVALID
static const uint8_t decode_table[256] = {
    /* 0x00 */ X, X, X, X, X, X, X, X, X, X, B64_SKIP, X, X, B64_SKIP, X, X,
    /* 0x10 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0x20 */ X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, B64_PAD, X, X,
    /* 0x40 */ X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    /* 0x60 */ X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    /* 0x80 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0x90 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xa0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xb0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xc0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xd0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xe0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 0xf0 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

size_t mp_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t mp_base64_encode(const unsigned char *in, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;

    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
                     in[i + 2];
        o[0] = encode_table[v >> 18];
        o[1] = encode_table[(v >> 12) & 0x3f];
        o[2] = encode_table[(v >> 6) & 0x3f];
        o[3] = encode_table[v & 0x3f];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        o[0] = encode_table[v >> 18];
        o[1] = encode_table[(v >> 12) & 0x3f];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        o[0] = encode_table[v >> 18];
        o[1] = encode_table[(v >> 12) & 0x3f];
        o[2] = encode_table[(v >> 6) & 0x3f];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

bool mp_base64_is_canonical(const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t pad = 0;

    if (len % 4 != 0)
        return false;
    if (len > 0 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    /* One OR per character, one test at the end: a branch per character
     * was a fifth of the broker's time on 4 KiB JSON messages. Every
     * alphabet value is below 64, every other entry has a higher bit. */
    uint8_t seen = 0;
    for (size_t i = 0; i < len - pad; i++)
        seen |= decode_table[s[i]];
    if (seen >= 64)
        return false;
    /* "xx==" carries 8 bits in 12, "xxx=" 16 in 18: the rest must be 0. */
    if (pad == 2)
        return (decode_table[s[len - 3]] & 0x0f) == 0;
    if (pad == 1)
        return (decode_table[s[len - 2]] & 0x03) == 0;
    return true;
}

/*
 * Every 4 characters that are not skipped produce at most 3 bytes, and the
 * decoder writes the bytes of a quantum only once it is complete (a padded
 * one only once its padding checks out), so this bound holds for invalid
 * input too.
 */
size_t mp_base64_decoded_max(size_t len)
{
    return len / 4 * 3;
}

/* Skip '\r' and '\n' from s[i]; return the index of the next other byte
 * (or len). */
static size_t skip_newlines(const unsigned char *s, size_t i, size_t len)
{
    while (i < len && decode_table[s[i]] == B64_SKIP)
        i++;
    return i;
}

/*
 * The first '=' was at s[i - 1], after `have` (2 or 3) characters of the
 * last quantum, whose bits are in acc. Check the rest of the padding, then
 * write the 1 or 2 bytes. Returns the number written, or -1.
 */
static int decode_padding(const unsigned char *s, size_t i, size_t len,
                          unsigned have, uint32_t acc, unsigned char *o)
{
    if (have < 2)
        return -1; /* "=" or "A===": no whole byte before the padding */
    if (have == 2) {
        i = skip_newlines(s, i, len);
        if (i == len || decode_table[s[i]] != B64_PAD)
            return -1; /* two characters need "==" */
        i++;
    }
    if (skip_newlines(s, i, len) != len)
        return -1; /* data after the padding */
    if (have == 2) {
        o[0] = (unsigned char)(acc >> 4);
        return 1;
    }
    o[0] = (unsigned char)(acc >> 10);
    o[1] = (unsigned char)(acc >> 2);
    return 2;
}

int mp_base64_decode(const char *in, size_t len, unsigned char *out,
                     size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *o = out;
    uint32_t acc = 0;
    unsigned have = 0; /* characters of the current quantum seen */
    size_t i = 0;

    while (i < len) {
        /* Fast path: whole quanta of plain alphabet characters. */
        while (have == 0 && len - i >= 4) {
            uint8_t a = decode_table[s[i]], b = decode_table[s[i + 1]],
                    c = decode_table[s[i + 2]], d = decode_table[s[i + 3]];
            if ((a | b | c | d) & B64_SPECIAL)
                break;
            uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
                         (uint32_t)c << 6 | d;
            o[0] = (unsigned char)(v >> 16);
            o[1] = (unsigned char)(v >> 8);
            o[2] = (unsigned char)v;
            o += 3;
            i += 4;
        }
        if (i == len)
            break;

        /* Slow path: one character, which may be special. */
        uint8_t c = decode_table[s[i++]];
        if (c < 64) {
            acc = acc << 6 | c;
            if (++have == 4) {
                o[0] = (unsigned char)(acc >> 16);
                o[1] = (unsigned char)(acc >> 8);
                o[2] = (unsigned char)acc;
                o += 3;
                acc = 0;
                have = 0;
            }
        } else if (c == B64_PAD) {
            int n = decode_padding(s, i, len, have, acc, o);
            if (n < 0)
                return -1;
            *out_len = (size_t)(o - out) + (size_t)n;
            return 0;
        } else if (c != B64_SKIP) {
            return -1;
        }
    }
    if (have != 0)
        return -1; /* unpadded tail: StdEncoding requires the padding */
    *out_len = (size_t)(o - out);
    return 0;
}
