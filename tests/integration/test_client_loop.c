/*
 * test_client_loop.c - libmpclient against the real broker: the event
 * loops (own and attached), callbacks that call the API, leaving
 * gracefully, the bounded send queue, and options of older programs.
 *
 * Each FORMAT_TEST runs in both wire formats. The fixture, the helpers
 * and how waiting works: test_client_fixture.h. SIGPIPE is left at its
 * default action: the library must never raise it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_client_fixture.h"

/* ======================================================================
 * Event loops
 */

/* Own-loop mode with a raw peer in a thread: mp_client_run until the
 * peer closes, then mp_client_stop from on_close. */
struct rob_script {
    struct harness_listener l;
    enum rc_format fmt;
    bool ok;
    char err[256];
};

static bool rob_step(struct rob_script *s, struct rc_client *c, int meta,
                     const char *data)
{
    struct rc_msg m;
    int r = rc_recv(c, &m, mpt_ms(MPT_MSG_MS));

    if (r != RC_OK) {
        snprintf(s->err, sizeof s->err, "waiting for meta %d: %s %s", meta,
                 rc_status_name(r), rc_error(c));
        return false;
    }
    bool ok = m.meta == meta &&
              (data == NULL || (m.has_data && m.data_len == strlen(data) &&
                                memcmp(m.data, data, m.data_len) == 0));
    if (!ok)
        snprintf(s->err, sizeof s->err, "got meta %d, want %d", m.meta, meta);
    rc_msg_free(&m);
    return ok;
}

static void *rob_main(void *arg)
{
    struct rob_script *s = arg;
    struct rc_client *c = rc_connect_tcp(s->l.host, s->l.port, s->fmt);
    struct rc_msg m;

    if (c == NULL) {
        snprintf(s->err, sizeof s->err, "connect: %s", strerror(errno));
        return NULL;
    }
    if (rc_auth(c, "rob", SECRET, &m) != RC_OK || m.meta != RC_AUTH_OK) {
        snprintf(s->err, sizeof s->err, "login failed");
        rc_msg_free(&m);
        rc_close(c);
        return NULL;
    }
    rc_msg_free(&m);
    if (rc_send(c, RC_SYN, "alice", "rob:1", rc_str("echo")) &&
        rob_step(s, c, RC_ACK, NULL) &&
        rc_send(c, RC_DATA, "alice", "rob:1", rc_str("ping")) &&
        rob_step(s, c, RC_DATA, "ping") &&
        rc_send(c, RC_CLOSED, "alice", "rob:1", RC_NULL))
        s->ok = true;
    else if (s->err[0] == '\0')
        snprintf(s->err, sizeof s->err, "send: %s", rc_error(c));
    rc_close(c);
    return NULL;
}

FORMAT_TEST(own_loop_run_stop)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = client_new_full(NULL, address_of(h, lst(fmt)), fmt,
                                              "alice", SECRET, strlen(SECRET), 0, 0);
    struct server *s = NEW_SERVER(.echo = true, .stop_on_close = alice);
    struct waiter wd = { .stop = alice };
    struct rob_script rob = { .l = harness_listener(h, lst(fmt)), .fmt = rcf(fmt) };
    pthread_t t;

    handle(alice, "echo", s);
    int rc = mp_client_connect_wait(alice, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    waiter_start(&wd, mp_client_base(alice), mpt_ms(MPT_MSG_MS));
    cr_assert_eq(pthread_create(&t, NULL, rob_main, &rob), 0);
    rc = mp_client_run(alice);
    pthread_join(t, NULL);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "mp_client_run was stopped by the watchdog");
    cr_assert(rob.ok, "the raw peer: %s", rob.err);
    cr_assert_eq(s->n, 1);
    assert_msg_str(&s->ends[0], 0, "ping");
    cr_assert_eq(s->ends[0].closes, 1);
    cr_assert_eq(s->ends[0].close_reason, MP_CLOSE_BY_PEER);
    waiter_stop(&wd);
    fx_stop();
}

/* Attached mode: the test's own timer keeps firing while messages flow
 * back and forth; event_base_dispatch is the caller's. */
struct ticker {
    struct event *ev;
    int ticks;
    size_t rounds_at[32];
    struct end *a;
    bool done;
};

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;

    (void)fd;
    (void)what;
    if (t->ticks < 32)
        t->rounds_at[t->ticks] = t->a->nmsg;
    t->ticks++;
    if (t->ticks >= 20 && t->a->nmsg >= 20 && !t->done) {
        t->done = true;
        event_base_loopexit(base, NULL);
    }
}

static void watchdog_exit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
    event_base_loopexit(base, NULL);
}

FORMAT_TEST(attached_timer_keeps_firing)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(.echo = true);
    struct ticker t = { .a = a };
    bool expired = false;
    struct timeval period = tv_ms(5), limit = tv_ms(mpt_ms(10000));

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "pingpong", s);
    open_pair(alice, "bob", "pingpong", a, s);
    t.ev = event_new(base, -1, EV_PERSIST, tick, &t);
    struct event *wd = evtimer_new(base, watchdog_exit, &expired);
    cr_assert(t.ev != NULL && wd != NULL);
    event_add(t.ev, &period);
    evtimer_add(wd, &limit);
    send_str(a, "ball"); /* both ends echo: it flies until stopped */
    event_base_dispatch(base);
    event_free(t.ev);
    event_free(wd);
    cr_assert(!expired, "the timer did not fire 20 times (%d) while messages "
              "flowed (%zu)", t.ticks, a->nmsg);
    cr_assert(t.done);
    cr_assert(t.rounds_at[19] > t.rounds_at[10],
              "no messages between the timer's ticks 10 and 19");
    a->echo = false;
    s->ends[0].echo = false;
    fx_stop();
}

/* connect_wait on the caller's base runs the caller's events too. */
Test(client, connect_wait_attached_runs_other_events)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *c = client_new(h, "binary", "alice");
    struct mp_client *d = client_new(h, "json", "bob");
    bool fired = false;
    struct timeval zero = { 0, 0 };

    cr_assert_eq(event_base_once(base, -1, EV_TIMEOUT, set_flag, &fired, &zero), 0);
    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    cr_assert(fired, "connect_wait did not run the caller's events");

    /* a second client on the same base; the first keeps working */
    rc = mp_client_connect_wait(d, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0);
    handle(d, "echo", s);
    open_pair(c, "bob", "echo", a, s);
    echo_once(a, "shared base");
    fx_stop();
}

/* ======================================================================
 * Callbacks calling the API
 */

/* bob closes from inside on_message; alice's later messages on that
 * connection are dropped, never delivered to a freed conn. */
FORMAT_TEST(close_in_on_message)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(.close_after = 1), *sync = NEW_SERVER(0);
    struct end *a = NEW_END(0), *as = NEW_END(0);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", s);
    handle(bob, "sync", sync);
    struct end *b = open_pair(alice, "bob", "x", a, s);
    struct end *bs = open_pair(alice, "bob", "sync", as, sync);
    for (int i = 1; i <= 5; i++) {
        char m[8];
        snprintf(m, sizeof m, "%d", i);
        send_str(a, m);
    }
    barrier(as, bs);
    WAIT(a->closes == 1, "alice was not told bob closed");
    cr_assert_eq(a->close_reason, MP_CLOSE_BY_PEER);
    cr_assert(b->closed_self);
    cr_assert_eq(b->nmsg, 1, "%zu messages after closing in on_message", b->nmsg);
    cr_assert_eq(b->closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(b->wrong, 0);
    barrier(bs, as);
    fx_stop();
}

/* bob's on_connection opens a connection back to the opener. */
static void hook_open_back(struct server *s, struct end *e, struct mp_conn *conn)
{
    s->aux_rc = mp_client_open(mp_conn_client(conn), e->peer, "back", end_open, s->aux);
}

FORMAT_TEST(open_in_on_connection)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct end *back = NEW_END(0), *a = NEW_END(0);
    struct server *sb = NEW_SERVER(.echo = true, .hook = hook_open_back, .aux = back);
    struct server *sa = NEW_SERVER(.echo = true);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(alice, "back", sa);
    handle(bob, "echo", sb);
    open_pair(alice, "bob", "echo", a, sb);
    cr_assert_eq(sb->aux_rc, MP_OK, "mp_client_open in on_connection: %s",
                 mp_strerror(sb->aux_rc));
    WAIT(back->opens == 1 && sa->n == 1, "the connection back was not made");
    cr_assert_eq(back->open_status, MP_OK, "%s", mp_strerror(back->open_status));
    cr_assert_str_eq(back->peer, "alice");
    cr_assert_str_eq(sa->ends[0].peer, "bob");
    cr_assert_str_eq(sa->ends[0].proto, "back");
    send_str(back, "back");
    send_str(a, "forth");
    WAIT(back->nmsg == 1 && a->nmsg == 1, "no echoes");
    assert_msg_str(back, 0, "back");
    assert_msg_str(a, 0, "forth");
    fx_stop();
}

/* on_connection unhandles its own protocol and handles another. */
static void hook_rehandle(struct server *s, struct end *e, struct mp_conn *conn)
{
    struct mp_client *c = mp_conn_client(conn);

    if (strcmp(e->proto, "once") != 0)
        return;
    s->aux_rc = mp_client_unhandle(c, "once");
    s->aux_rc2 = mp_client_handle(c, "later", srv_conn, s);
}

FORMAT_TEST(handlers_from_callback)
{
    struct duo d = DUO(fmt, "once", .hook = hook_rehandle);
    struct end *a2 = NEW_END(0);

    cr_assert_eq(d.s->aux_rc, MP_OK, "unhandle in on_connection: %s", mp_strerror(d.s->aux_rc));
    cr_assert_eq(d.s->aux_rc2, MP_OK, "handle in on_connection: %s", mp_strerror(d.s->aux_rc2));
    int st = open_fails(d.alice, "bob", "once");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    open_pair(d.alice, "bob", "later", a2, d.s);
    cr_assert_eq(d.s->n, 2);
    barrier(d.a, &d.s->ends[0]);
    fx_stop();
}

/* on_connection closes at once: the opener sees it open, then closed. */
FORMAT_TEST(close_in_on_connection)
{
    struct duo d = DUO_START(fmt, "x", .close_at_once = true);
    struct end *a = NEW_END(0);

    open_start(d.alice, "bob", "x", a);
    open_wait(a, "x");
    cr_assert_eq(a->open_status, MP_OK, "%s", mp_strerror(a->open_status));
    WAIT(a->closes == 1, "alice was not told bob closed");
    cr_assert_eq(a->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(a->close_reason));
    cr_assert_eq(d.s->n, 1);
    cr_assert_eq(d.s->ends[0].closes, 0);
    fx_stop();
}

/* The open callback sends, then closes. */
static void send_and_close(struct end *e)
{
    if (mp_conn_send(e->conn, "first", 5) != MP_OK)
        e->echo_errors++;
    mp_conn_close(e->conn);
    e->conn = NULL;
    e->closed_self = true;
}

FORMAT_TEST(close_in_open_callback)
{
    struct duo d = DUO_START(fmt, "x", 0);
    struct end *a = NEW_END(.on_open = send_and_close);

    open_start(d.alice, "bob", "x", a);
    open_wait(a, "x");
    cr_assert_eq(a->open_status, MP_OK, "%s", mp_strerror(a->open_status));
    cr_assert_eq(a->echo_errors, 0, "send in the open callback failed");
    WAIT(d.s->n == 1 && d.s->ends[0].closes == 1, "bob was not told");
    cr_assert_eq(d.s->ends[0].close_reason, MP_CLOSE_BY_PEER);
    cr_assert_eq(d.s->ends[0].nmsg, 1);
    assert_msg_str(&d.s->ends[0], 0, "first");
    cr_assert_eq(a->closes, 0);
    fx_stop();
}

/* When bob leaves, the first of alice's two connections with him to get
 * on_close closes the other: that one must get no on_close. */
FORMAT_TEST(close_other_in_on_close)
{
    struct duo d = DUO(fmt, "x", 0);
    struct end *a2 = NEW_END(0);

    open_pair(d.alice, "bob", "x", a2, d.s);
    d.a->close_other = a2;
    a2->close_other = d.a;
    client_free(d.bob);
    WAIT(end_over(d.a) && end_over(a2), "alice was not told bob left");
    cr_assert_eq(open_fails(d.alice, "bob", "x"), MP_ERR_NO_SUCH_CLIENT);
    cr_assert_eq(d.a->closes + a2->closes, 1, "on_close ran %d + %d times", d.a->closes,
                 a2->closes);
    cr_assert(d.a->closed_by_other != a2->closed_by_other);
    cr_assert_eq((d.a->closes ? d.a->close_reason : a2->close_reason), MP_CLOSE_PEER_LEFT);
    cr_assert_eq(d.a->wrong + a2->wrong, 0);
    fx_stop();
}

/* on_close (by the peer) opens a new connection to the same peer. */
FORMAT_TEST(reopen_in_on_close)
{
    struct duo d = DUO(fmt, "echo", .echo = true);
    struct end *again = NEW_END(0);

    d.a->open_on_close = d.alice;
    d.a->reopen = again;
    mp_conn_close(d.b->conn);
    d.b->conn = NULL;
    WAIT(d.a->closes == 1, "alice was not told");
    cr_assert_eq(d.a->reopen_rc, MP_OK, "mp_client_open in on_close: %s",
                 mp_strerror(d.a->reopen_rc));
    open_wait(again, "again");
    cr_assert_eq(again->open_status, MP_OK, "%s", mp_strerror(again->open_status));
    send_str(again, "again");
    WAIT(again->nmsg == 1, "no echo on the new connection");
    fx_stop();
}

/* ======================================================================
 * Leaving gracefully: mp_client_disconnect
 */

struct disc {
    int calls;
    struct mp_client *c;
};

static void on_disc(struct mp_client *c, void *arg)
{
    struct disc *d = arg;

    d->calls++;
    d->c = c;
}

/* Everything queued arrives, then the peers see their connections closed
 * (BY_PEER); locally no on_close, pending opens get MP_ERR_CLOSED, the
 * callback runs once, no lost callback. */
FORMAT_TEST(disconnect_graceful)
{
    /* A burst past the connection window, without waiting for credit:
     * level 1's queue (test_client_level2.c waits for credit). */
    fx_level = 1;
    enum { N = 100, SIZE = 16 * 1024 };
    struct harness *h = fx_broker(STD_BROKER);
    struct end *late = NEW_END(0);
    struct lost la = { 0 };
    struct disc d = { 0 };
    struct rc_msg m;
    unsigned char *p = pattern(SIZE, 1);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, strcmp(fmt, "json") == 0 ? "binary" : "json", "bob");
    mp_client_on_lost(alice, on_lost, &la);
    struct crossed x = crossed_open(h, fmt, alice, bob);

    for (unsigned i = 0; i < N; i++) {
        p[0] = (unsigned char)i;
        send_ok(x.a1, p, SIZE);
    }
    send_str(x.a1, "last");
    send_str(x.ab, "from the acceptor");
    int rc = mp_client_disconnect(alice, on_disc, &d);
    cr_assert_eq(rc, MP_OK, "mp_client_disconnect: %s", mp_strerror(rc));
    cr_assert_eq(mp_client_disconnect(alice, on_disc, &d), MP_ERR_STATE,
                 "a second mp_client_disconnect");
    cr_assert_neq(mp_client_open(alice, "bob", "x", end_open, late), MP_OK,
                  "mp_client_open while disconnecting");
    WAIT(x.ap->opens > 0, "the pending open got no outcome");
    cr_assert_eq(x.ap->open_status, MP_ERR_CLOSED, "%s", mp_strerror(x.ap->open_status));
    cr_assert_null(x.ap->conn);
    WAIT_ON(base, mpt_ms(10000), d.calls > 0 && x.b1->closes > 0 && x.bb->closes > 0,
            "disconnect: callback %d, bob told %d/%d", d.calls, x.b1->closes, x.bb->closes);
    cr_assert_eq(d.c, alice);
    cr_assert_eq(x.b1->nmsg, N + 1, "bob got %zu of %d messages", x.b1->nmsg, N + 1);
    for (unsigned i = 0; i < N; i++) {
        p[0] = (unsigned char)i;
        cr_assert(msg_eq(x.b1, i, p, SIZE), "message %u altered or out of order", i);
    }
    assert_msg_str(x.b1, N, "last");
    cr_assert_eq(x.b1->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(x.b1->close_reason));
    cr_assert_eq(x.bb->nmsg, 1);
    assert_msg_str(x.bb, 0, "from the acceptor");
    cr_assert_eq(x.bb->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(x.bb->close_reason));
    /* rob is told about the pending connection, one way or the other */
    int r = raw_recv(x.rob, &m, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(r, RC_OK, "rob: %s %s", rc_status_name(r), rc_error(x.rob));
    cr_assert(m.meta == RC_CLOSED || m.meta == RC_CLIENT_CLOSED,
              "rob got meta %d for the pending connection", m.meta);
    rc_msg_free(&m);
    drain();
    client_free(alice);
    cr_assert_eq(x.a1->closes + x.ab->closes, 0, "on_close on a disconnected client");
    cr_assert_eq(d.calls, 1, "the disconnect callback ran %d times", d.calls);
    cr_assert_eq(la.calls, 0, "lost callback on a disconnect");
    cr_assert_eq(x.ap->opens, 1);
    cr_assert_eq(late->opens, 0);
    rc_close(x.rob);
    client_free(bob);
    free(p);
    fx_stop();
}

/* Own loop: on_connection sends, then disconnects from inside the
 * callback; mp_client_run returns once done; the raw peer finds Ack, every
 * message, ConnClosed in its socket. */
static void hook_send_and_disconnect(struct server *s, struct end *e,
                                     struct mp_conn *conn)
{
    char m[16];

    (void)e;
    for (int i = 0; i < 50; i++) {
        snprintf(m, sizeof m, "m%02d", i);
        if (mp_conn_send(conn, m, strlen(m)) != MP_OK)
            s->aux_rc2++;
    }
    s->aux_rc = mp_client_disconnect(mp_conn_client(conn), on_disc, s->aux_ptr);
}

FORMAT_TEST(disconnect_own_loop)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = client_new_full(NULL, address_of(h, lst(fmt)), fmt,
                                              "alice", SECRET, strlen(SECRET), 0, 0);
    struct disc d = { 0 };
    struct server *s = NEW_SERVER(.hook = hook_send_and_disconnect, .aux_ptr = &d,
                        .aux_rc = 1);
    struct waiter wd = { .stop = alice };
    struct rc_msg m;

    handle(alice, "feed", s);
    int rc = mp_client_connect_wait(alice, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    raw_send(rob, RC_SYN, "alice", "rob:1", rc_str("feed"));
    waiter_start(&wd, mp_client_base(alice), mpt_ms(MPT_MSG_MS));
    rc = mp_client_run(alice);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "mp_client_run did not return after the disconnect");
    waiter_stop(&wd);
    cr_assert_eq(s->n, 1);
    cr_assert_eq(s->aux_rc, MP_OK, "mp_client_disconnect in on_connection: %s",
                 mp_strerror(s->aux_rc));
    cr_assert_eq(s->aux_rc2, 0, "sends failed");
    cr_assert_eq(d.calls, 1, "the disconnect callback ran %d times", d.calls);

    rc_expect(rob, RC_ACK, "alice", "rob:1", RC_NULL);
    for (int i = 0; i < 50; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%02d", i);
        rc_expect(rob, RC_DATA, "alice", "rob:1", rc_str(want));
    }
    rc_expect_meta(rob, RC_CLOSED, &m);
    cr_assert_str_eq(m.connection_id, "rob:1");
    rc_msg_free(&m);
    cr_assert_eq(s->ends[0].closes, 0, "on_close on a disconnected client");
    client_free(alice);
    cr_assert_eq(s->ends[0].closes, 0, "on_close on a disconnected client");
    rc_close(rob);
    fx_stop();
}

/* ----------------------------------------------------------------------
 * A bounded send queue: max_queued, mp_client_queued, on_drained
 */

static void count_drained(struct mp_client *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
}

Test(client, send_queue_is_bounded_and_reports_when_drained)
{
    static unsigned char chunk[16384];
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct fake f;
    struct ready r = { 0 };
    struct server *s = NEW_SERVER(0);
    struct wire w;
    int err = 0, drained = 0, rc = MP_OK;
    size_t sent = 0;

    fake_start(&f, true);
    o.address = fake_address(&f);
    o.name = "alice";
    o.secret = SECRET;
    o.secret_len = strlen(SECRET);
    o.max_queued = 256 * 1024;
    o.max_queued_per_conn = o.max_queued; /* the whole queue is tested */
    struct mp_client *c = mp_client_new(base, &o, &err);
    cr_assert_not_null(c, "%s", mp_strerror(err));
    mp_client_on_drained(c, count_drained, &drained);
    handle(c, "sink", s);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    fake_take(&f, "binary", &w);
    fake_send_msg(&f, "binary", RC_AUTH_OK, "alice", "", RC_NULL);
    WAIT(r.calls > 0 && r.status == MP_OK, "no login");
    fake_send_msg(&f, "binary", RC_SYN, "bob", "bob:1", rc_str("sink"));
    WAIT(s->n == 1, "on_connection did not run");

    /* The fake broker stops reading: the kernel's buffers fill, then the
     * library's queue, which stops at max_queued. Bounded: 64 MiB. */
    event_del(f.read_ev);
    for (int i = 0; i < 4096 && rc == MP_OK; i++) {
        rc = mp_conn_send(s->ends[0].conn, chunk, sizeof chunk);
        if (rc == MP_OK)
            sent++;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    cr_assert_eq(rc, MP_ERR_WOULD_BLOCK, "send: %s after %zu messages",
                 mp_strerror(rc), sent);
    cr_assert_geq(mp_client_queued(c), o.max_queued);
    /* One message: its frame and the overhead counted for a large one. */
    cr_assert_lt(mp_client_queued(c), o.max_queued + sizeof chunk + 512,
                 "queued %zu: more than max_queued and one message",
                 mp_client_queued(c));
    cr_assert_eq(drained, 0, "drained before the broker read anything");
    /* Answers the protocol owes are never refused (a Syn is accepted). */
    fake_send_msg(&f, "binary", RC_SYN, "bob", "bob:2", rc_str("sink"));
    WAIT(s->n == 2, "a Syn was not accepted while the queue was full");

    /* The broker reads again: on_drained, once, and sends work again. */
    event_add(f.read_ev, NULL);
    WAIT(drained > 0, "on_drained did not run");
    cr_assert_eq(drained, 1);
    cr_assert_leq(mp_client_queued(c), o.max_queued / 2);
    cr_assert_eq(mp_conn_send(s->ends[0].conn, chunk, sizeof chunk), MP_OK);
    drain();
    client_free(c);
    fake_stop(&f);
}

Test(client, options_of_an_older_program_are_accepted)
{
    /* A program built against libmpclient 0.1 passes the smaller struct:
     * the members it does not know take their defaults. */
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = 0;

    o.size = offsetof(struct mp_client_options, connect_timeout_ms) +
             sizeof o.connect_timeout_ms;
    o.address = "tcp:127.0.0.1:1";
    o.name = "old";
    o.max_queued = 1; /* beyond its size: must be ignored */
    struct mp_client *c = mp_client_new(base, &o, &err);
    cr_assert_not_null(c, "%s", mp_strerror(err));
    client_free(c);
    o.size = 8;
    cr_assert_null(mp_client_new(base, &o, &err));
    cr_assert_eq(err, MP_ERR_INVALID);
}

/* The broker checks the sender's encoding: a binary sender's message near
 * the limit arrives at a JSON reader a third larger, and is accepted. */
Test(client, json_reader_accepts_what_the_broker_forwards)
{
    struct harness *h = fx_broker(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct mp_client *bin = join(h, "binary", "bin");
    struct mp_client *js = join(h, "json", "js");
    struct server *s = NEW_SERVER(0);
    size_t n = 900 * 1024;
    unsigned char *big = pattern(n, 7);

    struct end *e = NEW_END(0);

    handle(js, "big", s);
    struct end *o = open_pair(bin, "js", "big", e, s);
    send_ok(e, big, n);
    WAIT(o->nmsg == 1, "the JSON reader did not get it");
    cr_assert(msg_eq(o, 0, big, n));
    free(big);
    drain();
    fx_stop();
}

Test(client, open_to_itself_is_refused_at_once)
{
    struct harness *h = fx_broker(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct mp_client *c = join(h, "binary", "me");

    int rc = mp_client_open(c, "me", "x", NULL, NULL);
    cr_assert_eq(rc, MP_ERR_SELF, "%s", mp_strerror(rc));
    cr_assert_not_null(strstr(mp_strerror(rc), "yourself"), "%s",
                       mp_strerror(rc));
    fx_stop();
}
