/*
 * test_client_level2_broker.c - libmpclient at protocol level 2 against
 * the real broker (issue 18): the login's settings, a stream paced by
 * credit, level-1 and level-2 clients across a connection (credit on one
 * side only), the head-of-line test, presence, Denied from the acl
 * plugin, and GoingAway at shutdown.
 *
 * The head-of-line test measures: message counts over bounded phases
 * (PHASE_MS each), reported with cr_log_info. Everything else waits on
 * events with deadlines.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_client_fixture.h"

#define SMALL_WINDOW_BROKER(window)                                          \
    STD_BROKER "limits = { connection_window = " #window "; };\n"

/* ----------------------------------------------------------------------
 * A sender that honours credit: sends `n` numbered messages of `size`
 * bytes on conn, as fast as credit allows, resuming from the drained
 * callback.
 */
struct pump {
    struct mp_conn *conn;
    unsigned next, n;
    size_t size;
    unsigned would_block;   /* MP_ERR_WOULD_BLOCK seen */
    int error;              /* another error */
    bool endless;           /* ignore n: send until stopped */
    bool stopped;
};

static size_t numbered(char *buf, size_t size, unsigned i)
{
    int k = snprintf(buf, size, "%08u", i);

    memset(buf + k, 'x', size - (size_t)k);
    return size;
}

static void pump_run(struct pump *p)
{
    char buf[4096];

    while (!p->stopped && (p->endless || p->next < p->n)) {
        int rc = mp_conn_send(p->conn, buf, numbered(buf, p->size, p->next));
        if (rc == MP_ERR_WOULD_BLOCK) {
            p->would_block++;
            return;
        }
        if (rc != MP_OK) {
            p->error = rc;
            return;
        }
        p->next++;
    }
}

static void pump_drained(struct mp_conn *conn, void *arg)
{
    (void)conn;
    pump_run(arg);
}

static void pump_start(struct pump *p, struct mp_conn *conn, unsigned n,
                       size_t size)
{
    p->conn = conn;
    p->n = n;
    p->size = size;
    mp_conn_on_drained(conn, pump_drained, p);
    pump_run(p);
}

/* A receiver: counts messages and their cost, checks their order; in
 * manual mode grants (half a window at a time) only while `consuming`. */
struct sink {
    struct mp_conn *conn;
    unsigned got, out_of_order;
    long long cost, granted, ungranted;
    bool manual, consuming;
    size_t window;
};

static void sink_message(struct mp_conn *conn, const void *data, size_t len,
                         void *arg)
{
    struct sink *s = arg;
    char want[9];

    snprintf(want, sizeof want, "%08u", s->got);
    if (len < 8 || memcmp(data, want, 8) != 0)
        s->out_of_order++;
    s->got++;
    s->cost += (long long)len + MP_CREDIT_MESSAGE_COST;
    if (!s->manual)
        return;
    s->ungranted += (long long)len + MP_CREDIT_MESSAGE_COST;
    if (s->consuming && s->ungranted >= (long long)s->window / 2) {
        cr_assert_eq(mp_conn_grant(conn, (size_t)s->ungranted), MP_OK);
        s->granted += s->ungranted;
        s->ungranted = 0;
    }
}

static void sink_accept(struct mp_conn *conn, void *arg)
{
    struct sink *s = arg;

    s->conn = conn;
    s->window = mp_client_window(mp_conn_client(conn));
    mp_conn_set_manual_credit(conn, s->manual);
    mp_conn_set_callbacks(conn, sink_message, NULL, s);
}

/* c opens `proto` to `peer`, whose client accepts it into s. */
static struct mp_conn *open_to_sink(struct mp_client *c,
                                    struct mp_client *peer, const char *proto,
                                    struct sink *s)
{
    struct end *e = NEW_END(0);

    cr_assert_eq(mp_client_handle(peer, proto, sink_accept, s), MP_OK);
    open_ok(c, mp_client_name(peer), proto, e);
    WAIT(s->conn != NULL, "%s did not accept", mp_client_name(peer));
    return e->conn;
}

/* ----------------------------------------------------------------------
 * The login, and streams
 */

FORMAT_TEST(broker_speaks_level2)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *alice = join(h, fmt, "alice");

    cr_assert_eq(mp_client_level(alice), 2);
    cr_assert_eq(mp_client_window(alice), MP_DEFAULT_WINDOW);
    cr_assert_eq(mp_client_max_watches(alice), 64);
    fx_level = 1;
    struct mp_client *old = join(h, fmt, "old");
    cr_assert_eq(mp_client_level(old), 1);
    cr_assert_eq(mp_client_window(old), 0);
    fx_stop();
}

/* gob: level 1 by default (a broker before level 2 refuses gob's
 * five-field type), level 2 when asked for by name. */
Test(client, broker_gob_level2_when_asked)
{
    static const char config[] =
        "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
        "translators = ( { name = \"gob\"; module = \"translator_gob.so\"; "
        "} );\n"
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = "
        "\"gob\"; } );\n" MPT_AUTH_ALLOW_ALL;
    struct harness *h = harness_new();

    harness_launch(h, harness_write_file(h, "mpbroker.conf", config));
    cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)), "no broker");
    fx_adopt(h, NULL);
    struct harness_listener li = harness_listener(h, 0);
    char address[96];
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;

    snprintf(address, sizeof address, "tcp:%s:%d", li.host, li.port);
    o.address = address;
    o.format = "gob";
    o.name = "gopher";
    o.secret = SECRET;
    struct mp_client *plain = client_new_opts(&o);
    login(plain);
    cr_assert_eq(mp_client_level(plain), 1);
    o.name = "gopher2";
    o.protocol_level = 2;
    struct mp_client *l2 = client_new_opts(&o);
    login(l2);
    cr_assert_eq(mp_client_level(l2), 2);
    cr_assert_eq(mp_client_window(l2), MP_DEFAULT_WINDOW);
    fx_stop();
}

/* 3000 messages through a 4096-byte window: the sender waits for credit
 * (WOULD_BLOCK, then drained) again and again, and everything arrives,
 * in order. */
FORMAT_TEST(broker_stream_paced_by_credit)
{
    struct harness *h = fx_broker(SMALL_WINDOW_BROKER(4096));
    struct sink s = { 0 };
    struct pump p = { 0 };
    enum { N = 3000 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    cr_assert_eq(mp_client_window(alice), 4096);
    pump_start(&p, open_to_sink(alice, bob, "seq", &s), N, 100);
    WAIT_ON(base, mpt_ms(30000), s.got == N || p.error != 0,
            "bob got %u of %d", s.got, N);
    cr_assert_eq(p.error, 0, "%s", mp_strerror(p.error));
    cr_assert_eq(s.out_of_order, 0);
    /* 3000 x 164 bytes of cost through 4096: 120 windows at least. */
    cr_assert_geq(p.would_block, 100, "only %u waits for credit",
                  p.would_block);
    cr_log_info("%s: %u messages, %u waits for credit", fmt, N,
                p.would_block);
    fx_stop();
}

/*
 * Level 1 and level 2 across a connection, both directions, credit on
 * one side only: a level-1 JSON client and a level-2 binary one (the
 * issue's interop test). The level-2 side is paced by credit (the broker
 * grants for the level-1 receiver as it queues); the level-1 side by
 * the broker's socket-level backpressure.
 */
Test(client, broker_level1_and_level2_interoperate)
{
    struct harness *h = fx_broker(SMALL_WINDOW_BROKER(4096));
    struct sink to_old = { 0 }, to_new = { 0 };
    struct pump from_new = { 0 }, from_old = { 0 };
    enum { N = 2000 };

    struct mp_client *neo = join(h, "binary", "neo");
    fx_level = 1;
    struct mp_client *old = join(h, "json", "old");
    cr_assert_eq(mp_client_level(neo), 2);
    cr_assert_eq(mp_client_level(old), 1);
    pump_start(&from_new, open_to_sink(neo, old, "a", &to_old), N, 100);
    pump_start(&from_old, open_to_sink(old, neo, "b", &to_new), N, 100);
    WAIT_ON(base, mpt_ms(30000),
            (to_old.got == N && to_new.got == N) || from_new.error ||
                from_old.error,
            "old got %u, neo got %u of %d", to_old.got, to_new.got, N);
    cr_assert_eq(from_new.error, 0, "%s", mp_strerror(from_new.error));
    cr_assert_eq(from_old.error, 0, "%s", mp_strerror(from_old.error));
    cr_assert_eq(to_old.out_of_order + to_new.out_of_order, 0);
    cr_assert_gt(from_new.would_block, 0, "the level-2 sender never "
                 "waited for credit");
    cr_assert_eq(from_old.would_block, 0, "the level-1 sender met credit");
    fx_stop();
}

/* ----------------------------------------------------------------------
 * Head-of-line blocking (issue 18's test)
 */

#define PHASE_MS 1000
#define HOL_WINDOW 65536
#define HOL_SIZE 1024

static void phase_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* Dispatch for PHASE_MS (a measurement window, not a wait for an event). */
static void run_phase(void)
{
    bool over = false;
    struct event *t = evtimer_new(base, phase_end, &over);
    struct timeval tv = tv_ms(PHASE_MS);

    evtimer_add(t, &tv);
    while (!over)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
}

/*
 * One sender, alice, with a connection to bob and one to carol, both
 * pumped as fast as credit allows with 1 KiB messages. Phase A: both
 * receivers consume. Phase B: carol's application stops consuming (she
 * grants nothing more). bob's connection must keep its rate (at least
 * half of phase A's, on a shared machine), and carol's must hold at her
 * window: never more than a window and one message beyond her grants.
 */
Test(client, broker_no_head_of_line_blocking, .timeout = 60)
{
    struct harness *h = fx_broker(SMALL_WINDOW_BROKER(65536));
    struct sink bob_s = { 0 }, carol_s = { .manual = true, .consuming = true };
    struct pump to_bob = { .endless = true }, to_carol = { .endless = true };

    struct mp_client *alice = join(h, "binary", "alice");
    struct mp_client *bob = join(h, "binary", "bob");
    struct mp_client *carol = join(h, "binary", "carol");
    pump_start(&to_bob, open_to_sink(alice, bob, "hol", &bob_s), 0,
               HOL_SIZE);
    pump_start(&to_carol, open_to_sink(alice, carol, "hol", &carol_s), 0,
               HOL_SIZE);
    long rss0 = harness_broker_kib(h, "VmRSS");

    run_phase();
    unsigned bob_a = bob_s.got, carol_a = carol_s.got;
    carol_s.consuming = false;
    long long carol_granted = carol_s.granted;
    run_phase();
    unsigned bob_b = bob_s.got - bob_a, carol_b = carol_s.got - carol_a;
    long rss1 = harness_broker_kib(h, "VmRSS");
    long long held = carol_s.cost - carol_s.granted;
    long long cost = HOL_SIZE + MP_CREDIT_MESSAGE_COST;

    cr_log_info("head-of-line: phase A (both consume, %d ms): bob %u, "
                "carol %u messages; phase B (carol stopped): bob %u, carol "
                "%u; bob's rate B/A %.2f; carol holds %lld bytes of cost "
                "beyond her grants (window %d + one message %lld); alice "
                "waited for credit %u times to bob, %u to carol; broker RSS "
                "%ld -> %ld KiB",
                PHASE_MS, bob_a, carol_a, bob_b, carol_b,
                bob_a ? (double)bob_b / bob_a : 0.0, held, HOL_WINDOW, cost,
                to_bob.would_block, to_carol.would_block, rss0, rss1);
    fprintf(stderr, "HOL figures: A bob=%u carol=%u; B bob=%u carol=%u; "
            "ratio=%.2f; carol held=%lld (window %d + msg %lld); "
            "granted at stop=%lld; RSS %ld->%ld KiB\n",
            bob_a, carol_a, bob_b, carol_b,
            bob_a ? (double)bob_b / bob_a : 0.0, held, HOL_WINDOW, cost,
            carol_granted, rss0, rss1);
    cr_assert_eq(to_bob.error + to_carol.error, 0);
    cr_assert_eq(bob_s.out_of_order + carol_s.out_of_order, 0);
    cr_assert_gt(bob_a, 100, "bob got only %u in phase A", bob_a);
    cr_assert_gt(carol_a, 100, "carol got only %u in phase A", carol_a);
    cr_assert_geq(bob_b * 2, bob_a, "bob's rate fell from %u to %u while "
                  "carol stalled", bob_a, bob_b);
    cr_assert_leq(held, HOL_WINDOW + cost, "carol got %lld beyond her "
                  "grants", held);
    cr_assert_leq(mp_conn_credit(to_carol.conn), 0);
    to_bob.stopped = to_carol.stopped = true;
    fx_stop();
}

/* ----------------------------------------------------------------------
 * Presence
 */

struct notices {
    int n;
    char text[16][80];
};

static void on_presence(struct mp_client *c, const char *name, int online,
                        void *arg)
{
    struct notices *p = arg;

    (void)c;
    if (p->n < 16)
        snprintf(p->text[p->n++], 80, "%s %s", name,
                 online ? "online" : "offline");
}

static bool noticed(const struct notices *p, const char *text)
{
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->text[i], text) == 0)
            return true;
    }
    return false;
}

struct listing {
    int calls, status, truncated;
    size_t n;
    char names[4][64];
};

static void on_list(struct mp_client *c, const char *prefix,
                    const char *const *names, size_t n, int truncated,
                    int status, void *arg)
{
    struct listing *l = arg;

    (void)c;
    (void)prefix;
    l->calls++;
    l->status = status;
    l->truncated = truncated;
    l->n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        snprintf(l->names[i], 64, "%s", names[i]);
}

FORMAT_TEST(broker_presence_watch_and_list)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct notices p = { 0 };
    struct listing l = { 0 };

    struct mp_client *ops = join(h, fmt, "ops");
    mp_client_on_presence(ops, on_presence, &p);
    cr_assert_eq(mp_client_watch(ops, "carol"), MP_OK);
    WAIT(noticed(&p, "carol offline"), "no state for carol");
    cr_assert_eq(mp_client_watch_prefix(ops, "da"), MP_OK);
    struct mp_client *carol = join(h, fmt, "carol");
    join(h, fmt, "dave");
    join(h, fmt, "bob");
    WAIT(noticed(&p, "carol online") && noticed(&p, "dave online"),
         "notices: %d", p.n);
    cr_assert(!noticed(&p, "bob online"), "bob is not watched");
    cr_assert_eq(mp_client_list(ops, "ca", on_list, &l), MP_OK);
    WAIT(l.calls == 1, "no list");
    cr_assert(l.status == MP_OK && l.n == 1 && !l.truncated &&
              strcmp(l.names[0], "carol") == 0,
              "list ca: %zu names, first %s", l.n, l.names[0]);
    client_free(carol);
    WAIT(noticed(&p, "carol offline") && p.n >= 4, "carol's departure");
    fx_stop();
}

/* ----------------------------------------------------------------------
 * Refusals and notices
 */

static void on_denied(struct mp_conn *conn, int status, void *arg)
{
    struct end *e = arg;

    (void)conn;
    e->opens++;
    e->open_status = status;
    snprintf(e->peer, sizeof e->peer, "%s",
             mp_client_open_reason(e->client));
}

/* The acl plugin denies: a level-2 opener gets MP_ERR_DENIED with the
 * reason, a level-1 one UnknownProto, as before. */
Test(client, broker_denied_by_acl)
{
    struct harness *h = harness_new();
    struct end *e = NEW_END(0);
    struct server *s = NEW_SERVER(0);

    harness_write_file(h, "acl.rules", "deny * -> bob secret\n");
    fx_adopt(h, MPT_LISTEN_JSON_BINARY
             "authenticators = ( { module = \"acl.so\"; options = { rules = "
             "\"@DIR@/acl.rules\"; default = \"allow\"; }; },\n"
             "  { module = \"auth_allow_all.so\"; } );\n");
    struct mp_client *bob = join(h, "binary", "bob");
    handle(bob, "secret", s);
    struct mp_client *alice = join(h, "binary", "alice");
    e->client = alice;
    cr_assert_eq(mp_client_open(alice, "bob", "secret", on_denied, e), MP_OK);
    WAIT(e->opens == 1, "no outcome");
    cr_assert_eq(e->open_status, MP_ERR_DENIED, "%s",
                 mp_strerror(e->open_status));
    cr_assert_str_eq(e->peer, "not authorized");
    fx_level = 1;
    struct mp_client *old = join(h, "binary", "old");
    cr_assert_eq(open_fails(old, "bob", "secret"), MP_ERR_UNKNOWN_PROTOCOL);
    cr_assert_eq(s->n, 0, "bob saw a denied Syn");
    fx_stop();
}

struct away {
    int calls;
    unsigned ms;
};

static void on_away(struct mp_client *c, unsigned ms, void *arg)
{
    struct away *a = arg;

    (void)c;
    a->calls++;
    a->ms = ms;
}

/* SIGTERM: GoingAway with shutdown_grace_ms, the session is served
 * meanwhile, then the close reads MP_ERR_GOING_AWAY; a level-1 client
 * just loses the broker. */
FORMAT_TEST(broker_going_away_at_shutdown)
{
    struct harness *h = fx_broker(STD_BROKER "shutdown_grace_ms = 400;\n");
    struct away a = { 0 };
    struct lost l = { 0 }, l1 = { 0 };
    struct server *s = NEW_SERVER(.echo = true);
    struct end *e = NEW_END(0);
    int status;

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", s);
    open_pair(alice, "bob", "echo", e, s);
    mp_client_on_going_away(alice, on_away, &a);
    mp_client_on_lost(alice, on_lost, &l);
    fx_level = 1;
    struct mp_client *old = join(h, fmt, "old");
    mp_client_on_lost(old, on_lost, &l1);
    cr_assert(harness_signal(h, SIGTERM));
    WAIT(a.calls == 1, "no GoingAway");
    cr_assert_eq(a.ms, 400);
    echo_once(e, "still served");
    WAIT(l.calls == 1 && l1.calls == 1, "the broker did not close");
    cr_assert_eq(l.status, MP_ERR_GOING_AWAY, "%s", mp_strerror(l.status));
    cr_assert_eq(l1.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(l1.status));
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fx_stop();
}
