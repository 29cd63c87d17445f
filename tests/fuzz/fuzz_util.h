/*
 * fuzz_util.h - small helpers shared by the libFuzzer harnesses.
 *
 * A failed check prints what went wrong and aborts: libFuzzer treats the
 * abort as a crash and saves the input, so a broken invariant is found as
 * surely as a sanitizer report.
 */
#ifndef MP_FUZZ_UTIL_H
#define MP_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mp/protocol.h>

#define FUZZ_CHECK(cond, ...)                                                \
    do {                                                                     \
        if (!(cond))                                                         \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);               \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A growable byte buffer (an encoder's output, bytes read from a socket). */
struct fuzz_buf {
    unsigned char *bytes;
    size_t len, cap;
};

/* Append; aborts on allocation failure (the harness has no other way out). */
void fuzz_buf_add(struct fuzz_buf *b, const void *bytes, size_t len);
/* Drop the first n bytes. */
void fuzz_buf_consume(struct fuzz_buf *b, size_t n);
void fuzz_buf_free(struct fuzz_buf *b);

/* An mp_write_fn appending to the struct fuzz_buf in ctx. */
int fuzz_buf_write(void *ctx, const void *bytes, size_t len);

/* The invariants every decoded message must hold (mp/protocol.h). */
void fuzz_check_message(const struct mp_message *msg, const char *what);

/* Are two messages the same, field by field? */
bool fuzz_message_equal(const struct mp_message *a,
                        const struct mp_message *b);

/* Print a message on stderr, for failure reports. */
void fuzz_print_message(const char *label, const struct mp_message *msg);

/* Write path (created 0600, or truncated) with bytes[0..len); aborts on
 * failure. */
void fuzz_write_file(const char *path, const void *bytes, size_t len);

/* A new file $TMPDIR/NAME-XXXXXX.conf (TMPDIR default /tmp), open for
 * writing; its path goes to path. Aborts if it cannot be made. */
FILE *fuzz_temp_config(const char *name, char *path, size_t len);

/* FNV-1a: a cheap, deterministic hash of the input. */
uint64_t fuzz_hash(const uint8_t *data, size_t size);

#endif
