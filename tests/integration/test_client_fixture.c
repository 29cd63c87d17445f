/*
 * test_client_fixture.c - the fixture and the helpers of the libmpclient
 * tests (test_client_fixture.h says how a test uses them).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_client_fixture.h"

/* The test's own event loop: every attached client runs on it. */
struct event_base *base;

/* ----------------------------------------------------------------------
 * The fixture
 */

#define FX_CLIENTS 32
#define FX_ENDS 64
#define FX_SERVERS 16

static struct {
    struct harness *h;                     /* fx_broker's, until stopped */
    struct mp_client *clients[FX_CLIENTS]; /* made and not yet freed */
    size_t nclients;
    struct end ends[FX_ENDS];
    size_t nends;
    struct server servers[FX_SERVERS];
    size_t nservers;
} fx;

static struct fx_format formats[] = { { "binary" }, { "json" } };

struct criterion_test_params fx_formats(void)
{
    return cr_make_param_array(struct fx_format, formats,
                               sizeof formats / sizeof formats[0]);
}

int fx_level;

static void fx_init(void)
{
    fx_level = 0;
    signal(SIGPIPE, SIG_DFL);
    base = event_base_new();
    cr_assert_not_null(base, "event_base_new failed");
}

struct harness *fx_broker(const char *conf)
{
    cr_assert_null(fx.h, "fx_broker: one broker a test");
    fx.h = harness_start(conf);
    return fx.h;
}

struct harness *fx_adopt(struct harness *h, const char *conf)
{
    cr_assert_null(fx.h, "fx_adopt: one broker a test");
    if (conf != NULL)
        harness_boot(h, conf);
    fx.h = h;
    return h;
}

static void fx_keep(struct mp_client *c)
{
    cr_assert_lt(fx.nclients, FX_CLIENTS, "more clients than the fixture holds");
    fx.clients[fx.nclients++] = c;
}

void client_free(struct mp_client *c)
{
    for (size_t i = 0; i < fx.nclients; i++)
        if (fx.clients[i] == c) {
            memmove(&fx.clients[i], &fx.clients[i + 1],
                    (fx.nclients - i - 1) * sizeof fx.clients[0]);
            fx.nclients--;
            break;
        }
    mp_client_free(c);
}

struct end *fx_end(const struct end *init)
{
    cr_assert_lt(fx.nends, FX_ENDS, "more ends than the fixture holds");
    fx.ends[fx.nends] = *init;
    return &fx.ends[fx.nends++];
}

struct server *fx_server(const struct server *init)
{
    cr_assert_lt(fx.nservers, FX_SERVERS, "more servers than the fixture holds");
    fx.servers[fx.nservers] = *init;
    return &fx.servers[fx.nservers++];
}

/* Clients first: freeing one runs the on_close of its ends. */
static void fx_release(void)
{
    for (size_t i = 0; i < fx.nclients; i++)
        mp_client_free(fx.clients[i]);
    fx.nclients = 0;
    for (size_t i = 0; i < fx.nends; i++)
        end_free(&fx.ends[i]);
    for (size_t i = 0; i < fx.nservers; i++)
        server_free(&fx.servers[i]);
}

void fx_stop(void)
{
    struct harness *h = fx.h;

    fx_release();
    fx.h = NULL;
    if (h != NULL)
        harness_stop(h);
}

/* After a failed test too: what it left, without assertions (they would
 * not count here); harness_reap_all kills a broker still running. */
static void fx_fini(void)
{
    fx_release();
    fx.h = NULL;
    harness_reap_all();
    if (base != NULL)
        event_base_free(base);
    base = NULL;
}

struct timeval tv_ms(long long ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

    return tv;
}

static void waiter_fire(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;

    (void)fd;
    (void)what;
    w->expired = true;
    if (w->stop != NULL)
        mp_client_stop(w->stop);
}

void waiter_start(struct waiter *w, struct event_base *b, int ms)
{
    struct timeval tv = tv_ms(ms);

    w->expired = false;
    w->ev = evtimer_new(b, waiter_fire, w);
    cr_assert_not_null(w->ev, "evtimer_new failed");
    evtimer_add(w->ev, &tv);
}

void waiter_stop(struct waiter *w)
{
    if (w->ev != NULL)
        event_free(w->ev);
    w->ev = NULL;
}

void drain(void)
{
    for (int i = 0; i < 8; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

void set_flag(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

size_t lst(const char *fmt)
{
    return strcmp(fmt, "json") == 0 ? 0 : 1;
}

enum rc_format rcf(const char *fmt)
{
    return strcmp(fmt, "json") == 0 ? RC_JSON : RC_BINARY;
}

const char *address_of(struct harness *h, size_t i)
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

struct mp_client *client_new_full(struct event_base *b, const char *address,
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
    o.protocol_level = (unsigned)fx_level;
    struct mp_client *c = mp_client_new(b, &o, &err);
    cr_assert_not_null(c, "mp_client_new(%s, %s, %s): %s", name, address, fmt,
                       mp_strerror(err));
    fx_keep(c);
    return c;
}

struct mp_client *client_new_opts(const struct mp_client_options *o)
{
    int err = 1;
    struct mp_client *c = mp_client_new(base, o, &err);

    cr_assert_not_null(c, "mp_client_new(%s, %s): %s", o->name, o->address,
                       mp_strerror(err));
    fx_keep(c);
    return c;
}

struct mp_client *client_new_max(struct harness *h, const char *fmt,
                                 const char *name, size_t max)
{
    return client_new_full(base, address_of(h, lst(fmt)), fmt, name, SECRET,
                           strlen(SECRET), max, 0);
}

struct mp_client *client_new(struct harness *h, const char *fmt,
                             const char *name)
{
    return client_new_max(h, fmt, name, 0);
}

void on_ready(struct mp_client *c, int status, const char *reason,
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
void login(struct mp_client *c)
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

struct mp_client *join_max(struct harness *h, const char *fmt,
                           const char *name, size_t max)
{
    struct mp_client *c = client_new_max(h, fmt, name, max);

    login(c);
    return c;
}

struct mp_client *join(struct harness *h, const char *fmt,
                       const char *name)
{
    return join_max(h, fmt, name, 0);
}

bool end_over(const struct end *e)
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

void end_free(struct end *e)
{
    for (size_t i = 0; i < e->nmsg; i++)
        free(e->msgs[i].p);
    free(e->msgs);
    e->msgs = NULL;
    e->nmsg = e->cap = 0;
}

void count_free(void *data, size_t len, void *arg)
{
    (void)len;
    (*(int *)arg)++;
    free(data);
}

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

void end_open(struct mp_conn *conn, int status, void *arg)
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

void srv_conn(struct mp_conn *conn, void *arg)
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

void server_free(struct server *s)
{
    for (size_t i = 0; i < MAX_ENDS; i++)
        end_free(&s->ends[i]);
}

void handle(struct mp_client *c, const char *proto, struct server *s)
{
    int rc = mp_client_handle(c, proto, srv_conn, s);

    cr_assert_eq(rc, MP_OK, "mp_client_handle(%s): %s", proto, mp_strerror(rc));
}

void open_start(struct mp_client *c, const char *peer,
                const char *proto, struct end *e)
{
    int rc = mp_client_open(c, peer, proto, end_open, e);

    cr_assert_eq(rc, MP_OK, "mp_client_open(%s, %s): %s", peer, proto,
                 mp_strerror(rc));
}

void open_wait(struct end *e, const char *what)
{
    WAIT(e->opens > 0, "no outcome for opening %s", what);
    cr_assert_eq(e->opens, 1, "open callback ran %d times (%s)", e->opens, what);
    cr_assert_eq(e->wrong, 0, "open callback: conn and status disagree (%s)",
                 what);
}

void open_ok(struct mp_client *c, const char *peer, const char *proto,
             struct end *e)
{
    open_start(c, peer, proto, e);
    open_wait(e, proto);
    cr_assert_eq(e->open_status, MP_OK, "opening %s/%s: %s", peer, proto,
                 mp_strerror(e->open_status));
    cr_assert_not_null(e->conn);
}

int open_fails(struct mp_client *c, const char *peer, const char *proto)
{
    struct end e = { 0 };

    open_start(c, peer, proto, &e);
    open_wait(&e, proto);
    cr_assert_null(e.conn, "opening %s/%s: a conn with status %s", peer, proto,
                   mp_strerror(e.open_status));
    return e.open_status;
}

struct end *open_pair(struct mp_client *c, const char *peer,
                      const char *proto, struct end *e, struct server *s)
{
    size_t before = s->n;

    open_ok(c, peer, proto, e);
    WAIT(s->n > before, "%s did not see the connection", peer);
    struct end *o = &s->ends[before];
    cr_assert_str_eq(o->id, e->id, "the two ends disagree on the id");
    return o;
}

void send_ok(struct end *e, const void *d, size_t n)
{
    cr_assert_not_null(e->conn, "sending on a connection that is over");
    int rc = mp_conn_send(e->conn, d, n);
    cr_assert_eq(rc, MP_OK, "mp_conn_send(%zu bytes): %s", n, mp_strerror(rc));
}

void send_str(struct end *e, const char *s)
{
    send_ok(e, s, strlen(s));
}

bool msg_eq(const struct end *e, size_t i, const void *d, size_t n)
{
    return i < e->nmsg && e->msgs[i].len == n &&
           (n == 0 || memcmp(e->msgs[i].p, d, n) == 0);
}

void assert_msg_str(const struct end *e, size_t i, const char *s)
{
    cr_assert(i < e->nmsg, "message %zu missing (%zu received)", i, e->nmsg);
    cr_assert(msg_eq(e, i, s, strlen(s)), "message %zu is \"%.*s\", want \"%s\"",
              i, (int)(e->msgs[i].len > 200 ? 200 : e->msgs[i].len),
              (const char *)e->msgs[i].p, s);
}

bool has_msg(const struct end *e, const char *s)
{
    for (size_t i = e->nmsg; i-- > 0;)
        if (msg_eq(e, i, s, strlen(s)))
            return true;
    return false;
}

void barrier(struct end *from, struct end *to)
{
    static unsigned k;
    char text[32];

    snprintf(text, sizeof text, "barrier-%u", k++);
    send_str(from, text);
    WAIT(has_msg(to, text), "barrier \"%s\" did not arrive", text);
}

void echo_once(struct end *e, const char *text)
{
    size_t before = e->nmsg;

    send_str(e, text);
    WAIT(e->nmsg > before, "no echo of \"%s\"", text);
    assert_msg_str(e, before, text);
}

unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);

    cr_assert_not_null(p, "out of memory");
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + seed * 13 + (i >> 8)) % 251);
    return p;
}

void on_lost(struct mp_client *c, int status, void *arg)
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

int raw_recv(struct rc_client *rc, struct rc_msg *m, int ms)
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

void raw_expect(struct rc_client *rc, int meta, const char *other,
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

void raw_send(struct rc_client *rc, unsigned meta, const char *to,
              const char *id, struct rc_blob data)
{
    cr_assert(rc_send(rc, meta, to, id, data), "raw send: %s", rc_error(rc));
}

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

void fake_start(struct fake *f, bool accept)
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

const char *fake_address(const struct fake *f)
{
    static char b[64];

    snprintf(b, sizeof b, "tcp:127.0.0.1:%d", f->port);
    return b;
}

void fake_send(struct fake *f, const void *p, size_t n)
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

void fake_send_msg(struct fake *f, const char *fmt, unsigned meta,
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

void fake_stop(struct fake *f)
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

size_t fake_frame_len(const struct fake *f, const char *fmt)
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

void fake_take(struct fake *f, const char *fmt, struct wire *w)
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

void fake_take_skip(struct fake *f, const char *fmt, struct wire *w)
{
    do
        fake_take(f, fmt, w);
    while (w->meta == RC_NO_SUCH_CONN);
}

void capture_begin(struct capture *c)
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

void capture_check(struct capture *c)
{
    static char out[4097];
    char *text = capture_end(c);

    snprintf(out, sizeof out, "%s", text);
    free(text);
    cr_assert_str_empty(out, "something was printed:\n%s", out);
}

void reap_killed(struct harness *h)
{
    int status = 0;

    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status),
              "the killed broker did not exit");
    cr_assert(WIFSIGNALED(status), "the broker was not killed by the signal");
    if (h == fx.h)
        fx.h = NULL;
    harness_free(h);
}


void slot_free(void *data, size_t len, void *arg)
{
    struct slot *s = arg;

    s->calls++;
    if (data != s->ptr || len != s->len)
        s->mismatch++;
    free(data);
}

bool slots_done(const struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].calls == 0)
            return false;
    return true;
}

void assert_slots_once(const struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s[i].calls, 1, "free_fn of buffer %zu ran %d times", i,
                     s[i].calls);
        cr_assert_eq(s[i].mismatch, 0, "free_fn of buffer %zu: wrong data or len", i);
    }
}

struct duo duo_start(const char *fmt, const char *proto,
                     const struct server *init)
{
    struct duo d = { 0 };

    d.h = fx_broker(STD_BROKER);
    d.s = fx_server(init);
    d.alice = join(d.h, fmt, "alice");
    d.bob = join(d.h, fmt, "bob");
    handle(d.bob, proto, d.s);
    return d;
}

struct duo duo_open(const char *fmt, const char *proto,
                    const struct server *init)
{
    struct duo d = duo_start(fmt, proto, init);

    d.a = NEW_END(0);
    d.b = open_pair(d.alice, "bob", proto, d.a, d.s);
    return d;
}

void duo_free_clients(struct duo *d)
{
    client_free(d->alice);
    client_free(d->bob);
}

struct crossed crossed_open(struct harness *h, const char *fmt,
                            struct mp_client *alice, struct mp_client *bob)
{
    struct crossed x = { .sa = NEW_SERVER(0), .sb = NEW_SERVER(0),
                         .a1 = NEW_END(0), .bb = NEW_END(0),
                         .ap = NEW_END(0) };
    struct rc_msg m;

    handle(alice, "back", x.sa);
    handle(bob, "x", x.sb);
    x.b1 = open_pair(alice, "bob", "x", x.a1, x.sb);
    x.ab = open_pair(bob, "alice", "back", x.bb, x.sa);
    x.rob = rc_login_any(h, lst(fmt), rcf(fmt), "rob");
    open_start(alice, "rob", "slow", x.ap);
    raw_expect(x.rob, RC_SYN, "alice", NULL, &m);
    rc_msg_free(&m);
    return x;
}

TestSuite(client, .init = fx_init, .fini = fx_fini, .timeout = 60);
