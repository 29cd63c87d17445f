/*
 * mpcat_split.h - mpcat's framing splitter: input bytes in, messages out.
 *
 * It knows nothing of files, sockets or libmpclient: the caller keeps the
 * bytes read so far in one buffer, hands them over after every read, drops
 * the `*used` bytes the splitter says it is done with, and appends what it
 * reads next. Each complete message goes to a sink, in input order; a sink
 * that cannot take one now (BLOCKED) stops the splitting, and the same
 * bytes, minus `*used`, are handed over again once it can.
 *
 * Ownership: the splitter holds no pointer to the bytes between calls; a
 * message passed to the sink lives only for that call.
 */
#ifndef MPCAT_SPLIT_H
#define MPCAT_SPLIT_H

#include <stddef.h>

/* How messages are cut from the input (and framed on stdout by mpcat). */
enum framing {
    FRAME_LINE,   /* one per line, '\n' removed / appended */
    FRAME_NUL,    /* each ended by a NUL byte */
    FRAME_LENGTH, /* a 4-byte big-endian length, then the bytes */
    FRAME_WHOLE   /* a FILE argument: its whole content (input only) */
};

/* What a sink did with one message. */
enum sent {
    SENT,
    BLOCKED, /* not taken: offer it again later */
    FAILED   /* the sink gave up (and said why) */
};

typedef enum sent (*split_sink)(void *arg, const void *data, size_t len);

enum split_result {
    SPLIT_OK,        /* every complete message was taken; the rest waits */
    SPLIT_BLOCKED,   /* the sink said BLOCKED: call again later */
    SPLIT_FAILED,    /* the sink said FAILED */
    SPLIT_TOO_BIG,   /* a message is longer than `max` */
    SPLIT_CUT_SHORT  /* split_finish: the input ends inside a -l frame */
};

struct splitter {
    enum framing framing;
    size_t max;     /* the longest message (mpcat: MESSAGE_MAX) */
    size_t scanned; /* the first `scanned` bytes hold no delimiter */
};

/* A splitter for a new input. */
void split_init(struct splitter *sp, enum framing framing, size_t max);

/* Give every complete message in data[0..len) to the sink. *used: the
 * bytes done with (always set, whatever the result). FRAME_WHOLE gives
 * nothing here: the content is one message, given by split_finish. A
 * line or NUL-ended message grows until its delimiter: SPLIT_TOO_BIG once
 * more than `max` bytes wait without one; a -l frame is refused from its
 * length. */
enum split_result split_feed(struct splitter *sp, const unsigned char *data,
                             size_t len, size_t *used, split_sink sink,
                             void *arg);

/* The input has ended: split_feed, then what is left. An unterminated
 * last line or NUL-ended message counts; half a -l frame is
 * SPLIT_CUT_SHORT; a FRAME_WHOLE input is one message, even an empty one.
 * SPLIT_BLOCKED: call again with the same bytes (minus *used) later. */
enum split_result split_finish(struct splitter *sp, const unsigned char *data,
                               size_t len, size_t *used, split_sink sink,
                               void *arg);

#endif
