/*
 * test_client_login.c - libmpclient against the real broker (and a fake
 * one): error texts, creating a client, addresses, connecting and logging
 * in, and what a broker that hangs up, never answers or sends garbage
 * does to it.
 *
 * Each FORMAT_TEST runs in both wire formats. The fixture, the helpers
 * and how waiting works: test_client_fixture.h. SIGPIPE is left at its
 * default action: the library must never raise it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_client_fixture.h"

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
        client_free(c);
        cr_assert_eq(rc, want, "case %zu (format %s, name %s): %s", i,
                     o.format, o.name ? o.name : "NULL", mp_strerror(rc));
    }
}

/* Attached mode: mp_client_connect + the ready callback. */
FORMAT_TEST(login_attached)
{
    struct harness *h = fx_broker(STD_BROKER);
    struct mp_client *c = client_new(h, fmt, "alice");
    struct ready r = { 0 };
    struct lost l = { 0 };
    struct end *e = NEW_END(0);

    cr_assert_eq(mp_client_base(c), base, "mp_client_base is not the caller's");
    cr_assert_eq(mp_client_run(c), MP_ERR_STATE, "mp_client_run in attached mode");
    cr_assert_eq(mp_client_open(c, "bob", "echo", end_open, e), MP_ERR_STATE,
                 "mp_client_open before connecting");
    cr_assert_eq(mp_client_disconnect(c, NULL, NULL), MP_ERR_STATE,
                 "mp_client_disconnect before connecting");
    mp_client_on_lost(c, on_lost, &l);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_OK);
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_ERR_STATE,
                 "a second mp_client_connect while connecting");
    cr_assert_eq(mp_client_open(c, "bob", "echo", end_open, e), MP_ERR_STATE,
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
    cr_assert_eq(e->opens, 0, "a refused mp_client_open called back");
    cr_assert_eq(l.calls, 0, "lost callback while connected");
    client_free(c);
    cr_assert_eq(l.calls, 0, "lost callback on mp_client_free");
    fx_stop();
}

/* Own-loop mode: mp_client_connect_wait. */
FORMAT_TEST(login_own_loop)
{
    struct harness *h = fx_broker(STD_BROKER);
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
    client_free(c);

    /* reason may be NULL */
    c = client_new_full(NULL, addr, fmt, "bob", SECRET, strlen(SECRET), 0, 0);
    rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "mp_client_connect_wait: %s", mp_strerror(rc));
    client_free(c);

    /* freed before ever connecting */
    c = client_new_full(NULL, addr, fmt, "carol", SECRET, strlen(SECRET), 0, 0);
    fx_stop();
}

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
        client_free(c);
        cr_assert_eq(rc, cases[i].want, "case %zu (\"%s\", %zu): %s (%s)", i,
                     cases[i].secret ? cases[i].secret : "NULL", cases[i].len,
                     mp_strerror(rc), reason);
    }
    fx_stop();
}

/* A client whose format an auto listener does not speak (no gob
 * translator here) is told so by the broker's line, and gets
 * MP_ERR_FORMAT with that line, not a bare "connection lost". */
Test(client, format_the_listener_does_not_speak)
{
    struct harness *h = fx_broker(
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
    client_free(c);

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
    client_free(c);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(l.calls, 0);

    /* the formats it speaks still log in there */
    c = client_new_full(NULL, addr, "json", "jo", SECRET, strlen(SECRET), 0, 0);
    rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_OK, "%s (%s)", mp_strerror(rc), reason);
    client_free(c);
    cr_assert(harness_wait_log(h, "not a known wire format", mpt_ms(MPT_MSG_MS)));
    fx_stop();
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

FORMAT_TEST(auth_failure)
{
    struct harness *h = start_passwd("");
    const char *addr = address_of(h, lst(fmt));
    struct end *e = NEW_END(0);
    char reason[128];

    /* connect_wait, own loop */
    struct mp_client *c = client_new_full(NULL, addr, fmt, "alice", "wrong", 5, 0, 0);
    memset(reason, 'X', sizeof reason);
    int rc = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(rc, MP_ERR_AUTH, "wrong secret: %s", mp_strerror(rc));
    cr_assert_not_null(memchr(reason, '\0', sizeof reason), "reason not terminated");
    cr_assert_str_eq(reason, BAD_LOGIN);
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, e), MP_ERR_STATE,
                 "mp_client_open after a failed login");
    client_free(c);

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
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, e), MP_ERR_STATE,
                 "mp_client_open after a failed login");
    cr_assert_eq(mp_client_connect(c, on_ready, &r), MP_ERR_STATE,
                 "mp_client_connect after a failed login");
    cr_assert_eq(mp_client_disconnect(c, NULL, NULL), MP_ERR_STATE,
                 "mp_client_disconnect after a failed login");
    drain();
    cr_assert_eq(r.calls, 1, "ready ran %d times", r.calls);
    client_free(c);
    cr_assert_eq(l.calls, 0, "lost callback without a login");
    cr_assert_eq(e->opens, 0);

    /* a short buffer gets a terminated prefix, and nothing past it */
    struct {
        char reason[8];
        char canary[8];
    } small;
    memset(&small, 'X', sizeof small);
    c = client_new_full(NULL, addr, fmt, "alice", "nope", 4, 0, 0);
    rc = mp_client_connect_wait(c, small.reason, sizeof small.reason);
    client_free(c);
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
    client_free(c);
    cr_assert_eq(rc, MP_ERR_AUTH, "%s", mp_strerror(rc));

    /* secret_len counts, not the bytes after it; a prefix is wrong */
    c = client_new_full(NULL, addr, fmt, "alice", "s3cretGARBAGE", 6, 0, 0);
    rc = mp_client_connect_wait(c, reason, sizeof reason);
    client_free(c);
    cr_assert_eq(rc, MP_OK, "the right secret with secret_len: %s (%s)",
                 mp_strerror(rc), reason);
    c = client_new_full(NULL, addr, fmt, "alice", "s3cret", 5, 0, 0);
    rc = mp_client_connect_wait(c, NULL, 0);
    client_free(c);
    cr_assert_eq(rc, MP_ERR_AUTH, "a prefix of the secret: %s", mp_strerror(rc));
    fx_stop();
}

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
    client_free(c);
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
    client_free(c);

    struct ready r = { 0 };
    struct lost l = { 0 };
    struct end *e = NEW_END(0);
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
    cr_assert_eq(mp_client_open(c, "bob", "x", end_open, e), MP_ERR_STATE);
    drain();
    client_free(c);
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
    client_free(c);
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
    client_free(c);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(l.calls, 0);
    fake_stop(&f);
}

/* A "broker" that hangs up during the login: an error other than MP_OK and
 * MP_ERR_AUTH, once; no lost callback (there was no login). */
FORMAT_TEST(fake_hangs_up)
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
    client_free(c);
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
    client_free(c);
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
        client_free(c);
        cr_assert_neq(rc, MP_OK, "a stopped connect_wait logged in");
        cr_assert(took < mpt_ms(2000), "%s: connect_wait returned after %lld ms, "
                  "stopped after 100", own ? "own loop" : "attached", took);
    }
    fake_stop(&f);
}

/*
 * A fake broker checks the Auth the library writes (the secret's bytes,
 * NUL included), logs it in, then sends messages the library must take in
 * its stride: for unknown connections, for unknown peers, WAT, a later
 * level's meta, a Syn for a protocol without a handler (answered with
 * UnknownProto on the wire) and one with a handler (answered with Ack);
 * and last, garbage: lost(MP_ERR_PROTOCOL), once.
 */
FORMAT_TEST(fake_broker_conversation)
{
    static const char secret[] = "s\0e\xff" "cr\n\"et";
    struct fake f;
    struct ready r = { 0 };
    struct lost l = { 0 };
    struct server *s = NEW_SERVER(0);
    struct wire w;
    struct capture cap;

    fake_start(&f, true);
    capture_begin(&cap);
    struct mp_client *c = client_new_full(base, fake_address(&f), fmt, "alice",
                                          secret, sizeof secret - 1, 0, 0);
    mp_client_on_lost(c, on_lost, &l);
    handle(c, "echo", s);
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
    WAIT(s->n == 1, "on_connection did not run");
    cr_assert_str_eq(s->ends[0].peer, "bob");
    cr_assert_str_eq(s->ends[0].proto, "echo");
    cr_assert_str_eq(s->ends[0].id, "bob:1");
    fake_send_msg(&f, fmt, RC_DATA, "bob", "bob:1", rc_str("real"));
    WAIT(s->ends[0].nmsg == 1, "data on the accepted connection");
    assert_msg_str(&s->ends[0], 0, "real");
    cr_assert_eq(l.calls, 0, "lost after decodable messages");

    /* Garbage: the library gives up on the broker. */
    if (strcmp(fmt, "binary") == 0)
        fake_send(&f, "\x00\x00\x00\x04\x00\x80\x00\x00", 8);
    else
        fake_send(&f, "]this is not json\n", 18);
    WAIT(l.calls > 0, "no lost callback after garbage");
    cr_assert_eq(l.status, MP_ERR_PROTOCOL, "%s", mp_strerror(l.status));
    cr_assert_eq(s->ends[0].closes, 1, "the open connection was not closed");
    cr_assert_eq(s->ends[0].close_reason, MP_CLOSE_BROKER_LOST, "%s",
                 mp_close_reason_string(s->ends[0].close_reason));
    drain();
    client_free(c);
    capture_check(&cap);
    cr_assert_eq(l.calls, 1, "lost ran %d times", l.calls);
    cr_assert_eq(s->ends[0].closes, 1);
    fake_stop(&f);
}

/* After login, the broker sends more than max_message_size: the library
 * must stop without waiting for (or allocating) the whole message. */
FORMAT_TEST(fake_broker_oversize)
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
    client_free(c);
    cr_assert_eq(l.calls, 1);
    fake_stop(&f);
}

/* Unix-socket listeners, both formats, talking to each other. */
Test(client, unix_sockets)
{
    struct harness *h = fx_broker(LISTEN_UNIX MPT_AUTH_ALLOW_ALL);
    struct server *s = NEW_SERVER(.echo = true);
    struct end *a = NEW_END(0);

    cr_assert(harness_listener(h, 0).is_unix && harness_listener(h, 1).is_unix);
    cr_assert_eq(strncmp(address_of(h, 0), "unix:", 5), 0);
    struct mp_client *alice = join(h, "json", "alice");
    struct mp_client *bob = client_new(h, "binary", "bob");
    handle(bob, "echo", s);
    login(bob);
    open_pair(alice, "bob", "echo", a, s);
    send_str(a, "over unix");
    WAIT(a->nmsg == 1, "no echo");
    assert_msg_str(a, 0, "over unix");

    struct mp_client *c = client_new_full(NULL, address_of(h, 1), "binary", "carol",
                                          SECRET, strlen(SECRET), 0, 0);
    int rc = mp_client_connect_wait(c, NULL, 0);
    cr_assert_eq(rc, MP_OK, "%s", mp_strerror(rc));
    fx_stop();
}
