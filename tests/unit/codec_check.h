/*
 * codec_check.h - what the codec unit tests (json, binary, gob) share: an
 * output buffer for encoders, and a decode that checks the contract of
 * mp_codec_ops.decode on every call. Asserts with criterion.
 */
#ifndef MP_TEST_CODEC_CHECK_H
#define MP_TEST_CODEC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <mp/plugin.h>

/* Where an encoder writes; the writes are counted, and the fail_from-th
 * call and later ones fail (0 = never), to test write errors. */
struct codec_out {
    unsigned char *p; /* malloc'd, the caller frees it */
    size_t len, cap;
    int writes;
    int fail_from;
};

/* An mp_write_fn appending to the struct codec_out at ctx. */
int codec_out_write(void *ctx, const void *bytes, size_t len);

/*
 * codec->decode on a copy of bytes[0..len) in a buffer of exactly len
 * bytes, so that AddressSanitizer and valgrind catch any read past the
 * end. Checks that an error has a reason and leaves no allocation, and
 * that a decoded message consumed between 1 and len bytes.
 */
enum mp_decode_status codec_decode_exact(const struct mp_codec_ops *codec,
                                         void *stream, const void *bytes,
                                         size_t len, size_t max_size,
                                         struct mp_message *msg,
                                         size_t *consumed, char *err,
                                         size_t errlen);

/*
 * The fast lane's contract (decode_wire, encode_wire) on bytes[0..len),
 * stateless streams: when decode_wire() takes the first message, decode()
 * takes it too, with the same fields and length, and encode_wire() with
 * the wire data writes exactly what encode() writes for the decoded
 * message. When it does not take it, the message is left untouched.
 * Returns whether decode_wire() took it.
 */
bool codec_check_wire(const struct mp_codec_ops *codec, const void *bytes,
                      size_t len, size_t max_size);

#endif
