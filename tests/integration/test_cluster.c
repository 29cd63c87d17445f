/*
 * test_cluster.c - brokers sharing one name space through a real Redis
 * (doc/cluster.md): connections across brokers, names unique across
 * them, departures told across them. The failure cases are in
 * test_cluster_faults.c.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>

#include "cluster.h"
#include "httpclient.h"
#include "rawclient.h"

TestSuite(cluster, .fini = mpt_cluster_reap_all, .timeout = 120);

static const char bin_data[] = "\x00\x01\x02\xff\n\"\\{}\x80";
#define BIN_DATA rc_bytes(bin_data, sizeof bin_data - 1)

static size_t lst(enum rc_format f)
{
    return f == RC_JSON ? 0 : 1;
}

static struct rc_client *login_on(struct mpt_cluster *c, size_t broker,
                                  enum rc_format f, const char *name)
{
    return rc_login_any(c->broker[broker], lst(f), f, name);
}

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

/* alice on broker 0 and bob on broker 1 open a connection, talk both
 * ways and close it, in the formats given. */
static void talk_across(enum rc_format fa, enum rc_format fb)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, fa, "alice");
    struct rc_client *bob = login_on(c, 1, fb, "bob");

    rc_open_conn(alice, bob, "alice:1", "echo");
    send_ok(alice, RC_DATA, "bob", "alice:1", BIN_DATA);
    rc_expect(bob, RC_DATA, "alice", "alice:1", BIN_DATA);
    send_ok(bob, RC_DATA, "alice", "alice:1", rc_str("pong"));
    rc_expect(alice, RC_DATA, "bob", "alice:1", rc_str("pong"));
    send_ok(bob, RC_DATA, "alice", "alice:1", RC_EMPTY);
    rc_expect(alice, RC_DATA, "bob", "alice:1", RC_EMPTY);
    send_ok(alice, RC_DATA, "bob", "alice:1", RC_NULL);
    rc_expect(bob, RC_DATA, "alice", "alice:1", RC_NULL);
    send_ok(alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    rc_expect(bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    /* Closed: Data on it now bounces, on the far broker's table too. */
    send_ok(bob, RC_DATA, "alice", "alice:1", rc_str("late"));
    rc_expect(bob, RC_NO_SUCH_CONN, "alice", "alice:1",
              rc_str("late"));
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster, a_connection_between_brokers_json_to_binary)
{
    talk_across(RC_JSON, RC_BINARY);
}

Test(cluster, a_connection_between_brokers_binary_to_binary)
{
    talk_across(RC_BINARY, RC_BINARY);
}

Test(cluster, a_connection_between_brokers_json_to_json)
{
    talk_across(RC_JSON, RC_JSON);
}

Test(cluster, a_syn_refused_by_the_far_client_reaches_its_initiator)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");

    send_ok(alice, RC_SYN, "bob", "alice:7", rc_str("nope"));
    rc_expect(bob, RC_SYN, "alice", "alice:7", rc_str("nope"));
    send_ok(bob, RC_UNKNOWN_PROTO, "alice", "alice:7", RC_NULL);
    rc_expect(alice, RC_UNKNOWN_PROTO, "bob", "alice:7", RC_NULL);
    /* The id is free again on both brokers. */
    rc_open_conn(alice, bob, "alice:7", "echo");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster, a_syn_to_a_name_nobody_has_bounces)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");

    send_ok(alice, RC_SYN, "nobody", "alice:1", rc_str("echo"));
    rc_expect(alice, RC_NO_SUCH_CONN, "nobody", "alice:1",
              rc_str("echo"));
    rc_close(alice);
    mpt_cluster_stop(c);
}

Test(cluster, a_client_leaving_is_told_to_its_peers_on_other_brokers)
{
    struct mpt_cluster *c = mpt_cluster_start(3, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_client *carol = login_on(c, 2, RC_JSON, "carol");

    rc_open_conn(alice, bob, "alice:1", "echo");
    rc_open_conn(alice, bob, "alice:2", "echo");
    rc_open_conn(carol, bob, "carol:1", "echo");
    rc_close(bob);
    /* One ClientClosed each, however many connections they shared. */
    rc_expect(alice, RC_CLIENT_CLOSED, "bob", "", RC_NULL);
    rc_expect(carol, RC_CLIENT_CLOSED, "bob", "", RC_NULL);
    /* The name is free again, anywhere. */
    bob = login_on(c, 2, RC_JSON, "bob");
    rc_open_conn(alice, bob, "alice:3", "echo");
    rc_close(alice);
    rc_close(bob);
    rc_close(carol);
    mpt_cluster_stop(c);
}

Test(cluster, with_reject_a_name_logged_in_elsewhere_is_refused)
{
    struct mpt_cluster_opts o = {.extra = "duplicate_names = \"reject\";"};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *again = rc_connect(c->broker[1], 0, RC_JSON);
    struct rc_msg m;

    cr_assert_eq(rc_auth(again, "alice", MPT_SECRET_ALLOW_ALL, &m), RC_OK);
    cr_assert_eq(m.meta, RC_AUTH_FAILURE);
    cr_assert(strstr((char *)m.data, "name already in use") != NULL,
              "reason: %s", m.data);
    rc_msg_free(&m);
    rc_close(again);
    rc_close(alice);
    mpt_cluster_stop(c);
}

Test(cluster, with_replace_a_login_elsewhere_closes_the_older_session)
{
    struct mpt_cluster *c = mpt_cluster_start(3, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_client *newer;

    rc_open_conn(bob, alice, "bob:1", "echo");
    newer = login_on(c, 2, RC_JSON, "alice");
    rc_expect_closed(alice, -1);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    /* The newer session is the one a Syn reaches. */
    rc_open_conn(bob, newer, "bob:2", "echo");
    rc_close(alice);
    rc_close(bob);
    rc_close(newer);
    mpt_cluster_stop(c);
}

Test(cluster, a_killed_broker_closes_its_connections_and_frees_its_names)
{
    mpt_cluster_skip_if_wrapped();
    /* With "replace" a new login takes the name at once; "reject" shows
     * that the dead broker's lease runs out and its names are freed. */
    struct mpt_cluster_opts o = {.extra = "duplicate_names = \"reject\";"};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    long long start, deadline;
    struct rc_msg m;

    rc_open_conn(alice, bob, "alice:1", "echo");
    start = mpt_now_ms();
    mpt_cluster_kill9(c, 1);
    cr_assert_eq(rc_recv(alice, &m, mpt_ms(1000)), RC_OK,
                 "no ClientClosed within a second");
    cr_assert_eq(m.meta, RC_CLIENT_CLOSED);
    cr_assert_str_eq(m.other_client, "bob");
    rc_msg_free(&m);
    cr_log_info("ClientClosed after %lld ms", mpt_now_ms() - start);
    /* Its names can be taken again within the lease. */
    deadline = start + mpt_ms(MPT_CLUSTER_LEASE_MS + 2000);
    for (;;) {
        struct rc_client *again = rc_connect(c->broker[0], 1, RC_BINARY);
        int rc = rc_auth(again, "bob", MPT_SECRET_ALLOW_ALL, &m);
        bool ok = rc == RC_OK && m.meta == RC_AUTH_OK;

        if (rc == RC_OK)
            rc_msg_free(&m);
        if (ok) {
            rc_open_conn(alice, again, "alice:2", "echo");
            rc_close(again);
            break;
        }
        rc_close(again);
        cr_assert(mpt_now_ms() < deadline,
                  "bob's name was not freed within the lease");
        /* The name is held until the dead broker's lease runs out:
         * poll for that, bounded by the deadline. */
        cr_assert(harness_wait_log(c->broker[0], "cluster: reaped",
                                   mpt_ms(200)) ||
                  mpt_now_ms() < deadline);
    }
    rc_close(alice);
    harness_stop(c->broker[0]);
    c->broker[0] = NULL;
    mpt_cluster_free(c);
}

Test(cluster, a_syn_to_a_name_that_moved_since_its_look_up_finds_it)
{
    struct mpt_cluster *c = mpt_cluster_start(3, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");

    /* Broker 0 looks bob up once and keeps the answer a while. */
    rc_open_conn(alice, bob, "alice:1", "echo");
    send_ok(alice, RC_CLOSED, "bob", "alice:1", RC_NULL);
    rc_expect(bob, RC_CLOSED, "alice", "alice:1", RC_NULL);
    /* bob moves to broker 2; nobody had a connection to tell. */
    rc_close(bob);
    cr_assert(harness_wait_log(c->broker[1], "client bob left",
                               mpt_ms(MPT_MSG_MS)));
    bob = login_on(c, 2, RC_JSON, "bob");
    /* The old session refuses the Syn as stale; one fresh look-up. */
    rc_open_conn(alice, bob, "alice:2", "echo");
    cr_assert(harness_log_contains(c->broker[0], "bob moved since it was "
                                                 "looked up"));
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster, a_broker_stopped_cleanly_frees_its_names_at_once)
{
    struct mpt_cluster_opts o = {.extra = "duplicate_names = \"reject\";"};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");

    rc_open_conn(alice, bob, "alice:1", "echo");
    harness_stop(c->broker[1]);
    c->broker[1] = NULL;
    rc_expect(alice, RC_CLIENT_CLOSED, "bob", "", RC_NULL);
    rc_close(bob);
    /* Not after a lease: the broker left the registry on its way out. */
    bob = login_on(c, 0, RC_BINARY, "bob");
    rc_open_conn(alice, bob, "alice:2", "echo");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster, metrics_show_the_cluster)
{
    struct mpt_cluster_opts o = {
        .extra = "metrics = { address = \"127.0.0.1\"; port = 0; };"};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct http_response r;
    long long deadline = mpt_now_ms() + mpt_ms(5000);

    rc_open_conn(alice, bob, "alice:1", "echo");
    send_ok(alice, RC_DATA, "bob", "alice:1", rc_str("12345"));
    rc_expect(bob, RC_DATA, "alice", "alice:1", rc_str("12345"));
    /* The count of brokers comes with a renewal after both registered. */
    for (;;) {
        r = http_exchange(http_metrics_port(c->broker[0]),
                          "GET /metrics HTTP/1.0\r\n\r\n");
        cr_assert_eq(r.status, 200);
        if (strstr(r.body, "\nmpbroker_cluster_brokers_alive 2\n") != NULL)
            break;
        http_response_free(&r);
        cr_assert_lt(mpt_now_ms(), deadline, "brokers_alive never 2");
        cr_assert(!harness_wait_log(c->broker[0], "never logged",
                                    mpt_ms(MPT_CLUSTER_RENEW_MS)));
    }
    cr_expect(strstr(r.body, "\nmpbroker_cluster_live 1\n") != NULL);
    cr_expect(strstr(r.body, "\nmpbroker_cluster_links_up 1\n") != NULL);
    cr_expect(strstr(r.body, "\nmpbroker_cluster_remote_clients 1\n") != NULL);
    /* The Syn's protocol name (4) and the Data (5). */
    cr_expect(strstr(r.body, "\nmpbroker_cluster_data_bytes_out_total 9\n")
              != NULL);
    cr_expect(strstr(r.body, "\nmpbroker_cluster_fencings_total 0\n") != NULL);
    cr_expect(strstr(r.body, "mpbroker_cluster_redis_rtt_seconds ") != NULL);
    http_response_free(&r);
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* mpbroker -t: exit 1 with `needle` on stderr. */
static void check_refuses(const char *conf_text, const char *needle)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_config(h, conf_text);
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    cr_expect_eq(r.exit_code, 1, "exit %d for:\n%s", r.exit_code, conf_text);
    cr_expect(strstr(r.err, needle) != NULL, "no \"%s\" in:\n%s", needle,
              r.err);
    run_result_free(&r);
    harness_free(h);
}

Test(cluster, the_config_check_names_what_is_wrong_in_the_cluster_group)
{
    check_refuses(MPT_AUTH_ALLOW_ALL "cluster = { link = { }; };\n",
                  "cluster.link: secret_file is required");
    check_refuses(MPT_AUTH_ALLOW_ALL
                  "cluster = { link = { secret_file = \"/nonexistent\"; };"
                  " };\n",
                  "cannot read /nonexistent");
    check_refuses(MPT_AUTH_ALLOW_ALL
                  "cluster = { lease_ms = 5000; fence_ms = 5000;\n"
                  "  link = { secret_file = \"/x\"; }; };\n",
                  "cluster.fence_ms: must be less than cluster.lease_ms");
    check_refuses(MPT_AUTH_ALLOW_ALL
                  "cluster = { redis = \"redis://x\";\n"
                  "  link = { secret_file = \"/x\"; }; };\n",
                  "cluster.redis: must be \"tcp:HOST:PORT\"");
    check_refuses(MPT_AUTH_ALLOW_ALL
                  "cluster = { link = { address = \"0.0.0.0\";"
                  " secret_file = \"/x\"; }; };\n",
                  "cluster.link: advertise is required");
}

Test(cluster, a_redis_with_a_password_is_logged_into)
{
    struct mpt_cluster_opts o = {.redis_password = "s3cret-redis",
                                 .wrong_password = {NULL, NULL, "nope"}};
    struct mpt_cluster *c = mpt_cluster_start(3, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_client *carol = rc_connect(c->broker[2], 0, RC_JSON);
    struct rc_msg m;

    rc_open_conn(alice, bob, "alice:1", "echo");
    /* The broker with the wrong password says so, and refuses logins
     * rather than admit a name nobody registered. */
    cr_assert(harness_wait_log(c->broker[2], "Redis refused our credentials",
                               mpt_ms(5000)));
    cr_assert_eq(rc_auth(carol, "carol", MPT_SECRET_ALLOW_ALL, &m), RC_OK);
    cr_assert_eq(m.meta, RC_AUTH_FAILURE);
    cr_assert(strstr((char *)m.data, "cluster registry unavailable") != NULL,
              "%s", m.data);
    rc_msg_free(&m);
    rc_close(carol);
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster, a_reload_keeps_the_cluster_and_refuses_to_change_it)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    const char *conf = harness_path(c->broker[0], "mpbroker.conf");
    size_t mark = harness_log_mark(c->broker[0]);
    char *text, *at;
    FILE *f;
    long len;

    rc_open_conn(alice, bob, "alice:1", "echo");
    cr_assert(harness_signal(c->broker[0], SIGHUP));
    cr_assert(harness_wait_log_from(c->broker[0], mark, "reload done",
                                    mpt_ms(MPT_MSG_MS)));
    send_ok(alice, RC_DATA, "bob", "alice:1", rc_str("after a reload"));
    rc_expect(bob, RC_DATA, "alice", "alice:1", rc_str("after a reload"));
    /* The same file with another lease: refused, the cluster goes on. */
    f = fopen(conf, "r");
    cr_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)len + 16);
    cr_assert(text != NULL && fread(text, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    at = strstr(text, "lease_ms = ");
    cr_assert(at != NULL);
    at[strlen("lease_ms = ")] = '9';
    f = fopen(conf, "w");
    cr_assert(f != NULL && fputs(text, f) >= 0);
    fclose(f);
    free(text);
    mark = harness_log_mark(c->broker[0]);
    cr_assert(harness_signal(c->broker[0], SIGHUP));
    cr_assert(harness_wait_log_from(c->broker[0], mark,
                                    "cluster.lease_ms: changing it needs a "
                                    "restart", mpt_ms(MPT_MSG_MS)));
    cr_assert(harness_wait_log_from(c->broker[0], mark, "reload failed",
                                    mpt_ms(MPT_MSG_MS)));
    send_ok(bob, RC_DATA, "alice", "alice:1", rc_str("still"));
    rc_expect(alice, RC_DATA, "bob", "alice:1", rc_str("still"));
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* Data already on the link when its connection ends on the far broker
 * is bounced there (NoSuchConnection back across): the far broker must
 * survive it (it once freed the frame's own bytes). */
Test(cluster, data_in_flight_to_a_closed_connection_bounces_back)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_BINARY, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    unsigned bounced = 0;

    for (int round = 0; round < 20 && bounced == 0; round++) {
        char id[32];
        struct rc_msg m;
        bool closed = false;

        snprintf(id, sizeof id, "alice:%d", round);
        rc_open_conn(alice, bob, id, "echo");
        /* A burst from alice; bob ends the connection meanwhile. */
        for (int i = 0; i < 2000; i++)
            send_ok(alice, RC_DATA, "bob", id, rc_str("in flight"));
        send_ok(bob, RC_CLOSED, "alice", id, RC_NULL);
        /* alice gets bob's Closed, and the bounces of what crossed it. */
        while (!closed || rc_recv(alice, &m, mpt_ms(200)) == RC_OK) {
            if (!closed) {
                cr_assert_eq(rc_recv(alice, &m, mpt_ms(MPT_MSG_MS)), RC_OK);
            }
            if (m.meta == RC_CLOSED)
                closed = true;
            else
                cr_assert_eq(m.meta, RC_NO_SUCH_CONN, "meta %d", m.meta);
            bounced += m.meta == RC_NO_SUCH_CONN;
            rc_msg_free(&m);
        }
        /* What bob got before he closed is his; drain it. */
        while (rc_recv(bob, &m, 0) == RC_OK)
            rc_msg_free(&m);
    }
    cr_log_info("%u messages bounced back across", bounced);
    cr_assert_gt(bounced, 0, "no message was in flight when bob closed");
    /* Both brokers still serve. */
    rc_open_conn(alice, bob, "alice:last", "echo");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* The registry runs its scripts by SHA1 (EVALSHA), loaded on each new
 * connection: flushed from Redis, they are loaded again. */
Test(cluster, scripts_flushed_from_redis_are_loaded_again)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = NULL;
    struct redisReply *r = redis_server_command(c->redis, "SCRIPT FLUSH");
    long long deadline = mpt_now_ms() + mpt_ms(5000);

    cr_assert(r != NULL);
    freeReplyObject(r);
    /* A call or two may find them gone (refused: "unavailable"). */
    while (bob == NULL) {
        struct rc_client *cl = rc_connect(c->broker[1], 1, RC_BINARY);
        struct rc_msg m;

        cr_assert_eq(rc_auth(cl, "bob", MPT_SECRET_ALLOW_ALL, &m), RC_OK);
        if (m.meta == RC_AUTH_OK)
            bob = cl;
        else
            rc_close(cl);
        rc_msg_free(&m);
        cr_assert_lt(mpt_now_ms(), deadline, "logins never came back");
    }
    rc_open_conn(alice, bob, "alice:1", "echo");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * Protocol level 2 across brokers: one credit mechanism end to end (the
 * link's CREDIT frames carry the far receiver's grants), and Replaced.
 */

#define L2_WINDOW 4096
#define L2_DATA 960
#define L2_COST (L2_DATA + 64)

static struct rc_client *login2_on(struct mpt_cluster *c, size_t broker,
                                   enum rc_format f, const char *name)
{
    struct rc_client *cl = rc_login_level(c->broker[broker], lst(f), f, name,
                                          2);
    struct rc_msg m;

    rc_expect_meta(cl, RC_AUTH_OK, &m);
    rc_msg_free(&m);
    return cl;
}

static struct rc_blob l2_payload(void)
{
    static char data[L2_DATA];

    memset(data, 'c', sizeof data);
    return rc_bytes(data, sizeof data);
}

static void l2_grant(struct rc_client *from, const char *to, const char *id,
                     unsigned bytes, struct rc_client *sender)
{
    char text[16];

    snprintf(text, sizeof text, "%u", bytes);
    send_ok(from, 11, to, id, rc_str(text));
    if (sender != NULL)
        rc_expect(sender, 11, rc_name(from), id, rc_str(text));
}

static struct mpt_cluster *start_l2(void)
{
    struct mpt_cluster_opts o = {
        .extra = "limits = { connection_window = 4096; };\n"
                 "log = { level = \"debug\"; };\n",
    };

    return mpt_cluster_start(2, &o);
}

Test(cluster, level2_credit_holds_at_the_window_across_brokers)
{
    struct mpt_cluster *c = start_l2();
    struct rc_client *s = login2_on(c, 0, RC_BINARY, "s");
    struct rc_client *r = login2_on(c, 1, RC_JSON, "r");
    struct rc_msg m;

    rc_open_conn(s, r, "s:1", "p");
    for (int i = 0; i < L2_WINDOW / L2_COST; i++)
        send_ok(s, RC_DATA, "r", "s:1", l2_payload());
    for (int i = 0; i < L2_WINDOW / L2_COST; i++)
        rc_expect(r, RC_DATA, "s", "s:1", l2_payload());
    send_ok(s, RC_DATA, "r", "s:1", l2_payload());
    rc_expect(s, RC_WAT, "r", "s:1",
              rc_str("data beyond the connection's credit"));
    /* r's grant crosses the link and reaches s as r's Credit. */
    l2_grant(r, "s", "s:1", L2_COST, s);
    send_ok(s, RC_DATA, "r", "s:1", l2_payload());
    rc_expect(r, RC_DATA, "s", "s:1", l2_payload());
    send_ok(s, RC_DATA, "r", "s:1", l2_payload());
    rc_expect_meta(s, RC_WAT, &m);
    rc_msg_free(&m);
    rc_close(s);
    rc_close(r);
    mpt_cluster_stop(c);
}

/* A level-1 sender stops being read on its broker when the far level-2
 * receiver grants nothing, and is read again at each grant. */
Test(cluster, level1_sender_waits_for_a_far_level2_receiver)
{
    struct mpt_cluster *c = start_l2();
    struct rc_client *s = login_on(c, 0, RC_JSON, "s");
    struct rc_client *r = login2_on(c, 1, RC_BINARY, "r");
    enum { SENT = 8 };

    rc_open_conn(s, r, "s:1", "p");
    for (int i = 0; i < SENT; i++)
        send_ok(s, RC_DATA, "r", "s:1", l2_payload());
    for (int i = 0; i < L2_WINDOW / L2_COST; i++)
        rc_expect(r, RC_DATA, "s", "s:1", l2_payload());
    cr_assert(harness_wait_log(c->broker[0], "pausing s: out of credit",
                               mpt_ms(MPT_MSG_MS)));
    for (int got = L2_WINDOW / L2_COST; got < SENT; got++) {
        l2_grant(r, "s", "s:1", L2_COST, NULL);
        rc_expect(r, RC_DATA, "s", "s:1", l2_payload());
    }
    rc_close(s);
    rc_close(r);
    mpt_cluster_stop(c);
}

/* A far level-1 receiver: its broker grants as it queues, by half
 * windows, and the grant reaches the level-2 sender as its Credit. */
Test(cluster, a_far_level1_receiver_is_granted_for_by_its_broker)
{
    struct mpt_cluster *c = start_l2();
    struct rc_client *s = login2_on(c, 0, RC_BINARY, "s");
    struct rc_client *r = login_on(c, 1, RC_JSON, "r");

    rc_open_conn(s, r, "s:1", "p");
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2; i++) {
            send_ok(s, RC_DATA, "r", "s:1", l2_payload());
            rc_expect(r, RC_DATA, "s", "s:1", l2_payload());
        }
        rc_expect(s, 11, "r", "s:1", rc_str("2048"));
    }
    rc_close(s);
    rc_close(r);
    mpt_cluster_stop(c);
}

Test(cluster, level2_a_session_replaced_from_another_broker_is_told)
{
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *old = login2_on(c, 0, RC_BINARY, "alice");
    struct rc_client *newer = login_on(c, 1, RC_JSON, "alice");

    rc_expect(old, 17, "alice", "",
              rc_str("replaced by a newer login on another broker"));
    rc_expect_eof(old);
    rc_close(old);
    rc_close(newer);
    mpt_cluster_stop(c);
}
