/*
 * mpcat_split.c - mpcat's framing splitter: the bytes of connect mode's
 * input cut into messages, by line, by NUL byte, by 4-byte length, or a
 * whole FILE as one (mpcat_split.h says how a caller drives it).
 *
 * Pure: no I/O, no allocation. mpcat_input.c feeds it what it reads and
 * sends what it gives; tests/unit/test_mpcat_split.c drives it directly.
 */
#include "config.h"

#include <string.h>

#include "mpcat_split.h"

void split_init(struct splitter *sp, enum framing framing, size_t max)
{
    sp->framing = framing;
    sp->max = max;
    sp->scanned = 0;
}

static enum split_result stopped(enum sent r)
{
    return r == BLOCKED ? SPLIT_BLOCKED : SPLIT_FAILED;
}

/* Every complete line (or NUL-ended message). The bytes after the last
 * delimiter are remembered as scanned, so that a long line arriving in
 * many reads is searched once, not once per read. */
static enum split_result split_delimited(struct splitter *sp,
                                         const unsigned char *data,
                                         size_t len, size_t *used,
                                         unsigned char delim,
                                         split_sink sink, void *arg)
{
    size_t start = 0, from = sp->scanned <= len ? sp->scanned : 0;
    const unsigned char *d;

    while (from < len && (d = memchr(data + from, delim, len - from)) != NULL) {
        size_t end = (size_t)(d - data);
        enum sent r = sink(arg, data + start, end - start);
        if (r != SENT) {
            *used = start;
            sp->scanned = 0; /* whole lines still wait in there */
            return stopped(r);
        }
        start = from = end + 1;
    }
    *used = start;
    sp->scanned = len - start;
    return len - start <= sp->max ? SPLIT_OK : SPLIT_TOO_BIG;
}

/* Every complete length-prefixed frame. A length over the limit is
 * refused as soon as its 4 bytes are in, before any of its data. */
static enum split_result split_frames(const struct splitter *sp,
                                      const unsigned char *data, size_t len,
                                      size_t *used, split_sink sink, void *arg)
{
    size_t off = 0;

    *used = 0;
    while (len - off >= 4) {
        const unsigned char *p = data + off;
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
                   (size_t)p[2] << 8 | p[3];
        if (n > sp->max)
            return SPLIT_TOO_BIG;
        if (len - off - 4 < n)
            break;
        enum sent r = sink(arg, p + 4, n);
        if (r != SENT)
            return stopped(r);
        off += 4 + n;
        *used = off;
    }
    return SPLIT_OK;
}

enum split_result split_feed(struct splitter *sp, const unsigned char *data,
                             size_t len, size_t *used, split_sink sink,
                             void *arg)
{
    switch (sp->framing) {
    case FRAME_LINE:
        return split_delimited(sp, data, len, used, '\n', sink, arg);
    case FRAME_NUL:
        return split_delimited(sp, data, len, used, '\0', sink, arg);
    case FRAME_LENGTH:
        return split_frames(sp, data, len, used, sink, arg);
    case FRAME_WHOLE:
        break;
    }
    *used = 0;
    return len <= sp->max ? SPLIT_OK : SPLIT_TOO_BIG;
}

/* The last message: data[0..len) after split_feed has taken its share. */
static enum split_result split_rest(const struct splitter *sp,
                                    const unsigned char *data, size_t len,
                                    size_t *used, split_sink sink, void *arg)
{
    enum sent r;

    switch (sp->framing) {
    case FRAME_LENGTH:
        return len == 0 ? SPLIT_OK : SPLIT_CUT_SHORT;
    case FRAME_LINE:
    case FRAME_NUL:
        if (len == 0)
            return SPLIT_OK;
        break;
    case FRAME_WHOLE:
        break; /* even an empty FILE is a message */
    }
    r = sink(arg, data, len);
    if (r != SENT)
        return stopped(r);
    *used += len;
    return SPLIT_OK;
}

enum split_result split_finish(struct splitter *sp, const unsigned char *data,
                               size_t len, size_t *used, split_sink sink,
                               void *arg)
{
    enum split_result r = split_feed(sp, data, len, used, sink, arg);

    if (r != SPLIT_OK)
        return r;
    return split_rest(sp, data + *used, len - *used, used, sink, arg);
}
