/*
 * test_limits.c - bad input and limits: undecodable bytes and oversize
 * frames close only the offending client; large messages up to the limit
 * arrive intact; max_clients.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(limits, .fini = harness_reap_all, .timeout = 90);

#define SMALL_LIMIT 4096

static size_t lst(enum rc_format f)
{
    return f == RC_JSON ? 0 : 1;
}

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

static void exchange(struct rc_client *a, struct rc_client *b, const char *id)
{
    send_ok(a, RC_DATA, rc_name(b), id, rc_str("ping"));
    rc_expect(b, RC_DATA, rc_name(a), id, rc_str("ping"));
    send_ok(b, RC_DATA, rc_name(a), id, rc_str("pong"));
    rc_expect(a, RC_DATA, rc_name(b), id, rc_str("pong"));
}

/* Two well-behaved clients with an open connection, bob:1. */
struct bystanders {
    struct harness *h;
    struct rc_client *bob, *carol;
};

static void bystanders_start(struct bystanders *s, int limit)
{
    char body[1024];

    snprintf(body, sizeof body, "%s%slimits = { max_message_size = %d; };\n",
             MPT_LISTEN_JSON_BINARY, MPT_AUTH_ALLOW_ALL, limit);
    s->h = harness_start(body);
    s->bob = rc_login_any(s->h, 1, RC_BINARY, "bob");
    s->carol = rc_login_any(s->h, 0, RC_JSON, "carol");
    rc_open_conn(s->bob, s->carol, "bob:1", "echo");
}

static void bystanders_stop(struct bystanders *s)
{
    rc_close(s->bob);
    rc_close(s->carol);
    harness_stop(s->h);
}

/*
 * A fresh client on format f (authenticated or not, with a connection to
 * bob if authenticated) sends `bytes`: it alone is closed, optionally
 * after a WAT (AuthFailure before authentication); bob is told it left;
 * bob and carol carry on.
 */
static void offend(struct bystanders *s, enum rc_format f, bool authed,
                   const void *bytes, size_t len)
{
    static int serial;
    char name[32], id[40];
    struct rc_client *v;

    snprintf(name, sizeof name, "v%d", serial++);
    if (authed) {
        v = rc_login_any(s->h, lst(f), f, name);
        snprintf(id, sizeof id, "%s:1", name);
        rc_open_conn(v, s->bob, id, "echo");
    } else {
        v = rc_connect(s->h, lst(f), f);
    }
    /* The broker may close while we are still writing: that is fine. */
    rc_send_raw(v, bytes, len);
    rc_expect_closed(v, authed ? RC_WAT : RC_AUTH_FAILURE);
    rc_close(v);
    if (authed)
        rc_expect(s->bob, RC_CLIENT_CLOSED, name, "", RC_NULL);
    exchange(s->bob, s->carol, "bob:1");
}

static void offend_str(struct bystanders *s, enum rc_format f, bool authed,
                       const char *text)
{
    offend(s, f, authed, text, strlen(text));
}

/* ---------------------------------------------------------------------- */
/* Undecodable input */

static const char *const bad_json[] = {
    "hello world\n",
    "{\"Meta\":}\n",
    "[1,2,3]\n",
    "\"just a string\"\n",
    "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":\"@@@@\"}\n",
    "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":\"ZWNobw\"}\n",
    "{\"Meta\":0,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":5}\n",
    "{\"Meta\":256,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":null}\n",
    "{\"Meta\":-1,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":null}\n",
    "{\"Meta\":\"5\",\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":null}\n",
    "{\"Meta\":1.5,\"OtherClient\":\"bob\",\"ConnectionID\":\"x:1\",\"Data\":null}\n",
    "{\"Meta\":0,\"OtherClient\":5,\"ConnectionID\":\"x:1\",\"Data\":null}\n",
    "}\n",
};

static void garbage_json(bool authed)
{
    struct bystanders s;

    bystanders_start(&s, SMALL_LIMIT);
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++)
        offend_str(&s, RC_JSON, authed, bad_json[i]);
    offend(&s, RC_JSON, authed, "\x00\x01\x02\xff\n", 5);
    bystanders_stop(&s);
}

Test(limits, garbage_json_ready) { garbage_json(true); }
Test(limits, garbage_json_before_auth) { garbage_json(false); }

struct raw_frame {
    const char *what;
    unsigned char bytes[16];
    size_t len;
};

static const struct raw_frame bad_frames[] = {
    { "reserved flag bit 2", { 0, 0, 0, 5, 0, 0x04, 0, 0, 'x' }, 9 },
    { "reserved flag bit 7", { 0, 0, 0, 4, 5, 0x81, 0, 0 }, 8 },
    { "name longer than the frame", { 0, 0, 0, 6, 0, 0, 200, 0, 'a', 'b' }, 10 },
    { "id longer than the frame", { 0, 0, 0, 6, 0, 0, 1, 9, 'a', 'b' }, 10 },
    { "length below the header", { 0, 0, 0, 2, 0, 0 }, 6 },
    { "length zero", { 0, 0, 0, 0 }, 4 },
    { "level flag without its byte", { 0, 0, 0, 4, 0, 0x02, 0, 0 }, 8 },
};

static void garbage_binary(bool authed)
{
    struct bystanders s;

    bystanders_start(&s, SMALL_LIMIT);
    for (size_t i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++)
        offend(&s, RC_BINARY, authed, bad_frames[i].bytes, bad_frames[i].len);
    /* JSON sent to a binary listener reads as a huge length. */
    offend_str(&s, RC_BINARY, authed,
               "{\"Meta\":8,\"OtherClient\":\"x\",\"ConnectionID\":\"\",\"Data\":null}\n");
    bystanders_stop(&s);
}

Test(limits, garbage_binary_ready) { garbage_binary(true); }
Test(limits, garbage_binary_before_auth) { garbage_binary(false); }

/* ---------------------------------------------------------------------- */
/* Oversize */

static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n);

    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 2654435761u) >> 13);
    return p;
}

static void oversize(enum rc_format f, bool authed)
{
    struct bystanders s;
    unsigned char *big = pattern(2 * SMALL_LIMIT);
    unsigned meta = authed ? RC_DATA : RC_AUTH;
    const char *to = authed ? "bob" : "big";
    const char *id = authed ? "x:1" : "";
    size_t len;

    bystanders_start(&s, SMALL_LIMIT);
    if (f == RC_BINARY) {
        unsigned char *frame = rc_binary_frame(meta, to, id,
                                               rc_bytes(big, 2 * SMALL_LIMIT),
                                               -1, &len);
        offend(&s, f, authed, frame, len);
        /* Only the header of a 1 GiB frame: refused without the body. */
        static const unsigned char huge[] = { 0x40, 0, 0, 0, 0, 1, 3, 0, 'b', 'o', 'b' };
        offend(&s, f, authed, huge, sizeof huge);
        free(frame);
    } else {
        char *line = rc_json_line(meta, to, id, rc_bytes(big, 2 * SMALL_LIMIT));
        size_t n = strlen(line);
        char *full = malloc(n + 2);
        cr_assert_not_null(full);
        snprintf(full, n + 2, "%s\n", line);
        offend(&s, f, authed, full, n + 1);
        free(full);
        /* An object that never ends must not be buffered for ever. */
        offend(&s, f, authed, line, n - 2);
        free(line);
    }
    /* Well under the limit is fine, in both formats. */
    struct rc_client *d = rc_login_any(s.h, lst(f), f, "dave");
    rc_open_conn(d, s.bob, "dave:1", "echo");
    send_ok(d, RC_DATA, "bob", "dave:1", rc_bytes(big, SMALL_LIMIT / 2));
    rc_expect(s.bob, RC_DATA, "dave", "dave:1", rc_bytes(big, SMALL_LIMIT / 2));
    send_ok(s.bob, RC_DATA, "dave", "dave:1", rc_bytes(big, SMALL_LIMIT / 2));
    rc_expect(d, RC_DATA, "bob", "dave:1", rc_bytes(big, SMALL_LIMIT / 2));
    rc_close(d);
    free(big);
    bystanders_stop(&s);
}

Test(limits, oversize_json_ready) { oversize(RC_JSON, true); }
Test(limits, oversize_json_before_auth) { oversize(RC_JSON, false); }
Test(limits, oversize_binary_ready) { oversize(RC_BINARY, true); }
Test(limits, oversize_binary_before_auth) { oversize(RC_BINARY, false); }

/* ---------------------------------------------------------------------- */
/* Large messages arrive intact */

struct sender {
    struct rc_client *c;
    const char *to, *id;
    struct rc_blob data;
    bool ok;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;

    s->ok = rc_send(s->c, RC_DATA, s->to, s->id, s->data);
    return NULL;
}

/* The receiver reads while the sender writes, so that no buffer between
 * them has to hold the whole message. */
static void large(enum rc_format fa, enum rc_format fb, size_t size)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "limits = { max_message_size = 1048576; };\n");
    struct rc_client *a = rc_login_any(h, lst(fa), fa, "alice");
    struct rc_client *b = rc_login_any(h, lst(fb), fb, "bob");
    unsigned char *big = pattern(size);
    struct sender s = { a, "bob", "alice:1", rc_bytes(big, size), false };
    pthread_t t;

    rc_open_conn(a, b, "alice:1", "bulk");
    cr_assert_eq(pthread_create(&t, NULL, sender_main, &s), 0);
    struct rc_msg m;
    int r = rc_recv(b, &m, mpt_ms(10000));
    pthread_join(t, NULL);
    cr_assert(s.ok, "sending %zu bytes failed: %s", size, rc_error(a));
    cr_assert_eq(r, RC_OK, "no message: %s %s", rc_status_name(r), rc_error(b));
    bool same = m.meta == RC_DATA && m.has_data && m.data_len == size &&
                memcmp(m.data, big, size) == 0 &&
                strcmp(m.other_client, "alice") == 0 &&
                strcmp(m.connection_id, "alice:1") == 0;
    size_t got = m.data_len;
    rc_msg_free(&m);
    free(big);
    cr_assert(same, "the large message was altered (%zu bytes received)", got);
    /* And the stream goes on. */
    exchange(a, b, "alice:1");
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

Test(limits, large_900k_binary_to_binary) { large(RC_BINARY, RC_BINARY, 900 * 1024); }
Test(limits, large_900k_binary_to_json) { large(RC_BINARY, RC_JSON, 900 * 1024); }
/* 600 KiB: its JSON line (base64) stays under the 1 MiB limit too. */
Test(limits, large_600k_json_to_binary) { large(RC_JSON, RC_BINARY, 600 * 1024); }

/* ---------------------------------------------------------------------- */

Test(limits, max_clients)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "limits = { max_clients = 3; };\n");
    struct rc_client *a = rc_login_any(h, 0, RC_JSON, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");
    struct rc_client *c = rc_login_any(h, 0, RC_JSON, "c");

    rc_open_conn(a, b, "a:1", "echo");
    for (int i = 0; i < 2; i++) {
        enum rc_format f = i ? RC_BINARY : RC_JSON;
        struct rc_client *d = rc_connect(h, lst(f), f);
        /* Closed at once: no Auth needed (if it gets through, the Auth
         * must fail anyway). */
        rc_send(d, RC_AUTH, "d", "", rc_str("x"));
        rc_expect_closed(d, RC_AUTH_FAILURE);
        rc_close(d);
    }
    exchange(a, b, "a:1");
    /* When one leaves, there is room again. */
    rc_close(a);
    rc_expect(b, RC_CLIENT_CLOSED, "a", "", RC_NULL);
    struct rc_client *e = rc_login_any(h, 1, RC_BINARY, "e");
    rc_open_conn(e, c, "e:1", "echo");
    rc_close(b);
    rc_close(c);
    rc_close(e);
    harness_stop(h);
}

/* limits.max_connections_per_client counts table entries, pending Syns
 * included, at both ends: a Syn past it is refused as UnknownProto. */
Test(limits, max_connections_per_client)
{
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { max_connections_per_client = 3; };\n");
    struct rc_client *a = rc_login_any(h, 0, RC_JSON, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");
    struct rc_client *c = rc_login_any(h, 0, RC_JSON, "c");

    rc_open_conn(a, b, "a:1", "p");
    rc_open_conn(a, b, "a:2", "p");
    /* A pending Syn counts too. */
    send_ok(a, RC_SYN, "b", "a:3", rc_str("p"));
    rc_expect(b, RC_SYN, "a", "a:3", rc_str("p"));
    /* a is full: its fourth is refused, and b never sees it. */
    send_ok(a, RC_SYN, "b", "a:4", rc_str("p"));
    rc_expect(a, RC_UNKNOWN_PROTO, "b", "a:4", RC_NULL);
    /* b is full too: c's Syn to b is refused. */
    send_ok(c, RC_SYN, "b", "c:1", rc_str("p"));
    rc_expect(c, RC_UNKNOWN_PROTO, "b", "c:1", RC_NULL);
    /* Closing one frees a slot at both ends. */
    send_ok(a, RC_CLOSED, "b", "a:1", RC_NULL);
    rc_expect(b, RC_CLOSED, "a", "a:1", RC_NULL);
    send_ok(c, RC_SYN, "b", "c:2", rc_str("p"));
    rc_expect(b, RC_SYN, "c", "c:2", rc_str("p"));
    /* The log comes through a pipe and a reader thread: wait for it. */
    cr_assert(harness_wait_log(h, "max_connections_per_client",
                               mpt_ms(MPT_MSG_MS)));
    rc_close(a);
    rc_close(b);
    rc_close(c);
    harness_stop(h);
}

/* The timer the kernel runs for the broker's end of the TCP connection
 * from local port `client_port` to `broker_port` (/proc/net/tcp's "tr"
 * field: 2 = keepalive), or -1 if not found. */
static int broker_side_timer(int broker_port, int client_port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int timer = -1;

    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned local_port, remote_port, tr;
        if (sscanf(line, " %*d: %*8x:%4x %*8x:%4x %*x %*x:%*x %x:", &local_port,
                   &remote_port, &tr) == 3 &&
            (int)local_port == broker_port && (int)remote_port == client_port)
            timer = (int)tr;
    }
    fclose(f);
    return timer;
}

static int local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* limits.tcp_keepalive_s: the broker's client sockets carry TCP keepalive
 * (so half-open peers are found), unless it is 0. */
static void keepalive(const char *limits, int want_timer)
{
    char body[512];

    snprintf(body, sizeof body, "%s%s%s", MPT_LISTEN_JSON_BINARY,
             MPT_AUTH_ALLOW_ALL, limits);
    struct harness *h = harness_start(body);
    struct rc_client *a = rc_login_any(h, 0, RC_JSON, "a");
    int timer = broker_side_timer(harness_listener(h, 0).port,
                                  local_port(rc_fd(a)));

    cr_assert_eq(timer, want_timer, "kernel timer %d on the broker's socket, "
                 "want %d", timer, want_timer);
    rc_close(a);
    harness_stop(h);
}

Test(limits, tcp_keepalive_on_by_default) { keepalive("", 2); }
Test(limits, tcp_keepalive_configurable)
{
    keepalive("limits = { tcp_keepalive_s = 5; };\n", 2);
}
Test(limits, tcp_keepalive_off) { keepalive("limits = { tcp_keepalive_s = 0; };\n", 0); }

/* ---------------------------------------------------------------------- */
/* Input held while an authenticator decides (issue 14, item 12) */

/*
 * While a login waits for an authenticator (here auth_delayed, a minute),
 * the broker keeps reading the socket (to notice the client leaving) but
 * holds no more than max_auth_message_size of what arrives: a client that
 * floods it meanwhile is refused with that reason at once, not after the
 * minute, and nobody else notices.
 */
Test(limits, input_held_while_an_authenticator_decides_is_bounded)
{
    enum { FLOOD = 64 * 1024 };
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "a-secret");
    char *bob = harness_passwd_entry("bob", "b-secret");
    char text[1024];
    struct rc_client *a, *b, *v;
    unsigned char *junk;

    snprintf(text, sizeof text, "%s\n%s\n", alice, bob);
    free(alice);
    free(bob);
    harness_write_file(h, "passwd", text);
    /* Known names get in through auth_passwd at once; the others wait a
     * minute for auth_delayed. */
    harness_boot(h, MPT_LISTEN_JSON_BINARY
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/passwd\"; }; },\n"
        "   { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";"
        " options = { delay_ms = 60000; }; } );\n"
        "limits = { auth_timeout_ms = 3600000; max_auth_message_size = 8192; };\n");
    a = rc_login(h, 1, RC_BINARY, "alice", "a-secret");
    b = rc_login(h, 0, RC_JSON, "bob", "b-secret");
    rc_open_conn(a, b, "alice:1", "echo");

    v = rc_connect(h, 1, RC_BINARY);
    cr_assert(rc_send(v, RC_AUTH, "slow", "", rc_str("delayed")));
    junk = pattern(FLOOD);
    /* The broker may close while we are still writing: that is fine. */
    rc_send_raw(v, junk, FLOOD);
    free(junk);
    rc_expect_auth_failure(v, "too much data before authentication "
                              "completed");
    rc_close(v);

    exchange(a, b, "alice:1");
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* max_connections_per_client at each end on its own (issue 14, item 12):
 * the test above opens every connection between one pair, so the target
 * is as full as the initiator and either check alone refuses the Syn. */

static void open_conn_to(struct rc_client *from, struct rc_client *to,
                         const char *id)
{
    rc_open_conn(from, to, id, "p");
}

static void refused_syn(struct rc_client *from, const char *to,
                        const char *id)
{
    send_ok(from, RC_SYN, to, id, rc_str("p"));
    rc_expect(from, RC_UNKNOWN_PROTO, to, id, RC_NULL);
}

Test(limits, max_connections_per_client_at_each_end)
{
    enum { MAX = 3 };
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
        "limits = { max_connections_per_client = 3; };\n");
    struct rc_client *a = rc_login_any(h, 0, RC_JSON, "a");
    struct rc_client *t[MAX + 1], *in[MAX + 1];
    char name[16], id[32];

    for (int i = 0; i <= MAX; i++) {
        snprintf(name, sizeof name, "t%d", i);
        t[i] = rc_login_any(h, 1, RC_BINARY, name);
        snprintf(name, sizeof name, "i%d", i);
        in[i] = rc_login_any(h, 0, RC_JSON, name);
    }
    /* The initiator: MAX connections to MAX different targets, each of
     * which holds one; the next, to a target with none, is refused. */
    for (int i = 0; i < MAX; i++) {
        snprintf(id, sizeof id, "a:%d", i + 1);
        open_conn_to(a, t[i], id);
    }
    refused_syn(a, "t3", "a:4");
    /* The target: MAX connections from MAX different initiators, each of
     * which holds one; the next is refused. (t3's first Syn is i0's: a's
     * refused one never reached it.) */
    for (int i = 0; i < MAX; i++) {
        snprintf(id, sizeof id, "i%d:1", i);
        open_conn_to(in[i], t[MAX], id);
    }
    refused_syn(in[MAX], "t3", "i3:1");
    /* A slot freed at the initiator is usable again. */
    send_ok(a, RC_CLOSED, "t0", "a:1", RC_NULL);
    rc_expect(t[0], RC_CLOSED, "a", "a:1", RC_NULL);
    open_conn_to(a, in[MAX], "a:5");

    rc_close(a);
    for (int i = 0; i <= MAX; i++) {
        rc_close(t[i]);
        rc_close(in[i]);
    }
    harness_stop(h);
}
