/*
 * Integration tests: SIGHUP re-reads the config file. A broken file keeps
 * the running configuration; a good one is applied without dropping the
 * logged-in sessions: authenticators re-initialized with their new
 * options, listeners added and removed, limits and log level changed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httpclient.h"
#include "rawclient.h"

TestSuite(reload, .fini = harness_reap_all, .timeout = 60);

#define JSON 0
#define BINARY 1

/* Rewrite the config with `body` and send SIGHUP; wait for `want`. */
static void reload_with(struct harness *h, const char *body, const char *want)
{
    size_t mark = harness_log_mark(h);

    harness_write_config(h, body);
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, want, mpt_ms(MPT_MSG_MS)),
              "no \"%s\" after SIGHUP", want);
}

/* alice and bob exchange one message on an open connection. */
static void still_talking(struct rc_client *a, struct rc_client *b,
                          const char *id, const char *text)
{
    cr_assert(rc_send(a, RC_DATA, rc_name(b), id, rc_str(text)));
    rc_expect(b, RC_DATA, rc_name(a), id, rc_str(text));
}

Test(reload, a_broken_config_keeps_the_running_one)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct rc_client *a = rc_login_any(h, JSON, RC_JSON, "a");
    struct rc_client *b = rc_login_any(h, BINARY, RC_BINARY, "b");
    struct rc_client *c;
    char want[64];

    rc_open_conn(a, b, "a:1", "chat");
    reload_with(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                   "limits = { max_clients = \"many\"; };\n"
                   "bogus = 1;\n",
                "reload failed: still running on the configuration loaded before");
    /* Every error, with its file and line. */
    snprintf(want, sizeof want, "mpbroker.conf:%d: limits.max_clients",
             HARNESS_PROLOGUE_LINES + 4);
    cr_assert(harness_log_contains(h, want), "no \"%s\" in the log", want);
    cr_assert(harness_log_contains(h, "unknown setting 'bogus'"));
    still_talking(a, b, "a:1", "after a broken reload");
    c = rc_login_any(h, BINARY, RC_BINARY, "c");
    rc_close(c);
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

#define PASSWD_AUTH(FILE)                                                    \
    "authenticators = ( { module = \"auth_passwd.so\";"                       \
    " options = { file = \"@DIR@/" FILE "\"; }; } );\n"

Test(reload, new_authenticator_options_apply_to_new_logins_only)
{
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "a-secret");
    char *bob = harness_passwd_entry("bob", "b-secret");
    char *carol = harness_passwd_entry("carol", "c-secret");
    char text[1024];
    struct rc_client *a, *b, *c, *x;

    snprintf(text, sizeof text, "%s\n%s\n", alice, bob);
    harness_write_file(h, "old.passwd", text);
    snprintf(text, sizeof text, "%s\n%s\n", bob, carol);
    harness_write_file(h, "new.passwd", text);
    free(alice);
    free(bob);
    free(carol);
    harness_boot(h, PASSWD_AUTH("old.passwd") MPT_LISTEN_JSON_BINARY);
    a = rc_login(h, BINARY, RC_BINARY, "alice", "a-secret");
    b = rc_login(h, JSON, RC_JSON, "bob", "b-secret");
    rc_open_conn(a, b, "alice:1", "chat");

    reload_with(h, PASSWD_AUTH("new.passwd") MPT_LISTEN_JSON_BINARY,
                "configuration reloaded: 1 authenticator re-initialized");
    /* The new file decides new logins... */
    c = rc_login(h, BINARY, RC_BINARY, "carol", "c-secret");
    x = rc_connect(h, BINARY, RC_BINARY);
    cr_assert(rc_send(x, RC_AUTH, "alice", "", rc_str("a-secret")));
    rc_expect_auth_failure(x, "invalid name or secret");
    rc_close(x);
    /* ...and alice, logged in before, keeps talking. */
    still_talking(a, b, "alice:1", "still here");
    still_talking(b, a, "alice:1", "and back");
    rc_close(a);
    rc_close(b);
    rc_close(c);
    harness_stop(h);
}

Test(reload, listeners_are_added_and_removed)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct harness_listener json = harness_listener(h, JSON);
    struct rc_client *a = rc_login_any(h, JSON, RC_JSON, "a");
    struct rc_client *b, *u, *refused;
    char body[1024];
    size_t unix_listener;

    snprintf(body, sizeof body, "%s%s", MPT_AUTH_ALLOW_ALL,
             "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n"
             "              { unix = \"@DIR@/new.sock\"; translator = \"binary\"; } );\n");
    reload_with(h, body, "configuration reloaded");
    cr_assert(harness_log_contains(h, "1 listener added"));
    cr_assert(harness_log_contains(h, "1 listener removed"));
    cr_assert(harness_wait_log(h, "no longer listening on tcp:", mpt_ms(MPT_MSG_MS)));
    unix_listener = harness_listener_count(h) - 1;
    cr_assert(harness_listener(h, unix_listener).is_unix);
    /* The new socket serves; the removed port no longer does; the client
     * that came through it is still there. */
    u = rc_login_any(h, unix_listener, RC_BINARY, "u");
    b = rc_login_any(h, BINARY, RC_BINARY, "b");
    refused = rc_connect_tcp(json.host, json.port, RC_JSON);
    cr_assert_null(refused, "the removed listener still accepts");
    rc_open_conn(u, a, "u:1", "chat");
    still_talking(u, a, "u:1", "from the new socket");
    still_talking(a, u, "u:1", "from the old port");
    rc_close(a);
    rc_close(b);
    rc_close(u);
    harness_stop(h);
}

Test(reload, limits_and_log_level_apply_at_once)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct rc_client *a = rc_login_any(h, BINARY, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, BINARY, RC_BINARY, "b");
    static char big[2000];

    rc_open_conn(a, b, "a:1", "chat");
    memset(big, 'x', sizeof big - 1);
    still_talking(a, b, "a:1", big);
    reload_with(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                   "limits = { max_message_size = 1024; };\n"
                   "log = { level = \"debug\"; };\n",
                "configuration reloaded");
    cr_assert(harness_log_contains(h, "max_message_size 1048576 -> 1024"));
    cr_assert(harness_log_contains(h, "log.level info -> debug"));
    /* The new limit holds for a session that logged in before it. */
    cr_assert(rc_send(a, RC_DATA, "b", "a:1", rc_str(big)));
    rc_expect_closed(a, RC_WAT);
    rc_close(rc_login_any(h, BINARY, RC_BINARY, "c"));
    cr_assert(harness_wait_log(h, "debug: connection from", mpt_ms(MPT_MSG_MS)),
              "no debug line after the reload");
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

Test(reload, changing_translators_needs_a_restart)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);

    /* The harness's prologue defines json and binary; a body may not
     * redefine them, so write the whole file. */
    harness_write_file(h, "mpbroker.conf",
        "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
        "translators = ( { name = \"json\"; module = \"translator_json.so\"; } );\n"
        MPT_AUTH_ALLOW_ALL
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n");
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log(h, "mpbroker.conf:2: translators: changing "
                                  "the wire formats needs a restart",
                               mpt_ms(MPT_MSG_MS)));
    cr_assert(harness_wait_log(h, "reload failed", mpt_ms(MPT_MSG_MS)));
    rc_close(rc_login_any(h, BINARY, RC_BINARY, "still"));
    harness_stop(h);
}

/* The hashing queue's limits reload; the number of workers does not (the
 * threads are running). */
Test(reload, auth_queue_limits_reload_but_workers_need_a_restart)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);

    reload_with(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                   "limits = { auth_queue_max = 8; auth_queue_per_source = 2; };\n",
                "configuration reloaded");
    cr_assert(harness_log_contains(h, "auth_queue_max 64 -> 8"));
    cr_assert(harness_log_contains(h, "auth_queue_per_source 4 -> 2"));
    reload_with(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                   "limits = { auth_workers = 3; };\n",
                "limits.auth_workers: changing it needs a restart");
    cr_assert(harness_wait_log(h, "reload failed", mpt_ms(MPT_MSG_MS)));
    rc_close(rc_login_any(h, BINARY, RC_BINARY, "still"));
    harness_stop(h);
}

/* A TCP socket listening on 127.0.0.1 on a port the kernel picks: the
 * "busy port" a reload must not be able to take. Returns the fd. */
static int occupy_port(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                  listen(fd, 1) == 0 &&
                  getsockname(fd, (struct sockaddr *)&sa, &len) == 0,
              "busy socket: %s", strerror(errno));
    *port = ntohs(sa.sin_port);
    return fd;
}

static void metrics_answer_on(int port)
{
    struct http_response r = http_exchange(port, "GET /metrics HTTP/1.0\r\n\r\n");

    cr_assert_eq(r.status, 200, "port %d: %s", port, r.headers);
    http_response_free(&r);
}

/* A reload with `body` fails, logging `error`; nothing of it applies. */
static void reload_fails(struct harness *h, const char *body,
                         const char *error)
{
    reload_with(h, body, "reload failed: still running on the configuration "
                         "loaded before");
    cr_assert(harness_log_contains(h, error), "no \"%s\" in the log", error);
    cr_assert_not(harness_log_contains(h, "configuration reloaded"));
    cr_assert_not(harness_log_contains(h, "no longer listening"));
}

#define METRICS_ON(port) "metrics = { address = \"127.0.0.1\"; port = " port "; };\n"

/* Before: the old metrics listener was closed, the new one failed to
 * bind, and the reload logged success - metrics were gone. Now the new
 * socket is bound before anything changes. */
Test(reload, metrics_on_a_busy_port_fails_the_reload)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                      METRICS_ON("0"));
    int old_port = http_metrics_port(h), busy_port;
    int busy = occupy_port(&busy_port);
    char body[1024], want[128];

    snprintf(body, sizeof body, "%s%s%s", MPT_AUTH_ALLOW_ALL,
             MPT_LISTEN_JSON_BINARY "limits = { max_clients = 77; };\n",
             "metrics = { address = \"127.0.0.1\"; port = ");
    snprintf(body + strlen(body), sizeof body - strlen(body), "%d; };\n",
             busy_port);
    snprintf(want, sizeof want, "metrics.port: cannot listen on 127.0.0.1 "
             "port %d: Address already in use", busy_port);
    reload_fails(h, body, want);
    metrics_answer_on(old_port);
    /* The rest of that file was not applied either. */
    cr_assert_not(harness_log_contains(h, "max_clients 10000 -> 77"));

    /* Once the port is free, the same reload moves the metrics. */
    close(busy);
    reload_with(h, body, "configuration reloaded");
    cr_assert(harness_log_contains(h, "metrics listener"));
    cr_assert_eq(http_metrics_port(h), busy_port);
    metrics_answer_on(busy_port);
    struct rc_client *c = rc_login_any(h, JSON, RC_JSON, "c");
    rc_close(c);
    harness_stop(h);
}

Test(reload, a_listener_on_a_busy_port_fails_the_reload)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                      METRICS_ON("0"));
    struct harness_listener json = harness_listener(h, JSON);
    int busy_port, busy = occupy_port(&busy_port);
    char body[1024], want[128];
    struct rc_client *a = rc_login_any(h, JSON, RC_JSON, "a");
    struct rc_client *c;

    snprintf(body, sizeof body, "%s"
             "listeners = ( { address = \"127.0.0.1\"; port = %d; translator = \"binary\"; } );\n"
             "metrics = { address = \"127.0.0.1\"; port = 0; max_connections = 5; };\n",
             MPT_AUTH_ALLOW_ALL, busy_port);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1 port %d: Address "
             "already in use", busy_port);
    reload_fails(h, body, want);
    /* The old listeners still accept, and the old metrics still answer. */
    c = rc_connect_tcp(json.host, json.port, RC_JSON);
    cr_assert_not_null(c, "the json listener was closed by a failed reload");
    rc_close(c);
    metrics_answer_on(http_metrics_port(h));
    c = rc_login_any(h, BINARY, RC_BINARY, "b2");
    rc_open_conn(a, c, "a:1", "chat");
    still_talking(a, c, "a:1", "after a failed reload");
    rc_close(c);
    close(busy);
    rc_close(a);
    harness_stop(h);
}
