/*
 * test_dial.c - libmpclient with a host name of several addresses: every
 * address is tried, RFC 8305 ("Happy Eyeballs") style, against the real
 * broker.
 *
 * The names are answered by tests/support/fake_resolver.c, linked into
 * this program, so that the tests do not depend on the machine's
 * /etc/hosts: "mpt-multi.invalid" gets the addresses each test sets, and
 * "localhost" gets Debian's stock order, ::1 before 127.0.0.1, while the
 * brokers listen on 127.0.0.1 only.
 *
 * Addresses that do not work are made here: a closed port (a socket bound
 * and not listening: connections are refused at once), and a black hole
 * (a listening socket with a backlog of 0 whose accept queue one
 * connection, never accepted, fills: Linux then drops further SYNs, so a
 * connect() to it neither succeeds nor fails).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <mp/client.h>

#include "certs.h"
#include "fake_resolver.h"
#include "harness.h"

TestSuite(dial, .fini = harness_reap_all, .timeout = 60);

#define SECRET MPT_SECRET_ALLOW_ALL
#define MULTI "mpt-multi.invalid"
/* RFC 8305's Connection Attempt Delay, which libmpclient uses. */
#define ATTEMPT_DELAY_MS 250

#define LISTEN_BINARY                                                        \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"

/* Listener 0 speaks TLS, listener 1 plain TCP; both on 127.0.0.1 only. */
#define LISTEN_TLS_AND_TCP                                                   \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"binary\";\n" \
    "                tls = { cert = \"@DIR@/server.pem\"; key = \"@DIR@/server.key\"; }; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"

/* ----------------------------------------------------------------------
 * Addresses that do not work
 */

static int port_of_fd(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0,
                 "getsockname: %s", strerror(errno));
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int bound_socket(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0,
              "bind: %s", strerror(errno));
    return fd;
}

/* A port on 127.0.0.1 that refuses: bound (so nobody else takes it) and
 * not listening. Close *fd when done. */
static int closed_port(int *fd)
{
    *fd = bound_socket();
    return port_of_fd(*fd);
}

struct hole {
    int listen_fd;
    int fillers[4];
    size_t n_fillers;
    int port;
};

/* Is the non-blocking connect on fd done within ms? */
static bool connects_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int error = 0;
    socklen_t len = sizeof error;

    if (poll(&p, 1, ms) != 1)
        return false;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 &&
           error == 0;
}

/* A black hole on 127.0.0.1: connect() to it hangs. The accept queue is
 * filled with connections until one does not complete (with a backlog of
 * 0, Linux queues one); that probe is closed, and h->port is a hole. */
static void hole_open(struct hole *h)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->listen_fd = bound_socket();
    cr_assert_eq(listen(h->listen_fd, 0), 0, "listen: %s", strerror(errno));
    h->port = port_of_fd(h->listen_fd);
    sin.sin_port = htons((uint16_t)h->port);
    h->n_fillers = 0;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert(fd >= 0);
        int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
        cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
        if (!connects_within(fd, 100)) {
            close(fd);
            return;
        }
        cr_assert(h->n_fillers < sizeof h->fillers / sizeof h->fillers[0],
                  "the accept queue of a backlog of 0 does not fill up");
        h->fillers[h->n_fillers++] = fd;
    }
}

static void hole_close(struct hole *h)
{
    for (size_t i = 0; i < h->n_fillers; i++)
        close(h->fillers[i]);
    close(h->listen_fd);
}

/* ----------------------------------------------------------------------
 * Logging in
 */

struct attempt {
    int status;
    char reason[1024];
    char lost_reason[1024];
    long long took_ms;
    int fds_added; /* open descriptors after the outcome, minus before */
};

/* Descriptors this process has open now. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    cr_assert_not_null(d, "/proc/self/fd: %s", strerror(errno));
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

struct login_opts {
    unsigned timeout_ms;  /* 0: 10 s, scaled */
    const char *ca;       /* tls: the CA file */
    const char *server_name;
    bool keep;            /* count descriptors before freeing the client */
};

/* Log in at `address` with mp_client_connect_wait, in own-loop mode. */
static struct attempt dial(const char *address, struct login_opts lo)
{
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct attempt a = { 0 };
    int err = 0;

    o.address = address;
    o.name = "alice";
    o.secret = SECRET;
    o.connect_timeout_ms = lo.timeout_ms ? lo.timeout_ms
                                         : (unsigned)mpt_ms(10000);
    o.tls_ca_file = lo.ca;
    o.tls_server_name = lo.server_name;
    struct mp_client *c = mp_client_new(NULL, &o, &err);
    cr_assert_not_null(c, "mp_client_new(%s): %s", address, mp_strerror(err));
    int before = count_fds();
    long long t0 = mpt_now_ms();
    a.status = mp_client_connect_wait(c, a.reason, sizeof a.reason);
    a.took_ms = mpt_now_ms() - t0;
    a.fds_added = count_fds() - before;
    snprintf(a.lost_reason, sizeof a.lost_reason, "%s",
             mp_client_lost_reason(c));
    mp_client_free(c);
    return a;
}

static const char *broker_address(struct harness *h, size_t listener,
                                   const char *scheme, const char *host)
{
    static char buf[128];

    snprintf(buf, sizeof buf, "%s:%s:%d", scheme, host,
             harness_listener(h, listener).port);
    return buf;
}

/* ----------------------------------------------------------------------
 * The tests
 */

/* The first address refuses, the second is the broker: logged in. The
 * library used to try the first address only. (That the refusal starts
 * the next attempt at once is timed below, with a black hole first.) */
Test(dial, refused_first_address_then_the_broker)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL LISTEN_BINARY);
    int closed_fd;
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", closed_port(&closed_fd) },
                                     { "127.0.0.1", 0 } };

    mpt_fake_resolve(MULTI, addrs, 2);
    struct attempt a = dial(broker_address(h, 0, "tcp", MULTI), (struct login_opts){ 0 });
    cr_assert_gt(mpt_fake_resolve_calls(), 0, "the fake resolver was not asked");
    cr_assert_eq(a.status, MP_OK, "%s (%s)", mp_strerror(a.status), a.reason);
    close(closed_fd);
    harness_stop(h);
}

/* The first address never answers: the second starts after the
 * connection attempt delay and wins, long before connect_timeout_ms; the
 * first attempt, racing until then, is closed. */
Test(dial, black_hole_first_then_the_broker)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL LISTEN_BINARY);
    struct hole hole;

    hole_open(&hole);
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", hole.port },
                                     { "127.0.0.1", 0 } };
    mpt_fake_resolve(MULTI, addrs, 2);
    unsigned timeout = (unsigned)mpt_ms(8000);
    struct attempt a = dial(broker_address(h, 0, "tcp", MULTI),
                            (struct login_opts){ .timeout_ms = timeout });
    cr_assert_eq(a.status, MP_OK, "%s (%s)", mp_strerror(a.status), a.reason);
    cr_assert_geq(a.took_ms, ATTEMPT_DELAY_MS - 10,
                  "logged in after %lld ms: the black hole cannot have "
                  "been tried first", a.took_ms);
    cr_assert_lt(a.took_ms, timeout / 4,
                 "logged in after %lld ms, with a connection attempt delay "
                 "of %d ms", a.took_ms, ATTEMPT_DELAY_MS);
    cr_assert_eq(a.fds_added, 1, "%d descriptors more after the login: the "
                 "losing attempt was not closed", a.fds_added);
    hole_close(&hole);
    harness_stop(h);
}

/* A refusal while an earlier attempt still races starts the next one at
 * once: black hole, refused, broker - the broker is reached one delay
 * after the start, not two. */
Test(dial, refusal_starts_the_next_attempt_at_once)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL LISTEN_BINARY);
    struct hole hole;
    int closed_fd;

    hole_open(&hole);
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", hole.port },
                                     { "127.0.0.1", closed_port(&closed_fd) },
                                     { "127.0.0.1", 0 } };
    mpt_fake_resolve(MULTI, addrs, 3);
    struct attempt a = dial(broker_address(h, 0, "tcp", MULTI), (struct login_opts){ 0 });
    cr_assert_eq(a.status, MP_OK, "%s (%s)", mp_strerror(a.status), a.reason);
    cr_assert_geq(a.took_ms, ATTEMPT_DELAY_MS - 10, "took %lld ms", a.took_ms);
    cr_assert_lt(a.took_ms, mpt_ms(2 * ATTEMPT_DELAY_MS - 50),
                 "took %lld ms: the refused attempt waited for the delay",
                 a.took_ms);
    close(closed_fd);
    hole_close(&hole);
    harness_stop(h);
}

/* Every address refuses: MP_ERR_CONNECT, at once, and the reason lists
 * each address in the order tried - families interleaved (RFC 8305
 * section 4), so the IPv6 address comes second - with what it gave. */
Test(dial, all_refused_names_every_address)
{
    int fd1, fd2, fd3;
    int p1 = closed_port(&fd1), p2 = closed_port(&fd2), p3 = closed_port(&fd3);
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", p1 },
                                     { "127.0.0.1", p2 },
                                     { "::1", p3 } };
    char address[64], want_start[160], want_v4[64];

    mpt_fake_resolve(MULTI, addrs, 3);
    snprintf(address, sizeof address, "tcp:" MULTI ":%d", p1);
    struct attempt a = dial(address, (struct login_opts){ 0 });
    cr_assert_eq(a.status, MP_ERR_CONNECT, "%s (%s)", mp_strerror(a.status),
                 a.reason);
    snprintf(want_start, sizeof want_start,
             "cannot connect to " MULTI ":%d: tried 127.0.0.1:%d (connection "
             "refused), [::1]:%d (", p1, p1, p3);
    snprintf(want_v4, sizeof want_v4, "), 127.0.0.1:%d (connection refused)", p2);
    cr_assert_eq(strncmp(a.reason, want_start, strlen(want_start)), 0,
                 "reason \"%s\" does not start \"%s\"", a.reason, want_start);
    cr_assert_not_null(strstr(a.reason + strlen(want_start), want_v4),
                       "reason \"%s\" does not go on with \"%s\"", a.reason,
                       want_v4);
    cr_assert_str_eq(a.lost_reason, a.reason);
    cr_assert_lt(a.took_ms, mpt_ms(ATTEMPT_DELAY_MS - 50),
                 "took %lld ms: refusals did not start the next at once",
                 a.took_ms);
    cr_assert_eq(a.fds_added, 0, "%d descriptors left open", a.fds_added);
    close(fd1);
    close(fd2);
    close(fd3);
}

/* No address answers: MP_ERR_TIMEOUT after connect_timeout_ms, and the
 * reason says which were tried. */
Test(dial, timeout_names_what_was_tried)
{
    struct hole h1, h2;

    hole_open(&h1);
    hole_open(&h2);
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", h1.port },
                                     { "127.0.0.1", h2.port } };
    char address[64], want[256];

    mpt_fake_resolve(MULTI, addrs, 2);
    snprintf(address, sizeof address, "tcp:" MULTI ":%d", h1.port);
    unsigned timeout = (unsigned)mpt_ms(800);
    struct attempt a = dial(address, (struct login_opts){ .timeout_ms = timeout });
    cr_assert_eq(a.status, MP_ERR_TIMEOUT, "%s (%s)", mp_strerror(a.status),
                 a.reason);
    snprintf(want, sizeof want,
             "no connection to " MULTI ":%d within %u ms: tried 127.0.0.1:%d "
             "(no answer), 127.0.0.1:%d (no answer)",
             h1.port, timeout, h1.port, h2.port);
    cr_assert_str_eq(a.reason, want);
    cr_assert_geq(a.took_ms, timeout - 10, "timed out after %lld ms", a.took_ms);
    cr_assert_eq(a.fds_added, 0, "%d descriptors left open", a.fds_added);
    hole_close(&h1);
    hole_close(&h2);
}

/* Debian's stock /etc/hosts: localhost is ::1, then 127.0.0.1. A broker
 * on 127.0.0.1 only is reached, over TLS (the certificate is checked
 * against "localhost") and plain TCP, whatever this machine's /etc/hosts
 * says. Where ::1 does not exist, its attempt fails at once: as good. */
Test(dial, localhost_in_debian_order)
{
    struct harness *h = harness_new();
    struct mpt_fake_addr addrs[] = { { "::1", 0 }, { "127.0.0.1", 0 } };
    char ca[512];

    mpt_make_certs(h);
    harness_boot(h, MPT_AUTH_ALLOW_ALL LISTEN_TLS_AND_TCP);
    snprintf(ca, sizeof ca, "%s/ca.pem", harness_dir(h));
    mpt_fake_resolve("localhost", addrs, 2);

    struct attempt a = dial(broker_address(h, 0, "tls", "localhost"),
                            (struct login_opts){ .ca = ca });
    cr_assert_eq(a.status, MP_OK, "tls: %s (%s)", mp_strerror(a.status), a.reason);
    unsigned calls = mpt_fake_resolve_calls();
    cr_assert_gt(calls, 0, "localhost was not answered by the fake resolver");

    a = dial(broker_address(h, 1, "tcp", "localhost"), (struct login_opts){ 0 });
    cr_assert_eq(a.status, MP_OK, "tcp: %s (%s)", mp_strerror(a.status), a.reason);
    cr_assert_gt(mpt_fake_resolve_calls(), calls);
    harness_stop(h);
}

/* TLS verifies the name in the address, never the address it resolved
 * to: a name the certificate does not carry fails, even though the
 * certificate names 127.0.0.1, unless tls_server_name says otherwise. */
Test(dial, tls_checks_the_name_not_the_address)
{
    struct harness *h = harness_new();
    struct mpt_fake_addr addrs[] = { { "127.0.0.1", 0 } };
    char ca[512];

    mpt_make_certs(h);
    harness_boot(h, MPT_AUTH_ALLOW_ALL LISTEN_TLS_AND_TCP);
    snprintf(ca, sizeof ca, "%s/ca.pem", harness_dir(h));
    mpt_fake_resolve(MULTI, addrs, 1);

    struct attempt a = dial(broker_address(h, 0, "tls", MULTI),
                            (struct login_opts){ .ca = ca });
    cr_assert_eq(a.status, MP_ERR_TLS, "%s (%s)", mp_strerror(a.status), a.reason);
    a = dial(broker_address(h, 0, "tls", MULTI),
             (struct login_opts){ .ca = ca, .server_name = "localhost" });
    cr_assert_eq(a.status, MP_OK, "%s (%s)", mp_strerror(a.status), a.reason);
    harness_stop(h);
}
