/*
 * Unit tests: mpcat's framing splitter (tools/mpcat_split.c), driven as
 * mpcat_input.c drives it: one buffer of pending bytes, fed after every
 * read, its used bytes dropped, the next read appended; split_finish at
 * the end of the input. The table cases run with every read size from
 * 1 byte to the whole input, so each boundary falls inside a delimiter,
 * a length prefix and a message at least once.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "mpcat_split.h"

/* ----------------------------------------------------------------------
 * A recording sink, and the caller's buffer
 */

#define MAX_MSGS 16

struct sink_rec {
    size_t n;                      /* messages taken */
    unsigned char data[MAX_MSGS][64];
    size_t len[MAX_MSGS];
    size_t offers;                 /* calls, taken or not */
    size_t block_at;               /* answer BLOCKED to this offer (1-based) */
    size_t fail_at;                /* answer FAILED to this offer (1-based) */
};

static struct sink_rec rec;

static enum sent record(void *arg, const void *data, size_t len)
{
    struct sink_rec *r = arg;

    r->offers++;
    if (r->offers == r->block_at)
        return BLOCKED;
    if (r->offers == r->fail_at)
        return FAILED;
    cr_assert_lt(r->n, MAX_MSGS, "more messages than the test expects");
    cr_assert_leq(len, sizeof r->data[0], "a message longer than any given");
    if (len > 0)
        memcpy(r->data[r->n], data, len);
    r->len[r->n++] = len;
    return SENT;
}

/* The caller's side: the bytes not yet used, as mpcat keeps them. */
struct pending {
    unsigned char data[256];
    size_t len;
};

static struct pending pend;
static struct splitter sp;

static void reset(void)
{
    memset(&rec, 0, sizeof rec);
    memset(&pend, 0, sizeof pend);
}

TestSuite(mpcat_split, .init = reset);

static void append(const void *bytes, size_t n)
{
    cr_assert_leq(pend.len + n, sizeof pend.data);
    memcpy(pend.data + pend.len, bytes, n);
    pend.len += n;
}

static void drop(size_t used)
{
    cr_assert_leq(used, pend.len, "used %zu of %zu bytes", used, pend.len);
    memmove(pend.data, pend.data + used, pend.len - used);
    pend.len -= used;
}

static enum split_result feed(void)
{
    size_t used = (size_t)-1;
    enum split_result r = split_feed(&sp, pend.data, pend.len, &used, record,
                                     &rec);

    drop(used);
    return r;
}

static enum split_result finish(void)
{
    size_t used = (size_t)-1;
    enum split_result r = split_finish(&sp, pend.data, pend.len, &used,
                                       record, &rec);

    drop(used);
    return r;
}

static void assert_msg(size_t i, const void *want, size_t n)
{
    cr_assert_lt(i, rec.n, "message %zu missing (%zu taken)", i, rec.n);
    cr_assert_eq(rec.len[i], n, "message %zu: %zu bytes, want %zu", i,
                 rec.len[i], n);
    cr_assert(n == 0 || memcmp(rec.data[i], want, n) == 0,
              "message %zu: other bytes", i);
}

#define ASSERT_MSG(i, lit) assert_msg((i), (lit), sizeof(lit) - 1)

/* ----------------------------------------------------------------------
 * Each framing, the input in reads of every size
 */

struct bytes {
    const char *p;
    size_t n;
};
#define B(lit) { (lit), sizeof(lit) - 1 }

struct split_case {
    const char *what;
    enum framing framing;
    size_t max;
    struct bytes input;
    struct bytes want[5]; /* the messages, in order */
    size_t nwant;
    enum split_result end; /* what the whole input ends with */
};

static const struct split_case cases[] = {
    { "lines, the last one unterminated", FRAME_LINE, 100,
      B("one\ntwo\n\nlast"),
      { B("one"), B("two"), B(""), B("last") }, 4, SPLIT_OK },
    { "lines, all terminated: no empty message at the end", FRAME_LINE, 100,
      B("a\nb\n"), { B("a"), B("b") }, 2, SPLIT_OK },
    { "lines keep NUL and CR bytes", FRAME_LINE, 100,
      B("a\0b\r\n"), { B("a\0b\r") }, 1, SPLIT_OK },
    { "no input, no line", FRAME_LINE, 100, B(""), { { NULL, 0 } }, 0,
      SPLIT_OK },
    { "a line of exactly max bytes, then more", FRAME_LINE, 4,
      B("abcd\nefgh"), { B("abcd"), B("efgh") }, 2, SPLIT_OK },
    { "NUL-ended, the last one unterminated", FRAME_NUL, 100,
      B("one\0\0two\nx\0tail"),
      { B("one"), B(""), B("two\nx"), B("tail") }, 4, SPLIT_OK },
    { "NUL-ended, all terminated", FRAME_NUL, 100, B("a\0"), { B("a") }, 1,
      SPLIT_OK },
    { "frames, one empty", FRAME_LENGTH, 100,
      B("\0\0\0\3abc\0\0\0\0\0\0\0\2\n\0"),
      { B("abc"), B(""), B("\n\0") }, 3, SPLIT_OK },
    { "a frame of exactly max bytes", FRAME_LENGTH, 3, B("\0\0\0\3xyz"),
      { B("xyz") }, 1, SPLIT_OK },
    { "the input ends inside a frame's data", FRAME_LENGTH, 100,
      B("\0\0\0\1a\0\0\0\5ab"), { B("a") }, 1, SPLIT_CUT_SHORT },
    { "the input ends inside a length prefix", FRAME_LENGTH, 100,
      B("\0\0\0\1a\0\0"), { B("a") }, 1, SPLIT_CUT_SHORT },
    { "a whole FILE is one message, delimiters and all", FRAME_WHOLE, 100,
      B("a\nb\0c"), { B("a\nb\0c") }, 1, SPLIT_OK },
    { "an empty FILE is one empty message", FRAME_WHOLE, 100, B(""),
      { B("") }, 1, SPLIT_OK },
};

/* Feed `c`'s input in reads of `chunk` bytes, then finish. */
static enum split_result run_in_chunks(const struct split_case *c,
                                       size_t chunk)
{
    size_t off = 0;

    reset();
    split_init(&sp, c->framing, c->max);
    while (off < c->input.n) {
        size_t n = c->input.n - off < chunk ? c->input.n - off : chunk;
        append(c->input.p + off, n);
        off += n;
        enum split_result r = feed();
        cr_assert_eq(r, SPLIT_OK, "%s, reads of %zu: feed said %d after %zu "
                     "bytes", c->what, chunk, r, off);
    }
    return finish();
}

Test(mpcat_split, every_framing_in_reads_of_every_size)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct split_case *c = &cases[i];
        size_t last = c->input.n > 0 ? c->input.n : 1;

        for (size_t chunk = 1; chunk <= last; chunk++) {
            enum split_result r = run_in_chunks(c, chunk);
            cr_assert_eq(r, c->end, "%s, reads of %zu: ends with %d, want %d",
                         c->what, chunk, r, c->end);
            cr_assert_eq(rec.n, c->nwant, "%s, reads of %zu: %zu messages, "
                         "want %zu", c->what, chunk, rec.n, c->nwant);
            for (size_t k = 0; k < c->nwant; k++)
                assert_msg(k, c->want[k].p, c->want[k].n);
            if (c->end == SPLIT_OK)
                cr_assert_eq(pend.len, 0, "%s: %zu bytes left after the end",
                             c->what, pend.len);
        }
    }
}

/* ----------------------------------------------------------------------
 * What waits between reads
 */

/* FRAME_WHOLE gives nothing before the end, whatever it holds. */
Test(mpcat_split, whole_gives_nothing_before_the_end)
{
    split_init(&sp, FRAME_WHOLE, 100);
    append("a\nb\n", 4);
    cr_assert_eq(feed(), SPLIT_OK);
    cr_assert_eq(rec.n, 0);
    cr_assert_eq(pend.len, 4, "FRAME_WHOLE used bytes before the end");
}

/* A line arriving in pieces is one message; the bytes after the last
 * newline stay with the caller. */
Test(mpcat_split, a_partial_line_waits_for_its_newline)
{
    split_init(&sp, FRAME_LINE, 100);
    append("ab", 2);
    cr_assert_eq(feed(), SPLIT_OK);
    cr_assert_eq(rec.n, 0);
    cr_assert_eq(pend.len, 2);
    append("c\nde", 4);
    cr_assert_eq(feed(), SPLIT_OK);
    cr_assert_eq(rec.n, 1);
    ASSERT_MSG(0, "abc");
    cr_assert_eq(pend.len, 2, "\"de\" should wait");
    append("\n", 1);
    cr_assert_eq(feed(), SPLIT_OK);
    ASSERT_MSG(1, "de");
    cr_assert_eq(pend.len, 0);
}

/* split_init starts a new input: nothing of the last one's scan stays. */
Test(mpcat_split, init_forgets_the_previous_input)
{
    split_init(&sp, FRAME_LINE, 100);
    append("abcdef", 6);
    cr_assert_eq(feed(), SPLIT_OK);
    pend.len = 0;
    split_init(&sp, FRAME_LINE, 100);
    append("x\n", 2);
    cr_assert_eq(feed(), SPLIT_OK);
    cr_assert_eq(rec.n, 1);
    ASSERT_MSG(0, "x");
}

/* ----------------------------------------------------------------------
 * Limits
 */

struct limit_case {
    const char *what;
    enum framing framing;
    struct bytes input;
    enum split_result feed;   /* split_feed on the whole input */
    size_t taken;             /* messages given before it stopped */
    size_t left;              /* bytes the caller keeps */
};

/* All with max = 4. The limit is on what waits without a delimiter (a
 * line complete in one read is the sink's to judge: libmpclient refuses
 * it), and on a -l frame's length, before any of its data is read. */
static const struct limit_case limits[] = {
    { "4 bytes without a newline wait", FRAME_LINE, B("abcd"), SPLIT_OK, 0,
      4 },
    { "5 bytes without a newline are too big", FRAME_LINE, B("abcde"),
      SPLIT_TOO_BIG, 0, 5 },
    { "a long line is too big after the lines before it", FRAME_LINE,
      B("ab\ncdefgh"), SPLIT_TOO_BIG, 1, 6 },
    { "a long complete line is given", FRAME_LINE, B("abcdefgh\n"), SPLIT_OK,
      1, 0 },
    { "5 bytes without a NUL are too big", FRAME_NUL, B("abcde"),
      SPLIT_TOO_BIG, 0, 5 },
    { "a frame of 5 is too big from its length alone", FRAME_LENGTH,
      B("\0\0\0\5"), SPLIT_TOO_BIG, 0, 4 },
    { "... after the frames before it", FRAME_LENGTH,
      B("\0\0\0\1a\0\0\0\5abc"), SPLIT_TOO_BIG, 1, 7 },
    { "the largest length there is", FRAME_LENGTH, B("\xff\xff\xff\xff"),
      SPLIT_TOO_BIG, 0, 4 },
    { "a FILE of 4 bytes waits", FRAME_WHOLE, B("abcd"), SPLIT_OK, 0, 4 },
    { "a FILE of 5 bytes is too big", FRAME_WHOLE, B("abcde"), SPLIT_TOO_BIG,
      0, 5 },
};

Test(mpcat_split, limits)
{
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        const struct limit_case *c = &limits[i];

        reset();
        split_init(&sp, c->framing, 4);
        append(c->input.p, c->input.n);
        enum split_result r = feed();
        cr_assert_eq(r, c->feed, "%s: %d, want %d", c->what, r, c->feed);
        cr_assert_eq(rec.n, c->taken, "%s: %zu messages, want %zu", c->what,
                     rec.n, c->taken);
        cr_assert_eq(pend.len, c->left, "%s: %zu bytes left, want %zu",
                     c->what, pend.len, c->left);
    }
}

/* A FILE too big is refused at the end too (mpcat never gets there: the
 * feed after each read refuses it first). */
Test(mpcat_split, finish_refuses_a_file_too_big)
{
    split_init(&sp, FRAME_WHOLE, 4);
    append("abcde", 5);
    cr_assert_eq(finish(), SPLIT_TOO_BIG);
    cr_assert_eq(rec.n, 0);
}

/* ----------------------------------------------------------------------
 * A sink that blocks or fails
 */

struct stop_case {
    const char *what;
    enum framing framing;
    struct bytes input;
    struct bytes want[3]; /* every message, once, in order */
};

static const struct stop_case stops[] = {
    { "lines", FRAME_LINE, B("a\nbb\nc"), { B("a"), B("bb"), B("c") } },
    { "NUL-ended", FRAME_NUL, B("a\0bb\0c"), { B("a"), B("bb"), B("c") } },
    { "frames", FRAME_LENGTH, B("\0\0\0\1a\0\0\0\2bb\0\0\0\1c"),
      { B("a"), B("bb"), B("c") } },
};

/* Each case, stopped at each of its three messages in turn. */
struct stop_at {
    size_t c, at;
};

static struct criterion_test_params stop_params(void)
{
    static struct stop_at all[] = { { 0, 1 }, { 0, 2 }, { 0, 3 },
                                    { 1, 1 }, { 1, 2 }, { 1, 3 },
                                    { 2, 1 }, { 2, 2 }, { 2, 3 } };

    return cr_make_param_array(struct stop_at, all, sizeof all / sizeof all[0]);
}

/* BLOCKED at a message: the splitting stops there, that message and those
 * after it stay with the caller, and feeding again (then finishing, as
 * mpcat does from on_drained) gives each exactly once, in order. */
ParameterizedTestParameters(mpcat_split, blocked_resumes_where_it_stopped)
{
    return stop_params();
}

ParameterizedTest(struct stop_at *p, mpcat_split,
                  blocked_resumes_where_it_stopped)
{
    const struct stop_case *c = &stops[p->c];

    rec.block_at = p->at;
    split_init(&sp, c->framing, 100);
    append(c->input.p, c->input.n);
    enum split_result r = p->at < 3 ? feed() : finish();
    cr_assert_eq(r, SPLIT_BLOCKED, "%s, blocked at %zu: %d", c->what, p->at,
                 r);
    cr_assert_eq(rec.n, p->at - 1, "%s, blocked at %zu: %zu taken", c->what,
                 p->at, rec.n);
    cr_assert_eq(finish(), SPLIT_OK, "%s, blocked at %zu: resuming", c->what,
                 p->at);
    cr_assert_eq(rec.n, 3, "%s, blocked at %zu: %zu messages", c->what,
                 p->at, rec.n);
    for (size_t k = 0; k < 3; k++)
        assert_msg(k, c->want[k].p, c->want[k].n);
}

/* A whole FILE blocked at the end is offered again, whole. */
Test(mpcat_split, blocked_whole_file_is_offered_again)
{
    rec.block_at = 1;
    split_init(&sp, FRAME_WHOLE, 100);
    append("a\nb", 3);
    cr_assert_eq(finish(), SPLIT_BLOCKED);
    cr_assert_eq(pend.len, 3);
    cr_assert_eq(finish(), SPLIT_OK);
    cr_assert_eq(rec.n, 1);
    ASSERT_MSG(0, "a\nb");
}

/* FAILED stops the splitting at once: nothing after it is offered. */
ParameterizedTestParameters(mpcat_split, failed_stops_at_once)
{
    return stop_params();
}

ParameterizedTest(struct stop_at *p, mpcat_split, failed_stops_at_once)
{
    const struct stop_case *c = &stops[p->c];

    rec.fail_at = p->at;
    split_init(&sp, c->framing, 100);
    append(c->input.p, c->input.n);
    enum split_result r = finish();
    cr_assert_eq(r, SPLIT_FAILED, "%s, failed at %zu: %d", c->what, p->at, r);
    cr_assert_eq(rec.offers, p->at, "%s, failed at %zu: %zu offers", c->what,
                 p->at, rec.offers);
    cr_assert_eq(rec.n, p->at - 1);
}

/* Blocked after a line that came in pieces: what was scanned of it must
 * not hide the lines that follow it (the scan starts again). */
Test(mpcat_split, blocked_after_a_line_read_in_pieces)
{
    split_init(&sp, FRAME_LINE, 100);
    append("aaaa", 4);
    cr_assert_eq(feed(), SPLIT_OK);
    append("\nb\nc\n", 5);
    rec.block_at = 2;
    cr_assert_eq(feed(), SPLIT_BLOCKED);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(feed(), SPLIT_OK);
    cr_assert_eq(rec.n, 3, "%zu messages after resuming, want 3", rec.n);
    ASSERT_MSG(0, "aaaa");
    ASSERT_MSG(1, "b");
    ASSERT_MSG(2, "c");
    cr_assert_eq(pend.len, 0);
}
