/*
 * Unit tests: the router (broker/router.c) in process, between fake
 * endpoints (fake_endpoint.h): names, the connection rules of
 * doc/protocol.md ("Broker behaviour"), who is named as the sender of
 * each delivery, and the fast lane's wire data. No socket, no loop.
 */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "broker.h"
#include "codec.h"
#include "conn_table.h"
#include "fake_endpoint.h"
#include "hashmap.h"
#include "router.h"

static struct broker *b;
static struct fake_endpoint alice, bob, carol;

/* Two formats for the fast lane: JSON and binary as shipped. */
static const struct mp_plugin json_desc = {.kind = MP_PLUGIN_TRANSLATOR,
                                           .name = "json",
                                           .codec = &mp_codec_json};
static const struct mp_plugin binary_desc = {.kind = MP_PLUGIN_TRANSLATOR,
                                             .name = "binary",
                                             .codec = &mp_codec_binary};
static struct loaded_plugin json = {.desc = &json_desc, .name = "json"};
static struct loaded_plugin binary = {.desc = &binary_desc, .name = "binary"};

static void setup(void)
{
    b = broker_new();
    cr_assert_not_null(b);
    /* The ops tables callers use, as plugins_load() copies them. */
    json.codec = mp_codec_json;
    binary.codec = mp_codec_binary;
    b->conf.max_connections_per_client = 4;
    b->conf.max_connections_per_pair = 2;
    b->conf.duplicate_names = DUPLICATE_REPLACE;
    fake_endpoint_init(&alice, b);
    fake_endpoint_init(&bob, b);
    fake_endpoint_init(&carol, b);
    fake_endpoint_login(&alice, "alice");
    fake_endpoint_login(&bob, "bob");
}

static void teardown(void)
{
    fake_endpoint_free(&alice);
    fake_endpoint_free(&bob);
    fake_endpoint_free(&carol);
    broker_free(b);
}

TestSuite(router, .init = setup, .fini = teardown);

/* A message {meta, other, id, data} (data NULL: absent). */
static struct mp_message make(uint8_t meta, const char *other, const char *id,
                              const char *data)
{
    struct mp_message m;

    memset(&m, 0, sizeof m);
    m.meta = meta;
    mp_message_set_other_client(&m, other, strlen(other));
    mp_message_set_connection_id(&m, id, strlen(id));
    if (data != NULL)
        mp_message_set_data(&m, data, strlen(data));
    return m;
}

static enum route_result send_msg(struct fake_endpoint *from, uint8_t meta,
                                  const char *to, const char *id,
                                  const char *data)
{
    struct mp_message m = make(meta, to, id, data);
    enum route_result r = route(&from->ep, &m, NULL);

    mp_message_clear(&m);
    return r;
}

/* The one delivery `f` got: meta, other_client, data. */
static void assert_got(struct fake_endpoint *f, size_t i, uint8_t meta,
                       const char *other, const char *data)
{
    const struct mp_message *m;

    cr_assert_gt(f->n_got, i, "%s got %zu messages", f->ep.name, f->n_got);
    m = &f->got[i].msg;
    cr_assert_eq(m->meta, meta, "%s got %s, not %s", f->ep.name,
                 mp_meta_name(m->meta), mp_meta_name(meta));
    cr_assert_str_eq(m->other_client, other);
    if (data == NULL) {
        cr_assert(!m->has_data);
    } else {
        cr_assert(m->has_data);
        cr_assert_eq(m->data_len, strlen(data));
        cr_assert_eq(memcmp(m->data, data, m->data_len), 0);
    }
}

/* alice opens alice:1 to bob, and bob acks it. */
static void open_connection(void)
{
    cr_assert_eq(send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo"),
                 ROUTED);
    cr_assert_eq(send_msg(&bob, MP_META_CONN_ACK, "alice", "alice:1", NULL),
                 ROUTED);
    fake_endpoint_reset(&alice);
    fake_endpoint_reset(&bob);
}

Test(router, syn_reaches_target_named_after_its_sender)
{
    cr_assert_eq(send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo"),
                 ROUTED);
    assert_got(&bob, 0, MP_META_CONN_SYN, "alice", "echo");
    cr_assert_eq(bob.got[0].sender, &alice.ep);
    cr_assert_eq(alice.n_got, 0);
    cr_assert_eq(conn_table_count(b->conns), 1);
    cr_assert_eq(b->stats.connections_opened, 1);
}

Test(router, syn_to_absent_client_bounces_intact)
{
    send_msg(&alice, MP_META_CONN_SYN, "nobody", "alice:1", "echo");
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "nobody", "echo");
    cr_assert_eq(alice.got[0].sender, &alice.ep);
    cr_assert_eq(conn_table_count(b->conns), 0);
    cr_assert_eq(b->stats.bounced, 1);
}

Test(router, syn_with_foreign_id_bounces_and_counts_a_bad_message)
{
    send_msg(&alice, MP_META_CONN_SYN, "bob", "bob:1", "echo");
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "bob", "echo");
    cr_assert_eq(alice.bad_messages, 1);
    cr_assert_eq(bob.n_got, 0);
}

Test(router, syn_with_id_in_use_is_answered_wat)
{
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo");
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo");
    assert_got(&alice, 0, MP_META_WAT, "bob", "connection id already in use");
    cr_assert_eq(alice.bad_messages, 1);
    cr_assert_eq(bob.n_got, 1);
}

Test(router, data_before_ack_bounces)
{
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo");
    send_msg(&alice, MP_META_DATA, "bob", "alice:1", "early");
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "bob", "early");
    cr_assert_eq(bob.n_got, 1); /* the Syn only */
}

Test(router, only_the_target_acks)
{
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "echo");
    send_msg(&alice, MP_META_CONN_ACK, "bob", "alice:1", NULL);
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "bob", NULL);
    send_msg(&bob, MP_META_CONN_ACK, "alice", "alice:1", NULL);
    assert_got(&alice, 1, MP_META_CONN_ACK, "bob", NULL);
    cr_assert_eq(alice.got[1].sender, &bob.ep);
}

Test(router, data_flows_both_ways_once_open)
{
    open_connection();
    send_msg(&alice, MP_META_DATA, "bob", "alice:1", "ping");
    send_msg(&bob, MP_META_DATA, "alice", "alice:1", "pong");
    assert_got(&bob, 0, MP_META_DATA, "alice", "ping");
    assert_got(&alice, 0, MP_META_DATA, "bob", "pong");
    cr_assert_eq(bob.got[0].sender, &alice.ep);
    cr_assert_eq(alice.got[0].sender, &bob.ep);
}

Test(router, data_addressed_to_a_third_client_bounces)
{
    fake_endpoint_login(&carol, "carol");
    open_connection();
    send_msg(&alice, MP_META_DATA, "carol", "alice:1", "x");
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "carol", "x");
    cr_assert_eq(carol.n_got, 0);
}

Test(router, closed_ends_the_connection)
{
    open_connection();
    send_msg(&bob, MP_META_CONN_CLOSED, "alice", "alice:1", NULL);
    assert_got(&alice, 0, MP_META_CONN_CLOSED, "bob", NULL);
    cr_assert_eq(conn_table_count(b->conns), 0);
    send_msg(&alice, MP_META_DATA, "bob", "alice:1", "late");
    assert_got(&alice, 1, MP_META_NO_SUCH_CONNECTION, "bob", "late");
}

Test(router, stray_refusals_are_dropped_unanswered)
{
    send_msg(&alice, MP_META_UNKNOWN_PROTO, "bob", "bob:9", NULL);
    send_msg(&alice, MP_META_NO_SUCH_CONNECTION, "bob", "bob:9", NULL);
    cr_assert_eq(alice.n_got, 0);
    cr_assert_eq(bob.n_got, 0);
}

Test(router, unknown_proto_from_target_ends_a_pending_connection)
{
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:1", "nope");
    send_msg(&bob, MP_META_UNKNOWN_PROTO, "alice", "alice:1", NULL);
    assert_got(&alice, 0, MP_META_UNKNOWN_PROTO, "bob", NULL);
    cr_assert_eq(conn_table_count(b->conns), 0);
}

Test(router, auth_again_and_unknown_meta_are_answered_wat)
{
    send_msg(&alice, MP_META_AUTH, "alice", "", "secret");
    send_msg(&alice, 200, "bob", "", NULL);
    assert_got(&alice, 0, MP_META_WAT, "alice", "already authenticated");
    assert_got(&alice, 1, MP_META_WAT, "bob",
               "unexpected message type from a client");
    cr_assert_eq(alice.bad_messages, 2);
}

Test(router, a_level_is_never_forwarded)
{
    struct mp_message m = make(MP_META_CONN_SYN, "bob", "alice:1", "echo");

    m.level = 2;
    route(&alice.ep, &m, NULL);
    mp_message_clear(&m);
    cr_assert_eq(bob.got[0].msg.level, 0);
}

/* The router refuses with Denied and its reason; a level-1 session turns
 * it into UnknownProto (session_output.c, tested in test_level2). */
Test(router, connection_limits_refuse_as_denied)
{
    char id[16];

    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof id, "alice:%d", i);
        send_msg(&alice, MP_META_CONN_SYN, "bob", id, "echo");
    }
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:2", "echo");
    assert_got(&alice, 0, MP_META_DENIED, "bob", "too many connections");
    cr_assert_eq(b->stats.syns_refused_per_pair, 1);

    fake_endpoint_login(&carol, "carol");
    send_msg(&alice, MP_META_CONN_SYN, "carol", "alice:3", "echo");
    send_msg(&alice, MP_META_CONN_SYN, "carol", "alice:4", "echo");
    send_msg(&alice, MP_META_CONN_SYN, "carol", "alice:5", "echo");
    assert_got(&alice, 1, MP_META_DENIED, "carol", "too many connections");
    cr_assert_eq(b->stats.syns_refused_per_client, 1);
    cr_assert_eq(conn_table_count(b->conns), 4);
}

Test(router, departure_tells_each_peer_once_as_the_broker)
{
    open_connection();
    send_msg(&alice, MP_META_CONN_SYN, "bob", "alice:2", "echo");
    fake_endpoint_reset(&bob);
    router_unregister(&alice.ep, true);
    cr_assert_eq(bob.n_got, 1);
    assert_got(&bob, 0, MP_META_CLIENT_CLOSED, "alice", NULL);
    cr_assert_null(bob.got[0].sender);
    cr_assert_eq(conn_table_count(b->conns), 0);
    cr_assert_null(hashmap_get(b->names, "alice", 5));
}

Test(router, a_newer_login_replaces_or_is_rejected)
{
    const char *reason = NULL;

    endpoint_set_name(&carol.ep, "alice", 5);
    cr_assert_eq(router_register(&carol.ep, &reason), 0);
    cr_assert_str_eq(alice.closed, "replaced by a newer login");
    cr_assert_eq(hashmap_get(b->names, "alice", 5), &carol.ep);

    b->conf.duplicate_names = DUPLICATE_REJECT;
    endpoint_set_name(&alice.ep, "bob", 3);
    cr_assert_eq(router_register(&alice.ep, &reason), -1);
    cr_assert_str_eq(reason, "name already in use");
    cr_assert_eq(hashmap_get(b->names, "bob", 3), &bob.ep);
}

/* ------------------------------------------------------------------------
 * The fast lane: data in the sender's wire form
 */

static enum route_result send_wire(struct fake_endpoint *from, uint8_t meta,
                                   const char *to, const char *id,
                                   const struct loaded_plugin *format,
                                   const char *wire)
{
    struct mp_message m = make(meta, to, id, NULL);
    struct wire_data w = {.bytes = (const unsigned char *)wire,
                          .len = strlen(wire), .format = format};
    enum route_result r;

    m.has_data = true;
    r = route(&from->ep, &m, &w);
    mp_message_clear(&m);
    return r;
}

Test(router, wire_data_passes_on_as_it_came_to_the_same_format)
{
    alice.ep.format = bob.ep.format = &json;
    open_connection();
    cr_assert_eq(send_wire(&alice, MP_META_DATA, "bob", "alice:1", &json,
                           "aGk="), ROUTED);
    cr_assert(bob.got[0].as_wire);
    assert_got(&bob, 0, MP_META_DATA, "alice", "aGk=");
}

Test(router, wire_data_is_decoded_once_for_another_format)
{
    alice.ep.format = &json;
    bob.ep.format = &binary;
    open_connection();
    cr_assert_eq(send_wire(&alice, MP_META_DATA, "bob", "alice:1", &json,
                           "aGk="), ROUTED);
    cr_assert(!bob.got[0].as_wire);
    assert_got(&bob, 0, MP_META_DATA, "alice", "hi");
}

Test(router, wire_data_bounces_in_the_senders_own_form)
{
    alice.ep.format = &json;
    send_wire(&alice, MP_META_DATA, "bob", "alice:7", &json, "aGk=");
    cr_assert(alice.got[0].as_wire);
    assert_got(&alice, 0, MP_META_NO_SUCH_CONNECTION, "bob", "aGk=");
}

Test(router, a_syn_in_wire_form_is_decoded_for_the_rules)
{
    alice.ep.format = bob.ep.format = &json;
    send_wire(&alice, MP_META_CONN_SYN, "bob", "alice:1", &json, "ZWNobw==");
    cr_assert(!bob.got[0].as_wire);
    assert_got(&bob, 0, MP_META_CONN_SYN, "alice", "echo");
}

Test(router, a_format_without_wire_data_asks_for_a_full_decode)
{
    static struct mp_codec_ops bare;
    static struct mp_plugin bare_desc;
    static struct loaded_plugin bare_plugin;

    bare = mp_codec_json;
    bare.wire_data = NULL;
    bare_desc = json_desc;
    bare_desc.codec = &bare;
    bare_plugin.desc = &bare_desc;
    bare_plugin.codec = bare;
    bare_plugin.name = "bare";
    alice.ep.format = &bare_plugin;
    bob.ep.format = &binary;
    open_connection();
    cr_assert_eq(send_wire(&alice, MP_META_DATA, "bob", "alice:1",
                           &bare_plugin, "aGk="), ROUTE_NEEDS_DATA);
    cr_assert_eq(bob.n_got, 0);
    cr_assert_eq(conn_table_count(b->conns), 1);
}

Test(router, absent_data_in_wire_form_stays_absent_for_another_format)
{
    struct mp_message m = make(MP_META_CONN_CLOSED, "bob", "alice:1", NULL);
    struct wire_data w = {.bytes = (const unsigned char *)"", .len = 0,
                          .format = &json};

    alice.ep.format = &json;
    bob.ep.format = &binary;
    open_connection();
    cr_assert_eq(route(&alice.ep, &m, &w), ROUTED);
    mp_message_clear(&m);
    cr_assert(!bob.got[0].as_wire);
    assert_got(&bob, 0, MP_META_CONN_CLOSED, "alice", NULL);
}
