/*
 * test_client_level2.c - libmpclient at protocol level 2 (issue 18),
 * against the fixture's fake broker, which writes what the
 * specification says a level-2 broker writes (doc/protocol.md,
 * "Protocol level 2") and reads what the library writes: the level
 * announced at Auth (and level 1's bytes, unchanged), AuthOk's settings,
 * credit per connection (MP_ERR_WOULD_BLOCK exactly when out of credit,
 * the drained callback on Credit, automatic grants at half a window,
 * manual grants, a larger receive window), Watch/Unwatch/Presence/List,
 * and Denied, Replaced and GoingAway.
 *
 * "Nothing else was sent" is checked with a barrier: the fake sends a Syn
 * for a protocol nobody handles, and the next message it reads must be
 * the UnknownProto that answers it.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_client_fixture.h"

#define BIN "binary"
/* A small window, so that a few messages spend it. */
#define WINDOW 1000
/* A 10-byte message costs 74 of it. */
#define MSG10 "0123456789"
#define COST10 (10 + MP_CREDIT_MESSAGE_COST)

/* ----------------------------------------------------------------------
 * A session with the fake broker
 */

struct session {
    struct fake f;
    struct mp_client *c;
    struct ready r;
    const char *fmt;
};

static void options_for(struct session *s, struct mp_client_options *o,
                        const char *fmt)
{
    o->address = fake_address(&s->f);
    o->format = fmt;
    o->name = "alice";
    o->secret = SECRET;
}

/* Connect with `o` (address, format and name filled in), read the Auth
 * into *auth, and answer AuthOk with `settings` (RC_NULL: a level-1
 * broker's). */
static void session_start(struct session *s, const char *fmt,
                          struct mp_client_options *o, struct rc_blob settings,
                          struct wire *auth)
{
    struct wire w;

    memset(s, 0, sizeof *s);
    s->fmt = fmt;
    fake_start(&s->f, true);
    options_for(s, o, fmt);
    s->c = client_new_opts(o);
    cr_assert_eq(mp_client_connect(s->c, on_ready, &s->r), MP_OK);
    fake_take(&s->f, fmt, auth != NULL ? auth : &w);
    fake_send_msg(&s->f, fmt, RC_AUTH_OK, "alice", "", settings);
    WAIT(s->r.calls > 0, "no login outcome");
}

/* A level-2 login, in binary, with the given window and watches. */
static void session_l2(struct session *s, struct mp_client_options *o,
                       unsigned window, unsigned watches)
{
    char settings[128];

    snprintf(settings, sizeof settings, "level=2 window=%u watches=%u",
             window, watches);
    session_start(s, BIN, o, rc_str(settings), NULL);
    cr_assert_eq(s->r.status, MP_OK, "%s", mp_strerror(s->r.status));
    cr_assert_eq(mp_client_level(s->c), 2);
}

static void session_end(struct session *s)
{
    drain();
    client_free(s->c);
    fake_stop(&s->f);
    fx_stop();
}

/* The next message the library wrote, which must be `meta` with `id`
 * (NULL: any) and, unless NULL, the data `data`. */
static void take(struct session *s, int meta, const char *id,
                 const char *data, struct wire *w)
{
    fake_take(&s->f, BIN, w);
    cr_assert_eq(w->meta, meta, "the library wrote meta %d, want %d", w->meta,
                 meta);
    if (id != NULL)
        cr_assert_str_eq(w->id, id);
    if (data != NULL)
        cr_assert(w->has_data && w->data_len == strlen(data) &&
                      memcmp(w->data, data, w->data_len) == 0,
                  "data \"%.*s\", want \"%s\"", (int)w->data_len, w->data,
                  data);
}

static void expect_credit(struct session *s, const char *id,
                          const char *bytes)
{
    struct wire w;

    take(s, MP_META_CREDIT, id, bytes, &w);
}

/* Nothing was written before the answer to a Syn sent now. */
static void quiet(struct session *s)
{
    static unsigned n;
    char id[32];
    struct wire w;

    snprintf(id, sizeof id, "zed:%u", n++);
    fake_send_msg(&s->f, BIN, RC_SYN, "zed", id, rc_str("nobody-handles-it"));
    take(s, RC_UNKNOWN_PROTO, id, NULL, &w);
}

/* Open a connection from alice to `peer`: the Syn, then the Ack. */
static void open_conn(struct session *s, const char *peer, struct end *e)
{
    struct wire w;

    open_start(s->c, peer, "p", e);
    take(s, RC_SYN, NULL, "p", &w);
    fake_send_msg(&s->f, BIN, RC_ACK, peer, w.id, RC_NULL);
    open_wait(e, peer);
    cr_assert_eq(e->open_status, MP_OK, "%s", mp_strerror(e->open_status));
}

/* The peer sends n 10-byte messages on id. */
static void peer_sends(struct session *s, const char *peer, const char *id,
                       int n)
{
    for (int i = 0; i < n; i++)
        fake_send_msg(&s->f, BIN, RC_DATA, peer, id, rc_str(MSG10));
}

/* ----------------------------------------------------------------------
 * The login
 */

/* Level 2 is announced by default (the binary level byte, JSON's
 * "Level":2 after Data); AuthOk's settings are read in any order, and
 * keys the library does not know are skipped. */
FORMAT_TEST(level2_announced_and_authok_read)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct wire auth;

    session_start(&s, fmt, &o,
                  rc_str("watches=3 colour=blue level=2 window=1000 x"),
                  &auth);
    cr_assert_eq(auth.meta, RC_AUTH);
    if (strcmp(fmt, "json") == 0) {
        char *line = rc_json_line(RC_AUTH, "alice", "", rc_str(SECRET));
        char want[512];
        snprintf(want, sizeof want, "%.*s,\"Level\":2}\n",
                 (int)strlen(line) - 1, line);
        free(line);
        cr_assert_str_eq(auth.line, want);
    } else {
        /* fake_take skips the level byte: check the frame's flags. */
        cr_assert(auth.has_data && auth.data_len == strlen(SECRET));
    }
    cr_assert_eq(s.r.status, MP_OK, "%s", mp_strerror(s.r.status));
    cr_assert_eq(mp_client_level(s.c), 2);
    cr_assert_eq(mp_client_window(s.c), 1000);
    cr_assert_eq(mp_client_max_watches(s.c), 3);
    session_end(&s);
}

/* The binary Auth carries the level byte (flag 0x02, then 2). */
Test(client, level2_binary_auth_bytes)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    size_t n;
    unsigned char *want;

    memset(&s, 0, sizeof s);
    fake_start(&s.f, true);
    options_for(&s, &o, BIN);
    s.c = client_new_opts(&o);
    cr_assert_eq(mp_client_connect(s.c, on_ready, &s.r), MP_OK);
    want = rc_binary_frame(RC_AUTH, "alice", "", rc_str(SECRET), 2, &n);
    WAIT(s.f.len >= n, "no Auth");
    cr_assert(s.f.len == n && memcmp(s.f.in, want, n) == 0,
              "the Auth is not the level-2 frame");
    free(want);
    session_end(&s);
}

/* protocol_level 1: the Auth is libmpclient 0.4's, byte for byte, and the
 * session stays at level 1 whatever AuthOk says: no credit, no Credit
 * after the Syn, no WOULD_BLOCK for credit, MP_ERR_LEVEL for the rest. */
FORMAT_TEST(level1_option_sends_the_old_bytes)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct end *e = NEW_END(0);
    char *want;
    size_t n;

    memset(&s, 0, sizeof s);
    fake_start(&s.f, true);
    options_for(&s, &o, fmt);
    o.protocol_level = 1;
    o.receive_window = 100000;
    s.c = client_new_opts(&o);
    cr_assert_eq(mp_client_connect(s.c, on_ready, &s.r), MP_OK);
    if (strcmp(fmt, "json") == 0) {
        char *line = rc_json_line(RC_AUTH, "alice", "", rc_str(SECRET));
        n = strlen(line) + 1;
        want = malloc(n + 1);
        snprintf(want, n + 1, "%s\n", line);
        free(line);
    } else {
        want = (char *)rc_binary_frame(RC_AUTH, "alice", "", rc_str(SECRET),
                                       -1, &n);
    }
    WAIT(s.f.len >= n, "no Auth");
    cr_assert(s.f.len == n && memcmp(s.f.in, want, n) == 0,
              "the level-1 Auth changed: %.*s", (int)s.f.len, s.f.in);
    free(want);
    s.f.len = 0;
    fake_send_msg(&s.f, fmt, RC_AUTH_OK, "alice", "",
                  rc_str("level=2 window=100"));
    WAIT(s.r.calls > 0, "no login outcome");
    cr_assert_eq(s.r.status, MP_OK);
    cr_assert_eq(mp_client_level(s.c), 1);
    cr_assert_eq(mp_client_window(s.c), 0);

    open_start(s.c, "bob", "p", e);
    struct wire w;
    fake_take(&s.f, fmt, &w);
    cr_assert_eq(w.meta, RC_SYN);
    fake_send_msg(&s.f, fmt, RC_ACK, "bob", "alice:0", RC_NULL);
    open_wait(e, "bob");
    cr_assert_eq(mp_conn_credit(e->conn), LLONG_MAX);
    for (int i = 0; i < 50; i++)
        send_str(e, MSG10);
    fake_take(&s.f, fmt, &w);
    cr_assert_eq(w.meta, RC_DATA, "after the Syn: meta %d, want Data",
                 w.meta);
    cr_assert_eq(mp_conn_grant(e->conn, 100), MP_ERR_LEVEL);
    cr_assert_eq(mp_client_watch(s.c, "bob"), MP_ERR_LEVEL);
    cr_assert_eq(mp_client_list(s.c, "", NULL, NULL), MP_ERR_LEVEL);
    session_end(&s);
}

/* A program built against libmpclient 0.4 (its options end before
 * protocol_level) knows nothing of level 2: its Auth announces none. */
Test(client, options_of_0_4_stay_at_level1)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    size_t n;
    unsigned char *want;

    memset(&s, 0, sizeof s);
    fake_start(&s.f, true);
    options_for(&s, &o, BIN);
    o.size = offsetof(struct mp_client_options, protocol_level);
    s.c = client_new_opts(&o);
    cr_assert_eq(mp_client_connect(s.c, on_ready, &s.r), MP_OK);
    want = rc_binary_frame(RC_AUTH, "alice", "", rc_str(SECRET), -1, &n);
    WAIT(s.f.len >= n, "no Auth");
    cr_assert(s.f.len == n && memcmp(s.f.in, want, n) == 0,
              "a 0.4 program's Auth announced a level");
    free(want);
    session_end(&s);
}

/* A level-1 broker (or one of today's that ignores the level) answers
 * with null data: level 1. */
Test(client, authok_without_data_is_level1)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;

    session_start(&s, BIN, &o, RC_NULL, NULL);
    cr_assert_eq(s.r.status, MP_OK);
    cr_assert_eq(mp_client_level(s.c), 1);
    cr_assert_eq(mp_client_watch_prefix(s.c, ""), MP_ERR_LEVEL);
    session_end(&s);
}

/* A known setting out of its range would break the credit count: the
 * login fails with MP_ERR_PROTOCOL and says which. */
Test(client, authok_bad_settings_fail_the_login)
{
    static const char *const bad[] = {
        "level=2 window=0", "level=2 window=2147483648", "level=2 window=1x",
        "level=2 window=", "level=2 window", "level=02 window=10",
        "level=2 watches=-1",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct session s;
        struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
        session_start(&s, BIN, &o, rc_str(bad[i]), NULL);
        cr_assert_eq(s.r.status, MP_ERR_PROTOCOL, "\"%s\": %s", bad[i],
                     mp_strerror(s.r.status));
        cr_assert_not_null(strstr(s.r.reason, "AuthOk"), "\"%s\": %s",
                           bad[i], s.r.reason);
        session_end(&s);
    }
}

/* ----------------------------------------------------------------------
 * Credit: sending
 */

struct drained {
    int calls;
    struct mp_conn *conn;
};

static void on_conn_drained(struct mp_conn *conn, void *arg)
{
    struct drained *d = arg;

    d->calls++;
    d->conn = conn;
}

/* A window of 1000 and 10-byte messages (cost 74): 13 leave 38, the 14th
 * takes the credit below zero and is still allowed, the 15th is
 * MP_ERR_WOULD_BLOCK (and so is a send_take, whose buffer is freed). A
 * grant that leaves the credit at 0 wakes nobody; one above 0 calls the
 * drained callback once, and sending goes on. */
Test(client, credit_would_block_exactly_when_spent)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct end *e = NEW_END(0);
    struct drained d = { 0 };
    struct slot slot = { 0 };
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    open_conn(&s, "bob", e);
    mp_conn_on_drained(e->conn, on_conn_drained, &d);
    cr_assert_eq(mp_conn_credit(e->conn), WINDOW);
    for (int i = 1; i <= 14; i++) {
        cr_assert_gt(mp_conn_credit(e->conn), 0);
        send_str(e, MSG10);
        cr_assert_eq(mp_conn_credit(e->conn), WINDOW - i * COST10);
    }
    cr_assert_eq(mp_conn_credit(e->conn), -36);
    cr_assert_eq(mp_conn_send(e->conn, MSG10, 10), MP_ERR_WOULD_BLOCK);
    void *p = malloc(10);
    slot.ptr = p;
    slot.len = 10;
    cr_assert_eq(mp_conn_send_take(e->conn, p, 10, slot_free, &slot),
                 MP_ERR_WOULD_BLOCK);
    assert_slots_once(&slot, 1);
    for (int i = 0; i < 14; i++)
        take(&s, RC_DATA, "alice:0", MSG10, &w);

    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("36"));
    quiet(&s);
    drain();
    cr_assert_eq(mp_conn_credit(e->conn), 0);
    cr_assert_eq(d.calls, 0, "drained with no credit");
    cr_assert_eq(mp_conn_send(e->conn, MSG10, 10), MP_ERR_WOULD_BLOCK);

    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("100"));
    WAIT(d.calls > 0, "no drained callback after the Credit");
    cr_assert_eq(d.calls, 1);
    cr_assert_eq(d.conn, e->conn);
    cr_assert_eq(mp_conn_credit(e->conn), 100);
    send_str(e, "after");
    take(&s, RC_DATA, "alice:0", "after", &w);
    /* Malformed grants (a broker that does not check) change nothing. */
    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("0"));
    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("-5"));
    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("07"));
    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", RC_NULL);
    quiet(&s);
    cr_assert_eq(mp_conn_credit(e->conn), 100 - (5 + MP_CREDIT_MESSAGE_COST));
    session_end(&s);
}

/* Without a drained callback of its own, the client's runs (mpcat's
 * case). */
static void on_client_drained(struct mp_client *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
}

/* Credit is per connection: one connection out of credit does not hold
 * another back. */
Test(client, credit_is_per_connection)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct end *e1 = NEW_END(0), *e2 = NEW_END(0);
    int client_drained = 0;

    session_l2(&s, &o, WINDOW, 8);
    mp_client_on_drained(s.c, on_client_drained, &client_drained);
    open_conn(&s, "bob", e1);
    open_conn(&s, "carol", e2);
    while (mp_conn_credit(e1->conn) > 0)
        send_str(e1, MSG10);
    cr_assert_eq(mp_conn_send(e1->conn, "x", 1), MP_ERR_WOULD_BLOCK);
    for (int i = 0; i < 10; i++)
        send_str(e2, MSG10);
    cr_assert_gt(mp_conn_credit(e2->conn), 0);
    fake_send_msg(&s.f, BIN, MP_META_CREDIT, "bob", "alice:0", rc_str("500"));
    WAIT(client_drained == 1, "the client's drained callback did not run");
    send_str(e1, "x");
    session_end(&s);
}

/* WAT "data beyond the connection's credit": the broker dropped a Data,
 * the stream has a gap; the library closes the connection (the peer is
 * told) and says why. */
Test(client, wat_beyond_credit_closes_the_connection)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct end *e = NEW_END(0);
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    open_conn(&s, "bob", e);
    /* Another WAT about it changes nothing. */
    fake_send_msg(&s.f, BIN, RC_WAT, "bob", "alice:0", rc_str("huh"));
    quiet(&s);
    cr_assert_eq(e->closes, 0);
    fake_send_msg(&s.f, BIN, RC_WAT, "bob", "alice:0",
                  rc_str("data beyond the connection's credit"));
    WAIT(e->closes == 1, "the connection was not closed");
    cr_assert_eq(e->close_reason, MP_CLOSE_DATA_DROPPED, "%s",
                 mp_close_reason_string(e->close_reason));
    take(&s, RC_CLOSED, "alice:0", NULL, &w);
    cr_assert_str_eq(w.other, "bob");
    session_end(&s);
}

/* ----------------------------------------------------------------------
 * Credit: receiving
 */

/* Automatic grants come once half the window (500) was consumed: after
 * the 7th 10-byte message (518), not before, then again after 7 more. */
Test(client, automatic_grants_at_half_a_window)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct server *srv = NEW_SERVER(0);
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    handle(s.c, "p", srv);
    fake_send_msg(&s.f, BIN, RC_SYN, "bob", "bob:0", rc_str("p"));
    take(&s, RC_ACK, "bob:0", NULL, &w);
    peer_sends(&s, "bob", "bob:0", 6);
    quiet(&s);
    cr_assert_eq(srv->ends[0].nmsg, 6);
    peer_sends(&s, "bob", "bob:0", 1);
    expect_credit(&s, "bob:0", "518");
    peer_sends(&s, "bob", "bob:0", 6);
    quiet(&s);
    peer_sends(&s, "bob", "bob:0", 1);
    expect_credit(&s, "bob:0", "518");
    cr_assert_eq(srv->ends[0].nmsg, 14);
    session_end(&s);
}

/* A message callback that closes its connection grants nothing for it. */
Test(client, no_grant_after_close_in_callback)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct server *srv = NEW_SERVER(.close_after = 7);
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    handle(s.c, "p", srv);
    fake_send_msg(&s.f, BIN, RC_SYN, "bob", "bob:0", rc_str("p"));
    take(&s, RC_ACK, "bob:0", NULL, &w);
    peer_sends(&s, "bob", "bob:0", 7);
    take(&s, RC_CLOSED, "bob:0", NULL, &w);
    quiet(&s);
    session_end(&s);
}

static void go_manual(struct server *srv, struct end *e, struct mp_conn *conn)
{
    (void)srv;
    (void)e;
    mp_conn_set_manual_credit(conn, 1);
}

/* Manual grants: nothing is granted by itself (the client option, or one
 * connection's setting); mp_conn_grant sends what the application says,
 * within the range. */
Test(client, manual_grants)
{
    for (int per_conn = 0; per_conn <= 1; per_conn++) {
        struct session s;
        struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
        struct server *srv = NEW_SERVER(.hook = per_conn ? go_manual : NULL);
        struct wire w;

        o.manual_credit = !per_conn;
        session_l2(&s, &o, WINDOW, 8);
        handle(s.c, "p", srv);
        fake_send_msg(&s.f, BIN, RC_SYN, "bob", "bob:0", rc_str("p"));
        take(&s, RC_ACK, "bob:0", NULL, &w);
        peer_sends(&s, "bob", "bob:0", 20);
        quiet(&s);
        cr_assert_eq(srv->ends[0].nmsg, 20);
        struct mp_conn *conn = srv->ends[0].conn;
        cr_assert_eq(mp_conn_grant(conn, 740), MP_OK);
        expect_credit(&s, "bob:0", "740");
        cr_assert_eq(mp_conn_grant(conn, 0), MP_ERR_INVALID);
        cr_assert_eq(mp_conn_grant(conn, (size_t)MP_CREDIT_MAX + 1),
                     MP_ERR_INVALID);
        /* The peer holds 1000 - 1480 + 740 = 260: 2^31 - 1 more would
         * pass the maximum. */
        cr_assert_eq(mp_conn_grant(conn, MP_CREDIT_MAX - 200),
                     MP_ERR_INVALID);
        cr_assert_eq(mp_conn_grant(conn, MP_CREDIT_MAX - 260), MP_OK);
        expect_credit(&s, "bob:0", "2147483387");
        quiet(&s);
        session_end(&s);
    }
}

/* receive_window: the difference to the broker's window is granted right
 * after the Syn (initiator) and the Ack (target); grants then come at
 * half of the larger window. */
Test(client, receive_window_grants_the_difference)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct server *srv = NEW_SERVER(0);
    struct end *e = NEW_END(0);
    struct wire w;

    o.receive_window = 5000;
    session_l2(&s, &o, WINDOW, 8);
    handle(s.c, "p", srv);
    open_start(s.c, "bob", "p", e);
    take(&s, RC_SYN, "alice:0", "p", &w);
    expect_credit(&s, "alice:0", "4000");
    fake_send_msg(&s.f, BIN, RC_ACK, "bob", "alice:0", RC_NULL);
    open_wait(e, "bob");

    fake_send_msg(&s.f, BIN, RC_SYN, "carol", "carol:0", rc_str("p"));
    take(&s, RC_ACK, "carol:0", NULL, &w);
    expect_credit(&s, "carol:0", "4000");
    peer_sends(&s, "carol", "carol:0", 33); /* 2442 < 2500 */
    quiet(&s);
    peer_sends(&s, "carol", "carol:0", 1);
    expect_credit(&s, "carol:0", "2516");
    session_end(&s);
}

/* Over max_incoming_conns a level-2 client refuses with Denied, which
 * says why (level 1: UnknownProto, as before). */
Test(client, incoming_over_the_limit_is_denied)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct server *srv = NEW_SERVER(0);
    struct wire w;

    o.max_incoming_conns = 1;
    session_l2(&s, &o, WINDOW, 8);
    handle(s.c, "p", srv);
    fake_send_msg(&s.f, BIN, RC_SYN, "bob", "bob:0", rc_str("p"));
    take(&s, RC_ACK, "bob:0", NULL, &w);
    fake_send_msg(&s.f, BIN, RC_SYN, "bob", "bob:1", rc_str("p"));
    take(&s, MP_META_DENIED, "bob:1", "too many connections", &w);
    session_end(&s);
}

/* ----------------------------------------------------------------------
 * Presence
 */

struct seen {
    int calls;
    char names[8][64];
    int online[8];
};

static void on_presence(struct mp_client *c, const char *name, int online,
                        void *arg)
{
    struct seen *p = arg;

    (void)c;
    if (p->calls < 8) {
        snprintf(p->names[p->calls], 64, "%s", name);
        p->online[p->calls] = online;
    }
    p->calls++;
}

/* Watch a name (absent data) or a prefix (data "prefix"); the cap of
 * AuthOk is checked here, a Watch held counts once, Unwatch frees its
 * place; Presence reaches the callback. */
Test(client, watch_unwatch_presence)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct seen p = { 0 };
    struct wire w;

    session_l2(&s, &o, WINDOW, 2);
    mp_client_on_presence(s.c, on_presence, &p);
    cr_assert_eq(mp_client_watch(s.c, "bob"), MP_OK);
    take(&s, MP_META_WATCH, "", NULL, &w);
    cr_assert(strcmp(w.other, "bob") == 0 && !w.has_data);
    cr_assert_eq(mp_client_watch_prefix(s.c, "b"), MP_OK);
    take(&s, MP_META_WATCH, "", "prefix", &w);
    cr_assert_str_eq(w.other, "b");
    cr_assert_eq(mp_client_watch(s.c, "bob"), MP_OK, "a Watch held twice");
    take(&s, MP_META_WATCH, "", NULL, &w);
    cr_assert_eq(mp_client_watch(s.c, "carol"), MP_ERR_LIMIT);
    cr_assert_eq(mp_client_watch(s.c, "a:b"), MP_ERR_NAME);
    cr_assert_eq(mp_client_watch_prefix(s.c, "a\nb"), MP_ERR_NAME);
    cr_assert_eq(mp_client_unwatch(s.c, "zed"), MP_ERR_INVALID);
    cr_assert_eq(mp_client_unwatch(s.c, "b"), MP_ERR_INVALID,
                 "b is watched as a prefix, not a name");
    cr_assert_eq(mp_client_unwatch(s.c, "bob"), MP_OK);
    take(&s, MP_META_UNWATCH, "", NULL, &w);
    cr_assert(strcmp(w.other, "bob") == 0 && !w.has_data);
    cr_assert_eq(mp_client_watch(s.c, "carol"), MP_OK);
    take(&s, MP_META_WATCH, "", NULL, &w);

    fake_send_msg(&s.f, BIN, MP_META_PRESENCE, "bob", "", rc_str("online"));
    fake_send_msg(&s.f, BIN, MP_META_PRESENCE, "bea", "", rc_str("sleepy"));
    fake_send_msg(&s.f, BIN, MP_META_PRESENCE, "bea", "", rc_str("offline"));
    WAIT(p.calls == 2, "presence callbacks: %d", p.calls);
    quiet(&s);
    cr_assert_eq(p.calls, 2);
    cr_assert(strcmp(p.names[0], "bob") == 0 && p.online[0] == 1);
    cr_assert(strcmp(p.names[1], "bea") == 0 && p.online[1] == 0);
    session_end(&s);
}

struct listed {
    int calls, status, truncated;
    size_t n;
    char names[8][64];
    char prefix[64];
};

static void on_list(struct mp_client *c, const char *prefix,
                    const char *const *names, size_t n, int truncated,
                    int status, void *arg)
{
    struct listed *l = arg;

    (void)c;
    l->calls++;
    l->status = status;
    l->truncated = truncated;
    l->n = n;
    snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(l->names[i], 64, "%s", names[i]);
}

/* List: the replies (names separated by newlines, then absent data, or
 * empty data when the broker left names out) are gathered into one call
 * ("truncated" is a name like any other); the pending one ends with
 * MP_ERR_BROKER_GONE when the broker is lost. */
Test(client, list_gathers_the_replies)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct listed l1 = { 0 }, l2 = { 0 }, l3 = { 0 };
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    cr_assert_eq(mp_client_list(s.c, "b", on_list, &l1), MP_OK);
    take(&s, MP_META_LIST, NULL, NULL, &w);
    cr_assert(strcmp(w.other, "b") == 0 && !w.has_data && w.id[0] != '\0');
    char id1[256];
    snprintf(id1, sizeof id1, "%s", w.id);
    cr_assert_eq(mp_client_list(s.c, "", on_list, &l2), MP_OK);
    take(&s, MP_META_LIST, NULL, NULL, &w);
    cr_assert_str_neq(w.id, id1, "two Lists share an id");
    char id2[256];
    snprintf(id2, sizeof id2, "%s", w.id);

    fake_send_msg(&s.f, BIN, MP_META_LIST, "b", id1, rc_str("bob\nbea"));
    fake_send_msg(&s.f, BIN, MP_META_LIST, "", id2, rc_str("truncated"));
    fake_send_msg(&s.f, BIN, MP_META_LIST, "b", id1, rc_str("bert"));
    fake_send_msg(&s.f, BIN, MP_META_LIST, "b", "list:99", RC_NULL);
    quiet(&s);
    cr_assert_eq(l1.calls, 0, "called before the last reply");
    fake_send_msg(&s.f, BIN, MP_META_LIST, "b", id1, RC_NULL);
    fake_send_msg(&s.f, BIN, MP_META_LIST, "", id2, RC_EMPTY);
    WAIT(l1.calls == 1 && l2.calls == 1, "no list callbacks");
    cr_assert_eq(l1.status, MP_OK);
    cr_assert_eq(l1.n, 3);
    cr_assert_eq(l1.truncated, 0);
    cr_assert_str_eq(l1.prefix, "b");
    cr_assert(strcmp(l1.names[0], "bob") == 0 &&
              strcmp(l1.names[1], "bea") == 0 &&
              strcmp(l1.names[2], "bert") == 0);
    cr_assert(l2.n == 1 && l2.truncated == 1 &&
                  strcmp(l2.names[0], "truncated") == 0,
              "%zu names, truncated %d", l2.n, l2.truncated);

    cr_assert_eq(mp_client_list(s.c, "z", on_list, &l3), MP_OK);
    take(&s, MP_META_LIST, NULL, NULL, &w);
    fake_stop(&s.f);
    WAIT(l3.calls == 1, "the pending List did not end with the broker");
    cr_assert_eq(l3.status, MP_ERR_BROKER_GONE);
    cr_assert_eq(mp_client_list(s.c, "z", on_list, &l3), MP_ERR_STATE);
    client_free(s.c);
    cr_assert_eq(l3.calls, 1);
    fx_stop();
}

/* ----------------------------------------------------------------------
 * Refusals and notices
 */

struct refused {
    struct mp_client *c;
    int calls, status;
    char reason[300];
};

static void on_refused(struct mp_conn *conn, int status, void *arg)
{
    struct refused *r = arg;

    r->calls++;
    r->status = status;
    (void)conn;
    snprintf(r->reason, sizeof r->reason, "%s", mp_client_open_reason(r->c));
}

/* Denied: the open fails with MP_ERR_DENIED (not UnknownProto), and the
 * reason is there during the callback only. */
Test(client, denied_fails_the_open_with_the_reason)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct refused r = { 0 };
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    r.c = s.c;
    cr_assert_eq(mp_client_open(s.c, "bob", "p", on_refused, &r), MP_OK);
    take(&s, RC_SYN, "alice:0", "p", &w);
    fake_send_msg(&s.f, BIN, MP_META_DENIED, "bob", "alice:0",
                  rc_str("not authorized\x01"));
    WAIT(r.calls == 1, "no open outcome");
    cr_assert_eq(r.status, MP_ERR_DENIED, "%s", mp_strerror(r.status));
    cr_assert_str_eq(r.reason, "not authorized?");
    cr_assert_str_eq(mp_client_open_reason(s.c), "");
    session_end(&s);
}

/* Replaced: the session ends at once, MP_ERR_REPLACED with the reason;
 * its connections get MP_CLOSE_BROKER_LOST. */
Test(client, replaced_is_the_lost_status)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct lost l = { 0 };
    struct end *e = NEW_END(0);

    session_l2(&s, &o, WINDOW, 8);
    mp_client_on_lost(s.c, on_lost, &l);
    open_conn(&s, "bob", e);
    fake_send_msg(&s.f, BIN, MP_META_REPLACED, "alice", "",
                  rc_str("replaced by a newer login"));
    WAIT(l.calls == 1, "no lost callback");
    cr_assert_eq(l.status, MP_ERR_REPLACED, "%s", mp_strerror(l.status));
    cr_assert_not_null(strstr(mp_client_lost_reason(s.c),
                              "replaced by a newer login"),
                       "%s", mp_client_lost_reason(s.c));
    cr_assert_eq(e->closes, 1);
    cr_assert_eq(e->close_reason, MP_CLOSE_BROKER_LOST);
    session_end(&s);
}

struct going {
    int calls;
    unsigned ms;
};

static void on_going_away(struct mp_client *c, unsigned ms, void *arg)
{
    struct going *g = arg;

    (void)c;
    g->calls++;
    g->ms = ms;
}

/* GoingAway: the callback with the delay; the session goes on until the
 * broker closes, and the close reads MP_ERR_GOING_AWAY. */
Test(client, going_away_then_the_close)
{
    struct session s;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct lost l = { 0 };
    struct going g = { 0 };
    struct end *e = NEW_END(0);
    struct wire w;

    session_l2(&s, &o, WINDOW, 8);
    mp_client_on_lost(s.c, on_lost, &l);
    mp_client_on_going_away(s.c, on_going_away, &g);
    open_conn(&s, "bob", e);
    fake_send_msg(&s.f, BIN, MP_META_GOING_AWAY, "", "", rc_str("3000"));
    WAIT(g.calls == 1, "no going-away callback");
    cr_assert_eq(g.ms, 3000);
    send_str(e, "still");
    take(&s, RC_DATA, "alice:0", "still", &w);
    cr_assert_eq(l.calls, 0);
    fake_stop(&s.f);
    WAIT(l.calls == 1, "no lost callback");
    cr_assert_eq(l.status, MP_ERR_GOING_AWAY, "%s", mp_strerror(l.status));
    cr_assert_not_null(strstr(mp_client_lost_reason(s.c), "3000 ms"), "%s",
                       mp_client_lost_reason(s.c));
    client_free(s.c);
    fx_stop();
}

/* Every new code has a text of its own. */
Test(client, level2_texts)
{
    static const int codes[] = {MP_ERR_DENIED, MP_ERR_REPLACED,
                                MP_ERR_GOING_AWAY, MP_ERR_LEVEL,
                                MP_ERR_LIMIT};

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_str_neq(mp_strerror(codes[i]), "unknown error", "%d",
                          codes[i]);
    cr_assert_str_neq(mp_strerror(MP_ERR_DENIED),
                      mp_strerror(MP_ERR_UNKNOWN_PROTOCOL));
    cr_assert_str_neq(mp_close_reason_string(MP_CLOSE_DATA_DROPPED),
                      "unknown reason");
}
