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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(metrics, .fini = harness_reap_all, .timeout = 60);

#define CONFIG                                                               \
    MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY                                \
    "metrics = { address = \"127.0.0.1\"; port = 0; };\n"

/* The port from "info: metrics on http://127.0.0.1:PORT/metrics". */
static int metrics_port(struct harness *h)
{
    char *log = harness_log_text(h);
    const char *p = strstr(log, "metrics on http://127.0.0.1:");
    int port = 0;

    cr_assert_not_null(p, "no metrics line in the log:\n%s", log);
    port = atoi(p + strlen("metrics on http://127.0.0.1:"));
    free(log);
    cr_assert_gt(port, 0);
    return port;
}

struct response {
    int status;
    char *headers;
    char *body;
};

/* GET `path` over HTTP/1.0 and read to the end. */
static struct response http_get(struct harness *h, const char *method,
                                const char *path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)metrics_port(h))};
    struct response r = {0};
    char request[256], *all = NULL, *split;
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0,
              "connect: %s", strerror(errno));
    snprintf(request, sizeof request, "%s %s HTTP/1.0\r\nHost: x\r\n\r\n",
             method, path);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char chunk[4096];
        ssize_t n;
        cr_assert_eq(poll(&p, 1, mpt_ms(MPT_MSG_MS)), 1, "no HTTP answer");
        n = read(fd, chunk, sizeof chunk);
        cr_assert(n >= 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        all = realloc(all, len + (size_t)n + 1);
        cr_assert_not_null(all);
        memcpy(all + len, chunk, (size_t)n);
        len += (size_t)n;
        all[len] = '\0';
    }
    close(fd);
    cr_assert_not_null(all, "empty HTTP answer");
    cr_assert_eq(sscanf(all, "HTTP/1.%*d %d", &r.status), 1, "%s", all);
    split = strstr(all, "\r\n\r\n");
    cr_assert_not_null(split, "no end of headers: %s", all);
    *split = '\0';
    r.headers = all;
    r.body = split + 4;
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

static struct response scrape(struct harness *h, struct exposition *e)
{
    struct response r = http_get(h, "GET", "/metrics");

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
        "mpbroker_auth_queued",
    };
    struct harness *h = harness_start(CONFIG);
    struct exposition e;
    struct response r = scrape(h, &e);

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
    struct response before, after;

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

Test(metrics, healthz_and_other_paths)
{
    struct harness *h = harness_start(CONFIG);
    struct response r = http_get(h, "GET", "/healthz");

    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    free(r.headers);
    r = http_get(h, "GET", "/nothing");
    cr_assert_eq(r.status, 404);
    free(r.headers);
    r = http_get(h, "POST", "/metrics");
    cr_assert(r.status == 405 || r.status == 501, "POST got %d", r.status);
    free(r.headers);
    harness_stop(h);
}

Test(metrics, config_errors)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_config(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                            "metrics = { port = 70000; path = \"/x\"; };\n");
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;

    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), &r));
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "metrics.port: must be between 0 and 65535"), "%s", r.err);
    cr_assert(strstr(r.err, "metrics.path: unknown setting 'path'"), "%s", r.err);
    run_result_free(&r);
    harness_free(h);
}
