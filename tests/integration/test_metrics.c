/*
 * Integration tests: the metrics listener (config `metrics`): /metrics in
 * the Prometheus text exposition format, checked line by line by a strict
 * parser here, counters that move with traffic, and /healthz.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httpclient.h"
#include "rawclient.h"

TestSuite(metrics, .fini = harness_reap_all, .timeout = 60);

#define CONFIG                                                               \
    MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY                                \
    "metrics = { address = \"127.0.0.1\"; port = 0; };\n"

/* METHOD path over HTTP/1.0, read to the end. */
static struct http_response http_get(struct harness *h, const char *method,
                                     const char *path)
{
    char request[256];
    struct http_response r;

    snprintf(request, sizeof request, "%s %s HTTP/1.0\r\nHost: x\r\n\r\n",
             method, path);
    r = http_exchange(http_metrics_port(h), request);
    cr_assert_neq(r.status, 0, "no status line in: %s", r.headers);
    return r;
}

/* ------------------------------------------------------------------------
 * A strict reader of the text exposition format (version 0.0.4): every
 * line is "# HELP name text", "# TYPE name counter|gauge", or a sample
 * "name{label="value",...} number" of a family whose TYPE came before;
 * counters end in _total; no family is declared twice; the body ends
 * with a newline.
 */

#define MAX_FAMILIES 64

struct exposition {
    char families[MAX_FAMILIES][96];
    char types[MAX_FAMILIES][16];
    size_t n;
};

static regex_t sample_re, help_re, type_re;

static void compile_regexes(void)
{
    const char *name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    const char *label = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\"";
    char sample[512];

    snprintf(sample, sizeof sample,
             "^(%s)(\\{%s(,%s)*\\})? (-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$",
             name, label, label);
    cr_assert_eq(regcomp(&sample_re, sample, REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&help_re, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]+$",
                         REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&type_re,
                         "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge)$",
                         REG_EXTENDED), 0);
}

static void free_regexes(void)
{
    regfree(&sample_re);
    regfree(&help_re);
    regfree(&type_re);
}

static void parse_exposition(const char *body, struct exposition *e)
{
    const char *p = body;

    memset(e, 0, sizeof *e);
    cr_assert(body[0] != '\0' && body[strlen(body) - 1] == '\n',
              "the body does not end with a newline");
    while (*p != '\0') {
        const char *end = strchr(p, '\n');
        char line[1024];
        regmatch_t m[2];
        size_t n = (size_t)(end - p);

        cr_assert(n < sizeof line, "line too long");
        memcpy(line, p, n);
        line[n] = '\0';
        p = end + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert_eq(regexec(&help_re, line, 0, NULL, 0), 0, "bad HELP: %s", line);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[96], type[16];
            cr_assert_eq(regexec(&type_re, line, 0, NULL, 0), 0, "bad TYPE: %s", line);
            cr_assert_eq(sscanf(line, "# TYPE %95s %15s", name, type), 2);
            for (size_t i = 0; i < e->n; i++)
                cr_assert_str_neq(e->families[i], name, "%s declared twice", name);
            cr_assert(e->n < MAX_FAMILIES);
            if (strcmp(type, "counter") == 0)
                cr_assert(strlen(name) > 6 &&
                          strcmp(name + strlen(name) - 6, "_total") == 0,
                          "counter %s does not end in _total", name);
            snprintf(e->families[e->n], sizeof e->families[0], "%s", name);
            snprintf(e->types[e->n], sizeof e->types[0], "%s", type);
            e->n++;
            continue;
        }
        cr_assert_eq(regexec(&sample_re, line, 2, m, 0), 0, "bad sample: \"%s\"", line);
        cr_assert(e->n > 0 &&
                  (size_t)(m[1].rm_eo - m[1].rm_so) == strlen(e->families[e->n - 1]) &&
                  strncmp(line, e->families[e->n - 1], strlen(e->families[e->n - 1])) == 0,
                  "sample outside its family's block: %s", line);
    }
}

/* The value of the sample line starting with `prefix` (name and labels). */
static double value_of(const char *body, const char *prefix)
{
    char want[512];
    const char *p;

    snprintf(want, sizeof want, "\n%s ", prefix);
    p = strstr(body, want);
    cr_assert_not_null(p, "no sample %s in:\n%s", prefix, body);
    return strtod(p + strlen(want), NULL);
}

static struct http_response scrape(struct harness *h, struct exposition *e)
{
    struct http_response r = http_get(h, "GET", "/metrics");

    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "Content-Type: text/plain; version=0.0.4") != NULL,
              "headers: %s", r.headers);
    parse_exposition(r.body, e);
    return r;
}

Test(metrics, exposition_is_well_formed_and_complete, .init = compile_regexes,
     .fini = free_regexes)
{
    static const char *const families[] = {
        "mpbroker_build_info", "mpbroker_uptime_seconds", "mpbroker_clients",
        "mpbroker_connections", "mpbroker_messages_received_total",
        "mpbroker_received_bytes_total", "mpbroker_messages_sent_total",
        "mpbroker_sent_bytes_total", "mpbroker_auth_successes_total",
        "mpbroker_auth_failures_total", "mpbroker_connections_opened_total",
        "mpbroker_bounced_messages_total",
        "mpbroker_slow_consumer_disconnects_total",
        "mpbroker_backpressure_stalls_total", "mpbroker_auth_busy_total",
        "mpbroker_auth_blocked_total",
        "mpbroker_auth_queued",
    };
    struct harness *h = harness_start(CONFIG);
    struct exposition e;
    struct http_response r = scrape(h, &e);

    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        size_t j = 0;
        while (j < e.n && strcmp(e.families[j], families[i]) != 0)
            j++;
        cr_assert_lt(j, e.n, "family %s missing", families[i]);
    }
    cr_assert(strstr(r.body, "mpbroker_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
    free(r.headers);
    harness_stop(h);
}

Test(metrics, counters_move_with_traffic, .init = compile_regexes,
     .fini = free_regexes)
{
    struct harness *h = harness_start(CONFIG);
    struct harness_listener lj = harness_listener(h, 0), lb = harness_listener(h, 1);
    char jlabel[128], blabel[128], key[256];
    struct exposition e;
    struct http_response before, after;

    snprintf(jlabel, sizeof jlabel, "listener=\"tcp:%s:%d\"", lj.host, lj.port);
    snprintf(blabel, sizeof blabel, "listener=\"tcp:%s:%d\"", lb.host, lb.port);
    before = scrape(h, &e);
    snprintf(key, sizeof key, "mpbroker_messages_received_total{%s,format=\"binary\"}", blabel);
    cr_assert_eq(value_of(before.body, key), 0);

    struct rc_client *a = rc_login_any(h, 1, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, 0, RC_JSON, "b");
    rc_open_conn(a, b, "a:1", "chat");
    for (int i = 0; i < 3; i++) {
        cr_assert(rc_send(a, RC_DATA, "b", "a:1", rc_str("hello")));
        rc_expect(b, RC_DATA, "a", "a:1", rc_str("hello"));
    }
    /* A bounce: Data on a connection that does not exist. */
    cr_assert(rc_send(a, RC_DATA, "b", "a:99", rc_str("x")));
    rc_expect(a, RC_NO_SUCH_CONN, "b", "a:99", rc_str("x"));
    after = scrape(h, &e);

    /* a sent Auth, Syn, 3 Data and the stray Data on the binary listener. */
    snprintf(key, sizeof key, "mpbroker_messages_received_total{%s,format=\"binary\"}", blabel);
    cr_assert_eq(value_of(after.body, key), 6);
    /* b got the Syn and 3 Data (and AuthOk) on the json listener. */
    snprintf(key, sizeof key, "mpbroker_messages_sent_total{%s,format=\"json\"}", jlabel);
    cr_assert_eq(value_of(after.body, key), 5);
    snprintf(key, sizeof key, "mpbroker_sent_bytes_total{%s,format=\"json\"}", jlabel);
    cr_assert_gt(value_of(after.body, key), 5 * 40);
    snprintf(key, sizeof key, "mpbroker_clients{%s,state=\"ready\"}", blabel);
    cr_assert_eq(value_of(after.body, key), 1);
    cr_assert_eq(value_of(after.body, "mpbroker_connections"), 1);
    cr_assert_eq(value_of(after.body, "mpbroker_connections_opened_total"), 1);
    cr_assert_eq(value_of(after.body, "mpbroker_auth_successes_total"), 2);
    cr_assert_eq(value_of(after.body, "mpbroker_bounced_messages_total"), 1);
    cr_assert_eq(value_of(after.body, "mpbroker_auth_failures_total"), 0);
    free(before.headers);
    free(after.headers);
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

/* Every other method HTTP defines, as mpbroker.conf(5) and config.md
 * list them: 405 with Allow, on both paths; any other method: 501. */
Test(metrics, methods_but_get_and_head_are_refused_as_documented)
{
    static const char *const defined[] = { "POST", "PUT", "DELETE",
                                           "OPTIONS", "TRACE", "CONNECT",
                                           "PATCH" };
    static const char *const unknown[] = { "PROPFIND", "BREW", "LINK" };
    static const char *const paths[] = { "/metrics", "/healthz" };
    struct harness *h = harness_start(CONFIG);
    struct http_response r;

    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof defined / sizeof defined[0]; i++) {
            r = http_get(h, defined[i], paths[p]);
            cr_assert_eq(r.status, 405, "%s %s got %d", defined[i], paths[p],
                         r.status);
            cr_assert(strstr(r.headers, "\r\nAllow: GET, HEAD\r\n") != NULL,
                      "%s %s: %s", defined[i], paths[p], r.headers);
            free(r.headers);
        }
        for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
            r = http_get(h, unknown[i], paths[p]);
            cr_assert_eq(r.status, 501, "%s %s got %d", unknown[i], paths[p],
                         r.status);
            free(r.headers);
        }
    }
    harness_stop(h);
}

Test(metrics, healthz_and_other_paths)
{
    struct harness *h = harness_start(CONFIG);
    struct http_response r = http_get(h, "GET", "/healthz");

    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    free(r.headers);
    r = http_get(h, "GET", "/nothing");
    cr_assert_eq(r.status, 404);
    free(r.headers);
    /* Known methods but GET and HEAD: 405 with the methods allowed. */
    r = http_get(h, "POST", "/metrics");
    cr_assert_eq(r.status, 405, "POST got %d", r.status);
    cr_assert(strstr(r.headers, "\r\nAllow: GET, HEAD") != NULL, "%s", r.headers);
    free(r.headers);
    r = http_get(h, "DELETE", "/healthz");
    cr_assert_eq(r.status, 405, "DELETE got %d", r.status);
    free(r.headers);
    /* A method HTTP does not define: 501, as RFC 9110 says. */
    r = http_get(h, "BREW", "/metrics");
    cr_assert_eq(r.status, 501, "BREW got %d", r.status);
    free(r.headers);
    /* HEAD: the headers of GET, no body. */
    r = http_get(h, "HEAD", "/metrics");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "");
    free(r.headers);
    harness_stop(h);
}

Test(metrics, config_errors)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_config(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                            "metrics = { port = 70000; path = \"/x\";\n"
                                            "            max_connections = 0; timeout_ms = 50;\n"
                                            "            max_header_size = 100; };\n");
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;

    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), &r));
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "metrics.port: must be between 0 and 65535"), "%s", r.err);
    cr_assert(strstr(r.err, "metrics.path: unknown setting 'path'"), "%s", r.err);
    cr_assert(strstr(r.err, "metrics.max_connections: must be between 1 and 4096"), "%s", r.err);
    cr_assert(strstr(r.err, "metrics.timeout_ms: must be between 100 and 3600000"), "%s", r.err);
    cr_assert(strstr(r.err, "metrics.max_header_size: must be between 1024 and 1048576"), "%s", r.err);
    run_result_free(&r);
    harness_free(h);
}

/* ------------------------------------------------------------------------
 * Hostile HTTP clients: every limit of the metrics group, each with a
 * small value so that it is reached at once. Everyone else - the next
 * scrape, client logins - must keep being served.
 */

#define LIMITED(settings)                                                    \
    MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY                                \
    "metrics = { address = \"127.0.0.1\"; port = 0; " settings " };\n"

#define MIB (1024 * 1024)

/* The broker still answers a scrape and lets a client log in. */
static void still_serving(struct harness *h)
{
    struct http_response r = http_get(h, "GET", "/healthz");

    cr_assert_eq(r.status, 200);
    free(r.headers);
    rc_close(rc_login_any(h, 0, RC_JSON, "bystander"));
}

/* The value of a sample with no labels, scraped now. */
static double scraped(struct harness *h, const char *name)
{
    struct http_response r = http_get(h, "GET", "/metrics");
    char *body = NULL;
    double v;

    cr_assert_eq(r.status, 200);
    cr_assert_gt(asprintf(&body, "\n%s", r.body), 0);
    v = value_of(body, name);
    free(body);
    free(r.headers);
    return v;
}

/* Send `prefix` and then `filler` for ever (up to 64 MiB): the broker
 * must close the connection, its RSS growing by less than 2 MiB. */
static void flood_is_cut(struct harness *h, const char *what,
                         const char *prefix, const char *filler)
{
    long before = harness_broker_kib(h, "VmRSS"), grew;
    bool closed;
    size_t sent = http_send_until_closed(http_metrics_port(h), prefix, filler,
                                         64 * MIB, &closed);

    grew = harness_broker_kib(h, "VmRSS") - before;
    cr_log_info("%s: %zu bytes sent before the close; RSS grew by %ld KiB",
                what, sent, grew);
    cr_assert(closed, "the broker took %zu bytes of %s without closing the "
              "connection (RSS grew by %ld KiB)", sent, what, grew);
    if (!harness_rss_unreliable())
        cr_assert_lt(grew, 2 * 1024, "RSS grew by %ld KiB", grew);
}

/* Before: one connection sending headers for ever took the broker from
 * 5.5 MB to 1 GB in 6 s. Now the request is cut at max_header_size. */
Test(metrics, endless_headers_are_cut_at_max_header_size)
{
    struct harness *h = harness_start(LIMITED("max_header_size = 4096;"));

    flood_is_cut(h, "headers", "GET /metrics HTTP/1.1\r\nHost: x\r\n",
                 "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    cr_assert_geq(scraped(h, "mpbroker_http_unanswered_total"), 1);
    still_serving(h);
    harness_stop(h);
}

/* Before: a 300 MB body was read whole (337 MB held). Now a request may
 * carry no body at all: 413, and the connection is closed. */
Test(metrics, a_request_body_is_refused)
{
    struct harness *h = harness_start(LIMITED(""));
    struct http_response r;

    flood_is_cut(h, "body", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 300000000\r\n\r\n", "0123456789abcdef");
    /* A small one, sent whole, gets its answer. */
    r = http_exchange(http_metrics_port(h), "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 5\r\n\r\nhello");
    cr_assert_eq(r.status, 413, "%s", r.headers);
    http_response_free(&r);
    still_serving(h);
    harness_stop(h);
}

/* Wait for the broker to close fd; returns the ms it took, -1 if it did
 * not within limit_ms. Every `trickle_ms` (if > 0) one more header line
 * is sent, as a slow-loris client does. */
static long long wait_closed(int fd, int limit_ms, int trickle_ms)
{
    long long t0 = mpt_now_ms();

    while (mpt_now_ms() - t0 < limit_ms) {
        char buf[512];
        int wait = trickle_ms > 0 ? trickle_ms : limit_ms;
        if (http_readable(fd, wait)) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                return mpt_now_ms() - t0;
            continue; /* an error page: the end comes next */
        }
        if (trickle_ms > 0 && send(fd, "X: y\r\n", 6, MSG_NOSIGNAL) < 0)
            return mpt_now_ms() - t0;
    }
    return -1;
}

/* Before: idle and half-sent connections stayed open for ever. Now each
 * connection has timeout_ms to deliver its request, trickling or not. */
Test(metrics, slow_and_idle_connections_are_closed_after_timeout_ms)
{
    struct harness *h = harness_start(LIMITED("timeout_ms = 500;"));
    int port = http_metrics_port(h);
    int idle = http_connect(port), slow = http_connect(port);
    long long idle_ms, slow_ms;

    http_send(slow, "GET /metrics HTTP/1.1\r\n");
    slow_ms = wait_closed(slow, mpt_ms(5000), 100);
    idle_ms = wait_closed(idle, mpt_ms(5000), 0);
    cr_log_info("timeout_ms 500: slow client closed after %lld ms, idle one "
                "%lld ms later", slow_ms, idle_ms);
    cr_assert_neq(slow_ms, -1, "a client sending a header line every 100 ms "
                  "was not closed within %d ms", mpt_ms(5000));
    cr_assert_neq(idle_ms, -1, "an idle client was not closed");
    cr_assert_geq(slow_ms, 400, "closed before its time: %lld ms", slow_ms);
    close(slow);
    close(idle);
    cr_assert_geq(scraped(h, "mpbroker_http_timeouts_total"), 2);
    still_serving(h);
    harness_stop(h);
}

/* Before: no cap (300 idle connections made client logins time out at
 * nofile=256). Now at most max_connections are open; the next one waits
 * in the kernel's backlog, holding no descriptor of the broker, until
 * one of them closes. */
Test(metrics, connections_past_max_connections_wait)
{
    struct harness *h = harness_start(LIMITED("max_connections = 3; "
                                              "timeout_ms = 60000;"));
    int port = http_metrics_port(h), held[3], next;
    struct http_response r;

    for (int i = 0; i < 3; i++) {
        held[i] = http_connect(port);
        http_send(held[i], "GET /metrics HTTP/1.1\r\n");
    }
    cr_assert(harness_wait_log(h, "3 connections open (max_connections)",
                               mpt_ms(MPT_MSG_MS)),
              "no log line about max_connections");
    next = http_connect(port);
    http_send(next, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_not(http_readable(next, 300), "the 4th connection was served "
                  "while 3 were open");
    /* Client logins do not wait. */
    rc_close(rc_login_any(h, 1, RC_BINARY, "client"));
    close(held[0]);
    r = http_read_response(next, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(r.status, 200, "%s", r.headers);
    http_response_free(&r);
    close(held[1]);
    close(held[2]);
    cr_assert_geq(scraped(h, "mpbroker_http_connection_limit_total"), 1);
    still_serving(h);
    harness_stop(h);
}

/* One request a connection: an HTTP/1.1 answer says so and closes. */
Test(metrics, one_request_per_connection)
{
    struct harness *h = harness_start(LIMITED(""));
    struct http_response r = http_exchange(http_metrics_port(h),
                                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");

    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "\r\nConnection: close") != NULL, "%s", r.headers);
    cr_assert_str_eq(r.body, "ok\n", "a second answer came: %s", r.body);
    http_response_free(&r);
    /* evhttp keeps a connection open after CONNECT (a tunnel), whatever
     * the headers say: the broker closes it. Found by fuzz_http. */
    r = http_exchange(http_metrics_port(h), "CONNECT x:1 HTTP/1.1\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 405);
    cr_assert_null(strstr(r.body, "HTTP/1."), "a second answer came: %s", r.body);
    http_response_free(&r);
    harness_stop(h);
}

/* The broker's soft RLIMIT_NOFILE of this test's (inherited) is raised to
 * what the config needs, the metrics listener's connections counted; with
 * a hard limit below that, a warning names the settings. */
#define FD_CONFIG                                                            \
    "limits = { max_clients = 1000; };\n"                                    \
    LIMITED("max_connections = 64;")
#define FD_NEED "1099" /* 1000 + 64 + 1 + 2 listeners + 32 in reserve */

Test(metrics, descriptor_planning_counts_the_metrics_listener)
{
    const char *wrapper = getenv("MP_BROKER_WRAPPER");
    struct rlimit rl;
    struct harness *h;

    if (wrapper != NULL && *wrapper != '\0')
        cr_skip_test("valgrind keeps descriptors and limits of its own");
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_max, 1200, "the hard limit is too low to test");
    rl.rlim_cur = 256;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    h = harness_start(FD_CONFIG);
    cr_assert(harness_log_contains(h, "raised the descriptor limit "
                                      "(RLIMIT_NOFILE) to " FD_NEED));
    harness_stop(h);

    rl.rlim_cur = rl.rlim_max = 512;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    h = harness_start(FD_CONFIG);
    cr_assert(harness_log_contains(h, "the descriptor limit (RLIMIT_NOFILE) "
                                      "is 512, but limits.max_clients (1000), "
                                      "metrics.max_connections (64) and 2 "
                                      "listeners need about " FD_NEED),
              "no warning about the descriptor limit");
    harness_stop(h);
}

/* A reload that keeps the address and port keeps the server (and its
 * open connections) and applies the new limits to the next ones. */
Test(metrics, a_reload_changes_the_limits_in_place)
{
    struct harness *h = harness_start(LIMITED(""));
    int port = http_metrics_port(h), held, next;
    size_t mark = harness_log_mark(h);
    struct http_response r;

    held = http_connect(port);
    http_send(held, "GET /metrics HTTP/1.1\r\n");
    harness_write_config(h, LIMITED("max_connections = 2; timeout_ms = 60000;"));
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "metrics.max_connections 16 -> 2",
                                    mpt_ms(MPT_MSG_MS)));
    cr_assert(harness_log_contains(h, "metrics.timeout_ms 10000 -> 60000"));
    cr_assert_not(harness_log_contains(h, "metrics listener"),
                  "the server was replaced");
    cr_assert_eq(http_metrics_port(h), port);
    next = http_connect(port);
    http_send(next, "GET /metrics HTTP/1.1\r\n");
    cr_assert(harness_wait_log_from(h, mark, "2 connections open (max_connections)",
                                    mpt_ms(MPT_MSG_MS)));
    /* The one opened before the reload is still served. */
    http_send(held, "Host: x\r\n\r\n");
    r = http_read_response(held, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(r.status, 200);
    http_response_free(&r);
    close(next);
    harness_stop(h);
}
