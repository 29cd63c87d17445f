/*
 * test_examples.c - the programs and the plugin of examples/ against the
 * real broker: echo_server + echo_client end to end in both formats, their
 * error messages, rr_server + rr_client (request/reply), two chat
 * processes talking through pipes, and the example authenticator
 * (auth_prefix) loaded by the broker.
 *
 * Environment (set by tests/local.mk): MP_EXAMPLES_DIR, the build
 * directory of examples/ (programs there, the plugin in .libs/), plus what
 * the harness needs. Optional: MP_EXAMPLE_WRAPPER, words put before each
 * example's command line, e.g.
 *     MP_EXAMPLE_WRAPPER="$PWD/libtool --mode=execute valgrind -q
 *                         --error-exitcode=99 --leak-check=full"
 * (the programs are libtool wrapper scripts: --mode=execute finds the
 * binary). Time limits are scaled as the harness's (mpt_ms), and by 20
 * under MP_EXAMPLE_WRAPPER unless MP_TEST_TIMEOUT_SCALE is set.
 *
 * Every wait is for an event - a log line, an output line, an exit - with
 * a deadline; nothing sleeps.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

/* ----------------------------------------------------------------------
 * Child processes with pipes on stdin, stdout and stderr
 */

#define MAX_ARGS 48

struct text {
    char *buf; /* NUL-terminated */
    size_t len, cap;
};

struct proc {
    const char *what;     /* program name, for messages */
    pid_t pid;
    int in;               /* write end of its stdin, or -1 */
    int fd[2];            /* read ends of stdout, stderr; -1 at EOF */
    struct text out[2];   /* what came on them */
    bool exited;
    int status;           /* waitpid status once exited */
    struct proc *next;
};

static struct proc *live_procs;

/* Room for assertion messages (must not leak when an assertion jumps). */
static char failure[16384];

/* A time limit: the harness's scaling, and 20 times more for examples run
 * under MP_EXAMPLE_WRAPPER (valgrind) unless MP_TEST_TIMEOUT_SCALE says. */
static int limit(int ms)
{
    const char *w = getenv("MP_EXAMPLE_WRAPPER");
    const char *scale = getenv("MP_TEST_TIMEOUT_SCALE");
    const char *bw = getenv("MP_BROKER_WRAPPER");

    if (w != NULL && *w != '\0' && (scale == NULL || *scale == '\0') &&
        (bw == NULL || *bw == '\0'))
        return mpt_ms(ms) * 20;
    return mpt_ms(ms);
}

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        cr_assert_not_null(b, "out of memory");
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* $MP_EXAMPLES_DIR/rel, in a buffer that lives as long as the test. */
static const char *example_path(const char *rel)
{
    static char paths[8][1024];
    static unsigned next;
    const char *dir = getenv("MP_EXAMPLES_DIR");
    char *p = paths[next++ % 8];

    cr_assert(dir != NULL && *dir != '\0',
              "MP_EXAMPLES_DIR is not set: run the tests through `make check`");
    snprintf(p, sizeof paths[0], "%s/%s", dir, rel);
    return p;
}

/*
 * Start $MP_EXAMPLES_DIR/prog with args (NULL-terminated), under
 * $MP_EXAMPLE_WRAPPER if set. Its stdin is a pipe we write to when
 * `with_stdin`, else /dev/null.
 */
static struct proc *proc_start(const char *prog, const char *const *args,
                               bool with_stdin)
{
    const char *wrapper = getenv("MP_EXAMPLE_WRAPPER");
    char *words = wrapper ? strdup(wrapper) : NULL;
    const char *argv[MAX_ARGS + 1];
    size_t argc = 0;
    int in[2] = {-1, -1}, out[2], err[2];
    struct proc *p = calloc(1, sizeof *p);

    cr_assert_not_null(p, "out of memory");
    if (words != NULL) {
        char *save = NULL;
        for (char *w = strtok_r(words, " \t", &save); w != NULL;
             w = strtok_r(NULL, " \t", &save)) {
            cr_assert(argc < MAX_ARGS / 2, "MP_EXAMPLE_WRAPPER too long");
            argv[argc++] = w;
        }
    }
    argv[argc++] = example_path(prog);
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert(argc < MAX_ARGS, "too many arguments");
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;

    cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 &&
              (!with_stdin || pipe2(in, O_CLOEXEC) == 0),
              "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    p->pid = fork();
    cr_assert(p->pid >= 0, "fork: %s", strerror(errno));
    if (p->pid == 0) {
        int stdin_fd = with_stdin ? in[0] : open("/dev/null", O_RDONLY);
        if (stdin_fd < 0 || dup2(stdin_fd, 0) < 0 || dup2(out[1], 1) < 0 ||
            dup2(err[1], 2) < 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        if (getppid() != parent)
            _exit(126);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(words);
    close(out[1]);
    close(err[1]);
    if (with_stdin)
        close(in[0]);
    p->what = prog;
    p->in = with_stdin ? in[1] : -1;
    p->fd[0] = out[0];
    p->fd[1] = err[0];
    text_add(&p->out[0], "", 0);
    text_add(&p->out[1], "", 0);
    p->next = live_procs;
    live_procs = p;
    return p;
}

/* Read what its stdout and stderr have, waiting at most timeout_ms for
 * something. */
static void proc_pump(struct proc *p, int timeout_ms)
{
    struct pollfd pf[2] = {{.fd = p->fd[0], .events = POLLIN},
                           {.fd = p->fd[1], .events = POLLIN}};

    if (p->fd[0] < 0 && p->fd[1] < 0)
        return;
    if (poll(pf, 2, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return;
    for (int i = 0; i < 2; i++) {
        char chunk[4096];
        ssize_t n;

        if (pf[i].revents == 0)
            continue;
        n = read(p->fd[i], chunk, sizeof chunk);
        if (n > 0) {
            text_add(&p->out[i], chunk, (size_t)n);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(p->fd[i]);
            p->fd[i] = -1;
        }
    }
}

/* Wait until stream (0 stdout, 1 stderr) holds `needle`. */
static bool proc_wait_text(struct proc *p, int stream, const char *needle,
                           int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;

    for (;;) {
        if (strstr(p->out[stream].buf, needle) != NULL)
            return true;
        long long left = deadline - mpt_now_ms();
        if (left <= 0 || p->fd[stream] < 0)
            return false;
        proc_pump(p, (int)left);
    }
}

/* Wait for the process to exit (reading its output meanwhile). */
static bool proc_wait_exit(struct proc *p, int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;

    while (p->fd[0] >= 0 || p->fd[1] >= 0) {
        long long left = deadline - mpt_now_ms();
        if (left <= 0)
            return false;
        proc_pump(p, (int)left);
    }
    if (p->exited)
        return true;
    /* Both pipes are at EOF, so it is exiting: a pidfd tells when. */
    int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    for (;;) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->exited = true;
            break;
        }
        long long left = deadline - mpt_now_ms();
        if ((r < 0 && errno != EINTR) || left <= 0)
            break;
        struct pollfd pf = {.fd = pidfd, .events = POLLIN};
        if (pidfd >= 0)
            poll(&pf, 1, (int)left);
        else
            poll(NULL, 0, 5); /* no pidfd (old kernel): look again soon */
    }
    if (pidfd >= 0)
        close(pidfd);
    return p->exited;
}

static void proc_write(struct proc *p, const char *s)
{
    size_t n = strlen(s);

    cr_assert(p->in >= 0, "%s: stdin already closed", p->what);
    while (n > 0) {
        ssize_t w = write(p->in, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        cr_assert(w > 0, "%s: writing its stdin: %s", p->what,
                  strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

static void proc_close_stdin(struct proc *p)
{
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
}

static void proc_signal(struct proc *p, int sig)
{
    cr_assert(!p->exited && kill(p->pid, sig) == 0, "%s: cannot signal it",
              p->what);
}

static void proc_free(struct proc *p)
{
    for (struct proc **pp = &live_procs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (!p->exited) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
    }
    proc_close_stdin(p);
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0)
            close(p->fd[i]);
        free(p->out[i].buf);
    }
    free(p);
}

/* Its output, for a failure message (in `failure`). */
static const char *proc_report(struct proc *p)
{
    proc_pump(p, 0);
    snprintf(failure, sizeof failure, "--- %s stdout:\n%s--- %s stderr:\n%s",
             p->what, p->out[0].buf, p->what, p->out[1].buf);
    return failure;
}

/* ----------------------------------------------------------------------
 * Assertions on processes
 */

static void expect_text(struct proc *p, int stream, const char *needle)
{
    if (!proc_wait_text(p, stream, needle, limit(MPT_MSG_MS)))
        cr_assert_fail("%s: no \"%s\" on %s within %d ms\n%s", p->what,
                       needle, stream ? "stderr" : "stdout",
                       limit(MPT_MSG_MS), proc_report(p));
}

#define expect_stdout(p, needle) expect_text((p), 0, (needle))
#define expect_stderr(p, needle) expect_text((p), 1, (needle))

/* It exits, with `code`. */
static void expect_exit(struct proc *p, int code)
{
    if (!proc_wait_exit(p, limit(MPT_EXIT_MS)))
        cr_assert_fail("%s did not exit within %d ms\n%s", p->what,
                       limit(MPT_EXIT_MS), proc_report(p));
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != code)
        cr_assert_fail("%s: %s %d, want exit status %d\n%s", p->what,
                       WIFEXITED(p->status) ? "exit status" : "killed by signal",
                       WIFEXITED(p->status) ? WEXITSTATUS(p->status)
                                            : WTERMSIG(p->status),
                       code, proc_report(p));
}

static void wait_log(struct harness *h, size_t mark, const char *needle)
{
    if (!harness_wait_log_from(h, mark, needle, limit(MPT_READY_MS))) {
        char *log = harness_log_text(h);
        snprintf(failure, sizeof failure, "%s", log);
        free(log);
        cr_assert_fail("no broker log line \"%s\"; the log:\n%s", needle,
                       failure);
    }
}

/* ----------------------------------------------------------------------
 * The suite
 */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* writing to a child that has exited */
}

static void teardown(void)
{
    while (live_procs != NULL)
        proc_free(live_procs);
    harness_reap_all();
}

TestSuite(examples, .init = setup, .fini = teardown, .timeout = 60);

/* A broker with an "auto" listener (both formats, as the shipped config)
 * and a password file of users echo, alice, bob and carol, secret "demo"
 * (the shipped file has echo and alice). */
static struct harness *start_broker(void)
{
    static const char *const users[] = {"echo", "alice", "bob", "carol"};
    struct harness *h = harness_new();
    char passwd[2048] = "";

    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        char *entry = harness_passwd_entry(users[i], "demo");
        size_t used = strlen(passwd);
        snprintf(passwd + used, sizeof passwd - used, "%s\n", entry);
        free(entry);
    }
    chmod(harness_write_file(h, "mpbroker.passwd", passwd), 0600);
    harness_boot(h,
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        "listeners = ( { address = \"127.0.0.1\"; port = 0;"
        " translator = \"auto\"; } );\n");
    return h;
}

/* "tcp:127.0.0.1:PORT" of its listener, in a static buffer. */
static const char *broker_address(struct harness *h)
{
    static char addr[96];
    struct harness_listener l = harness_listener(h, 0);

    snprintf(addr, sizeof addr, "tcp:%s:%d", l.host, l.port);
    return addr;
}

/* Start echo_server as `echo` and wait until the broker has logged it in. */
static struct proc *start_echo_server(struct harness *h, const char *format)
{
    size_t mark = harness_log_mark(h);
    const char *args[] = {"-a", broker_address(h), "-f", format, NULL};
    struct proc *server;

    /* The secret through the environment, as the usage recommends. */
    setenv("MP_SECRET", "demo", 1);
    server = proc_start("echo_server", args, false);
    unsetenv("MP_SECRET");
    if (!harness_wait_log_from(h, mark, "client echo logged in",
                               limit(MPT_READY_MS)))
        cr_assert_fail("echo_server did not log in\n%s", proc_report(server));
    expect_stdout(server, "waiting for echo connections");
    return server;
}

/* SIGTERM: it says so and exits 0. */
static void stop_echo_server(struct proc *server)
{
    proc_signal(server, SIGTERM);
    expect_exit(server, 0);
    cr_assert_not_null(strstr(server->out[0].buf, "SIGTERM: stopping"),
                       "echo_server did not report the signal\n%s",
                       proc_report(server));
    proc_free(server);
}

/* ----------------------------------------------------------------------
 * echo_server and echo_client
 */

static void echo_roundtrip(const char *server_format, const char *client_format)
{
    struct harness *h = start_broker();
    struct proc *server = start_echo_server(h, server_format);
    const char *args[] = {"-a", broker_address(h), "-f", client_format,
                          "-s", "demo", NULL};
    struct proc *client = proc_start("echo_client", args, false);

    expect_exit(client, 0);
    expect_stdout(client, "logged in as alice\n");
    expect_stdout(client, "opened echo connection alice:0 to echo\n");
    expect_stdout(client, "sent 'hello'\nsent 'world'\n");
    expect_stdout(client, "got 'hello' back from echo\n"
                          "got 'world' back from echo\n");
    cr_assert_str_empty(client->out[1].buf, "echo_client wrote on stderr\n%s",
                        proc_report(client));
    proc_free(client);

    /* The server saw it all, the close included (not just the client
     * leaving): the example's drain round trip got ConnClosed out. */
    expect_stdout(server, "alice opened echo connection alice:0\n"
                          "echo 'hello' back to alice\n"
                          "echo 'world' back to alice\n"
                          "alice closed\n");
    stop_echo_server(server);
    harness_stop(h);
}

Test(examples, echo_binary) { echo_roundtrip("binary", "binary"); }
Test(examples, echo_json) { echo_roundtrip("json", "json"); }
Test(examples, echo_json_server_binary_client) { echo_roundtrip("json", "binary"); }

Test(examples, echo_messages_from_the_command_line)
{
    struct harness *h = start_broker();
    struct proc *server = start_echo_server(h, "binary");
    const char *args[] = {"-a", broker_address(h), "-s", "demo", "one",
                          "two words", "", "tab\there", NULL};
    struct proc *client = proc_start("echo_client", args, false);

    expect_exit(client, 0);
    expect_stdout(client, "got 'one' back from echo\n"
                          "got 'two words' back from echo\n"
                          "got '' back from echo\n"
                          "got 'tab\\x09here' back from echo\n");
    proc_free(client);
    expect_stdout(server, "echo '' back to alice\n");
    expect_stdout(server, "echo 'tab\\x09here' back to alice\n");

    /* A second client while the first is gone: a fresh connection. */
    const char *again[] = {"-a", broker_address(h), "-s", "demo", "again",
                           NULL};
    client = proc_start("echo_client", again, false);
    expect_exit(client, 0);
    expect_stdout(client, "got 'again' back from echo\n");
    proc_free(client);
    expect_stdout(server, "echo 'again' back to alice\nalice closed\n");
    stop_echo_server(server);
    harness_stop(h);
}

Test(examples, echo_client_without_server)
{
    struct harness *h = start_broker();
    const char *args[] = {"-a", broker_address(h), "-s", "demo", NULL};
    struct proc *client = proc_start("echo_client", args, false);

    expect_exit(client, 1);
    expect_stderr(client, "echo_client: cannot open an echo connection to "
                          "echo: no such client\n");
    proc_free(client);

    const char *other[] = {"-a", broker_address(h), "-s", "demo", "-p",
                           "bob", NULL};
    client = proc_start("echo_client", other, false);
    expect_exit(client, 1);
    expect_stderr(client, "to bob: no such client\n");
    proc_free(client);
    harness_stop(h);
}

Test(examples, echo_client_peer_without_echo_handler)
{
    /* bob is a chat waiting for a chat: it refuses "echo". */
    struct harness *h = start_broker();
    size_t mark = harness_log_mark(h);
    const char *chat_args[] = {"-a", broker_address(h), "-n", "bob", "-s",
                               "demo", NULL};
    struct proc *bob = proc_start("chat", chat_args, true);
    wait_log(h, mark, "client bob logged in");

    const char *args[] = {"-a", broker_address(h), "-s", "demo", "-p", "bob",
                          NULL};
    struct proc *client = proc_start("echo_client", args, false);
    expect_exit(client, 1);
    expect_stderr(client, "cannot open an echo connection to bob: unknown "
                          "protocol");
    proc_free(client);
    proc_free(bob);
    harness_stop(h);
}

Test(examples, echo_client_wrong_secret)
{
    struct harness *h = start_broker();
    const char *args[] = {"-a", broker_address(h), "-s", "wrong", NULL};
    struct proc *client = proc_start("echo_client", args, false);

    expect_exit(client, 1);
    expect_stderr(client, "echo_client: cannot log in to tcp:127.0.0.1:");
    expect_stderr(client, "authentication failed (invalid name or secret)\n");
    proc_free(client);
    harness_stop(h);
}

Test(examples, echo_client_no_broker)
{
    struct harness *h = harness_new();
    char addr[512];

    snprintf(addr, sizeof addr, "unix:%s", harness_path(h, "nobody.sock"));
    const char *args[] = {"-a", addr, NULL};
    struct proc *client = proc_start("echo_client", args, false);
    expect_exit(client, 1);
    expect_stderr(client, "cannot connect to the broker\n");
    proc_free(client);

    const char *bad[] = {"-a", "nonsense", NULL};
    client = proc_start("echo_client", bad, false);
    expect_exit(client, 1);
    expect_stderr(client, "bad broker address");
    proc_free(client);
    harness_free(h);
}

Test(examples, usage_errors)
{
    const char *bad_format[] = {"-f", "xml", NULL};
    const char *extra_arg[] = {"surplus", NULL};
    const char *no_name[] = {NULL};
    struct {
        const char *prog;
        const char *const *args;
    } cases[] = {
        {"echo_client", bad_format}, {"echo_server", bad_format},
        {"echo_server", extra_arg}, {"chat", no_name}, {"chat", bad_format},
        {"rr_server", bad_format}, {"rr_server", extra_arg},
        {"rr_client", bad_format},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proc *p = proc_start(cases[i].prog, cases[i].args, false);
        expect_exit(p, 2);
        expect_stderr(p, "usage: ");
        proc_free(p);
    }
}

Test(examples, echo_server_wrong_secret)
{
    struct harness *h = start_broker();
    const char *args[] = {"-a", broker_address(h), "-s", "wrong", NULL};
    struct proc *server = proc_start("echo_server", args, false);

    expect_exit(server, 1);
    expect_stderr(server, "echo_server: cannot log in to tcp:127.0.0.1:");
    expect_stderr(server, " as echo: authentication failed (invalid name or "
                          "secret)\n");
    proc_free(server);
    harness_stop(h);
}

Test(examples, echo_server_sigint)
{
    struct harness *h = start_broker();
    struct proc *server = start_echo_server(h, "binary");

    proc_signal(server, SIGINT);
    expect_exit(server, 0);
    expect_stdout(server, "SIGINT: stopping\n");
    proc_free(server);
    wait_log(h, 0, "client echo left");
    harness_stop(h);
}

Test(examples, echo_server_loses_the_broker)
{
    struct harness *h = start_broker();
    struct proc *server = start_echo_server(h, "binary");

    harness_stop(h); /* the broker exits */
    expect_exit(server, 1);
    /* Level 2: the broker announced it, and the server left at once. */
    expect_stderr(server, "echo_server: the broker is shutting down (it "
                  "closes within 3000 ms): leaving\n");
    proc_free(server);
}

/* ----------------------------------------------------------------------
 * rr_server and rr_client: request/reply
 */

/* Start rr_server as bob and wait until it answers. */
static struct proc *start_rr_server(struct harness *h, const char *format)
{
    size_t mark = harness_log_mark(h);
    const char *args[] = {"-a", broker_address(h), "-f", format, "-n", "bob",
                          NULL};
    struct proc *server;

    setenv("MP_SECRET", "demo", 1);
    server = proc_start("rr_server", args, false);
    unsetenv("MP_SECRET");
    if (!harness_wait_log_from(h, mark, "client bob logged in",
                               limit(MPT_READY_MS)))
        cr_assert_fail("rr_server did not log in\n%s", proc_report(server));
    expect_stdout(server, "answering upper requests");
    return server;
}

/* rr_client asks, with a 30 s timeout, and exits 0 as soon as the reply
 * came: well before the timeout. */
static void rr_roundtrip(const char *server_format, const char *client_format)
{
    struct harness *h = start_broker();
    struct proc *server = start_rr_server(h, server_format);
    const char *args[] = {"-a", broker_address(h), "-f", client_format, "-s",
                          "demo", "-p", "bob", "-t", "30", "hello there",
                          NULL};
    long long start = mpt_now_ms();
    struct proc *client = proc_start("rr_client", args, false);

    expect_exit(client, 0);
    cr_log_info("rr_client took %lld ms", mpt_now_ms() - start);
    cr_assert_lt(mpt_now_ms() - start, 30000, "rr_client waited out its "
                 "timeout");
    expect_stdout(client, "bob answered 'HELLO THERE'\n");
    cr_assert_str_empty(client->out[1].buf, "rr_client wrote on stderr\n%s",
                        proc_report(client));
    proc_free(client);
    expect_stdout(server, "alice asked 'hello there'\n");

    proc_signal(server, SIGTERM);
    expect_exit(server, 0);
    expect_stdout(server, "SIGTERM: stopping\n");
    proc_free(server);
    harness_stop(h);
}

Test(examples, rr_binary) { rr_roundtrip("binary", "binary"); }
Test(examples, rr_json_server_binary_client) { rr_roundtrip("json", "binary"); }

/* Each way there is no reply: exit 1 and the reason. */
Test(examples, rr_client_errors)
{
    struct harness *h = start_broker();
    struct proc *echo = start_echo_server(h, "binary");
    struct rc_client *carol = rc_login(h, 0, RC_BINARY, "carol", "demo");
    struct rc_msg syn;

    const char *nobody[] = {"-a", broker_address(h), "-s", "demo", "-p",
                            "bob", NULL};
    struct proc *client = proc_start("rr_client", nobody, false);
    expect_exit(client, 1);
    expect_stderr(client, "rr_client: no reply from bob: no such client\n");
    proc_free(client);

    const char *no_upper[] = {"-a", broker_address(h), "-s", "demo", "-p",
                              "echo", NULL};
    client = proc_start("rr_client", no_upper, false);
    expect_exit(client, 1);
    expect_stderr(client, "rr_client: no reply from echo: ");
    expect_stderr(client, "protocol");
    proc_free(client);

    /* carol accepts and never answers: the timeout. */
    const char *mute[] = {"-a", broker_address(h), "-s", "demo", "-p",
                          "carol", "-t", "1", NULL};
    client = proc_start("rr_client", mute, false);
    cr_assert_eq(rc_recv(carol, &syn, limit(MPT_MSG_MS)), RC_OK);
    cr_assert_eq(syn.meta, RC_SYN);
    cr_assert(rc_send(carol, RC_ACK, "alice", syn.connection_id, RC_NULL));
    expect_exit(client, 1);
    expect_stderr(client, "rr_client: no reply from carol within 1 s\n");
    proc_free(client);
    rc_msg_free(&syn);
    rc_close(carol);
    stop_echo_server(echo);
    harness_stop(h);
}

/* ----------------------------------------------------------------------
 * chat
 */

/* bob waits, alice opens a chat to him; both chatting. */
static void start_chat_pair(struct harness *h, struct proc **alice,
                            struct proc **bob)
{
    size_t mark = harness_log_mark(h);
    const char *bob_args[] = {"-a", broker_address(h), "-n", "bob", "-s",
                              "demo", NULL};

    *bob = proc_start("chat", bob_args, true);
    wait_log(h, mark, "client bob logged in");
    expect_stderr(*bob, "*** logged in as bob; waiting for a chat");

    const char *alice_args[] = {"-a", broker_address(h), "-f", "json", "-n",
                                "alice", "-s", "demo", "bob", NULL};
    *alice = proc_start("chat", alice_args, true);
    expect_stderr(*alice, "*** chatting with bob");
    expect_stderr(*bob, "*** chatting with alice");
}

Test(examples, chat_conversation)
{
    struct harness *h = start_broker();
    struct proc *alice, *bob;

    start_chat_pair(h, &alice, &bob);
    proc_write(alice, "hello bob\n");
    expect_stdout(bob, "alice> hello bob\n");
    proc_write(bob, "hi alice\r\nhow are you?\n");
    expect_stdout(alice, "bob> hi alice\nbob> how are you?\n");

    /* Lines sent right before the end of input still arrive: the last
     * one without its newline too. */
    proc_write(alice, "fine\n\nbye, no newline");
    proc_close_stdin(alice);
    expect_exit(alice, 0);
    expect_stderr(alice, "*** chat closed\n");
    expect_stdout(bob, "alice> fine\nalice> \nalice> bye, no newline\n");
    expect_stderr(bob, "*** alice closed the chat\n");
    expect_exit(bob, 0);
    cr_assert_null(strstr(bob->out[0].buf, "bob>"), "bob got his own lines");
    proc_free(alice);
    proc_free(bob);
    harness_stop(h);
}

Test(examples, chat_peer_leaves)
{
    struct harness *h = start_broker();
    struct proc *alice, *bob;

    start_chat_pair(h, &alice, &bob);
    proc_write(bob, "are you there?\n");
    expect_stdout(alice, "bob> are you there?\n");
    proc_signal(bob, SIGKILL); /* no goodbye: the broker tells alice */
    expect_stderr(alice, "*** bob left\n");
    expect_exit(alice, 0);
    proc_free(alice);
    proc_free(bob);
    harness_stop(h);
}

Test(examples, chat_busy_refuses_a_second_peer)
{
    struct harness *h = start_broker();
    struct proc *alice, *bob;
    const char *carol_args[] = {"-a", broker_address(h), "-n", "carol", "-s",
                                "demo", "bob", NULL};

    start_chat_pair(h, &alice, &bob);
    struct proc *carol = proc_start("chat", carol_args, true);
    expect_stderr(bob, "*** carol wants to chat too: refused, busy\n");
    expect_stderr(carol, "*** bob closed the chat\n");
    expect_exit(carol, 0);
    proc_free(carol);

    /* The first chat goes on. */
    proc_write(alice, "still here\n");
    expect_stdout(bob, "alice> still here\n");
    proc_close_stdin(alice);
    expect_exit(alice, 0);
    expect_exit(bob, 0);
    proc_free(alice);
    proc_free(bob);
    harness_stop(h);
}

Test(examples, chat_with_nobody)
{
    struct harness *h = start_broker();
    const char *args[] = {"-a", broker_address(h), "-n", "alice", "-s", "demo",
                          "bob", NULL};
    struct proc *alice = proc_start("chat", args, true);

    expect_exit(alice, 1);
    expect_stderr(alice, "chat: cannot open a chat with bob: no such client\n");
    proc_free(alice);
    harness_stop(h);
}

/* ----------------------------------------------------------------------
 * The example authenticator, auth_prefix
 */

/* "authenticators = ( auth_prefix with `options` [, more] );" */
static const char *prefix_chain(const char *options, const char *more)
{
    static char text[2048];

    snprintf(text, sizeof text,
             "authenticators = ( { module = \"%s\"; options = { %s }; }%s );\n",
             example_path(".libs/auth_plugin.so"), options, more);
    return text;
}

#define PREFIX_OPTIONS "prefix = \"guest-\"; secret = \"letmein\";"
#define THEN_ALLOW_ALL ",\n  { module = \"auth_allow_all.so\"; }"
#define LISTEN_JSON_BINARY MPT_LISTEN_JSON_BINARY

static struct harness *start_with_chain(const char *more)
{
    char body[4096];

    snprintf(body, sizeof body, "%s%s", prefix_chain(PREFIX_OPTIONS, more),
             LISTEN_JSON_BINARY);
    return harness_start(body);
}

/* Log in; true on AuthOk, false on AuthFailure (with its reason). */
static bool try_login(struct harness *h, enum rc_format f, const char *name,
                      const char *secret)
{
    struct rc_client *c = rc_connect(h, f == RC_JSON ? 0 : 1, f);
    struct rc_msg reply;
    int st = rc_auth(c, name, secret, &reply);
    bool ok;

    cr_assert_eq(st, RC_OK, "login as %s: no answer (%s)", name,
                 rc_status_name(st));
    cr_assert(reply.meta == RC_AUTH_OK || reply.meta == RC_AUTH_FAILURE,
              "login as %s: answered with meta %d", name, reply.meta);
    ok = reply.meta == RC_AUTH_OK;
    if (!ok)
        cr_assert(reply.has_data &&
                  strstr((const char *)reply.data, "invalid name or secret"),
                  "login as %s: AuthFailure without the reason", name);
    rc_msg_free(&reply);
    rc_close(c);
    return ok;
}

Test(examples, plugin_allows_prefix_with_secret)
{
    struct harness *h = start_with_chain("");

    wait_log(h, 0, "auth_prefix: names starting with \"guest-\" log in");
    cr_assert(try_login(h, RC_BINARY, "guest-1", "letmein"));
    cr_assert(try_login(h, RC_JSON, "guest-anna", "letmein"));
    cr_assert(try_login(h, RC_BINARY, "guest-", "letmein"));
    harness_stop(h);
}

Test(examples, plugin_denies_a_wrong_secret)
{
    /* auth_allow_all after it would let anybody in: a DENY must stop the
     * chain before it. */
    struct harness *h = start_with_chain(THEN_ALLOW_ALL);

    cr_assert_not(try_login(h, RC_BINARY, "guest-1", "nope"));
    cr_assert_not(try_login(h, RC_JSON, "guest-1", "letmei"));
    cr_assert_not(try_login(h, RC_BINARY, "guest-1", "letmein2"));
    cr_assert_not(try_login(h, RC_BINARY, "guest-1", ""));
    cr_assert_not(try_login(h, RC_BINARY, "guest-1", "LETMEIN"));
    cr_assert(try_login(h, RC_BINARY, "guest-1", "letmein"));
    harness_stop(h);
}

Test(examples, plugin_defers_other_names)
{
    /* Then auth_allow_all decides: every other name gets in. */
    struct harness *h = start_with_chain(THEN_ALLOW_ALL);

    cr_assert(try_login(h, RC_BINARY, "alice", "anything"));
    cr_assert(try_login(h, RC_JSON, "guest", "letmein")); /* shorter */
    cr_assert(try_login(h, RC_BINARY, "Guest-1", "x"));   /* case counts */
    cr_assert(try_login(h, RC_BINARY, "xguest-1", "letmein"));
    harness_stop(h);

    /* Alone in the chain: deferred by everyone means denied. */
    h = start_with_chain("");
    cr_assert_not(try_login(h, RC_BINARY, "alice", "letmein"));
    cr_assert_not(try_login(h, RC_JSON, "guest", "letmein"));
    wait_log(h, 0, "authentication failed for alice");
    harness_stop(h);
}

Test(examples, plugin_with_the_echo_examples)
{
    /* The example programs log in through the example plugin. */
    struct harness *h = harness_new();
    char body[4096];
    size_t mark;

    snprintf(body, sizeof body, "%s%s", prefix_chain(PREFIX_OPTIONS, ""),
             "listeners = ( { address = \"127.0.0.1\"; port = 0;"
             " translator = \"auto\"; } );\n");
    harness_boot(h, body);
    mark = harness_log_mark(h);
    const char *sargs[] = {"-a", broker_address(h), "-n", "guest-echo", "-s",
                           "letmein", NULL};
    struct proc *server = proc_start("echo_server", sargs, false);
    wait_log(h, mark, "client guest-echo logged in");
    const char *cargs[] = {"-a", broker_address(h), "-n", "guest-alice", "-s",
                           "letmein", "-p", "guest-echo", "hi", NULL};
    struct proc *client = proc_start("echo_client", cargs, false);
    expect_exit(client, 0);
    expect_stdout(client, "got 'hi' back from guest-echo\n");
    proc_free(client);
    expect_stdout(server, "guest-alice closed\n");
    stop_echo_server(server);
    harness_stop(h);
}

/* mpbroker -t on a config whose auth_prefix entry (line 6) has `options`:
 * exit 1, an error "CONF:6: ..." holding `needle`. */
static void expect_config_error(const char *options, const char *needle)
{
    struct harness *h = harness_new();
    char body[4096];

    snprintf(body, sizeof body, "%s%s", prefix_chain(options, ""),
             LISTEN_JSON_BINARY);
    const char *conf = harness_write_config(h, body);
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;
    char prefix[1100];

    cr_assert(harness_run(args, limit(MPT_EXIT_MS), &r),
              "mpbroker -t did not exit in time");
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_eq(r.exit_code, 1, "mpbroker -t with options { %s }: exit %d, "
                 "want 1; stderr:\n%s", options, r.exit_code, failure);
    snprintf(prefix, sizeof prefix, "%s:%d: ", conf,
             HARNESS_PROLOGUE_LINES + 1);
    bool found = false;
    for (char *line = r.err; line != NULL && *line != '\0' && !found;) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        found = strncmp(line, prefix, strlen(prefix)) == 0 &&
                strstr(line, needle) != NULL;
        line = end ? end + 1 : NULL;
    }
    cr_assert(found, "options { %s }: no error line \"%s...%s...\"; "
              "stderr:\n%s", options, prefix, needle, failure);
    run_result_free(&r);
    harness_free(h);
}

Test(examples, plugin_config_errors)
{
    expect_config_error("prefix = \"guest-\";",
                        "auth_prefix: option 'secret' (a non-empty string) "
                        "is required");
    expect_config_error("secret = \"letmein\";",
                        "auth_prefix: option 'prefix' (a non-empty string) "
                        "is required");
    expect_config_error("prefix = \"guest-\"; secret = \"\";",
                        "option 'secret' (a non-empty string) is required");
    expect_config_error("prefix = 5; secret = \"letmein\";",
                        "option 'prefix' must be a string");
    expect_config_error("prefix = 5; secret = \"letmein\";",
                        "expected a string");
    expect_config_error(PREFIX_OPTIONS " secrte = \"x\";",
                        "unknown setting 'secrte'");
}

Test(examples, plugin_config_ok)
{
    struct harness *h = harness_new();
    char body[4096];

    snprintf(body, sizeof body, "%s%s", prefix_chain(PREFIX_OPTIONS, ""),
             LISTEN_JSON_BINARY);
    const char *conf = harness_write_config(h, body);
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;

    cr_assert(harness_run(args, limit(MPT_EXIT_MS), &r),
              "mpbroker -t did not exit in time");
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_eq(r.exit_code, 0, "mpbroker -t: exit %d; stderr:\n%s",
                 r.exit_code, failure);
    cr_assert_str_eq(r.out, "configuration OK\n");
    run_result_free(&r);
    harness_free(h);
}
