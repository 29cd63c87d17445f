/*
 * fuzz_link_frame.c - libFuzzer harness for the cluster's link frames
 * (broker/link_frame.c): the input is what another broker, or a stranger
 * before the handshake, sends on a link stream.
 *
 * The input is decoded frame after frame with the maximum frame sizes a
 * stream uses (a handshake's 1024, a small and an unbounded one). Every
 * decode call gets an exact-size copy of what is left, so a read past
 * `len` is an ASan report. Checks:
 *   - OK and SKIP consume LENGTH + 4 bytes, no more than given;
 *   - a decoded frame encodes back to exactly its bytes (the decoder is
 *     strict: no field can be read two ways), and link_frame_size()
 *     agrees;
 *   - every cut of a whole frame decodes as MORE, and a cut of the
 *     prefix of a frame over max as MORE until its 4 bytes are in;
 *   - MORE only when the frame is not all there; MALFORMED with a reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "link_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum link_decode_result decode_copy(const uint8_t *bytes, size_t len,
                                           size_t max, struct link_frame *f,
                                           size_t *used, char *err,
                                           size_t errlen)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    enum link_decode_result r;

    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, bytes, len);
    r = link_frame_decode(copy, len, max, f, used, err, errlen);
    if (r == LINK_DECODE_OK) {
        /* The frame points into the copy: check it before freeing. */
        unsigned char out[LINK_FRAME_HEADER_MAX];
        size_t n = link_frame_encode_header(f, out, sizeof out);

        FUZZ_CHECK(n > 0, "a decoded frame (type %d) does not encode",
                   (int)f->type);
        FUZZ_CHECK(link_frame_size(f) == *used,
                   "size %zu, decoded from %zu bytes", link_frame_size(f),
                   *used);
        FUZZ_CHECK(memcmp(out, bytes, n) == 0,
                   "type %d: the header encodes to other bytes", (int)f->type);
        if (f->type == LINK_FORWARD &&
            (f->u.forward.flags & LINK_FORWARD_HAS_DATA))
            FUZZ_CHECK(n + f->u.forward.data_len == *used &&
                           memcmp(f->u.forward.data, bytes + n,
                                  f->u.forward.data_len) == 0,
                       "FORWARD data is not the rest of the frame");
        else
            FUZZ_CHECK(n == *used, "%zu bytes after the header", *used - n);
    }
    free(copy);
    return r;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Every cut of a whole frame is MORE. */
static void check_cuts(const uint8_t *bytes, size_t used, size_t max)
{
    struct link_frame f;
    size_t u;
    char err[128];

    for (size_t cut = 0; cut < used; cut++) {
        enum link_decode_result r = decode_copy(bytes, cut, max, &f, &u, err,
                                                sizeof err);
        FUZZ_CHECK(r == LINK_DECODE_MORE, "cut at %zu of %zu: %d", cut, used,
                   (int)r);
        if (used > 64 && cut > 8)
            cut += used / 16; /* a sample of the cuts of big frames */
    }
}

static void run(const uint8_t *data, size_t size, size_t max)
{
    size_t pos = 0;

    while (pos < size) {
        struct link_frame f;
        size_t used = 0, left = size - pos;
        char err[128] = "";
        enum link_decode_result r = decode_copy(data + pos, left, max, &f,
                                                &used, err, sizeof err);

        switch (r) {
        case LINK_DECODE_OK:
        case LINK_DECODE_SKIP:
            FUZZ_CHECK(used >= LINK_FRAME_PREFIX + 1 && used <= left,
                       "used %zu of %zu", used, left);
            FUZZ_CHECK(used == LINK_FRAME_PREFIX + (size_t)be32(data + pos),
                       "used %zu, LENGTH %u", used, be32(data + pos));
            FUZZ_CHECK(used - LINK_FRAME_PREFIX <= max, "past max");
            check_cuts(data + pos, used, max);
            pos += used;
            break;
        case LINK_DECODE_MORE:
            FUZZ_CHECK(left < LINK_FRAME_PREFIX ||
                           (be32(data + pos) <= max &&
                            left < LINK_FRAME_PREFIX + (size_t)be32(data + pos) &&
                            be32(data + pos) > 0),
                       "MORE with %zu bytes there", left);
            return;
        case LINK_DECODE_MALFORMED:
            FUZZ_CHECK(err[0] != '\0', "malformed without a reason");
            FUZZ_CHECK(left >= LINK_FRAME_PREFIX, "malformed before the prefix");
            if (be32(data + pos) > max)
                check_cuts(data + pos, LINK_FRAME_PREFIX, max);
            return;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 1024);
    run(data, size, 64);
    run(data, size, UINT32_MAX);
    return 0;
}
