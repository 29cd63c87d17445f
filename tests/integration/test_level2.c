/*
 * test_level2.c - protocol level 2 against a real broker, with raw
 * clients (doc/protocol.md, "Protocol level 2"): AuthOk's settings,
 * per-connection credit (level 2 and level 1 on either end), Denied,
 * Replaced, GoingAway, and that a level-1 client never sees any of it.
 * Presence has its own file (test_presence.c).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <mp/protocol.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(level2, .fini = harness_reap_all, .timeout = 120);

#define JSON_LISTENER 0
#define BINARY_LISTENER 1

/* A window of four messages of 960 bytes (cost 1024 each). */
#define WINDOW 4096
#define DATA_LEN 960
#define COST (DATA_LEN + 64)

#define SMALL_WINDOW                                                      \
    "limits = { connection_window = 4096; };\n"

static struct harness *start(const char *extra)
{
    return harness_start_allow_all(extra);
}

/* Log in at level 2 and check AuthOk's settings. */
static struct rc_client *login2(struct harness *h, size_t listener,
                                enum rc_format fmt, const char *name,
                                unsigned window)
{
    struct rc_client *c = rc_login_level(h, listener, fmt, name, 2);
    char settings[64];

    snprintf(settings, sizeof settings, "level=2 window=%u watches=64",
             window);
    rc_expect(c, RC_AUTH_OK, name, "", rc_str(settings));
    return c;
}

static struct rc_blob payload(void)
{
    static char data[DATA_LEN];

    memset(data, 'x', sizeof data);
    return rc_bytes(data, sizeof data);
}

static void send_data(struct rc_client *from, const char *to, const char *id)
{
    cr_assert(rc_send(from, RC_DATA, to, id, payload()), "send: %s",
              rc_error(from));
}

static void grant(struct rc_client *from, const char *to, const char *id,
                  unsigned bytes)
{
    char text[16];

    snprintf(text, sizeof text, "%u", bytes);
    cr_assert(rc_send(from, 11, to, id, rc_str(text)));
}

static void expect_grant(struct rc_client *c, const char *from,
                         const char *id, unsigned bytes)
{
    char text[16];

    snprintf(text, sizeof text, "%u", bytes);
    rc_expect(c, 11, from, id, rc_str(text));
}

/* Nothing arrives for c within a short wait. */
static void expect_nothing(struct rc_client *c)
{
    struct rc_msg m;
    /* Not scaled (mpt_ms): under valgrind a silence check is only weaker,
     * the plain run makes it. */
    int st = rc_recv(c, &m, 300);

    cr_assert_eq(st, RC_TIMEOUT, "%s got meta %d from %s", rc_name(c),
                 st == RC_OK ? m.meta : -1, st == RC_OK ? m.other_client : "");
}

/* ------------------------------------------------------------------------
 * Login
 */

Test(level2, authok_tells_the_settings_and_the_level_agreed)
{
    struct harness *h = start("limits = { connection_window = 100000; "
                              "max_watches_per_client = 7; };\n");
    struct rc_client *a = rc_login_level(h, JSON_LISTENER, RC_JSON, "a", 2);
    struct rc_client *b = rc_login_level(h, BINARY_LISTENER, RC_BINARY, "b",
                                         9);
    struct rc_client *c = rc_login_any(h, JSON_LISTENER, RC_JSON, "c");

    rc_expect(a, RC_AUTH_OK, "a", "",
              rc_str("level=2 window=100000 watches=7"));
    /* A client of a later level is spoken to at ours. */
    rc_expect(b, RC_AUTH_OK, "b", "",
              rc_str("level=2 window=100000 watches=7"));
    cr_assert(harness_wait_log(h, "client b logged in", mpt_ms(MPT_MSG_MS)));
    cr_assert(harness_log_contains(h, "format=binary level=2"));
    (void)c; /* rc_login_any asserted AuthOk with null data: level 1 */
    rc_close(a);
    rc_close(b);
    rc_close(c);
    harness_stop(h);
}

Test(level2, a_level1_client_gets_wat_for_level2_meta_values)
{
    struct harness *h = start("");
    struct rc_client *a = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "b");

    rc_open_conn(a, b, "a:1", "p");
    for (unsigned meta = 11; meta <= 18; meta++) {
        cr_assert(rc_send(a, meta, "b", "a:1", rc_str("1")));
        rc_expect(a, RC_WAT, "b", "a:1",
                  rc_str("unexpected message type from a client"));
    }
    expect_nothing(b);
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Credit
 */

/* The head-of-line case: s has a connection to r1 and one to
 * r2; r1 grants nothing. s's credit to r1 runs out at the window (the
 * next Data gets WAT and is dropped), while the connection to r2 keeps
 * flowing, and s is never paused. */
Test(level2, a_stalled_connection_holds_at_its_window_the_other_flows)
{
    struct harness *h = start(SMALL_WINDOW "log = { level = \"debug\"; };\n");
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", WINDOW);
    struct rc_client *r1 = login2(h, BINARY_LISTENER, RC_BINARY, "r1", WINDOW);
    struct rc_client *r2 = login2(h, JSON_LISTENER, RC_JSON, "r2", WINDOW);
    struct rc_msg m;
    enum { ROUNDS = 200 };

    rc_open_conn(s, r1, "s:1", "p");
    rc_open_conn(s, r2, "s:2", "p");
    for (int i = 0; i < WINDOW / COST; i++)
        send_data(s, "r1", "s:1");
    for (int i = 0; i < WINDOW / COST; i++)
        rc_expect(r1, RC_DATA, "s", "s:1", payload());
    /* Out of credit: refused, not queued. */
    send_data(s, "r1", "s:1");
    rc_expect(s, RC_WAT, "r1", "s:1",
              rc_str("data beyond the connection's credit"));
    expect_nothing(r1);
    /* r2 reads and grants; its connection flows far past one window. */
    for (int i = 0; i < ROUNDS; i++) {
        send_data(s, "r2", "s:2");
        rc_expect(r2, RC_DATA, "s", "s:2", payload());
        grant(r2, "s", "s:2", COST);
        expect_grant(s, "r2", "s:2", COST);
    }
    cr_assert(!harness_log_contains(h, "pausing s"));
    /* r1 grants one message: exactly one more goes through. */
    grant(r1, "s", "s:1", COST);
    expect_grant(s, "r1", "s:1", COST);
    send_data(s, "r1", "s:1");
    rc_expect(r1, RC_DATA, "s", "s:1", payload());
    send_data(s, "r1", "s:1");
    rc_expect_meta(s, RC_WAT, &m);
    rc_msg_free(&m);
    rc_close(s);
    rc_close(r1);
    rc_close(r2);
    harness_stop(h);
}

/* Any message fits any window: the one that takes the credit to zero or
 * below is allowed, the next is not. */
Test(level2, the_message_that_overdraws_the_credit_is_allowed)
{
    struct harness *h = start(SMALL_WINDOW);
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", WINDOW);
    struct rc_client *r = login2(h, BINARY_LISTENER, RC_BINARY, "r", WINDOW);
    static char big[3 * WINDOW];
    struct rc_msg m;

    memset(big, 'b', sizeof big);
    rc_open_conn(s, r, "s:1", "p");
    cr_assert(rc_send(s, RC_DATA, "r", "s:1", rc_bytes(big, sizeof big)));
    rc_expect(r, RC_DATA, "s", "s:1", rc_bytes(big, sizeof big));
    cr_assert(rc_send(s, RC_DATA, "r", "s:1", rc_str("")));
    rc_expect_meta(s, RC_WAT, &m);
    rc_msg_free(&m);
    /* Granting what was spent leaves the window: one more fits. */
    grant(r, "s", "s:1", sizeof big + 64);
    expect_grant(s, "r", "s:1", sizeof big + 64);
    cr_assert(rc_send(s, RC_DATA, "r", "s:1", rc_str("")));
    rc_expect(r, RC_DATA, "s", "s:1", rc_str(""));
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

/* A level-1 sender cannot see credit: once it has none left, the broker
 * stops reading it (its messages wait in its socket), and reads it
 * again when the level-2 receiver grants. Nothing is dropped. */
Test(level2, a_level1_sender_is_paused_without_credit_and_resumed)
{
    struct harness *h = start(SMALL_WINDOW "log = { level = \"debug\"; };\n");
    struct rc_client *s = rc_login_any(h, JSON_LISTENER, RC_JSON, "s");
    struct rc_client *r = login2(h, BINARY_LISTENER, RC_BINARY, "r", WINDOW);
    enum { SENT = 12 };

    rc_open_conn(s, r, "s:1", "p");
    for (int i = 0; i < SENT; i++)
        send_data(s, "r", "s:1");
    for (int i = 0; i < WINDOW / COST; i++)
        rc_expect(r, RC_DATA, "s", "s:1", payload());
    cr_assert(harness_wait_log(h, "pausing s: out of credit",
                               mpt_ms(MPT_MSG_MS)));
    expect_nothing(r);
    /* s is told nothing of it: no Credit, no WAT. */
    expect_nothing(s);
    for (int got = WINDOW / COST; got < SENT;) {
        grant(r, "s", "s:1", COST);
        rc_expect(r, RC_DATA, "s", "s:1", payload());
        got++;
    }
    cr_assert(harness_log_contains(h, "resuming s: credit again"));
    expect_nothing(s);
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

/* A level-1 receiver sends no Credit: the broker grants for it as it
 * queues its messages, by half windows. */
Test(level2, the_broker_grants_for_a_level1_receiver)
{
    struct harness *h = start(SMALL_WINDOW);
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", WINDOW);
    struct rc_client *r = rc_login_any(h, JSON_LISTENER, RC_JSON, "r");

    rc_open_conn(s, r, "s:1", "p");
    for (int round = 0; round < 5; round++) {
        send_data(s, "r", "s:1");
        rc_expect(r, RC_DATA, "s", "s:1", payload());
        send_data(s, "r", "s:1");
        rc_expect(r, RC_DATA, "s", "s:1", payload());
        expect_grant(s, "r", "s:1", 2 * COST);
    }
    /* r itself never hears of credit. */
    expect_nothing(r);
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

/* A bigger window: the receiver grants the difference right after its
 * Syn or Ack, and may send that much more. */
Test(level2, a_receiver_enlarges_the_window_with_a_grant)
{
    struct harness *h = start(SMALL_WINDOW);
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", WINDOW);
    struct rc_client *r = login2(h, BINARY_LISTENER, RC_BINARY, "r", WINDOW);

    cr_assert(rc_send(s, RC_SYN, "r", "s:1", rc_str("p")));
    rc_expect(r, RC_SYN, "s", "s:1", rc_str("p"));
    cr_assert(rc_send(r, RC_ACK, "s", "s:1", RC_NULL));
    grant(r, "s", "s:1", WINDOW);
    rc_expect(s, RC_ACK, "r", "s:1", RC_NULL);
    expect_grant(s, "r", "s:1", WINDOW);
    for (int i = 0; i < 2 * WINDOW / COST; i++)
        send_data(s, "r", "s:1");
    for (int i = 0; i < 2 * WINDOW / COST; i++)
        rc_expect(r, RC_DATA, "s", "s:1", payload());
    send_data(s, "r", "s:1");
    rc_expect(s, RC_WAT, "r", "s:1",
              rc_str("data beyond the connection's credit"));
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

Test(level2, bad_credit_gets_wat_and_a_stray_one_is_dropped)
{
    struct harness *h = start(SMALL_WINDOW);
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", WINDOW);
    struct rc_client *r = login2(h, BINARY_LISTENER, RC_BINARY, "r", WINDOW);
    static const char *const malformed[] = {
        "0", "-1", "+5", "01", "1.5", "12a", "2147483648", "99999999999", "",
    };

    rc_open_conn(s, r, "s:1", "p");
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        cr_assert(rc_send(r, 11, "s", "s:1", rc_str(malformed[i])));
        rc_expect(r, RC_WAT, "s", "s:1", rc_str("malformed credit"));
    }
    cr_assert(rc_send(r, 11, "s", "s:1", RC_NULL));
    rc_expect(r, RC_WAT, "s", "s:1", rc_str("malformed credit"));
    /* Past 2147483647 held: refused, nothing changes. */
    grant(r, "s", "s:1", 2147483647u - WINDOW);
    expect_grant(s, "r", "s:1", 2147483647u - WINDOW);
    grant(r, "s", "s:1", 1);
    rc_expect(r, RC_WAT, "s", "s:1", rc_str("credit overflow"));
    /* For a connection that is not there (ended, never opened, or not
     * between these two): dropped without an answer. */
    grant(r, "s", "s:9", 100);
    grant(r, "x", "s:1", 100);
    cr_assert(rc_send(s, RC_CLOSED, "r", "s:1", RC_NULL));
    rc_expect(r, RC_CLOSED, "s", "s:1", RC_NULL);
    grant(r, "s", "s:1", 100);
    expect_nothing(r);
    expect_nothing(s);
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Denied, Replaced, GoingAway
 */

Test(level2, a_refused_syn_is_denied_at_level2_unknown_proto_at_level1)
{
    struct harness *h = start("limits = { max_connections_per_pair = 1; };\n");
    struct rc_client *a2 = login2(h, BINARY_LISTENER, RC_BINARY, "a2",
                                  MP_DEFAULT_WINDOW);
    struct rc_client *a1 = rc_login_any(h, JSON_LISTENER, RC_JSON, "a1");
    struct rc_client *t = login2(h, BINARY_LISTENER, RC_BINARY, "t",
                                 MP_DEFAULT_WINDOW);

    rc_open_conn(a2, t, "a2:1", "p");
    rc_open_conn(a1, t, "a1:1", "p");
    cr_assert(rc_send(a2, RC_SYN, "t", "a2:2", rc_str("p")));
    rc_expect(a2, 16, "t", "a2:2", rc_str("too many connections"));
    cr_assert(rc_send(a1, RC_SYN, "t", "a1:2", rc_str("p")));
    rc_expect(a1, RC_UNKNOWN_PROTO, "t", "a1:2", RC_NULL);
    /* A target refuses with a reason of its own. */
    cr_assert(rc_send(a2, RC_CLOSED, "t", "a2:1", RC_NULL));
    rc_expect(t, RC_CLOSED, "a2", "a2:1", RC_NULL);
    cr_assert(rc_send(a1, RC_CLOSED, "t", "a1:1", RC_NULL));
    rc_expect(t, RC_CLOSED, "a1", "a1:1", RC_NULL);
    cr_assert(rc_send(a2, RC_SYN, "t", "a2:3", rc_str("p")));
    rc_expect(t, RC_SYN, "a2", "a2:3", rc_str("p"));
    cr_assert(rc_send(t, 16, "a2", "a2:3", rc_str("not you")));
    rc_expect(a2, 16, "t", "a2:3", rc_str("not you"));
    cr_assert(rc_send(a1, RC_SYN, "t", "a1:3", rc_str("p")));
    rc_expect(t, RC_SYN, "a1", "a1:3", rc_str("p"));
    cr_assert(rc_send(t, 16, "a1", "a1:3", rc_str("not you")));
    rc_expect(a1, RC_UNKNOWN_PROTO, "t", "a1:3", RC_NULL);
    rc_close(a1);
    rc_close(a2);
    rc_close(t);
    harness_stop(h);
}

Test(level2, a_syn_the_authorizer_refuses_is_denied_not_authorized)
{
    struct harness *h = harness_new();
    const char *rules = harness_write_file(h, "acl.rules",
                                           "deny * -> * secret\n"
                                           "allow * -> * *\n");
    char *body = NULL;

    cr_assert(asprintf(&body,
                       MPT_LISTEN_JSON_BINARY
                       "authenticators = ( { module = \"acl.so\"; options = "
                       "{ rules = \"%s\"; }; }, { module = "
                       "\"auth_allow_all.so\"; } );\n", rules) > 0);
    harness_boot(h, body);
    free(body);
    struct rc_client *a2 = login2(h, BINARY_LISTENER, RC_BINARY, "a2",
                                  MP_DEFAULT_WINDOW);
    struct rc_client *a1 = rc_login_any(h, JSON_LISTENER, RC_JSON, "a1");

    cr_assert(rc_send(a2, RC_SYN, "nobody", "a2:1", rc_str("secret")));
    rc_expect(a2, 16, "nobody", "a2:1", rc_str("not authorized"));
    cr_assert(rc_send(a1, RC_SYN, "nobody", "a1:1", rc_str("secret")));
    rc_expect(a1, RC_UNKNOWN_PROTO, "nobody", "a1:1", RC_NULL);
    rc_close(a1);
    rc_close(a2);
    harness_stop(h);
}

Test(level2, a_replaced_session_is_told_why_at_level2_only)
{
    struct harness *h = start("");
    struct rc_client *old2 = login2(h, BINARY_LISTENER, RC_BINARY, "n2",
                                    MP_DEFAULT_WINDOW);
    struct rc_client *old1 = rc_login_any(h, JSON_LISTENER, RC_JSON, "n1");
    struct rc_client *new2 = login2(h, JSON_LISTENER, RC_JSON, "n2",
                                    MP_DEFAULT_WINDOW);
    struct rc_client *new1 = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "n1");

    rc_expect(old2, 17, "n2", "", rc_str("replaced by a newer login"));
    rc_expect_eof(old2);
    rc_expect_eof(old1);
    rc_close(old1);
    rc_close(old2);
    rc_close(new1);
    rc_close(new2);
    harness_stop(h);
}

/* SIGTERM: a level-2 client is told GoingAway with shutdown_grace_ms and
 * served meanwhile; a level-1 client is closed at once; the broker ends
 * as soon as the level-2 client leaves, long before the grace is over. */
Test(level2, going_away_is_sent_and_the_grace_ends_when_they_leave)
{
    struct harness *h = start("shutdown_grace_ms = 60000;\n");
    struct rc_client *c2 = login2(h, BINARY_LISTENER, RC_BINARY, "c2",
                                  MP_DEFAULT_WINDOW);
    struct rc_client *d2 = login2(h, JSON_LISTENER, RC_JSON, "d2",
                                  MP_DEFAULT_WINDOW);
    struct rc_client *c1 = rc_login_any(h, JSON_LISTENER, RC_JSON, "c1");
    int status = -1;

    rc_open_conn(c2, d2, "c2:1", "p");
    cr_assert(harness_signal(h, SIGTERM));
    rc_expect(c2, 18, "", "", rc_str("60000"));
    rc_expect(d2, 18, "", "", rc_str("60000"));
    rc_expect_eof(c1);
    /* Still served: c2 and d2 finish their exchange. */
    cr_assert(rc_send(c2, RC_DATA, "d2", "c2:1", rc_str("last words")));
    rc_expect(d2, RC_DATA, "c2", "c2:1", rc_str("last words"));
    rc_close(c2);
    rc_expect(d2, RC_CLIENT_CLOSED, "c2", "", RC_NULL);
    rc_close(d2);
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert_eq(status, 0);
    cr_assert(harness_log_contains(h, "every level-2 client left before "
                                      "shutdown_grace_ms"));
    rc_close(c1);
    harness_free(h);
}

Test(level2, the_grace_ends_at_shutdown_grace_ms)
{
    struct harness *h = start("shutdown_grace_ms = 300;\n");
    struct rc_client *c2 = login2(h, BINARY_LISTENER, RC_BINARY, "c2",
                                  MP_DEFAULT_WINDOW);
    int status = -1;

    cr_assert(harness_signal(h, SIGTERM));
    rc_expect(c2, 18, "", "", rc_str("300"));
    rc_expect_eof(c2);
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert_eq(status, 0);
    cr_assert(harness_log_contains(h, "shutdown_grace_ms passed"));
    rc_close(c2);
    harness_free(h);
}

/* What receivers that stop reading cost the broker is bounded by their
 * connections' windows, not by what their sender tries to send: s sends
 * 16 KiB messages round robin to eight level-2 receivers that read
 * nothing, a hundred times the windows' sum; past each window they are
 * refused (WAT), never queued. */
Test(level2, memory_is_bounded_by_windows_not_by_traffic)
{
    enum { RECEIVERS = 8, MSG = 16384, ROUNDS = 400 };
    struct harness *h = start("limits = { connection_window = 65536;\n"
                              "           bad_messages_max = 0;\n"
                              "           slow_consumer_timeout_ms = 0; };\n");
    struct rc_client *s = login2(h, BINARY_LISTENER, RC_BINARY, "s", 65536);
    struct rc_client *r[RECEIVERS];
    static char data[MSG];
    char name[8], id[8];
    long rss_before, rss_after;
    unsigned delivered = 0, refused = 0;
    struct rc_msg m;

    memset(data, 'm', sizeof data);
    for (int i = 0; i < RECEIVERS; i++) {
        snprintf(name, sizeof name, "r%d", i);
        snprintf(id, sizeof id, "s:%d", i);
        r[i] = login2(h, BINARY_LISTENER, RC_BINARY, name, 65536);
        rc_open_conn(s, r[i], id, "p");
    }
    rss_before = harness_broker_kib(h, "VmRSS");
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < RECEIVERS; i++) {
            snprintf(name, sizeof name, "r%d", i);
            snprintf(id, sizeof id, "s:%d", i);
            cr_assert(rc_send(s, RC_DATA, name, id, rc_bytes(data, MSG)));
        }
        /* s reads its refusals as they come, as a client does. */
        while (rc_recv(s, &m, 0) == RC_OK) {
            cr_assert_eq(m.meta, RC_WAT);
            refused++;
            rc_msg_free(&m);
        }
    }
    /* Every message was either within a window or refused. */
    delivered = RECEIVERS * ROUNDS - refused;
    while (delivered > RECEIVERS * (65536 / (MSG + 64) + 1)) {
        rc_expect_meta(s, RC_WAT, &m);
        rc_msg_free(&m);
        refused++;
        delivered--;
    }
    cr_assert_eq(delivered, RECEIVERS * (65536 / (MSG + 64) + 1),
                 "%u delivered, %u refused", delivered, refused);
    rss_after = harness_broker_kib(h, "VmRSS");
    cr_log_info("%d messages of %d bytes tried (%ld KiB), %u delivered, "
                "%u refused; broker RSS %ld -> %ld KiB", RECEIVERS * ROUNDS,
                MSG, (long)RECEIVERS * ROUNDS * MSG / 1024, delivered,
                refused, rss_before, rss_after);
    if (!harness_rss_unreliable())
        cr_expect_lt(rss_after - rss_before, 8 * 1024,
                     "RSS grew by %ld KiB", rss_after - rss_before);
    for (int i = 0; i < RECEIVERS; i++)
        rc_close(r[i]);
    rc_close(s);
    harness_stop(h);
}
