/*
 * test_cluster_faults.c - the failure table of doc/cluster.md, each row
 * a test with real brokers, a real redis-server and, to cut exactly one
 * path, a socat proxy stopped with SIGSTOP (tests/support/cluster.h).
 * Also the two load cases: logins racing for one name, and numbered
 * messages across brokers (nothing lost, nothing reordered).
 *
 * Timings are the test brokers' (cluster.h: lease 3 s, fence 2 s, link
 * timeout 1 s), scaled by mpt_ms. "Nothing happened" is checked by
 * waiting for the log line that would say it did, bounded.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cluster.h"
#include "numbered.h"
#include "rawclient.h"

TestSuite(cluster_faults, .fini = mpt_cluster_reap_all, .timeout = 240);

#define REJECT "duplicate_names = \"reject\";"

static struct rc_client *login_on(struct mpt_cluster *c, size_t broker,
                                  enum rc_format f, const char *name)
{
    return rc_login_any(c->broker[broker], f == RC_JSON ? 0 : 1, f, name);
}

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

/* A message each way on an open connection arrives. */
static void still_talking(struct rc_client *a, struct rc_client *b,
                          const char *id, const char *text)
{
    send_ok(a, RC_DATA, rc_name(b), id, rc_str(text));
    rc_expect(b, RC_DATA, rc_name(a), id, rc_str(text));
    send_ok(b, RC_DATA, rc_name(a), id, rc_str(text));
    rc_expect(a, RC_DATA, rc_name(b), id, rc_str(text));
}

/* Try to log `name` in on broker i: true on AuthOk (*out is the
 * client), false on AuthFailure. */
static bool try_login(struct mpt_cluster *c, size_t i, const char *name,
                      struct rc_client **out)
{
    struct rc_client *cl = rc_connect(c->broker[i], 1, RC_BINARY);
    struct rc_msg m;
    int rc = rc_auth(cl, name, MPT_SECRET_ALLOW_ALL, &m);
    bool ok = rc == RC_OK && m.meta == RC_AUTH_OK;

    if (rc == RC_OK)
        rc_msg_free(&m);
    if (ok) {
        *out = cl;
        return true;
    }
    rc_close(cl);
    return false;
}

static size_t count_lines(struct harness *h, const char *what)
{
    char *log = harness_log_text(h);
    size_t n = 0;

    for (const char *p = log; (p = strstr(p, what)) != NULL; p++)
        n++;
    free(log);
    return n;
}

/* ------------------------------------------------------------------------
 * 1. Logins racing for one name
 */

#define RACERS 100

/* RACERS clients on the brokers in turn send Auth as "x" at once;
 * returns how many got AuthOk, which are in ok[]. */
static size_t race(struct mpt_cluster *c, struct rc_client **cl, bool *ok)
{
    size_t n = 0;

    for (size_t i = 0; i < RACERS; i++) {
        enum rc_format f = i % 2 ? RC_BINARY : RC_JSON;
        cl[i] = rc_connect(c->broker[i % c->n], f == RC_JSON ? 0 : 1, f);
    }
    for (size_t i = 0; i < RACERS; i++)
        send_ok(cl[i], RC_AUTH, "x", "", rc_str(MPT_SECRET_ALLOW_ALL));
    for (size_t i = 0; i < RACERS; i++) {
        struct rc_msg m;
        cr_assert_eq(rc_recv(cl[i], &m, mpt_ms(10000)), RC_OK,
                     "racer %zu: no answer to its Auth", i);
        ok[i] = m.meta == RC_AUTH_OK;
        cr_assert(ok[i] || m.meta == RC_AUTH_FAILURE, "racer %zu: meta %d",
                  i, m.meta);
        n += ok[i];
        rc_msg_free(&m);
    }
    return n;
}

Test(cluster_faults, with_reject_exactly_one_of_100_racing_logins_wins)
{
    struct mpt_cluster_opts o = {.extra = REJECT};
    struct mpt_cluster *c = mpt_cluster_start(3, &o);
    struct rc_client *cl[RACERS];
    bool ok[RACERS];

    cr_assert_eq(race(c, cl, ok), 1, "not exactly one winner");
    for (size_t i = 0; i < RACERS; i++)
        rc_close(cl[i]);
    mpt_cluster_stop(c);
}

Test(cluster_faults, with_replace_exactly_one_of_100_racing_logins_survives)
{
    struct mpt_cluster *c = mpt_cluster_start(3, NULL);
    struct rc_client *cl[RACERS], *w = login_on(c, 0, RC_JSON, "w");
    bool ok[RACERS];
    size_t open = 0, survivor = 0;

    cr_assert_geq(race(c, cl, ok), 1);
    /* Every replaced session is closed, at once or at the next renewal
     * of its broker (a kick in its mailbox); the survivor alone takes the
     * whole bound. */
    for (size_t i = 0; i < RACERS; i++) {
        if (ok[i] &&
            rc_wait_eof(cl[i], mpt_ms(MPT_CLUSTER_RENEW_MS * 5)) != RC_EOF) {
            open++;
            survivor = i;
        }
    }
    cr_assert_eq(open, 1, "%zu sessions of x survived", open);
    /* The survivor is the one the registry names: a Syn reaches it. */
    rc_open_conn(w, cl[survivor], "w:1", "echo");
    /* And its peers hear when a newer login replaces it too. */
    {
        struct rc_client *last = login_on(c, (survivor + 1) % 3, RC_JSON,
                                          "x");
        rc_expect(w, RC_CLIENT_CLOSED, "x", "", RC_NULL);
        rc_close(last);
    }
    for (size_t i = 0; i < RACERS; i++)
        rc_close(cl[i]);
    rc_close(w);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * 2. Numbered Data both ways on 50 connections: none lost or reordered
 */

#define CONNS 50
#define DATA_LEN 16

struct pump {
    int fd;
    const char *peer;     /* where its messages go */
    unsigned char out[65536];
    size_t out_len, out_off;
    uint32_t next_seq[CONNS];
    uint32_t sent, total;
    unsigned char *in;
    size_t in_len, in_cap;
    uint32_t want_seq[CONNS];
    uint32_t received;
    char ids[CONNS][32];
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* Fill the output with frames round-robin over the connections. */
static void pump_fill(struct pump *p)
{
    if (p->out_off < p->out_len)
        return;
    p->out_len = p->out_off = 0;
    while (p->sent < p->total && p->out_len + 256 <= sizeof p->out) {
        size_t k = p->sent % CONNS;
        p->out_len += data_frame(p->out + p->out_len, p->peer, p->ids[k],
                                 p->next_seq[k]++, DATA_LEN);
        p->sent++;
    }
}

static void pump_write(struct pump *p)
{
    ssize_t n;

    pump_fill(p);
    if (p->out_off == p->out_len)
        return;
    n = write(p->fd, p->out + p->out_off, p->out_len - p->out_off);
    if (n > 0)
        p->out_off += (size_t)n;
    else
        cr_assert(n < 0 && errno == EAGAIN, "write: %s", strerror(errno));
}

/* The connection index of a received id, from the ids both sides use. */
static size_t conn_index(const struct pump *p, const unsigned char *id,
                         size_t len)
{
    for (size_t k = 0; k < CONNS; k++) {
        if (strlen(p->ids[k]) == len && memcmp(p->ids[k], id, len) == 0)
            return k;
    }
    cr_assert_fail("a message on an unknown connection");
    return 0;
}

static void pump_read(struct pump *p)
{
    size_t pos = 0;
    ssize_t n;

    if (p->in_cap - p->in_len < 65536) {
        p->in_cap *= 2;
        p->in = realloc(p->in, p->in_cap);
        cr_assert(p->in != NULL);
    }
    n = read(p->fd, p->in + p->in_len, p->in_cap - p->in_len);
    cr_assert(n != 0, "the broker closed the socket");
    if (n < 0) {
        cr_assert(errno == EAGAIN, "read: %s", strerror(errno));
        return;
    }
    p->in_len += (size_t)n;
    while (p->in_len - pos >= 8 && p->in_len - pos >= 4 + be32(p->in + pos)) {
        const unsigned char *f = p->in + pos;
        size_t name_len = f[6], id_len = f[7];
        const unsigned char *id = f + 8 + name_len;
        size_t k;

        cr_assert_eq(f[4], RC_DATA, "meta %u, not Data", f[4]);
        k = conn_index(p, id, id_len);
        cr_assert_eq(be32(id + id_len), p->want_seq[k],
                     "connection %zu: message %u where %u was due", k,
                     be32(id + id_len), p->want_seq[k]);
        p->want_seq[k]++;
        p->received++;
        pos += 4 + be32(f);
    }
    memmove(p->in, p->in + pos, p->in_len - pos);
    p->in_len -= pos;
}

static void pump_init(struct pump *p, struct rc_client *c, const char *peer,
                      uint32_t total)
{
    memset(p, 0, sizeof *p);
    p->fd = rc_fd(c);
    p->peer = peer;
    p->total = total;
    p->in_cap = 1 << 20;
    p->in = malloc(p->in_cap);
    cr_assert(p->in != NULL);
    for (size_t k = 0; k < CONNS; k++)
        snprintf(p->ids[k], sizeof p->ids[k], "a:%zu", k);
    mpt_set_nonblocking(p->fd);
}

Test(cluster_faults, numbered_messages_cross_brokers_in_order_both_ways)
{
    /* 10^6 each way; a twentieth under valgrind or a scaled clock. */
    uint32_t total = mpt_ms(1000) > 1000 ? 50000 : 1000000;
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *a = login_on(c, 0, RC_BINARY, "a");
    struct rc_client *b = login_on(c, 1, RC_BINARY, "b");
    long long deadline, start;
    struct pump pa, pb;

    for (size_t k = 0; k < CONNS; k++) {
        char id[32];
        snprintf(id, sizeof id, "a:%zu", k);
        rc_open_conn(a, b, id, "numbers");
    }
    pump_init(&pa, a, "b", total);
    pump_init(&pb, b, "a", total);
    start = mpt_now_ms();
    deadline = start + mpt_ms(120000);
    while (pa.received < total || pb.received < total) {
        struct pollfd fds[2] = {
            {.fd = pa.fd, .events = POLLIN},
            {.fd = pb.fd, .events = POLLIN},
        };
        if (pa.sent < total || pa.out_off < pa.out_len)
            fds[0].events |= POLLOUT;
        if (pb.sent < total || pb.out_off < pb.out_len)
            fds[1].events |= POLLOUT;
        cr_assert_lt(mpt_now_ms(), deadline, "a: %u of %u, b: %u of %u",
                     pa.received, total, pb.received, total);
        poll(fds, 2, 1000);
        if (fds[0].revents & POLLOUT)
            pump_write(&pa);
        if (fds[1].revents & POLLOUT)
            pump_write(&pb);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            pump_read(&pa);
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
            pump_read(&pb);
    }
    cr_log_info("%u messages each way in %lld ms", total,
                mpt_now_ms() - start);
    free(pa.in);
    free(pb.in);
    rc_close(a);
    rc_close(b);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * 4, 5. Redis killed, emptied, stopped
 */

Test(cluster_faults, redis_killed_and_emptied_traffic_flows_names_come_back)
{
    struct mpt_cluster_opts o = {.extra = REJECT};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_client *dup = NULL;
    size_t mark0 = harness_log_mark(c->broker[0]);
    size_t mark1 = harness_log_mark(c->broker[1]);
    long long deadline;
    char *owner;

    rc_open_conn(alice, bob, "alice:1", "echo");
    redis_server_kill9(c->redis);
    still_talking(alice, bob, "alice:1", "while Redis is gone");
    cr_assert(redis_server_restart(c->redis));
    /* Both brokers see a new epoch and claim their clients' names. */
    cr_assert(harness_wait_log_from(c->broker[0], mark0,
                                    "cluster: claiming the names",
                                    mpt_ms(10000)));
    cr_assert(harness_wait_log_from(c->broker[1], mark1,
                                    "cluster: claiming the names",
                                    mpt_ms(10000)));
    deadline = mpt_now_ms() + mpt_ms(5000);
    for (;;) {
        char *a = mpt_cluster_get(c, "name:alice");
        char *b = mpt_cluster_get(c, "name:bob");
        bool both = a[0] != '\0' && b[0] != '\0';
        free(a);
        free(b);
        if (both)
            break;
        cr_assert_lt(mpt_now_ms(), deadline, "names not claimed again");
        cr_assert(!harness_wait_log(c->broker[0], "never logged",
                                    mpt_ms(50)));
    }
    owner = mpt_cluster_get(c, "name:alice");
    cr_log_info("alice is \"%s\" again", owner);
    free(owner);
    /* No duplicate: the name is still held. */
    cr_assert(!try_login(c, 1, "alice", &dup), "alice logged in twice");
    still_talking(alice, bob, "alice:1", "after the restart");
    cr_assert(!harness_log_contains(c->broker[0], "cluster: fenced"));
    cr_assert(!harness_log_contains(c->broker[1], "cluster: fenced"));
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster_faults, redis_stopped_shorter_than_the_fence_bound_drops_nothing)
{
    mpt_cluster_skip_if_wrapped();
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");

    rc_open_conn(alice, bob, "alice:1", "echo");
    redis_server_pause(c->redis);
    still_talking(alice, bob, "alice:1", "while Redis is stopped");
    /* Half the fence bound, measured by waiting for the line that would
     * say the broker fenced. */
    cr_assert(!harness_wait_log(c->broker[0], "cluster: fenced",
                                mpt_ms(MPT_CLUSTER_FENCE_MS / 2)));
    redis_server_resume(c->redis);
    cr_assert(!harness_wait_log(c->broker[1], "cluster: fenced",
                                mpt_ms(MPT_CLUSTER_FENCE_MS)));
    cr_assert(!harness_log_contains(c->broker[0], "cluster: fenced"));
    still_talking(alice, bob, "alice:1", "after Redis came back");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

Test(cluster_faults, redis_stopped_longer_brokers_fence_and_recover)
{
    mpt_cluster_skip_if_wrapped();
    struct mpt_cluster *c = mpt_cluster_start(2, NULL);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    size_t mark0 = harness_log_mark(c->broker[0]);
    size_t mark1 = harness_log_mark(c->broker[1]);

    rc_open_conn(alice, bob, "alice:1", "echo");
    redis_server_pause(c->redis);
    cr_assert(harness_wait_log_from(c->broker[0], mark0, "cluster: fenced",
                                    mpt_ms(MPT_CLUSTER_FENCE_MS * 3)));
    cr_assert(harness_wait_log_from(c->broker[1], mark1, "cluster: fenced",
                                    mpt_ms(MPT_CLUSTER_FENCE_MS * 3)));
    /* Fenced: no client of theirs stays (the first to fence may still
     * tell the other's client that its peer left). */
    rc_expect_closed(alice, RC_CLIENT_CLOSED);
    rc_expect_closed(bob, RC_CLIENT_CLOSED);
    rc_close(alice);
    rc_close(bob);
    redis_server_resume(c->redis);
    /* Registered again under new ids: wait until both serve again. */
    {
        long long deadline = mpt_now_ms() + mpt_ms(10000);
        while (count_lines(c->broker[0], "cluster: registered") < 2 ||
               count_lines(c->broker[1], "cluster: registered") < 2) {
            cr_assert_lt(mpt_now_ms(), deadline, "not registered again");
            cr_assert(!harness_wait_log(c->broker[0], "never logged",
                                        mpt_ms(50)));
        }
    }
    alice = login_on(c, 0, RC_JSON, "alice");
    bob = login_on(c, 1, RC_BINARY, "bob");
    rc_open_conn(alice, bob, "alice:2", "echo");
    /* For a lease and more, neither reaps the other: neither fences
     * again, and the connection keeps working. */
    cr_assert(!harness_wait_log(c->broker[0], "never logged",
                                mpt_ms(MPT_CLUSTER_LEASE_MS * 3 / 2)));
    cr_assert_eq(count_lines(c->broker[0], "cluster: fenced"), 1);
    cr_assert_eq(count_lines(c->broker[1], "cluster: fenced"), 1);
    still_talking(alice, bob, "alice:2", "after a lease");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * 6. One broker cut from Redis
 */

Test(cluster_faults, a_broker_cut_from_redis_fences_before_its_names_move)
{
    mpt_cluster_skip_if_wrapped();
    struct mpt_cluster_opts o = {.extra = REJECT, .redis_proxy = {true}};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *again = NULL;
    long long deadline;

    mpt_proxy_pause(c->redis_proxy[0]);
    /* Broker 1 cannot take the name while broker 0 may still serve it;
     * when it can, broker 0 has fenced and closed its alice. */
    deadline = mpt_now_ms() + mpt_ms(MPT_CLUSTER_LEASE_MS * 3);
    while (!try_login(c, 1, "alice", &again)) {
        cr_assert_lt(mpt_now_ms(), deadline, "alice never moved");
        cr_assert(!harness_wait_log(c->broker[1], "never logged",
                                    mpt_ms(100)));
    }
    cr_assert(harness_log_contains(c->broker[0], "cluster: fenced"),
              "the name moved before its old broker fenced");
    rc_expect_closed(alice, -1);
    /* Back in touch with Redis, broker 0 serves again under a new id;
     * the name stays with broker 1. */
    mpt_proxy_resume(c->redis_proxy[0]);
    {
        long long until = mpt_now_ms() + mpt_ms(10000);
        while (count_lines(c->broker[0], "cluster: registered") < 2) {
            cr_assert_lt(mpt_now_ms(), until, "broker 0 did not come back");
            cr_assert(!harness_wait_log(c->broker[0], "never logged",
                                        mpt_ms(50)));
        }
    }
    {
        struct rc_client *third = NULL;
        struct rc_client *carol = login_on(c, 0, RC_JSON, "carol");
        cr_assert(!try_login(c, 0, "alice", &third));
        rc_open_conn(carol, again, "carol:1", "echo");
        rc_close(carol);
    }
    rc_close(alice);
    rc_close(again);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * 7. A link cut
 */

Test(cluster_faults, a_cut_link_closes_its_connections_and_names_stay)
{
    struct mpt_cluster_opts o = {.link_proxy = {false, true}};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_JSON, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_msg m;

    rc_open_conn(alice, bob, "alice:1", "echo");
    mpt_proxy_pause(c->link_proxy[1]);
    /* Broker 1 hears nothing from broker 0 past the link timeout. */
    cr_assert_eq(rc_recv(bob, &m, mpt_ms(MPT_CLUSTER_LINK_TIMEOUT_MS * 3)),
                 RC_OK);
    cr_assert_eq(m.meta, RC_CLIENT_CLOSED);
    cr_assert_str_eq(m.other_client, "alice");
    rc_msg_free(&m);
    cr_assert_eq(rc_recv(alice, &m, mpt_ms(MPT_CLUSTER_LINK_TIMEOUT_MS * 3)),
                 RC_OK);
    cr_assert_eq(m.meta, RC_CLIENT_CLOSED);
    cr_assert_str_eq(m.other_client, "bob");
    rc_msg_free(&m);
    /* The names stay: with the path back, a new link carries a new
     * connection between the same sessions. */
    mpt_proxy_resume(c->link_proxy[1]);
    rc_open_conn(alice, bob, "alice:2", "echo");
    still_talking(alice, bob, "alice:2", "over a new link");
    rc_close(alice);
    rc_close(bob);
    mpt_cluster_stop(c);
}

/* ------------------------------------------------------------------------
 * 8. A slow reader holds back only its sender
 */

Test(cluster_faults, a_slow_reader_holds_back_its_sender_not_the_link)
{
    struct mpt_cluster_opts o = {
        .extra = "limits = { slow_consumer_timeout_ms = 0; };"};
    struct mpt_cluster *c = mpt_cluster_start(2, &o);
    struct rc_client *alice = login_on(c, 0, RC_BINARY, "alice");
    struct rc_client *bob = login_on(c, 1, RC_BINARY, "bob");
    struct rc_client *carol = login_on(c, 0, RC_BINARY, "carol");
    struct rc_client *dave = login_on(c, 1, RC_BINARY, "dave");
    static unsigned char frame[8192], buf[1 << 20];
    struct blaster slow = {.fd = rc_fd(alice), .frame = frame,
                           .total = 1000000, .to = "bob", .id = "alice:1",
                           .data_len = 4096};
    struct blaster fast = {.fd = rc_fd(carol), .frame = frame,
                           .total = 2000, .to = "dave", .id = "carol:1",
                           .data_len = 4096};
    struct reader r = {.fd = rc_fd(dave), .buf = buf, .cap = sizeof buf};
    long long deadline;
    long rss0, rss1;

    rc_open_conn(alice, bob, "alice:1", "slow");
    rc_open_conn(carol, dave, "carol:1", "fast");
    mpt_set_nonblocking(rc_fd(alice));
    mpt_set_nonblocking(rc_fd(carol));
    mpt_set_nonblocking(rc_fd(dave));
    /* Bob never reads: alice is held back... */
    blast_until_paused(&slow);
    /* ...while carol's connection over the same link keeps its pace. */
    deadline = mpt_now_ms() + mpt_ms(20000);
    while (r.received < fast.total) {
        struct pollfd fds[2] = {{.fd = fast.fd, .events = POLLOUT},
                                {.fd = r.fd, .events = POLLIN}};
        cr_assert_lt(mpt_now_ms(), deadline, "dave got %u of %u",
                     r.received, fast.total);
        poll(fds, 2, 200);
        blast(&fast);
        cr_assert(read_frames(&r, "carol"), "dave's socket closed");
    }
    /* What bob's backlog costs is bounded by the window and the output
     * limits, not by what alice tried to send. */
    rss0 = harness_broker_kib(c->broker[0], "VmRSS");
    rss1 = harness_broker_kib(c->broker[1], "VmRSS");
    cr_log_info("alice sent %u frames of 4 KiB; RSS: broker 0 %ld KiB, "
                "broker 1 %ld KiB", slow.next, rss0, rss1);
    if (!harness_rss_unreliable()) {
        cr_expect_lt(rss0, 48 * 1024);
        cr_expect_lt(rss1, 48 * 1024);
    }
    rc_close(alice);
    rc_close(bob);
    rc_close(carol);
    rc_close(dave);
    mpt_cluster_stop(c);
}
