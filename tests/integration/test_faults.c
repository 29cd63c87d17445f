/*
 * test_faults.c - the broker under faults (issue 5, hardening): a client
 * killed mid-stream, a client that stops reading while others blast it
 * (with the broker's memory measured), thousands of short-lived clients,
 * SIGTERM while busy, and running out of file descriptors.
 *
 * In each, an unrelated pair of clients keeps exchanging numbered
 * messages (rc_pump) and must lose nothing.
 *
 * Memory is read from /proc/<broker>/status: VmRSS (now) and VmHWM (the
 * peak since start, so that a short spike between two samples is not
 * missed). Under $MP_BROKER_WRAPPER (valgrind) the broker's memory is
 * valgrind's, so the RSS bounds are skipped there; everything else is
 * still checked, and valgrind's leak check runs at each broker's exit.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httpclient.h"
#include "numbered.h"
#include "rawclient.h"

TestSuite(faults, .fini = harness_reap_all, .timeout = 300);

#define JSON_LISTENER 0
#define BINARY_LISTENER 1

#define KIB 1024L
#define MIB (1024L * 1024L)

/* Lines of the broker's log containing both substrings. */
static int count_log_lines(struct harness *h, const char *a, const char *b)
{
    char *text = harness_log_text(h);
    int n = 0;

    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
            n++;
    free(text);
    return n;
}

/* Two bystanders, "x" (binary) and "y" (json), pumping on x:1. */
struct bystanders {
    struct rc_client *x, *y;
    struct rc_pump *pump;
};

static void bystanders_start(struct harness *h, struct bystanders *b,
                             int interval_ms)
{
    b->x = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "x");
    b->y = rc_login_any(h, JSON_LISTENER, RC_JSON, "y");
    rc_open_conn(b->x, b->y, "x:1", "chat");
    b->pump = rc_pump_start(b->x, b->y, "x:1", interval_ms, 10);
}

static void bystanders_finish(struct bystanders *b)
{
    rc_pump_progress(b->pump, 10, mpt_ms(MPT_MSG_MS));
    rc_pump_finish(b->pump, mpt_ms(MPT_MSG_MS));
    rc_close(b->x);
    rc_close(b->y);
}

/* ======================================================================
 * kill -9 of a client in the middle of a stream
 */

#define BLAST_DATA 1000

/* The child: a real client that logs in as "blaster", opens blaster:1 to
 * "sink" and sends numbered Data until it is killed. Never returns. */
static void blaster_child(struct harness_listener l)
{
    struct rc_client *c;
    struct rc_msg m;
    unsigned char *frame = malloc(BLAST_DATA + 64);

#ifdef PR_SET_PDEATHSIG
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    c = rc_connect_tcp(l.host, l.port, RC_BINARY);
    if (c == NULL || frame == NULL)
        _exit(2);
    if (rc_auth(c, "blaster", "pw", &m) != RC_OK || m.meta != RC_AUTH_OK)
        _exit(3);
    rc_msg_free(&m);
    if (!rc_send(c, RC_SYN, "sink", "blaster:1", rc_str("stream")))
        _exit(4);
    if (rc_recv(c, &m, 600000) != RC_OK || m.meta != RC_ACK)
        _exit(5);
    rc_msg_free(&m);
    for (uint32_t seq = 0;; seq++) {
        size_t n = data_frame(frame, "sink", "blaster:1", seq, BLAST_DATA);
        if (!rc_send_raw(c, frame, n))
            _exit(6);
    }
}

/* Receive the next message on the sink: Data number `*seq` (then
 * *seq + 1), or ClientClosed from the blaster (returns true). */
static bool sink_next(struct rc_client *sink, uint32_t *seq, int timeout_ms)
{
    struct rc_msg m;
    int st = rc_recv(sink, &m, timeout_ms);

    cr_assert_eq(st, RC_OK, "sink: %s %s after %u messages", rc_status_name(st),
                 rc_error(sink), *seq);
    if (m.meta == RC_CLIENT_CLOSED) {
        bool ok = strcmp(m.other_client, "blaster") == 0 &&
                  m.connection_id_len == 0 && !m.has_data;
        rc_msg_free(&m);
        cr_assert(ok, "sink: a ClientClosed for someone else");
        return true;
    }
    bool ok = m.meta == RC_DATA && strcmp(m.other_client, "blaster") == 0 &&
              strcmp(m.connection_id, "blaster:1") == 0 &&
              m.data_len == BLAST_DATA;
    uint32_t got = ok ? (uint32_t)m.data[0] << 24 | (uint32_t)m.data[1] << 16 |
                            (uint32_t)m.data[2] << 8 | m.data[3]
                      : 0;
    int meta = m.meta;
    rc_msg_free(&m);
    cr_assert(ok, "sink: unexpected message (meta %d) after %u", meta, *seq);
    cr_assert_eq(got, *seq, "sink: message %u arrived as number %u", got, *seq);
    (*seq)++;
    return false;
}

/* A client blasting Data at a peer is killed with SIGKILL: the peer gets
 * every message the broker had taken, in order, then ClientClosed within
 * a bounded time; a second pair is not disturbed. With `unread` the peer
 * has also sent the blaster messages it never reads, so that its kernel
 * answers with a reset instead of an orderly close. */
static void sigkill_mid_stream(bool unread)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct bystanders b;
    struct rc_client *sink;
    uint32_t seq = 0;
    int status;

    bystanders_start(h, &b, 1);
    sink = rc_login_any(h, JSON_LISTENER, RC_JSON, "sink");
    pid_t child = fork();
    cr_assert(child >= 0, "fork: %s", strerror(errno));
    if (child == 0)
        blaster_child(harness_listener(h, BINARY_LISTENER));

    rc_expect(sink, RC_SYN, "blaster", "blaster:1", rc_str("stream"));
    cr_assert(rc_send(sink, RC_ACK, "blaster", "blaster:1", RC_NULL));
    for (int i = 0; unread && i < 10; i++)
        cr_assert(rc_send(sink, RC_DATA, "blaster", "blaster:1",
                          rc_str("never read")));
    while (seq < 2000)
        cr_assert(!sink_next(sink, &seq, mpt_ms(MPT_MSG_MS)),
                  "the blaster left early");
    /* Still blasting: it has not been told to stop. */
    cr_assert_eq(waitpid(child, &status, WNOHANG), 0,
                 "the blaster child exited (status %#x)", (unsigned)status);
    cr_assert_eq(kill(child, SIGKILL), 0);
    long long killed = mpt_now_ms();
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the blaster was not killed by SIGKILL (status %#x)",
              (unsigned)status);

    /* What the broker had already taken still arrives, then the notice. */
    uint32_t at_kill = seq;
    while (!sink_next(sink, &seq, mpt_ms(MPT_MSG_MS)))
        cr_assert_lt(mpt_now_ms() - killed, mpt_ms(MPT_MSG_MS),
                     "no ClientClosed within %d ms of the kill (%u messages "
                     "since)", mpt_ms(MPT_MSG_MS), seq - at_kill);
    long long told = mpt_now_ms() - killed;
    cr_assert_lt(told, mpt_ms(MPT_MSG_MS), "ClientClosed came %lld ms after "
                 "the kill", told);
    cr_log_info("kill -9%s: ClientClosed %lld ms after the kill, %u messages "
                "in between", unread ? " (reset)" : "", told, seq - at_kill);
    cr_assert(harness_wait_log(h, "client blaster left", mpt_ms(MPT_MSG_MS)));

    /* The sink is still connected and can open something new. */
    cr_assert_eq(rc_wait_eof(sink, 0), RC_TIMEOUT, "the sink was disturbed");
    struct rc_client *z = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "z");
    rc_open_conn(sink, z, "sink:1", "after");
    cr_assert(!harness_log_contains(h, "client x left") &&
              !harness_log_contains(h, "client y left") &&
              !harness_log_contains(h, "client sink left"));
    bystanders_finish(&b);
    rc_close(sink);
    rc_close(z);
    harness_stop(h);
}

Test(faults, sigkill_of_a_client_mid_stream) { sigkill_mid_stream(false); }
Test(faults, sigkill_of_a_client_with_unread_input) { sigkill_mid_stream(true); }

/* ======================================================================
 * A client that stops reading while others blast it
 */

/*
 * Backpressure: a sender blasting at a reader that stopped is paused once
 * the reader's queue passes output_high_water; the broker's memory stays
 * within the limits while it waits (RSS sampled, and the peak checked);
 * the bystanders keep talking; when the reader reads again, everything
 * arrives.
 */
#define STALL_HIGH (64 * KIB)
#define STALL_HARD (4 * MIB)
#define STALL_MSG (64 * KIB)

Test(faults, stalled_reader_pauses_its_sender_with_bounded_memory)
{
    enum { DATA = 16 * 1024, COUNT = 4096 /* 64 MiB, far more than fits */ };
    char body[1024];
    snprintf(body, sizeof body,
             MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
             "limits = { output_high_water = %ld; output_low_water = %ld;\n"
             "           output_hard_limit = %ld; max_message_size = %ld;\n"
             /* The stall is the point here: no slow-consumer deadline. */
             "           slow_consumer_timeout_ms = 0; };\n"
             "log = { level = \"debug\"; };\n",
             STALL_HIGH, STALL_HIGH / 4, STALL_HARD, STALL_MSG);
    struct harness *h = harness_start(body);
    struct bystanders by;
    struct rc_client *s = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "s");
    struct rc_client *r = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "r");
    struct blaster b = { .fd = rc_fd(s), .total = COUNT, .to = "r",
                         .id = "s:1", .data_len = DATA };
    struct reader rd = { .fd = rc_fd(r), .cap = 1 << 20 };

    rc_open_conn(s, r, "s:1", "sink");
    bystanders_start(h, &by, 2);
    b.frame = malloc(DATA + 64);
    rd.buf = malloc(rd.cap);
    cr_assert(b.frame && rd.buf);
    mpt_set_nonblocking(b.fd);
    mpt_set_nonblocking(rd.fd);
    long base = harness_broker_kib(h, "VmRSS");

    /* Blast until the broker has paused the sender and its socket is
     * full: then it has been refusing to read for a while. */
    size_t mark = harness_log_mark(h);
    long long deadline = mpt_now_ms() + mpt_ms(20000);
    bool paused = false;
    long peak_sample = base;
    for (;;) {
        cr_assert(!blast(&b), "all %d MiB went out: nothing paused the sender",
                  COUNT * DATA >> 20);
        paused = paused || harness_wait_log_from(h, mark, "pausing s", 0);
        long rss = harness_broker_kib(h, "VmRSS");
        peak_sample = rss > peak_sample ? rss : peak_sample;
        struct pollfd p = { .fd = b.fd, .events = POLLOUT };
        /* Paused (logged) and the socket stays full: the broker has
         * stopped reading it. */
        if (paused && poll(&p, 1, 300) == 0)
            break;
        if (!paused)
            poll(&p, 1, 10);
        cr_assert_lt(mpt_now_ms(), deadline, "the sender was never paused");
    }
    /* While stalled: the bystanders go on, the reader stays. */
    rc_pump_progress(by.pump, 50, mpt_ms(MPT_MSG_MS));
    long during = harness_broker_kib(h, "VmRSS"), peak = harness_broker_kib(h, "VmHWM");
    cr_log_info("stalled reader (pause): RSS baseline %ld KiB, during %ld KiB, "
                "largest sample %ld KiB, peak (VmHWM) %ld KiB; %u frames "
                "(%u KiB) sent", base, during, peak_sample, peak, b.next,
                (unsigned)((size_t)b.next * DATA / 1024));
    if (!harness_rss_unreliable()) {
        /* The reader's queue is held near output_high_water and each
         * client's input within max_message_size; allow the hard limit
         * plus 4 MiB for allocator and libevent slack. */
        long bound = base + (STALL_HARD + 4 * MIB) / KIB;
        cr_assert_lt(during, bound, "RSS %ld KiB while stalled, bound %ld",
                     during, bound);
        cr_assert_lt(peak, bound, "peak RSS %ld KiB, bound %ld", peak, bound);
    }
    cr_assert(!harness_log_contains(h, "disconnecting slow client"),
              "the stalled reader was disconnected although the sender "
              "could be paused");

    /* The reader reads again: everything arrives, in order. */
    b.total = b.next + (b.offset != 0);
    deadline = mpt_now_ms() + mpt_ms(60000);
    while (rd.received < b.total) {
        struct pollfd p[2] = { { .fd = rd.fd, .events = POLLIN },
                               { .fd = b.fd, .events = POLLOUT } };
        bool done = blast(&b);
        poll(p, done ? 1 : 2, 100);
        cr_assert(read_frames(&rd, "s"), "the reader was disconnected after "
                  "%u messages", rd.received);
        cr_assert_lt(mpt_now_ms(), deadline, "%u of %u messages arrived",
                     rd.received, b.total);
    }
    bystanders_finish(&by);
    free(b.frame);
    free(rd.buf);
    rc_close(s);
    rc_close(r);
    harness_stop(h);
}

/*
 * Past the hard limit: eight senders each send one message of ~1 MB at a
 * reader that does not read. Pausing them comes too late (each message is
 * read whole before it is routed), so the reader's queue passes
 * output_hard_limit and it is disconnected; the senders are told; the
 * broker's peak memory stays within what the limits allow.
 */
#define HARD_LIMIT 1200000L
#define HARD_SENDERS 8
#define HARD_DATA 1000000

Test(faults, stalled_reader_past_the_hard_limit_is_disconnected)
{
    char body[1024];
    snprintf(body, sizeof body,
             MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
             "limits = { output_high_water = 65536; output_low_water = 16384;\n"
             "           output_hard_limit = %ld; };\n", HARD_LIMIT);
    struct harness *h = harness_start(body);
    struct bystanders by;
    struct rc_client *r = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "r");
    struct rc_client *senders[HARD_SENDERS];
    unsigned char *frame = malloc(HARD_DATA + 64);
    char name[16], id[16];

    cr_assert_not_null(frame);
    for (int i = 0; i < HARD_SENDERS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        snprintf(id, sizeof id, "s%d:1", i);
        senders[i] = rc_login_any(h, BINARY_LISTENER, RC_BINARY, name);
        rc_open_conn(senders[i], r, id, "sink");
    }
    bystanders_start(h, &by, 2);
    long base = harness_broker_kib(h, "VmRSS");
    for (int i = 0; i < HARD_SENDERS; i++) {
        snprintf(id, sizeof id, "s%d:1", i);
        size_t n = data_frame(frame, "r", id, (uint32_t)i, HARD_DATA);
        cr_assert(rc_send_raw(senders[i], frame, n), "sender %d: %s", i,
                  rc_error(senders[i]));
    }
    cr_assert(harness_wait_log(h, "disconnecting slow client r",
                               mpt_ms(MPT_MSG_MS)),
              "the stalled reader was not disconnected");
    for (int i = 0; i < HARD_SENDERS; i++)
        rc_expect(senders[i], RC_CLIENT_CLOSED, "r", "", RC_NULL);
    rc_pump_progress(by.pump, 50, mpt_ms(MPT_MSG_MS));
    long after = harness_broker_kib(h, "VmRSS"), peak = harness_broker_kib(h, "VmHWM");
    cr_log_info("stalled reader (hard limit): RSS baseline %ld KiB, after %ld "
                "KiB, peak (VmHWM) %ld KiB", base, after, peak);
    if (!harness_rss_unreliable()) {
        /* At most: each sender's message in its input buffer (and one
         * contiguous copy of it while it is decoded), the reader's queue
         * up to the hard limit plus the message that passed it, and 4 MiB
         * of slack. */
        long bound = base + (HARD_SENDERS * 2L * HARD_DATA + HARD_LIMIT +
                             HARD_DATA + 4 * MIB) / KIB;
        cr_assert_lt(peak, bound, "peak RSS %ld KiB, bound %ld", peak, bound);
    }
    /* The reader finds its socket closed once it reads what reached it. */
    mpt_set_nonblocking(rc_fd(r));
    struct reader rd = { .fd = rc_fd(r), .cap = 4 << 20 };
    rd.buf = malloc(rd.cap);
    cr_assert_not_null(rd.buf);
    long long deadline = mpt_now_ms() + mpt_ms(10000);
    for (;;) {
        struct pollfd p = { .fd = rd.fd, .events = POLLIN };
        poll(&p, 1, 100);
        ssize_t n = read(rd.fd, rd.buf, rd.cap);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        cr_assert_lt(mpt_now_ms(), deadline, "the slow reader was never closed");
    }
    /* A sender whose message the broker read only after the reader had
     * gone gets it back as NoSuchConnection (documented); nothing else
     * may come before the answer to a probe sent behind it. */
    for (int i = 0; i < HARD_SENDERS; i++) {
        struct rc_msg m;
        snprintf(id, sizeof id, "s%d:1", i);
        cr_assert(rc_send(senders[i], RC_DATA, "nobody", "probe:1", rc_str("?")));
        for (;;) {
            rc_expect_meta(senders[i], RC_NO_SUCH_CONN, &m);
            bool probe = strcmp(m.other_client, "nobody") == 0;
            bool own = strcmp(m.other_client, "r") == 0 &&
                       strcmp(m.connection_id, id) == 0 &&
                       m.data_len == HARD_DATA;
            rc_msg_free(&m);
            cr_assert(probe || own, "sender %d: an unexpected bounce", i);
            if (probe)
                break;
        }
    }
    /* The senders carry on among themselves. */
    rc_open_conn(senders[0], senders[1], "s0:2", "after");
    cr_assert(rc_send(senders[0], RC_DATA, "s1", "s0:2", rc_str("hi")));
    rc_expect(senders[1], RC_DATA, "s0", "s0:2", rc_str("hi"));
    bystanders_finish(&by);
    free(rd.buf);
    free(frame);
    for (int i = 0; i < HARD_SENDERS; i++)
        rc_close(senders[i]);
    rc_close(r);
    harness_stop(h);
}

/* ======================================================================
 * Many short-lived clients
 */

/* Connect, log in as `name` (binary), disconnect; false on any failure. */
static bool one_cycle(const struct harness_listener *l, const char *name,
                      char *why, size_t why_len)
{
    struct rc_client *c = rc_connect_tcp(l->host, l->port, RC_BINARY);
    struct rc_msg m;

    if (c == NULL) {
        snprintf(why, why_len, "connect: %s", strerror(errno));
        return false;
    }
    int st = rc_auth(c, name, MPT_SECRET_ALLOW_ALL, &m);
    bool ok = st == RC_OK && m.meta == RC_AUTH_OK &&
              strcmp(m.other_client, name) == 0;
    if (!ok)
        snprintf(why, why_len, "%s (meta %d) %s", rc_status_name(st),
                 st == RC_OK ? m.meta : -1, rc_error(c));
    if (st == RC_OK)
        rc_msg_free(&m);
    rc_close(c);
    return ok;
}

/* Run cycles [from, to) and wait until the broker has seen the last one
 * leave. */
static void cycles(struct harness *h, int from, int to)
{
    struct harness_listener l = harness_listener(h, BINARY_LISTENER);
    char name[32], why[256], line[64];

    for (int i = from; i < to; i++) {
        snprintf(name, sizeof name, "c%d", i);
        if (i == to - 1) {
            size_t mark = harness_log_mark(h);
            cr_assert(one_cycle(&l, name, why, sizeof why), "cycle %d: %s", i,
                      why);
            snprintf(line, sizeof line, "client %s left", name);
            cr_assert(harness_wait_log_from(h, mark, line, mpt_ms(MPT_MSG_MS)),
                      "the broker did not see %s leave", name);
        } else {
            cr_assert(one_cycle(&l, name, why, sizeof why), "cycle %d: %s", i,
                      why);
        }
    }
}

/*
 * 10 000 connect/auth/disconnect cycles leave the broker's memory where
 * it was. The baseline is taken after a warm-up of 300 cycles, so that
 * the allocator's free lists, libevent's structures and the name table
 * have reached their working size. 2 MiB of slack: a leak of even 200
 * bytes per session (a name, a bufferevent, a timer) would show as
 * ~2 MiB over 10 000 sessions, while allocator noise (fragmentation,
 * arena trimming) stays well under it.
 */
Test(faults, ten_thousand_login_cycles_keep_memory_flat)
{
    bool wrapped = harness_rss_unreliable();
    int n = wrapped ? 500 : 10000;
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct bystanders by;

    bystanders_start(h, &by, 5);
    cycles(h, 0, 300);
    long base = harness_broker_kib(h, "VmRSS");
    cycles(h, 300, 300 + n);
    long after = harness_broker_kib(h, "VmRSS");
    cr_log_info("%d login cycles: RSS %ld KiB after the warm-up, %ld KiB "
                "after (%+ld KiB)", n, base, after, after - base);
    if (!wrapped)
        cr_assert_lt(after - base, 2 * MIB / KIB,
                     "RSS grew from %ld KiB to %ld KiB over %d cycles", base,
                     after, n);
    bystanders_finish(&by);
    harness_stop(h);
}

/*
 * An idle, logged-in client costs the broker less than 1 KiB: its
 * session, one read event, its name; no buffer (a plain socket's buffers
 * exist only while bytes wait in them, and JSON's decoder takes the
 * newline after Auth with it). A bufferevent and its two evbuffers alone
 * were ~930 bytes; a JSON client's leftover newline pinned a 4 KiB read
 * chunk. IDLE_WARM clients first, so that the tables and the allocator
 * have their working size, then IDLE_COUNT more, measured.
 */
#define IDLE_WARM 200
#define IDLE_COUNT 3000
#define IDLE_BYTES_MAX 1024

static void idle_clients_cost_little(size_t listener, enum rc_format fmt)
{
    struct rlimit nofile;
    struct rc_client **c = calloc(IDLE_WARM + IDLE_COUNT, sizeof *c);
    char name[32], body[512];
    int n = harness_rss_unreliable() ? 300 : IDLE_COUNT;

    cr_assert_not_null(c);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    if (nofile.rlim_cur < IDLE_WARM + (rlim_t)n + 64)
        cr_skip_test("RLIMIT_NOFILE %lu is too low for %d clients",
                     (unsigned long)nofile.rlim_cur, IDLE_WARM + n);
    snprintf(body, sizeof body, "%s%s"
             "limits = { max_clients = 20000; max_clients_per_address = 0; };\n",
             MPT_LISTEN_JSON_BINARY, MPT_AUTH_ALLOW_ALL);
    struct harness *h = harness_start(body);
    for (int i = 0; i < IDLE_WARM; i++) {
        snprintf(name, sizeof name, "warm%d", i);
        c[i] = rc_login_any(h, listener, fmt, name);
    }
    long base = harness_broker_kib(h, "VmRSS");
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "idle%d", i);
        c[IDLE_WARM + i] = rc_login_any(h, listener, fmt, name);
    }
    long after = harness_broker_kib(h, "VmRSS");
    long per_client = (after - base) * KIB / n;
    cr_log_info("%d idle %s clients: RSS %ld -> %ld KiB, %ld bytes each", n,
                fmt == RC_JSON ? "JSON" : "binary", base, after, per_client);
    if (!harness_rss_unreliable())
        cr_assert_lt(per_client, IDLE_BYTES_MAX,
                     "an idle client costs %ld bytes", per_client);
    for (int i = 0; i < IDLE_WARM + n; i++)
        rc_close(c[i]);
    free(c);
    harness_stop(h);
}

Test(faults, an_idle_binary_client_costs_less_than_a_kib, .timeout = 120)
{
    idle_clients_cost_little(BINARY_LISTENER, RC_BINARY);
}

Test(faults, an_idle_json_client_costs_less_than_a_kib, .timeout = 120)
{
    idle_clients_cost_little(JSON_LISTENER, RC_JSON);
}

/* ======================================================================
 * SIGTERM while busy
 */

#define BUSY_PAIRS 4
#define BUSY_DATA 4096

struct busy {
    struct rc_client *s[BUSY_PAIRS], *r[BUSY_PAIRS];
    unsigned char *frame[BUSY_PAIRS]; /* one message, sent over and over */
    size_t frame_len[BUSY_PAIRS], offset[BUSY_PAIRS];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* signalled as bytes arrive */
    bool stop;
    size_t received[BUSY_PAIRS]; /* bytes read by each receiver */
    bool closed[BUSY_PAIRS];     /* the receiver saw EOF */
};

static void *busy_main(void *arg)
{
    struct busy *b = arg;
    bool s_open[BUSY_PAIRS], r_open[BUSY_PAIRS];
    unsigned char buf[65536];

    for (int i = 0; i < BUSY_PAIRS; i++)
        s_open[i] = r_open[i] = true;
    for (;;) {
        struct pollfd p[2 * BUSY_PAIRS];
        int open = 0;
        pthread_mutex_lock(&b->mu);
        bool stop = b->stop;
        pthread_mutex_unlock(&b->mu);
        if (stop)
            break;
        for (int i = 0; i < BUSY_PAIRS; i++) {
            p[2 * i] = (struct pollfd){ .fd = s_open[i] ? rc_fd(b->s[i]) : -1,
                                        .events = POLLOUT };
            p[2 * i + 1] = (struct pollfd){ .fd = r_open[i] ? rc_fd(b->r[i]) : -1,
                                            .events = POLLIN };
            open += s_open[i] + r_open[i];
        }
        if (open == 0)
            break;
        poll(p, 2 * BUSY_PAIRS, 50);
        for (int i = 0; i < BUSY_PAIRS; i++) {
            if (s_open[i] && p[2 * i].revents) {
                ssize_t n = send(rc_fd(b->s[i]), b->frame[i] + b->offset[i],
                                 b->frame_len[i] - b->offset[i],
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0)
                    b->offset[i] = (b->offset[i] + (size_t)n) % b->frame_len[i];
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                    s_open[i] = false;
            }
            if (r_open[i] && p[2 * i + 1].revents) {
                ssize_t n = recv(rc_fd(b->r[i]), buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) {
                    pthread_mutex_lock(&b->mu);
                    b->received[i] += (size_t)n;
                    pthread_cond_broadcast(&b->cv);
                    pthread_mutex_unlock(&b->mu);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    r_open[i] = false;
                    pthread_mutex_lock(&b->mu);
                    b->closed[i] = true;
                    pthread_mutex_unlock(&b->mu);
                }
            }
        }
    }
    return NULL;
}

/* Must hold b->mu. */
static size_t busy_least_locked(struct busy *b)
{
    size_t least = SIZE_MAX;

    for (int i = 0; i < BUSY_PAIRS; i++)
        least = b->received[i] < least ? b->received[i] : least;
    return least;
}

/* Wait until every receiver has read `bytes`; the least read so far. */
static size_t busy_wait(struct busy *b, size_t bytes, int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;
    struct timespec ts = { (time_t)(deadline / 1000),
                           (long)(deadline % 1000) * 1000000L };
    size_t least;

    pthread_mutex_lock(&b->mu);
    while ((least = busy_least_locked(b)) < bytes &&
           pthread_cond_timedwait(&b->cv, &b->mu, &ts) != ETIMEDOUT)
        ;
    least = busy_least_locked(b);
    pthread_mutex_unlock(&b->mu);
    return least;
}

/*
 * SIGTERM while four pairs (binary and JSON) blast each other: the broker
 * stops promptly with exit status 0, freeing everything (under valgrind
 * the wrapper's exit status 99 would report a leak), and every client
 * sees its socket closed.
 */
Test(faults, sigterm_while_busy_exits_cleanly)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct busy b = { 0 };
    char name[16], id[16];
    unsigned char *data = malloc(BUSY_DATA);
    int status = 0;

    cr_assert_not_null(data);
    memset(data, 'b', BUSY_DATA);
    pthread_condattr_t ca;
    pthread_mutex_init(&b.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b.cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < BUSY_PAIRS; i++) {
        enum rc_format sf = i % 2 ? RC_JSON : RC_BINARY;
        enum rc_format rf = i / 2 ? RC_JSON : RC_BINARY;
        snprintf(name, sizeof name, "s%d", i);
        b.s[i] = rc_login_any(h, sf == RC_JSON ? JSON_LISTENER : BINARY_LISTENER,
                              sf, name);
        snprintf(name, sizeof name, "r%d", i);
        b.r[i] = rc_login_any(h, rf == RC_JSON ? JSON_LISTENER : BINARY_LISTENER,
                              rf, name);
        snprintf(id, sizeof id, "s%d:1", i);
        rc_open_conn(b.s[i], b.r[i], id, "busy");
        if (sf == RC_JSON) {
            char *line = rc_json_line(RC_DATA, name, id, rc_bytes(data, BUSY_DATA));
            cr_assert_not_null(line);
            b.frame_len[i] = strlen(line) + 1;
            b.frame[i] = malloc(b.frame_len[i]);
            cr_assert_not_null(b.frame[i]);
            memcpy(b.frame[i], line, b.frame_len[i] - 1);
            b.frame[i][b.frame_len[i] - 1] = '\n';
            free(line);
        } else {
            b.frame[i] = rc_binary_frame(RC_DATA, name, id,
                                         rc_bytes(data, BUSY_DATA), -1,
                                         &b.frame_len[i]);
            cr_assert_not_null(b.frame[i]);
        }
    }
    cr_assert_eq(pthread_create(&b.thread, NULL, busy_main, &b), 0);

    /* Every pair is moving data before the signal. */
    size_t before = busy_wait(&b, 1024 * 1024, mpt_ms(MPT_MSG_MS));
    cr_assert_geq(before, 1024 * 1024, "the pairs did not get going (%zu "
                  "bytes)", before);
    cr_assert(harness_signal(h, SIGTERM));
    long long sent = mpt_now_ms();
    bool exited = harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status);
    long long took = mpt_now_ms() - sent;
    pthread_mutex_lock(&b.mu);
    b.stop = exited ? false : true;
    pthread_mutex_unlock(&b.mu);
    cr_assert(exited, "the broker did not exit within %d ms of SIGTERM",
              mpt_ms(MPT_EXIT_MS));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the broker's exit status was %#x (99: valgrind found errors)",
              (unsigned)status);
    cr_log_info("SIGTERM while busy: exited after %lld ms; %zu KiB per pair "
                "before the signal", took, before / 1024);
    cr_assert(harness_wait_log(h, "shutting down", mpt_ms(MPT_MSG_MS)));
    /* Every client sees the end (the thread stops when all are closed). */
    pthread_join(b.thread, NULL);
    for (int i = 0; i < BUSY_PAIRS; i++)
        cr_assert(b.closed[i], "receiver %d was not closed", i);
    for (int i = 0; i < BUSY_PAIRS; i++) {
        free(b.frame[i]);
        rc_close(b.s[i]);
        rc_close(b.r[i]);
    }
    free(data);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    harness_stop(h);
}

/* ======================================================================
 * Running out of file descriptors
 */

/* The lowest limit leaving exactly `spare` free descriptor numbers
 * below it (RLIMIT_NOFILE bounds the numbers, not the count). */
static rlim_t limit_leaving(struct harness *h, int spare)
{
    char path[64];
    bool used[4096] = { false };
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof path, "/proc/%d/fd", (int)harness_pid(h));
    d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        long fd = strtol(e->d_name, NULL, 10);
        if (e->d_name[0] != '.' && fd >= 0 && fd < 4096)
            used[fd] = true;
    }
    closedir(d);
    int free_seen = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (!used[fd] && ++free_seen == spare)
            return (rlim_t)fd + 1;
    cr_assert_fail("no room for %d descriptors below 4096", spare);
    return 0;
}

/*
 * The broker's RLIMIT_NOFILE is lowered (prlimit) to what it uses plus 3;
 * then 24 sockets connect to one of its listening sockets. accept()
 * fails: the broker logs it once ("accept on LABEL failed: ...; pausing
 * it for 1000 ms"), retries once a second without spinning (its CPU time
 * over 3 s of pressure stays low) and without logging again, and
 * logged-in clients keep working. Once the sockets are closed and the
 * limit restored, it logs "accepting on LABEL again after N failed
 * accepts". Both the client listeners and the metrics listener do this.
 */
#define FD_SPARE 3
#define FD_FLOOD 24
#define FD_PRESSURE_MS 3000

static void exhaust_descriptors(struct harness *h, int port, const char *label)
{
    struct bystanders by;
    struct rlimit old, low;
    struct rc_client *flood[FD_FLOOD];
    char failed[200], again[200];
    pid_t pid = harness_pid(h);

    /* A slow pump: its own cost must not hide a busy loop. */
    bystanders_start(h, &by, 10);
    snprintf(failed, sizeof failed, "error: accept on %s failed: ", label);
    snprintf(again, sizeof again, "notice: accepting on %s again after ", label);

    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0, "prlimit: %s",
                 strerror(errno));
    low = old;
    low.rlim_cur = limit_leaving(h, FD_SPARE);
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &low, NULL), 0, "prlimit: %s",
                 strerror(errno));

    size_t mark = harness_log_mark(h);
    for (int i = 0; i < FD_FLOOD; i++) {
        /* The kernel completes the handshake whether or not the broker
         * accepts: the connections wait in the listen backlog. */
        flood[i] = rc_connect_tcp("127.0.0.1", port, RC_JSON);
        cr_assert_not_null(flood[i], "connect %d: %s", i, strerror(errno));
    }
    cr_assert(harness_wait_log_from(h, mark, failed, mpt_ms(MPT_MSG_MS)),
              "the broker did not log \"%s...\"", failed);
    cr_assert(harness_wait_log_from(h, mark, "; pausing it for 1000 ms", 0));

    /* Pressure: the backlog stays full for FD_PRESSURE_MS. */
    long long cpu0 = harness_broker_cpu_ms(h), t0 = mpt_now_ms();
    size_t after_first = harness_log_mark(h);
    bool more = harness_wait_log_from(h, after_first, failed, FD_PRESSURE_MS);
    long long cpu = harness_broker_cpu_ms(h) - cpu0, wall = mpt_now_ms() - t0;
    int lines = count_log_lines(h, "accept on ", " failed");
    int spins = count_log_lines(h, "Error from accept()", NULL);
    cr_log_info("fd exhaustion on %s: limit %lu; %lld ms of CPU in %lld ms; "
                "%d accept failure line(s), %d libevent line(s)", label,
                (unsigned long)low.rlim_cur, cpu, wall, lines, spins);
    (void)more; /* a second line is allowed; more are not */
    cr_assert_leq(lines, 2, "the accept failure was logged %d times", lines);
    cr_assert_eq(spins, 0, "libevent logged \"Error from accept()\" %d "
                 "times", spins);
    /* A spinning accept loop would use about all of it. */
    cr_assert_lt(cpu, wall / 4, "the broker used %lld ms of CPU in %lld ms "
                 "while out of descriptors", cpu, wall);
    /* Logged-in clients still work. */
    rc_pump_progress(by.pump, 20, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(harness_log_contains(h, "client x left") ||
                 harness_log_contains(h, "client y left"), false);

    /* Relief: the sockets go, the limit comes back. */
    mark = harness_log_mark(h);
    for (int i = 0; i < FD_FLOOD; i++)
        rc_close(flood[i]);
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &old, NULL), 0, "prlimit: %s",
                 strerror(errno));
    cr_assert(harness_wait_log_from(h, mark, again, mpt_ms(MPT_MSG_MS) + 1000),
              "the broker did not log \"%s...\"", again);
    bystanders_finish(&by);
    cr_assert_eq(count_log_lines(h, "accept on ", " failed"), lines);
}

Test(faults, running_out_of_file_descriptors)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct harness_listener l = harness_listener(h, JSON_LISTENER);
    char label[128];

    snprintf(label, sizeof label, "tcp:%s:%d", l.host, l.port);
    exhaust_descriptors(h, l.port, label);
    struct rc_client *late = rc_login_any(h, JSON_LISTENER, RC_JSON, "late");
    struct rc_client *late2 = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "late2");
    rc_open_conn(late, late2, "late:1", "after");
    cr_assert(rc_send(late, RC_DATA, "late2", "late:1", rc_str("made it")));
    rc_expect(late2, RC_DATA, "late", "late:1", rc_str("made it"));
    rc_close(late);
    rc_close(late2);
    harness_stop(h);
}

/* Before: with descriptors exhausted, one metrics connection made evhttp
 * spin, writing 268 690 "Error from accept()" lines in 3 s. */
Test(faults, running_out_of_file_descriptors_on_the_metrics_listener)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "metrics = { address = \"127.0.0.1\"; "
                                      "port = 0; timeout_ms = 60000; };\n");
    int port = http_metrics_port(h);
    char label[128];
    struct http_response r;

    snprintf(label, sizeof label, "metrics http://127.0.0.1:%d", port);
    exhaust_descriptors(h, port, label);
    r = http_exchange(port, "GET /healthz HTTP/1.0\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", r.headers);
    http_response_free(&r);
    rc_close(rc_login_any(h, JSON_LISTENER, RC_JSON, "late"));
    harness_stop(h);
}
