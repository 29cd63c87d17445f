/* Unit tests: the cluster's links (broker/link.c, link_stream.c,
 * link_handshake.c), in process: two or three link sets on one event
 * base, on ephemeral loopback ports, with fixed broker ids, and raw
 * sockets playing strangers. Every wait is for an event, with a
 * deadline; nothing sleeps. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "errors.h"
#include "link.h"

enum { MAX_NODES = 3 };

struct node {
    struct link_set *ls;
    const char *id;
    int ups, downs;
    char last_down[256];
    struct link_peer *peer; /* the last one up */
    uint64_t forwards, credits, kicks;
    uint64_t next_seq;   /* FORWARD data carries a number: FIFO check */
    bool out_of_order;
    uint64_t drop_at;    /* link_peer_drop from the frame handler (0: never) */
    struct link_peer *drop_also; /* ... and this other peer too */
    bool drop_all;       /* ... or link_set_drop_all instead */
    /* The pump: FORWARD frames sent on each drained event. */
    struct link_peer *pump_peer;
    uint64_t pump_sent, pump_total;
    size_t pump_data;
};

static struct event_base *base;
static struct node nodes[MAX_NODES];
static struct node *A = &nodes[0], *B = &nodes[1], *C = &nodes[2];

static const unsigned char SECRET[] = "the cluster's secret";

/* ------------------------------------------------------------------------
 * Events
 */

static void on_frame(void *arg, struct link_peer *peer,
                     const struct link_frame *f)
{
    struct node *n = arg;
    uint64_t seq = 0;

    switch (f->type) {
    case LINK_FORWARD:
        n->forwards++;
        if (f->u.forward.data_len >= sizeof seq) {
            memcpy(&seq, f->u.forward.data, sizeof seq);
            if (seq != n->next_seq)
                n->out_of_order = true;
            n->next_seq = seq + 1;
        }
        break;
    case LINK_CREDIT:
        n->credits++;
        break;
    case LINK_KICK:
        n->kicks++;
        break;
    default:
        cr_assert_fail("frame type %d handed to the user", (int)f->type);
    }
    if (n->drop_at == 0 || n->forwards != n->drop_at)
        return;
    if (n->drop_all) {
        link_set_drop_all(n->ls, "all dropped by the frame handler");
        return;
    }
    if (n->drop_also != NULL)
        link_peer_drop(n->drop_also, "dropped by another's frame handler");
    link_peer_drop(peer, "dropped by the frame handler");
}

static void on_up(void *arg, struct link_peer *peer)
{
    struct node *n = arg;

    n->ups++;
    n->peer = peer;
}

static void on_down(void *arg, struct link_peer *peer, const char *why)
{
    struct node *n = arg;

    n->downs++;
    snprintf(n->last_down, sizeof n->last_down, "%s", why);
    if (n->peer == peer)
        n->peer = NULL;
    if (n->pump_peer == peer)
        n->pump_peer = NULL;
}

static int send_forward(struct link_peer *p, uint64_t seq, size_t data_len)
{
    unsigned char data[4096];
    struct link_frame f = {.type = LINK_FORWARD};

    memset(data, 'd', sizeof data);
    memcpy(data, &seq, sizeof seq);
    f.u.forward.meta = 3;
    f.u.forward.flags = LINK_FORWARD_HAS_DATA;
    f.u.forward.from_session = 1;
    f.u.forward.to_session = 2;
    f.u.forward.from = (struct link_str){"alice", 5};
    f.u.forward.to = (struct link_str){"bob", 3};
    f.u.forward.connection_id = (struct link_str){"alice:1", 7};
    f.u.forward.data = data;
    f.u.forward.data_len = data_len;
    return link_send(p, &f);
}

/* Sends the next batch each time the queue drains, as remote.c would
 * read its paused senders again. */
enum { PUMP_BATCH = 2000, PUMP_LOW = 64 * 1024 };

static void on_drained(void *arg, struct link_peer *peer)
{
    struct node *n = arg;

    for (int i = 0; i < PUMP_BATCH && n->pump_sent < n->pump_total; i++)
        cr_assert_eq(send_forward(peer, n->pump_sent++, n->pump_data), 0);
    if (n->pump_sent < n->pump_total)
        link_peer_watch_drain(peer, PUMP_LOW);
}

static const struct link_events events = {
    .frame = on_frame, .up = on_up, .down = on_down, .drained = on_drained,
};

/* ------------------------------------------------------------------------
 * Set-up and waiting
 */

static struct link_conf conf_for(const unsigned char *secret)
{
    struct link_conf c = {
        .address = "127.0.0.1",
        .port = 0,
        .secret = secret,
        .secret_len = strlen((const char *)secret),
        .ping_ms = 200,
        .timeout_ms = 2000,
        .handshake_ms = 1000,
        .max_frame = 64 * 1024,
        .max_pending = 1 << 20,
    };
    return c;
}

static void start_with(struct node *n, const char *id,
                       const struct link_conf *c)
{
    struct errors errs;

    errors_init(&errs);
    n->id = id;
    n->ls = link_set_new(base, c, &events, n, &errs);
    cr_assert_not_null(n->ls);
    cr_assert_eq(link_set_listen(n->ls, &errs), 0);
    cr_assert_gt(link_set_port(n->ls), 0);
    link_set_set_id(n->ls, id);
    errors_free(&errs);
}

static void start(struct node *n, const char *id)
{
    struct link_conf c = conf_for(SECRET);

    start_with(n, id, &c);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the broker does (main.c) */
    base = event_base_new();
    memset(nodes, 0, sizeof nodes);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_NODES; i++)
        link_set_free(nodes[i].ls);
    event_base_free(base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* Run the loop until cond() or ms pass; returns cond(). */
static bool wait_for(bool (*cond)(void), unsigned ms)
{
    bool late = false;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *deadline = evtimer_new(base, on_deadline, &late);

    evtimer_add(deadline, &tv);
    while (!cond() && !late)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(deadline);
    return cond();
}

static bool both_up(void)
{
    return A->ups == 1 && B->ups == 1;
}

static bool a_up(void)
{
    return A->ups == 1;
}

static bool a_down(void)
{
    return A->downs > 0;
}

static bool b_down(void)
{
    return B->downs > 0;
}

static bool both_down(void)
{
    return A->downs > 0 && B->downs > 0;
}

static struct link_peer *link_a_to_b(void)
{
    struct link_peer *p = link_peer_get(A->ls, B->id, "127.0.0.1",
                                        link_set_port(B->ls));

    cr_assert_not_null(p);
    cr_assert_str_eq(link_peer_id(p), B->id);
    return p;
}

static void up_a_b(void)
{
    start(A, "broker-a");
    start(B, "broker-b");
    link_a_to_b();
    cr_assert(wait_for(both_up, 5000), "ups %d %d", A->ups, B->ups);
    cr_assert(link_peer_is_up(A->peer));
    cr_assert(link_peer_is_up(B->peer));
    cr_assert_eq(link_set_stats(A->ls)->peers_up, 1);
}

TestSuite(link, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------------
 * Handshake and frames
 */

static bool b_has_forward_a_has_credit_and_kick(void)
{
    return B->forwards == 1 && A->credits == 1 && A->kicks == 1;
}

Test(link, handshake_then_frames_both_ways)
{
    struct link_frame credit = {.type = LINK_CREDIT}, kick = {.type = LINK_KICK};

    up_a_b();
    cr_expect_eq(link_peer_find(B->ls, "broker-a"), B->peer);
    cr_expect_eq(link_peer_find(A->ls, "broker-b"), A->peer);
    cr_expect_str_eq(link_peer_id(B->peer), "broker-a");
    cr_assert_eq(send_forward(A->peer, 0, 100), 0);
    credit.u.credit.bytes = 4096;
    credit.u.credit.connection_id = (struct link_str){"alice:1", 7};
    kick.u.kick.session = 7;
    kick.u.kick.name = (struct link_str){"carol", 5};
    cr_assert_eq(link_send(B->peer, &credit), 0);
    cr_assert_eq(link_send(B->peer, &kick), 0);
    cr_assert(wait_for(b_has_forward_a_has_credit_and_kick, 5000));
    cr_expect_eq(link_set_stats(A->ls)->frames_out, 1);
    cr_expect_eq(link_set_stats(B->ls)->frames_in, 1);
    cr_expect_eq(link_set_stats(A->ls)->frames_in, 2);
    cr_expect_eq(A->downs + B->downs, 0);
    link_peer_set_user(A->peer, A);
    cr_expect_eq(link_peer_user(A->peer), A);
}

static bool b_has_all(void)
{
    return B->forwards >= A->pump_total || B->out_of_order;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Numbered FORWARD frames of `data` bytes, pumped by drained events;
 * FIFO checked on arrival. Prints the rate (not a test of it). */
static void pump(uint64_t total, size_t data)
{
    double t0;

    A->pump_total = total;
    A->pump_data = data;
    t0 = now_s();
    link_peer_watch_drain(A->peer, PUMP_LOW); /* at once: the queue is empty */
    cr_assert(wait_for(b_has_all, 60000), "%llu of %llu",
              (unsigned long long)B->forwards, (unsigned long long)total);
    cr_expect_not(B->out_of_order, "a frame out of order near %llu",
                  (unsigned long long)B->next_seq);
    cr_expect_eq(B->forwards, total);
    fprintf(stderr, "link: %llu FORWARD frames of %zu data bytes in %.3f s: "
            "%.0f frames/s\n", (unsigned long long)total, data, now_s() - t0,
            (double)total / (now_s() - t0));
}

Test(link, fifo_order_of_100000_numbered_frames)
{
    up_a_b();
    pump(100000, 64);
    cr_expect_eq(A->downs + B->downs, 0);
}

/* Not a test: LINK_BENCH_FRAMES=N tests/unit/test_link --filter
 * 'link/bench*' prints the rate of N frames. */
Test(link, bench_64_byte_frames)
{
    const char *n = getenv("LINK_BENCH_FRAMES");

    if (n == NULL)
        return; /* (cr_skip_test leaves criterion's buffers to valgrind) */
    up_a_b();
    pump(strtoull(n, NULL, 10), 64);
}

static bool a_has_one(void)
{
    return A->forwards == 1;
}

static bool b_has_one(void)
{
    return B->forwards == 1;
}

static bool both_up_again(void)
{
    return A->ups == 2 && B->ups == 2;
}

static bool b_has_ten(void)
{
    return B->forwards >= 10;
}

Test(link, frames_queued_before_up_are_delivered_after)
{
    struct link_peer *p;

    start(A, "broker-a");
    start(B, "broker-b");
    p = link_a_to_b();
    cr_assert_not(link_peer_is_up(p));
    for (uint64_t i = 0; i < 10; i++)
        cr_assert_eq(send_forward(p, i, 64), 0);
    cr_expect_gt(link_peer_queued(p), 10 * 64);
    cr_assert(wait_for(b_has_ten, 5000));
    cr_expect_eq(A->ups, 1);
    cr_expect_eq(B->ups, 1);
    cr_expect_eq(B->forwards, 10);
    cr_expect_not(B->out_of_order);
}

static bool three_linked(void)
{
    return A->ups == 2 && B->ups == 2 && C->ups == 2;
}

Test(link, three_brokers_each_pair_dialing_at_once)
{
    start(A, "broker-a");
    start(B, "broker-b");
    start(C, "broker-c");
    /* Both ends of each pair dial: no tie-break needed. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                link_peer_get(nodes[i].ls, nodes[j].id, "127.0.0.1",
                              link_set_port(nodes[j].ls));
    cr_assert(wait_for(three_linked, 5000), "ups %d %d %d", A->ups, B->ups,
              C->ups);
    cr_expect_eq(A->downs + B->downs + C->downs, 0);
    cr_expect_eq(link_set_stats(C->ls)->peers_up, 2);
}

/* ------------------------------------------------------------------------
 * Refusals
 */

static bool a_down_and_b_refused(void)
{
    return A->downs > 0 && link_set_stats(B->ls)->handshakes_refused > 0;
}

Test(link, wrong_secret_is_refused_on_both_sides)
{
    struct link_conf other = conf_for((const unsigned char *)"another secret");
    struct link_peer *p;

    start(A, "broker-a");
    start_with(B, "broker-b", &other);
    p = link_a_to_b();
    send_forward(p, 0, 64);
    cr_assert(wait_for(a_down_and_b_refused, 5000));
    cr_expect(strstr(A->last_down, "refused") != NULL, "%s", A->last_down);
    cr_expect(strstr(A->last_down, "MAC") != NULL, "%s", A->last_down);
    /* And the other way: A refuses B. */
    link_peer_get(B->ls, A->id, "127.0.0.1", link_set_port(A->ls));
    cr_assert(wait_for(b_down, 5000));
    cr_expect_gt(link_set_stats(A->ls)->handshakes_refused, 0);
    cr_expect_eq(A->ups + B->ups, 0);
    cr_expect_eq(A->forwards + B->forwards, 0);
    cr_expect_eq(link_peer_find(B->ls, "broker-a"), NULL);
}

Test(link, dialing_the_wrong_id_is_refused)
{
    start(A, "broker-a");
    start(B, "broker-b");
    link_peer_get(A->ls, "broker-b-before-its-restart", "127.0.0.1",
                  link_set_port(B->ls));
    cr_assert(wait_for(a_down, 5000));
    cr_expect(strstr(A->last_down, "another broker id") != NULL, "%s",
              A->last_down);
    cr_expect_eq(link_set_stats(A->ls)->handshakes_refused, 1);
    cr_expect_eq(A->ups + B->ups, 0);
}

Test(link, a_broker_without_an_id_refuses)
{
    start(A, "broker-a");
    start(B, "broker-b");
    link_set_set_id(B->ls, "");
    link_a_to_b();
    cr_assert(wait_for(a_down, 5000));
    cr_expect(strstr(A->last_down, "not registered") != NULL, "%s",
              A->last_down);
    cr_expect_eq(link_set_stats(B->ls)->handshakes_refused, 1);
}

/* ------------------------------------------------------------------------
 * Raw sockets: strangers that say nothing
 */

static int raw_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static int raw_listen(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static bool b_refused_one(void)
{
    return link_set_stats(B->ls)->handshakes_refused == 1;
}

Test(link, a_silent_stranger_is_refused_at_the_handshake_timeout)
{
    struct link_conf c = conf_for(SECRET);
    unsigned char got[512];
    ssize_t n;
    int fd;

    c.handshake_ms = 150;
    start_with(B, "broker-b", &c);
    fd = raw_connect(link_set_port(B->ls));
    cr_assert(wait_for(b_refused_one, 3000));
    /* What the stranger got: the challenge, then REFUSED, then EOF. */
    n = recv(fd, got, sizeof got, MSG_WAITALL);
    cr_assert_gt(n, 10);
    cr_expect_eq(got[4], LINK_HELLO_CHALLENGE);
    cr_expect(memmem(got, (size_t)n, "handshake timeout", 17) != NULL);
    close(fd);
}

Test(link, dialing_a_silent_listener_times_out)
{
    struct link_conf c = conf_for(SECRET);
    int port, lfd;

    c.handshake_ms = 150;
    start_with(A, "broker-a", &c);
    lfd = raw_listen(&port);
    link_peer_get(A->ls, "broker-b", "127.0.0.1", port);
    cr_assert(wait_for(a_down, 3000));
    cr_expect(strstr(A->last_down, "timeout") != NULL, "%s", A->last_down);
    cr_expect_eq(A->downs, 1);
    close(lfd);
}

Test(link, dialing_a_closed_port_goes_down)
{
    int port, lfd = raw_listen(&port);

    close(lfd); /* nobody listens there now */
    start(A, "broker-a");
    link_peer_get(A->ls, "broker-b", "127.0.0.1", port);
    cr_assert(wait_for(a_down, 3000));
    cr_expect(strstr(A->last_down, "connect") != NULL, "%s", A->last_down);
}

Test(link, a_host_that_is_not_an_address_goes_down_from_the_loop)
{
    start(A, "broker-a");
    link_peer_get(A->ls, "broker-b", "broker-b.example", 7340);
    cr_expect_eq(A->downs, 0); /* never from inside link_peer_get */
    cr_assert(wait_for(a_down, 3000));
    cr_expect_eq(A->downs, 1);
}

/* ------------------------------------------------------------------------
 * Down: drops, silence, limits
 */

Test(link, dropping_a_peer_takes_the_other_side_down)
{
    up_a_b();
    link_peer_drop(B->peer, "test");
    cr_expect_eq(B->downs, 1); /* from the call */
    cr_expect_str_eq(B->last_down, "test");
    cr_assert(wait_for(a_down, 3000));
    cr_expect_eq(A->downs, 1);
    cr_expect_eq(link_set_stats(A->ls)->peers_up, 0);
    cr_expect_eq(link_set_stats(A->ls)->downs, 1);
    cr_expect_eq(link_peer_find(A->ls, "broker-b"), NULL);
}

Test(link, a_peer_that_stops_pinging_is_down_after_timeout_ms)
{
    struct link_conf quick = conf_for(SECRET), mute = conf_for(SECRET);

    quick.ping_ms = 50;
    quick.timeout_ms = 300;
    mute.ping_ms = 60000; /* B never pings within the test */
    start_with(A, "broker-a", &quick);
    start_with(B, "broker-b", &mute);
    link_a_to_b();
    cr_assert(wait_for(both_up, 5000));
    cr_assert(wait_for(a_down, 3000));
    cr_expect(strstr(A->last_down, "nothing received for 300 ms") != NULL,
              "%s", A->last_down);
    cr_assert(wait_for(b_down, 3000)); /* A closed both streams */
    cr_expect_eq(A->downs, 1);
    cr_expect_eq(B->downs, 1);
}

Test(link, pings_keep_an_idle_link_up)
{
    struct link_conf quick = conf_for(SECRET);

    quick.ping_ms = 30;
    quick.timeout_ms = 200;
    start_with(A, "broker-a", &quick);
    start_with(B, "broker-b", &quick);
    link_a_to_b();
    cr_assert(wait_for(both_up, 5000));
    /* Five timeouts of idleness: still up. */
    cr_expect_not(wait_for(a_down, 1000));
    cr_expect_eq(A->downs + B->downs, 0);
    cr_expect_eq(A->forwards + B->forwards, 0); /* PINGs are not handed on */
}

Test(link, too_much_queued_before_up_takes_the_peer_down)
{
    struct link_conf c = conf_for(SECRET);
    struct link_peer *p;
    int port, lfd = raw_listen(&port), rc = 0;

    c.max_pending = 1000;
    start_with(A, "broker-a", &c);
    p = link_peer_get(A->ls, "broker-b", "127.0.0.1", port);
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = send_forward(p, (uint64_t)i, 64);
    cr_expect_eq(rc, -1);
    cr_expect_eq(A->downs, 1);
    cr_expect(strstr(A->last_down, "too much queued") != NULL, "%s",
              A->last_down);
    close(lfd);
}

Test(link, set_id_drops_every_peer)
{
    up_a_b();
    link_set_set_id(A->ls, "broker-a-renewed");
    cr_expect_eq(A->downs, 1);
    cr_assert(wait_for(b_down, 3000));
    cr_expect_eq(link_peer_find(A->ls, "broker-b"), NULL);
    /* And a new link with the new id comes up. */
    link_peer_get(B->ls, "broker-a-renewed", "127.0.0.1", link_set_port(A->ls));
    cr_assert(wait_for(both_up_again, 5000));
}

Test(link, drop_from_inside_the_frame_handler)
{
    up_a_b();
    B->drop_at = 5;
    for (uint64_t i = 0; i < 10; i++)
        cr_assert_eq(send_forward(A->peer, i, 64), 0);
    cr_assert(wait_for(both_down, 3000));
    cr_expect_eq(B->forwards, 5); /* none after the drop */
    cr_expect_eq(B->downs, 1);
    cr_expect_eq(A->downs, 1);
}

Test(link, drop_all_takes_every_peer_down)
{
    up_a_b();
    link_set_drop_all(A->ls, "fencing");
    cr_expect_eq(A->downs, 1);
    cr_expect_str_eq(A->last_down, "fencing");
    cr_assert(wait_for(b_down, 3000));
    cr_expect_eq(link_set_stats(A->ls)->peers_up, 0);
}

Test(link, ipv6_loopback)
{
    struct link_conf c = conf_for(SECRET);

    c.address = "::1";
    start_with(A, "broker-a", &c);
    start_with(B, "broker-b", &c);
    link_peer_get(A->ls, B->id, "::1", link_set_port(B->ls));
    cr_assert(wait_for(both_up, 5000));
    cr_assert_eq(send_forward(B->peer, 0, 64), 0);
    cr_assert(wait_for(a_has_one, 3000));
}

Test(link, a_dropped_link_can_be_made_again)
{
    up_a_b();
    link_peer_drop(A->peer, "test");
    link_a_to_b();
    cr_assert(wait_for(both_up_again, 5000), "ups %d %d downs %d %d",
              A->ups, B->ups, A->downs, B->downs);
    cr_expect_eq(A->downs, 1);
    cr_expect_eq(B->downs, 1);
    cr_assert_eq(send_forward(A->peer, 0, 64), 0);
    cr_assert(wait_for(b_has_one, 3000));
}

Test(link, unknown_frames_in_the_handshake_are_refused)
{
    /* LENGTH 1, type 99: skipped on an open link, refused before. */
    const unsigned char unknown[] = {0, 0, 0, 1, 99};
    unsigned char got[512];
    int fd;

    start(B, "broker-b");
    fd = raw_connect(link_set_port(B->ls));
    cr_assert_eq(write(fd, unknown, sizeof unknown), (ssize_t)sizeof unknown);
    cr_assert(wait_for(b_refused_one, 3000));
    cr_expect(recv(fd, got, sizeof got, MSG_WAITALL) > 0);
    close(fd);
}

Test(link, a_stranger_sending_a_huge_frame_is_refused_at_its_prefix)
{
    const unsigned char huge[] = {0, 0x10, 0, 0, LINK_HELLO};
    int fd;

    start(B, "broker-b");
    fd = raw_connect(link_set_port(B->ls));
    cr_assert_eq(write(fd, huge, sizeof huge), (ssize_t)sizeof huge);
    cr_assert(wait_for(b_refused_one, 3000));
    close(fd);
}

static bool c_linked_to_a_and_b(void)
{
    return A->ups == 1 && B->ups == 1 && C->ups == 2;
}

static bool all_down(void)
{
    return A->downs == 1 && B->downs == 1 && C->downs == 2;
}

/* C links to A and B; a frame from A makes C's handler drop both peers
 * (or all of them): the second is not the one whose frame it holds. */
static void drop_two_from_a_handler(bool drop_all)
{
    struct link_peer *c_to_a, *c_to_b;

    start(A, "broker-a");
    start(B, "broker-b");
    start(C, "broker-c");
    c_to_a = link_peer_get(C->ls, A->id, "127.0.0.1", link_set_port(A->ls));
    c_to_b = link_peer_get(C->ls, B->id, "127.0.0.1", link_set_port(B->ls));
    cr_assert(wait_for(c_linked_to_a_and_b, 5000));
    C->drop_at = 1;
    C->drop_also = c_to_b;
    C->drop_all = drop_all;
    for (uint64_t i = 0; i < 3; i++)
        cr_assert_eq(send_forward(A->peer, i, 64), 0);
    cr_assert(wait_for(all_down, 3000), "downs %d %d %d", A->downs, B->downs,
              C->downs);
    cr_expect_eq(C->forwards, 1);
    cr_expect_eq(link_peer_find(C->ls, "broker-a"), NULL);
    cr_expect_eq(link_peer_find(C->ls, "broker-b"), NULL);
    (void)c_to_a;
}

Test(link, a_frame_handler_drops_its_peer_and_another)
{
    drop_two_from_a_handler(false);
}

Test(link, a_frame_handler_drops_every_peer)
{
    drop_two_from_a_handler(true);
}

Test(link, a_frame_past_max_frame_is_refused_and_the_link_stays)
{
    struct link_frame f = {.type = LINK_KICK};
    char name[300];

    up_a_b();
    cr_expect_eq(send_forward(A->peer, 0, 64 * 1024), -1); /* > max_frame */
    memset(name, 'n', sizeof name);
    f.u.kick.name = (struct link_str){name, sizeof name}; /* > MP_NAME_MAX */
    cr_expect_eq(link_send(A->peer, &f), -1);
    cr_expect_eq(send_forward(A->peer, 0, 4096), 0);
    cr_assert(wait_for(b_has_one, 3000));
    cr_expect_eq(A->downs + B->downs, 0);
}

/* The receiving broker in a process of its own: it tells its port on
 * `tell`, and answers a KICK once it has `total` frames. */
static void bench_receiver(int tell, uint64_t total)
{
    struct link_frame done = {.type = LINK_KICK};
    int port;

    base = event_base_new(); /* the parent's stays the parent's */
    memset(nodes, 0, sizeof nodes);
    start(B, "broker-b");
    port = link_set_port(B->ls);
    cr_assert_eq(write(tell, &port, sizeof port), (ssize_t)sizeof port);
    A->pump_total = total;
    while (B->forwards < total && B->downs == 0)
        event_base_loop(base, EVLOOP_ONCE);
    done.u.kick.name = (struct link_str){"done", 4};
    link_send(B->peer, &done);
    while (B->downs == 0)
        event_base_loop(base, EVLOOP_ONCE);
    _exit(B->out_of_order ? 1 : 0);
}

static bool a_kicked(void)
{
    return A->kicks > 0 || A->downs > 0;
}

/* Not a test: LINK_BENCH_FORK=N: the same with each broker in its own
 * process (one core each, as two brokers would be). */
Test(link, bench_64_byte_frames_two_processes)
{
    const char *n = getenv("LINK_BENCH_FORK");
    uint64_t total;
    int fds[2], port, status;
    pid_t pid;
    double t0;

    if (n == NULL)
        return;
    total = strtoull(n, NULL, 10);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0)
        bench_receiver(fds[1], total);
    cr_assert_eq(read(fds[0], &port, sizeof port), (ssize_t)sizeof port);
    start(A, "broker-a");
    link_peer_get(A->ls, "broker-b", "127.0.0.1", port);
    cr_assert(wait_for(a_up, 5000));
    A->pump_total = total;
    A->pump_data = 64;
    t0 = now_s();
    link_peer_watch_drain(A->peer, PUMP_LOW);
    cr_assert(wait_for(a_kicked, 120000));
    fprintf(stderr, "link, two processes: %llu FORWARD frames of 64 data "
            "bytes in %.3f s: %.0f frames/s\n", (unsigned long long)total,
            now_s() - t0, (double)total / (now_s() - t0));
    link_peer_drop(A->peer, "done");
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "out of order");
}

Test(link, bad_listen_addresses_are_errors)
{
    struct link_conf c = conf_for(SECRET);
    char longhost[300];
    struct errors errs;

    errors_init(&errs);
    c.address = "localhost"; /* a literal only */
    cr_expect_null(link_set_new(base, &c, &events, NULL, &errs));
    c.address = "127.0.0.1";
    c.port = 70000;
    cr_expect_null(link_set_new(base, &c, &events, NULL, &errs));
    c.port = 0;
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    c.advertise = longhost;
    cr_expect_null(link_set_new(base, &c, &events, NULL, &errs));
    cr_expect_eq(errs.count, 3);
    errors_free(&errs);
}
