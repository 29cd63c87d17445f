/*
 * test_client_conn.c - libmpclient against the real broker: the handler
 * map, opening connections, and messages (order, size limits, odd bytes,
 * send_take, across the two formats).
 *
 * Each FORMAT_TEST runs in both wire formats. The fixture, the helpers
 * and how waiting works: test_client_fixture.h. SIGPIPE is left at its
 * default action: the library must never raise it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_client_fixture.h"

/* ======================================================================
 * The handler map
 */

FORMAT_TEST(handler_accepts)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0), *a2 = NEW_END(0);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = client_new(h, fmt, "bob");
    handle(bob, "echo", s); /* before connecting */
    login(bob);

    struct end *b = open_pair(alice, "bob", "echo", a, s);
    cr_assert_str_eq(a->peer, "bob");
    cr_assert_str_eq(a->proto, "echo");
    cr_assert(strncmp(a->id, "alice:", 6) == 0 && a->id[6] != '\0',
              "id \"%s\" is not alice:<suffix>", a->id);
    cr_assert_eq(a->client, alice, "mp_conn_client of the opener");
    cr_assert_str_eq(b->peer, "alice");
    cr_assert_str_eq(b->proto, "echo");
    cr_assert_eq(b->client, bob, "mp_conn_client of the acceptor");

    send_str(a, "hello");
    WAIT(a->nmsg == 1, "no echo");
    assert_msg_str(a, 0, "hello");
    assert_msg_str(b, 0, "hello");

    /* another connection: a new id, its own stream */
    struct end *b2 = open_pair(alice, "bob", "echo", a2, s);
    cr_assert_str_neq(a2->id, a->id, "two connections with one id");
    send_str(a2, "two");
    send_str(a, "one");
    WAIT(a->nmsg == 2 && a2->nmsg == 1, "no echoes");
    assert_msg_str(a, 1, "one");
    assert_msg_str(a2, 0, "two");
    assert_msg_str(b2, 0, "two");
    cr_assert_eq(a->wrong + a2->wrong + b->wrong + b2->wrong, 0,
                 "callbacks got a wrong conn pointer");
    cr_assert_eq(s->ends[0].echo_errors + s->ends[1].echo_errors, 0);
    fx_stop();
}

FORMAT_TEST(handler_unknown_protocol)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    join(h, fmt, "carol");      /* no handlers at all */
    handle(bob, "echo", s);     /* after login */

    int st = open_fails(alice, "bob", "nope");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    st = open_fails(alice, "bob", "ECHO");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "protocols are case-sensitive: %s",
                 mp_strerror(st));
    st = open_fails(alice, "carol", "echo");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    cr_assert_eq(s->n, 0, "the handler saw a refused protocol");

    /* the refusals left nothing behind */
    open_pair(alice, "bob", "echo", a, s);
    echo_once(a, "x");
    fx_stop();
}

FORMAT_TEST(handler_unhandle_exists)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s1 = NEW_SERVER(.echo = true), *s2 = NEW_SERVER(.echo = true);
    struct server *p1 = NEW_SERVER(0), *p2 = NEW_SERVER(0);
    struct end *a = NEW_END(0), *a2 = NEW_END(0), *a3 = NEW_END(0), *e1 = NEW_END(0), *e2 = NEW_END(0);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", s1);
    cr_assert_eq(mp_client_handle(bob, "echo", srv_conn, s2), MP_ERR_EXISTS,
                 "a second handler for one protocol");
    open_pair(alice, "bob", "echo", a, s1);
    cr_assert_eq(s2->n, 0, "the refused handler got the connection");

    cr_assert_eq(mp_client_unhandle(bob, "echo"), MP_OK);
    cr_assert_eq(mp_client_unhandle(bob, "echo"), MP_ERR_INVALID, "unhandled twice");
    cr_assert_eq(mp_client_unhandle(bob, "never"), MP_ERR_INVALID);
    int st = open_fails(alice, "bob", "echo");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "after unhandle: %s", mp_strerror(st));

    /* open connections stay */
    send_str(a, "still here");
    WAIT(a->nmsg == 1, "no echo after unhandle");
    assert_msg_str(a, 0, "still here");

    /* and the protocol can be handled again, by someone else */
    handle(bob, "echo", s2);
    open_pair(alice, "bob", "echo", a2, s2);
    cr_assert_eq(s1->n, 1);

    /* several protocols, each to its handler */
    handle(bob, "p1", p1);
    handle(bob, "p2", p2);
    open_pair(alice, "bob", "p2", e2, p2);
    open_pair(alice, "bob", "p1", e1, p1);
    cr_assert(p1->n == 1 && p2->n == 1, "p1 got %zu, p2 got %zu", p1->n, p2->n);
    cr_assert_str_eq(p1->ends[0].proto, "p1");
    cr_assert_str_eq(p2->ends[0].proto, "p2");
    cr_assert_eq(mp_client_unhandle(bob, "p1"), MP_OK);
    st = open_fails(alice, "bob", "p1");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    open_pair(alice, "bob", "p2", a3, p2);
    fx_stop();
}

/* ======================================================================
 * Opening
 */

FORMAT_TEST(open_no_such_client)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct end *bad = NEW_END(0);
    char longname[300];

    struct mp_client *alice = join(h, fmt, "alice");
    memset(longname, 'x', 256);
    longname[256] = '\0';
    const char *names[] = { "", longname, "a:b", NULL };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = mp_client_open(alice, names[i], "echo", end_open, bad);
        cr_assert_eq(rc, names[i] ? MP_ERR_NAME : MP_ERR_INVALID,
                     "peer name \"%.20s\": %s",
                     names[i] ? names[i] : "NULL", mp_strerror(rc));
    }
    int rc = mp_client_open(alice, "bob", NULL, end_open, bad);
    cr_assert_eq(rc, MP_ERR_INVALID, "NULL protocol: %s", mp_strerror(rc));

    int st = open_fails(alice, "nobody", "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "%s", mp_strerror(st));
    /* a name of the maximal length is valid, and absent */
    longname[255] = '\0';
    st = open_fails(alice, longname, "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "%s", mp_strerror(st));
    cr_assert_eq(bad->opens, 0, "a refused mp_client_open called back");
    fx_stop();
}

/* ======================================================================
 * Messages
 */

#define N_ORDERED 10000

static size_t seq_msg(char *buf, char side, unsigned i)
{
    int n = snprintf(buf, 32, "%c%05u:", side, i);
    size_t pad = i % 41;

    memset(buf + n, 'a' + (int)(i % 26), pad);
    return (size_t)n + pad;
}

static void check_seq(const struct end *e, char side)
{
    char buf[128];

    cr_assert_eq(e->nmsg, N_ORDERED, "%zu messages, want %d", e->nmsg, N_ORDERED);
    for (unsigned i = 0; i < N_ORDERED; i++) {
        size_t n = seq_msg(buf, side, i);
        cr_assert(msg_eq(e, i, buf, n), "message %u out of order: \"%.*s\"", i,
                  (int)(e->msgs[i].len > 60 ? 60 : e->msgs[i].len),
                  (const char *)e->msgs[i].p);
    }
}

FORMAT_TEST(ordered_10000_each_way)
{
    /* A burst past the connection window, without waiting for credit:
     * level 1's queue (test_client_level2.c waits for credit). */
    fx_level = 1;
    struct duo d = DUO(fmt, "seq", 0);
    char buf[128];

    for (unsigned i = 0; i < N_ORDERED; i++) {
        send_ok(d.a, buf, seq_msg(buf, 'a', i));
        send_ok(d.b, buf, seq_msg(buf, 'b', i));
    }
    WAIT_ON(base, mpt_ms(30000), d.a->nmsg >= N_ORDERED && d.b->nmsg >= N_ORDERED,
            "alice got %zu, bob got %zu of %d", d.a->nmsg, d.b->nmsg, N_ORDERED);
    check_seq(d.b, 'a');
    check_seq(d.a, 'b');
    fx_stop();
}

#define MIB (1024 * 1024)

FORMAT_TEST_OPTS(big_message, .timeout = 120)
{
    /* A burst past the connection window, without waiting for credit:
     * level 1's queue (test_client_level2.c waits for credit). */
    fx_level = 1;
    struct harness *h = fx_broker(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "limits = { max_message_size = 4194304; };\n");
    struct server *s = NEW_SERVER(0);
    struct end *a = NEW_END(0), *c = NEW_END(0);
    unsigned char *big = pattern(MIB, 3);

    struct mp_client *alice = join_max(h, fmt, "alice", 4194304);
    struct mp_client *bob = join_max(h, fmt, "bob", 4194304);
    handle(bob, "bulk", s);
    struct end *b = open_pair(alice, "bob", "bulk", a, s);
    send_ok(a, big, MIB);
    send_str(a, "after");
    WAIT_ON(base, mpt_ms(20000), b->nmsg >= 2, "the 1 MiB message did not arrive");
    cr_assert(msg_eq(b, 0, big, MIB), "the 1 MiB message was altered (%zu bytes)",
              b->msgs[0].len);
    assert_msg_str(b, 1, "after");
    send_ok(b, big, MIB);
    WAIT_ON(base, mpt_ms(20000), a->nmsg >= 1, "the 1 MiB reply did not arrive");
    cr_assert(msg_eq(a, 0, big, MIB), "the 1 MiB reply was altered");

    /* Default max_message_size (1 MiB): 1 MiB of data is too big to encode,
     * and nothing is sent. */
    struct mp_client *carol = join(h, fmt, "carol");
    struct end *bc = open_pair(carol, "bob", "bulk", c, s);
    int rc = mp_conn_send(c->conn, big, MIB);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "1 MiB with the default limit: %s",
                 mp_strerror(rc));
    int frees = 0;
    unsigned char *copy = pattern(MIB, 3);
    rc = mp_conn_send_take(c->conn, copy, MIB, count_free, &frees);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "send_take: %s", mp_strerror(rc));
    WAIT(frees > 0, "free_fn not called for a refused message");
    send_str(c, "small");
    WAIT(bc->nmsg >= 1, "no message after the refused ones");
    assert_msg_str(bc, 0, "small");
    cr_assert_eq(frees, 1, "free_fn ran %d times", frees);
    drain();
    cr_assert_eq(bc->nmsg, 1, "a refused message was sent");
    client_free(alice);
    client_free(bob);
    client_free(carol);
    free(big);
    fx_stop();
}

/* The limit is on the encoding: binary exactly (8 header bytes + names +
 * data), json within one byte (the newline). */
FORMAT_TEST(too_big_boundary)
{
    enum { M = 1000 };
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(0);
    struct end *a = NEW_END(0);
    size_t ok_len, bad_len;

    struct mp_client *alice = join_max(h, fmt, "alice", M);
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "b", s);
    struct end *b = open_pair(alice, "bob", "b", a, s);
    if (strcmp(fmt, "binary") == 0) {
        ok_len = M - 8 - strlen("bob") - strlen(a->id);
        bad_len = ok_len + 1;
    } else {
        char prefix[512];
        int pl = snprintf(prefix, sizeof prefix,
                          "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"%s\",\"Data\":\"",
                          a->id);
        size_t n = 0;
#define ENC(n) ((size_t)pl + 4 * (((n) + 2) / 3) + 2)
        while (ENC(n + 1) <= M - 1)
            n++;
        ok_len = n;
        while (ENC(n) <= M)
            n++;
        bad_len = n;
#undef ENC
    }
    unsigned char *p = pattern(bad_len, 5);
    int rc = mp_conn_send(a->conn, p, bad_len);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "%zu bytes over a %d limit: %s", bad_len, M,
                 mp_strerror(rc));
    rc = mp_conn_send(a->conn, p, ok_len);
    cr_assert_eq(rc, MP_OK, "%zu bytes within a %d limit: %s", ok_len, M,
                 mp_strerror(rc));
    barrier(a, b);
    cr_assert_eq(b->nmsg, 2, "%zu messages arrived, want 2", b->nmsg);
    cr_assert(msg_eq(b, 0, p, ok_len), "the largest message was altered");
    free(p);
    fx_stop();
}

FORMAT_TEST(empty_and_odd_bytes)
{
    struct duo d = DUO(fmt, "e", 0);
    unsigned char all[256];

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    send_ok(d.a, "", 0);
    send_ok(d.a, "x", 1);
    send_ok(d.a, "", 0);
    send_ok(d.a, "", 0);
    send_ok(d.a, all, sizeof all);
    send_ok(d.a, "\0", 1);
    send_ok(d.a, "<\"&>\\\n\r\t\xe2\x80\xa8", 11);
    send_ok(d.b, "", 0);
    WAIT(d.b->nmsg == 7 && d.a->nmsg == 1, "bob got %zu of 7, alice %zu of 1", d.b->nmsg,
         d.a->nmsg);
    cr_assert_eq(d.b->msgs[0].len, 0, "an empty message arrived with %zu bytes",
                 d.b->msgs[0].len);
    assert_msg_str(d.b, 1, "x");
    cr_assert(d.b->msgs[2].len == 0 && d.b->msgs[3].len == 0, "empty messages");
    cr_assert(msg_eq(d.b, 4, all, sizeof all), "the 256 byte values were altered");
    cr_assert(msg_eq(d.b, 5, "\0", 1), "a NUL byte was altered");
    cr_assert(msg_eq(d.b, 6, "<\"&>\\\n\r\t\xe2\x80\xa8", 11), "escapable bytes altered");
    cr_assert_eq(d.a->msgs[0].len, 0, "an empty reply arrived with %zu bytes",
                 d.a->msgs[0].len);
    fx_stop();
}

/* mp_conn_send_take: the library's free_fn, once per buffer, with the
 * pointer and length given (struct slot records them). */
FORMAT_TEST(send_take)
{
    struct duo d = DUO(fmt, "t", 0);
    enum { N = 32 };
    struct slot slots[N] = { { 0 } };
    static const char text[] = "static, never freed";

    for (size_t i = 0; i < N; i++) {
        slots[i].len = 1000 + i * 333;
        slots[i].ptr = pattern(slots[i].len, (unsigned)i);
        int rc = mp_conn_send_take(d.a->conn, slots[i].ptr, slots[i].len, slot_free,
                                   &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }
    int rc = mp_conn_send_take(d.a->conn, (void *)text, sizeof text - 1, NULL, NULL);
    cr_assert_eq(rc, MP_OK, "send_take with a NULL free_fn: %s", mp_strerror(rc));
    int frees = 0;
    rc = mp_conn_send_take(d.a->conn, malloc(1), 0, count_free, &frees);
    cr_assert_eq(rc, MP_OK, "send_take of an empty message: %s", mp_strerror(rc));
    WAIT(d.b->nmsg >= N + 2, "%zu of %d messages arrived", d.b->nmsg, N + 2);
    for (size_t i = 0; i < N; i++) {
        unsigned char *want = pattern(slots[i].len, (unsigned)i);
        bool same = msg_eq(d.b, i, want, slots[i].len);
        free(want);
        cr_assert(same, "taken message %zu was altered", i);
    }
    assert_msg_str(d.b, N, text);
    cr_assert_eq(d.b->msgs[N + 1].len, 0);
    WAIT(slots_done(slots, N) && frees > 0, "free_fn not called for every buffer");
    barrier(d.a, d.b);
    assert_slots_once(slots, N);
    cr_assert_eq(frees, 1);
    fx_stop();
}

/* Buffers still queued when the client is freed: every free_fn has run,
 * once, when mp_client_free returns. */
FORMAT_TEST(send_take_then_free)
{
    /* A burst past the connection window, without waiting for credit:
     * level 1's queue (test_client_level2.c waits for credit). */
    fx_level = 1;
    struct duo d = DUO(fmt, "t", 0);
    enum { N = 64, SIZE = 64 * 1024 };
    static struct slot slots[N]; /* static: a late free_fn must not hit a dead frame */

    for (size_t i = 0; i < N; i++) {
        slots[i].len = SIZE;
        slots[i].ptr = pattern(SIZE, (unsigned)i);
        int rc = mp_conn_send_take(d.a->conn, slots[i].ptr, SIZE, slot_free, &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }
    client_free(d.alice);
    assert_slots_once(slots, N);
    cr_assert_eq(d.a->closes, 1, "on_close on mp_client_free");
    cr_assert_eq(d.a->close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(d.a->close_reason));
    WAIT(d.b->closes == 1, "bob was not told alice left");
    cr_assert_eq(d.b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(d.b->close_reason));
    /* whatever arrived arrived whole and in order */
    for (size_t i = 0; i < d.b->nmsg; i++) {
        unsigned char *want = pattern(SIZE, (unsigned)i);
        bool same = msg_eq(d.b, i, want, SIZE);
        free(want);
        cr_assert(same, "message %zu was altered", i);
    }
    fx_stop();
}

/* A json client and a binary client talk to each other, each way round:
 * alice speaks `from`, bob `to`. */
struct cross {
    char from[8], to[8];
};

ParameterizedTestParameters(client, cross_format)
{
    static struct cross pairs[] = { { "json", "binary" }, { "binary", "json" } };

    return cr_make_param_array(struct cross, pairs, 2);
}

ParameterizedTest(struct cross *p, client, cross_format)
{
    const char *fa = p->from, *fb = p->to;
    struct harness *h = fx_broker(STD_BROKER);
    struct server *sa = NEW_SERVER(0), *sb = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0), *bb = NEW_END(0);
    unsigned char all[256];
    unsigned char *big = pattern(100 * 1024, 9);

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct mp_client *alice = client_new(h, fa, "alice");
    struct mp_client *bob = client_new(h, fb, "bob");
    handle(alice, "back", sa);
    handle(bob, "echo", sb);
    login(alice);
    login(bob);

    struct end *b = open_pair(alice, "bob", "echo", a, sb);
    cr_assert_str_eq(b->peer, "alice");
    send_ok(a, all, sizeof all);
    send_ok(a, "", 0);
    send_str(a, "<\"&>\\\n\xc3\xa9");
    send_ok(a, big, 100 * 1024);
    WAIT(a->nmsg == 4, "%zu of 4 echoes", a->nmsg);
    cr_assert(msg_eq(b, 0, all, sizeof all) && msg_eq(a, 0, all, sizeof all),
              "the 256 byte values were altered");
    cr_assert(b->msgs[1].len == 0 && a->msgs[1].len == 0, "empty message altered");
    assert_msg_str(a, 2, "<\"&>\\\n\xc3\xa9");
    cr_assert(msg_eq(a, 3, big, 100 * 1024), "100 KiB message altered");

    /* the other way round */
    struct end *ab = open_pair(bob, "alice", "back", bb, sa);
    cr_assert_str_eq(ab->peer, "bob");
    cr_assert(strncmp(ab->id, "bob:", 4) == 0, "id %s", ab->id);
    send_str(bb, "from bob");
    send_str(ab, "from alice");
    WAIT(ab->nmsg == 1 && bb->nmsg == 1, "no messages on bob's connection");
    assert_msg_str(ab, 0, "from bob");
    assert_msg_str(bb, 0, "from alice");

    /* closing crosses formats too */
    mp_conn_close(bb->conn);
    bb->conn = NULL;
    WAIT(ab->closes == 1, "alice was not told bob closed");
    cr_assert_eq(ab->close_reason, MP_CLOSE_BY_PEER);
    client_free(alice);
    WAIT(b->closes == 1, "bob was not told alice left");
    cr_assert_eq(b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(b->close_reason));
    client_free(bob);
    free(big);
    fx_stop();
}
