/*
 * Integration tests: backpressure and the output limits
 * (limits.output_high_water / output_low_water / output_hard_limit).
 *
 * A client that stops reading must pause the clients sending to it, lose
 * nothing, and leave everyone else unaffected; one whose backlog passes
 * the hard limit anyway is disconnected and its peers are told.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "numbered.h"
#include "rawclient.h"

TestSuite(backpressure, .fini = harness_reap_all, .timeout = 120);

#define BINARY_LISTENER 1

/* A pair of bystanders exchanging numbered messages: proof that the rest
 * of the broker keeps serving. */
static void bystanders_exchange(struct rc_client *x, struct rc_client *y,
                                int count)
{
    char text[32];

    for (int i = 0; i < count; i++) {
        snprintf(text, sizeof text, "bystander %d", i);
        cr_assert(rc_send(x, RC_DATA, "y", "x:1", rc_str(text)));
        rc_expect(y, RC_DATA, "x", "x:1", rc_str(text));
    }
}

static long broker_rss_kib(struct harness *h)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)harness_pid(h));
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

/*
 * A receiver that stops reading while a sender blasts 64 MiB at it: the
 * broker pauses the sender (the sender's writes block) instead of queueing
 * past the hard limit of 4 MiB, which would drop the receiver; bystanders
 * keep talking; once the receiver reads again, every message arrives, in
 * order.
 */
Test(backpressure, stalled_reader_pauses_its_sender_and_loses_nothing)
{
    enum { DATA = 16 * 1024, COUNT = 4096 };
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { output_high_water = 65536; output_low_water = 16384;\n"
        "           output_hard_limit = 4194304;\n"
        /* The stall is the point here: no slow-consumer deadline. */
        "           slow_consumer_timeout_ms = 0; };\n"
        "log = { level = \"debug\"; };\n");
    struct rc_client *s = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "s");
    struct rc_client *r = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "r");
    struct rc_client *x = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "x");
    struct rc_client *y = rc_login_any(h, 0, RC_JSON, "y");
    struct blaster b = {.fd = rc_fd(s), .total = COUNT, .to = "r", .id = "s:1",
                        .data_len = DATA};
    struct reader rd = {.fd = rc_fd(r), .cap = 1 << 20};
    long long deadline;

    rc_open_conn(s, r, "s:1", "sink");
    rc_open_conn(x, y, "x:1", "chat");
    b.frame = malloc(DATA + 64);
    rd.buf = malloc(rd.cap);
    cr_assert(b.frame && rd.buf);
    mpt_set_nonblocking(b.fd);
    mpt_set_nonblocking(rd.fd);

    /* Phase 1: blast until the sender has been blocked for 300 ms. */
    blast_until_paused(&b);
    cr_assert(harness_wait_log(h, "pausing s", mpt_ms(MPT_MSG_MS)),
              "the broker did not log that it paused the sender");
    bystanders_exchange(x, y, 100);
    if (getenv("MP_BROKER_WRAPPER") == NULL) {
        long rss = broker_rss_kib(h);
        cr_assert(rss > 0 && rss < 32 * 1024,
                  "broker RSS %ld KiB with a stalled reader", rss);
    }

    /* Phase 2: the receiver reads; the sender finishes. */
    deadline = mpt_now_ms() + mpt_ms(60000);
    while (rd.received < COUNT) {
        struct pollfd p[2] = {{.fd = rd.fd, .events = POLLIN},
                              {.fd = b.fd, .events = POLLOUT}};
        bool done = blast(&b);
        poll(p, done ? 1 : 2, 100);
        read_frames(&rd, "s");
        cr_assert(!rd.eof, "the receiver was disconnected after %u messages",
                  rd.received);
        cr_assert_lt(mpt_now_ms(), deadline, "%u of %d messages arrived",
                     rd.received, COUNT);
    }
    cr_assert(!harness_log_contains(h, "disconnecting slow client"));
    bystanders_exchange(x, y, 10);
    free(b.frame);
    free(rd.buf);
    rc_close(s);
    rc_close(r);
    rc_close(x);
    rc_close(y);
    harness_stop(h);
}

/*
 * Eight senders each push one message of ~1 MB at a receiver that does
 * not read: the pause comes too late to bound its backlog (each message
 * is already read), so past output_hard_limit the receiver is
 * disconnected, every sender is told (ClientClosed), and the bystanders
 * keep talking.
 */
Test(backpressure, slow_consumer_past_the_hard_limit_is_disconnected)
{
    enum { SENDERS = 8, DATA = 1000000 };
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { output_high_water = 65536; output_low_water = 16384;\n"
        "           output_hard_limit = 1200000; };\n");
    struct rc_client *r = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "r");
    struct rc_client *x = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "x");
    struct rc_client *y = rc_login_any(h, 0, RC_JSON, "y");
    struct rc_client *senders[SENDERS];
    unsigned char *frame = malloc(DATA + 64);
    char name[16], id[16];

    cr_assert_not_null(frame);
    rc_open_conn(x, y, "x:1", "chat");
    for (int i = 0; i < SENDERS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        snprintf(id, sizeof id, "s%d:1", i);
        senders[i] = rc_login_any(h, BINARY_LISTENER, RC_BINARY, name);
        rc_open_conn(senders[i], r, id, "sink");
    }
    for (int i = 0; i < SENDERS; i++) {
        snprintf(id, sizeof id, "s%d:1", i);
        size_t n = data_frame(frame, "r", id, (uint32_t)i, DATA);
        cr_assert(rc_send_raw(senders[i], frame, n), "sender %d", i);
    }
    cr_assert(harness_wait_log(h, "disconnecting slow client r",
                               mpt_ms(MPT_MSG_MS)),
              "the slow receiver was not disconnected");
    for (int i = 0; i < SENDERS; i++)
        rc_expect(senders[i], RC_CLIENT_CLOSED, "r", "", RC_NULL);
    bystanders_exchange(x, y, 50);
    /* The receiver finds its socket closed once it reads what reached it. */
    mpt_set_nonblocking(rc_fd(r));
    struct reader rd = {.fd = rc_fd(r), .cap = 4 << 20};
    rd.buf = malloc(rd.cap);
    long long deadline = mpt_now_ms() + mpt_ms(10000);
    while (!rd.eof) {
        struct pollfd p = {.fd = rd.fd, .events = POLLIN};
        poll(&p, 1, 100);
        /* Contents do not matter here: only the close. */
        ssize_t n = read(rd.fd, rd.buf, rd.cap);
        rd.eof = n == 0 || (n < 0 && errno == ECONNRESET);
        cr_assert_lt(mpt_now_ms(), deadline, "the slow receiver was never closed");
    }
    free(rd.buf);
    free(frame);
    for (int i = 0; i < SENDERS; i++)
        rc_close(senders[i]);
    rc_close(r);
    rc_close(x);
    rc_close(y);
    harness_stop(h);
}

/* A paused sender is released when the client that paused it leaves: it
 * is told ClientClosed and keeps working with others. */
Test(backpressure, paused_sender_resumes_when_the_reader_leaves)
{
    enum { DATA = 16 * 1024, COUNT = 4096 };
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { output_high_water = 65536; output_low_water = 16384;\n"
        "           output_hard_limit = 4194304;\n"
        /* The stall is the point here: no slow-consumer deadline. */
        "           slow_consumer_timeout_ms = 0; };\n"
        "log = { level = \"debug\"; };\n");
    struct rc_client *s = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "s");
    struct rc_client *r = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "r");
    struct rc_client *y = rc_login_any(h, 0, RC_JSON, "y");
    struct blaster b = {.fd = rc_fd(s), .total = COUNT, .to = "r", .id = "s:1",
                        .data_len = DATA};
    long long deadline;

    rc_open_conn(s, r, "s:1", "sink");
    rc_open_conn(y, s, "y:1", "chat");
    b.frame = malloc(DATA + 64);
    cr_assert_not_null(b.frame);
    mpt_set_nonblocking(b.fd);
    blast_until_paused(&b);
    cr_assert(harness_wait_log(h, "pausing s", mpt_ms(MPT_MSG_MS)));
    rc_close(r); /* the reader leaves */
    cr_assert(harness_wait_log(h, "resuming s", mpt_ms(MPT_MSG_MS)),
              "the sender was not resumed");
    /* Finish the frame in flight so the stream stays well-formed; the
     * rest would bounce (no such connection) and is not needed. */
    deadline = mpt_now_ms() + mpt_ms(20000);
    while (b.offset != 0) {
        struct pollfd p = {.fd = b.fd, .events = POLLOUT};
        poll(&p, 1, 100);
        b.total = b.next + 1;
        blast(&b);
        cr_assert_lt(mpt_now_ms(), deadline, "the sender stayed blocked");
    }
    /* The sender is read again: a message to y gets through. Its reply
     * stream holds a ClientClosed for r and bounces for messages sent
     * after r left, then y's message. */
    cr_assert(rc_send(y, RC_DATA, "s", "y:1", rc_str("still there?")));
    struct rc_msg m;
    bool told = false, got = false;
    while (!got) {
        int st = rc_recv(s, &m, mpt_ms(MPT_MSG_MS));
        cr_assert_eq(st, RC_OK, "sender: %s", rc_status_name(st));
        told |= m.meta == RC_CLIENT_CLOSED &&
                strcmp(m.other_client, "r") == 0;
        got = m.meta == RC_DATA && strcmp(m.other_client, "y") == 0;
        rc_msg_free(&m);
    }
    cr_assert(told, "the sender was not told that r left");
    free(b.frame);
    rc_close(s);
    rc_close(y);
    harness_stop(h);
}

/* The output limits are checked together: low <= high, and the hard limit
 * leaves room for one more message above the high water mark. */
Test(backpressure, inconsistent_output_limits_are_config_errors)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_config(h,
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { output_high_water = 65536; output_low_water = 100000;\n"
        "           output_hard_limit = 70000; };\n");
    const char *args[] = { "-t", "-c", conf, NULL };
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    cr_assert_eq(r.exit_code, 1, "exit %d, stderr:\n%s", r.exit_code, r.err);
    cr_assert_not_null(strstr(r.err, "output_low_water (100000) is above"),
                       "stderr:\n%s", r.err);
    cr_assert_not_null(strstr(r.err, "output_hard_limit (70000) must be at least"),
                       "stderr:\n%s", r.err);
    cr_assert_not_null(strstr(r.err, conf), "no file name:\n%s", r.err);
    run_result_free(&r);
    harness_free(h);
}
