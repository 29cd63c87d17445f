/*
 * test_routing.c - READY sessions: delivery with other_client rewritten,
 * the connection table (Syn/Ack/Data/Closed/UnknownProto/NoSuchConnection),
 * spoofed ids, ClientClosed on departure, WAT, ordering.
 *
 * "Nothing was delivered" is checked without waiting for silence: after
 * the message that must not arrive, a later message is sent along the
 * same path, and it must be the next thing the recipient sees.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(routing, .fini = harness_reap_all, .timeout = 60);

static const char bin_data[] = "\x00\x01\x02\xff\n\"\\{}\x80";
#define BIN_DATA rc_bytes(bin_data, sizeof bin_data - 1)

struct world {
    struct harness *h;
    struct rc_client *alice, *bob, *carol;
};

static size_t lst(enum rc_format f)
{
    return f == RC_JSON ? 0 : 1;
}

static void world_start(struct world *w, enum rc_format fa, enum rc_format fb)
{
    w->h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    w->alice = rc_login_any(w->h, lst(fa), fa, "alice");
    w->bob = rc_login_any(w->h, lst(fb), fb, "bob");
    w->carol = rc_login_any(w->h, 0, RC_JSON, "carol");
}

static void world_stop(struct world *w)
{
    rc_close(w->alice);
    rc_close(w->bob);
    rc_close(w->carol);
    harness_stop(w->h);
}

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

/* a sends (meta, to, id, data); it comes back to a as NoSuchConnection. */
static void bounced(struct rc_client *a, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    send_ok(a, meta, to, id, data);
    rc_expect(a, RC_NO_SUCH_CONN, to, id, data);
}

/* A Syn from a to b, refused: a probe that leaves no connection behind and
 * must be the next message b sees (and the refusal the next a sees). */
static void roundtrip(struct rc_client *a, struct rc_client *b, const char *id)
{
    send_ok(a, RC_SYN, rc_name(b), id, rc_str("probe"));
    rc_expect(b, RC_SYN, rc_name(a), id, rc_str("probe"));
    send_ok(b, RC_UNKNOWN_PROTO, rc_name(a), id, RC_NULL);
    rc_expect(a, RC_UNKNOWN_PROTO, rc_name(b), id, RC_NULL);
}

/* a and b exchange Data on the open connection id, both ways. */
static void exchange(struct rc_client *a, struct rc_client *b, const char *id)
{
    send_ok(a, RC_DATA, rc_name(b), id, rc_str("ping"));
    rc_expect(b, RC_DATA, rc_name(a), id, rc_str("ping"));
    send_ok(b, RC_DATA, rc_name(a), id, rc_str("pong"));
    rc_expect(a, RC_DATA, rc_name(b), id, rc_str("pong"));
}

/* ---------------------------------------------------------------------- */

static void full_flow(enum rc_format fa, enum rc_format fb)
{
    struct world w;

    world_start(&w, fa, fb);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    send_ok(w.alice, RC_DATA, "bob", "alice:1", BIN_DATA);
    rc_expect(w.bob, RC_DATA, "alice", "alice:1", BIN_DATA);
    send_ok(w.bob, RC_DATA, "alice", "alice:1", BIN_DATA);
    rc_expect(w.alice, RC_DATA, "bob", "alice:1", BIN_DATA);
    send_ok(w.alice, RC_DATA, "bob", "alice:1", RC_EMPTY);
    rc_expect(w.bob, RC_DATA, "alice", "alice:1", RC_EMPTY);
    send_ok(w.alice, RC_DATA, "bob", "alice:1", RC_NULL);
    rc_expect(w.bob, RC_DATA, "alice", "alice:1", RC_NULL);
    send_ok(w.bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("after close"));
    bounced(w.bob, RC_DATA, "alice", "alice:1", RC_EMPTY);
    roundtrip(w.alice, w.bob, "alice:2");
    world_stop(&w);
}

Test(routing, full_flow_json_json) { full_flow(RC_JSON, RC_JSON); }
Test(routing, full_flow_binary_binary) { full_flow(RC_BINARY, RC_BINARY); }
Test(routing, full_flow_json_binary) { full_flow(RC_JSON, RC_BINARY); }
Test(routing, full_flow_binary_json) { full_flow(RC_BINARY, RC_JSON); }

/* Syn data and ids are carried unchanged, including null and odd bytes. */
Test(routing, syn_data_variants)
{
    struct world w;

    world_start(&w, RC_BINARY, RC_JSON);
    send_ok(w.alice, RC_SYN, "bob", "alice:null", RC_NULL);
    rc_expect(w.bob, RC_SYN, "alice", "alice:null", RC_NULL);
    send_ok(w.alice, RC_SYN, "bob", "alice:empty", RC_EMPTY);
    rc_expect(w.bob, RC_SYN, "alice", "alice:empty", RC_EMPTY);
    send_ok(w.alice, RC_SYN, "bob", "alice:x/y z-\xc3\xa9", BIN_DATA);
    rc_expect(w.bob, RC_SYN, "alice", "alice:x/y z-\xc3\xa9", BIN_DATA);
    world_stop(&w);
}

/* ---------------------------------------------------------------------- */
/* ConnSyn */

static void syn_bad_ids(enum rc_format f)
{
    static const char *const ids[] = {
        "bob:1", "carol:1", "alice:", "alice", "xalice:1", "", "Alice:1",
        ":1", "alic:1", "alice-1",
    };
    struct world w;

    world_start(&w, f, RC_JSON);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        bounced(w.alice, RC_SYN, "bob", ids[i], rc_str("echo"));
    /* None was delivered or recorded. */
    roundtrip(w.alice, w.bob, "alice:1");
    send_ok(w.bob, RC_ACK, "alice", "bob:1", RC_NULL);
    rc_expect(w.bob, RC_NO_SUCH_CONN, "alice", "bob:1", RC_NULL);
    world_stop(&w);
}

Test(routing, syn_spoofed_or_malformed_id_json) { syn_bad_ids(RC_JSON); }
Test(routing, syn_spoofed_or_malformed_id_binary) { syn_bad_ids(RC_BINARY); }

static void syn_absent(enum rc_format f)
{
    struct world w;

    world_start(&w, f, RC_JSON);
    bounced(w.alice, RC_SYN, "absent56782", "alice:2", rc_str("echo"));
    bounced(w.alice, RC_SYN, "nobody", "alice:3", RC_NULL);
    bounced(w.alice, RC_SYN, "nobody", "alice:4", RC_EMPTY);
    /* The bounced id was not recorded: it can be used now. */
    rc_open_conn(w.alice, w.bob, "alice:2", "echo");
    exchange(w.alice, w.bob, "alice:2");
    world_stop(&w);
}

Test(routing, syn_absent_target_json) { syn_absent(RC_JSON); }
Test(routing, syn_absent_target_binary) { syn_absent(RC_BINARY); }

static void syn_reused_id(enum rc_format f)
{
    struct world w;
    struct rc_msg m;

    world_start(&w, f, RC_BINARY);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    /* Pending: reusing the id is a WAT, not delivered. */
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("again"));
    rc_expect_meta(w.alice, RC_WAT, &m);
    rc_msg_free(&m);
    send_ok(w.alice, RC_SYN, "carol", "alice:1", rc_str("other"));
    rc_expect_meta(w.alice, RC_WAT, &m);
    rc_msg_free(&m);
    /* Open: the same. */
    send_ok(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_ACK, "bob", "alice:1", RC_NULL);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("again"));
    rc_expect_meta(w.alice, RC_WAT, &m);
    rc_msg_free(&m);
    /* The connection survived, and nothing reached bob or carol. */
    exchange(w.alice, w.bob, "alice:1");
    roundtrip(w.alice, w.carol, "alice:2");
    /* Once closed, the id may be used again. */
    send_ok(w.alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    rc_expect(w.bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    rc_open_conn(w.alice, w.carol, "alice:1", "chat");
    exchange(w.carol, w.alice, "alice:1");
    world_stop(&w);
}

Test(routing, syn_reused_id_json) { syn_reused_id(RC_JSON); }
Test(routing, syn_reused_id_binary) { syn_reused_id(RC_BINARY); }

/* ---------------------------------------------------------------------- */
/* ConnAck, UnknownProto, ConnClosed, NoSuchConnection from clients */

static void unknown_proto(enum rc_format f)
{
    struct world w;

    world_start(&w, f, f);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("nosuchproto"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("nosuchproto"));
    send_ok(w.bob, RC_UNKNOWN_PROTO, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_UNKNOWN_PROTO, "bob", "alice:1", RC_NULL);
    /* Removed from the table. */
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("x"));
    bounced(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    world_stop(&w);
}

Test(routing, unknown_proto_json) { unknown_proto(RC_JSON); }
Test(routing, unknown_proto_binary) { unknown_proto(RC_BINARY); }

Test(routing, data_on_pending_connection)
{
    struct world w;

    world_start(&w, RC_JSON, RC_BINARY);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("too early"));
    bounced(w.bob, RC_DATA, "alice", "alice:1", rc_str("too early"));
    /* The pending connection is still there and opens normally. */
    send_ok(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_ACK, "bob", "alice:1", RC_NULL);
    exchange(w.alice, w.bob, "alice:1");
    world_stop(&w);
}

Test(routing, closed_on_pending_by_initiator)
{
    struct world w;

    world_start(&w, RC_BINARY, RC_JSON);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    send_ok(w.alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    rc_expect(w.bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    bounced(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    world_stop(&w);
}

Test(routing, closed_on_pending_by_target)
{
    struct world w;

    world_start(&w, RC_JSON, RC_JSON);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    send_ok(w.bob, RC_CLOSED, "alice", "alice:1", rc_str("bye"));
    rc_expect(w.alice, RC_CLOSED, "bob", "alice:1", rc_str("bye"));
    bounced(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    bounced(w.alice, RC_DATA, "bob", "alice:1", RC_EMPTY);
    world_stop(&w);
}

static void closed_on_open(enum rc_format fa, enum rc_format fb)
{
    struct world w;

    world_start(&w, fa, fb);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    rc_open_conn(w.alice, w.bob, "alice:2", "echo");
    send_ok(w.alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    rc_expect(w.bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    send_ok(w.bob, RC_CLOSED, "alice", "alice:2", RC_NULL);
    rc_expect(w.alice, RC_CLOSED, "bob", "alice:2", RC_NULL);
    bounced(w.bob, RC_DATA, "alice", "alice:1", rc_str("x"));
    bounced(w.alice, RC_DATA, "bob", "alice:2", rc_str("y"));
    bounced(w.alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    world_stop(&w);
}

Test(routing, closed_on_open_json) { closed_on_open(RC_JSON, RC_JSON); }
Test(routing, closed_on_open_mixed) { closed_on_open(RC_BINARY, RC_JSON); }

Test(routing, no_such_connection_from_client)
{
    struct world w;

    world_start(&w, RC_BINARY, RC_JSON);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    send_ok(w.bob, RC_NO_SUCH_CONN, "alice", "alice:1", rc_str("gone"));
    rc_expect(w.alice, RC_NO_SUCH_CONN, "bob", "alice:1", rc_str("gone"));
    /* Removed: now the broker answers for it. */
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("payload"));
    roundtrip(w.bob, w.alice, "bob:1");
    world_stop(&w);
}

/* ---------------------------------------------------------------------- */
/* Messages that match no connection, or someone else's */

static void unknown_id(enum rc_format f)
{
    struct world w;

    world_start(&w, f, RC_JSON);
    bounced(w.alice, RC_DATA, "bob", "alice:9", rc_str("x"));
    bounced(w.alice, RC_DATA, "bob", "alice:9", RC_NULL);
    bounced(w.alice, RC_ACK, "bob", "bob:7", RC_NULL);
    bounced(w.alice, RC_CLOSED, "bob", "bob:7", RC_EMPTY);
    bounced(w.alice, RC_DATA, "nobody", "alice:9", BIN_DATA);
    bounced(w.alice, RC_DATA, "bob", "", rc_str("no id"));
    roundtrip(w.alice, w.bob, "alice:1");
    world_stop(&w);
}

Test(routing, unknown_connection_json) { unknown_id(RC_JSON); }
Test(routing, unknown_connection_binary) { unknown_id(RC_BINARY); }

/* carol uses the id of alice and bob's connection. */
static void not_an_end(enum rc_format f)
{
    struct world w;

    world_start(&w, RC_JSON, RC_BINARY);
    rc_close(w.carol);
    w.carol = rc_login_any(w.h, lst(f), f, "carol");
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    bounced(w.carol, RC_DATA, "bob", "alice:1", rc_str("spoof"));
    bounced(w.carol, RC_DATA, "alice", "alice:1", rc_str("spoof"));
    bounced(w.carol, RC_CLOSED, "bob", "alice:1", RC_NULL);
    bounced(w.carol, RC_CLOSED, "alice", "alice:1", RC_NULL);
    bounced(w.carol, RC_ACK, "alice", "alice:1", RC_NULL);
    /* Untouched, and neither end saw a thing. */
    exchange(w.alice, w.bob, "alice:1");
    roundtrip(w.carol, w.bob, "carol:1");
    roundtrip(w.carol, w.alice, "carol:2");
    world_stop(&w);
}

Test(routing, spoofed_connection_id_json) { not_an_end(RC_JSON); }
Test(routing, spoofed_connection_id_binary) { not_an_end(RC_BINARY); }

Test(routing, ack_from_a_stranger_on_pending)
{
    struct world w;

    world_start(&w, RC_JSON, RC_JSON);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    bounced(w.carol, RC_ACK, "alice", "alice:1", RC_NULL);
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("still pending"));
    send_ok(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_ACK, "bob", "alice:1", RC_NULL);
    exchange(w.bob, w.alice, "alice:1");
    world_stop(&w);
}

/* Only the Syn's target accepts: the initiator's own Ack is refused. */
Test(routing, ack_from_the_initiator)
{
    struct world w;

    world_start(&w, RC_JSON, RC_BINARY);
    send_ok(w.alice, RC_SYN, "bob", "alice:1", rc_str("echo"));
    rc_expect(w.bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    bounced(w.alice, RC_ACK, "bob", "alice:1", RC_NULL);
    bounced(w.alice, RC_DATA, "bob", "alice:1", rc_str("still pending"));
    send_ok(w.bob, RC_ACK, "alice", "alice:1", RC_NULL);
    rc_expect(w.alice, RC_ACK, "bob", "alice:1", RC_NULL);
    exchange(w.alice, w.bob, "alice:1");
    world_stop(&w);
}

/* alice addresses her connection with bob to carol. */
Test(routing, wrong_peer)
{
    struct world w;

    world_start(&w, RC_BINARY, RC_BINARY);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    bounced(w.alice, RC_DATA, "carol", "alice:1", rc_str("misdirected"));
    bounced(w.alice, RC_CLOSED, "carol", "alice:1", RC_NULL);
    bounced(w.bob, RC_DATA, "carol", "alice:1", rc_str("misdirected"));
    bounced(w.bob, RC_DATA, "bob", "alice:1", rc_str("to myself"));
    exchange(w.alice, w.bob, "alice:1");
    roundtrip(w.bob, w.carol, "bob:1");
    world_stop(&w);
}

/* UnknownProto and NoSuchConnection that match nothing: dropped. */
static void silent_drop(enum rc_format f)
{
    struct world w;

    world_start(&w, f, RC_JSON);
    send_ok(w.alice, RC_UNKNOWN_PROTO, "bob", "bob:5", RC_NULL);
    send_ok(w.alice, RC_NO_SUCH_CONN, "bob", "bob:6", rc_str("x"));
    send_ok(w.alice, RC_UNKNOWN_PROTO, "nobody", "nobody:1", RC_NULL);
    send_ok(w.alice, RC_NO_SUCH_CONN, "nobody", "alice:3", RC_NULL);
    /* Next for bob: the probe; next for alice: its answer. */
    roundtrip(w.alice, w.bob, "alice:1");
    world_stop(&w);
}

Test(routing, stray_refusals_dropped_json) { silent_drop(RC_JSON); }
Test(routing, stray_refusals_dropped_binary) { silent_drop(RC_BINARY); }

/* ---------------------------------------------------------------------- */
/* Departures */

static void departure(bool crash)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct rc_client *alice = rc_login_any(h, 0, RC_JSON, "alice");
    struct rc_client *bob = rc_login_any(h, 1, RC_BINARY, "bob");
    struct rc_client *carol = rc_login_any(h, 0, RC_JSON, "carol");
    struct rc_client *dave = rc_login_any(h, 1, RC_BINARY, "dave");
    struct rc_client *eve = rc_login_any(h, 0, RC_JSON, "eve");
    struct rc_client *frank = rc_login_any(h, 1, RC_BINARY, "frank");

    rc_open_conn(alice, bob, "alice:1", "echo");      /* open */
    rc_open_conn(bob, alice, "bob:1", "echo");        /* open, same peer */
    send_ok(carol, RC_SYN, "alice", "carol:1", rc_str("echo"));
    rc_expect(alice, RC_SYN, "carol", "carol:1", rc_str("echo")); /* pending */
    send_ok(alice, RC_SYN, "dave", "alice:2", rc_str("echo"));
    rc_expect(dave, RC_SYN, "alice", "alice:2", rc_str("echo")); /* pending */
    rc_open_conn(alice, eve, "alice:3", "echo");
    send_ok(eve, RC_CLOSED, "alice", "alice:3", RC_NULL);
    rc_expect(alice, RC_CLOSED, "eve", "alice:3", RC_NULL);  /* gone */

    if (crash) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(rc_fd(alice), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    rc_close(alice);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    rc_expect(carol, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    rc_expect(dave, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    /* Exactly one each; nothing for eve and frank. */
    roundtrip(bob, frank, "bob:9");
    roundtrip(carol, eve, "carol:9");
    roundtrip(dave, bob, "dave:9");
    /* Her connections left the table. */
    alice = rc_login_any(h, 0, RC_JSON, "alice");
    bounced(bob, RC_DATA, "alice", "alice:1", rc_str("x"));
    bounced(bob, RC_DATA, "alice", "bob:1", rc_str("x"));
    bounced(alice, RC_ACK, "carol", "carol:1", RC_NULL);
    bounced(dave, RC_ACK, "alice", "alice:2", RC_NULL);
    rc_open_conn(alice, bob, "alice:1", "echo");
    exchange(alice, bob, "alice:1");

    rc_close(alice);
    rc_close(bob);
    rc_close(carol);
    rc_close(dave);
    rc_close(eve);
    rc_close(frank);
    harness_stop(h);
}

Test(routing, client_closed_on_eof) { departure(false); }
Test(routing, client_closed_on_reset) { departure(true); }

/* ---------------------------------------------------------------------- */

static void broker_only_meta(enum rc_format f)
{
    static const unsigned metas[] = { RC_WAT, RC_CLIENT_CLOSED, RC_AUTH_OK,
                                      RC_AUTH_FAILURE, 11, 42, 255 };
    struct world w;
    struct rc_msg m;

    world_start(&w, f, RC_JSON);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
        send_ok(w.alice, metas[i], "bob", "alice:1", rc_str("x"));
        rc_expect_meta(w.alice, RC_WAT, &m);
        rc_msg_free(&m);
    }
    /* Still open, nothing reached bob, the connection still works. */
    exchange(w.alice, w.bob, "alice:1");
    world_stop(&w);
}

Test(routing, broker_only_meta_is_wat_json) { broker_only_meta(RC_JSON); }
Test(routing, broker_only_meta_is_wat_binary) { broker_only_meta(RC_BINARY); }

static void order(enum rc_format fa, enum rc_format fb)
{
    struct world w;
    char buf[64];

    world_start(&w, fa, fb);
    rc_open_conn(w.alice, w.bob, "alice:1", "echo");
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "message %d", i);
        send_ok(w.alice, RC_DATA, "bob", "alice:1", rc_str(buf));
        snprintf(buf, sizeof buf, "reply %d", i);
        send_ok(w.bob, RC_DATA, "alice", "alice:1", rc_str(buf));
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "message %d", i);
        rc_expect(w.bob, RC_DATA, "alice", "alice:1", rc_str(buf));
        snprintf(buf, sizeof buf, "reply %d", i);
        rc_expect(w.alice, RC_DATA, "bob", "alice:1", rc_str(buf));
    }
    world_stop(&w);
}

Test(routing, order_1000_json) { order(RC_JSON, RC_JSON); }
Test(routing, order_1000_binary) { order(RC_BINARY, RC_BINARY); }
Test(routing, order_1000_mixed) { order(RC_JSON, RC_BINARY); }
