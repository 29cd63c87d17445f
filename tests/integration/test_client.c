/*
 * test_client.c - libmpclient against the real broker: the contract written
 * in include/mp/client.h, in both wire formats where it applies.
 *
 * The library runs on an event_base of the test's own (attached mode) or
 * on its own loop. Waiting is always for an event and always bounded: WAIT
 * dispatches the loop until a condition holds or a libevent timer fires,
 * then asserts the condition. "Nothing else happened" is checked without
 * pauses: a later message along the same path (a barrier) must arrive
 * first.
 *
 * Raw-socket peers (tests/support/rawclient.h) play clients that leave
 * abruptly or answer by hand; a "fake broker" (a listening socket of the
 * test's own) plays a broker that never answers, hangs up, or sends
 * garbage.
 *
 * SIGPIPE is left at its default action: the library must never raise it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <mp/client.h>

#include "harness.h"
#include "rawclient.h"

/* The test's own event loop: every attached client runs on it. */
static struct event_base *base;

static void suite_init(void)
{
    signal(SIGPIPE, SIG_DFL);
    base = event_base_new();
    cr_assert_not_null(base, "event_base_new failed");
}

static void suite_fini(void)
{
    harness_reap_all();
    if (base != NULL)
        event_base_free(base);
    base = NULL;
}

TestSuite(client, .init = suite_init, .fini = suite_fini, .timeout = 60);

#define SECRET MPT_SECRET_ALLOW_ALL
#define LISTEN_UNIX                                                          \
    "listeners = ( { unix = \"@DIR@/j.sock\"; translator = \"json\"; },\n"   \
    "              { unix = \"@DIR@/b.sock\"; translator = \"binary\"; } );\n"

/* ----------------------------------------------------------------------
 * Time and waiting
 */

static struct timeval tv_ms(long long ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

    return tv;
}

struct waiter {
    struct event *ev;
    bool expired;
    struct mp_client *stop; /* mp_client_stop() it when expiring */
};

static void waiter_fire(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;

    (void)fd;
    (void)what;
    w->expired = true;
    if (w->stop != NULL)
        mp_client_stop(w->stop);
}

static void waiter_start(struct waiter *w, struct event_base *b, int ms)
{
    struct timeval tv = tv_ms(ms);

    w->expired = false;
    w->ev = evtimer_new(b, waiter_fire, w);
    cr_assert_not_null(w->ev, "evtimer_new failed");
    evtimer_add(w->ev, &tv);
}

static void waiter_stop(struct waiter *w)
{
    if (w->ev != NULL)
        event_free(w->ev);
    w->ev = NULL;
}

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
static void drain(void)
{
    for (int i = 0; i < 8; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

static void set_flag(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* ----------------------------------------------------------------------
 * Addresses and clients
 */

static size_t lst(const char *fmt)
{
    return strcmp(fmt, "json") == 0 ? 0 : 1;
}

static enum rc_format rcf(const char *fmt)
{
    return strcmp(fmt, "json") == 0 ? RC_JSON : RC_BINARY;
}

/* "tcp:HOST:PORT" or "unix:PATH" of the harness's listener i. */
static const char *address_of(struct harness *h, size_t i)
{
    static char bufs[8][320];
    static unsigned k;
    char *b = bufs[k++ % 8];
    struct harness_listener l = harness_listener(h, i);

    if (l.is_unix)
        snprintf(b, sizeof bufs[0], "unix:%s", l.path);
    else if (strchr(l.host, ':') != NULL)
        snprintf(b, sizeof bufs[0], "tcp:[%s]:%d", l.host, l.port);
    else
        snprintf(b, sizeof bufs[0], "tcp:%s:%d", l.host, l.port);
    return b;
}

static struct mp_client *client_new_full(struct event_base *b, const char *address,
                                         const char *fmt, const char *name,
                                         const void *secret, size_t secret_len,
                                         size_t max, unsigned timeout_ms)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = 1;

    o.address = address;
    o.format = fmt;
    o.name = name;
    o.secret = secret;
    o.secret_len = secret_len;
    o.max_message_size = max;
    o.connect_timeout_ms = timeout_ms;
    struct mp_client *c = mp_client_new(b, &o, &err);
    cr_assert_not_null(c, "mp_client_new(%s, %s, %s): %s", name, address, fmt,
                       mp_strerror(err));
    return c;
}

static struct mp_client *client_new_max(struct harness *h, const char *fmt,
                                        const char *name, size_t max)
{
    return client_new_full(base, address_of(h, lst(fmt)), fmt, name, SECRET,
                           strlen(SECRET), max, 0);
}

static struct mp_client *client_new(struct harness *h, const char *fmt,
                                    const char *name)
{
    return client_new_max(h, fmt, name, 0);
}

struct ready {
    int calls;
    int status;
    bool reason_null;
    char reason[256];
};

static void on_ready(struct mp_client *c, int status, const char *reason,
                     void *arg)
{
    struct ready *r = arg;

    (void)c;
    r->calls++;
    r->status = status;
    r->reason_null = reason == NULL;
    snprintf(r->reason, sizeof r->reason, "%s", reason != NULL ? reason : "");
}

/* Ready records of login(): static, so that a buggy late call cannot
 * write into a dead stack frame. */
static struct ready ready_pool[32];
static size_t ready_used;

static void login(struct mp_client *c)
{
    cr_assert(ready_used < sizeof ready_pool / sizeof ready_pool[0]);
    struct ready *r = &ready_pool[ready_used++];
    int rc = mp_client_connect(c, on_ready, r);

    cr_assert_eq(rc, MP_OK, "mp_client_connect: %s", mp_strerror(rc));
    WAIT(r->calls > 0, "no login outcome");
    cr_assert_eq(r->calls, 1, "the ready callback ran %d times", r->calls);
    cr_assert_eq(r->status, MP_OK, "login: %s (%s)", mp_strerror(r->status),
                 r->reason);
}

static struct mp_client *join_max(struct harness *h, const char *fmt,
                                  const char *name, size_t max)
{
    struct mp_client *c = client_new_max(h, fmt, name, max);

    login(c);
    return c;
}

static struct mp_client *join(struct harness *h, const char *fmt,
                              const char *name)
{
    return join_max(h, fmt, name, 0);
}

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

static bool end_over(const struct end *e)
{
    return e->closes > 0 || e->closed_by_other || e->closed_self ||
           (e->opens > 0 && e->open_status != MP_OK);
}

static void copy_str(char *dst, const char *s)
{
    snprintf(dst, 300, "%s", s != NULL ? s : "(null)");
}

static void end_record(struct end *e, struct mp_conn *conn)
{
    e->client = mp_conn_client(conn);
    copy_str(e->peer, mp_conn_peer(conn));
    copy_str(e->proto, mp_conn_protocol(conn));
    copy_str(e->id, mp_conn_id(conn));
}

static void end_free(struct end *e)
{
    for (size_t i = 0; i < e->nmsg; i++)
        free(e->msgs[i].p);
    free(e->msgs);
    e->msgs = NULL;
    e->nmsg = e->cap = 0;
}

static void count_free(void *data, size_t len, void *arg)
{
    (void)len;
    (*(int *)arg)++;
    free(data);
}

static void end_open(struct mp_conn *conn, int status, void *arg);

static void end_msg(struct mp_conn *conn, const void *data, size_t len,
                    void *arg)
{
    struct end *e = arg;

    if (conn != e->conn)
        e->wrong++;
    if (e->nmsg == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 16;
        struct blob *n = realloc(e->msgs, ncap * sizeof *n);
        cr_assert_not_null(n, "out of memory");
        e->msgs = n;
        e->cap = ncap;
    }
    unsigned char *p = malloc(len ? len : 1);
    cr_assert_not_null(p, "out of memory");
    if (len > 0)
        memcpy(p, data, len);
    e->msgs[e->nmsg++] = (struct blob){ p, len };
    if (e->echo && mp_conn_send(conn, data, len) != MP_OK)
        e->echo_errors++;
    if (e->close_after != 0 && e->nmsg == e->close_after) {
        mp_conn_close(conn);
        e->conn = NULL;
        e->closed_self = true;
    }
}

static void end_close(struct mp_conn *conn, int reason, void *arg)
{
    struct end *e = arg;

    if (conn != e->conn)
        e->wrong++;
    e->closes++;
    e->close_reason = reason;
    copy_str(e->close_peer, mp_conn_peer(conn));
    if (e->send_in_close) {
        unsigned char *p = malloc(16);
        cr_assert_not_null(p, "out of memory");
        memset(p, 'L', 16);
        e->close_send_rc = mp_conn_send(conn, "late", 4);
        e->close_take_rc = mp_conn_send_take(conn, p, 16, count_free,
                                             &e->close_take_frees);
    }
    if (e->close_other != NULL && e->close_other->conn != NULL) {
        mp_conn_close(e->close_other->conn);
        e->close_other->conn = NULL;
        e->close_other->closed_by_other = true;
    }
    if (e->open_on_close != NULL)
        e->reopen_rc = mp_client_open(e->open_on_close, e->peer, e->proto,
                                      end_open, e->reopen);
    if (e->stop_on_close != NULL)
        mp_client_stop(e->stop_on_close);
    e->conn = NULL;
}

static void end_open(struct mp_conn *conn, int status, void *arg)
{
    struct end *e = arg;

    e->opens++;
    e->open_status = status;
    e->conn = conn;
    if ((status == MP_OK) != (conn != NULL))
        e->wrong++;
    if (conn != NULL) {
        end_record(e, conn);
        mp_conn_set_callbacks(conn, end_msg, end_close, e);
        if (e->on_open != NULL)
            e->on_open(e);
    }
}

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

static void srv_conn(struct mp_conn *conn, void *arg)
{
    struct server *s = arg;

    if (s->n == MAX_ENDS) {
        s->overflow++;
        mp_conn_close(conn);
        return;
    }
    struct end *e = &s->ends[s->n++];
    e->conn = conn;
    end_record(e, conn);
    e->echo = s->echo;
    e->close_after = s->close_after;
    e->stop_on_close = s->stop_on_close;
    if (s->close_at_once) {
        mp_conn_close(conn);
        e->conn = NULL;
        e->closed_self = true;
        return;
    }
    mp_conn_set_callbacks(conn, end_msg, end_close, e);
    if (s->hook != NULL)
        s->hook(s, e, conn);
}

static void server_free(struct server *s)
{
    for (size_t i = 0; i < MAX_ENDS; i++)
        end_free(&s->ends[i]);
}

static void handle(struct mp_client *c, const char *proto, struct server *s)
{
    int rc = mp_client_handle(c, proto, srv_conn, s);

    cr_assert_eq(rc, MP_OK, "mp_client_handle(%s): %s", proto, mp_strerror(rc));
}

static void open_start(struct mp_client *c, const char *peer,
                       const char *proto, struct end *e)
{
    int rc = mp_client_open(c, peer, proto, end_open, e);

    cr_assert_eq(rc, MP_OK, "mp_client_open(%s, %s): %s", peer, proto,
                 mp_strerror(rc));
}

static void open_wait(struct end *e, const char *what)
{
    WAIT(e->opens > 0, "no outcome for opening %s", what);
    cr_assert_eq(e->opens, 1, "open callback ran %d times (%s)", e->opens, what);
    cr_assert_eq(e->wrong, 0, "open callback: conn and status disagree (%s)",
                 what);
}

static void open_ok(struct mp_client *c, const char *peer, const char *proto,
                    struct end *e)
{
    open_start(c, peer, proto, e);
    open_wait(e, proto);
    cr_assert_eq(e->open_status, MP_OK, "opening %s/%s: %s", peer, proto,
                 mp_strerror(e->open_status));
    cr_assert_not_null(e->conn);
}

/* The outcome of opening (peer, proto) when it must fail. */
static int open_fails(struct mp_client *c, const char *peer, const char *proto)
{
    struct end e = { 0 };

    open_start(c, peer, proto, &e);
    open_wait(&e, proto);
    cr_assert_null(e.conn, "opening %s/%s: a conn with status %s", peer, proto,
                   mp_strerror(e.open_status));
    return e.open_status;
}

/* Open from c to `peer`, which accepts into s; return the accepted end. */
static struct end *open_pair(struct mp_client *c, const char *peer,
                             const char *proto, struct end *e, struct server *s)
{
    size_t before = s->n;

    open_ok(c, peer, proto, e);
    WAIT(s->n > before, "%s did not see the connection", peer);
    struct end *o = &s->ends[before];
    cr_assert_str_eq(o->id, e->id, "the two ends disagree on the id");
    return o;
}

static void send_ok(struct end *e, const void *d, size_t n)
{
    cr_assert_not_null(e->conn, "sending on a connection that is over");
    int rc = mp_conn_send(e->conn, d, n);
    cr_assert_eq(rc, MP_OK, "mp_conn_send(%zu bytes): %s", n, mp_strerror(rc));
}

static void send_str(struct end *e, const char *s)
{
    send_ok(e, s, strlen(s));
}

static bool msg_eq(const struct end *e, size_t i, const void *d, size_t n)
{
    return i < e->nmsg && e->msgs[i].len == n &&
           (n == 0 || memcmp(e->msgs[i].p, d, n) == 0);
}

static void assert_msg_str(const struct end *e, size_t i, const char *s)
{
    cr_assert(i < e->nmsg, "message %zu missing (%zu received)", i, e->nmsg);
    cr_assert(msg_eq(e, i, s, strlen(s)), "message %zu is \"%.*s\", want \"%s\"",
              i, (int)(e->msgs[i].len > 200 ? 200 : e->msgs[i].len),
              (const char *)e->msgs[i].p, s);
}

static bool has_msg(const struct end *e, const char *s)
{
    for (size_t i = e->nmsg; i-- > 0;)
        if (msg_eq(e, i, s, strlen(s)))
            return true;
    return false;
}

/* Send a unique message from `from` and wait until `to` has it: whatever
 * was sent before it along that path has then been delivered. */
static void barrier(struct end *from, struct end *to)
{
    static unsigned k;
    char text[32];

    snprintf(text, sizeof text, "barrier-%u", k++);
    send_str(from, text);
    WAIT(has_msg(to, text), "barrier \"%s\" did not arrive", text);
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);

    cr_assert_not_null(p, "out of memory");
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + seed * 13 + (i >> 8)) % 251);
    return p;
}

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

static void on_lost(struct mp_client *c, int status, void *arg)
{
    struct lost *l = arg;

    (void)c;
    l->calls++;
    l->status = status;
    l->all_ended = true;
    for (size_t i = 0; i < l->nends; i++)
        if (!end_over(l->ends[i]))
            l->all_ended = false;
    if (l->disarm != NULL)
        event_del(l->disarm);
}

/* ----------------------------------------------------------------------
 * Raw peers, driven while the loop runs
 */

/* rc_recv without blocking the loop: the library keeps running. */
static int raw_recv(struct rc_client *rc, struct rc_msg *m, int ms)
{
    long long deadline = mpt_now_ms() + ms;

    for (;;) {
        int r = rc_recv(rc, m, 0);
        if (r != RC_TIMEOUT)
            return r;
        long long left = deadline - mpt_now_ms();
        if (left <= 0)
            return RC_TIMEOUT;
        bool fired = false;
        struct timeval tv = tv_ms(left);
        struct event *ev = event_new(base, rc_fd(rc), EV_READ, set_flag, &fired);
        cr_assert_not_null(ev);
        event_add(ev, &tv);
        while (!fired)
            event_base_loop(base, EVLOOP_ONCE);
        event_free(ev);
    }
}

static void raw_expect(struct rc_client *rc, int meta, const char *other,
                       const char *id, struct rc_msg *m)
{
    int r = raw_recv(rc, m, mpt_ms(MPT_MSG_MS));

    cr_assert_eq(r, RC_OK, "raw peer: %s %s", rc_status_name(r), rc_error(rc));
    cr_assert_eq(m->meta, meta, "raw peer got meta %d, want %d", m->meta, meta);
    if (other != NULL)
        cr_assert_str_eq(m->other_client, other);
    if (id != NULL)
        cr_assert_str_eq(m->connection_id, id);
}

static void raw_send(struct rc_client *rc, unsigned meta, const char *to,
                     const char *id, struct rc_blob data)
{
    cr_assert(rc_send(rc, meta, to, id, data), "raw send: %s", rc_error(rc));
}

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

static void fake_read(evutil_socket_t fd, short what, void *arg)
{
    struct fake *f = arg;
    unsigned char scratch[4096];
    unsigned char *dst = f->len < sizeof f->in ? f->in + f->len : scratch;
    size_t room = f->len < sizeof f->in ? sizeof f->in - f->len : sizeof scratch;

    (void)what;
    ssize_t n = recv(fd, dst, room, 0);
    if (n > 0) {
        if (dst != scratch)
            f->len += (size_t)n;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    f->eof = true;
    event_del(f->read_ev);
}

static void fake_accept(evutil_socket_t fd, short what, void *arg)
{
    struct fake *f = arg;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    (void)what;
    if (c < 0)
        return;
    f->accepts++;
    if (f->close_on_accept || f->cfd >= 0) {
        close(c);
        return;
    }
    f->cfd = c;
    f->read_ev = event_new(base, c, EV_READ | EV_PERSIST, fake_read, f);
    cr_assert_not_null(f->read_ev);
    event_add(f->read_ev, NULL);
}

/* Listen on 127.0.0.1; accept only if `accept`. */
static void fake_start(struct fake *f, bool accept)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t sl = sizeof sin;
    int one = 1;

    memset(f, 0, sizeof *f);
    f->cfd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    cr_assert(f->lfd >= 0, "socket: %s", strerror(errno));
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin) == 0, "bind: %s",
              strerror(errno));
    cr_assert(listen(f->lfd, 8) == 0, "listen: %s", strerror(errno));
    cr_assert(getsockname(f->lfd, (struct sockaddr *)&sin, &sl) == 0);
    f->port = ntohs(sin.sin_port);
    if (accept) {
        f->accept_ev = event_new(base, f->lfd, EV_READ | EV_PERSIST, fake_accept, f);
        cr_assert_not_null(f->accept_ev);
        event_add(f->accept_ev, NULL);
    }
}

static const char *fake_address(const struct fake *f)
{
    static char b[64];

    snprintf(b, sizeof b, "tcp:127.0.0.1:%d", f->port);
    return b;
}

static void fake_send(struct fake *f, const void *p, size_t n)
{
    const unsigned char *b = p;

    cr_assert(f->cfd >= 0, "fake broker: nobody connected");
    while (n > 0) {
        ssize_t k = send(f->cfd, b, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            event_base_loop(base, EVLOOP_NONBLOCK);
            continue;
        }
        cr_assert(k > 0, "fake broker: send: %s", strerror(errno));
        b += k;
        n -= (size_t)k;
    }
}

/* Send one message in `fmt`, as the broker would. */
static void fake_send_msg(struct fake *f, const char *fmt, unsigned meta,
                          const char *other, const char *id, struct rc_blob d)
{
    if (strcmp(fmt, "json") == 0) {
        char *line = rc_json_line(meta, other, id, d);
        cr_assert_not_null(line);
        fake_send(f, line, strlen(line));
        fake_send(f, "\n", 1);
        free(line);
    } else {
        size_t n;
        unsigned char *fr = rc_binary_frame(meta, other, id, d, -1, &n);
        cr_assert_not_null(fr);
        fake_send(f, fr, n);
        free(fr);
    }
}

static void fake_stop(struct fake *f)
{
    if (f->read_ev != NULL)
        event_free(f->read_ev);
    if (f->accept_ev != NULL)
        event_free(f->accept_ev);
    if (f->cfd >= 0)
        close(f->cfd);
    close(f->lfd);
    f->read_ev = f->accept_ev = NULL;
    f->cfd = -1;
}

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
static size_t fake_frame_len(const struct fake *f, const char *fmt)
{
    if (strcmp(fmt, "json") == 0) {
        const unsigned char *nl = memchr(f->in, '\n', f->len);
        return nl != NULL ? (size_t)(nl - f->in) + 1 : 0;
    }
    if (f->len < 4)
        return 0;
    size_t rest = ((size_t)f->in[0] << 24) | ((size_t)f->in[1] << 16) |
                  ((size_t)f->in[2] << 8) | f->in[3];
    return f->len >= 4 + rest ? 4 + rest : 0;
}

/* Take the next message the library sent (waiting for it). Binary frames
 * are decoded exactly; JSON lines are kept as text (the library writes the
 * canonical form: checked with substrings). */
static void fake_take(struct fake *f, const char *fmt, struct wire *w)
{
    size_t n;

    WAIT((n = fake_frame_len(f, fmt)) > 0 || f->eof,
         "fake broker: no complete message from the client");
    cr_assert(n > 0, "fake broker: the client hung up");
    memset(w, 0, sizeof *w);
    if (strcmp(fmt, "json") == 0) {
        cr_assert(n < sizeof w->line, "json line too long for the test");
        memcpy(w->line, f->in, n);
        w->line[n] = '\0';
        w->meta = -1;
        const char *m = strstr(w->line, "\"Meta\":");
        if (m != NULL)
            w->meta = atoi(m + 7);
    } else {
        const unsigned char *p = f->in + 4;
        size_t rest = n - 4;
        cr_assert(rest >= 4, "binary frame too short");
        unsigned flags = p[1], nl = p[2], il = p[3];
        size_t off = 4 + ((flags & RC_FLAG_HAS_LEVEL) ? 1 : 0);
        cr_assert(off + nl + il <= rest, "binary frame: names overflow");
        w->meta = p[0];
        memcpy(w->other, p + off, nl);
        memcpy(w->id, p + off + nl, il);
        w->has_data = (flags & RC_FLAG_HAS_DATA) != 0;
        w->data_len = rest - off - nl - il;
        cr_assert(w->data_len <= sizeof w->data, "binary frame: data too long");
        memcpy(w->data, p + off + nl + il, w->data_len);
        cr_assert((flags & ~3u) == 0, "reserved flag bits set: %#x", flags);
        cr_assert(w->has_data || w->data_len == 0, "data without HAS_DATA");
    }
    memmove(f->in, f->in + n, f->len - n);
    f->len -= n;
}

/* The next message that is not a NoSuchConnection (which the library may
 * send back for messages on connections it does not know). */
static void fake_take_skip(struct fake *f, const char *fmt, struct wire *w)
{
    do
        fake_take(f, fmt, w);
    while (w->meta == RC_NO_SUCH_CONN);
}

/* ----------------------------------------------------------------------
 * Capturing what the process writes on fds 1 and 2 (the library must not
 * print). Off when MP_TEST_VERBOSE echoes the broker's log there.
 */

struct capture {
    int fd, saved1, saved2;
    bool on;
};

static void capture_begin(struct capture *c)
{
    const char *v = getenv("MP_TEST_VERBOSE");
    char path[] = "/tmp/mpclient-out.XXXXXX";

    c->on = !(v != NULL && *v != '\0' && strcmp(v, "0") != 0);
    if (!c->on)
        return;
    c->fd = mkstemp(path);
    cr_assert(c->fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    c->saved1 = dup(1);
    c->saved2 = dup(2);
    dup2(c->fd, 1);
    dup2(c->fd, 2);
}

/* Restore fds 1 and 2; return what was written (caller frees). */
static char *capture_end(struct capture *c)
{
    char *text = calloc(1, 4097);

    cr_assert_not_null(text);
    if (!c->on)
        return text;
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved1, 1);
    dup2(c->saved2, 2);
    close(c->saved1);
    close(c->saved2);
    ssize_t n = pread(c->fd, text, 4096, 0);
    if (n > 0)
        text[n] = '\0';
    close(c->fd);
    return text;
}

static void capture_check(struct capture *c)
{
    static char out[4097];
    char *text = capture_end(c);

    snprintf(out, sizeof out, "%s", text);
    free(text);
    cr_assert_str_empty(out, "something was printed:\n%s", out);
}

/* ----------------------------------------------------------------------
 * Reaping a broker the test killed
 */

static void reap_killed(struct harness *h)
{
    int status = 0;

    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status),
              "the killed broker did not exit");
    cr_assert(WIFSIGNALED(status), "the broker was not killed by the signal");
    harness_free(h);
}

/* ======================================================================
 * Error texts
 */

Test(client, strerror_every_value)
{
    const char *seen[16];

    for (int e = 0; e >= -15; e--) {
        const char *s = mp_strerror(e);
        cr_assert(s != NULL && s[0] != '\0', "mp_strerror(%d) is empty", e);
        for (int k = 0; k < -e; k++)
            cr_assert(strcmp(seen[k], s) != 0,
                      "mp_strerror(%d) and mp_strerror(%d) are both \"%s\"", -k,
                      e, s);
        seen[-e] = s;
    }
    static const int unknown[] = { 1, 2, 15, 100, -16, -17, -1000, INT_MAX,
                                   INT_MIN, INT_MIN + 1 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = mp_strerror(unknown[i]);
        cr_assert(s != NULL && s[0] != '\0', "mp_strerror(%d) is empty",
                  unknown[i]);
    }
}

Test(client, close_reason_every_value)
{
    const char *seen[5];

    for (int r = MP_CLOSE_BY_PEER; r <= MP_CLOSE_CLIENT_FREED; r++) {
        const char *s = mp_close_reason_string(r);
        cr_assert(s != NULL && s[0] != '\0', "mp_close_reason_string(%d) is empty", r);
        for (int k = MP_CLOSE_BY_PEER; k < r; k++)
            cr_assert(strcmp(seen[k], s) != 0, "reasons %d and %d are both \"%s\"",
                      k, r, s);
        seen[r] = s;
    }
    static const int unknown[] = { 0, 5, 6, -1, -4, 100, INT_MAX, INT_MIN };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = mp_close_reason_string(unknown[i]);
        cr_assert(s != NULL && s[0] != '\0', "mp_close_reason_string(%d) is empty",
                  unknown[i]);
    }
}

/* ======================================================================
 * Creating, connecting, logging in
 */

Test(client, new_rejects_bad_options)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = 0;

    cr_assert_null(mp_client_new(base, NULL, &err), "NULL options accepted");
    cr_assert_eq(err, MP_ERR_INVALID, "NULL options: %s", mp_strerror(err));
    cr_assert_null(mp_client_new(NULL, NULL, NULL), "NULL options accepted");
    mp_client_free(NULL);

    /* An unknown format (MP_ERR_INVALID) or no name (MP_ERR_NAME):
     * refused by mp_client_new or, at the latest, by connecting. */
    const char *formats[] = { "xml", "", "JSON-ish" };
    for (size_t i = 0; i < 4; i++) {
        int want = i < 3 ? MP_ERR_INVALID : MP_ERR_NAME;
        o.address = "tcp:127.0.0.1:1";
        o.format = i < 3 ? formats[i] : "binary";
        o.name = i < 3 ? "alice" : NULL;
        o.secret = "x";
        o.secret_len = 1;
        err = 0;
        struct mp_client *c = mp_client_new(NULL, &o, &err);
        if (c == NULL) {
            cr_assert_eq(err, want, "case %zu: %s", i, mp_strerror(err));
            continue;
        }
        int rc = mp_client_connect_wait(c, NULL, 0);
        mp_client_free(c);
        cr_assert_eq(rc, want, "case %zu (format %s, name %s): %s", i,
                     o.format, o.name ? o.name : "NULL", mp_strerror(rc));
    }
}

/* Attached mode: mp_client_connect + the ready callback. */
static void login_attached(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *c = client_new(h, fmt, "alice");
    struct ready r = { 0 };
    struct lost l = { 0 };
    struct end e = { 0 };

    cr_assert_eq(mp_client_base(c), base, "mp_client_base is not the caller's");
    cr_assert_eq(mp_client_run(c), MP_ERR_STATE, "mp_client_run in attached mode");
    cr_assert_eq(mp_client_open(c, "bob", "echo", end_open, &e), MP_ERR_STATE,
                 "mp_client_open before connecting");
    cr_assert_eq(mp_client_disconnect(c, NULL, NULL), MP_ERR_STATE,
                 "mp_client_disconnect before connecting");
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_ERR_STATE,
                 "a second mp_client_connect while connecting");
    cr_assert_eq(mp_client_open(c, "bob", "echo", end_open, &e), MP_ERR_STATE,
                 "mp_client_open while logging in");
    cr_assert_eq(mp_client_disconnect(c, NULL, NULL), MP_ERR_STATE,
                 "mp_client_disconnect while logging in");
    WAIT(r.calls > 0, "no login outcome");
    cr_assert_eq(r.status, MP_OK, "login: %s", mp_strerror(r.status));
    cr_assert_str_eq(mp_client_name(c), "alice");
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_ERR_STATE,
                 "mp_client_connect once logged in");
    cr_assert_eq(mp_client_run(c), MP_ERR_STATE, "mp_client_run in attached mode");

    /* A round trip; the ready callback ran once, nothing else. */
    cr_assert_eq(open_fails(c, "nobody", "echo"), MP_ERR_NO_SUCH_CLIENT);
    cr_assert_eq(r.calls, 1, "ready ran %d times", r.calls);
    cr_assert_eq(e.opens, 0, "a refused mp_client_open called back");
    cr_assert_eq(l.calls, 0, "lost callback while connected");
    mp_client_free(c);
    cr_assert_eq(l.calls, 0, "lost callback on mp_client_free");
    harness_stop(h);
}

Test(client, login_attached_binary) { login_attached("binary"); }
Test(client, login_attached_json) { login_attached("json"); }

/* Own-loop mode: mp_client_connect_wait. */
static void login_own_loop(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    const char *addr = address_of(h, lst(fmt));
    struct mp_client *c = client_new_full(NULL, addr, fmt, "alice", SECRET,
                                          strlen(SECRET), 0, 0);
    char reason[64] = "untouched";

    cr_assert_not_null(mp_client_base(c), "own-loop client without a base");
    cr_assert_neq(mp_client_base(c), base);
    int rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_OK, "mp_client_connect_wait: %s (%s)", mp_strerror(rc),
                 reason);
    cr_assert_str_eq(mp_client_name(c), "alice");
    rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_ERR_STATE, "connect_wait once logged in: %s",
                 mp_strerror(rc));
    mp_client_free(c);

    /* reason may be NULL */
    c = client_new_full(NULL, addr, fmt, "bob", SECRET, strlen(SECRET), 0, 0);
    rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "mp_client_connect_wait: %s", mp_strerror(rc));
    mp_client_free(c);

    /* freed before ever connecting */
    c = client_new_full(NULL, addr, fmt, "carol", SECRET, strlen(SECRET), 0, 0);
    mp_client_free(c);
    harness_stop(h);
}

Test(client, login_own_loop_binary) { login_own_loop("binary"); }
Test(client, login_own_loop_json) { login_own_loop("json"); }

static struct harness *start_passwd(const char *limits)
{
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "s3cret");
    char text[1024], body[2048];

    snprintf(text, sizeof text, "%s\n", alice);
    free(alice);
    harness_write_file(h, "mpbroker.passwd", text);
    snprintf(body, sizeof body,
             "%s"
             "authenticators = ( { module = \"auth_passwd.so\";"
             " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n%s",
             MPT_LISTEN_JSON_BINARY, limits);
    harness_boot(h, body);
    return h;
}

#define BAD_LOGIN "invalid name or secret"

/* A NUL-terminated secret needs no secret_len (o.secret = "s3cret" alone
 * used to send an empty secret); an explicit length still wins, for
 * binary secrets. Each with a wrong variant, to show the secret is what
 * decides. */
Test(client, secret_length_is_optional)
{
    struct harness *h = start_passwd("");
    const char *addr = address_of(h, lst("binary"));
    char reason[128];
    const struct {
        const char *secret;
        size_t len;
        int want;
    } cases[] = {
        { "s3cret", 0, MP_OK },          /* up to the NUL */
        { "s3cret!", 0, MP_ERR_AUTH },   /* ... all of it */
        { "s3cret!", 6, MP_OK },         /* an explicit length wins */
        { "s3cret", 5, MP_ERR_AUTH },
        { "", 0, MP_ERR_AUTH },          /* empty */
        { NULL, 0, MP_ERR_AUTH },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mp_client *c = client_new_full(NULL, addr, "binary", "alice",
                                              cases[i].secret, cases[i].len,
                                              0, 0);
        int rc = mp_client_connect_wait(c, reason, sizeof reason);
        mp_client_free(c);
        cr_assert_eq(rc, cases[i].want, "case %zu (\"%s\", %zu): %s (%s)", i,
                     cases[i].secret ? cases[i].secret : "NULL", cases[i].len,
                     mp_strerror(rc), reason);
    }
    harness_stop(h);
}

/* A client whose format an auto listener does not speak (no gob
 * translator here) is told so by the broker's line, and gets
 * MP_ERR_FORMAT with that line, not a bare "connection lost". */
Test(client, format_the_listener_does_not_speak)
{
    struct harness *h = harness_start(
        MPT_AUTH_ALLOW_ALL
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n");
    const char *addr = address_of(h, 0);
    const char *line = "\"mpbroker: unknown wire format; this listener speaks: "
                       "json, binary\"";
    char reason[512] = "";

    struct mp_client *c = client_new_full(NULL, addr, "gob", "gopher", SECRET,
                                          strlen(SECRET), 0, 0);
    int rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_ERR_FORMAT, "%s (%s)", mp_strerror(rc), reason);
    cr_assert_not_null(strstr(mp_strerror(rc), "wire format"), "%s",
                       mp_strerror(rc));
    cr_assert_not_null(strstr(reason, "does not speak gob"), "%s", reason);
    cr_assert_not_null(strstr(reason, line), "%s", reason);
    cr_assert_str_eq(mp_client_lost_reason(c), reason);
    mp_client_free(c);

    /* attached, through the ready callback; no lost callback */
    struct ready r = { 0 };
    struct lost l = { 0 };
    c = client_new_full(base, addr, "gob", "gopher", SECRET, strlen(SECRET),
                        0, 0);
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(r.calls > 0, "no login outcome");
    cr_assert_eq(r.status, MP_ERR_FORMAT, "%s (%s)", mp_strerror(r.status),
                 r.reason);
    cr_assert_not_null(strstr(r.reason, line), "%s", r.reason);
    drain();
    mp_client_free(c);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(l.calls, 0);

    /* the formats it speaks still log in there */
    c = client_new_full(NULL, addr, "json", "jo", SECRET, strlen(SECRET), 0, 0);
    rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_OK, "%s (%s)", mp_strerror(rc), reason);
    mp_client_free(c);
    cr_assert(harness_wait_log(h, "not a known wire format", mpt_ms(MPT_MSG_MS)));
    harness_stop(h);
}

/* An invalid name of one's own: MP_ERR_NAME, whose text says what a name
 * must be. */
Test(client, invalid_own_name)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    const char *names[] = { "a:b", "", "tab\there" };
    int err = 0;

    o.address = "tcp:127.0.0.1:1";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        o.name = names[i];
        cr_assert_null(mp_client_new(base, &o, &err), "\"%s\" accepted", names[i]);
        cr_assert_eq(err, MP_ERR_NAME, "\"%s\": %s", names[i], mp_strerror(err));
    }
    cr_assert_not_null(strstr(mp_strerror(MP_ERR_NAME), "invalid client name"));
    cr_assert_not_null(strstr(mp_strerror(MP_ERR_NAME), "':'"));
}

static void auth_failure(const char *fmt)
{
    struct harness *h = start_passwd("");
    const char *addr = address_of(h, lst(fmt));
    struct end e = { 0 };
    char reason[128];

    /* connect_wait, own loop */
    struct mp_client *c = client_new_full(NULL, addr, fmt, "alice", "wrong", 5, 0, 0);
    memset(reason, 'X', sizeof reason);
    int rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_ERR_AUTH, "wrong secret: %s", mp_strerror(rc));
    cr_assert_not_null(memchr(reason, '\0', sizeof reason), "reason not terminated");
    cr_assert_str_eq(reason, BAD_LOGIN);
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, &e), MP_ERR_STATE,
                 "mp_client_open after a failed login");
    mp_client_free(c);

    /* the ready callback, attached */
    struct ready r = { 0 };
    struct lost l = { 0 };
    c = client_new_full(base, addr, fmt, "alice", "s3cret!", 7, 0, 0);
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(r.calls > 0, "no login outcome");
    cr_assert_eq(r.status, MP_ERR_AUTH, "wrong secret: %s", mp_strerror(r.status));
    cr_assert(!r.reason_null, "MP_ERR_AUTH without a reason");
    cr_assert_str_eq(r.reason, BAD_LOGIN);
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, &e), MP_ERR_STATE,
                 "mp_client_open after a failed login");
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_ERR_STATE,
                 "mp_client_connect after a failed login");
    cr_assert_eq(mp_client_disconnect(c, NULL, NULL), MP_ERR_STATE,
                 "mp_client_disconnect after a failed login");
    drain();
    cr_assert_eq(r.calls, 1, "ready ran %d times", r.calls);
    mp_client_free(c);
    cr_assert_eq(l.calls, 0, "lost callback without a login");
    cr_assert_eq(e.opens, 0);

    /* a short buffer gets a terminated prefix, and nothing past it */
    struct {
        char reason[8];
        char canary[8];
    } small;
    memset(&small, 'X', sizeof small);
    c = client_new_full(NULL, addr, fmt, "alice", "nope", 4, 0, 0);
    rc = mp_client_connect_wait(c, small.reason, sizeof small.reason);
    mp_client_free(c);
    cr_assert_eq(rc, MP_ERR_AUTH, "%s", mp_strerror(rc));
    cr_assert_not_null(memchr(small.reason, '\0', sizeof small.reason),
                       "truncated reason not NUL-terminated");
    cr_assert(strncmp(BAD_LOGIN, small.reason, strlen(small.reason)) == 0,
              "truncated reason \"%s\"", small.reason);
    for (size_t i = 0; i < sizeof small.canary; i++)
        cr_assert_eq(small.canary[i], 'X', "written past reason_len");

    /* reason NULL */
    c = client_new_full(NULL, addr, fmt, "alice", "nope", 4, 0, 0);
    rc = mp_client_connect_wait(c, NULL, 0);
    mp_client_free(c);
    cr_assert_eq(rc, MP_ERR_AUTH, "%s", mp_strerror(rc));

    /* secret_len counts, not the bytes after it; a prefix is wrong */
    c = client_new_full(NULL, addr, fmt, "alice", "s3cretGARBAGE", 6, 0, 0);
    rc = mp_client_connect_wait(c, reason, sizeof reason);
    mp_client_free(c);
    cr_assert_eq(rc, MP_OK, "the right secret with secret_len: %s (%s)",
                 mp_strerror(rc), reason);
    c = client_new_full(NULL, addr, fmt, "alice", "s3cret", 5, 0, 0);
    rc = mp_client_connect_wait(c, NULL, 0);
    mp_client_free(c);
    cr_assert_eq(rc, MP_ERR_AUTH, "a prefix of the secret: %s", mp_strerror(rc));
    harness_stop(h);
}

Test(client, auth_failure_binary) { auth_failure("binary"); }
Test(client, auth_failure_json) { auth_failure("json"); }

/* A bad address: mp_client_new or mp_client_connect(_wait) says
 * MP_ERR_ADDRESS, synchronously; the ready callback is not called. */
static void bad_address_case(const char *addr, bool own)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct ready r = { 0 };
    int err = 0, rc;

    o.address = addr;
    o.name = "alice";
    o.secret = SECRET;
    o.secret_len = strlen(SECRET);
    struct mp_client *c = mp_client_new(own ? NULL : base, &o, &err);
    if (c == NULL) {
        cr_assert(err == MP_ERR_ADDRESS || (addr == NULL && err == MP_ERR_INVALID),
                  "mp_client_new(\"%s\"): %s, want MP_ERR_ADDRESS",
                  addr ? addr : "NULL", mp_strerror(err));
        return;
    }
    if (own) {
        rc = mp_client_connect_wait(c, NULL, 0);
    } else {
        rc = mp_client_connect(c, on_ready, &r);
        drain();
    }
    mp_client_free(c);
    cr_assert(rc == MP_ERR_ADDRESS || (addr == NULL && rc == MP_ERR_INVALID),
              "address \"%s\" (%s): %s, want MP_ERR_ADDRESS", addr ? addr : "NULL",
              own ? "connect_wait" : "connect", mp_strerror(rc));
    cr_assert_eq(r.calls, 0, "the ready callback ran after a refused connect");
}

Test(client, bad_addresses)
{
    char long_unix[200];

    snprintf(long_unix, sizeof long_unix, "unix:/tmp/%0150d.sock", 0);
    const char *bad[] = {
        "", "tcp", "tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp::7330",
        "tcp:127.0.0.1:port", "tcp:127.0.0.1:65536", "tcp:127.0.0.1:-1",
        "tcp:127.0.0.1:7330x", "tcp:[::1:7330", "tcp:[::1]7330", "tcp:[::1]:",
        "udp:127.0.0.1:7330", "127.0.0.1:7330", "unix", "unix:", long_unix,
        "tcp:no-such-host.invalid:7330", NULL,
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bad_address_case(bad[i], false);
        bad_address_case(bad[i], true);
    }
}

/* The reason for MP_ERR_CONNECT: "cannot connect to TARGET: tried
 * TARGET (WHY)" for an address of one socket. */
static void check_connect_reason(const char *addr, const char *reason,
                                 const char *why)
{
    char want[600];
    const char *target = strchr(addr, ':') + 1;
    const char *host_end = strrchr(target, ':');
    bool is_unix = strncmp(addr, "unix:", 5) == 0;

    snprintf(want, sizeof want, "cannot connect to %s: tried %.*s (%s)",
             target, is_unix ? (int)strlen(target) : (int)(host_end - target),
             target, why);
    cr_assert_str_eq(reason, want, "%s: the reason", addr);
}

/* No broker: MP_ERR_CONNECT, through connect_wait and through the ready
 * callback (or, for a connect() that fails at once, from
 * mp_client_connect itself), with a reason saying what was tried and what
 * it gave (`why`, strerror's text). */
static void no_broker_case(const char *addr, const char *why)
{
    struct mp_client *c = client_new_full(NULL, addr, "binary", "alice", SECRET,
                                          strlen(SECRET), 0, 0);
    char reason[512] = "unset";
    int rc = mp_client_connect_wait(c, reason, sizeof reason);

    cr_assert_eq(rc, MP_ERR_CONNECT, "%s: connect_wait: %s", addr, mp_strerror(rc));
    check_connect_reason(addr, reason, why);
    check_connect_reason(addr, mp_client_lost_reason(c), why);
    mp_client_free(c);

    struct ready r = { 0 };
    struct lost l = { 0 };
    struct end e = { 0 };
    c = client_new_full(base, addr, "json", "alice", SECRET, strlen(SECRET), 0, 0);
    mp_client_on_lost(c, on_lost, &l);
    rc = mp_client_connect(c, on_ready, &r);
    if (rc == MP_OK) {
        WAIT(r.calls > 0, "%s: no outcome", addr);
        cr_assert_eq(r.status, MP_ERR_CONNECT, "%s: %s", addr, mp_strerror(r.status));
        cr_assert(!r.reason_null, "MP_ERR_CONNECT without a reason");
        check_connect_reason(addr, r.reason, why);
    } else {
        cr_assert_eq(rc, MP_ERR_CONNECT, "%s: connect: %s", addr, mp_strerror(rc));
    }
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, &e), MP_ERR_STATE);
    drain();
    mp_client_free(c);
    cr_assert(r.calls <= 1, "ready ran %d times", r.calls);
    cr_assert_eq(l.calls, 0, "lost callback without a login");
}

Test(client, no_broker_tcp)
{
    /* A bound socket that does not listen: connections are refused. */
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t sl = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char addr[64];

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sin, &sl) == 0);
    snprintf(addr, sizeof addr, "tcp:127.0.0.1:%d", ntohs(sin.sin_port));
    no_broker_case(addr, "connection refused");
    close(fd);
}

Test(client, no_broker_unix)
{
    struct harness *h = harness_new();
    char addr[320];
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    snprintf(addr, sizeof addr, "unix:%s", harness_path(h, "absent.sock"));
    no_broker_case(addr, "no such file or directory");

    /* a socket file nobody listens on */
    const char *path = harness_path(h, "deaf.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0,
              "bind %s: %s", path, strerror(errno));
    snprintf(addr, sizeof addr, "unix:%s", path);
    no_broker_case(addr, "connection refused");
    close(fd);
    harness_free(h);
}

/* A broker that accepts and never answers: MP_ERR_TIMEOUT after
 * connect_timeout_ms. */
Test(client, connect_timeout)
{
    struct fake f;

    fake_start(&f, false);
    struct mp_client *c = client_new_full(NULL, fake_address(&f), "binary", "alice",
                                          SECRET, strlen(SECRET), 0, 300);
    long long t0 = mpt_now_ms();
    int rc = mp_client_connect_wait(c, NULL, 0);
    long long took = mpt_now_ms() - t0;
    mp_client_free(c);
    cr_assert_eq(rc, MP_ERR_TIMEOUT, "connect_wait: %s", mp_strerror(rc));
    cr_assert(took >= 250, "timed out after %lld ms, want 300", took);
    cr_assert(took < mpt_ms(3000), "timed out after %lld ms, want 300", took);

    struct ready r = { 0 };
    struct lost l = { 0 };
    c = client_new_full(base, fake_address(&f), "json", "alice", SECRET,
                        strlen(SECRET), 0, 300);
    mp_client_on_lost(c, on_lost, &l);
    t0 = mpt_now_ms();
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(r.calls > 0, "no outcome");
    took = mpt_now_ms() - t0;
    cr_assert_eq(r.status, MP_ERR_TIMEOUT, "%s", mp_strerror(r.status));
    cr_assert(took >= 250, "timed out after %lld ms, want 300", took);
    drain();
    mp_client_free(c);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(l.calls, 0);
    fake_stop(&f);
}

/* A "broker" that hangs up during the login: an error other than MP_OK and
 * MP_ERR_AUTH, once; no lost callback (there was no login). */
static void fake_hangs_up(const char *fmt)
{
    struct fake f;
    struct ready r = { 0 };
    struct lost l = { 0 };
    struct capture cap;

    fake_start(&f, true);
    f.close_on_accept = true;
    capture_begin(&cap);
    struct mp_client *c = client_new_full(base, fake_address(&f), fmt, "alice",
                                          SECRET, strlen(SECRET), 0, 0);
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(r.calls > 0, "no outcome");
    drain();
    mp_client_free(c);
    capture_check(&cap);
    cr_assert(r.status == MP_ERR_BROKER_GONE || r.status == MP_ERR_CONNECT,
              "hung up during login: %s", mp_strerror(r.status));
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(l.calls, 0);

    /* Own loop. The fake runs on the test's base, so let it accept (and
     * hang up) first; then mp_client_run sees the rest and returns. */
    struct waiter wd = { 0 };
    c = client_new_full(NULL, fake_address(&f), fmt, "alice", SECRET,
                        strlen(SECRET), 0, 0);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(f.accepts >= 2, "the fake broker saw no second connection");
    wd.stop = c;
    waiter_start(&wd, mp_client_base(c), mpt_ms(MPT_MSG_MS));
    int rc = mp_client_run(c);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "mp_client_run did not return after a failed login");
    waiter_stop(&wd);
    cr_assert_eq(r.calls, 2, "no outcome from mp_client_run");
    cr_assert(r.status == MP_ERR_BROKER_GONE || r.status == MP_ERR_CONNECT,
              "hung up during login: %s", mp_strerror(r.status));
    mp_client_free(c);
    fake_stop(&f);
}

/* mp_client_stop makes connect_wait return early, in both modes. */
static void stop_after(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mp_client_stop(arg);
}

Test(client, connect_wait_stopped)
{
    struct fake f;
    struct timeval later = tv_ms(100);

    fake_start(&f, false); /* never answers */
    for (int own = 0; own < 2; own++) {
        struct mp_client *c = client_new_full(own ? NULL : base, fake_address(&f),
                                              "binary", "alice", SECRET,
                                              strlen(SECRET), 0, 0);
        cr_assert_eq(event_base_once(mp_client_base(c), -1, EV_TIMEOUT, stop_after,
                                     c, &later), 0);
        long long t0 = mpt_now_ms();
        int rc = mp_client_connect_wait(c, NULL, 0);
        long long took = mpt_now_ms() - t0;
        mp_client_free(c);
        cr_assert_neq(rc, MP_OK, "a stopped connect_wait logged in");
        cr_assert(took < mpt_ms(2000), "%s: connect_wait returned after %lld ms, "
                  "stopped after 100", own ? "own loop" : "attached", took);
    }
    fake_stop(&f);
}

Test(client, fake_hangs_up_binary) { fake_hangs_up("binary"); }
Test(client, fake_hangs_up_json) { fake_hangs_up("json"); }

/*
 * A fake broker checks the Auth the library writes (the secret's bytes,
 * NUL included), logs it in, then sends messages the library must take in
 * its stride: for unknown connections, for unknown peers, WAT, a later
 * level's meta, a Syn for a protocol without a handler (answered with
 * UnknownProto on the wire) and one with a handler (answered with Ack);
 * and last, garbage: lost(MP_ERR_PROTOCOL), once.
 */
static void fake_conversation(const char *fmt)
{
    static const char secret[] = "s\0e\xff" "cr\n\"et";
    struct fake f;
    struct ready r = { 0 };
    struct lost l = { 0 };
    struct server s = { 0 };
    struct wire w;
    struct capture cap;

    fake_start(&f, true);
    capture_begin(&cap);
    struct mp_client *c = client_new_full(base, fake_address(&f), fmt, "alice",
                                          secret, sizeof secret - 1, 0, 0);
    mp_client_on_lost(c, on_lost, &l);
    handle(c, "echo", &s);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    fake_take(&f, fmt, &w);
    cr_assert_eq(w.meta, 8, "first message: meta %d, want Auth", w.meta);
    if (strcmp(fmt, "binary") == 0) {
        cr_assert_str_eq(w.other, "alice");
        cr_assert_str_empty(w.id);
        cr_assert(w.has_data && w.data_len == sizeof secret - 1 &&
                  memcmp(w.data, secret, sizeof secret - 1) == 0,
                  "the secret's bytes were not sent as given");
    } else {
        char *b64 = rc_base64(secret, sizeof secret - 1);
        char want[128];
        snprintf(want, sizeof want, "\"Data\":\"%s\"", b64);
        free(b64);
        cr_assert_not_null(strstr(w.line, "\"OtherClient\":\"alice\""), "%s", w.line);
        cr_assert_not_null(strstr(w.line, want), "want %s in %s", want, w.line);
    }
    cr_assert_eq(r.calls, 0, "logged in before AuthOk");
    fake_send_msg(&f, fmt, RC_AUTH_OK, "alice", "", RC_NULL);
    WAIT(r.calls > 0, "no login outcome");
    cr_assert_eq(r.status, MP_OK, "%s", mp_strerror(r.status));

    /* Odd but decodable messages: ignored. */
    fake_send_msg(&f, fmt, RC_DATA, "bob", "bob:9", rc_str("stray"));
    fake_send_msg(&f, fmt, RC_ACK, "bob", "alice:99", RC_NULL);
    fake_send_msg(&f, fmt, RC_CLOSED, "bob", "bob:9", RC_NULL);
    fake_send_msg(&f, fmt, RC_NO_SUCH_CONN, "bob", "alice:98", RC_NULL);
    fake_send_msg(&f, fmt, RC_CLIENT_CLOSED, "nobody", "", RC_NULL);
    fake_send_msg(&f, fmt, RC_WAT, "", "", rc_str("what?"));
    fake_send_msg(&f, fmt, 11, "bob", "bob:9", RC_NULL);
    /* Syns: refused, then accepted */
    fake_send_msg(&f, fmt, RC_SYN, "bob", "bob:0", rc_str("nope"));
    fake_send_msg(&f, fmt, RC_SYN, "bob", "bob:1", rc_str("echo"));
    fake_take_skip(&f, fmt, &w);
    if (strcmp(fmt, "binary") == 0) {
        cr_assert(w.meta == RC_UNKNOWN_PROTO && strcmp(w.other, "bob") == 0 &&
                  strcmp(w.id, "bob:0") == 0,
                  "answer to a Syn without a handler: meta %d %s %s", w.meta,
                  w.other, w.id);
    } else {
        cr_assert(w.meta == RC_UNKNOWN_PROTO &&
                  strstr(w.line, "\"OtherClient\":\"bob\"") != NULL &&
                  strstr(w.line, "\"ConnectionID\":\"bob:0\"") != NULL,
                  "answer to a Syn without a handler: %s", w.line);
    }
    fake_take_skip(&f, fmt, &w);
    if (strcmp(fmt, "binary") == 0)
        cr_assert(w.meta == RC_ACK && strcmp(w.other, "bob") == 0 &&
                  strcmp(w.id, "bob:1") == 0,
                  "answer to a Syn: meta %d %s %s", w.meta, w.other, w.id);
    else
        cr_assert(w.meta == RC_ACK &&
                  strstr(w.line, "\"ConnectionID\":\"bob:1\"") != NULL,
                  "answer to a Syn: %s", w.line);
    WAIT(s.n == 1, "on_connection did not run");
    cr_assert_str_eq(s.ends[0].peer, "bob");
    cr_assert_str_eq(s.ends[0].proto, "echo");
    cr_assert_str_eq(s.ends[0].id, "bob:1");
    fake_send_msg(&f, fmt, RC_DATA, "bob", "bob:1", rc_str("real"));
    WAIT(s.ends[0].nmsg == 1, "data on the accepted connection");
    assert_msg_str(&s.ends[0], 0, "real");
    cr_assert_eq(l.calls, 0, "lost after decodable messages");

    /* Garbage: the library gives up on the broker. */
    if (strcmp(fmt, "binary") == 0)
        fake_send(&f, "\x00\x00\x00\x04\x00\x80\x00\x00", 8);
    else
        fake_send(&f, "]this is not json\n", 18);
    WAIT(l.calls > 0, "no lost callback after garbage");
    cr_assert_eq(l.status, MP_ERR_PROTOCOL, "%s", mp_strerror(l.status));
    cr_assert_eq(s.ends[0].closes, 1, "the open connection was not closed");
    cr_assert_eq(s.ends[0].close_reason, MP_CLOSE_BROKER_LOST, "%s",
                 mp_close_reason_string(s.ends[0].close_reason));
    drain();
    mp_client_free(c);
    capture_check(&cap);
    cr_assert_eq(l.calls, 1, "lost ran %d times", l.calls);
    cr_assert_eq(s.ends[0].closes, 1);
    fake_stop(&f);
    server_free(&s);
}

Test(client, fake_broker_conversation_binary) { fake_conversation("binary"); }
Test(client, fake_broker_conversation_json) { fake_conversation("json"); }

/* After login, the broker sends more than max_message_size: the library
 * must stop without waiting for (or allocating) the whole message. */
static void fake_oversize(const char *fmt)
{
    struct fake f;
    struct ready r = { 0 };
    struct lost l = { 0 };

    fake_start(&f, true);
    struct mp_client *c = client_new_full(base, fake_address(&f), fmt, "alice",
                                          SECRET, strlen(SECRET), 1000, 0);
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    WAIT(f.cfd >= 0 && fake_frame_len(&f, fmt) > 0, "no Auth");
    fake_send_msg(&f, fmt, RC_AUTH_OK, "alice", "", RC_NULL);
    WAIT(r.calls > 0, "no login outcome");
    cr_assert_eq(r.status, MP_OK, "%s", mp_strerror(r.status));
    if (strcmp(fmt, "binary") == 0) {
        /* a frame announcing ~2 GiB; only its start is ever sent */
        unsigned char hdr[64] = { 0x7f, 0xff, 0xff, 0xf0, 0, 1, 3, 5 };
        memcpy(hdr + 8, "bobbob:1", 8);
        fake_send(&f, hdr, sizeof hdr);
    } else {
        /* 16 KiB of an unfinished object: past the receive limit of a
         * 1000-byte max_message_size (4/3 of it, six bytes for each byte
         * of two names, and 1 KiB). */
        char buf[16384];
        int n = snprintf(buf, sizeof buf,
                         "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"bob:1\",\"Data\":\"");
        memset(buf + n, 'A', sizeof buf - (size_t)n);
        fake_send(&f, buf, sizeof buf);
    }
    WAIT(l.calls > 0, "no lost callback after an oversize message");
    cr_assert(l.status == MP_ERR_PROTOCOL || l.status == MP_ERR_BROKER_GONE, "%s",
              mp_strerror(l.status));
    drain();
    mp_client_free(c);
    cr_assert_eq(l.calls, 1);
    fake_stop(&f);
}

Test(client, fake_broker_oversize_binary) { fake_oversize("binary"); }
Test(client, fake_broker_oversize_json) { fake_oversize("json"); }

/* Unix-socket listeners, both formats, talking to each other. */
Test(client, unix_sockets)
{
    struct harness *h = harness_start(LISTEN_UNIX MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { 0 };

    cr_assert(harness_listener(h, 0).is_unix && harness_listener(h, 1).is_unix);
    cr_assert_eq(strncmp(address_of(h, 0), "unix:", 5), 0);
    struct mp_client *alice = join(h, "json", "alice");
    struct mp_client *bob = client_new(h, "binary", "bob");
    handle(bob, "echo", &s);
    login(bob);
    open_pair(alice, "bob", "echo", &a, &s);
    send_str(&a, "over unix");
    WAIT(a.nmsg == 1, "no echo");
    assert_msg_str(&a, 0, "over unix");

    struct mp_client *c = client_new_full(NULL, address_of(h, 1), "binary", "carol",
                                          SECRET, strlen(SECRET), 0, 0);
    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    mp_client_free(c);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

/* ======================================================================
 * The handler map
 */

static void handler_accepts(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { 0 }, a2 = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = client_new(h, fmt, "bob");
    handle(bob, "echo", &s); /* before connecting */
    login(bob);

    struct end *b = open_pair(alice, "bob", "echo", &a, &s);
    cr_assert_str_eq(a.peer, "bob");
    cr_assert_str_eq(a.proto, "echo");
    cr_assert(strncmp(a.id, "alice:", 6) == 0 && a.id[6] != '\0',
              "id \"%s\" is not alice:<suffix>", a.id);
    cr_assert_eq(a.client, alice, "mp_conn_client of the opener");
    cr_assert_str_eq(b->peer, "alice");
    cr_assert_str_eq(b->proto, "echo");
    cr_assert_eq(b->client, bob, "mp_conn_client of the acceptor");

    send_str(&a, "hello");
    WAIT(a.nmsg == 1, "no echo");
    assert_msg_str(&a, 0, "hello");
    assert_msg_str(b, 0, "hello");

    /* another connection: a new id, its own stream */
    struct end *b2 = open_pair(alice, "bob", "echo", &a2, &s);
    cr_assert_str_neq(a2.id, a.id, "two connections with one id");
    send_str(&a2, "two");
    send_str(&a, "one");
    WAIT(a.nmsg == 2 && a2.nmsg == 1, "no echoes");
    assert_msg_str(&a, 1, "one");
    assert_msg_str(&a2, 0, "two");
    assert_msg_str(b2, 0, "two");
    cr_assert_eq(a.wrong + a2.wrong + b->wrong + b2->wrong, 0,
                 "callbacks got a wrong conn pointer");
    cr_assert_eq(s.ends[0].echo_errors + s.ends[1].echo_errors, 0);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&a2);
    server_free(&s);
    harness_stop(h);
}

Test(client, handler_accepts_binary) { handler_accepts("binary"); }
Test(client, handler_accepts_json) { handler_accepts("json"); }

static void handler_unknown_protocol(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    struct mp_client *carol = join(h, fmt, "carol"); /* no handlers at all */
    handle(bob, "echo", &s);                          /* after login */

    int st = open_fails(alice, "bob", "nope");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    st = open_fails(alice, "bob", "ECHO");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "protocols are case-sensitive: %s",
                 mp_strerror(st));
    st = open_fails(alice, "carol", "echo");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    cr_assert_eq(s.n, 0, "the handler saw a refused protocol");

    /* the refusals left nothing behind */
    open_pair(alice, "bob", "echo", &a, &s);
    send_str(&a, "x");
    WAIT(a.nmsg == 1, "no echo");
    mp_client_free(alice);
    mp_client_free(bob);
    mp_client_free(carol);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, handler_unknown_protocol_binary) { handler_unknown_protocol("binary"); }
Test(client, handler_unknown_protocol_json) { handler_unknown_protocol("json"); }

static void handler_unhandle(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s1 = { .echo = true }, s2 = { .echo = true };
    struct server p1 = { 0 }, p2 = { 0 };
    struct end a = { 0 }, a2 = { 0 }, a3 = { 0 }, e1 = { 0 }, e2 = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", &s1);
    cr_assert_eq(mp_client_handle(bob, "echo", srv_conn, &s2), MP_ERR_EXISTS,
                 "a second handler for one protocol");
    open_pair(alice, "bob", "echo", &a, &s1);
    cr_assert_eq(s2.n, 0, "the refused handler got the connection");

    cr_assert_eq(mp_client_unhandle(bob, "echo"), MP_OK);
    cr_assert_eq(mp_client_unhandle(bob, "echo"), MP_ERR_INVALID, "unhandled twice");
    cr_assert_eq(mp_client_unhandle(bob, "never"), MP_ERR_INVALID);
    int st = open_fails(alice, "bob", "echo");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "after unhandle: %s", mp_strerror(st));

    /* open connections stay */
    send_str(&a, "still here");
    WAIT(a.nmsg == 1, "no echo after unhandle");
    assert_msg_str(&a, 0, "still here");

    /* and the protocol can be handled again, by someone else */
    handle(bob, "echo", &s2);
    open_pair(alice, "bob", "echo", &a2, &s2);
    cr_assert_eq(s1.n, 1);

    /* several protocols, each to its handler */
    handle(bob, "p1", &p1);
    handle(bob, "p2", &p2);
    open_pair(alice, "bob", "p2", &e2, &p2);
    open_pair(alice, "bob", "p1", &e1, &p1);
    cr_assert(p1.n == 1 && p2.n == 1, "p1 got %zu, p2 got %zu", p1.n, p2.n);
    cr_assert_str_eq(p1.ends[0].proto, "p1");
    cr_assert_str_eq(p2.ends[0].proto, "p2");
    cr_assert_eq(mp_client_unhandle(bob, "p1"), MP_OK);
    st = open_fails(alice, "bob", "p1");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    open_pair(alice, "bob", "p2", &a3, &p2);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&a2);
    end_free(&a3);
    end_free(&e1);
    end_free(&e2);
    server_free(&s1);
    server_free(&s2);
    server_free(&p1);
    server_free(&p2);
    harness_stop(h);
}

Test(client, handler_unhandle_exists_binary) { handler_unhandle("binary"); }
Test(client, handler_unhandle_exists_json) { handler_unhandle("json"); }

/* ======================================================================
 * Opening
 */

static void open_no_such_client(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct end bad = { 0 };
    char longname[300];

    struct mp_client *alice = join(h, fmt, "alice");
    memset(longname, 'x', 256);
    longname[256] = '\0';
    const char *names[] = { "", longname, "a:b", NULL };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = mp_client_open(alice, names[i], "echo", end_open, &bad);
        cr_assert_eq(rc, names[i] ? MP_ERR_NAME : MP_ERR_INVALID,
                     "peer name \"%.20s\": %s",
                     names[i] ? names[i] : "NULL", mp_strerror(rc));
    }
    int rc = mp_client_open(alice, "bob", NULL, end_open, &bad);
    cr_assert_eq(rc, MP_ERR_INVALID, "NULL protocol: %s", mp_strerror(rc));

    int st = open_fails(alice, "nobody", "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "%s", mp_strerror(st));
    /* a name of the maximal length is valid, and absent */
    longname[255] = '\0';
    st = open_fails(alice, longname, "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "%s", mp_strerror(st));
    cr_assert_eq(bad.opens, 0, "a refused mp_client_open called back");
    mp_client_free(alice);
    harness_stop(h);
}

Test(client, open_no_such_client_binary) { open_no_such_client("binary"); }
Test(client, open_no_such_client_json) { open_no_such_client("json"); }

/* ======================================================================
 * Messages
 */

#define N_ORDERED 10000

static size_t seq_msg(char *buf, char side, unsigned i)
{
    int n = snprintf(buf, 32, "%c%05u:", side, i);
    size_t pad = i % 41;

    memset(buf + n, 'a' + (int)(i % 26), pad);
    return (size_t)n + pad;
}

static void check_seq(const struct end *e, char side)
{
    char buf[128];

    cr_assert_eq(e->nmsg, N_ORDERED, "%zu messages, want %d", e->nmsg, N_ORDERED);
    for (unsigned i = 0; i < N_ORDERED; i++) {
        size_t n = seq_msg(buf, side, i);
        cr_assert(msg_eq(e, i, buf, n), "message %u out of order: \"%.*s\"", i,
                  (int)(e->msgs[i].len > 60 ? 60 : e->msgs[i].len),
                  (const char *)e->msgs[i].p);
    }
}

static void ordered(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };
    char buf[128];

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "seq", &s);
    struct end *b = open_pair(alice, "bob", "seq", &a, &s);
    for (unsigned i = 0; i < N_ORDERED; i++) {
        send_ok(&a, buf, seq_msg(buf, 'a', i));
        send_ok(b, buf, seq_msg(buf, 'b', i));
    }
    WAIT_ON(base, mpt_ms(30000), a.nmsg >= N_ORDERED && b->nmsg >= N_ORDERED,
            "alice got %zu, bob got %zu of %d", a.nmsg, b->nmsg, N_ORDERED);
    check_seq(b, 'a');
    check_seq(&a, 'b');
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, ordered_10000_each_way_binary) { ordered("binary"); }
Test(client, ordered_10000_each_way_json) { ordered("json"); }

#define MIB (1024 * 1024)

static void big_message(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "limits = { max_message_size = 4194304; };\n");
    struct server s = { 0 };
    struct end a = { 0 }, c = { 0 };
    unsigned char *big = pattern(MIB, 3);

    struct mp_client *alice = join_max(h, fmt, "alice", 4194304);
    struct mp_client *bob = join_max(h, fmt, "bob", 4194304);
    handle(bob, "bulk", &s);
    struct end *b = open_pair(alice, "bob", "bulk", &a, &s);
    send_ok(&a, big, MIB);
    send_str(&a, "after");
    WAIT_ON(base, mpt_ms(20000), b->nmsg >= 2, "the 1 MiB message did not arrive");
    cr_assert(msg_eq(b, 0, big, MIB), "the 1 MiB message was altered (%zu bytes)",
              b->msgs[0].len);
    assert_msg_str(b, 1, "after");
    send_ok(b, big, MIB);
    WAIT_ON(base, mpt_ms(20000), a.nmsg >= 1, "the 1 MiB reply did not arrive");
    cr_assert(msg_eq(&a, 0, big, MIB), "the 1 MiB reply was altered");

    /* Default max_message_size (1 MiB): 1 MiB of data is too big to encode,
     * and nothing is sent. */
    struct mp_client *carol = join(h, fmt, "carol");
    struct end *bc = open_pair(carol, "bob", "bulk", &c, &s);
    int rc = mp_conn_send(c.conn, big, MIB);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "1 MiB with the default limit: %s",
                 mp_strerror(rc));
    int frees = 0;
    unsigned char *copy = pattern(MIB, 3);
    rc = mp_conn_send_take(c.conn, copy, MIB, count_free, &frees);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "send_take: %s", mp_strerror(rc));
    WAIT(frees > 0, "free_fn not called for a refused message");
    send_str(&c, "small");
    WAIT(bc->nmsg >= 1, "no message after the refused ones");
    assert_msg_str(bc, 0, "small");
    cr_assert_eq(frees, 1, "free_fn ran %d times", frees);
    drain();
    cr_assert_eq(bc->nmsg, 1, "a refused message was sent");
    mp_client_free(alice);
    mp_client_free(bob);
    mp_client_free(carol);
    free(big);
    end_free(&a);
    end_free(&c);
    server_free(&s);
    harness_stop(h);
}

Test(client, big_message_binary, .timeout = 120) { big_message("binary"); }
Test(client, big_message_json, .timeout = 120) { big_message("json"); }

/* The limit is on the encoding: binary exactly (8 header bytes + names +
 * data), json within one byte (the newline). */
static void too_big_boundary(const char *fmt)
{
    enum { M = 1000 };
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };
    size_t ok_len, bad_len;

    struct mp_client *alice = join_max(h, fmt, "alice", M);
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "b", &s);
    struct end *b = open_pair(alice, "bob", "b", &a, &s);
    if (strcmp(fmt, "binary") == 0) {
        ok_len = M - 8 - strlen("bob") - strlen(a.id);
        bad_len = ok_len + 1;
    } else {
        char prefix[512];
        int pl = snprintf(prefix, sizeof prefix,
                          "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"%s\",\"Data\":\"",
                          a.id);
        size_t n = 0;
#define ENC(n) ((size_t)pl + 4 * (((n) + 2) / 3) + 2)
        while (ENC(n + 1) <= M - 1)
            n++;
        ok_len = n;
        while (ENC(n) <= M)
            n++;
        bad_len = n;
#undef ENC
    }
    unsigned char *p = pattern(bad_len, 5);
    int rc = mp_conn_send(a.conn, p, bad_len);
    cr_assert_eq(rc, MP_ERR_TOO_BIG, "%zu bytes over a %d limit: %s", bad_len, M,
                 mp_strerror(rc));
    rc = mp_conn_send(a.conn, p, ok_len);
    cr_assert_eq(rc, MP_OK, "%zu bytes within a %d limit: %s", ok_len, M,
                 mp_strerror(rc));
    barrier(&a, b);
    cr_assert_eq(b->nmsg, 2, "%zu messages arrived, want 2", b->nmsg);
    cr_assert(msg_eq(b, 0, p, ok_len), "the largest message was altered");
    free(p);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, too_big_boundary_binary) { too_big_boundary("binary"); }
Test(client, too_big_boundary_json) { too_big_boundary("json"); }

static void empty_and_odd_bytes(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };
    unsigned char all[256];

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "e", &s);
    struct end *b = open_pair(alice, "bob", "e", &a, &s);
    send_ok(&a, "", 0);
    send_ok(&a, "x", 1);
    send_ok(&a, "", 0);
    send_ok(&a, "", 0);
    send_ok(&a, all, sizeof all);
    send_ok(&a, "\0", 1);
    send_ok(&a, "<\"&>\\\n\r\t\xe2\x80\xa8", 11);
    send_ok(b, "", 0);
    WAIT(b->nmsg == 7 && a.nmsg == 1, "bob got %zu of 7, alice %zu of 1", b->nmsg,
         a.nmsg);
    cr_assert_eq(b->msgs[0].len, 0, "an empty message arrived with %zu bytes",
                 b->msgs[0].len);
    assert_msg_str(b, 1, "x");
    cr_assert(b->msgs[2].len == 0 && b->msgs[3].len == 0, "empty messages");
    cr_assert(msg_eq(b, 4, all, sizeof all), "the 256 byte values were altered");
    cr_assert(msg_eq(b, 5, "\0", 1), "a NUL byte was altered");
    cr_assert(msg_eq(b, 6, "<\"&>\\\n\r\t\xe2\x80\xa8", 11), "escapable bytes altered");
    cr_assert_eq(a.msgs[0].len, 0, "an empty reply arrived with %zu bytes",
                 a.msgs[0].len);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, empty_and_odd_bytes_binary) { empty_and_odd_bytes("binary"); }
Test(client, empty_and_odd_bytes_json) { empty_and_odd_bytes("json"); }

/* mp_conn_send_take: the library's free_fn, once per buffer, with the
 * pointer and length given. */
struct slot {
    int calls;
    void *ptr;
    size_t len;
    int mismatch;
};

static void slot_free(void *data, size_t len, void *arg)
{
    struct slot *s = arg;

    s->calls++;
    if (data != s->ptr || len != s->len)
        s->mismatch++;
    free(data);
}

static bool slots_done(const struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].calls == 0)
            return false;
    return true;
}

static void assert_slots_once(const struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s[i].calls, 1, "free_fn of buffer %zu ran %d times", i,
                     s[i].calls);
        cr_assert_eq(s[i].mismatch, 0, "free_fn of buffer %zu: wrong data or len", i);
    }
}

static void send_take(const char *fmt)
{
    enum { N = 32 };
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };
    struct slot slots[N] = { { 0 } };
    static const char text[] = "static, never freed";

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "t", &s);
    struct end *b = open_pair(alice, "bob", "t", &a, &s);
    for (size_t i = 0; i < N; i++) {
        slots[i].len = 1000 + i * 333;
        slots[i].ptr = pattern(slots[i].len, (unsigned)i);
        int rc = mp_conn_send_take(a.conn, slots[i].ptr, slots[i].len, slot_free,
                                   &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }
    int rc = mp_conn_send_take(a.conn, (void *)text, sizeof text - 1, NULL, NULL);
    cr_assert_eq(rc, MP_OK, "send_take with a NULL free_fn: %s", mp_strerror(rc));
    int frees = 0;
    rc = mp_conn_send_take(a.conn, malloc(1), 0, count_free, &frees);
    cr_assert_eq(rc, MP_OK, "send_take of an empty message: %s", mp_strerror(rc));
    WAIT(b->nmsg >= N + 2, "%zu of %d messages arrived", b->nmsg, N + 2);
    for (size_t i = 0; i < N; i++) {
        unsigned char *want = pattern(slots[i].len, (unsigned)i);
        bool same = msg_eq(b, i, want, slots[i].len);
        free(want);
        cr_assert(same, "taken message %zu was altered", i);
    }
    assert_msg_str(b, N, text);
    cr_assert_eq(b->msgs[N + 1].len, 0);
    WAIT(slots_done(slots, N) && frees > 0, "free_fn not called for every buffer");
    barrier(&a, b);
    assert_slots_once(slots, N);
    cr_assert_eq(frees, 1);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, send_take_binary) { send_take("binary"); }
Test(client, send_take_json) { send_take("json"); }

/* Buffers still queued when the client is freed: every free_fn has run,
 * once, when mp_client_free returns. */
static void send_take_then_free(const char *fmt)
{
    enum { N = 64, SIZE = 64 * 1024 };
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };
    static struct slot slots[N]; /* static: a late free_fn must not hit a dead frame */

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "t", &s);
    struct end *b = open_pair(alice, "bob", "t", &a, &s);
    for (size_t i = 0; i < N; i++) {
        slots[i].len = SIZE;
        slots[i].ptr = pattern(SIZE, (unsigned)i);
        int rc = mp_conn_send_take(a.conn, slots[i].ptr, SIZE, slot_free, &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }
    mp_client_free(alice);
    assert_slots_once(slots, N);
    cr_assert_eq(a.closes, 1, "on_close on mp_client_free");
    cr_assert_eq(a.close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(a.close_reason));
    WAIT(b->closes == 1, "bob was not told alice left");
    cr_assert_eq(b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(b->close_reason));
    /* whatever arrived arrived whole and in order */
    for (size_t i = 0; i < b->nmsg; i++) {
        unsigned char *want = pattern(SIZE, (unsigned)i);
        bool same = msg_eq(b, i, want, SIZE);
        free(want);
        cr_assert(same, "message %zu was altered", i);
    }
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, send_take_then_free_binary) { send_take_then_free("binary"); }
Test(client, send_take_then_free_json) { send_take_then_free("json"); }

/* A json client and a binary client talk to each other. */
static void cross_format(const char *fa, const char *fb)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sa = { 0 }, sb = { .echo = true };
    struct end a = { 0 }, bb = { 0 };
    unsigned char all[256];
    unsigned char *big = pattern(100 * 1024, 9);

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct mp_client *alice = client_new(h, fa, "alice");
    struct mp_client *bob = client_new(h, fb, "bob");
    handle(alice, "back", &sa);
    handle(bob, "echo", &sb);
    login(alice);
    login(bob);

    struct end *b = open_pair(alice, "bob", "echo", &a, &sb);
    cr_assert_str_eq(b->peer, "alice");
    send_ok(&a, all, sizeof all);
    send_ok(&a, "", 0);
    send_str(&a, "<\"&>\\\n\xc3\xa9");
    send_ok(&a, big, 100 * 1024);
    WAIT(a.nmsg == 4, "%zu of 4 echoes", a.nmsg);
    cr_assert(msg_eq(b, 0, all, sizeof all) && msg_eq(&a, 0, all, sizeof all),
              "the 256 byte values were altered");
    cr_assert(b->msgs[1].len == 0 && a.msgs[1].len == 0, "empty message altered");
    assert_msg_str(&a, 2, "<\"&>\\\n\xc3\xa9");
    cr_assert(msg_eq(&a, 3, big, 100 * 1024), "100 KiB message altered");

    /* the other way round */
    struct end *ab = open_pair(bob, "alice", "back", &bb, &sa);
    cr_assert_str_eq(ab->peer, "bob");
    cr_assert(strncmp(ab->id, "bob:", 4) == 0, "id %s", ab->id);
    send_str(&bb, "from bob");
    send_str(ab, "from alice");
    WAIT(ab->nmsg == 1 && bb.nmsg == 1, "no messages on bob's connection");
    assert_msg_str(ab, 0, "from bob");
    assert_msg_str(&bb, 0, "from alice");

    /* closing crosses formats too */
    mp_conn_close(bb.conn);
    bb.conn = NULL;
    WAIT(ab->closes == 1, "alice was not told bob closed");
    cr_assert_eq(ab->close_reason, MP_CLOSE_BY_PEER);
    mp_client_free(alice);
    WAIT(b->closes == 1, "bob was not told alice left");
    cr_assert_eq(b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(b->close_reason));
    mp_client_free(bob);
    free(big);
    end_free(&a);
    end_free(&bb);
    server_free(&sa);
    server_free(&sb);
    harness_stop(h);
}

Test(client, cross_json_to_binary) { cross_format("json", "binary"); }
Test(client, cross_binary_to_json) { cross_format("binary", "json"); }

/* ======================================================================
 * Closing
 */

static void close_by_opener(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { 0 }, a2 = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", &s);
    struct end *b = open_pair(alice, "bob", "echo", &a, &s);
    s.echo = false;
    b->echo = false;
    send_str(&a, "1");
    send_str(&a, "2");
    send_str(&a, "3");
    mp_conn_close(a.conn);
    a.conn = NULL;
    WAIT(b->closes == 1, "bob was not told");
    cr_assert_eq(b->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(b->close_reason));
    cr_assert_str_eq(b->close_peer, "alice", "mp_conn_peer inside on_close");
    cr_assert_eq(b->nmsg, 3, "messages before the close: %zu of 3", b->nmsg);
    assert_msg_str(b, 2, "3");

    /* the two can go on with another connection */
    struct end *b2 = open_pair(alice, "bob", "echo", &a2, &s);
    barrier(&a2, b2);
    cr_assert_eq(a.closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(b->closes, 1);
    mp_client_free(alice);
    mp_client_free(bob);
    cr_assert_eq(a.closes, 0, "on_close after mp_conn_close");
    end_free(&a);
    end_free(&a2);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_by_opener_binary) { close_by_opener("binary"); }
Test(client, close_by_opener_json) { close_by_opener("json"); }

static void close_by_acceptor(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", &s);
    struct end *b = open_pair(alice, "bob", "x", &a, &s);
    send_str(b, "bye");
    mp_conn_close(b->conn);
    b->conn = NULL;
    b->closed_self = true;
    WAIT(a.closes == 1, "alice was not told");
    cr_assert_eq(a.close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(a.close_reason));
    cr_assert_str_eq(a.close_peer, "bob");
    cr_assert_eq(a.nmsg, 1, "the message before the close");
    assert_msg_str(&a, 0, "bye");
    mp_client_free(alice);
    mp_client_free(bob);
    cr_assert_eq(b->closes, 0, "on_close after mp_conn_close");
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_by_acceptor_binary) { close_by_acceptor("binary"); }
Test(client, close_by_acceptor_json) { close_by_acceptor("json"); }

/* Both ends close at once: their ConnClosed cross; nobody gets on_close
 * and nothing breaks. */
static void close_both(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { 0 }, a2 = { 0 };
    struct lost la = { 0 }, lb = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    mp_client_on_lost(alice, on_lost, &la);
    mp_client_on_lost(bob, on_lost, &lb);
    handle(bob, "x", &s);
    struct end *b = open_pair(alice, "bob", "x", &a, &s);
    mp_conn_close(a.conn);
    a.conn = NULL;
    mp_conn_close(b->conn);
    b->conn = NULL;
    struct end *b2 = open_pair(alice, "bob", "x", &a2, &s);
    barrier(&a2, b2);
    barrier(b2, &a2);
    cr_assert_eq(a.closes + b->closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(la.calls + lb.calls, 0, "crossing closes lost the broker");
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&a2);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_both_at_once_binary) { close_both("binary"); }
Test(client, close_both_at_once_json) { close_both("json"); }

/* ======================================================================
 * Peers leaving
 */

/* bob is freed: bob's connections get CLIENT_FREED there and then;
 * alice's connections with bob get PEER_LEFT; alice's with carol stay. */
static void peer_freed(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sa = { 0 }, sb = { .echo = true }, sc = { .echo = true };
    struct end a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, bb = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, strcmp(fmt, "json") == 0 ? "binary" : "json", "bob");
    struct mp_client *carol = join(h, fmt, "carol");
    handle(alice, "back", &sa);
    handle(bob, "echo", &sb);
    handle(carol, "echo", &sc);
    open_pair(alice, "bob", "echo", &a1, &sb);
    open_pair(alice, "bob", "echo", &a2, &sb);
    struct end *ab = open_pair(bob, "alice", "back", &bb, &sa);
    open_pair(alice, "carol", "echo", &a3, &sc);

    mp_client_free(bob);
    cr_assert(sb.ends[0].closes == 1 && sb.ends[1].closes == 1 && bb.closes == 1,
              "bob's connections were not closed by mp_client_free");
    cr_assert(sb.ends[0].close_reason == MP_CLOSE_CLIENT_FREED &&
              sb.ends[1].close_reason == MP_CLOSE_CLIENT_FREED &&
              bb.close_reason == MP_CLOSE_CLIENT_FREED,
              "bob's on_close reasons: %d %d %d", sb.ends[0].close_reason,
              sb.ends[1].close_reason, bb.close_reason);

    WAIT(a1.closes && a2.closes && ab->closes, "alice was not told bob left");
    struct end *ends[] = { &a1, &a2, ab };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(ends[i]->closes, 1, "end %zu: on_close ran %d times", i,
                     ends[i]->closes);
        cr_assert_eq(ends[i]->close_reason, MP_CLOSE_PEER_LEFT, "end %zu: %s", i,
                     mp_close_reason_string(ends[i]->close_reason));
        cr_assert_str_eq(ends[i]->close_peer, "bob");
        cr_assert_eq(ends[i]->wrong, 0);
    }
    /* carol's connection is untouched */
    send_str(&a3, "still");
    WAIT(a3.nmsg == 1, "no echo from carol");
    cr_assert_eq(a3.closes, 0);
    int st = open_fails(alice, "bob", "echo");
    cr_assert_eq(st, MP_ERR_NO_SUCH_CLIENT, "bob is gone: %s", mp_strerror(st));
    mp_client_free(alice);
    mp_client_free(carol);
    end_free(&a1);
    end_free(&a2);
    end_free(&a3);
    end_free(&bb);
    server_free(&sa);
    server_free(&sb);
    server_free(&sc);
    harness_stop(h);
}

Test(client, peer_freed_binary) { peer_freed("binary"); }
Test(client, peer_freed_json) { peer_freed("json"); }

/* A raw peer opens connections, is opened to, then closes its socket. */
static void raw_peer_leaves(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end ao = { 0 };
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    handle(alice, "echo", &s);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");

    raw_send(rob, RC_SYN, "alice", "rob:1", rc_str("echo"));
    raw_expect(rob, RC_ACK, "alice", "rob:1", &m);
    rc_msg_free(&m);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.ends[0].peer, "rob");
    cr_assert_str_eq(s.ends[0].proto, "echo");
    cr_assert_str_eq(s.ends[0].id, "rob:1");
    raw_send(rob, RC_DATA, "alice", "rob:1", rc_str("hi"));
    raw_expect(rob, RC_DATA, "alice", "rob:1", &m);
    cr_assert(m.has_data && m.data_len == 2 && memcmp(m.data, "hi", 2) == 0,
              "echo altered");
    rc_msg_free(&m);
    raw_send(rob, RC_SYN, "alice", "rob:2", rc_str("echo"));
    raw_expect(rob, RC_ACK, "alice", "rob:2", &m);
    rc_msg_free(&m);

    /* alice opens to rob */
    open_start(alice, "rob", "raw", &ao);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    cr_assert(m.has_data && m.data_len == 3 && memcmp(m.data, "raw", 3) == 0,
              "Syn data is not the protocol");
    char id[RC_STR_MAX + 1];
    snprintf(id, sizeof id, "%s", m.connection_id);
    rc_msg_free(&m);
    cr_assert(strncmp(id, "alice:", 6) == 0, "id %s", id);
    raw_send(rob, RC_ACK, "alice", id, RC_NULL);
    open_wait(&ao, "raw");
    cr_assert_eq(ao.open_status, MP_OK, "%s", mp_strerror(ao.open_status));
    cr_assert_str_eq(ao.id, id);
    raw_send(rob, RC_DATA, "alice", id, rc_str("data"));
    WAIT(ao.nmsg == 1, "no data from rob");
    assert_msg_str(&ao, 0, "data");

    rc_close(rob);
    WAIT(s.ends[0].closes && s.ends[1].closes && ao.closes, "alice was not told");
    struct end *ends[] = { &s.ends[0], &s.ends[1], &ao };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(ends[i]->closes, 1);
        cr_assert_eq(ends[i]->close_reason, MP_CLOSE_PEER_LEFT, "end %zu: %s", i,
                     mp_close_reason_string(ends[i]->close_reason));
        cr_assert_str_eq(ends[i]->close_peer, "rob");
    }
    mp_client_free(alice);
    end_free(&ao);
    server_free(&s);
    harness_stop(h);
}

Test(client, raw_peer_leaves_binary) { raw_peer_leaves("binary"); }
Test(client, raw_peer_leaves_json) { raw_peer_leaves("json"); }

/* Refusals by hand: UnknownProto and NoSuchConnection answers to a Syn; a
 * ConnClosed from the peer. */
static void raw_peer_answers(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end e1 = { 0 }, e2 = { 0 };
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    handle(alice, "x", &s);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");

    open_start(alice, "rob", "p", &e1);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    raw_send(rob, RC_UNKNOWN_PROTO, "alice", m.connection_id, RC_NULL);
    rc_msg_free(&m);
    open_wait(&e1, "p");
    cr_assert_eq(e1.open_status, MP_ERR_UNKNOWN_PROTOCOL, "%s",
                 mp_strerror(e1.open_status));

    open_start(alice, "rob", "q", &e2);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    raw_send(rob, RC_NO_SUCH_CONN, "alice", m.connection_id, rc_str("q"));
    rc_msg_free(&m);
    open_wait(&e2, "q");
    cr_assert_eq(e2.open_status, MP_ERR_NO_SUCH_CLIENT, "%s",
                 mp_strerror(e2.open_status));

    raw_send(rob, RC_SYN, "alice", "rob:7", rc_str("x"));
    raw_expect(rob, RC_ACK, "alice", "rob:7", &m);
    rc_msg_free(&m);
    raw_send(rob, RC_DATA, "alice", "rob:7", rc_str("a"));
    raw_send(rob, RC_CLOSED, "alice", "rob:7", RC_NULL);
    WAIT(s.n == 1 && s.ends[0].closes == 1, "alice was not told rob closed");
    cr_assert_eq(s.ends[0].close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(s.ends[0].close_reason));
    cr_assert_eq(s.ends[0].nmsg, 1);
    rc_close(rob);
    mp_client_free(alice);
    server_free(&s);
    harness_stop(h);
}

Test(client, raw_peer_answers_binary) { raw_peer_answers("binary"); }
Test(client, raw_peer_answers_json) { raw_peer_answers("json"); }

/* A pending open whose peer leaves before answering. */
static void pending_open_peer_leaves(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct end e = { 0 };
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", &e);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    cr_assert_eq(e.opens, 0);
    rc_close(rob);
    open_wait(&e, "slow");
    cr_assert(e.open_status == MP_ERR_PEER_LEFT ||
              e.open_status == MP_ERR_NO_SUCH_CLIENT,
              "the peer left: %s", mp_strerror(e.open_status));
    cr_assert_null(e.conn);
    /* a round trip: no second outcome */
    cr_assert_eq(open_fails(alice, "rob", "slow"), MP_ERR_NO_SUCH_CLIENT);
    cr_assert_eq(e.opens, 1);
    mp_client_free(alice);
    cr_assert_eq(e.opens, 1, "a second outcome on mp_client_free");
    harness_stop(h);
}

Test(client, pending_open_peer_leaves_binary) { pending_open_peer_leaves("binary"); }
Test(client, pending_open_peer_leaves_json) { pending_open_peer_leaves("json"); }

/* mp_client_free: open connections get CLIENT_FREED, pending opens
 * MP_ERR_CLOSED, before it returns; peers are told. */
static void client_free_ends_all(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sa = { 0 }, sb = { 0 };
    struct end a1 = { 0 }, bb = { 0 }, ap = { 0 };
    struct lost l = { 0 };
    struct rc_msg m;

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    mp_client_on_lost(alice, on_lost, &l);
    handle(alice, "back", &sa);
    handle(bob, "x", &sb);
    struct end *b1 = open_pair(alice, "bob", "x", &a1, &sb);
    struct end *ab = open_pair(bob, "alice", "back", &bb, &sa);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", &ap);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);

    mp_client_free(alice);
    cr_assert_eq(a1.closes, 1, "opened connection: on_close ran %d times", a1.closes);
    cr_assert_eq(a1.close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(a1.close_reason));
    cr_assert_eq(ab->closes, 1, "accepted connection: on_close ran %d times",
                 ab->closes);
    cr_assert_eq(ab->close_reason, MP_CLOSE_CLIENT_FREED, "%s",
                 mp_close_reason_string(ab->close_reason));
    cr_assert_eq(ap.opens, 1, "pending open: callback ran %d times", ap.opens);
    cr_assert_eq(ap.open_status, MP_ERR_CLOSED, "%s", mp_strerror(ap.open_status));
    cr_assert_null(ap.conn);
    cr_assert_eq(l.calls, 0, "lost callback on mp_client_free");

    WAIT(b1->closes && bb.closes, "bob was not told");
    cr_assert_eq(b1->close_reason, MP_CLOSE_PEER_LEFT);
    cr_assert_eq(bb.close_reason, MP_CLOSE_PEER_LEFT);
    raw_expect(rob, RC_CLIENT_CLOSED, "alice", "", &m);
    rc_msg_free(&m);
    rc_close(rob);
    mp_client_free(bob);
    end_free(&a1);
    end_free(&bb);
    server_free(&sa);
    server_free(&sb);
    harness_stop(h);
}

Test(client, client_free_ends_all_binary) { client_free_ends_all("binary"); }
Test(client, client_free_ends_all_json) { client_free_ends_all("json"); }

/* A newer login with the same name replaces the older session. */
static void replaced(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sb = { .echo = true }, s2 = { 0 };
    struct end a = { 0 }, a2 = { 0 }, bb = { 0 };
    struct lost l1 = { 0 }, l2 = { 0 };

    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", &sb);
    struct mp_client *alice1 = join(h, fmt, "alice");
    mp_client_on_lost(alice1, on_lost, &l1);
    struct end *b = open_pair(alice1, "bob", "echo", &a, &sb);
    l1.ends[l1.nends++] = &a;

    struct mp_client *alice2 = client_new(h, strcmp(fmt, "json") == 0 ? "binary" : "json",
                                          "alice");
    mp_client_on_lost(alice2, on_lost, &l2);
    handle(alice2, "back", &s2);
    login(alice2);
    WAIT(l1.calls > 0 && b->closes > 0, "the replaced session was not told");
    cr_assert_eq(l1.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(l1.status));
    cr_assert(l1.all_ended, "lost ran before every connection's on_close");
    cr_assert_eq(a.closes, 1);
    cr_assert_eq(a.close_reason, MP_CLOSE_BROKER_LOST, "%s",
                 mp_close_reason_string(a.close_reason));
    cr_assert_eq(b->close_reason, MP_CLOSE_PEER_LEFT, "%s",
                 mp_close_reason_string(b->close_reason));
    int rc = mp_client_open(alice1, "bob", "echo", end_open, &a2);
    cr_assert_neq(rc, MP_OK, "mp_client_open on a lost client");

    /* the new alice works */
    open_pair(alice2, "bob", "echo", &a2, &sb);
    open_pair(bob, "alice", "back", &bb, &s2);
    send_str(&a2, "new");
    WAIT(a2.nmsg == 1, "no echo to the new alice");
    drain();
    mp_client_free(alice1);
    cr_assert_eq(l1.calls, 1, "lost ran %d times", l1.calls);
    cr_assert_eq(a.closes, 1);
    cr_assert_eq(l2.calls, 0);
    mp_client_free(alice2);
    mp_client_free(bob);
    end_free(&a);
    end_free(&a2);
    end_free(&bb);
    server_free(&sb);
    server_free(&s2);
    harness_stop(h);
}

Test(client, replaced_by_newer_login_binary) { replaced("binary"); }
Test(client, replaced_by_newer_login_json) { replaced("json"); }

/* ======================================================================
 * The broker killed under the clients
 */

static void broker_killed(const char *fmt)
{
    enum { N = 64, SIZE = 64 * 1024 };
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sa = { 0 }, sb = { 0 };
    struct end a1 = { 0 }, a2 = { 0 }, ap = { 0 }, bb = { 0 };
    struct lost la = { 0 }, lb = { 0 };
    static struct slot slots[N]; /* static: a late free_fn must not hit a dead frame */
    struct rc_msg m;
    struct capture cap;

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    mp_client_on_lost(alice, on_lost, &la);
    mp_client_on_lost(bob, on_lost, &lb);
    handle(alice, "back", &sa);
    handle(bob, "x", &sb);
    struct end *b1 = open_pair(alice, "bob", "x", &a1, &sb);
    struct end *b2 = open_pair(alice, "bob", "x", &a2, &sb);
    struct end *ab = open_pair(bob, "alice", "back", &bb, &sa);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", &ap);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);

    a1.send_in_close = true;   /* sends inside on_close: MP_ERR_CLOSED */
    a2.close_other = ab;       /* closes another connection inside on_close */
    la.ends[la.nends++] = &a1;
    la.ends[la.nends++] = &a2;
    la.ends[la.nends++] = &ap;
    la.ends[la.nends++] = ab;
    lb.ends[lb.nends++] = b1;
    lb.ends[lb.nends++] = b2;
    lb.ends[lb.nends++] = &bb;

    /* output queued and unsent when the broker dies */
    for (size_t i = 0; i < N; i++) {
        slots[i].len = SIZE;
        slots[i].ptr = pattern(SIZE, (unsigned)i);
        int rc = mp_conn_send_take(a1.conn, slots[i].ptr, SIZE, slot_free, &slots[i]);
        cr_assert_eq(rc, MP_OK, "send_take %zu: %s", i, mp_strerror(rc));
    }

    capture_begin(&cap);
    cr_assert(harness_signal(h, SIGKILL), "cannot kill the broker");
    WAIT(la.calls > 0 && lb.calls > 0, "lost callbacks: alice %d, bob %d", la.calls,
         lb.calls);
    drain();

    cr_assert_eq(la.calls, 1, "alice's lost ran %d times", la.calls);
    cr_assert_eq(lb.calls, 1, "bob's lost ran %d times", lb.calls);
    cr_assert_eq(la.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(la.status));
    cr_assert_eq(lb.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(lb.status));
    cr_assert(la.all_ended, "alice: lost before every on_close/open outcome");
    cr_assert(lb.all_ended, "bob: lost before every on_close");

    struct end *closed[] = { &a1, &a2, b1, b2, &bb };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(closed[i]->closes, 1, "end %zu: on_close ran %d times", i,
                     closed[i]->closes);
        cr_assert_eq(closed[i]->close_reason, MP_CLOSE_BROKER_LOST, "end %zu: %s", i,
                     mp_close_reason_string(closed[i]->close_reason));
        cr_assert_eq(closed[i]->wrong, 0);
    }
    /* ab was either told, or closed by a2's on_close - never both */
    cr_assert_eq(ab->closes + (ab->closed_by_other ? 1 : 0), 1,
                 "accepted connection: %d on_close, closed by another: %d",
                 ab->closes, ab->closed_by_other);
    if (ab->closes == 1)
        cr_assert_eq(ab->close_reason, MP_CLOSE_BROKER_LOST);
    cr_assert_eq(ap.opens, 1, "pending open: %d outcomes", ap.opens);
    cr_assert_eq(ap.open_status, MP_ERR_BROKER_GONE, "%s", mp_strerror(ap.open_status));
    cr_assert_null(ap.conn);
    cr_assert_eq(a1.close_send_rc, MP_ERR_CLOSED, "send inside on_close: %s",
                 mp_strerror(a1.close_send_rc));
    cr_assert_eq(a1.close_take_rc, MP_ERR_CLOSED, "send_take inside on_close: %s",
                 mp_strerror(a1.close_take_rc));
    cr_assert_eq(a1.close_take_frees, 1, "free_fn of a refused send_take ran %d times",
                 a1.close_take_frees);

    struct end late = { 0 };
    int rc = mp_client_open(alice, "bob", "x", end_open, &late);
    cr_assert_neq(rc, MP_OK, "mp_client_open after the broker was lost");

    mp_client_free(alice);
    mp_client_free(bob);
    capture_check(&cap);
    assert_slots_once(slots, N);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(closed[i]->closes, 1, "on_close again on mp_client_free");
    cr_assert_eq(ap.opens, 1, "open callback again on mp_client_free");
    cr_assert_eq(late.opens, 0);
    cr_assert(la.calls == 1 && lb.calls == 1, "lost again on mp_client_free");
    rc_close(rob);
    reap_killed(h);
    end_free(&a1);
    end_free(&a2);
    end_free(&bb);
    server_free(&sa);
    server_free(&sb);
}

Test(client, broker_killed_binary) { broker_killed("binary"); }
Test(client, broker_killed_json) { broker_killed("json"); }

/* Killed while the client logs in: a login error, or a login and then a
 * lost callback - once either way. */
static void broker_killed_during_login(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *c = client_new(h, fmt, "alice");
    struct ready r = { 0 };
    struct lost l = { 0 };

    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    cr_assert(harness_signal(h, SIGKILL));
    WAIT(r.calls > 0 && (r.status != MP_OK || l.calls > 0), "no outcome");
    drain();
    cr_assert_eq(r.calls, 1);
    if (r.status == MP_OK)
        cr_assert(l.calls == 1 && l.status == MP_ERR_BROKER_GONE, "lost: %d, %s",
                  l.calls, mp_strerror(l.status));
    else
        cr_assert(l.calls == 0 && (r.status == MP_ERR_BROKER_GONE ||
                                   r.status == MP_ERR_CONNECT),
                  "login: %s, lost: %d", mp_strerror(r.status), l.calls);
    mp_client_free(c);
    reap_killed(h);
}

Test(client, broker_killed_during_login_binary) { broker_killed_during_login("binary"); }
Test(client, broker_killed_during_login_json) { broker_killed_during_login("json"); }

/* Own-loop mode: mp_client_run returns by itself once the broker is lost. */
static void own_loop_broker_lost(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *c = client_new_full(NULL, address_of(h, lst(fmt)), fmt, "alice",
                                          SECRET, strlen(SECRET), 0, 0);
    struct lost l = { 0 };
    struct waiter wd = { 0 };

    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    mp_client_on_lost(c, on_lost, &l);
    wd.stop = c;
    waiter_start(&wd, mp_client_base(c), mpt_ms(MPT_MSG_MS));
    l.disarm = wd.ev; /* nothing of the test's own remains once lost */
    cr_assert(harness_signal(h, SIGKILL));
    rc = mp_client_run(c);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "the broker was not noticed as lost");
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.status, MP_ERR_BROKER_GONE, "%s", mp_strerror(l.status));
    waiter_stop(&wd);
    mp_client_free(c);
    reap_killed(h);
}

Test(client, own_loop_broker_lost_binary, .timeout = 30) { own_loop_broker_lost("binary"); }
Test(client, own_loop_broker_lost_json, .timeout = 30) { own_loop_broker_lost("json"); }

/* ======================================================================
 * Event loops
 */

/* Own-loop mode with a raw peer in a thread: mp_client_run until the
 * peer closes, then mp_client_stop from on_close. */
struct rob_script {
    struct harness_listener l;
    enum rc_format fmt;
    bool ok;
    char err[256];
};

static bool rob_step(struct rob_script *s, struct rc_client *c, int meta,
                     const char *data)
{
    struct rc_msg m;
    int r = rc_recv(c, &m, mpt_ms(MPT_MSG_MS));

    if (r != RC_OK) {
        snprintf(s->err, sizeof s->err, "waiting for meta %d: %s %s", meta,
                 rc_status_name(r), rc_error(c));
        return false;
    }
    bool ok = m.meta == meta &&
              (data == NULL || (m.has_data && m.data_len == strlen(data) &&
                                memcmp(m.data, data, m.data_len) == 0));
    if (!ok)
        snprintf(s->err, sizeof s->err, "got meta %d, want %d", m.meta, meta);
    rc_msg_free(&m);
    return ok;
}

static void *rob_main(void *arg)
{
    struct rob_script *s = arg;
    struct rc_client *c = rc_connect_tcp(s->l.host, s->l.port, s->fmt);
    struct rc_msg m;

    if (c == NULL) {
        snprintf(s->err, sizeof s->err, "connect: %s", strerror(errno));
        return NULL;
    }
    if (rc_auth(c, "rob", SECRET, &m) != RC_OK || m.meta != RC_AUTH_OK) {
        snprintf(s->err, sizeof s->err, "login failed");
        rc_msg_free(&m);
        rc_close(c);
        return NULL;
    }
    rc_msg_free(&m);
    if (rc_send(c, RC_SYN, "alice", "rob:1", rc_str("echo")) &&
        rob_step(s, c, RC_ACK, NULL) &&
        rc_send(c, RC_DATA, "alice", "rob:1", rc_str("ping")) &&
        rob_step(s, c, RC_DATA, "ping") &&
        rc_send(c, RC_CLOSED, "alice", "rob:1", RC_NULL))
        s->ok = true;
    else if (s->err[0] == '\0')
        snprintf(s->err, sizeof s->err, "send: %s", rc_error(c));
    rc_close(c);
    return NULL;
}

static void own_loop_run(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *alice = client_new_full(NULL, address_of(h, lst(fmt)), fmt,
                                              "alice", SECRET, strlen(SECRET), 0, 0);
    struct server s = { .echo = true, .stop_on_close = alice };
    struct waiter wd = { .stop = alice };
    struct rob_script rob = { .l = harness_listener(h, lst(fmt)), .fmt = rcf(fmt) };
    pthread_t t;

    handle(alice, "echo", &s);
    int rc = mp_client_connect_wait(alice, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    waiter_start(&wd, mp_client_base(alice), mpt_ms(MPT_MSG_MS));
    cr_assert_eq(pthread_create(&t, NULL, rob_main, &rob), 0);
    rc = mp_client_run(alice);
    pthread_join(t, NULL);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "mp_client_run was stopped by the watchdog");
    cr_assert(rob.ok, "the raw peer: %s", rob.err);
    cr_assert_eq(s.n, 1);
    assert_msg_str(&s.ends[0], 0, "ping");
    cr_assert_eq(s.ends[0].closes, 1);
    cr_assert_eq(s.ends[0].close_reason, MP_CLOSE_BY_PEER);
    waiter_stop(&wd);
    mp_client_free(alice);
    server_free(&s);
    harness_stop(h);
}

Test(client, own_loop_run_stop_binary) { own_loop_run("binary"); }
Test(client, own_loop_run_stop_json) { own_loop_run("json"); }

/* Attached mode: the test's own timer keeps firing while messages flow
 * back and forth; event_base_dispatch is the caller's. */
struct ticker {
    struct event *ev;
    int ticks;
    size_t rounds_at[32];
    struct end *a;
    bool done;
};

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;

    (void)fd;
    (void)what;
    if (t->ticks < 32)
        t->rounds_at[t->ticks] = t->a->nmsg;
    t->ticks++;
    if (t->ticks >= 20 && t->a->nmsg >= 20 && !t->done) {
        t->done = true;
        event_base_loopexit(base, NULL);
    }
}

static void watchdog_exit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
    event_base_loopexit(base, NULL);
}

static void attached_timer(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { .echo = true };
    struct ticker t = { .a = &a };
    bool expired = false;
    struct timeval period = tv_ms(5), limit = tv_ms(mpt_ms(10000));

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "pingpong", &s);
    open_pair(alice, "bob", "pingpong", &a, &s);
    t.ev = event_new(base, -1, EV_PERSIST, tick, &t);
    struct event *wd = evtimer_new(base, watchdog_exit, &expired);
    cr_assert(t.ev != NULL && wd != NULL);
    event_add(t.ev, &period);
    evtimer_add(wd, &limit);
    send_str(&a, "ball"); /* both ends echo: it flies until stopped */
    event_base_dispatch(base);
    event_free(t.ev);
    event_free(wd);
    cr_assert(!expired, "the timer did not fire 20 times (%d) while messages "
              "flowed (%zu)", t.ticks, a.nmsg);
    cr_assert(t.done);
    cr_assert(t.rounds_at[19] > t.rounds_at[10],
              "no messages between the timer's ticks 10 and 19");
    a.echo = false;
    s.ends[0].echo = false;
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, attached_timer_keeps_firing_binary) { attached_timer("binary"); }
Test(client, attached_timer_keeps_firing_json) { attached_timer("json"); }

/* connect_wait on the caller's base runs the caller's events too. */
Test(client, connect_wait_attached_runs_other_events)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *c = client_new(h, "binary", "alice");
    struct mp_client *d = client_new(h, "json", "bob");
    bool fired = false;
    struct timeval zero = { 0, 0 };

    cr_assert_eq(event_base_once(base, -1, EV_TIMEOUT, set_flag, &fired, &zero), 0);
    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    cr_assert(fired, "connect_wait did not run the caller's events");

    /* a second client on the same base; the first keeps working */
    rc = mp_client_connect_wait(d, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    struct server s = { .echo = true };
    struct end a = { 0 };
    handle(d, "echo", &s);
    open_pair(c, "bob", "echo", &a, &s);
    send_str(&a, "shared base");
    WAIT(a.nmsg == 1, "no echo");
    mp_client_free(c);
    mp_client_free(d);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

/* ======================================================================
 * Callbacks calling the API
 */

/* bob closes from inside on_message; alice's later messages on that
 * connection are dropped, never delivered to a freed conn. */
static void close_in_on_message(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .close_after = 1 }, sync = { 0 };
    struct end a = { 0 }, as = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", &s);
    handle(bob, "sync", &sync);
    struct end *b = open_pair(alice, "bob", "x", &a, &s);
    struct end *bs = open_pair(alice, "bob", "sync", &as, &sync);
    for (int i = 1; i <= 5; i++) {
        char m[8];
        snprintf(m, sizeof m, "%d", i);
        send_str(&a, m);
    }
    barrier(&as, bs);
    WAIT(a.closes == 1, "alice was not told bob closed");
    cr_assert_eq(a.close_reason, MP_CLOSE_BY_PEER);
    cr_assert(b->closed_self);
    cr_assert_eq(b->nmsg, 1, "%zu messages after closing in on_message", b->nmsg);
    cr_assert_eq(b->closes, 0, "on_close after mp_conn_close");
    cr_assert_eq(b->wrong, 0);
    barrier(bs, &as);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&as);
    server_free(&s);
    server_free(&sync);
    harness_stop(h);
}

Test(client, close_in_on_message_binary) { close_in_on_message("binary"); }
Test(client, close_in_on_message_json) { close_in_on_message("json"); }

/* bob's on_connection opens a connection back to the opener. */
static void hook_open_back(struct server *s, struct end *e, struct mp_conn *conn)
{
    s->aux_rc = mp_client_open(mp_conn_client(conn), e->peer, "back", end_open, s->aux);
}

static void open_in_on_connection(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct end back = { 0 }, a = { 0 };
    struct server sb = { .echo = true, .hook = hook_open_back, .aux = &back };
    struct server sa = { .echo = true };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(alice, "back", &sa);
    handle(bob, "echo", &sb);
    open_pair(alice, "bob", "echo", &a, &sb);
    cr_assert_eq(sb.aux_rc, MP_OK, "mp_client_open in on_connection: %s",
                 mp_strerror(sb.aux_rc));
    WAIT(back.opens == 1 && sa.n == 1, "the connection back was not made");
    cr_assert_eq(back.open_status, MP_OK, "%s", mp_strerror(back.open_status));
    cr_assert_str_eq(back.peer, "alice");
    cr_assert_str_eq(sa.ends[0].peer, "bob");
    cr_assert_str_eq(sa.ends[0].proto, "back");
    send_str(&back, "back");
    send_str(&a, "forth");
    WAIT(back.nmsg == 1 && a.nmsg == 1, "no echoes");
    assert_msg_str(&back, 0, "back");
    assert_msg_str(&a, 0, "forth");
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&back);
    server_free(&sa);
    server_free(&sb);
    harness_stop(h);
}

Test(client, open_in_on_connection_binary) { open_in_on_connection("binary"); }
Test(client, open_in_on_connection_json) { open_in_on_connection("json"); }

/* on_connection unhandles its own protocol and handles another. */
static void hook_rehandle(struct server *s, struct end *e, struct mp_conn *conn)
{
    struct mp_client *c = mp_conn_client(conn);

    if (strcmp(e->proto, "once") != 0)
        return;
    s->aux_rc = mp_client_unhandle(c, "once");
    s->aux_rc2 = mp_client_handle(c, "later", srv_conn, s);
}

static void handlers_from_callback(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .hook = hook_rehandle };
    struct end a = { 0 }, a2 = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "once", &s);
    open_pair(alice, "bob", "once", &a, &s);
    cr_assert_eq(s.aux_rc, MP_OK, "unhandle in on_connection: %s", mp_strerror(s.aux_rc));
    cr_assert_eq(s.aux_rc2, MP_OK, "handle in on_connection: %s", mp_strerror(s.aux_rc2));
    int st = open_fails(alice, "bob", "once");
    cr_assert_eq(st, MP_ERR_UNKNOWN_PROTOCOL, "%s", mp_strerror(st));
    open_pair(alice, "bob", "later", &a2, &s);
    cr_assert_eq(s.n, 2);
    barrier(&a, &s.ends[0]);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&a2);
    server_free(&s);
    harness_stop(h);
}

Test(client, handlers_from_callback_binary) { handlers_from_callback("binary"); }
Test(client, handlers_from_callback_json) { handlers_from_callback("json"); }

/* on_connection closes at once: the opener sees it open, then closed. */
static void close_in_on_connection(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .close_at_once = true };
    struct end a = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", &s);
    open_start(alice, "bob", "x", &a);
    open_wait(&a, "x");
    cr_assert_eq(a.open_status, MP_OK, "%s", mp_strerror(a.open_status));
    WAIT(a.closes == 1, "alice was not told bob closed");
    cr_assert_eq(a.close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(a.close_reason));
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.ends[0].closes, 0);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_in_on_connection_binary) { close_in_on_connection("binary"); }
Test(client, close_in_on_connection_json) { close_in_on_connection("json"); }

/* The open callback sends, then closes. */
static void send_and_close(struct end *e)
{
    if (mp_conn_send(e->conn, "first", 5) != MP_OK)
        e->echo_errors++;
    mp_conn_close(e->conn);
    e->conn = NULL;
    e->closed_self = true;
}

static void close_in_open_cb(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a = { .on_open = send_and_close };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", &s);
    open_start(alice, "bob", "x", &a);
    open_wait(&a, "x");
    cr_assert_eq(a.open_status, MP_OK, "%s", mp_strerror(a.open_status));
    cr_assert_eq(a.echo_errors, 0, "send in the open callback failed");
    WAIT(s.n == 1 && s.ends[0].closes == 1, "bob was not told");
    cr_assert_eq(s.ends[0].close_reason, MP_CLOSE_BY_PEER);
    cr_assert_eq(s.ends[0].nmsg, 1);
    assert_msg_str(&s.ends[0], 0, "first");
    cr_assert_eq(a.closes, 0);
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_in_open_callback_binary) { close_in_open_cb("binary"); }
Test(client, close_in_open_callback_json) { close_in_open_cb("json"); }

/* When bob leaves, the first of alice's two connections with him to get
 * on_close closes the other: that one must get no on_close. */
static void close_other_in_on_close(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { 0 };
    struct end a1 = { 0 }, a2 = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "x", &s);
    open_pair(alice, "bob", "x", &a1, &s);
    open_pair(alice, "bob", "x", &a2, &s);
    a1.close_other = &a2;
    a2.close_other = &a1;
    mp_client_free(bob);
    WAIT(end_over(&a1) && end_over(&a2), "alice was not told bob left");
    cr_assert_eq(open_fails(alice, "bob", "x"), MP_ERR_NO_SUCH_CLIENT);
    cr_assert_eq(a1.closes + a2.closes, 1, "on_close ran %d + %d times", a1.closes,
                 a2.closes);
    cr_assert(a1.closed_by_other != a2.closed_by_other);
    cr_assert_eq((a1.closes ? a1.close_reason : a2.close_reason), MP_CLOSE_PEER_LEFT);
    cr_assert_eq(a1.wrong + a2.wrong, 0);
    mp_client_free(alice);
    end_free(&a1);
    end_free(&a2);
    server_free(&s);
    harness_stop(h);
}

Test(client, close_other_in_on_close_binary) { close_other_in_on_close("binary"); }
Test(client, close_other_in_on_close_json) { close_other_in_on_close("json"); }

/* on_close (by the peer) opens a new connection to the same peer. */
static void reopen_in_on_close(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server s = { .echo = true };
    struct end a = { 0 }, again = { 0 };

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, fmt, "bob");
    handle(bob, "echo", &s);
    struct end *b = open_pair(alice, "bob", "echo", &a, &s);
    a.open_on_close = alice;
    a.reopen = &again;
    mp_conn_close(b->conn);
    b->conn = NULL;
    WAIT(a.closes == 1, "alice was not told");
    cr_assert_eq(a.reopen_rc, MP_OK, "mp_client_open in on_close: %s",
                 mp_strerror(a.reopen_rc));
    open_wait(&again, "again");
    cr_assert_eq(again.open_status, MP_OK, "%s", mp_strerror(again.open_status));
    send_str(&again, "again");
    WAIT(again.nmsg == 1, "no echo on the new connection");
    mp_client_free(alice);
    mp_client_free(bob);
    end_free(&a);
    end_free(&again);
    server_free(&s);
    harness_stop(h);
}

Test(client, reopen_in_on_close_binary) { reopen_in_on_close("binary"); }
Test(client, reopen_in_on_close_json) { reopen_in_on_close("json"); }

/* ======================================================================
 * Leaving gracefully: mp_client_disconnect
 */

struct disc {
    int calls;
    struct mp_client *c;
};

static void on_disc(struct mp_client *c, void *arg)
{
    struct disc *d = arg;

    d->calls++;
    d->c = c;
}

/* Everything queued arrives, then the peers see their connections closed
 * (BY_PEER); locally no on_close, pending opens get MP_ERR_CLOSED, the
 * callback runs once, no lost callback. */
static void disconnect_graceful(const char *fmt)
{
    enum { N = 100, SIZE = 16 * 1024 };
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct server sa = { 0 }, sb = { 0 };
    struct end a1 = { 0 }, bb = { 0 }, ap = { 0 }, late = { 0 };
    struct lost la = { 0 };
    struct disc d = { 0 };
    struct rc_msg m;
    unsigned char *p = pattern(SIZE, 1);

    struct mp_client *alice = join(h, fmt, "alice");
    struct mp_client *bob = join(h, strcmp(fmt, "json") == 0 ? "binary" : "json", "bob");
    mp_client_on_lost(alice, on_lost, &la);
    handle(alice, "back", &sa);
    handle(bob, "x", &sb);
    struct end *b1 = open_pair(alice, "bob", "x", &a1, &sb);
    struct end *ab = open_pair(bob, "alice", "back", &bb, &sa);
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", &ap);
    raw_expect(rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);

    for (unsigned i = 0; i < N; i++) {
        p[0] = (unsigned char)i;
        send_ok(&a1, p, SIZE);
    }
    send_str(&a1, "last");
    send_str(ab, "from the acceptor");
    int rc = mp_client_disconnect(alice, on_disc, &d);
    cr_assert_eq(rc, MP_OK, "mp_client_disconnect: %s", mp_strerror(rc));
    cr_assert_eq(mp_client_disconnect(alice, on_disc, &d), MP_ERR_STATE,
                 "a second mp_client_disconnect");
    cr_assert_neq(mp_client_open(alice, "bob", "x", end_open, &late), MP_OK,
                  "mp_client_open while disconnecting");
    WAIT(ap.opens > 0, "the pending open got no outcome");
    cr_assert_eq(ap.open_status, MP_ERR_CLOSED, "%s", mp_strerror(ap.open_status));
    cr_assert_null(ap.conn);
    WAIT_ON(base, mpt_ms(10000), d.calls > 0 && b1->closes > 0 && bb.closes > 0,
            "disconnect: callback %d, bob told %d/%d", d.calls, b1->closes, bb.closes);
    cr_assert_eq(d.c, alice);
    cr_assert_eq(b1->nmsg, N + 1, "bob got %zu of %d messages", b1->nmsg, N + 1);
    for (unsigned i = 0; i < N; i++) {
        p[0] = (unsigned char)i;
        cr_assert(msg_eq(b1, i, p, SIZE), "message %u altered or out of order", i);
    }
    assert_msg_str(b1, N, "last");
    cr_assert_eq(b1->close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(b1->close_reason));
    cr_assert_eq(bb.nmsg, 1);
    assert_msg_str(&bb, 0, "from the acceptor");
    cr_assert_eq(bb.close_reason, MP_CLOSE_BY_PEER, "%s",
                 mp_close_reason_string(bb.close_reason));
    /* rob is told about the pending connection, one way or the other */
    int r = raw_recv(rob, &m, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(r, RC_OK, "rob: %s %s", rc_status_name(r), rc_error(rob));
    cr_assert(m.meta == RC_CLOSED || m.meta == RC_CLIENT_CLOSED,
              "rob got meta %d for the pending connection", m.meta);
    rc_msg_free(&m);
    drain();
    mp_client_free(alice);
    cr_assert_eq(a1.closes + ab->closes, 0, "on_close on a disconnected client");
    cr_assert_eq(d.calls, 1, "the disconnect callback ran %d times", d.calls);
    cr_assert_eq(la.calls, 0, "lost callback on a disconnect");
    cr_assert_eq(ap.opens, 1);
    cr_assert_eq(late.opens, 0);
    rc_close(rob);
    mp_client_free(bob);
    free(p);
    end_free(&a1);
    end_free(&bb);
    server_free(&sa);
    server_free(&sb);
    harness_stop(h);
}

Test(client, disconnect_graceful_binary) { disconnect_graceful("binary"); }
Test(client, disconnect_graceful_json) { disconnect_graceful("json"); }

/* Own loop: on_connection sends, then disconnects from inside the
 * callback; mp_client_run returns once done; the raw peer finds Ack, every
 * message, ConnClosed in its socket. */
static void hook_send_and_disconnect(struct server *s, struct end *e,
                                     struct mp_conn *conn)
{
    char m[16];

    (void)e;
    for (int i = 0; i < 50; i++) {
        snprintf(m, sizeof m, "m%02d", i);
        if (mp_conn_send(conn, m, strlen(m)) != MP_OK)
            s->aux_rc2++;
    }
    s->aux_rc = mp_client_disconnect(mp_conn_client(conn), on_disc, s->aux_ptr);
}

static void disconnect_own_loop(const char *fmt)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct mp_client *alice = client_new_full(NULL, address_of(h, lst(fmt)), fmt,
                                              "alice", SECRET, strlen(SECRET), 0, 0);
    struct disc d = { 0 };
    struct server s = { .hook = hook_send_and_disconnect, .aux_ptr = &d,
                        .aux_rc = 1 };
    struct waiter wd = { .stop = alice };
    struct rc_msg m;

    handle(alice, "feed", &s);
    int rc = mp_client_connect_wait(alice, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    struct rc_client *rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    raw_send(rob, RC_SYN, "alice", "rob:1", rc_str("feed"));
    waiter_start(&wd, mp_client_base(alice), mpt_ms(MPT_MSG_MS));
    rc = mp_client_run(alice);
    cr_assert_eq(rc, MP_OK, "mp_client_run: %s", mp_strerror(rc));
    cr_assert(!wd.expired, "mp_client_run did not return after the disconnect");
    waiter_stop(&wd);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.aux_rc, MP_OK, "mp_client_disconnect in on_connection: %s",
                 mp_strerror(s.aux_rc));
    cr_assert_eq(s.aux_rc2, 0, "sends failed");
    cr_assert_eq(d.calls, 1, "the disconnect callback ran %d times", d.calls);

    rc_expect(rob, RC_ACK, "alice", "rob:1", RC_NULL);
    for (int i = 0; i < 50; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%02d", i);
        rc_expect(rob, RC_DATA, "alice", "rob:1", rc_str(want));
    }
    rc_expect_meta(rob, RC_CLOSED, &m);
    cr_assert_str_eq(m.connection_id, "rob:1");
    rc_msg_free(&m);
    cr_assert_eq(s.ends[0].closes, 0, "on_close on a disconnected client");
    mp_client_free(alice);
    cr_assert_eq(s.ends[0].closes, 0, "on_close on a disconnected client");
    rc_close(rob);
    server_free(&s);
    harness_stop(h);
}

Test(client, disconnect_own_loop_binary) { disconnect_own_loop("binary"); }
Test(client, disconnect_own_loop_json) { disconnect_own_loop("json"); }

/* ----------------------------------------------------------------------
 * A bounded send queue: max_queued, mp_client_queued, on_drained
 */

static void count_drained(struct mp_client *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
}

Test(client, send_queue_is_bounded_and_reports_when_drained)
{
    static unsigned char chunk[16384];
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct fake f;
    struct ready r = { 0 };
    struct server s = { 0 };
    struct wire w;
    int err = 0, drained = 0, rc = MP_OK;
    size_t sent = 0;

    fake_start(&f, true);
    o.address = fake_address(&f);
    o.name = "alice";
    o.secret = SECRET;
    o.secret_len = strlen(SECRET);
    o.max_queued = 256 * 1024;
    o.max_queued_per_conn = o.max_queued; /* the whole queue is tested */
    struct mp_client *c = mp_client_new(base, &o, &err);
    cr_assert_not_null(c, "%s", mp_strerror(err));
    mp_client_on_drained(c, count_drained, &drained);
    handle(c, "sink", &s);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    fake_take(&f, "binary", &w);
    fake_send_msg(&f, "binary", RC_AUTH_OK, "alice", "", RC_NULL);
    WAIT(r.calls > 0 && r.status == MP_OK, "no login");
    fake_send_msg(&f, "binary", RC_SYN, "bob", "bob:1", rc_str("sink"));
    WAIT(s.n == 1, "on_connection did not run");

    /* The fake broker stops reading: the kernel's buffers fill, then the
     * library's queue, which stops at max_queued. Bounded: 64 MiB. */
    event_del(f.read_ev);
    for (int i = 0; i < 4096 && rc == MP_OK; i++) {
        rc = mp_conn_send(s.ends[0].conn, chunk, sizeof chunk);
        if (rc == MP_OK)
            sent++;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    cr_assert_eq(rc, MP_ERR_WOULD_BLOCK, "send: %s after %zu messages",
                 mp_strerror(rc), sent);
    cr_assert_geq(mp_client_queued(c), o.max_queued);
    /* One message: its frame and the overhead counted for a large one. */
    cr_assert_lt(mp_client_queued(c), o.max_queued + sizeof chunk + 512,
                 "queued %zu: more than max_queued and one message",
                 mp_client_queued(c));
    cr_assert_eq(drained, 0, "drained before the broker read anything");
    /* Answers the protocol owes are never refused (a Syn is accepted). */
    fake_send_msg(&f, "binary", RC_SYN, "bob", "bob:2", rc_str("sink"));
    WAIT(s.n == 2, "a Syn was not accepted while the queue was full");

    /* The broker reads again: on_drained, once, and sends work again. */
    event_add(f.read_ev, NULL);
    WAIT(drained > 0, "on_drained did not run");
    cr_assert_eq(drained, 1);
    cr_assert_leq(mp_client_queued(c), o.max_queued / 2);
    cr_assert_eq(mp_conn_send(s.ends[0].conn, chunk, sizeof chunk), MP_OK);
    drain();
    mp_client_free(c);
    fake_stop(&f);
    server_free(&s);
}

Test(client, options_of_an_older_program_are_accepted)
{
    /* A program built against libmpclient 0.1 passes the smaller struct:
     * the members it does not know take their defaults. */
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = 0;

    o.size = offsetof(struct mp_client_options, connect_timeout_ms) +
             sizeof o.connect_timeout_ms;
    o.address = "tcp:127.0.0.1:1";
    o.name = "old";
    o.max_queued = 1; /* beyond its size: must be ignored */
    struct mp_client *c = mp_client_new(base, &o, &err);
    cr_assert_not_null(c, "%s", mp_strerror(err));
    mp_client_free(c);
    o.size = 8;
    cr_assert_null(mp_client_new(base, &o, &err));
    cr_assert_eq(err, MP_ERR_INVALID);
}

/* The broker checks the sender's encoding: a binary sender's message near
 * the limit arrives at a JSON reader a third larger, and is accepted. */
Test(client, json_reader_accepts_what_the_broker_forwards)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct mp_client *bin = join(h, "binary", "bin");
    struct mp_client *js = join(h, "json", "js");
    struct server s = { 0 };
    size_t n = 900 * 1024;
    unsigned char *big = pattern(n, 7);

    struct end e = { 0 };

    handle(js, "big", &s);
    struct end *o = open_pair(bin, "js", "big", &e, &s);
    send_ok(&e, big, n);
    WAIT(o->nmsg == 1, "the JSON reader did not get it");
    cr_assert(msg_eq(o, 0, big, n));
    free(big);
    end_free(&e);
    drain();
    mp_client_free(bin);
    mp_client_free(js);
    server_free(&s);
    harness_stop(h);
}

Test(client, open_to_itself_is_refused_at_once)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct mp_client *c = join(h, "binary", "me");

    int rc = mp_client_open(c, "me", "x", NULL, NULL);
    cr_assert_eq(rc, MP_ERR_SELF, "%s", mp_strerror(rc));
    cr_assert_not_null(strstr(mp_strerror(rc), "yourself"), "%s",
                       mp_strerror(rc));
    mp_client_free(c);
    harness_stop(h);
}
