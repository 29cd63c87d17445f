/*
 * test_lifecycle.c - the command line, start-up log lines, log format and
 * level, clean shutdown on SIGTERM/SIGINT with clients in every state.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(lifecycle, .fini = harness_reap_all, .timeout = 60);

static char failure[8192];

/* ---------------------------------------------------------------------- */
/* Command line */

static void run(const char *const *args, struct run_result *r)
{
    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), r),
              "mpbroker %s did not exit in time", args[0]);
}

Test(lifecycle, version)
{
    const char *args[] = { "-v", NULL };
    struct run_result r;

    run(args, &r);
    cr_assert_eq(r.exit_code, 0, "mpbroker -v: exit %d", r.exit_code);
    /* "mpbroker VERSION", optionally followed by details on the line. */
    snprintf(failure, sizeof failure, "%s", r.out);
    const char *want = "mpbroker " PACKAGE_VERSION;
    size_t n = strlen(want);
    cr_assert(strncmp(r.out, want, n) == 0 &&
              (r.out[n] == '\n' || r.out[n] == ' ') &&
              strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
              "mpbroker -v printed \"%s\", want one line \"%s\"", failure, want);
    run_result_free(&r);
}

Test(lifecycle, help)
{
    const char *args[] = { "-h", NULL };
    struct run_result r;

    run(args, &r);
    snprintf(failure, sizeof failure, "%s", r.out);
    cr_assert_eq(r.exit_code, 0, "mpbroker -h: exit %d", r.exit_code);
    cr_assert_not_null(strcasestr(r.out, "usage"), "no usage on stdout:\n%s",
                       failure);
    cr_assert_not_null(strstr(r.out, "-c"), "usage omits -c:\n%s", failure);
    cr_assert_not_null(strstr(r.out, "-t"), "usage omits -t:\n%s", failure);
    run_result_free(&r);
}

Test(lifecycle, bad_option)
{
    const char *args[] = { "-Z", NULL };
    struct run_result r;

    run(args, &r);
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_eq(r.exit_code, 2, "mpbroker -Z: exit %d, want 2", r.exit_code);
    cr_assert_not_null(strcasestr(r.err, "usage"), "no usage on stderr:\n%s",
                       failure);
    cr_assert_str_empty(r.out, "mpbroker -Z wrote on stdout");
    run_result_free(&r);
}

/* ---------------------------------------------------------------------- */
/* Start-up */

/* Length of the "2026-12-02T14:05:01.123+00:00 " that starts a line on
 * a stderr that is not the journal (as here: a pipe), else 0. */
static size_t stamp_len(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddd+dd:dd ";

    for (size_t i = 0; i < sizeof shape - 1; i++) {
        bool ok = shape[i] == 'd'   ? line[i] >= '0' && line[i] <= '9'
                  : shape[i] == '+' ? line[i] == '+' || line[i] == '-'
                                    : line[i] == shape[i];
        if (!ok)
            return 0;
    }
    return sizeof shape - 1;
}

/* Does `at` (inside `log`) start a line, after the line's stamp? */
static bool starts_line(const char *log, const char *at)
{
    const char *bol = at;

    while (bol > log && bol[-1] != '\n')
        bol--;
    return stamp_len(bol) > 0 && at == bol + stamp_len(bol);
}

static bool is_log_line(const char *stamped)
{
    static const char *const levels[] = { "error: ", "warning: ", "notice: ",
                                          "info: ", "debug: " };
    const char *line = stamped + stamp_len(stamped);

    if (line == stamped)
        return false;

    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strncmp(line, levels[i], strlen(levels[i])) == 0 &&
            line[strlen(levels[i])] != '\0')
            return true;
    return false;
}

/* "==PID== ..." lines come from valgrind (MP_BROKER_WRAPPER), not us. */
static bool is_tool_line(const char *line)
{
    size_t digits = strspn(line + 2, "0123456789");

    return strncmp(line, "==", 2) == 0 && digits > 0 &&
           strncmp(line + 2 + digits, "==", 2) == 0;
}

/* Every line of the log is "TIMESTAMP LEVEL: message" (stderr is a pipe
 * here, not the journal). */
static void assert_log_format(struct harness *h)
{
    char *log = harness_log_text(h);
    bool ok = true;

    for (char *save = NULL, *l = strtok_r(log, "\n", &save); ok && l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        ok = is_log_line(l) || is_tool_line(l);
        if (!ok)
            snprintf(failure, sizeof failure, "%s", l);
    }
    free(log);
    cr_assert(ok, "log line not in the form \"TIMESTAMP LEVEL: message\": %s",
              failure);
}

Test(lifecycle, startup_lines_in_config_order)
{
    struct harness *h = harness_start(
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
        "              { unix = \"@DIR@/b.sock\"; translator = \"binary\"; },\n"
        "              { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; },\n"
        "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    static const char *const translators[] = { "json", "binary", "auto", "binary" };
    char *log = harness_log_text(h);
    char want[512];
    const char *p = log;

    snprintf(failure, sizeof failure, "%s", log);
    for (size_t i = 0; i < 4; i++) {
        struct harness_listener l = harness_listener(h, i);
        if (l.is_unix)
            snprintf(want, sizeof want, "info: listening on unix:%s translator=%s\n",
                     harness_path(h, "b.sock"), translators[i]);
        else
            snprintf(want, sizeof want,
                     "info: listening on tcp:127.0.0.1:%d translator=%s\n",
                     l.port, translators[i]);
        const char *at = strstr(p, want);
        cr_assert_not_null(at, "missing or out of order: %s in:\n%s", want,
                           failure);
        cr_assert(starts_line(log, at), "not a whole line: %s", want);
        p = at + strlen(want);
    }
    cr_assert_not_null(strstr(p, "notice: ready\n"),
                       "\"notice: ready\" not after the listening lines:\n%s",
                       failure);
    free(log);
    cr_assert_eq(harness_listener_count(h), 4);
    cr_assert(harness_listener(h, 0).port != harness_listener(h, 2).port);
    /* Every listener answers. */
    rc_close(rc_login_any(h, 0, RC_JSON, "a"));
    rc_close(rc_login_any(h, 1, RC_BINARY, "b"));
    rc_close(rc_login_any(h, 2, RC_JSON, "c"));
    rc_close(rc_login_any(h, 3, RC_BINARY, "d"));
    assert_log_format(h);
    harness_stop(h);
}

Test(lifecycle, allow_all_warns)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    char *log = harness_log_text(h);
    bool found = false;

    for (char *save = NULL, *l = strtok_r(log, "\n", &save); !found && l;
         l = strtok_r(NULL, "\n", &save))
        found = strncmp(l + stamp_len(l), "warning: ", 9) == 0 &&
                strcasestr(l, "allow") != NULL;
    free(log);
    cr_assert(found, "auth_allow_all logged no warning mentioning \"allow\"");
    harness_stop(h);
}

Test(lifecycle, log_level_filters)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "log = { level = \"notice\"; };\n");

    cr_assert_not(harness_log_contains(h, "info: "), "info line at level notice");
    cr_assert_not(harness_log_contains(h, "debug: "), "debug line at level notice");
    assert_log_format(h);
    harness_stop(h);
}

Test(lifecycle, log_level_debug)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL
                                      "log = { level = \"debug\"; };\n");
    struct rc_client *a = rc_login_any(h, 0, RC_JSON, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");

    rc_open_conn(a, b, "a:1", "echo");
    rc_close(a);
    rc_expect(b, RC_CLIENT_CLOSED, "a", "", RC_NULL);
    rc_close(b);
    assert_log_format(h);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Shutdown */

/*
 * Clients in every state when the signal comes: READY with connections
 * open and pending, authenticating with an answer pending in a plugin,
 * connected without a word. The broker exits 0 and closes them all.
 */
static void shutdown_with_clients(int sig)
{
    struct harness *h = harness_new();
    char *a = harness_passwd_entry("alice", "pw");
    char *b = harness_passwd_entry("bob", "pw");
    char *c = harness_passwd_entry("carol", "pw");
    char text[1024];

    snprintf(text, sizeof text, "%s\n%s\n%s\n", a, b, c);
    free(a);
    free(b);
    free(c);
    harness_write_file(h, "pw", text);
    harness_boot(h, MPT_LISTEN_JSON_BINARY
        "authenticators = ( { module = \"auth_passwd.so\"; options = { file = \"@DIR@/pw\"; }; },\n"
        "                   { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";"
        " options = { delay_ms = 30000; }; } );\n"
        "log = { level = \"debug\"; };\n");
    struct rc_client *alice = rc_login(h, 0, RC_JSON, "alice", "pw");
    struct rc_client *bob = rc_login(h, 1, RC_BINARY, "bob", "pw");
    struct rc_client *slow = rc_connect(h, 0, RC_JSON);
    struct rc_client *mute = rc_connect(h, 1, RC_BINARY);
    struct rc_client *partial = rc_connect(h, 1, RC_BINARY);
    int status;

    rc_open_conn(alice, bob, "alice:1", "echo");
    cr_assert(rc_send(bob, RC_SYN, "alice", "bob:1", rc_str("echo")));
    rc_expect(alice, RC_SYN, "bob", "bob:1", rc_str("echo"));
    cr_assert(rc_send(slow, RC_AUTH, "slow", "", rc_str("delayed")));
    cr_assert(rc_send_raw(partial, "\0\0\0\x20\x08", 5));
    /* Half a frame from a READY client, too. */
    cr_assert(rc_send_raw(bob, "\0\0\0\x40\0\0", 6));
    /* Most likely the broker has read all of the above once a later login
     * round trip is done (the test holds either way). */
    rc_close(rc_login(h, 0, RC_JSON, "carol", "pw"));
    cr_assert(harness_signal(h, sig), "cannot signal the broker");
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status),
              "the broker did not exit after signal %d", sig);
    char *log = harness_log_text(h);
    snprintf(failure, sizeof failure, "%s", log);
    free(log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "signal %d: wait status %#x, want exit 0; log:\n%s", sig,
              (unsigned)status, failure);
    struct rc_client *all[] = { alice, bob, slow, mute, partial };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        struct rc_msg m;
        int r;
        while ((r = rc_recv(all[i], &m, mpt_ms(MPT_MSG_MS))) == RC_OK)
            rc_msg_free(&m);
        cr_assert_eq(r, RC_EOF, "client %zu: %s, want EOF", i,
                     rc_status_name(r));
        rc_close(all[i]);
    }
    harness_free(h);
}

Test(lifecycle, sigterm_with_clients) { shutdown_with_clients(SIGTERM); }
Test(lifecycle, sigint_with_clients) { shutdown_with_clients(SIGINT); }

Test(lifecycle, sigterm_idle)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);

    harness_stop(h);
}

/* log.syslog: after "logging to syslog from now on", nothing more on
 * stderr; the lines reach syslog(3) with the facility asked for. Where no
 * syslog daemon owns /dev/log (a build machine, a container), the test
 * stands in for it and checks the lines themselves. */
Test(lifecycle, log_to_syslog)
{
    struct harness *h = harness_new();
    struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
    int fd = -1;
    const char *conf;
    struct rc_client *c;

    if (access("/dev/log", F_OK) != 0) {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
            close(fd);
            fd = -1;
        }
    }
    conf = harness_write_config(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                "log = { syslog = true; facility = \"local3\"; };\n");
    harness_launch(h, conf);
    cr_assert(harness_wait_log(h, "notice: logging to syslog from now on",
                               mpt_ms(MPT_READY_MS)));
    c = rc_login_any(h, 1, RC_BINARY, "sys");
    rc_close(c);
    if (fd >= 0) {
        /* <PRI>: local3 (19) * 8 + info (6) = 158. */
        char buf[2048];
        bool seen = false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (!seen && poll(&p, 1, mpt_ms(MPT_MSG_MS)) == 1) {
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n <= 0)
                break;
            buf[n] = '\0';
            seen = strncmp(buf, "<158>", 5) == 0 &&
                   strstr(buf, "mpbroker[") != NULL &&
                   strstr(buf, "client sys logged in") != NULL;
        }
        close(fd);
        unlink("/dev/log");
        cr_assert(seen, "the login line did not reach syslog as local3.info");
    }
    cr_assert_not(harness_log_contains(h, "client sys logged in"),
                  "a line went to stderr after the switch to syslog");
    harness_stop(h);
}

/*
 * SIGTERM flushes: what the broker had accepted for a client that was
 * not reading reaches it after the signal, in order, then ClientClosed
 * for its peer and the close; the broker exits 0.
 */
Test(lifecycle, sigterm_flushes_queued_output)
{
    enum { N = 2000, SIZE = 200 };
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct rc_client *a = rc_login_any(h, 1, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");
    struct rc_client *probe = rc_login_any(h, 1, RC_BINARY, "probe");
    unsigned char data[SIZE];
    struct rc_msg m;
    int status, got = 0;

    rc_open_conn(a, b, "a:1", "bulk");
    rc_open_conn(a, probe, "a:2", "probe");
    memset(data, 'x', sizeof data);
    for (int i = 0; i < N; i++) {
        snprintf((char *)data, sizeof data, "%d", i);
        cr_assert(rc_send(a, RC_DATA, "b", "a:1", rc_bytes(data, SIZE)));
    }
    /* Routed in order: once the probe has this, all N are queued for b. */
    cr_assert(rc_send(a, RC_DATA, "probe", "a:2", rc_str("after")));
    rc_expect(probe, RC_DATA, "a", "a:2", rc_str("after"));
    cr_assert(harness_signal(h, SIGTERM));
    cr_assert(harness_wait_log(h, "shutting down: flushing",
                               mpt_ms(MPT_MSG_MS)));
    while (got < N) {
        cr_assert_eq(rc_recv(b, &m, mpt_ms(MPT_MSG_MS)), RC_OK,
                     "b got %d of %d messages", got, N);
        if (m.meta == RC_DATA) {
            cr_assert_eq(atoi((const char *)m.data), got, "out of order");
            got++;
        }
        rc_msg_free(&m);
    }
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "exit status %d", status);
    rc_close(a);
    rc_close(b);
    rc_close(probe);
    harness_free(h);
}

/* A client that never reads cannot hold the exit beyond
 * shutdown_timeout_ms (here far below the 2 s close linger). */
Test(lifecycle, shutdown_timeout_bounds_the_flush)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                                      "shutdown_timeout_ms = 200;\n"
                                      "log = { level = \"debug\"; };\n");
    struct rc_client *a = rc_login_any(h, 1, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");
    static unsigned char data[60000];
    unsigned char *frame;
    size_t frame_len, queued = 0;
    int status, fd = rc_fd(a);

    rc_open_conn(a, b, "a:1", "bulk");
    /* Keep a writing (never blocking) until the broker pauses it: b's
     * queue in the broker has then passed the high water mark, and there
     * is something that cannot be flushed. */
    frame = rc_binary_frame(RC_DATA, "b", "a:1", rc_bytes(data, sizeof data),
                            -1, &frame_len);
    cr_assert_not_null(frame);
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    for (size_t off = 0; !harness_log_contains(h, "pausing a: b has");) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        cr_assert_lt(queued, (size_t)256 << 20, "no pause after %zu bytes",
                     queued);
        if (poll(&p, 1, 20) != 1)
            continue;
        ssize_t n = write(fd, frame + off, frame_len - off);
        cr_assert(n > 0 || errno == EAGAIN, "write: %s", strerror(errno));
        if (n > 0) {
            queued += (size_t)n;
            off = (off + (size_t)n) % frame_len;
        }
    }
    free(frame);
    cr_assert(harness_signal(h, SIGTERM));
    cr_assert(harness_wait_log(h, "shutdown_timeout_ms passed",
                               mpt_ms(1500)),
              "the broker waited past shutdown_timeout_ms");
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rc_close(a);
    rc_close(b);
    harness_free(h);
}

#ifdef HAVE_LIBSYSTEMD
/* Read notify datagrams until one contains `want`; false on timeout. */
static bool notified(int fd, const char *want)
{
    char buf[1024];
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (poll(&p, 1, mpt_ms(MPT_MSG_MS)) == 1) {
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            return false;
        buf[n] = '\0';
        if (strstr(buf, want) != NULL)
            return true;
    }
    return false;
}

/* systemd's Type=notify: READY=1 once listening, RELOADING=1 and READY=1
 * around SIGHUP, STOPPING=1 at SIGTERM, all on $NOTIFY_SOCKET. */
Test(lifecycle, sd_notify_ready_reloading_stopping)
{
    struct harness *h = harness_new();
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    const char *path = harness_path(h, "notify");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    harness_boot(h, MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    unsetenv("NOTIFY_SOCKET");
    cr_assert(notified(fd, "READY=1"), "no READY=1");
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(notified(fd, "RELOADING=1"), "no RELOADING=1");
    cr_assert(notified(fd, "READY=1"), "no READY=1 after the reload");
    cr_assert(harness_signal(h, SIGTERM));
    cr_assert(notified(fd, "STOPPING=1"), "no STOPPING=1");
    close(fd);
    harness_stop(h);
}
#endif

/* ---------------------------------------------------------------------- */
/* Privileges: user, group, allow_root */

/* Uid: and Gid: lines of /proc/PID/status: real, effective, saved, fs. */
static void proc_ids(pid_t pid, const char *key, unsigned ids[4])
{
    char path[64], line[256];
    FILE *f;
    bool found = false;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, strlen(key)) == 0 &&
            sscanf(line + strlen(key), "%u %u %u %u", &ids[0], &ids[1],
                   &ids[2], &ids[3]) == 4)
            found = true;
    }
    fclose(f);
    cr_assert(found, "no %s line in %s", key, path);
}

Test(lifecycle, drops_root_for_user_and_group_after_binding)
{
    struct harness *h;
    struct rc_client *c;
    unsigned uid[4], gid[4];

    if (geteuid() != 0)
        cr_skip_test("needs root");
    h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY
                      "user = \"nobody\"; group = \"nogroup\";\n");
    cr_assert(harness_log_contains(h, "running as user nobody (uid 65534, gid 65534)"));
    proc_ids(harness_pid(h), "Uid:", uid);
    proc_ids(harness_pid(h), "Gid:", gid);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(uid[i], 65534, "uid %d is %u", i, uid[i]);
        cr_assert_eq(gid[i], 65534, "gid %d is %u", i, gid[i]);
    }
    c = rc_login_any(h, 1, RC_BINARY, "after-drop");
    rc_close(c);
    harness_stop(h);
}

/* mpbroker -t on `body` as root: exit 1 with `error` on stderr. */
static void refused_as_root(const char *body, const char *error)
{
    struct harness *h = harness_new();
    char text[2048];
    const char *conf;
    const char *args[] = {"-t", "-c", NULL, NULL};
    struct run_result r;

    /* Without the harness prologue, which says allow_root. */
    snprintf(text, sizeof text,
             "plugin_dir = \"@PLUGIN_DIR@\";\n%s%s%s", MPT_AUTH_ALLOW_ALL,
             MPT_LISTEN_JSON_BINARY, body);
    conf = harness_write_file(h, "root.conf", text);
    args[2] = conf;
    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), &r));
    cr_assert_eq(r.exit_code, 1, "exit %d: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, error) != NULL, "stderr lacks \"%s\":\n%s", error,
              r.err);
    run_result_free(&r);
    harness_free(h);
}

Test(lifecycle, refuses_root_without_user_or_allow_root)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    refused_as_root("", "running as root: set 'user'");
    refused_as_root("user = \"no-such-user-here\";\n",
                    "user: no user named \"no-such-user-here\"");
    refused_as_root("user = \"nobody\"; group = \"no-such-group-here\";\n",
                    "group: no group named \"no-such-group-here\"");
    refused_as_root("group = \"nogroup\";\n", "group: 'group' needs 'user'");
}

/* Log lines carry key=value fields; client input in them is escaped, so
 * it cannot forge a line (here: a connection id with a newline). */
Test(lifecycle, log_fields_escape_client_input)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL MPT_LISTEN_JSON_BINARY);
    struct rc_client *a = rc_login_any(h, 1, RC_BINARY, "a");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b");
    struct rc_msg m;

    cr_assert(harness_wait_log(h, "client a logged in: client=a peer=127.0.0.1:",
                               mpt_ms(MPT_MSG_MS)));
    cr_assert(rc_send(a, RC_SYN, "b", "b:1\nerror: forged line", rc_str("x")));
    rc_expect_meta(a, RC_NO_SUCH_CONN, &m);
    rc_msg_free(&m);
    cr_assert(harness_wait_log(h, "id=\"b:1\\nerror: forged line\"",
                               mpt_ms(MPT_MSG_MS)), "the id was not escaped");
    assert_log_format(h);
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

/* A Unix socket's permissions come from `mode` (0666 by default),
 * whatever the broker's umask. */
Test(lifecycle, unix_socket_mode)
{
    struct harness *h = harness_start(MPT_AUTH_ALLOW_ALL
        "listeners = ( { unix = \"@DIR@/open.sock\"; translator = \"binary\"; },\n"
        "              { unix = \"@DIR@/group.sock\"; translator = \"binary\";"
        " mode = \"0660\"; } );\n");
    struct stat st;

    cr_assert_eq(stat(harness_path(h, "open.sock"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0666, "mode %04o", st.st_mode & 07777);
    cr_assert_eq(stat(harness_path(h, "group.sock"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0660, "mode %04o", st.st_mode & 07777);
    harness_stop(h);
}
