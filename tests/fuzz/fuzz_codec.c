/*
 * fuzz_codec.c - the checks behind fuzz_json and fuzz_binary (see
 * fuzz_codec.h).
 *
 * For each of a few maximum sizes (the broker's smallest, a typical one
 * and the largest it accepts) the input is decoded as the broker decodes a
 * socket's stream: message after message, each call seeing the bytes from
 * the current message on. This runs
 *   - with the whole input at once, with and without the codec's stream
 *     state (libmpclient and the broker may pass either);
 *   - with the bytes arriving in small pieces, each call given an exact
 *     copy of what has arrived so far, so that ASan sees any read past
 *     `len` and the scanner's saved position is put to work;
 * and every run must give the same messages and end the same way: how a
 * peer's bytes are split by TCP must never change what they mean.
 *
 * The broker's own way - the fast lane (decode_wire, encode_wire) first,
 * decode() for what it does not take - must give the same messages too.
 *
 * Each decoded message must then survive encode -> decode unchanged in
 * its own format and in the other one, and encode to the same bytes twice.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_codec.h"
#include "fuzz_util.h"
#include "message.h"

/* The broker refuses max_message_size below 256 and above 1 GiB. */
static const size_t max_sizes[] = { 256, 4096, (size_t)1 << 30 };

/* Round trips decode what an encoder wrote; nothing is too large there. */
#define ROUND_TRIP_MAX ((size_t)1 << 30)

enum run_end { END_CLEAN, END_NEED_MORE, END_ERROR };

/* What one decoding of the input produced. */
struct decode_run {
    struct mp_message *msgs;
    size_t n, cap;
    enum run_end end;
    size_t end_offset; /* where the unfinished or bad message starts */
    char err[200];
};

static void run_add(struct decode_run *run, struct mp_message *msg)
{
    if (run->n == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 16;
        struct mp_message *m = realloc(run->msgs, cap * sizeof *m);
        FUZZ_CHECK(m != NULL, "out of memory");
        run->msgs = m;
        run->cap = cap;
    }
    run->msgs[run->n++] = *msg; /* takes the data */
    memset(msg, 0, sizeof *msg);
}

static void run_free(struct decode_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        mp_message_clear(&run->msgs[i]);
    free(run->msgs);
    memset(run, 0, sizeof *run);
}

/*
 * One decode call on exactly buf[0..len), copied into its own allocation
 * so that a read past the end is caught even when buf is a window of a
 * larger buffer. Checks what the contract of mp_codec_ops.decode promises
 * whatever the input.
 */
static enum mp_decode_status decode_exact(const struct mp_codec_ops *codec,
                                          void *stream,
                                          const unsigned char *buf,
                                          size_t len, size_t max_size,
                                          struct mp_message *msg,
                                          size_t *consumed, char *err,
                                          size_t errlen)
{
    unsigned char *copy = malloc(len ? len : 1);
    enum mp_decode_status st;

    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len > 0)
        memcpy(copy, buf, len);
    memset(msg, 0, sizeof *msg);
    *consumed = 0;
    err[0] = '\0';
    st = codec->decode(stream, copy, len, max_size, msg, consumed, err,
                       errlen);
    free(copy);

    switch (st) {
    case MP_DECODE_OK:
        FUZZ_CHECK(*consumed > 0 && *consumed <= len,
                   "consumed %zu of %zu bytes", *consumed, len);
        fuzz_check_message(msg, "decoded message");
        break;
    case MP_DECODE_NEED_MORE:
        FUZZ_CHECK(msg->data == NULL && !msg->has_data,
                   "NEED_MORE left data in the message");
        break;
    case MP_DECODE_ERROR:
        FUZZ_CHECK(msg->data == NULL, "ERROR left data in the message");
        FUZZ_CHECK(memchr(err, '\0', errlen) != NULL && err[0] != '\0',
                   "ERROR without a NUL-terminated reason");
        break;
    default:
        FUZZ_CHECK(0, "decode returned %d", (int)st);
    }
    return st;
}

static void encode(const struct mp_codec_ops *codec,
                   const struct mp_message *msg, struct fuzz_buf *out);

/*
 * The fast lane on exactly buf[0..len), as the broker tries it before
 * decode(): when decode_wire() takes the message, what encode_wire()
 * writes for it must decode to a message (returned in msg, data and all)
 * that encode() writes as the very same bytes. Returns whether it was
 * taken; a message not taken must be left untouched.
 */
static bool wire_exact(const struct mp_codec_ops *codec, void *stream,
                       const unsigned char *buf, size_t len, size_t max_size,
                       struct mp_message *msg, size_t *consumed)
{
    unsigned char *copy = malloc(len ? len : 1);
    struct mp_message env, zero;
    size_t off = 0, wire_len = 0, used;
    struct fuzz_buf out = { 0 }, again = { 0 };
    char err[200];

    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len > 0)
        memcpy(copy, buf, len);
    memset(&env, 0, sizeof env);
    memset(&zero, 0, sizeof zero);
    *consumed = 0;
    int took = codec->decode_wire(stream, copy, len, max_size, &env, consumed,
                                  &off, &wire_len);
    FUZZ_CHECK(took == 0 || took == 1, "decode_wire returned %d", took);
    if (!took) {
        FUZZ_CHECK(memcmp(&env, &zero, sizeof env) == 0,
                   "decode_wire changed a message it did not take");
        free(copy);
        return false;
    }
    FUZZ_CHECK(env.data == NULL, "decode_wire set data");
    FUZZ_CHECK(*consumed > 0 && *consumed <= len && off <= len &&
                   wire_len <= len - off,
               "decode_wire: consumed %zu, wire %zu+%zu of %zu bytes",
               *consumed, off, wire_len, len);
    FUZZ_CHECK(codec->encode_wire(NULL, &env, copy + off, wire_len,
                                  fuzz_buf_write, &out) == 0,
               "encode_wire failed");
    FUZZ_CHECK(decode_exact(codec, NULL, out.bytes, out.len, ROUND_TRIP_MAX,
                            msg, &used, err, sizeof err) == MP_DECODE_OK,
               "what encode_wire wrote does not decode: %s", err);
    encode(codec, msg, &again);
    FUZZ_CHECK(again.len == out.len && memcmp(again.bytes, out.bytes, out.len) == 0,
               "encode_wire and encode write different bytes");
    fuzz_buf_free(&out);
    fuzz_buf_free(&again);
    mp_message_clear(&env);
    free(copy);
    return true;
}

/*
 * Decode data[0..size) as one stream. step 0: the whole input is there
 * from the start; otherwise it arrives `step` bytes at a time and the
 * decoder is asked again after each piece, as the broker does.
 */
static void decode_stream(const struct mp_codec_ops *codec, bool use_stream,
                          const uint8_t *data, size_t size, size_t max_size,
                          size_t step, bool wire, struct decode_run *run)
{
    void *stream = NULL;
    size_t off = 0, avail = step == 0 || step > size ? size : step;

    if (use_stream && codec->stream_new != NULL) {
        stream = codec->stream_new(NULL);
        FUZZ_CHECK(stream != NULL, "stream_new failed");
    }
    run->end = END_CLEAN;
    for (;;) {
        struct mp_message msg;
        size_t consumed;
        enum mp_decode_status st;

        if (off == avail) {
            /* The host never calls decode with nothing buffered. */
            if (avail == size)
                break;
            avail = size - avail > step ? avail + step : size;
            continue;
        }
        if (wire && wire_exact(codec, stream, data + off, avail - off,
                               max_size, &msg, &consumed)) {
            run_add(run, &msg);
            off += consumed;
            continue;
        }
        st = decode_exact(codec, stream, data + off, avail - off, max_size,
                          &msg, &consumed, run->err, sizeof run->err);
        if (st == MP_DECODE_OK) {
            run_add(run, &msg);
            off += consumed;
        } else if (st == MP_DECODE_NEED_MORE && avail < size) {
            avail = size - avail > step ? avail + step : size;
        } else {
            run->end = st == MP_DECODE_ERROR ? END_ERROR : END_NEED_MORE;
            run->end_offset = off;
            break;
        }
    }
    if (codec->stream_free != NULL)
        codec->stream_free(stream);
}

static const char *end_name(enum run_end end)
{
    return end == END_CLEAN ? "clean end"
           : end == END_NEED_MORE ? "incomplete message" : "error";
}

/* Two runs over the same input must agree in every respect. */
static void compare_runs(const struct decode_run *a, const struct decode_run *b,
                         const char *how)
{
    size_t n = a->n < b->n ? a->n : b->n;

    for (size_t i = 0; i < n; i++) {
        if (!fuzz_message_equal(&a->msgs[i], &b->msgs[i])) {
            fuzz_print_message("whole input", &a->msgs[i]);
            fuzz_print_message(how, &b->msgs[i]);
            FUZZ_CHECK(0, "message %zu differs (%s)", i, how);
        }
    }
    FUZZ_CHECK(a->n == b->n && a->end == b->end,
               "whole input: %zu messages then %s (%s); %s: %zu messages "
               "then %s (%s)", a->n, end_name(a->end),
               a->end == END_ERROR ? a->err : "", how, b->n,
               end_name(b->end), b->end == END_ERROR ? b->err : "");
    FUZZ_CHECK(a->end_offset == b->end_offset,
               "the last message starts at %zu, or at %zu (%s)",
               a->end_offset, b->end_offset, how);
    if (a->end == END_ERROR)
        FUZZ_CHECK(strcmp(a->err, b->err) == 0,
                   "different reasons: \"%s\" vs \"%s\" (%s)", a->err,
                   b->err, how);
}

/* Encode msg with codec into out (which is reset). */
static void encode(const struct mp_codec_ops *codec,
                   const struct mp_message *msg, struct fuzz_buf *out)
{
    void *stream = codec->stream_new ? codec->stream_new(NULL) : NULL;
    int rc;

    out->len = 0;
    rc = codec->encode(stream, msg, fuzz_buf_write, out);
    if (codec->stream_free != NULL)
        codec->stream_free(stream);
    if (rc != 0)
        fuzz_print_message("cannot encode", msg);
    FUZZ_CHECK(rc == 0, "encode failed");
}

/* What an encoder writes after a message (JSON's "\n") must be only what
 * separates messages: decoding it finds no message and no error. */
static bool only_separator(const struct mp_codec_ops *codec,
                           const unsigned char *rest, size_t len)
{
    struct mp_message msg;
    size_t consumed;
    char err[200];
    void *stream = codec->stream_new ? codec->stream_new(NULL) : NULL;
    enum mp_decode_status st = MP_DECODE_NEED_MORE;

    if (len > 0)
        st = decode_exact(codec, stream, rest, len, ROUND_TRIP_MAX, &msg,
                          &consumed, err, sizeof err);
    if (codec->stream_free != NULL)
        codec->stream_free(stream);
    if (st == MP_DECODE_OK)
        mp_message_clear(&msg);
    return st == MP_DECODE_NEED_MORE;
}

/* msg -> bytes -> msg -> bytes through `codec`: same message, same bytes.
 * The gob encoder writes the original's four-field Message, with no
 * Level (only clients announce a level, and the broker's gob peers get
 * none): through gob, a message comes back at level 0. */
static void round_trip(const struct mp_codec_ops *codec, const char *format,
                       const struct mp_message *msg)
{
    struct fuzz_buf first = { 0 }, second = { 0 };
    struct mp_message want = *msg, back; /* want shares msg's data */
    size_t consumed;
    char err[200];
    void *stream = codec->stream_new ? codec->stream_new(NULL) : NULL;
    enum mp_decode_status st;

    if (codec == &mp_codec_gob)
        want.level = 0;
    encode(codec, msg, &first);
    st = decode_exact(codec, stream, first.bytes, first.len, ROUND_TRIP_MAX,
                      &back, &consumed, err, sizeof err);
    if (codec->stream_free != NULL)
        codec->stream_free(stream);
    if (st != MP_DECODE_OK || !fuzz_message_equal(&want, &back) ||
        !only_separator(codec, first.bytes + consumed, first.len - consumed)) {
        fuzz_print_message("original", msg);
        if (st == MP_DECODE_OK)
            fuzz_print_message("decoded", &back);
        FUZZ_CHECK(0, "%s round trip: status %d, consumed %zu of %zu, "
                   "error \"%s\"", format, (int)st,
                   st == MP_DECODE_OK ? consumed : 0, first.len,
                   st == MP_DECODE_ERROR ? err : "");
    }
    encode(codec, &back, &second);
    FUZZ_CHECK(first.len == second.len &&
                   memcmp(first.bytes, second.bytes, first.len) == 0,
               "%s: encoding the decoded message gives other bytes", format);
    mp_message_clear(&back);
    fuzz_buf_free(&first);
    fuzz_buf_free(&second);
}

static void check_sniff(const struct mp_codec_ops *codec, const uint8_t *data,
                        size_t size)
{
    if (codec->sniff == NULL || size == 0)
        return;
    int r = codec->sniff(data, size);
    FUZZ_CHECK(r >= -1 && r <= 1, "sniff returned %d", r);
}

/* The piece size for the incremental runs, chosen by the input's last
 * byte so that the fuzzer explores the splits that matter. */
static size_t piece_size(const uint8_t *data, size_t size)
{
    return size > 0 ? 1 + (size_t)(data[size - 1] % 61) : 1;
}

static void check_max_size(const struct mp_codec_ops *codec,
                           bool needs_stream, const uint8_t *data,
                           size_t size, size_t max_size,
                           struct decode_run *whole)
{
    struct decode_run run = { 0 };

    decode_stream(codec, true, data, size, max_size, 0, false, whole);

    if (codec->stream_new != NULL && !needs_stream) {
        decode_stream(codec, false, data, size, max_size, 0, false, &run);
        compare_runs(whole, &run, "without stream state");
        run_free(&run);
    }
    if (size <= 512) {
        decode_stream(codec, true, data, size, max_size, 1, false, &run);
        compare_runs(whole, &run, "one byte at a time");
        run_free(&run);
    }
    decode_stream(codec, true, data, size, max_size, piece_size(data, size),
                  false, &run);
    compare_runs(whole, &run, "in pieces");
    run_free(&run);
    /* The broker's way: the fast lane first, decode() for the rest. */
    if (codec->decode_wire != NULL) {
        decode_stream(codec, true, data, size, max_size, 0, true, &run);
        compare_runs(whole, &run, "through the fast lane");
        run_free(&run);
        decode_stream(codec, true, data, size, max_size,
                      piece_size(data, size), true, &run);
        compare_runs(whole, &run, "through the fast lane, in pieces");
        run_free(&run);
    }
}

void fuzz_codec_one_input(const struct mp_codec_ops *codec,
                          const struct mp_codec_ops *other, bool needs_stream,
                          const uint8_t *data, size_t size)
{
    check_sniff(codec, data, size);
    for (size_t i = 0; i < sizeof max_sizes / sizeof max_sizes[0]; i++) {
        struct decode_run whole = { 0 };

        check_max_size(codec, needs_stream, data, size, max_sizes[i], &whole);
        /* The messages are the same whatever the limit: check round trips
         * once, on the run with the largest limit (the most messages). */
        if (i + 1 == sizeof max_sizes / sizeof max_sizes[0]) {
            for (size_t m = 0; m < whole.n; m++) {
                round_trip(codec, "own format", &whole.msgs[m]);
                round_trip(other, "other format", &whole.msgs[m]);
            }
        }
        run_free(&whole);
    }
}
