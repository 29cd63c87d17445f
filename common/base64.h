/*
 * base64.h - standard padded base64 (RFC 4648 section 4), as Go's
 * base64.StdEncoding reads and writes it, because the JSON wire format
 * carries message data that way.
 *
 * Encoding always pads with '='. Decoding follows Go's StdEncoding (which
 * encoding/json uses for []byte):
 *  - the input must be whole 4-character quanta, padded with '=';
 *  - '\r' and '\n' are ignored anywhere, even between the '=' signs;
 *  - nothing but '\r' and '\n' may follow the padding;
 *  - non-zero unused bits in the last quantum are accepted ("QR==" is "A"),
 *    as Go's non-strict decoder does;
 *  - every other byte (spaces, '-', '_', NUL, ...) is an error.
 */
#ifndef MP_COMMON_BASE64_H
#define MP_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest input mp_base64_encoded_len() can size without overflow. */
#define MP_BASE64_ENCODE_MAX ((SIZE_MAX / 4 - 1) * 3)

/* Characters mp_base64_encode() writes for n bytes: 4 * ceil(n / 3).
 * n must not exceed MP_BASE64_ENCODE_MAX. */
size_t mp_base64_encoded_len(size_t n);

/* Encode in[0..n) into out, which must have room for
 * mp_base64_encoded_len(n) characters. No NUL is appended. Returns the
 * number of characters written. */
size_t mp_base64_encode(const unsigned char *in, size_t n, char *out);

/* Is in[0..len) exactly what mp_base64_encode() writes for some bytes:
 * whole quanta of the alphabet, '=' only to pad the last one, and its
 * unused bits zero? (Then passing it on is the same as decoding and
 * encoding it again.) */
bool mp_base64_is_canonical(const char *in, size_t len);

/* An upper bound of the bytes mp_base64_decode() writes for len input
 * characters (0 for len < 4). */
size_t mp_base64_decoded_max(size_t len);

/* Decode in[0..len) into out, which must have room for
 * mp_base64_decoded_max(len) bytes. Returns 0 and sets *out_len, or -1 if
 * the input is not valid base64 (out then holds garbage). */
int mp_base64_decode(const char *in, size_t len, unsigned char *out,
                     size_t *out_len);

#endif
