/*
 * test_client_fixture.h - what the libmpclient tests (test_client_*.c)
 * share: the fixture every test runs in, clients and their login, the
 * ends of connections as the test sees them, raw-socket peers, a fake
 * broker, and waiting without sleeps.
 *
 * The fixture is the suite's .init and .fini: test_client_fixture.c
 * declares the suite `client`, and every test_client_*.c is linked into
 * the one program test_client. fx_init makes the test's event_base
 * (`base`). Brokers started with fx_broker(), clients made by the helpers
 * below, ends from NEW_END() and servers from NEW_SERVER() belong to the
 * fixture: a test ends with fx_stop(), which frees them and stops the
 * broker, asserting its clean exit (an assertion in a .fini would not
 * count); fx_fini frees whatever a failed test left. A test that frees a
 * client itself, to test what that does, calls client_free().
 *
 * Most tests start from a scene: DUO() (alice and bob, one connection),
 * crossed_open() (connections each way, and an open pending at a raw
 * peer).
 *
 * A test that runs once per wire format is written
 *     FORMAT_TEST(name) { ... fmt ... }
 * (a criterion ParameterizedTest; `fmt` is "binary" or "json").
 *
 * Waiting is always for an event and always bounded: WAIT dispatches the
 * loop until a condition holds or a libevent timer fires, then asserts
 * the condition. "Nothing else happened" is checked without pauses: a
 * later message along the same path (a barrier) must arrive first.
 */
#ifndef TEST_CLIENT_FIXTURE_H
#define TEST_CLIENT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/event.h>

#include <mp/client.h>

#include "harness.h"
#include "rawclient.h"

/* ----------------------------------------------------------------------
 * The fixture
 */

/* Start a broker with `conf` (harness_start); fx_stop stops it. */
struct harness *fx_broker(const char *conf);
#define STD_BROKER MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
/* Boot h (made with harness_new, its files written) with `conf` (NULL:
 * h runs already): the fixture's broker from then on. */
struct harness *fx_adopt(struct harness *h, const char *conf);

/* Free the fixture's clients (in the order they were made), ends and
 * servers, then stop its broker if it still runs, asserting a clean
 * exit. The last line of a test. */
void fx_stop(void);

/* Free a client the fixture holds (or any other) now. */
void client_free(struct mp_client *c);

/* One wire format, by value: criterion runs each parameter in a fresh
 * process, where a pointer into the parent's data means nothing. */
struct fx_format {
    char wire[8];
};
/* "binary" and "json", as criterion parameters. */
struct criterion_test_params fx_formats(void);

/* A test run once per wire format; FORMAT_TEST_OPTS passes criterion
 * options (.timeout = 120). The body sees the format as `fmt`. */
#define FORMAT_TEST(tname) FORMAT_TEST_OPTS(tname, .description = NULL)
#define FORMAT_TEST_OPTS(tname, ...)                                         \
    static void tname(const char *fmt);                                      \
    ParameterizedTestParameters(client, tname)                               \
    {                                                                        \
        return fx_formats();                                                 \
    }                                                                        \
    ParameterizedTest(struct fx_format *param_, client, tname, __VA_ARGS__)  \
    {                                                                        \
        cr_log_info("wire format %s", param_->wire);                         \
        tname(param_->wire);                                                 \
    }                                                                        \
    static void tname(const char *fmt)

/* The protocol level the helpers' clients announce: 0 (the library's
 * default, 2) unless the test sets it. A test that sends a burst past
 * the connection window without waiting for credit tests level 1's
 * queue, and sets 1 (test_client_level2.c has the level-2 side). */
extern int fx_level;

/* The test's own event loop: every attached client runs on it. */
extern struct event_base *base;

#define SECRET MPT_SECRET_ALLOW_ALL

#define LISTEN_UNIX                                                          \
    "listeners = ( { unix = \"@DIR@/j.sock\"; translator = \"json\"; },\n"   \
    "              { unix = \"@DIR@/b.sock\"; translator = \"binary\"; } );\n"

/* ----------------------------------------------------------------------
 * Time and waiting
 */

struct timeval tv_ms(long long ms);

struct waiter {
    struct event *ev;
    bool expired;
    struct mp_client *stop; /* mp_client_stop() it when expiring */
};

void waiter_start(struct waiter *w, struct event_base *b, int ms);

void waiter_stop(struct waiter *w);

/* Dispatch `b` until `cond` holds or `ms` pass; then assert `cond`. */
#define WAIT_ON(b, ms, cond, ...)                                            \
    do {                                                                     \
        struct waiter w_ = { 0 };                                            \
        waiter_start(&w_, (b), (ms));                                        \
        while (!(cond) && !w_.expired)                                       \
            event_base_loop((b), EVLOOP_ONCE);                               \
        waiter_stop(&w_);                                                    \
        cr_assert((cond), __VA_ARGS__);                                      \
    } while (0)

#define WAIT(cond, ...) WAIT_ON(base, mpt_ms(MPT_MSG_MS), cond, __VA_ARGS__)

/* Run what is ready to run now, without waiting. */
void drain(void);

void set_flag(evutil_socket_t fd, short what, void *arg);

/* ----------------------------------------------------------------------
 * Addresses and clients
 */
size_t lst(const char *fmt);

enum rc_format rcf(const char *fmt);

/* "tcp:HOST:PORT" or "unix:PATH" of the harness's listener i. */
const char *address_of(struct harness *h, size_t i);

struct mp_client *client_new_full(struct event_base *b, const char *address,
                                  const char *fmt, const char *name,
                                  const void *secret, size_t secret_len,
                                  size_t max, unsigned timeout_ms);

/* A client on the test's base from options of the test's own. */
struct mp_client *client_new_opts(const struct mp_client_options *o);

struct mp_client *client_new_max(struct harness *h, const char *fmt,
                                 const char *name, size_t max);

struct mp_client *client_new(struct harness *h, const char *fmt,
                             const char *name);

struct ready {
    int calls;
    int status;
    bool reason_null;
    char reason[256];
};

void on_ready(struct mp_client *c, int status, const char *reason,
              void *arg);

void login(struct mp_client *c);

struct mp_client *join_max(struct harness *h, const char *fmt,
                           const char *name, size_t max);

struct mp_client *join(struct harness *h, const char *fmt,
                       const char *name);

/* ----------------------------------------------------------------------
 * Connection ends: what the test saw of one side of a connection
 */
struct blob {
    unsigned char *p;
    size_t len;
};

struct end {
    struct mp_conn *conn;       /* NULL once over */
    struct mp_client *client;   /* mp_conn_client() */
    char peer[300], proto[300], id[300];
    int opens, open_status;     /* the open callback */
    int wrong;                  /* a callback had an unexpected conn pointer */
    size_t nmsg, cap;
    struct blob *msgs;
    int closes, close_reason;   /* on_close */
    char close_peer[300];       /* mp_conn_peer() inside on_close */
    bool closed_self;           /* the test closed it (mp_conn_close) */
    bool closed_by_other;       /* another end's callback closed it */

    /* reactions */
    bool echo;                  /* send every message back */
    int echo_errors;
    size_t close_after;         /* mp_conn_close after that many messages */
    bool send_in_close;         /* try mp_conn_send(_take) inside on_close */
    int close_send_rc, close_take_rc, close_take_frees;
    struct end *close_other;    /* mp_conn_close that end inside on_close */
    struct mp_client *stop_on_close;
    struct mp_client *open_on_close; /* reopen (peer, proto) inside on_close */
    struct end *reopen;
    int reopen_rc;
    void (*on_open)(struct end *e);
};

bool end_over(const struct end *e);

void end_free(struct end *e);

void count_free(void *data, size_t len, void *arg);

void end_open(struct mp_conn *conn, int status, void *arg);

/* A handler: accepts connections into ends[]. */
#define MAX_ENDS 16

struct server {
    struct end ends[MAX_ENDS];
    size_t n;
    int overflow;
    bool echo;
    size_t close_after;
    bool close_at_once;             /* mp_conn_close inside on_connection */
    struct mp_client *stop_on_close;
    void (*hook)(struct server *s, struct end *e, struct mp_conn *conn);
    struct end *aux;                /* for hooks */
    void *aux_ptr;
    int aux_rc, aux_rc2;
};

void srv_conn(struct mp_conn *conn, void *arg);

void server_free(struct server *s);

void handle(struct mp_client *c, const char *proto, struct server *s);

void open_start(struct mp_client *c, const char *peer,
                const char *proto, struct end *e);

void open_wait(struct end *e, const char *what);

void open_ok(struct mp_client *c, const char *peer, const char *proto,
             struct end *e);

/* The outcome of opening (peer, proto) when it must fail. */
int open_fails(struct mp_client *c, const char *peer, const char *proto);

/* Open from c to `peer`, which accepts into s; return the accepted end. */
struct end *open_pair(struct mp_client *c, const char *peer,
                      const char *proto, struct end *e, struct server *s);

void send_ok(struct end *e, const void *d, size_t n);

void send_str(struct end *e, const char *s);

bool msg_eq(const struct end *e, size_t i, const void *d, size_t n);

void assert_msg_str(const struct end *e, size_t i, const char *s);

bool has_msg(const struct end *e, const char *s);

/* Send a unique message from `from` and wait until `to` has it: whatever
 * was sent before it along that path has then been delivered. */
void barrier(struct end *from, struct end *to);

/* Send `text` on e, whose peer echoes, and wait for it to come back. */
void echo_once(struct end *e, const char *text);

unsigned char *pattern(size_t n, unsigned seed);

/* ----------------------------------------------------------------------
 * The lost callback
 */
struct lost {
    int calls;
    int status;
    struct end *ends[16];   /* must all be over when lost runs */
    size_t nends;
    bool all_ended;
    struct event *disarm;   /* event_del() it in the callback */
};

void on_lost(struct mp_client *c, int status, void *arg);

/* rc_recv without blocking the loop: the library keeps running. */
int raw_recv(struct rc_client *rc, struct rc_msg *m, int ms);

void raw_expect(struct rc_client *rc, int meta, const char *other,
                const char *id, struct rc_msg *m);

void raw_send(struct rc_client *rc, unsigned meta, const char *to,
              const char *id, struct rc_blob data);

/* ----------------------------------------------------------------------
 * A fake broker: a listening socket of the test's own
 */
struct fake {
    int lfd, cfd, port;
    struct event *accept_ev, *read_ev;
    unsigned char in[65536];
    size_t len;
    bool eof;
    bool close_on_accept;
    int accepts;
};

/* Listen on 127.0.0.1; accept only if `accept`. */
void fake_start(struct fake *f, bool accept);

const char *fake_address(const struct fake *f);

void fake_send(struct fake *f, const void *p, size_t n);

/* Send one message in `fmt`, as the broker would. */
void fake_send_msg(struct fake *f, const char *fmt, unsigned meta,
                   const char *other, const char *id, struct rc_blob d);

void fake_stop(struct fake *f);

/* One message the library wrote, as the fake broker decoded it. */
struct wire {
    int meta;
    char other[256], id[256];
    bool has_data;
    unsigned char data[1024];
    size_t data_len;
    char line[2048];  /* json: the raw line */
};

/* Length of the first complete message in in[0..len), or 0. */
size_t fake_frame_len(const struct fake *f, const char *fmt);

/* Take the next message the library sent (waiting for it). Binary frames
 * are decoded exactly; JSON lines are kept as text (the library writes the
 * canonical form: checked with substrings). */
void fake_take(struct fake *f, const char *fmt, struct wire *w);

/* The next message that is not a NoSuchConnection (which the library may
 * send back for messages on connections it does not know). */
void fake_take_skip(struct fake *f, const char *fmt, struct wire *w);

/* ----------------------------------------------------------------------
 * Capturing what the process writes on fds 1 and 2 (the library must not
 * print). Off when MP_TEST_VERBOSE echoes the broker's log there.
 */
struct capture {
    int fd, saved1, saved2;
    bool on;
};

void capture_begin(struct capture *c);

void capture_check(struct capture *c);

/* ----------------------------------------------------------------------
 * Reaping a broker the test killed
 */
void reap_killed(struct harness *h);

/* mp_conn_send_take: the library's free_fn, once per buffer, with the
 * pointer and length given. */
struct slot {
    int calls;
    void *ptr;
    size_t len;
    int mismatch;
};

void slot_free(void *data, size_t len, void *arg);
bool slots_done(const struct slot *s, size_t n);
void assert_slots_once(const struct slot *s, size_t n);

/* An end or a server of the fixture's, zeroed, then given the fields
 * written as the arguments: NEW_END(0), NEW_SERVER(.echo = true). */
#define NEW_END(...) fx_end(&(struct end){ __VA_ARGS__ })
#define NEW_SERVER(...) fx_server(&(struct server){ __VA_ARGS__ })
struct end *fx_end(const struct end *init);
struct server *fx_server(const struct server *init);

/* The usual scene, all the fixture's: a STD_BROKER; alice and bob logged
 * in, in `fmt`; bob handling `proto` into `s`, a server given the fields
 * written after it; one connection from alice to bob, `a` her end and
 * `b` his. struct duo d = DUO(fmt, "echo", .echo = true);
 * DUO_START: the same without the connection (a and b NULL). */
struct duo {
    struct harness *h;
    struct mp_client *alice, *bob;
    struct server *s;
    struct end *a, *b;
};
#define DUO(fmt, proto, ...)                                                 \
    duo_open((fmt), (proto), &(struct server){ __VA_ARGS__ })
#define DUO_START(fmt, proto, ...)                                           \
    duo_start((fmt), (proto), &(struct server){ __VA_ARGS__ })
struct duo duo_open(const char *fmt, const char *proto,
                    const struct server *init);
struct duo duo_start(const char *fmt, const char *proto,
                     const struct server *init);
/* Free alice and bob now (client_free), as a test of what that does. */
void duo_free_clients(struct duo *d);

/* Connections each way round, and one pending, between alice and bob
 * (logged in already): alice's `a1` to bob's `b1` ("x", bob's server
 * `sb`), bob's `bb` to alice's `ab` ("back", alice's server `sa`), and
 * alice's `ap` to the raw peer `rob` ("slow"), who has the Syn and does
 * not answer. The caller rc_close()s rob. */
struct crossed {
    struct server *sa, *sb;
    struct end *a1, *b1, *bb, *ab, *ap;
    struct rc_client *rob;
};
struct crossed crossed_open(struct harness *h, const char *fmt,
                            struct mp_client *alice, struct mp_client *bob);

#endif
