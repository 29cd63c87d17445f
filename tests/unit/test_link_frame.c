/* Unit tests: the cluster's link frames (broker/link_frame.c): a round
 * trip of every type, MORE at every truncation point, SKIP for an
 * unknown type, and each way a frame can be malformed. */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "link_frame.h"

enum { MAX = 4096 };

static struct link_str S(const char *s)
{
    return (struct link_str){s, strlen(s)};
}

static bool str_eq(struct link_str a, struct link_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

/* One frame of each type, with every field set. */
static struct link_frame sample(enum link_frame_type type)
{
    static const unsigned char data[] = "\0\1\2 some data \xff";
    struct link_frame f;

    memset(&f, 0, sizeof f);
    f.type = type;
    switch (type) {
    case LINK_HELLO_CHALLENGE:
        f.u.challenge.version = 1;
        f.u.challenge.acceptor_id = S("b-acceptor");
        fill(f.u.challenge.nonce, LINK_NONCE_LEN, 1);
        break;
    case LINK_HELLO:
        f.u.hello.dialer_id = S("a-dialer");
        f.u.hello.acceptor_id = S("b-acceptor");
        f.u.hello.host = S("::1");
        f.u.hello.port = 7340;
        fill(f.u.hello.nonce, LINK_NONCE_LEN, 2);
        fill(f.u.hello.mac, LINK_MAC_LEN, 3);
        break;
    case LINK_HELLO_OK:
        fill(f.u.hello_ok.mac, LINK_MAC_LEN, 4);
        break;
    case LINK_REFUSED:
        f.u.refused.reason = S("bad MAC");
        break;
    case LINK_FORWARD:
        f.u.forward.meta = 3;
        f.u.forward.flags = LINK_FORWARD_HAS_DATA;
        f.u.forward.from_session = 0x0102030405060708ull;
        f.u.forward.to_session = 0xfffffffffffffffeull;
        f.u.forward.from = S("alice");
        f.u.forward.to = S("bob");
        f.u.forward.connection_id = S("alice:1");
        f.u.forward.data = data;
        f.u.forward.data_len = sizeof data;
        break;
    case LINK_CREDIT:
        f.u.credit.bytes = 0x80000001u;
        f.u.credit.connection_id = S("alice:1");
        break;
    case LINK_KICK:
        f.u.kick.session = 42;
        f.u.kick.name = S("carol");
        break;
    case LINK_PING:
        break;
    }
    return f;
}

static const enum link_frame_type all_types[] = {
    LINK_HELLO_CHALLENGE, LINK_HELLO, LINK_HELLO_OK, LINK_REFUSED,
    LINK_FORWARD, LINK_CREDIT, LINK_KICK, LINK_PING,
};

/* The whole frame into out (header, then a FORWARD's data). */
static size_t encode(const struct link_frame *f, unsigned char *out,
                     size_t outlen)
{
    size_t n = link_frame_encode_header(f, out, outlen);

    cr_assert_gt(n, 0);
    if (f->type == LINK_FORWARD && (f->u.forward.flags & LINK_FORWARD_HAS_DATA)) {
        memcpy(out + n, f->u.forward.data, f->u.forward.data_len);
        n += f->u.forward.data_len;
    }
    cr_assert_eq(n, link_frame_size(f));
    return n;
}

static void expect_same(const struct link_frame *a, const struct link_frame *b)
{
    cr_assert_eq(a->type, b->type);
    switch (a->type) {
    case LINK_HELLO_CHALLENGE:
        cr_expect_eq(a->u.challenge.version, b->u.challenge.version);
        cr_expect(str_eq(a->u.challenge.acceptor_id, b->u.challenge.acceptor_id));
        cr_expect_arr_eq(a->u.challenge.nonce, b->u.challenge.nonce, LINK_NONCE_LEN);
        break;
    case LINK_HELLO:
        cr_expect(str_eq(a->u.hello.dialer_id, b->u.hello.dialer_id));
        cr_expect(str_eq(a->u.hello.acceptor_id, b->u.hello.acceptor_id));
        cr_expect(str_eq(a->u.hello.host, b->u.hello.host));
        cr_expect_eq(a->u.hello.port, b->u.hello.port);
        cr_expect_arr_eq(a->u.hello.nonce, b->u.hello.nonce, LINK_NONCE_LEN);
        cr_expect_arr_eq(a->u.hello.mac, b->u.hello.mac, LINK_MAC_LEN);
        break;
    case LINK_HELLO_OK:
        cr_expect_arr_eq(a->u.hello_ok.mac, b->u.hello_ok.mac, LINK_MAC_LEN);
        break;
    case LINK_REFUSED:
        cr_expect(str_eq(a->u.refused.reason, b->u.refused.reason));
        break;
    case LINK_FORWARD:
        cr_expect_eq(a->u.forward.meta, b->u.forward.meta);
        cr_expect_eq(a->u.forward.flags, b->u.forward.flags);
        cr_expect_eq(a->u.forward.from_session, b->u.forward.from_session);
        cr_expect_eq(a->u.forward.to_session, b->u.forward.to_session);
        cr_expect(str_eq(a->u.forward.from, b->u.forward.from));
        cr_expect(str_eq(a->u.forward.to, b->u.forward.to));
        cr_expect(str_eq(a->u.forward.connection_id, b->u.forward.connection_id));
        cr_expect_eq(a->u.forward.data_len, b->u.forward.data_len);
        if (a->u.forward.data_len > 0)
            cr_expect_arr_eq(a->u.forward.data, b->u.forward.data,
                             a->u.forward.data_len);
        break;
    case LINK_CREDIT:
        cr_expect_eq(a->u.credit.bytes, b->u.credit.bytes);
        cr_expect(str_eq(a->u.credit.connection_id, b->u.credit.connection_id));
        break;
    case LINK_KICK:
        cr_expect_eq(a->u.kick.session, b->u.kick.session);
        cr_expect(str_eq(a->u.kick.name, b->u.kick.name));
        break;
    case LINK_PING:
        break;
    }
}

static enum link_decode_result decode(const unsigned char *b, size_t len,
                                      struct link_frame *f, size_t *used,
                                      char *err)
{
    return link_frame_decode(b, len, MAX, f, used, err, 128);
}

Test(link_frame, every_type_round_trips)
{
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        struct link_frame f = sample(all_types[i]), g;
        unsigned char buf[1024];
        size_t n = encode(&f, buf, sizeof buf), used = 0;
        char err[128] = "";

        cr_assert_eq(decode(buf, n, &g, &used, err), LINK_DECODE_OK,
                     "type %d: %s", all_types[i], err);
        cr_expect_eq(used, n);
        expect_same(&f, &g);
    }
}

Test(link_frame, forward_without_data_and_longest_strings)
{
    char name[256];
    struct link_frame f = sample(LINK_FORWARD), g;
    unsigned char buf[LINK_FRAME_HEADER_MAX + 16];
    size_t n, used;
    char err[128];

    memset(name, 'x', 255);
    name[255] = '\0';
    f.u.forward.flags = LINK_FORWARD_STALE;
    f.u.forward.data = NULL;
    f.u.forward.data_len = 0;
    f.u.forward.from = f.u.forward.to = f.u.forward.connection_id = S(name);
    n = encode(&f, buf, sizeof buf);
    cr_expect_eq(n, LINK_FRAME_PREFIX + 1 + 2 + 16 + 3 * (1 + 255));
    cr_expect_leq(n, LINK_FRAME_HEADER_MAX);
    cr_assert_eq(decode(buf, n, &g, &used, err), LINK_DECODE_OK, "%s", err);
    cr_expect_eq(g.u.forward.data, NULL);
    cr_expect_eq(g.u.forward.data_len, 0);
    expect_same(&f, &g);
}

Test(link_frame, encode_refuses_too_long_strings_and_small_buffers)
{
    char name[300];
    struct link_frame f = sample(LINK_KICK);
    unsigned char buf[1024];

    memset(name, 'y', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    f.u.kick.name = S(name);
    cr_expect_eq(link_frame_encode_header(&f, buf, sizeof buf), 0);
    f = sample(LINK_HELLO);
    cr_expect_eq(link_frame_encode_header(&f, buf, 20), 0);
}

Test(link_frame, more_at_every_truncation_point)
{
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        struct link_frame f = sample(all_types[i]), g;
        unsigned char buf[1024];
        size_t n = encode(&f, buf, sizeof buf), used;
        char err[128];

        for (size_t cut = 0; cut < n; cut++)
            cr_expect_eq(decode(buf, cut, &g, &used, err), LINK_DECODE_MORE,
                         "type %d cut at %zu", all_types[i], cut);
    }
}

Test(link_frame, two_frames_back_to_back)
{
    struct link_frame a = sample(LINK_PING), b = sample(LINK_CREDIT), g;
    unsigned char buf[1024];
    size_t n = encode(&a, buf, sizeof buf), used;
    char err[128];

    n += encode(&b, buf + n, sizeof buf - n);
    cr_assert_eq(decode(buf, n, &g, &used, err), LINK_DECODE_OK);
    cr_expect_eq(g.type, LINK_PING);
    cr_assert_eq(decode(buf + used, n - used, &g, &used, err), LINK_DECODE_OK);
    expect_same(&b, &g);
}

Test(link_frame, unknown_types_are_skipped_whole)
{
    const unsigned char unknown[] = {0, 0, 0, 4, 99, 'a', 'b', 'c', 0, 0, 0, 1, 0};
    const unsigned char zero[] = {0, 0, 0, 1, 0};
    struct link_frame g;
    size_t used = 0;
    char err[128];

    cr_expect_eq(decode(unknown, sizeof unknown, &g, &used, err), LINK_DECODE_SKIP);
    cr_expect_eq(used, 8);
    cr_expect_eq(decode(zero, sizeof zero, &g, &used, err), LINK_DECODE_SKIP);
    cr_expect_eq(used, 5);
    /* Unknown, but still not past max. */
    cr_expect_eq(decode(unknown, 7, &g, &used, err), LINK_DECODE_MORE);
}

/* A frame's bytes rewritten, and the reason its decoding must give. */
static void expect_malformed(const unsigned char *b, size_t len, size_t max,
                             const char *reason)
{
    struct link_frame g;
    size_t used;
    char err[128] = "";

    cr_expect_eq(link_frame_decode(b, len, max, &g, &used, err, sizeof err),
                 LINK_DECODE_MALFORMED, "expected malformed: %s", reason);
    cr_expect(strstr(err, reason) != NULL, "reason \"%s\", not \"%s\"", err,
              reason);
}

Test(link_frame, length_over_max_as_soon_as_the_prefix_is_in)
{
    const unsigned char big[] = {0, 0, 0x10, 0x01};
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff};

    expect_malformed(big, sizeof big, MAX, "limit 4096");
    expect_malformed(huge, sizeof huge, MAX, "limit");
    /* Exactly max is allowed: more to come. */
    {
        const unsigned char at_max[] = {0, 0, 0x10, 0x00, LINK_FORWARD};
        struct link_frame g;
        size_t used;
        char err[64];
        cr_expect_eq(link_frame_decode(at_max, sizeof at_max, MAX, &g, &used,
                                       err, sizeof err), LINK_DECODE_MORE);
    }
}

Test(link_frame, empty_frame)
{
    const unsigned char empty[] = {0, 0, 0, 0};

    expect_malformed(empty, sizeof empty, MAX, "empty frame");
}

/* Every type but FORWARD: one byte cut off the end of its fields (with
 * LENGTH fixed to match) is a field that does not fit; one byte added
 * is a byte after its fields. */
Test(link_frame, fields_that_do_not_fit_or_bytes_left_over)
{
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        struct link_frame f = sample(all_types[i]);
        unsigned char buf[1024];
        size_t n = encode(&f, buf, sizeof buf);

        if (all_types[i] == LINK_FORWARD)
            continue; /* its data is the rest: below */
        if (n > LINK_FRAME_PREFIX + 1) {
            buf[3] = (unsigned char)(n - LINK_FRAME_PREFIX - 1);
            expect_malformed(buf, n - 1, MAX, "does not fit");
            buf[3] = (unsigned char)(n - LINK_FRAME_PREFIX);
        }
        buf[n] = 0;
        buf[3] = (unsigned char)(n + 1 - LINK_FRAME_PREFIX);
        expect_malformed(buf, n + 1, MAX, "after its fields");
    }
}

Test(link_frame, string_longer_than_its_frame)
{
    /* KICK: session, then a name whose length byte says 200. */
    const unsigned char kick[] = {0, 0, 0, 12, LINK_KICK, 0, 0, 0, 0, 0, 0, 0,
                                  1, 200, 'a', 'b'};

    expect_malformed(kick, sizeof kick, MAX, "name does not fit");
}

Test(link_frame, forward_bytes_without_has_data)
{
    struct link_frame f = sample(LINK_FORWARD);
    unsigned char buf[1024];
    size_t n = encode(&f, buf, sizeof buf);

    buf[LINK_FRAME_PREFIX + 2] = 0; /* flags: no data, but data follows */
    expect_malformed(buf, n, MAX, "after its fields");
}

Test(link_frame, forward_truncated_in_its_header)
{
    struct link_frame f = sample(LINK_FORWARD);
    unsigned char buf[1024];

    f.u.forward.flags = 0;
    encode(&f, buf, sizeof buf);
    /* Claim 10 bytes: type, meta, flags and 7 of from_session. */
    buf[3] = 10;
    expect_malformed(buf, 14, MAX, "from session does not fit");
}
