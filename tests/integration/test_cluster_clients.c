/*
 * test_cluster_clients.c - every kind of client works across brokers
 * unchanged (doc/cluster.md): each test puts the two ends of a
 * conversation on different brokers of a real cluster
 * (tests/support/cluster.h) and holds them to what they get on one.
 *
 * - the original's level-1 JSON client, as raw lines exactly as the
 *   capture tests/data/wire/go-json-transcript.txt has them, talking to
 *   a binary client on another broker (both roles of the capture);
 * - the original's Gob clients: the gob capture replayed byte for byte
 *   with its two clients on two brokers, and a Gob client talking to a
 *   JSON client on another broker;
 * - libmpclient: a client on broker 0 opens a connection to a handler
 *   on broker 1, data both ways, each close seen by the other side;
 * - mpcat ($MPCAT): listening on broker 1, connecting from broker 0, a
 *   line each way.
 *
 * Every wait is for an event with a deadline; nothing sleeps.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <mp/client.h>

#include "cluster.h"
#include "gobclient.h"
#include "json_transcript.h"
#include "rawclient.h"

static void reap_everything(void);

TestSuite(cluster_clients, .fini = reap_everything, .timeout = 120);

#define L_JSON 0
#define L_BINARY 1

/* ------------------------------------------------------------------------
 * The JSON capture, one client raw and the other binary
 */

/* A captured line's fields, for the binary client that plays its part. */
struct fields {
    unsigned meta;
    char other[64], id[64];
    unsigned char data[64];
    size_t len;
    bool has_data;
};

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(alphabet, c);

    return c != '\0' && p != NULL ? (int)(p - alphabet) : -1;
}

/* Base64 (padded) to bytes; returns the length. */
static size_t b64_decode(const char *s, size_t n, unsigned char *out,
                         size_t room)
{
    unsigned bits = 0, nbits = 0;
    size_t len = 0;

    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64_value(s[i]);
        cr_assert_geq(v, 0, "bad base64 in the script");
        bits = bits << 6 | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            cr_assert_lt(len, room);
            out[len++] = (unsigned char)(bits >> nbits);
        }
    }
    return len;
}

/* The string after `key":"` up to the next quote, into dst. */
static void field_str(const char *line, const char *key, char *dst,
                      size_t room)
{
    const char *p = strstr(line, key), *end;

    cr_assert_not_null(p);
    p += strlen(key);
    end = strchr(p, '"');
    cr_assert(end != NULL && (size_t)(end - p) < room);
    memcpy(dst, p, (size_t)(end - p));
    dst[end - p] = '\0';
}

/* The captured lines have one shape:
 * {"Meta":N,"OtherClient":"S","ConnectionID":"S","Data":null|"BASE64"} */
static struct fields parse_line(const char *line)
{
    struct fields f = { 0 };
    const char *data;

    cr_assert_eq(sscanf(line, "{\"Meta\":%u,", &f.meta), 1);
    field_str(line, "\"OtherClient\":\"", f.other, sizeof f.other);
    field_str(line, "\"ConnectionID\":\"", f.id, sizeof f.id);
    data = strstr(line, "\"Data\":") + strlen("\"Data\":");
    if (*data == '"') {
        f.has_data = true;
        f.len = b64_decode(data + 1, strcspn(data + 1, "\""), f.data,
                           sizeof f.data);
    }
    return f;
}

static struct rc_blob fields_data(const struct fields *f)
{
    return f->has_data ? rc_bytes(f->data, f->len) : RC_NULL;
}

/* Play step s on c: raw lines for the JSON client, the same message in
 * fields for the binary one. */
static void play(struct rc_client *c, const struct step *s, size_t i)
{
    bool raw = rc_format(c) == RC_JSON;
    struct fields f;

    switch (s->action) {
    case SEND:
        if (raw) {
            cr_assert(rc_send_json(c, s->line), "step %zu: send failed: %s",
                      i, rc_error(c));
            break;
        }
        f = parse_line(s->line);
        cr_assert(rc_send(c, f.meta, f.other, f.id, fields_data(&f)),
                  "step %zu: send failed: %s", i, rc_error(c));
        break;
    case RECV:
        if (raw) {
            rc_expect_line(c, s->line);
            break;
        }
        f = parse_line(s->line);
        rc_expect(c, f.meta, f.other, f.id, fields_data(&f));
        break;
    case SEND_EOF:
        /* The Go client closes its socket; half-closing keeps ours
         * readable so the broker's own close can be observed. */
        cr_assert_eq(shutdown(rc_fd(c), SHUT_WR), 0, "step %zu: shutdown", i);
        break;
    case RECV_EOF:
        rc_expect_eof(c);
        break;
    }
}

/* The capture with client `raw_client` as raw JSON lines on broker 0 and
 * the other as a binary client on broker 1. */
static void replay_json_across(int raw_client)
{
    struct mpt_cluster *cl = mpt_cluster_start(2, NULL);
    struct rc_client *c[2];

    for (int n = 1; n <= 2; n++) {
        bool raw = n == raw_client;
        c[n - 1] = rc_connect(cl->broker[raw ? 0 : 1],
                              raw ? L_JSON : L_BINARY,
                              raw ? RC_JSON : RC_BINARY);
    }
    for (size_t i = 0; i < JSON_TRANSCRIPT_LEN; i++)
        play(c[script[i].client - 1], &script[i], i);
    rc_close(c[0]);
    rc_close(c[1]);
    mpt_cluster_stop(cl);
}

Test(cluster_clients, json_capture_initiator_raw_on_0_echo_binary_on_1)
{
    replay_json_across(2);
}

Test(cluster_clients, json_capture_echo_raw_on_0_initiator_binary_on_1)
{
    replay_json_across(1);
}

/* ------------------------------------------------------------------------
 * Gob
 */

static const struct mpt_cluster_opts gob_opts = { .gob = true };
#define L_GOB MPT_CLUSTER_GOB_LISTENER

/* The gob capture, c1 on broker 0 and c2 on broker 1, every message the
 * brokers send compared byte for byte with what the original sent. */
Test(cluster_clients, gob_capture_replayed_across_brokers)
{
    struct mpt_cluster *cl = mpt_cluster_start(2, &gob_opts);
    struct gob_client *c[2] = { gc_connect(cl->broker[0], L_GOB),
                                gc_connect(cl->broker[1], L_GOB) };

    gc_replay_transcript(c);
    gc_close(c[0]);
    gc_close(c[1]);
    mpt_cluster_stop(cl);
}

#define BINARY "\x00\x01\x02\xff\x0a\x22"

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

Test(cluster_clients, gob_on_one_broker_json_on_another)
{
    struct mpt_cluster *cl = mpt_cluster_start(3, &gob_opts);
    struct gob_client *g = gc_login(cl->broker[0], L_GOB, "gopher");
    struct rc_client *j = rc_login_any(cl->broker[2], L_JSON, RC_JSON,
                                       "jason");
    unsigned char big[3000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31);

    /* gob opens to JSON. */
    gc_send_value(g, RC_SYN, "jason", "gopher:0", "echo", 4);
    rc_expect(j, RC_SYN, "gopher", "gopher:0", rc_str("echo"));
    send_ok(j, RC_ACK, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_ACK, "jason", "gopher:0", NULL, 0);
    gc_send_value(g, RC_DATA, "jason", "gopher:0", BINARY, 6);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", rc_bytes(BINARY, 6));
    /* gob's absent Data on a Data message is empty, not null. */
    gc_send_value(g, RC_DATA, "jason", "gopher:0", NULL, 0);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", RC_EMPTY);
    send_ok(j, RC_DATA, "gopher", "gopher:0", rc_str("hi <&>"));
    gc_expect(g, RC_DATA, "jason", "gopher:0", "hi <&>", 6);
    send_ok(j, RC_DATA, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_DATA, "jason", "gopher:0", NULL, 0);
    gc_send_value(g, RC_DATA, "jason", "gopher:0", big, sizeof big);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", rc_bytes(big, sizeof big));

    /* JSON opens to gob, which refuses; then gob closes its own. */
    send_ok(j, RC_SYN, "gopher", "jason:1", rc_str("chat"));
    gc_expect(g, RC_SYN, "jason", "jason:1", "chat", 4);
    gc_send_value(g, RC_UNKNOWN_PROTO, "jason", "jason:1", NULL, 0);
    rc_expect(j, RC_UNKNOWN_PROTO, "gopher", "jason:1", RC_NULL);
    gc_send_value(g, RC_CLOSED, "jason", "gopher:0", NULL, 0);
    rc_expect(j, RC_CLOSED, "gopher", "gopher:0", RC_NULL);

    /* A Syn to nobody comes back to gob as NoSuchConnection. */
    gc_send_value(g, RC_SYN, "nobody", "gopher:2", "echo", 4);
    gc_expect(g, RC_NO_SUCH_CONN, "nobody", "gopher:2", "echo", 4);

    /* gob leaves with a connection open: JSON is told. */
    gc_send_value(g, RC_SYN, "jason", "gopher:3", "echo", 4);
    rc_expect(j, RC_SYN, "gopher", "gopher:3", rc_str("echo"));
    send_ok(j, RC_ACK, "gopher", "gopher:3", RC_NULL);
    gc_expect(g, RC_ACK, "jason", "gopher:3", NULL, 0);
    gc_close(g);
    rc_expect(j, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_close(j);
    mpt_cluster_stop(cl);
}

/* ------------------------------------------------------------------------
 * libmpclient
 */

static struct event_base *base;

static void loop_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
    event_base_loopbreak(base);
}

/* Dispatch the loop until cond holds or ms pass; assert cond. */
#define WAIT_FOR(cond, ms)                                                  \
    do {                                                                    \
        bool timed_out_ = false;                                            \
        struct event *t_ = evtimer_new(base, loop_timeout, &timed_out_);    \
        struct timeval tv_ = { mpt_ms(ms) / 1000,                           \
                               (mpt_ms(ms) % 1000) * 1000 };                \
        evtimer_add(t_, &tv_);                                              \
        while (!(cond) && !timed_out_)                                      \
            event_base_loop(base, EVLOOP_ONCE);                             \
        event_free(t_);                                                     \
        cr_assert(cond, "timed out waiting for: %s", #cond);                \
    } while (0)

/* One end of a connection as the test sees it. */
struct end {
    struct mp_conn *conn;
    int open_status;
    bool opened;
    char got[8][64];
    size_t n_got;
    int closed;            /* the close reason, 0 while open */
};

static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    struct end *e = arg;

    (void)conn;
    cr_assert_lt(e->n_got, 8);
    cr_assert_lt(len, sizeof e->got[0]);
    memcpy(e->got[e->n_got], data, len);
    e->got[e->n_got++][len] = '\0';
}

static void on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct end *e = arg;

    (void)conn;
    e->closed = reason;
    e->conn = NULL;
}

/* The handler's side: every accepted connection gets the next end. */
struct server {
    struct end ends[4];
    size_t n;
};

static void on_connection(struct mp_conn *conn, void *arg)
{
    struct server *s = arg;
    struct end *e = &s->ends[s->n++];

    e->conn = conn;
    mp_conn_set_callbacks(conn, on_message, on_close, e);
}

static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct end *e = arg;

    e->opened = true;
    e->open_status = status;
    e->conn = conn;
    if (conn != NULL)
        mp_conn_set_callbacks(conn, on_message, on_close, e);
}

static struct mp_client *client_on(struct harness *h, const char *format,
                                   const char *name)
{
    struct harness_listener l =
        harness_listener(h, strcmp(format, "json") == 0 ? L_JSON : L_BINARY);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    char address[128], reason[256];
    struct mp_client *c;
    int err = 0;

    snprintf(address, sizeof address, "tcp:%s:%d", l.host, l.port);
    o.address = address;
    o.format = format;
    o.name = name;
    o.secret = MPT_SECRET_ALLOW_ALL;
    c = mp_client_new(base, &o, &err);
    cr_assert_not_null(c, "mp_client_new: %s", mp_strerror(err));
    err = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(err, MP_OK, "%s cannot log in: %s (%s)", name,
                 mp_strerror(err), reason);
    return c;
}

static void libmpclient_across(const char *fmt_a, const char *fmt_b)
{
    struct mpt_cluster *cl = mpt_cluster_start(2, NULL);
    struct server srv = { .n = 0 };
    struct end a1 = { 0 }, a2 = { 0 };
    struct mp_client *a, *b;

    base = event_base_new();
    cr_assert_not_null(base);
    b = client_on(cl->broker[1], fmt_b, "bob");
    cr_assert_eq(mp_client_handle(b, "chat", on_connection, &srv), MP_OK);
    a = client_on(cl->broker[0], fmt_a, "alice");

    /* alice on broker 0 opens to bob's handler on broker 1. */
    cr_assert_eq(mp_client_open(a, "bob", "chat", on_open, &a1), MP_OK);
    WAIT_FOR(a1.opened, MPT_MSG_MS);
    cr_assert_eq(a1.open_status, MP_OK, "open: %s",
                 mp_strerror(a1.open_status));
    cr_assert_eq(srv.n, 1);
    cr_assert_str_eq(mp_conn_peer(srv.ends[0].conn), "alice");
    cr_assert_str_eq(mp_conn_protocol(srv.ends[0].conn), "chat");
    cr_assert_str_eq(mp_conn_peer(a1.conn), "bob");

    /* Data both ways, in order. */
    cr_assert_eq(mp_conn_send(a1.conn, "hello bob", 9), MP_OK);
    cr_assert_eq(mp_conn_send(a1.conn, "", 0), MP_OK);
    WAIT_FOR(srv.ends[0].n_got == 2, MPT_MSG_MS);
    cr_assert_str_eq(srv.ends[0].got[0], "hello bob");
    cr_assert_str_eq(srv.ends[0].got[1], "");
    cr_assert_eq(mp_conn_send(srv.ends[0].conn, "hi alice", 8), MP_OK);
    WAIT_FOR(a1.n_got == 1, MPT_MSG_MS);
    cr_assert_str_eq(a1.got[0], "hi alice");

    /* alice closes: bob sees it. */
    mp_conn_close(a1.conn);
    WAIT_FOR(srv.ends[0].closed != 0, MPT_MSG_MS);
    cr_assert_eq(srv.ends[0].closed, MP_CLOSE_BY_PEER);

    /* A second connection: bob closes it, alice sees it. */
    cr_assert_eq(mp_client_open(a, "bob", "chat", on_open, &a2), MP_OK);
    WAIT_FOR(a2.opened, MPT_MSG_MS);
    cr_assert_eq(a2.open_status, MP_OK);
    cr_assert_eq(srv.n, 2);
    cr_assert_eq(mp_conn_send(srv.ends[1].conn, "bye", 3), MP_OK);
    mp_conn_close(srv.ends[1].conn);
    WAIT_FOR(a2.closed != 0, MPT_MSG_MS);
    cr_assert_eq(a2.n_got, 1, "the message before the close arrives");
    cr_assert_str_eq(a2.got[0], "bye");
    cr_assert_eq(a2.closed, MP_CLOSE_BY_PEER);

    /* A third: bob leaves the cluster, alice is told the peer left. */
    memset(&a2, 0, sizeof a2);
    cr_assert_eq(mp_client_open(a, "bob", "chat", on_open, &a2), MP_OK);
    WAIT_FOR(a2.opened, MPT_MSG_MS);
    cr_assert_eq(a2.open_status, MP_OK);
    mp_client_free(b);
    WAIT_FOR(a2.closed != 0, MPT_MSG_MS);
    cr_assert_eq(a2.closed, MP_CLOSE_PEER_LEFT);

    /* bob's name is free again: an open to it fails. */
    memset(&a2, 0, sizeof a2);
    cr_assert_eq(mp_client_open(a, "bob", "chat", on_open, &a2), MP_OK);
    WAIT_FOR(a2.opened, MPT_MSG_MS);
    cr_assert_eq(a2.open_status, MP_ERR_NO_SUCH_CLIENT, "open: %s",
                 mp_strerror(a2.open_status));

    mp_client_free(a);
    event_base_free(base);
    base = NULL;
    mpt_cluster_stop(cl);
}

Test(cluster_clients, libmpclient_binary_on_0_to_handler_json_on_1)
{
    libmpclient_across("binary", "json");
}

Test(cluster_clients, libmpclient_binary_on_0_to_handler_binary_on_1)
{
    libmpclient_across("binary", "binary");
}

/* ------------------------------------------------------------------------
 * mpcat
 */

struct proc {
    pid_t pid;
    int in, fd[2];       /* stdin (write end), stdout, stderr; -1: closed */
    char out[2][8192];
    size_t len[2];
};

#define MAX_PROCS 4
static struct proc *procs[MAX_PROCS];

static void reap_everything(void)
{
    for (size_t i = 0; i < MAX_PROCS; i++) {
        if (procs[i] != NULL && procs[i]->pid > 0) {
            kill(procs[i]->pid, SIGKILL);
            waitpid(procs[i]->pid, NULL, 0);
        }
        free(procs[i]);
        procs[i] = NULL;
    }
    mpt_cluster_reap_all();
}

/* $MPCAT -a tcp:HOST:PORT (listener lst of h) -f FMT args..., with pipes
 * on stdin, stdout and stderr. */
static struct proc *mpcat(struct harness *h, size_t lst,
                          const char *const *args)
{
    const char *prog = getenv("MPCAT");
    struct harness_listener l = harness_listener(h, lst);
    char address[128];
    const char *argv[24] = { prog, "-a", address, "-f",
                             lst == L_JSON ? "json" : "binary" };
    size_t argc = 5, slot = 0;
    int in[2], out[2], err[2];
    struct proc *p = calloc(1, sizeof *p);

    cr_assert(prog != NULL && *prog != '\0',
              "MPCAT is not set: run the tests through `make check`");
    cr_assert_not_null(p);
    while (slot < MAX_PROCS && procs[slot] != NULL)
        slot++;
    cr_assert_lt(slot, MAX_PROCS);
    procs[slot] = p;
    snprintf(address, sizeof address, "tcp:%s:%d", l.host, l.port);
    for (size_t i = 0; args[i] != NULL && argc < 23; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
              pipe2(err, O_CLOEXEC) == 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->in = in[1];
    p->fd[0] = out[0];
    p->fd[1] = err[0];
    return p;
}

/* Read its output until stdout holds `want` (NULL: until both pipes
 * close); fails past ms. */
static void proc_read(struct proc *p, const char *want, int ms)
{
    long long deadline = mpt_now_ms() + mpt_ms(ms);

    while (p->fd[0] >= 0 || p->fd[1] >= 0) {
        struct pollfd pfd[2] = { { .fd = p->fd[0], .events = POLLIN },
                                 { .fd = p->fd[1], .events = POLLIN } };
        long long left = deadline - mpt_now_ms();

        if (want != NULL && strstr(p->out[0], want) != NULL)
            return;
        cr_assert_gt(left, 0, "mpcat: timed out; stdout '%s', stderr '%s'",
                     p->out[0], p->out[1]);
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
            cr_assert_fail("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            size_t room = sizeof p->out[i] - 1 - p->len[i];
            ssize_t n;

            if (p->fd[i] < 0 || pfd[i].revents == 0)
                continue;
            n = read(p->fd[i], p->out[i] + p->len[i], room);
            if (n <= 0 || room == 0) {
                close(p->fd[i]);
                p->fd[i] = -1;
                continue;
            }
            p->len[i] += (size_t)n;
            p->out[i][p->len[i]] = '\0';
        }
    }
    if (want != NULL)
        cr_assert_fail("mpcat ended without printing '%s' (stderr '%s')",
                       want, p->out[1]);
}

/* Both pipes at EOF, then the exit status, which must be `code`. */
static void proc_expect_exit(struct proc *p, int code, int ms)
{
    int status;

    proc_read(p, NULL, ms);
    cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
    p->pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code,
              "mpcat: status 0x%x, want exit %d; stderr '%s'", status, code,
              p->out[1]);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void mpcat_across(size_t lst_listen, size_t lst_connect)
{
    struct mpt_cluster *cl = mpt_cluster_start(2, NULL);
    const char line[] = "hello from broker 0, back from broker 1\n";
    struct proc *srv, *cli;

    /* -e: each line comes back to its sender; -q: exit once the
     * connection has closed. */
    srv = mpcat(cl->broker[1], lst_listen,
                ARGS("-n", "srv", "-e", "-q", "listen", "lines"));
    cr_assert(harness_wait_log(cl->broker[1], "client srv logged in",
                               mpt_ms(MPT_READY_MS)),
              "mpcat srv did not log in on broker 1");
    close(srv->in);
    srv->in = -1;

    cli = mpcat(cl->broker[0], lst_connect,
                ARGS("-n", "cli", "-c", "1", "-w", "10", "connect", "srv",
                     "lines"));
    cr_assert_eq(write(cli->in, line, strlen(line)), (ssize_t)strlen(line));
    close(cli->in);
    cli->in = -1;
    /* cli prints the echo and exits 0 on it (-c 1). */
    proc_expect_exit(cli, 0, MPT_MSG_MS);
    cr_assert_str_eq(cli->out[0], line);
    /* srv printed the line, and exits once cli's connection closed. */
    proc_expect_exit(srv, 0, MPT_MSG_MS);
    cr_assert_str_eq(srv->out[0], line);
    mpt_cluster_stop(cl);
}

Test(cluster_clients, mpcat_listen_binary_on_1_connect_json_from_0)
{
    mpcat_across(L_BINARY, L_JSON);
}

Test(cluster_clients, mpcat_listen_json_on_1_connect_binary_from_0)
{
    mpcat_across(L_JSON, L_BINARY);
}
