/*
 * test_client_reconnect.c - libmpclient's reconnect option and its
 * addresses (include/mp/client.h, "RECONNECT"): a broker killed with
 * SIGKILL and started again on the same Unix socket or TCP port, a
 * broker that shuts down with GoingAway, a re-login the new broker
 * refuses, the backoff, the addresses in turn.
 *
 * Every wait is for an event (the fixture's WAIT, bounded by mpt_ms);
 * the restarts use harness_relaunch in the broker's own directory.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_client_fixture.h"

#define UNIX_BROKER LISTEN_UNIX MPT_AUTH_ALLOW_ALL

/* What the reconnect callbacks saw. */
#define MAX_ATTEMPTS 16
struct recon {
    int interrupted, interrupted_status;
    char interrupted_reason[256];
    unsigned attempts;           /* reconnecting callbacks */
    unsigned attempt[MAX_ATTEMPTS], delay[MAX_ATTEMPTS];
    long long at[MAX_ATTEMPTS];  /* mpt_now_ms() of each */
    int reconnected;
    char address[320];           /* mp_client_address at reconnected */
    struct lost lost;
    /* Checks made inside the callbacks. */
    int open_rc, watch_rc, list_rc; /* in interrupted */
    bool disconnect_in_interrupted;
    int disconnected;
};

static void on_interrupted(struct mp_client *c, int status,
                           const char *reason, void *arg)
{
    struct recon *r = arg;
    struct end *e = NEW_END(0);

    r->interrupted++;
    r->interrupted_status = status;
    snprintf(r->interrupted_reason, sizeof r->interrupted_reason, "%s",
             reason != NULL ? reason : "(null)");
    r->open_rc = mp_client_open(c, "nobody", "x", end_open, e);
    r->watch_rc = mp_client_watch(c, "nobody");
    r->list_rc = mp_client_list(c, "", NULL, NULL);
}

static void on_reconnecting(struct mp_client *c, unsigned attempt,
                            unsigned delay_ms, void *arg)
{
    struct recon *r = arg;

    (void)c;
    if (r->attempts < MAX_ATTEMPTS) {
        r->attempt[r->attempts] = attempt;
        r->delay[r->attempts] = delay_ms;
        r->at[r->attempts] = mpt_now_ms();
    }
    r->attempts++;
}

static void on_reconnected(struct mp_client *c, void *arg)
{
    struct recon *r = arg;

    r->reconnected++;
    snprintf(r->address, sizeof r->address, "%s", mp_client_address(c));
}

static void on_recon_lost(struct mp_client *c, int status, void *arg)
{
    struct recon *r = arg;

    on_lost(c, status, &r->lost);
}

static void on_disconnected(struct mp_client *c, void *arg)
{
    struct recon *r = arg;

    (void)c;
    r->disconnected++;
}

/* A reconnecting client on the test's base: address `a` then `more`
 * (may be NULL), name, format; logged in. */
static struct mp_client *recon_client(const char *a, const char *more,
                                      const char *fmt, const char *name,
                                      unsigned initial_ms, unsigned max_ms,
                                      unsigned max_attempts, struct recon *r)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    const char *extra[1] = { more };
    struct mp_client *c;

    o.address = a;
    o.addresses = more != NULL ? extra : NULL;
    o.n_addresses = more != NULL ? 1 : 0;
    o.format = fmt;
    o.name = name;
    o.secret = SECRET;
    o.reconnect = 1;
    o.reconnect_initial_ms = initial_ms;
    o.reconnect_max_ms = max_ms;
    o.reconnect_max_attempts = max_attempts;
    /* An attempt at a broker that is down fails at once (refused), but
     * one at a broker under valgrind may take long to answer. */
    o.connect_timeout_ms = (unsigned)mpt_ms(MPT_MSG_MS);
    c = client_new_opts(&o);
    mp_client_on_interrupted(c, on_interrupted, r);
    mp_client_on_reconnecting(c, on_reconnecting, r);
    mp_client_on_reconnected(c, on_reconnected, r);
    mp_client_on_lost(c, on_recon_lost, r);
    login(c);
    return c;
}

static void kill_broker(struct harness *h)
{
    cr_assert(harness_signal(h, SIGKILL));
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), NULL),
              "the killed broker did not exit");
}

static void restart(struct harness *h, const char *body)
{
    const char *conf = harness_write_config(h, body);

    cr_assert(harness_relaunch(h, conf, mpt_ms(MPT_READY_MS)),
              "the broker did not start again");
}

/* A config whose TCP listeners take the ports the broker has now. */
static const char *same_ports(struct harness *h, const char *auth)
{
    static char body[1024];
    struct harness_listener j = harness_listener(h, 0);
    struct harness_listener b = harness_listener(h, 1);

    snprintf(body, sizeof body,
             "listeners = ( { address = \"127.0.0.1\"; port = %d; "
             "translator = \"json\"; },\n"
             "              { address = \"127.0.0.1\"; port = %d; "
             "translator = \"binary\"; } );\n%s",
             j.port, b.port, auth);
    return body;
}

/* ------------------------------------------------------------------------
 * Riding out a restart
 */

/* SIGKILL under a listening client and a connecting one, on Unix
 * sockets: their connection ends (BROKER_LOST), what needs a session
 * fails with MP_ERR_DISCONNECTED meanwhile, and once the broker is back
 * on the same socket both log in again and talk. */
FORMAT_TEST_OPTS(restart_on_unix_socket, .timeout = 120)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    struct recon ra = { 0 }, rb = { 0 };
    struct mp_client *bob = recon_client(address_of(h, lst(fmt)), NULL, fmt,
                                         "bob", 20, 100, 0, &rb);
    struct mp_client *alice = recon_client(address_of(h, lst(fmt)), NULL,
                                           fmt, "alice", 20, 100, 0, &ra);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0);

    handle(bob, "echo", s);
    open_ok(alice, "bob", "echo", a);
    echo_once(a, "before");

    kill_broker(h);
    WAIT(ra.interrupted == 1 && rb.interrupted == 1, "interrupted: %d %d",
         ra.interrupted, rb.interrupted);
    cr_assert_eq(ra.interrupted_status, MP_ERR_BROKER_GONE, "%s",
                 mp_strerror(ra.interrupted_status));
    cr_assert(end_over(a) && a->close_reason == MP_CLOSE_BROKER_LOST,
              "alice's end: closes %d reason %d", a->closes, a->close_reason);
    cr_assert(end_over(&s->ends[0]) &&
                  s->ends[0].close_reason == MP_CLOSE_BROKER_LOST,
              "bob's end");
    cr_assert_eq(ra.open_rc, MP_ERR_DISCONNECTED, "open: %s",
                 mp_strerror(ra.open_rc));
    cr_assert_eq(ra.watch_rc, MP_ERR_DISCONNECTED);
    cr_assert_eq(ra.list_rc, MP_ERR_DISCONNECTED);
    cr_assert_eq(mp_client_open(alice, "bob", "echo", end_open, NEW_END(0)),
                 MP_ERR_DISCONNECTED);
    /* The stale socket file is the broker's to clear. */
    restart(h, UNIX_BROKER);
    WAIT(ra.reconnected == 1 && rb.reconnected == 1, "reconnected: %d %d "
         "(attempts %u %u)", ra.reconnected, rb.reconnected, ra.attempts,
         rb.attempts);
    cr_assert_eq(ra.attempt[0], 1);
    cr_assert_eq(ra.delay[0], 0, "the first attempt waits: %u", ra.delay[0]);
    cr_assert_eq(ra.lost.calls, 0);
    cr_assert_str_eq(ra.address, address_of(h, lst(fmt)));

    struct end *a2 = NEW_END(0);
    open_ok(alice, "bob", "echo", a2);
    echo_once(a2, "after");
    fx_stop();
}

/* The same over TCP: the broker comes back on the same port. Watches are
 * sent again: the presence callback hears of bob anew. */
static void count_presence(struct mp_client *c, const char *name,
                           int online, void *arg)
{
    int *counts = arg; /* [0] offline, [1] online */

    (void)c;
    if (strcmp(name, "bob") == 0)
        counts[online ? 1 : 0]++;
}

FORMAT_TEST_OPTS(restart_on_tcp_port_rewatches, .timeout = 120)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct recon ra = { 0 };
    struct mp_client *alice = recon_client(address_of(h, lst(fmt)), NULL,
                                           fmt, "alice", 20, 100, 0, &ra);
    const char *body = same_ports(h, MPT_AUTH_ALLOW_ALL);
    int presence[2] = { 0, 0 };

    mp_client_on_presence(alice, count_presence, presence);
    cr_assert_eq(mp_client_watch(alice, "bob"), MP_OK);
    WAIT(presence[0] == 1, "bob offline: %d", presence[0]);
    kill_broker(h);
    restart(h, body);
    WAIT(ra.reconnected == 1, "not reconnected (attempts %u)", ra.attempts);
    cr_assert_eq(ra.interrupted, 1);
    WAIT(presence[0] == 2, "the watch was not sent again: offline %d",
         presence[0]);
    join(h, fmt, "bob");
    WAIT(presence[1] == 1, "bob online: %d", presence[1]);
    fx_stop();
}

/* ------------------------------------------------------------------------
 * Backoff and giving up
 */

/* The broker stays down: the delays grow as documented (each in
 * [nominal/2, nominal], the first 0), each attempt waits at least its
 * delay, and after max attempts the lost callback ends mp_client_run
 * (own loop) with the last attempt's error. */
Test(client, backoff_then_give_up_ends_run, .timeout = 60)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct recon r = { 0 };
    struct waiter wd = { 0 };
    struct mp_client *c;
    int err = 0, rc;
    enum { INITIAL = 40, MAX = 160, ATTEMPTS = 6 };

    o.address = address_of(h, 1);
    o.name = "alice";
    o.secret = SECRET;
    o.reconnect = 1;
    o.reconnect_initial_ms = INITIAL;
    o.reconnect_max_ms = MAX;
    o.reconnect_max_attempts = ATTEMPTS;
    c = mp_client_new(NULL, &o, &err);
    cr_assert_not_null(c, "%s", mp_strerror(err));
    mp_client_on_interrupted(c, on_interrupted, &r);
    mp_client_on_reconnecting(c, on_reconnecting, &r);
    mp_client_on_lost(c, on_recon_lost, &r);
    rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    wd.stop = c;
    waiter_start(&wd, mp_client_base(c), mpt_ms(20000));
    kill_broker(h);
    rc = mp_client_run(c);
    cr_assert_eq(rc, MP_OK);
    cr_assert(!wd.expired, "mp_client_run did not return (attempts %u)",
              r.attempts);
    waiter_stop(&wd);
    cr_assert_eq(r.interrupted, 1);
    cr_assert_eq(r.attempts, ATTEMPTS, "attempts: %u", r.attempts);
    cr_assert_eq(r.lost.calls, 1);
    cr_assert_eq(r.lost.status, MP_ERR_CONNECT, "%s",
                 mp_strerror(r.lost.status));
    cr_assert_eq(r.delay[0], 0);
    for (unsigned i = 1; i < ATTEMPTS; i++) {
        unsigned nominal = INITIAL << (i - 1);
        if (nominal > MAX)
            nominal = MAX;
        cr_assert_eq(r.attempt[i], i + 1);
        cr_assert(r.delay[i] >= nominal / 2 && r.delay[i] <= nominal,
                  "attempt %u: delay %u, nominal %u", i + 1, r.delay[i],
                  nominal);
        /* Attempt i+1 was announced when attempt i had failed, which
         * was at least its delay after it was announced. */
        if (i + 1 < ATTEMPTS)
            cr_assert_geq(r.at[i + 1] - r.at[i], (long long)r.delay[i],
                          "attempt %u started early", i + 1);
    }
    mp_client_free(c);
    reap_killed(h);
}

/* After a restart, the broker no longer takes the secret: the client
 * stops there (MP_ERR_AUTH), it does not retry. */
Test(client, auth_refused_at_relogin_stops, .timeout = 120)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    struct recon r = { 0 };
    struct mp_client *c = recon_client(address_of(h, 1), NULL, "binary",
                                       "alice", 50, 200, 0, &r);
    char *entry = harness_passwd_entry("alice", "another secret");
    char body[2048], line[1024];

    snprintf(line, sizeof line, "%s\n", entry);
    free(entry);
    harness_write_file(h, "mpbroker.passwd", line);
    snprintf(body, sizeof body, "%s%s", LISTEN_UNIX,
             "authenticators = ( { module = \"auth_passwd.so\";"
             " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n");
    kill_broker(h);
    WAIT(r.attempts >= 2, "attempts: %u", r.attempts);
    restart(h, body);
    WAIT(r.lost.calls == 1, "not given up (attempts %u)", r.attempts);
    cr_assert_eq(r.lost.status, MP_ERR_AUTH, "%s",
                 mp_strerror(r.lost.status));
    unsigned attempts = r.attempts;
    drain();
    cr_assert_eq(r.attempts, attempts, "attempts after giving up");
    cr_assert_eq(r.reconnected, 0);
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, NEW_END(0)),
                 MP_ERR_STATE);
    fx_stop();
}

/* duplicate_names = "reject": another client took the name while ours
 * was away. MP_ERR_NAME_TAKEN, and no more attempts; a first login with
 * a taken name gets MP_ERR_NAME_TAKEN too. */
#define REJECT_BROKER UNIX_BROKER "duplicate_names = \"reject\";\n"
Test(client, name_taken_at_relogin_stops, .timeout = 120)
{
    struct harness *h = fx_broker(REJECT_BROKER);
    /* The second attempt waits long enough for the thief to log in. */
    unsigned wait = (unsigned)mpt_ms(1500);
    struct recon r = { 0 };
    struct mp_client *c = recon_client(address_of(h, 1), NULL, "binary",
                                       "alice", wait, wait, 0, &r);

    kill_broker(h);
    WAIT(r.attempts >= 2, "attempts: %u", r.attempts);
    restart(h, REJECT_BROKER);
    join(h, "binary", "alice");
    WAIT_ON(base, mpt_ms(MPT_MSG_MS) + (int)wait, r.lost.calls == 1,
            "not given up (attempts %u)", r.attempts);
    cr_assert_eq(r.lost.status, MP_ERR_NAME_TAKEN, "%s",
                 mp_strerror(r.lost.status));
    cr_assert_eq(r.reconnected, 0);

    struct mp_client *late = client_new(h, "binary", "alice");
    struct ready rr = { 0 };
    cr_assert_eq(mp_client_connect(late, on_ready, &rr), MP_OK);
    WAIT(rr.calls == 1, "no login outcome");
    cr_assert_eq(rr.status, MP_ERR_NAME_TAKEN, "%s (%s)",
                 mp_strerror(rr.status), rr.reason);
    (void)c;
    fx_stop();
}

/* Replaced is never reconnected: the other session would be replaced in
 * turn. */
Test(client, replaced_is_not_reconnected)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    struct recon r = { 0 };

    recon_client(address_of(h, 1), NULL, "binary", "alice", 20, 100, 0, &r);
    join(h, "binary", "alice");
    WAIT(r.lost.calls == 1, "the replaced client was not told");
    cr_assert_eq(r.lost.status, MP_ERR_REPLACED, "%s",
                 mp_strerror(r.lost.status));
    drain();
    cr_assert_eq(r.interrupted, 0);
    cr_assert_eq(r.attempts, 0);
    fx_stop();
}

/* ------------------------------------------------------------------------
 * Addresses
 */

/* The first address is dead: the login and the reconnect use the second;
 * mp_client_address() says which. */
Test(client, second_address_when_first_is_dead, .timeout = 120)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    const char *dead = harness_path(h, "dead.sock");
    char dead_addr[320], live[320];
    struct recon r = { 0 };
    struct mp_client *c;

    snprintf(dead_addr, sizeof dead_addr, "unix:%s", dead);
    snprintf(live, sizeof live, "%s", address_of(h, 1));
    c = recon_client(dead_addr, live, "binary", "alice", 20, 100, 0, &r);
    cr_assert_str_eq(mp_client_address(c), live);
    kill_broker(h);
    restart(h, UNIX_BROKER);
    WAIT(r.reconnected == 1, "not reconnected (attempts %u)", r.attempts);
    cr_assert_str_eq(r.address, live);
    cr_assert_str_eq(mp_client_address(c), live);
    fx_stop();
}

/* Both dead: the first login fails with what each address gave. */
Test(client, every_address_dead_fails_login)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    char a1[320], a2[320];
    const char *more[1] = { a2 };
    struct ready rr = { 0 };
    struct mp_client *c;

    snprintf(a1, sizeof a1, "unix:%s", harness_path(h, "dead1.sock"));
    snprintf(a2, sizeof a2, "unix:%s", harness_path(h, "dead2.sock"));
    o.address = a1;
    o.addresses = more;
    o.n_addresses = 1;
    o.name = "alice";
    o.secret = SECRET;
    c = client_new_opts(&o);
    cr_assert_eq(mp_client_connect(c, on_ready, &rr), MP_OK);
    WAIT(rr.calls == 1, "no login outcome");
    cr_assert_eq(rr.status, MP_ERR_CONNECT, "%s", mp_strerror(rr.status));
    const char *why = mp_client_lost_reason(c);
    cr_assert(strstr(why, "dead1.sock") != NULL &&
                  strstr(why, "dead2.sock") != NULL,
              "reason: %s", why);
    fx_stop();
}

/* GoingAway: the broker announces its shutdown and closes after its
 * grace; the client reconnects at once to the next address, another
 * broker. */
static void count_going_away(struct mp_client *c, unsigned ms, void *arg)
{
    (void)c;
    (void)ms;
    ++*(int *)arg;
}

Test(client, going_away_moves_to_the_next_broker, .timeout = 120)
{
    struct harness *h1 = fx_broker(STD_BROKER "shutdown_grace_ms = 300;\n");
    struct harness *h2 = harness_start(STD_BROKER);
    struct recon r = { 0 };
    char second[320];
    int going = 0, status = 0;
    struct mp_client *c;

    snprintf(second, sizeof second, "%s", address_of(h2, 1));
    c = recon_client(address_of(h1, 1), second, "binary", "alice", 20, 100,
                     0, &r);
    mp_client_on_going_away(c, count_going_away, &going);
    cr_assert(harness_signal(h1, SIGTERM));
    WAIT(going == 1, "no GoingAway");
    WAIT_ON(base, mpt_ms(MPT_EXIT_MS), r.reconnected == 1,
            "not reconnected (interrupted %d, attempts %u)", r.interrupted,
            r.attempts);
    cr_assert_eq(r.interrupted_status, MP_ERR_GOING_AWAY, "%s",
                 mp_strerror(r.interrupted_status));
    cr_assert_eq(r.attempts, 1, "attempts: %u", r.attempts);
    cr_assert_eq(r.delay[0], 0);
    cr_assert_str_eq(r.address, second);
    cr_assert(harness_wait_exit(h1, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    client_free(c);
    harness_stop(h2);
    fx_stop();
}

/* ------------------------------------------------------------------------
 * Ending while disconnected
 */

/* mp_client_disconnect() between attempts stops them; its callback runs
 * from the loop. mp_client_free() of another client meanwhile is clean
 * (valgrind checks). */
Test(client, disconnect_and_free_while_reconnecting)
{
    struct harness *h = fx_broker(UNIX_BROKER);
    unsigned wait = (unsigned)mpt_ms(MPT_MSG_MS) * 4;
    struct recon r = { 0 }, r2 = { 0 };
    struct mp_client *c = recon_client(address_of(h, 1), NULL, "binary",
                                       "alice", wait, wait, 0, &r);
    struct mp_client *c2 = recon_client(address_of(h, 0), NULL, "json",
                                        "bob", wait, wait, 0, &r2);

    kill_broker(h);
    WAIT(r.attempts >= 2 && r2.attempts >= 2, "attempts: %u %u", r.attempts,
         r2.attempts);
    cr_assert_eq(mp_client_disconnect(c, on_disconnected, &r), MP_OK);
    cr_assert_eq(r.disconnected, 0, "called from inside disconnect");
    WAIT(r.disconnected == 1, "no disconnected callback");
    cr_assert_eq(r.attempts, 2);
    cr_assert_eq(r.lost.calls, 0);
    cr_assert_eq(mp_client_disconnect(c, on_disconnected, &r),
                 MP_ERR_STATE);
    client_free(c2);
    client_free(c);
    reap_killed(h);
}
