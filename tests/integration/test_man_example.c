/*
 * test_man_example.c - the echo service of libmpclient(3)'s EXAMPLES,
 * compiled from the page as written, works against the real broker: a
 * doc example that stops compiling or working fails here.
 *
 * tests/client.mk extracts it from doc/man/libmpclient.3 into
 * man_echo.c, changing two things only: its main() is man_echo_main(),
 * run on a thread of its own, and its address is man_example_address,
 * the test broker's. Its secret is set as the page shows, without a
 * length.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <mp/client.h>

#include "harness.h"

/* In man_echo.c, made from the page. */
int man_echo_main(void);
extern const char *man_example_address;
const char *man_example_address;

TestSuite(man_example, .fini = harness_reap_all, .timeout = 60);

struct example_run {
    pthread_t thread;
    int status;
};

static void *run_example(void *arg)
{
    struct example_run *r = arg;

    r->status = man_echo_main();
    return NULL;
}

/* What the test's own client saw. */
struct peer {
    struct mp_client *c;
    int open_status;
    bool opened;
    char reply[64];
    bool replied;
    bool timed_out;
};

static void on_reply(struct mp_conn *conn, const void *data, size_t len,
                     void *arg)
{
    struct peer *p = arg;

    (void)conn;
    snprintf(p->reply, sizeof p->reply, "%.*s", (int)len, (const char *)data);
    p->replied = true;
    mp_client_stop(p->c);
}

static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct peer *p = arg;

    p->opened = true;
    p->open_status = status;
    if (conn == NULL) {
        mp_client_stop(p->c);
        return;
    }
    mp_conn_set_callbacks(conn, on_reply, NULL, p);
    mp_conn_send(conn, "hello", 5);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct peer *p = arg;

    (void)fd;
    (void)what;
    p->timed_out = true;
    mp_client_stop(p->c);
}

static bool join_within(struct example_run *r, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(r->thread, NULL, &until) == 0;
}

Test(man_example, echo_service_of_libmpclient_3)
{
    struct harness *h = harness_new();
    char *echo = harness_passwd_entry("echo", "demo");
    char *alice = harness_passwd_entry("alice", "demo");
    char passwd[1024], address[64], reason[256] = "";
    struct example_run run = { .status = -1 };
    struct peer p = { 0 };
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = 0;

    snprintf(passwd, sizeof passwd, "%s\n%s\n", echo, alice);
    free(echo);
    free(alice);
    harness_write_file(h, "mpbroker.passwd", passwd);
    harness_boot(h,
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n");
    snprintf(address, sizeof address, "tcp:127.0.0.1:%d",
             harness_listener(h, 0).port);
    man_example_address = address;

    cr_assert_eq(pthread_create(&run.thread, NULL, run_example, &run), 0);
    cr_assert(harness_wait_log(h, "client echo logged in", mpt_ms(MPT_MSG_MS)),
              "the example did not log in as echo (secret \"demo\", no length)");

    /* A message to the example's echo service comes back. */
    o.address = address;
    o.name = "alice";
    o.secret = "demo";
    p.c = mp_client_new(NULL, &o, &err);
    cr_assert_not_null(p.c, "%s", mp_strerror(err));
    err = mp_client_connect_wait(p.c, reason, sizeof reason);
    cr_assert_eq(err, MP_OK, "alice: %s (%s)", mp_strerror(err), reason);
    cr_assert_eq(mp_client_open(p.c, "echo", "echo", on_open, &p), MP_OK);
    struct timeval limit = { mpt_ms(MPT_MSG_MS) / 1000, 0 };
    cr_assert_eq(event_base_once(mp_client_base(p.c), -1, EV_TIMEOUT,
                                 on_timeout, &p, &limit), 0);
    mp_client_run(p.c);
    cr_assert(!p.timed_out, "no echo within %d ms", mpt_ms(MPT_MSG_MS));
    cr_assert_eq(p.open_status, MP_OK, "open: %s", mp_strerror(p.open_status));
    cr_assert_str_eq(p.reply, "hello");
    mp_client_free(p.c);

    /* The broker goes away: the example's mp_client_run returns, and its
     * main 0. */
    harness_stop(h);
    cr_assert(join_within(&run, mpt_ms(MPT_EXIT_MS)),
              "the example did not return after the broker left");
    cr_assert_eq(run.status, 0, "the example's main returned %d", run.status);
}
