/*
 * numbered.h - streams of numbered binary Data frames for load and fault
 * tests: a sender that writes as much as a non-blocking socket takes, and
 * a reader that parses what arrives and checks every number comes once,
 * in order. They assert with criterion: call them from a test body.
 */
#ifndef MP_TEST_NUMBERED_H
#define MP_TEST_NUMBERED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A binary Data frame to `to` on connection `id`, data_len bytes (at
 * least 4) starting with the big-endian sequence number `seq`, into buf
 * (room for 12 + names + data_len bytes). Returns its length. */
size_t data_frame(unsigned char *buf, const char *to, const char *id,
                  uint32_t seq, size_t data_len);

/* Sender state: frames next..total-1 of one size, written without
 * blocking; `frame` is the caller's buffer for one frame. */
struct blaster {
    int fd;
    unsigned char *frame;
    size_t frame_len;
    uint32_t next, total;
    size_t offset;     /* bytes of the current frame already written */
    const char *to, *id;
    size_t data_len;
};

/* Write what the socket takes now; true once all `total` frames are out. */
bool blast(struct blaster *b);

/* Blast until the socket has taken nothing for 300 ms: the broker has
 * stopped reading the sender. Asserts that this happens within
 * mpt_ms(20000), and before every frame went out. */
void blast_until_paused(struct blaster *b);

/* Reader state: buf[0..cap) is the caller's buffer. */
struct reader {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    uint32_t received; /* frames checked so far */
    bool eof;          /* the broker closed the socket */
};

/* Read what the socket has, check each whole frame comes from `from` with
 * the next number; false (and r->eof) once the socket is closed. */
bool read_frames(struct reader *r, const char *from);

#endif
