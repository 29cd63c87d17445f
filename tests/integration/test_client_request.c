/*
 * test_client_request.c - request/reply (issue 19): mp_client_request()
 * and mp_client_handle_requests() against the real broker, and against
 * the fixture's fake broker where the test must hold the broker's input
 * (a full queue).
 *
 * The contract: the reply callback runs exactly once, never from inside
 * mp_client_request(), as soon as the reply arrives (a test with a long
 * timeout asserts it ran well within the fixture's message bound, with
 * status MP_OK: the timer had not fired); each way a request can fail has
 * its status; the request's connection is closed afterwards (the peer
 * sees it) and nothing leaks (valgrind and ASan runs of this program).
 */
#include "config.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_client_fixture.h"

/* ----------------------------------------------------------------------
 * The requester's side
 */

struct reply {
    int calls;
    int status;
    bool data_null;
    char data[256];
    size_t len;
    char reason[300];      /* mp_client_open_reason() during the call */
    long long at_ms;       /* when it ran (mpt_now_ms) */
    struct mp_client *client_seen;
};

static void on_reply(struct mp_client *c, int status, const void *data,
                     size_t len, void *arg)
{
    struct reply *r = arg;

    r->calls++;
    r->status = status;
    r->client_seen = c;
    r->data_null = data == NULL;
    r->len = len;
    snprintf(r->data, sizeof r->data, "%.*s",
             (int)(len < sizeof r->data ? len : sizeof r->data - 1),
             data != NULL ? (const char *)data : "");
    snprintf(r->reason, sizeof r->reason, "%s", mp_client_open_reason(c));
    r->at_ms = mpt_now_ms();
}

/* A long bound, far past every WAIT: a reply that comes only when it
 * runs out would fail the test's WAIT first. */
static unsigned long_timeout(void)
{
    return (unsigned)mpt_ms(10 * MPT_MSG_MS);
}

/* Start a request that must be accepted; its callback has not run. */
static void ask(struct mp_client *c, const char *peer, const char *proto,
                const char *text, unsigned timeout_ms, struct reply *r)
{
    int rc = mp_client_request(c, peer, proto, text, strlen(text),
                               timeout_ms, on_reply, r);

    cr_assert_eq(rc, MP_OK, "mp_client_request(%s, %s): %s", peer, proto,
                 mp_strerror(rc));
    cr_assert_eq(r->calls, 0, "the callback ran inside mp_client_request");
}

/* Wait for the outcome; it came once. */
static void outcome(struct reply *r)
{
    WAIT(r->calls > 0, "no outcome for the request");
    drain();
    cr_assert_eq(r->calls, 1, "the reply callback ran %d times", r->calls);
}

static void expect_status(struct reply *r, int status)
{
    outcome(r);
    cr_assert_eq(r->status, status, "status %s, want %s",
                 mp_strerror(r->status), mp_strerror(status));
    if (status != MP_OK)
        cr_assert(r->data_null && r->len == 0, "data with an error");
}

static void expect_reply(struct reply *r, const char *text)
{
    expect_status(r, MP_OK);
    cr_assert_not(r->data_null, "MP_OK without data");
    cr_assert_eq(r->len, strlen(text), "reply of %zu bytes, want %zu", r->len,
                 strlen(text));
    cr_assert_str_eq(r->data, text);
}

/* ----------------------------------------------------------------------
 * Servers
 */

/* mp_client_handle_requests: answers each message in upper case; "bye"
 * closes the connection instead; "shh" gets no answer. */
struct upper {
    int requests;
    int send_errors;
    char last_peer[300];
};

static void upper_request(struct mp_conn *conn, const void *data, size_t len,
                          void *arg)
{
    struct upper *u = arg;
    char out[256];

    u->requests++;
    snprintf(u->last_peer, sizeof u->last_peer, "%s", mp_conn_peer(conn));
    if (len == 3 && memcmp(data, "bye", 3) == 0) {
        mp_conn_close(conn);
        return;
    }
    if (len == 3 && memcmp(data, "shh", 3) == 0)
        return;
    cr_assert_leq(len, sizeof out, "request too long for the test");
    for (size_t i = 0; i < len; i++)
        out[i] = (char)toupper(((const unsigned char *)data)[i]);
    if (mp_conn_send(conn, out, len) != MP_OK)
        u->send_errors++;
}

static void serve_upper(struct mp_client *c, struct upper *u)
{
    int rc = mp_client_handle_requests(c, "upper", upper_request, u);

    cr_assert_eq(rc, MP_OK, "mp_client_handle_requests: %s", mp_strerror(rc));
}

/* A broker, bob serving "upper", alice to ask. */
struct scene {
    struct harness *h;
    struct mp_client *alice, *bob;
    struct upper *u;
};

static struct scene scene(const char *fmt)
{
    static struct upper u;
    struct scene s = { 0 };

    memset(&u, 0, sizeof u);
    s.u = &u;
    s.h = fx_broker(STD_BROKER);
    s.bob = join(s.h, fmt, "bob");
    serve_upper(s.bob, s.u);
    s.alice = join(s.h, fmt, "alice");
    return s;
}

/* ----------------------------------------------------------------------
 * Replies
 */

FORMAT_TEST(request_gets_its_reply_at_once)
{
    struct scene s = scene(fmt);
    struct reply r = { 0 };
    long long start = mpt_now_ms();

    ask(s.alice, "bob", "upper", "hello", long_timeout(), &r);
    expect_reply(&r, "HELLO");
    cr_assert_eq(r.client_seen, s.alice);
    /* As soon as it arrived: MP_OK within a WAIT, with a timeout ten
     * times longer that had not run out. */
    cr_log_info("reply after %lld ms (timeout %u ms)", r.at_ms - start,
                long_timeout());
    cr_assert_lt(r.at_ms - start, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(s.u->requests, 1);
    cr_assert_str_eq(s.u->last_peer, "alice");

    /* The connection was closed: another request opens another, and
     * empty data is a message too. */
    struct reply r2 = { 0 };
    cr_assert_eq(mp_client_request(s.alice, "bob", "upper", NULL, 0, 0,
                                   on_reply, &r2), MP_OK);
    expect_reply(&r2, "");
    fx_stop();
}

/* The server sees the close that follows the reply. */
FORMAT_TEST(request_closes_its_connection)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *srv = NEW_SERVER(.echo = true);
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct reply r = { 0 };

    handle(bob, "echo", srv);
    ask(alice, "bob", "echo", "ping", 0, &r);
    expect_reply(&r, "ping");
    WAIT(srv->ends[0].closes == 1, "bob was not told of the close");
    cr_assert_eq(srv->ends[0].close_reason, MP_CLOSE_BY_PEER);
    cr_assert_eq(srv->ends[0].nmsg, 1);
    fx_stop();
}

Test(client, request_at_level_1)
{
    fx_level = 1;
    struct scene s = scene("binary");
    struct reply r = { 0 };

    cr_assert_eq(mp_client_level(s.alice), 1);
    ask(s.alice, "bob", "upper", "old school", long_timeout(), &r);
    expect_reply(&r, "OLD SCHOOL");
    fx_stop();
}

/* Level 1 and level 2 across one request. */
Test(client, request_across_levels)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct upper u = { 0 };
    fx_level = 1;
    struct mp_client *bob = join(h, "json", "bob");
    fx_level = 0;
    struct mp_client *alice = join(h, "binary", "alice");
    struct reply r = { 0 }, back = { 0 };

    serve_upper(bob, &u);
    ask(alice, "bob", "upper", "mixed", 0, &r);
    expect_reply(&r, "MIXED");
    serve_upper(alice, &u);
    ask(bob, "alice", "upper", "back", 0, &back);
    expect_reply(&back, "BACK");
    fx_stop();
}

/* gob, the original's format: at level 1 (its default) and level 2. */
Test(client, request_in_gob)
{
    static const char config[] =
        "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
        "translators = ( { name = \"gob\"; module = \"translator_gob.so\"; "
        "} );\n"
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = "
        "\"gob\"; } );\n" MPT_AUTH_ALLOW_ALL;
    struct harness *h = harness_new();
    struct upper u = { 0 };
    struct reply r1 = { 0 }, r2 = { 0 };

    harness_launch(h, harness_write_file(h, "mpbroker.conf", config));
    cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)), "no broker");
    fx_adopt(h, NULL);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    o.address = address_of(h, 0);
    o.format = "gob";
    o.secret = SECRET;
    o.name = "gopher";
    struct mp_client *server = client_new_opts(&o);
    login(server);
    serve_upper(server, &u);
    o.name = "asker";
    struct mp_client *plain = client_new_opts(&o);
    login(plain);
    o.name = "asker2";
    o.protocol_level = 2;
    struct mp_client *l2 = client_new_opts(&o);
    login(l2);
    cr_assert_eq(mp_client_level(plain), 1);
    cr_assert_eq(mp_client_level(l2), 2);

    ask(plain, "gopher", "upper", "gob one", long_timeout(), &r1);
    ask(l2, "gopher", "upper", "gob two", long_timeout(), &r2);
    expect_reply(&r1, "GOB ONE");
    expect_reply(&r2, "GOB TWO");
    fx_stop();
}

/* Several requests at once, answered in reverse order: each gets its
 * own reply (one connection each). */
struct holder {
    struct mp_conn *conns[8];
    char texts[8][32];
    size_t n, want;
};

static void hold_request(struct mp_conn *conn, const void *data, size_t len,
                         void *arg)
{
    struct holder *h = arg;

    cr_assert_lt(h->n, 8);
    h->conns[h->n] = conn;
    snprintf(h->texts[h->n], sizeof h->texts[0], "re:%.*s", (int)len,
             (const char *)data);
    if (++h->n < h->want)
        return;
    /* All here: answer the last first. Every conn is still open (only
     * the reply closes it). */
    for (size_t i = h->n; i-- > 0;)
        cr_assert_eq(mp_conn_send(h->conns[i], h->texts[i],
                                  strlen(h->texts[i])), MP_OK);
}

FORMAT_TEST(requests_in_flight_get_their_own_replies)
{
    enum { N = 5 };
    struct harness *h = fx_broker(STD_BROKER);
    struct holder hold = { .want = N };
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct reply r[N];
    char text[N][16];

    memset(r, 0, sizeof r);
    cr_assert_eq(mp_client_handle_requests(bob, "hold", hold_request, &hold),
                 MP_OK);
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "q%d", i);
        ask(alice, "bob", "hold", text[i], long_timeout(), &r[i]);
    }
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "re:q%d", i);
        expect_reply(&r[i], want);
    }
    fx_stop();
}

/* The server side: one connection carries several requests, answered in
 * order; the server may close it. */
FORMAT_TEST(handle_requests_answers_each_message)
{
    struct scene s = scene(fmt);
    struct end *a = NEW_END(0);

    open_ok(s.alice, "bob", "upper", a);
    send_str(a, "one");
    send_str(a, "two");
    send_str(a, "three");
    WAIT(a->nmsg == 3, "%zu of 3 replies", a->nmsg);
    assert_msg_str(a, 0, "ONE");
    assert_msg_str(a, 1, "TWO");
    assert_msg_str(a, 2, "THREE");
    cr_assert_eq(s.u->requests, 3);
    send_str(a, "bye");
    WAIT(a->closes == 1, "the server's close did not arrive");
    cr_assert_eq(a->close_reason, MP_CLOSE_BY_PEER);
    cr_assert_eq(s.u->send_errors, 0);

    /* unhandle: no new connections; the protocol is free again. */
    cr_assert_eq(mp_client_unhandle(s.bob, "upper"), MP_OK);
    struct reply r = { 0 };
    ask(s.alice, "bob", "upper", "late", 0, &r);
    expect_status(&r, MP_ERR_UNKNOWN_PROTOCOL);
    fx_stop();
}

/* A connection accepted through a handler outlives the handler. */
Test(client, handle_requests_connection_outlives_unhandle)
{
    struct scene s = scene("binary");
    struct end *a = NEW_END(0);

    open_ok(s.alice, "bob", "upper", a);
    cr_assert_eq(mp_client_unhandle(s.bob, "upper"), MP_OK);
    send_str(a, "abc");
    WAIT(a->nmsg == 1, "no answer after the handler went");
    assert_msg_str(a, 0, "ABC");
    fx_stop();
}

/* ----------------------------------------------------------------------
 * Errors
 */

FORMAT_TEST(request_timeout_when_nobody_answers)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *srv = NEW_SERVER(0); /* records, never answers */
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct reply r = { 0 };
    unsigned timeout = (unsigned)mpt_ms(200);
    long long start = mpt_now_ms();

    handle(bob, "mute", srv);
    ask(alice, "bob", "mute", "anyone?", timeout, &r);
    expect_status(&r, MP_ERR_TIMEOUT);
    /* libevent times from the loop's cached clock, which may be a
     * little older than `start`: half the time is proof enough that
     * the timer, not an error, ended it. */
    cr_assert_geq(r.at_ms - start, (long long)timeout / 2,
                  "timed out after %lld ms, long before %u", r.at_ms - start,
                  timeout);
    /* The question went out, and the connection was closed after. */
    WAIT(srv->ends[0].closes == 1, "bob was not told of the close");
    cr_assert_eq(srv->ends[0].nmsg, 1);
    assert_msg_str(&srv->ends[0], 0, "anyone?");
    fx_stop();
}

/* The timeout runs out while the open is pending (a raw peer has the
 * Syn): MP_ERR_TIMEOUT at once; the Ack that comes later is answered
 * with a close, and nothing more reaches the callback. */
FORMAT_TEST(request_timeout_before_the_open_is_answered)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    struct reply r = { 0 }, r2 = { 0 };
    struct rc_msg m, m2;

    ask(alice, "rob", "slow", "q", (unsigned)mpt_ms(100), &r);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    expect_status(&r, MP_ERR_TIMEOUT);
    raw_send(rob, RC_ACK, "alice", m.connection_id, RC_NULL);
    raw_expect(rob, RC_CLOSED, "alice", m.connection_id, &m2);
    rc_msg_free(&m2);

    /* A second one, refused late: still nothing more. */
    ask(alice, "rob", "slow", "q", (unsigned)mpt_ms(100), &r2);
    raw_expect(rob, RC_SYN, "alice", NULL, &m2);
    expect_status(&r2, MP_ERR_TIMEOUT);
    raw_send(rob, RC_UNKNOWN_PROTO, "alice", m2.connection_id, RC_NULL);
    /* A barrier along the same path: an echo through bob. */
    struct upper u = { 0 };
    struct mp_client *bob = join(h, fmt, "bob");
    struct reply r3 = { 0 };
    serve_upper(bob, &u);
    ask(alice, "bob", "upper", "x", 0, &r3);
    expect_reply(&r3, "X");
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r2.calls, 1);
    rc_msg_free(&m);
    rc_msg_free(&m2);
    rc_close(rob);
    fx_stop();
}

FORMAT_TEST(request_refused_unknown_protocol)
{
    struct scene s = scene(fmt);
    struct reply r = { 0 };

    ask(s.alice, "bob", "no-such-protocol", "?", long_timeout(), &r);
    expect_status(&r, MP_ERR_UNKNOWN_PROTOCOL);
    fx_stop();
}

FORMAT_TEST(request_to_no_such_client)
{
    struct scene s = scene(fmt);
    struct reply r = { 0 };

    ask(s.alice, "nobody", "upper", "?", long_timeout(), &r);
    expect_status(&r, MP_ERR_NO_SUCH_CLIENT);
    fx_stop();
}

/* Level 2: the acl plugin refuses; the reason is readable during the
 * callback. */
Test(client, request_denied_by_acl)
{
    struct harness *h = harness_new();
    struct upper u = { 0 };
    struct reply r = { 0 };

    harness_write_file(h, "acl.rules", "deny * -> bob upper\n");
    fx_adopt(h, MPT_LISTEN_JSON_BINARY
             "authenticators = ( { module = \"acl.so\"; options = { rules = "
             "\"@DIR@/acl.rules\"; default = \"allow\"; }; },\n"
             "  { module = \"auth_allow_all.so\"; } );\n");
    struct mp_client *bob = join(h, "binary", "bob");
    serve_upper(bob, &u);
    struct mp_client *alice = join(h, "binary", "alice");
    ask(alice, "bob", "upper", "let me", long_timeout(), &r);
    expect_status(&r, MP_ERR_DENIED);
    cr_assert_str_eq(r.reason, "not authorized");
    cr_assert_eq(u.requests, 0);
    fx_stop();
}

FORMAT_TEST(request_peer_closes_without_reply)
{
    struct scene s = scene(fmt);
    struct reply r = { 0 };

    ask(s.alice, "bob", "upper", "bye", long_timeout(), &r);
    expect_status(&r, MP_ERR_CLOSED);
    cr_assert_eq(s.u->requests, 1);
    fx_stop();
}

/* The peer leaves: after accepting (a raw peer that then hangs up), and
 * before answering the Syn. */
FORMAT_TEST(request_peer_leaves)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    struct rc_client *ron = rc_login_any(h, lst(fmt), rcf(fmt), "ron");
    struct reply r1 = { 0 }, r2 = { 0 };
    struct rc_msg m;

    ask(alice, "rob", "p", "question", long_timeout(), &r1);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    raw_send(rob, RC_ACK, "alice", m.connection_id, RC_NULL);
    rc_msg_free(&m);
    raw_expect(rob, RC_DATA, "alice", NULL, &m);
    cr_assert_str_eq((const char *)m.data, "question");
    rc_msg_free(&m);
    rc_close(rob);
    expect_status(&r1, MP_ERR_PEER_LEFT);

    ask(alice, "ron", "p", "question", long_timeout(), &r2);
    raw_expect(ron, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    rc_close(ron);
    expect_status(&r2, MP_ERR_PEER_LEFT);
    fx_stop();
}

/* The broker dies: an accepted request and a pending open both end with
 * MP_ERR_BROKER_GONE, before the lost callback. */
FORMAT_TEST(request_broker_lost)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *srv = NEW_SERVER(0);
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    struct reply r1 = { 0 }, r2 = { 0 };
    struct lost l = { 0 };
    struct rc_msg m;

    handle(bob, "mute", srv);
    mp_client_on_lost(alice, on_lost, &l);
    ask(alice, "bob", "mute", "one", long_timeout(), &r1);
    ask(alice, "rob", "slow", "two", long_timeout(), &r2);
    WAIT(srv->n == 1 && srv->ends[0].nmsg == 1, "bob did not get the question");
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    cr_assert(harness_signal(h, SIGKILL), "cannot kill the broker");
    WAIT(l.calls == 1, "no lost callback");
    cr_assert_eq(r1.calls, 1, "the accepted request was not ended first");
    cr_assert_eq(r2.calls, 1, "the pending request was not ended first");
    expect_status(&r1, MP_ERR_BROKER_GONE);
    expect_status(&r2, MP_ERR_BROKER_GONE);
    struct reply late = { 0 };
    cr_assert_neq(mp_client_request(alice, "bob", "mute", "x", 1, 0,
                                    on_reply, &late), MP_OK);
    client_free(alice);
    client_free(bob);
    cr_assert_eq(late.calls, 0);
    cr_assert_eq(r1.calls + r2.calls, 2, "a callback ran again on free");
    rc_close(rob);
    reap_killed(h);
}

/* mp_client_free with requests pending: an accepted one and a pending
 * open get MP_ERR_CLOSED; one that timed out with its open pending gets
 * nothing more; valgrind and ASan see no leak. */
FORMAT_TEST(request_client_freed)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *srv = NEW_SERVER(0);
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    struct reply r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
    struct rc_msg m;

    handle(bob, "mute", srv);
    ask(alice, "bob", "mute", "one", long_timeout(), &r1);
    ask(alice, "rob", "slow", "two", long_timeout(), &r2);
    ask(alice, "rob", "slow", "three", (unsigned)mpt_ms(50), &r3);
    WAIT(srv->n == 1 && srv->ends[0].nmsg == 1, "bob did not get the question");
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    expect_status(&r3, MP_ERR_TIMEOUT);
    cr_assert_eq(r1.calls + r2.calls, 0);
    client_free(alice);
    cr_assert_eq(r1.calls, 1);
    cr_assert_eq(r1.status, MP_ERR_CLOSED, "%s", mp_strerror(r1.status));
    cr_assert_eq(r2.calls, 1);
    cr_assert_eq(r2.status, MP_ERR_CLOSED, "%s", mp_strerror(r2.status));
    cr_assert_eq(r3.calls, 1);
    rc_close(rob);
    fx_stop();
}

/* mp_client_disconnect with requests pending: MP_ERR_CLOSED, and the
 * accepted request's connection is closed for the peer. */
FORMAT_TEST(request_client_disconnects)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *srv = NEW_SERVER(0);
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    struct reply r1 = { 0 }, r2 = { 0 };
    struct rc_msg m;

    handle(bob, "mute", srv);
    ask(alice, "bob", "mute", "one", long_timeout(), &r1);
    ask(alice, "rob", "slow", "two", long_timeout(), &r2);
    WAIT(srv->n == 1 && srv->ends[0].nmsg == 1, "bob did not get the question");
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    cr_assert_eq(mp_client_disconnect(alice, NULL, NULL), MP_OK);
    cr_assert_eq(r1.calls, 1);
    cr_assert_eq(r1.status, MP_ERR_CLOSED, "%s", mp_strerror(r1.status));
    cr_assert_eq(r2.calls, 1);
    cr_assert_eq(r2.status, MP_ERR_CLOSED, "%s", mp_strerror(r2.status));
    WAIT(srv->ends[0].closes == 1, "bob was not told of the close");
    cr_assert_eq(srv->ends[0].close_reason, MP_CLOSE_BY_PEER);
    rc_msg_free(&m);
    rc_close(rob);
    fx_stop();
}

static void reply_not_expected(struct mp_client *c, int status,
                               const void *data, size_t len, void *arg)
{
    (void)c;
    (void)status;
    (void)data;
    (void)len;
    (*(int *)arg)++;
}

Test(client, request_invalid_arguments)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *early = client_new(h, "binary", "early");
    int calls = 0;

    /* Not logged in yet. */
    cr_assert_eq(mp_client_request(early, "bob", "p", "x", 1, 0,
                                   reply_not_expected, &calls), MP_ERR_STATE);
    struct mp_client *alice = join_max(h, "binary", "alice", 1024);
    struct {
        struct mp_client *c;
        const char *peer, *proto;
        const void *data;
        size_t len;
        mp_reply_cb cb;
        int want;
    } cases[] = {
        { NULL, "bob", "p", "x", 1, reply_not_expected, MP_ERR_INVALID },
        { alice, NULL, "p", "x", 1, reply_not_expected, MP_ERR_INVALID },
        { alice, "bob", NULL, "x", 1, reply_not_expected, MP_ERR_INVALID },
        { alice, "bob", "p", NULL, 1, reply_not_expected, MP_ERR_INVALID },
        { alice, "bob", "p", "x", 1, NULL, MP_ERR_INVALID },
        { alice, "bad:name", "p", "x", 1, reply_not_expected, MP_ERR_NAME },
        { alice, "", "p", "x", 1, reply_not_expected, MP_ERR_NAME },
        { alice, "alice", "p", "x", 1, reply_not_expected, MP_ERR_SELF },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = mp_client_request(cases[i].c, cases[i].peer, cases[i].proto,
                                   cases[i].data, cases[i].len, 0,
                                   cases[i].cb, &calls);
        cr_assert_eq(rc, cases[i].want, "case %zu: %s, want %s", i,
                     mp_strerror(rc), mp_strerror(cases[i].want));
    }

    /* max_message_size 1024: data of that size cannot be sent with its
     * header; much less can. */
    static char big[8192];
    memset(big, 'b', sizeof big);
    cr_assert_eq(mp_client_request(alice, "bob", "p", big, 1024, 0,
                                   reply_not_expected, &calls),
                 MP_ERR_TOO_BIG);
    cr_assert_eq(mp_client_request(alice, "bob", "p", big, 5000, 0,
                                   reply_not_expected, &calls),
                 MP_ERR_TOO_BIG);

    cr_assert_eq(mp_client_handle_requests(NULL, "p", upper_request, NULL),
                 MP_ERR_INVALID);
    cr_assert_eq(mp_client_handle_requests(alice, NULL, upper_request, NULL),
                 MP_ERR_INVALID);
    cr_assert_eq(mp_client_handle_requests(alice, "p", NULL, NULL),
                 MP_ERR_INVALID);
    struct upper u = { 0 };
    serve_upper(alice, &u);
    cr_assert_eq(mp_client_handle_requests(alice, "upper", upper_request, &u),
                 MP_ERR_EXISTS);
    cr_assert_eq(mp_client_handle(alice, "upper", srv_conn, NULL),
                 MP_ERR_EXISTS);
    drain();
    cr_assert_eq(calls, 0, "a refused request's callback ran");
    fx_stop();
}

/* The largest question max_message_size allows goes; one byte more is
 * refused at once. Found by asking: the check is exact. */
FORMAT_TEST(request_size_limit_is_exact)
{
    enum { MAX = 2048 };
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = join_max(h, fmt, "alice", MAX);
    struct server *srv = NEW_SERVER(0);
    struct mp_client *bob = join(h, fmt, "bob");
    static char data[MAX];
    size_t fits = 0;
    int calls = 0;

    handle(bob, "sink", srv);
    memset(data, '<', sizeof data); /* JSON escapes '<' in names only */
    for (size_t len = MAX; len > 0 && fits == 0; len--) {
        int rc = mp_client_request(alice, "bob", "sink", data, len, 0,
                                   reply_not_expected, &calls);
        cr_assert(rc == MP_OK || rc == MP_ERR_TOO_BIG, "%s", mp_strerror(rc));
        if (rc == MP_OK)
            fits = len;
    }
    cr_log_info("%s: %zu bytes of data fit in %d", fmt, fits, MAX);
    cr_assert_gt(fits, MAX / 2);
    WAIT(srv->n == 1 && srv->ends[0].nmsg == 1, "the largest did not arrive");
    cr_assert_eq(srv->ends[0].msgs[0].len, fits);
    fx_stop();
}

/* ----------------------------------------------------------------------
 * A full queue: the question waits for on_drained. The fake broker
 * sends, in one write, enough Syns for a protocol alice does not handle
 * to fill her queue with refusals (the library's own answers, never
 * held back), then the Ack of her request: she reads them in one go,
 * before anything is written, so the question meets a full queue
 * whatever the kernel does.
 */

/* The next frame of the fake's input whose connection id is `id`,
 * dropping the others (the flood); binary only. */
static void take_on(struct fake *f, const char *id, int meta, char *data,
                    size_t data_size)
{
    struct waiter w = { 0 };
    bool found = false;

    waiter_start(&w, base, mpt_ms(10 * MPT_MSG_MS));
    while (!found && !w.expired) {
        size_t n;
        while (!found && (n = fake_frame_len(f, "binary")) > 0) {
            const unsigned char *p = f->in + 4;
            unsigned flags = p[1], nl = p[2], il = p[3];
            size_t off = 4 + ((flags & RC_FLAG_HAS_LEVEL) ? 1 : 0);
            size_t dl = n - 4 - off - nl - il;
            if (p[0] == meta && il == strlen(id) &&
                memcmp(p + off + nl, id, il) == 0) {
                found = true;
                snprintf(data, data_size, "%.*s", (int)dl,
                         (const char *)p + off + nl + il);
            }
            memmove(f->in, f->in + n, f->len - n);
            f->len -= n;
        }
        if (!found) {
            cr_assert_not(f->eof, "the client hung up");
            event_base_loop(base, EVLOOP_ONCE);
        }
    }
    waiter_stop(&w);
    cr_assert(found, "no meta %d on %s from the client", meta, id);
}

Test(client, request_waits_for_room_in_the_queue)
{
    enum { SYNS = 150 };
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct fake f;
    struct ready rd = { 0 };
    struct reply r = { 0 };
    struct wire w;
    char data[64];
    unsigned char *burst = NULL;
    size_t burst_len = 0;

    fake_start(&f, true);
    o.address = fake_address(&f);
    o.name = "alice";
    o.secret = SECRET;
    o.max_queued = 4096;
    o.max_queued_per_conn = o.max_queued;
    struct mp_client *c = client_new_opts(&o);
    cr_assert_eq(mp_client_connect(c, on_ready, &rd), MP_OK);
    fake_take(&f, "binary", &w);
    fake_send_msg(&f, "binary", RC_AUTH_OK, "alice", "", RC_NULL);
    WAIT(rd.calls > 0 && rd.status == MP_OK, "no login");

    ask(c, "bob", "q", "the question", 0, &r);
    fake_take(&f, "binary", &w);
    cr_assert_eq(w.meta, RC_SYN);
    cr_assert_str_eq(w.id, "alice:0");

    /* SYNS refusals cost twice max_queued (each its bytes and a
     * record); the whole burst fits one read of the socket (libevent
     * reads at most 4 KiB at a time). */
    for (int i = 0; i <= SYNS; i++) {
        char id[32];
        size_t n;
        snprintf(id, sizeof id, "bob:%d", i);
        unsigned char *fr = i < SYNS
            ? rc_binary_frame(RC_SYN, "bob", id, rc_str("nope"), -1, &n)
            : rc_binary_frame(RC_ACK, "bob", "alice:0", RC_NULL, -1, &n);
        cr_assert_not_null(fr);
        burst = realloc(burst, burst_len + n);
        cr_assert_not_null(burst);
        memcpy(burst + burst_len, fr, n);
        burst_len += n;
        free(fr);
    }
    cr_assert_lt(burst_len, 4096);
    fake_send(&f, burst, burst_len);
    free(burst);

    /* The question follows the refusals once the queue drained. */
    take_on(&f, "alice:0", RC_DATA, data, sizeof data);
    cr_assert_str_eq(data, "the question");
    cr_assert_eq(r.calls, 0);
    fake_send_msg(&f, "binary", RC_DATA, "bob", "alice:0", rc_str("answer"));
    expect_reply(&r, "answer");
    take_on(&f, "alice:0", RC_CLOSED, data, sizeof data);
    client_free(c);
    fake_stop(&f);
    fx_stop();
}
