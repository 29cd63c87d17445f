/*
 * test_client_close.c - libmpclient against the real broker: closing
 * connections, peers leaving, and the broker killed under the clients.
 *
 * Each FORMAT_TEST runs in both wire formats. The fixture, the helpers
 * and how waiting works: test_client_fixture.h. SIGPIPE is left at its
 * default action: the library must never raise it.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_client_fixture.h"

/* ======================================================================
 * Closing
 */

FORMAT_TEST(close_by_opener)
{
    struct duo d = DUO(fmt, "echo", .echo = true);
    struct end *a2 = NEW_END(0);

    d.s->echo = false;
    d.b->echo = false;
    send_str(d.a, "1");
    send_str(d.a, "2");
    send_str(d.a, "3");
    mp_conn_close(d.a->conn);
    d.a->conn = NULL;
    WAIT(d.b->closes == 1, "bob was not told");
    cr_assert_eq(d.b->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(d.b->close_reason));
    cr_assert_str_eq(d.b->close_peer, "alice", "mp_conn_peer inside on_close");
    cr_assert_eq(d.b->nmsg, 3, "messages before the close: %zu of 3", d.b->nmsg);
    assert_msg_str(d.b, 2, "3");

    /* the two can go on with another connection */
    struct end *b2 = open_pair(d.alice, "bob", "echo", a2, d.s);
    barrier(a2, b2);
    cr_assert_eq(d.a->closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(d.b->closes, 1);
    duo_free_clients(&d);
    cr_assert_eq(d.a->closes, 0, "on_close after mp_conn_close");
    fx_stop();
}

FORMAT_TEST(close_by_acceptor)
{
    struct duo d = DUO(fmt, "x", 0);

    send_str(d.b, "bye");
    mp_conn_close(d.b->conn);
    d.b->conn = NULL;
    d.b->closed_self = true;
    WAIT(d.a->closes == 1, "alice was not told");
    cr_assert_eq(d.a->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(d.a->close_reason));
    cr_assert_str_eq(d.a->close_peer, "bob");
    cr_assert_eq(d.a->nmsg, 1, "the message before the close");
    assert_msg_str(d.a, 0, "bye");
    duo_free_clients(&d);
    cr_assert_eq(d.b->closes, 0, "on_close after mp_conn_close");
    fx_stop();
}

/* Both ends close at once: their ConnClosed cross; nobody gets on_close
 * and nothing breaks. */
FORMAT_TEST(close_both_at_once)
{
    struct duo d = DUO(fmt, "x", 0);
    struct end *a2 = NEW_END(0);
    struct lost la = { 0 }, lb = { 0 };

    mp_client_on_lost(d.alice, on_lost, &la);
    mp_client_on_lost(d.bob, on_lost, &lb);
    mp_conn_close(d.a->conn);
    d.a->conn = NULL;
    mp_conn_close(d.b->conn);
    d.b->conn = NULL;
    struct end *b2 = open_pair(d.alice, "bob", "x", a2, d.s);
    barrier(a2, b2);
    barrier(b2, a2);
    cr_assert_eq(d.a->closes + d.b->closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(la.calls + lb.calls, 0, "crossing closes lost the broker");
    fx_stop();
}

/* ======================================================================
 * Peers leaving
 */

/* bob is freed: bob's connections get CLIENT_FREED there and then;
 * alice's connections with bob get PEER_LEFT; alice's with carol stay. */
FORMAT_TEST(peer_freed)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *sa = NEW_SERVER(0), *sb = NEW_SERVER(.echo = true), *sc = NEW_SERVER(.echo = true);
    struct end *a1 = NEW_END(0), *a2 = NEW_END(0), *a3 = NEW_END(0), *bb = NEW_END(0);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, strcmp(fmt, "json") == 0 ? "binary" : "json", "bob");
    struct mp_client *carol = join(h, fmt, "carol");
    handle(alice, "back", sa);
    handle(bob, "echo", sb);
    handle(carol, "echo", sc);
    open_pair(alice, "bob", "echo", a1, sb);
    open_pair(alice, "bob", "echo", a2, sb);
    struct end *ab = open_pair(bob, "alice", "back", bb, sa);
    open_pair(alice, "carol", "echo", a3, sc);

    client_free(bob);
    cr_assert(sb->ends[0].closes == 1 && sb->ends[1].closes == 1 && bb->closes == 1,
              "bob's connections were not closed by mp_client_free");
    cr_assert(sb->ends[0].close_reason == MP_CLOSE_CLIENT_FREED &&
              sb->ends[1].close_reason == MP_CLOSE_CLIENT_FREED &&
              bb->close_reason == MP_CLOSE_CLIENT_FREED,
              "bob's on_close reasons: %d %d %d", sb->ends[0].close_reason,
              sb->ends[1].close_reason, bb->close_reason);

    WAIT(a1->closes && a2->closes && ab->closes, "alice was not told bob left");
    struct end *ends[] = { a1, a2, ab };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(ends[i]->closes, 1, "end %zu: on_close ran %d times", i,
                     ends[i]->closes);
        cr_assert_eq(ends[i]->close_reason, MP_CLOSE_PEER_LEFT, "end %zu: %s", i,
                     mp_close_reason_string(ends[i]->close_reason));
        cr_assert_str_eq(ends[i]->close_peer, "bob");
        cr_assert_eq(ends[i]->wrong, 0);
    }
    /* carol's connection is untouched */
    send_str(a3, "still");
    WAIT(a3->nmsg == 1, "no echo from carol");
    cr_assert_eq(a3->closes, 0);
    int st = open_fails(alice, "bob", "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "bob is gone: %s", mp_strerror(st));
    fx_stop();
}

/* A raw peer opens connections, is opened to, then closes its socket. */
FORMAT_TEST(raw_peer_leaves)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *ao = NEW_END(0);
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    handle(alice, "echo", s);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");

    raw_send(rob, RC_SYN, "alice", "rob:1", rc_str("echo"));
    raw_expect(rob, RC_ACK, "alice", "rob:1", &m);
    rc_msg_free(&m);
    cr_assert_eq(s->n, 1);
    cr_assert_str_eq(s->ends[0].peer, "rob");
    cr_assert_str_eq(s->ends[0].proto, "echo");
    cr_assert_str_eq(s->ends[0].id, "rob:1");
    raw_send(rob, RC_DATA, "alice", "rob:1", rc_str("hi"));
    raw_expect(rob, RC_DATA, "alice", "rob:1", &m);
    cr_assert(m.has_data && m.data_len == 2 && memcmp(m.data, "hi", 2) == 0,
              "echo altered");
    rc_msg_free(&m);
    raw_send(rob, RC_SYN, "alice", "rob:2", rc_str("echo"));
    raw_expect(rob, RC_ACK, "alice", "rob:2", &m);
    rc_msg_free(&m);

    /* alice opens to rob */
    open_start(alice, "rob", "raw", ao);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    cr_assert(m.has_data && m.data_len == 3 && memcmp(m.data, "raw", 3) == 0,
              "Syn data is not the protocol");
    char id[RC_STR_MAX + 1];
    snprintf(id, sizeof id, "%s", m.connection_id);
    rc_msg_free(&m);
    cr_assert(strncmp(id, "alice:", 6) == 0, "id %s", id);
    raw_send(rob, RC_ACK, "alice", id, RC_NULL);
    open_wait(ao, "raw");
    cr_assert_eq(ao->open_status, MP_OK, "%s", mp_strerror(ao->open_status));
    cr_assert_str_eq(ao->id, id);
    raw_send(rob, RC_DATA, "alice", id, rc_str("data"));
    WAIT(ao->nmsg == 1, "no data from rob");
    assert_msg_str(ao, 0, "data");

    rc_close(rob);
    WAIT(s->ends[0].closes && s->ends[1].closes && ao->closes, "alice was not told");
    struct end *ends[] = { &s->ends[0], &s->ends[1], ao };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(ends[i]->closes, 1);
        cr_assert_eq(ends[i]->close_reason, MP_CLOSE_PEER_LEFT, "end %zu: %s", i,
                     mp_close_reason_string(ends[i]->close_reason));
        cr_assert_str_eq(ends[i]->close_peer, "rob");
    }
    fx_stop();
}

/* Refusals by hand: UnknownProto and NoSuchConnection answers to a Syn; a
 * ConnClosed from the peer. */
FORMAT_TEST(raw_peer_answers)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *s = NEW_SERVER(0);
    struct end *e1 = NEW_END(0), *e2 = NEW_END(0);
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    handle(alice, "x", s);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");

    open_start(alice, "rob", "p", e1);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    raw_send(rob, RC_UNKNOWN_PROTO, "alice", m.connection_id, RC_NULL);
    rc_msg_free(&m);
    open_wait(e1, "p");
    cr_assert_eq(e1->open_status, MP_ERR_UNKNOWN_PROTOCOL, "%s",
                 mp_strerror(e1->open_status));

    open_start(alice, "rob", "q", e2);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    raw_send(rob, RC_NO_SUCH_CONN, "alice", m.connection_id, rc_str("q"));
    rc_msg_free(&m);
    open_wait(e2, "q");
    cr_assert_eq(e2->open_status, MP_ERR_NO_SUCH_CLIENT, "%s",
                 mp_strerror(e2->open_status));

    raw_send(rob, RC_SYN, "alice", "rob:7", rc_str("x"));
    raw_expect(rob, RC_ACK, "alice", "rob:7", &m);
    rc_msg_free(&m);
    raw_send(rob, RC_DATA, "alice", "rob:7", rc_str("a"));
    raw_send(rob, RC_CLOSED, "alice", "rob:7", RC_NULL);
    WAIT(s->n == 1 && s->ends[0].closes == 1, "alice was not told rob closed");
    cr_assert_eq(s->ends[0].close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(s->ends[0].close_reason));
    cr_assert_eq(s->ends[0].nmsg, 1);
    rc_close(rob);
    fx_stop();
}

/* A pending open whose peer leaves before answering. */
FORMAT_TEST(pending_open_peer_leaves)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct end *e = NEW_END(0);
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", e);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    cr_assert_eq(e->opens, 0);
    rc_close(rob);
    open_wait(e, "slow");
    cr_assert(e->open_status == MP_ERR_PEER_LEFT ||
              e->open_status == MP_ERR_NO_SUCH_CLIENT,
              "the peer left: %s", mp_strerror(e->open_status));
    cr_assert_null(e->conn);
    /* a round trip: no second outcome */
    cr_assert_eq(open_fails(alice, "rob", "slow"), MP_ERR_NO_SUCH_CLIENT);
    cr_assert_eq(e->opens, 1);
    client_free(alice);
    cr_assert_eq(e->opens, 1, "a second outcome on mp_client_free");
    fx_stop();
}

/* mp_client_free: open connections get CLIENT_FREED, pending opens
 * MP_ERR_CLOSED, before it returns; peers are told. */
FORMAT_TEST(client_free_ends_all)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct lost l = { 0 };
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    mp_client_on_lost(alice, on_lost, &l);
    struct crossed x = crossed_open(h, fmt, alice, bob);

    client_free(alice);
    cr_assert_eq(x.a1->closes, 1, "opened connection: on_close ran %d times", x.a1->closes);
    cr_assert_eq(x.a1->close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(x.a1->close_reason));
    cr_assert_eq(x.ab->closes, 1, "accepted connection: on_close ran %d times",
                 x.ab->closes);
    cr_assert_eq(x.ab->close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(x.ab->close_reason));
    cr_assert_eq(x.ap->opens, 1, "pending open: callback ran %d times", x.ap->opens);
    cr_assert_eq(x.ap->open_status, MP_ERR_CLOSED, "%s", mp_strerror(x.ap->open_status));
    cr_assert_null(x.ap->conn);
    cr_assert_eq(l.calls, 0, "lost callback on mp_client_free");

    WAIT(x.b1->closes && x.bb->closes, "bob was not told");
    cr_assert_eq(x.b1->close_reason, MP_CLOSE_PEER_LEFT);
    cr_assert_eq(x.bb->close_reason, MP_CLOSE_PEER_LEFT);
    raw_expect(x.rob, RC_CLIENT_CLOSED, "alice", "", &m);
    rc_msg_free(&m);
    rc_close(x.rob);
    fx_stop();
}

/* A newer login with the same name replaces the older session. */
FORMAT_TEST(replaced_by_newer_login)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct server *sb = NEW_SERVER(.echo = true), *s2 = NEW_SERVER(0);
    struct end *a = NEW_END(0), *a2 = NEW_END(0), *bb = NEW_END(0);
    struct lost l1 = { 0 }, l2 = { 0 };

    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", sb);
    struct mp_client *alice1 = join(h, fmt, "alice");
    mp_client_on_lost(alice1, on_lost, &l1);
    struct end *b = open_pair(alice1, "bob", "echo", a, sb);
    l1.ends[l1.nends++] = a;

    struct mp_client *alice2 = client_new(h, strcmp(fmt, "json") == 0 ? "binary" : "json",
                                          "alice");
    mp_client_on_lost(alice2, on_lost, &l2);
    handle(alice2, "back", s2);
    login(alice2);
    WAIT(l1.calls > 0 && b->closes > 0, "the replaced session was not told");
    /* Level 2: the broker said why (level 1: MP_ERR_BROKER_GONE). */
    cr_assert_eq(l1.status, MP_ERR_REPLACED, "%s", mp_strerror(l1.status));
    cr_assert_not_null(strstr(mp_client_lost_reason(alice1), "alice logged "
                              "in again elsewhere"), "%s",
                       mp_client_lost_reason(alice1));
    cr_assert(l1.all_ended, "lost ran before every connection's on_close");
    cr_assert_eq(a->closes, 1);
    cr_assert_eq(a->close_reason, MP_CLOSE_BROKER_LOST, "%s",
                 mp_close_reason_string(a->close_reason));
    cr_assert_eq(b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(b->close_reason));
    int rc = mp_client_open(alice1, "bob", "echo", end_open, a2);
    cr_assert_neq(rc, MP_OK, "mp_client_open on a lost client");

    /* the new alice works */
    open_pair(alice2, "bob", "echo", a2, sb);
    open_pair(bob, "alice", "back", bb, s2);
    send_str(a2, "new");
    WAIT(a2->nmsg == 1, "no echo to the new alice");
    drain();
    client_free(alice1);
    cr_assert_eq(l1.calls, 1, "lost ran %d times", l1.calls);
    cr_assert_eq(a->closes, 1);
    cr_assert_eq(l2.calls, 0);
    fx_stop();
}

/* ======================================================================
 * The broker killed under the clients
 */

FORMAT_TEST(broker_killed)
{
    /* A burst past the connection window, without waiting for credit:
     * level 1's queue (test_client_level2.c waits for credit). */
    fx_level = 1;
    enum { N = 64, SIZE = 64 * 1024 };
    struct harness *h = fx_broker(STD_BROKER);
    struct end *a2 = NEW_END(0);
    struct lost la = { 0 }, lb = { 0 };
    static struct slot slots[N]; /* static: a late free_fn must not hit a dead frame */
    struct capture cap;

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    mp_client_on_lost(alice, on_lost, &la);
    mp_client_on_lost(bob, on_lost, &lb);
    struct crossed x = crossed_open(h, fmt, alice, bob);
    struct end *b2 = open_pair(alice, "bob", "x", a2, x.sb);

    x.a1->send_in_close = true;   /* sends inside on_close: MP_ERR_CLOSED */
    a2->close_other = x.ab;       /* closes another connection inside on_close */
    la.ends[la.nends++] = x.a1;
    la.ends[la.nends++] = a2;
    la.ends[la.nends++] = x.ap;
    la.ends[la.nends++] = x.ab;
    lb.ends[lb.nends++] = x.b1;
    lb.ends[lb.nends++] = b2;
    lb.ends[lb.nends++] = x.bb;

    /* output queued and unsent when the broker dies */
    for (size_t i = 0; i < N; i++) {
        slots[i].len = SIZE;
        slots[i].ptr = pattern(SIZE, (unsigned)i);
        int rc = mp_conn_send_take(x.a1->conn, slots[i].ptr, SIZE, slot_free, &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }

    capture_begin(&cap);
    cr_assert(harness_signal(h, SIGKILL), "cannot kill the broker");
    WAIT(la.calls > 0 && lb.calls > 0, "lost callbacks: alice %d, bob %d", la.calls,
         lb.calls);
    drain();

    cr_assert_eq(la.calls, 1, "alice's lost ran %d times", la.calls);
    cr_assert_eq(lb.calls, 1, "bob's lost ran %d times", lb.calls);
    cr_assert_eq(la.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(la.status));
    cr_assert_eq(lb.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(lb.status));
    cr_assert(la.all_ended, "alice: lost before every on_close/open outcome");
    cr_assert(lb.all_ended, "bob: lost before every on_close");

    struct end *closed[] = { x.a1, a2, x.b1, b2, x.bb };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(closed[i]->closes, 1, "end %zu: on_close ran %d times", i,
                     closed[i]->closes);
        cr_assert_eq(closed[i]->close_reason, MP_CLOSE_BROKER_LOST, "end %zu: %s", i,
                     mp_close_reason_string(closed[i]->close_reason));
        cr_assert_eq(closed[i]->wrong, 0);
    }
    /* ab was either told, or closed by a2's on_close - never both */
    cr_assert_eq(x.ab->closes + (x.ab->closed_by_other ? 1 : 0), 1,
                 "accepted connection: %d on_close, closed by another: %d",
                 x.ab->closes, x.ab->closed_by_other);
    if (x.ab->closes == 1)
        cr_assert_eq(x.ab->close_reason, MP_CLOSE_BROKER_LOST);
    cr_assert_eq(x.ap->opens, 1, "pending open: %d outcomes", x.ap->opens);
    cr_assert_eq(x.ap->open_status, MP_ERR_BROKER_GONE, "%s", mp_strerror(x.ap->open_status));
    cr_assert_null(x.ap->conn);
    cr_assert_eq(x.a1->close_send_rc, MP_ERR_CLOSED, "send inside on_close: %s",
                 mp_strerror(x.a1->close_send_rc));
    cr_assert_eq(x.a1->close_take_rc, MP_ERR_CLOSED, "send_take inside on_close: %s",
                 mp_strerror(x.a1->close_take_rc));
    cr_assert_eq(x.a1->close_take_frees, 1, "free_fn of a refused send_take ran %d times",
                 x.a1->close_take_frees);

    struct end *late = NEW_END(0);
    int rc = mp_client_open(alice, "bob", "x", end_open, late);
    cr_assert_neq(rc, MP_OK, "mp_client_open after the broker was lost");

    client_free(alice);
    client_free(bob);
    capture_check(&cap);
    assert_slots_once(slots, N);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(closed[i]->closes, 1, "on_close again on mp_client_free");
    cr_assert_eq(x.ap->opens, 1, "open callback again on mp_client_free");
    cr_assert_eq(late->opens, 0);
    cr_assert(la.calls == 1 && lb.calls == 1, "lost again on mp_client_free");
    rc_close(x.rob);
    reap_killed(h);
}

/* Killed while the client logs in: a login error, or a login and then a
 * lost callback - once either way. */
FORMAT_TEST(broker_killed_during_login)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *c = client_new(h, fmt, "alice");
    struct ready r = { 0 };
    struct lost l = { 0 };

    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    cr_assert(harness_signal(h, SIGKILL));
    WAIT(r.calls > 0 && (r.status != MP_OK || l.calls > 0), "no outcome");
    drain();
    cr_assert_eq(r.calls, 1);
    if (r.status == MP_OK)
        cr_assert(l.calls == 1 && l.status == MP_ERR_BROKER_GONE, "lost: %d, %s",
                  l.calls, mp_strerror(l.status));
    else
        cr_assert(l.calls == 0 && (r.status == MP_ERR_BROKER_GONE ||
                                   r.status == MP_ERR_CONNECT),
                  "login: %s, lost: %d", mp_strerror(r.status), l.calls);
    client_free(c);
    reap_killed(h);
}

/* Own-loop mode: mp_client_run returns by itself once the broker is lost. */
FORMAT_TEST_OPTS(own_loop_broker_lost, .timeout = 30)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *c = client_new_full(NULL, address_of(h, lst(fmt)), fmt, "alice",
                                          SECRET, strlen(SECRET), 0, 0);
    struct lost l = { 0 };
    struct waiter wd = { 0 };

    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    mp_client_on_lost(c, on_lost, &l);
    wd.stop = c;
    waiter_start(&wd, mp_client_base(c), mpt_ms(MPT_MSG_MS));
    l.disarm = wd.ev; /* nothing of the test's own remains once lost */
    cr_assert(harness_signal(h, SIGKILL));
    rc = mp_client_run(c);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "the broker was not noticed as lost");
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(l.status));
    waiter_stop(&wd);
    client_free(c);
    reap_killed(h);
}
