/* test_base64.c - common/base64.c: RFC 4648 vectors and Go's StdEncoding
 * decoding rules. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "base64.h"

/* Decode `text` from a buffer of exactly its length into a buffer of
 * exactly mp_base64_decoded_max() bytes, so that AddressSanitizer or
 * valgrind catch any access past either. Returns the decoder's result;
 * the decoded bytes go to out (at least 64 bytes), their count to *n. */
static int decode_exact(const char *text, size_t len, unsigned char *out,
                        size_t *n)
{
    char *in = malloc(len > 0 ? len : 1);
    size_t max = mp_base64_decoded_max(len);
    unsigned char *dst = malloc(max > 0 ? max : 1);
    int rc;

    cr_assert(in != NULL && dst != NULL);
    memcpy(in, text, len);
    *n = (size_t)-1;
    rc = mp_base64_decode(in, len, dst, n);
    if (rc == 0) {
        cr_assert_leq(*n, max, "wrote %zu bytes, bound is %zu", *n, max);
        memcpy(out, dst, *n);
    }
    free(in);
    free(dst);
    return rc;
}

static const struct {
    const char *plain, *encoded;
} rfc4648[] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
};

Test(base64, encode_rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[16];
        size_t n = strlen(rfc4648[i].plain);
        size_t w = mp_base64_encode((const unsigned char *)rfc4648[i].plain,
                                    n, out);
        cr_assert_eq(w, strlen(rfc4648[i].encoded), "length for \"%s\"",
                     rfc4648[i].plain);
        cr_assert_eq(w, mp_base64_encoded_len(n));
        cr_assert(memcmp(out, rfc4648[i].encoded, w) == 0, "\"%s\" -> %.*s",
                  rfc4648[i].plain, (int)w, out);
    }
}

Test(base64, decode_rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        unsigned char out[64];
        size_t n;
        const char *e = rfc4648[i].encoded;
        cr_assert_eq(decode_exact(e, strlen(e), out, &n), 0, "%s", e);
        cr_assert_eq(n, strlen(rfc4648[i].plain), "%s", e);
        cr_assert(memcmp(out, rfc4648[i].plain, n) == 0, "%s", e);
    }
}

Test(base64, encoded_len)
{
    cr_assert_eq(mp_base64_encoded_len(0), 0);
    cr_assert_eq(mp_base64_encoded_len(1), 4);
    cr_assert_eq(mp_base64_encoded_len(3), 4);
    cr_assert_eq(mp_base64_encoded_len(4), 8);
    cr_assert_eq(mp_base64_encoded_len(MP_BASE64_ENCODE_MAX) % 4, 0);
    cr_assert_gt(mp_base64_encoded_len(MP_BASE64_ENCODE_MAX),
                 MP_BASE64_ENCODE_MAX);
}

/* Every byte value, every length up to 300, both directions. */
Test(base64, round_trip_all_lengths)
{
    unsigned char plain[300], back[300];
    char enc[400];

    srand(4242);
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (unsigned char)(i < 256 ? i : (size_t)rand());
    for (size_t n = 0; n <= sizeof plain; n++) {
        size_t w = mp_base64_encode(plain, n, enc), got;
        cr_assert_eq(w, mp_base64_encoded_len(n));
        cr_assert_eq(decode_exact(enc, w, back, &got), 0, "n=%zu", n);
        cr_assert_eq(got, n);
        cr_assert(memcmp(back, plain, n) == 0, "n=%zu", n);
    }
}

/* Go's StdEncoding ignores '\r' and '\n' anywhere, even in the padding,
 * and accepts non-zero unused bits. */
Test(base64, decode_lenient_like_go)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        { "Zm9v\nYmFy", "foobar" },
        { "\r\nZm9vYmFy\r\n", "foobar" },
        { "Z\nm\r9\nv", "foo" },
        { "Zg=\n=", "f" },
        { "Zg==\n\n", "f" },
        { "Zm8=\r\n", "fo" },
        { "\n", "" },
        { "\r\n\r\n", "" },
        { "Zh==", "f" },  /* unused bits set: still 'f' */
        { "Zm9=", "fo" }, /* ditto */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        unsigned char out[64];
        size_t n;
        cr_assert_eq(decode_exact(ok[i].in, strlen(ok[i].in), out, &n), 0,
                     "case %zu", i);
        cr_assert_eq(n, strlen(ok[i].out), "case %zu", i);
        cr_assert(memcmp(out, ok[i].out, n) == 0, "case %zu", i);
    }
}

Test(base64, decode_rejects_bad_input)
{
    static const char *const bad[] = {
        "Zg",         /* unpadded */
        "Zg=",        /* half the padding */
        "Zg=A",       /* half the padding, then data */
        "Zg=\nx",     /* ditto, across a newline */
        "Zm9vYg",     /* unpadded tail after a whole quantum */
        "Z",          /* one character */
        "Z===",       /* padding after one character */
        "=",          /* padding alone */
        "====",       /* padding alone */
        "Zm9v=",      /* padding after a whole quantum */
        "Zg==Zg==",   /* data after the padding */
        "Zg==x",      /* data after the padding */
        "Zm8==",      /* too much padding */
        "Zg===",      /* too much padding */
        "Zm9v YmFy",  /* space */
        "Zm9v\tYmFy", /* tab */
        "-_8=",       /* URL alphabet */
        "Zm9v.",      /* punctuation */
        "Zm\xc3\xa9v", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char out[64];
        size_t n;
        cr_assert_eq(decode_exact(bad[i], strlen(bad[i]), out, &n), -1,
                     "accepted \"%s\"", bad[i]);
    }
    /* A NUL is just another invalid byte. */
    unsigned char out[8];
    size_t n;
    cr_assert_eq(decode_exact("Zm\0v", 4, out, &n), -1);
}

/* A bad byte at every position of a long input, in the fast path and
 * the slow path. */
Test(base64, decode_rejects_bad_byte_anywhere)
{
    char enc[64];
    unsigned char out[64];
    size_t n;

    memcpy(enc, "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy", 32);
    for (size_t i = 0; i < 32; i++) {
        char saved = enc[i];
        enc[i] = '*';
        cr_assert_eq(decode_exact(enc, 32, out, &n), -1, "position %zu", i);
        enc[i] = saved;
    }
    cr_assert_eq(decode_exact(enc, 32, out, &n), 0);
    cr_assert_eq(n, 24);
}

Test(base64, decoded_max_is_a_bound)
{
    cr_assert_eq(mp_base64_decoded_max(0), 0);
    cr_assert_eq(mp_base64_decoded_max(3), 0);
    cr_assert_eq(mp_base64_decoded_max(4), 3);
    cr_assert_eq(mp_base64_decoded_max(8), 6);
    /* Padded input decodes to less than the bound, never more. */
    unsigned char out[8];
    size_t n;
    cr_assert_eq(decode_exact("Zg==", 4, out, &n), 0);
    cr_assert_eq(n, 1);
}
