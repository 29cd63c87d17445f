/*
 * test_protobuf_python.c - the protobuf wire format from the outside: a
 * peer written only from proto/mp.proto and doc/protocol.md
 * (tests/protobuf/mp_pb_peer.py: Python's protobuf package and the
 * mp_pb2 module protoc generates from mp.proto at test time) talks,
 * through the real broker, to mpcat in json, binary and gob (and in
 * protobuf: libmpclient's codec), to the C examples built on libmpclient,
 * and to itself, over TCP, a Unix socket
 * and an auto listener. Secrets and data are non-ASCII, some data empty.
 *
 * It needs /usr/bin/python3 with google.protobuf and protoc: the Debian
 * packages python3-protobuf and protobuf-compiler. Without them each test
 * FAILS, saying so: it never skips.
 *
 * Environment (set by tests/local.mk): MP_SRCDIR, MPCAT, MP_EXAMPLES_DIR
 * and what the harness needs. Optional: MP_PYTHON (the interpreter,
 * default /usr/bin/python3: the python3 first in PATH may lack
 * google.protobuf), MP_PROTOC (default protoc), MP_PROTO_FILE (the
 * mp.proto to generate from; default $MP_SRCDIR/proto/mp.proto).
 *
 * Every wait is for an event (an output line, a log line, an exit) with
 * a deadline; nothing sleeps.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define NEED_PACKAGES \
    "install the Debian packages python3-protobuf and protobuf-compiler " \
    "(tools/quickstart.sh lists them in its test packages)"

/* The secret of every user: non-ASCII, with a space. */
#define SECRET "s\xc3\xa9" "cret \xe2\x9c\x93 \xc3\xbc"
/* Non-ASCII data (UTF-8). */
#define HELLO "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"

/* The listeners of the broker config, in config order. */
enum { L_PROTOBUF, L_JSON, L_BINARY, L_GOB, L_UNIX, L_AUTO, L_COUNT };

#define MAX_ARGS 48

/* Room for assertion messages. */
static char failure[32768];

/* ----------------------------------------------------------------------
 * Child processes with pipes on stdin, stdout and stderr
 */

struct text {
    char *buf; /* NUL-terminated */
    size_t len, cap;
};

struct proc {
    char what[64];
    pid_t pid;
    int in;             /* write end of its stdin, or -1 */
    int fd[2];          /* read ends of stdout, stderr; -1 at EOF */
    struct text out[2];
    bool exited;
    int status;
    struct proc *next;
};

static struct proc *live_procs;

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

/* Start argv (NULL-terminated); its stdin is a pipe when with_stdin,
 * else /dev/null. */
static struct proc *proc_start(const char *what, const char *const *argv,
                               bool with_stdin)
{
    int in[2] = {-1, -1}, out[2], err[2];
    struct proc *p = calloc(1, sizeof *p);

    cr_assert_not_null(p, "out of memory");
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
    close(out[1]);
    close(err[1]);
    if (with_stdin)
        close(in[0]);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->in = with_stdin ? in[1] : -1;
    p->fd[0] = out[0];
    p->fd[1] = err[0];
    text_add(&p->out[0], "", 0);
    text_add(&p->out[1], "", 0);
    p->next = live_procs;
    live_procs = p;
    return p;
}

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

/* Wait until it exits, reading its output meanwhile. */
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

static const char *proc_report(struct proc *p)
{
    proc_pump(p, 0);
    snprintf(failure, sizeof failure, "--- %s stdout:\n%s--- %s stderr:\n%s",
             p->what, p->out[0].buf, p->what, p->out[1].buf);
    return failure;
}

static void expect_text(struct proc *p, int stream, const char *needle)
{
    if (!proc_wait_text(p, stream, needle, mpt_ms(MPT_MSG_MS)))
        cr_assert_fail("%s: no \"%s\" on %s within %d ms\n%s", p->what,
                       needle, stream ? "stderr" : "stdout",
                       mpt_ms(MPT_MSG_MS), proc_report(p));
}

#define expect_out(p, needle) expect_text((p), 0, (needle))
#define expect_err(p, needle) expect_text((p), 1, (needle))

static void expect_exit(struct proc *p, int code)
{
    if (!proc_wait_exit(p, mpt_ms(MPT_EXIT_MS)))
        cr_assert_fail("%s did not exit within %d ms\n%s", p->what,
                       mpt_ms(MPT_EXIT_MS), proc_report(p));
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != code)
        cr_assert_fail("%s: %s %d, want exit status %d\n%s", p->what,
                       WIFEXITED(p->status) ? "exit status" : "killed by signal",
                       WIFEXITED(p->status) ? WEXITSTATUS(p->status)
                                            : WTERMSIG(p->status),
                       code, proc_report(p));
}

/* Run argv to its end; true when it exited 0. Its output in `failure`. */
static bool run_ok(const char *what, const char *const *argv)
{
    struct proc *p = proc_start(what, argv, false);
    bool ok = proc_wait_exit(p, mpt_ms(30000)) && WIFEXITED(p->status) &&
              WEXITSTATUS(p->status) == 0;

    proc_report(p);
    proc_free(p);
    return ok;
}

/* ----------------------------------------------------------------------
 * The Python peer and its generated code
 */

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? v : fallback;
}

static const char *python(void)
{
    return env_or("MP_PYTHON", "/usr/bin/python3");
}

/* DIR/pb holds mp_pb2.py once gen_pb2() ran. */
static char pb2_dir[1024];
static char peer_script[1024];

/*
 * protoc --python_out on mp.proto into the harness's directory. Fails
 * (never skips) without google.protobuf or protoc, naming the packages.
 */
static void gen_pb2(struct harness *h)
{
    const char *src = getenv("MP_SRCDIR");
    char proto[1024], proto_dir[1024], include[1100], out[1100];

    cr_assert(src != NULL && *src != '\0',
              "MP_SRCDIR is not set: run the tests through `make check`");
    snprintf(peer_script, sizeof peer_script,
             "%s/tests/protobuf/mp_pb_peer.py", src);
    if (getenv("MP_PROTO_FILE") != NULL && *getenv("MP_PROTO_FILE") != '\0')
        snprintf(proto, sizeof proto, "%s", getenv("MP_PROTO_FILE"));
    else
        snprintf(proto, sizeof proto, "%s/proto/mp.proto", src);
    snprintf(proto_dir, sizeof proto_dir, "%s", proto);
    snprintf(include, sizeof include, "-I%s", dirname(proto_dir));
    snprintf(pb2_dir, sizeof pb2_dir, "%s", harness_path(h, "pb"));
    cr_assert(mkdir(pb2_dir, 0700) == 0, "mkdir %s: %s", pb2_dir,
              strerror(errno));
    snprintf(out, sizeof out, "--python_out=%s", pb2_dir);

    const char *import[] = {python(), "-c", "import google.protobuf", NULL};
    if (!run_ok("python", import))
        cr_assert_fail("%s cannot import google.protobuf: " NEED_PACKAGES
                       " (or point MP_PYTHON at a python3 that has it)\n%s",
                       python(), failure);
    const char *protoc[] = {env_or("MP_PROTOC", "protoc"), include, out,
                            proto, NULL};
    if (!run_ok("protoc", protoc))
        cr_assert_fail("protoc could not generate Python code from %s: "
                       NEED_PACKAGES "\n%s", proto, failure);
}

/* "--timeout" for a Python peer: it must outlive every wait of ours. */
static const char *peer_timeout(void)
{
    static char s[32];

    snprintf(s, sizeof s, "%d", mpt_ms(30000) / 1000);
    return s;
}

/* mp_pb_peer.py -a ADDR -n NAME -s SECRET [extra...] */
static struct proc *py_start(const char *addr, const char *name,
                             const char *secret, const char *const *extra)
{
    const char *argv[MAX_ARGS + 1] = {python(), peer_script, "--pb2-dir",
                                      pb2_dir, "--timeout", peer_timeout(),
                                      "-a", addr, "-n", name, "-s", secret};
    size_t n = 12;
    char what[64];

    for (size_t i = 0; extra[i] != NULL; i++) {
        cr_assert(n < MAX_ARGS, "too many arguments");
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    snprintf(what, sizeof what, "python peer %s", name);
    return proc_start(what, argv, false);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A Python server for proto as `name`, ready once it printed its login. */
static struct proc *py_serve(const char *addr, const char *name,
                             const char *const *extra)
{
    struct proc *p = py_start(addr, name, SECRET, extra);
    char line[300];

    snprintf(line, sizeof line, "logged in as %s\n", name);
    expect_out(p, line);
    return p;
}

/* ----------------------------------------------------------------------
 * The broker
 */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
    while (live_procs != NULL)
        proc_free(live_procs);
    harness_reap_all();
}

TestSuite(protobuf_python, .init = setup, .fini = teardown, .timeout = 120);

/* Every format's listener, a Unix socket speaking protobuf and an auto
 * listener; the users below share SECRET (auth_passwd). */
static struct harness *start_broker(void)
{
    static const char *const users[] = {"py", "py2", "cat", "echo", "bob",
                                        "alice"};
    struct harness *h = harness_new();
    char passwd[4096] = "";

    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        char *entry = harness_passwd_entry(users[i], SECRET);
        size_t used = strlen(passwd);
        snprintf(passwd + used, sizeof passwd - used, "%s\n", entry);
        free(entry);
    }
    chmod(harness_write_file(h, "mpbroker.passwd", passwd), 0600);
    harness_write_file(h, "pb.conf",
        "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
        "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
        "  { name = \"binary\"; module = \"translator_binary.so\"; },\n"
        "  { name = \"protobuf\"; module = \"translator_protobuf.so\"; },\n"
        "  { name = \"gob\"; module = \"translator_gob.so\"; } );\n"
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        "listeners = (\n"
        "  { address = \"127.0.0.1\"; port = 0; translator = \"protobuf\"; },\n"
        "  { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
        "  { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n"
        "  { address = \"127.0.0.1\"; port = 0; translator = \"gob\"; },\n"
        "  { unix = \"@DIR@/pb.sock\"; translator = \"protobuf\"; },\n"
        "  { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n");
    harness_launch(h, harness_path(h, "pb.conf"));
    if (!harness_wait_ready(h, mpt_ms(MPT_READY_MS))) {
        char *log = harness_log_text(h);
        snprintf(failure, sizeof failure, "%s", log);
        free(log);
        cr_assert_fail("the broker did not become ready; its log:\n%s",
                       failure);
    }
    cr_assert_eq(harness_listener_count(h), L_COUNT);
    gen_pb2(h);
    return h;
}

/* "tcp:127.0.0.1:PORT" or "unix:PATH" of listener i. */
static const char *address(struct harness *h, int i)
{
    static char addrs[4][300];
    static unsigned next;
    char *a = addrs[next++ % 4];
    struct harness_listener l = harness_listener(h, (size_t)i);

    if (l.is_unix)
        snprintf(a, sizeof addrs[0], "unix:%s", l.path);
    else
        snprintf(a, sizeof addrs[0], "tcp:%s:%d", l.host, l.port);
    return a;
}

static int format_listener(const char *format)
{
    if (strcmp(format, "json") == 0)
        return L_JSON;
    if (strcmp(format, "binary") == 0)
        return L_BINARY;
    if (strcmp(format, "protobuf") == 0)
        return L_PROTOBUF;
    return L_GOB;
}

static void wait_login(struct harness *h, size_t mark, const char *name,
                       struct proc *p)
{
    char line[300];

    snprintf(line, sizeof line, "client %s logged in", name);
    if (!harness_wait_log_from(h, mark, line, mpt_ms(MPT_READY_MS)))
        cr_assert_fail("%s did not log in\n%s", name, proc_report(p));
}

/* $MPCAT args... */
static struct proc *mpcat_start(const char *const *args, bool with_stdin)
{
    const char *argv[MAX_ARGS + 1];
    size_t n = 0;

    argv[n++] = env_or("MPCAT", NULL);
    cr_assert_not_null(argv[0], "MPCAT is not set: run `make check`");
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert(n < MAX_ARGS, "too many arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return proc_start("mpcat", argv, with_stdin);
}

/* $MP_EXAMPLES_DIR/prog args... */
static struct proc *example_start(const char *prog, const char *const *args)
{
    const char *dir = env_or("MP_EXAMPLES_DIR", NULL);
    static char path[1024];
    const char *argv[MAX_ARGS + 1];
    size_t n = 0;

    cr_assert_not_null(dir, "MP_EXAMPLES_DIR is not set: run `make check`");
    snprintf(path, sizeof path, "%s/%s", dir, prog);
    argv[n++] = path;
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert(n < MAX_ARGS, "too many arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return proc_start(prog, argv, false);
}

/* ----------------------------------------------------------------------
 * Python <-> mpcat in json, binary and gob
 */

/* mpcat connects from a `format` listener to the Python server (on the
 * protobuf listener), sends three lines (one empty), and gets each back
 * with the server's prefix. The empty line arrives as empty data, present
 * (gob has one form for absent and empty, and the broker reads it as
 * empty on a Data message: doc/protocol.md, Gob). */
static void mpcat_to_python(const char *format)
{
    struct harness *h = start_broker();
    struct proc *srv = py_serve(address(h, L_PROTOBUF), "py",
                                ARGS("--once", "serve", "cat-proto"));
    struct proc *cat = mpcat_start(
        ARGS("-a", address(h, format_listener(format)), "-f", format, "-n",
             "cat", "-s", SECRET, "-c", "3", "-w", "30", "connect", "py",
             "cat-proto"), true);

    proc_write(cat, HELLO "\n\nplain\n");
    proc_close_stdin(cat);
    expect_exit(cat, 0);
    cr_assert_str_eq(cat->out[0].buf,
                     "echo: " HELLO "\necho: \necho: plain\n",
                     "mpcat printed other replies\n%s", proc_report(cat));
    expect_exit(srv, 0);
    expect_out(srv, "opened cat:");
    expect_out(srv, " from cat for cat-proto\n");
    expect_out(srv, "got [" HELLO "] from cat on cat:");
    expect_out(srv, "got [] from cat on cat:");
    expect_out(srv, "got [plain] from cat on cat:");
    expect_out(srv, "closed cat:");
    cr_assert_str_empty(srv->out[1].buf, "%s", proc_report(srv));
    proc_free(cat);
    proc_free(srv);
    harness_stop(h);
}

Test(protobuf_python, mpcat_json_to_python) { mpcat_to_python("json"); }
Test(protobuf_python, mpcat_binary_to_python) { mpcat_to_python("binary"); }
Test(protobuf_python, mpcat_gob_to_python) { mpcat_to_python("gob"); }
/* libmpclient's protobuf codec against Python's. */
Test(protobuf_python, mpcat_protobuf_to_python) { mpcat_to_python("protobuf"); }

/* The Python peer opens a connection to `mpcat -e listen` on a `format`
 * listener and gets its three messages (one empty) back unchanged. */
static void python_to_mpcat(const char *format)
{
    struct harness *h = start_broker();
    size_t mark = harness_log_mark(h);
    struct proc *cat = mpcat_start(
        ARGS("-a", address(h, format_listener(format)), "-f", format, "-n",
             "cat", "-s", SECRET, "-e", "-q", "listen", "py-proto"), false);

    wait_login(h, mark, "cat", cat);
    struct proc *py = py_start(address(h, L_PROTOBUF), "py", SECRET,
                               ARGS("send", "cat", "py-proto", HELLO, "",
                                    "plain"));
    expect_exit(py, 0);
    expect_out(py, "logged in as py\nconnected py:1 to cat\n"
                   "reply [" HELLO "] from cat\nreply [] from cat\n"
                   "reply [plain] from cat\nclosed py:1\n");
    cr_assert_str_empty(py->out[1].buf, "%s", proc_report(py));
    expect_exit(cat, 0);
    cr_assert_str_eq(cat->out[0].buf, HELLO "\n\nplain\n",
                     "mpcat printed other messages\n%s", proc_report(cat));
    proc_free(py);
    proc_free(cat);
    harness_stop(h);
}

Test(protobuf_python, python_to_mpcat_json) { python_to_mpcat("json"); }
Test(protobuf_python, python_to_mpcat_binary) { python_to_mpcat("binary"); }
Test(protobuf_python, python_to_mpcat_gob) { python_to_mpcat("gob"); }
Test(protobuf_python, python_to_mpcat_protobuf) { python_to_mpcat("protobuf"); }

/* ----------------------------------------------------------------------
 * Python <-> the C examples on libmpclient
 */

/* echo_server speaks `format` at that listener; the Python peer comes in
 * on the Unix socket. */
static void python_to_echo_server(const char *format, int listener)
{
    struct harness *h = start_broker();
    size_t mark = harness_log_mark(h);
    struct proc *echo = example_start(
        "echo_server", ARGS("-a", address(h, listener), "-f", format, "-s",
                            SECRET));

    wait_login(h, mark, "echo", echo);
    struct proc *py = py_start(address(h, L_UNIX), "py", SECRET,
                               ARGS("send", "echo", "echo", HELLO, ""));
    expect_exit(py, 0);
    expect_out(py, "connected py:1 to echo\nreply [" HELLO "] from echo\n"
                   "reply [] from echo\nclosed py:1\n");
    expect_out(echo, "py closed\n");
    kill(echo->pid, SIGTERM);
    expect_exit(echo, 0);
    proc_free(py);
    proc_free(echo);
    harness_stop(h);
}

Test(protobuf_python, python_to_echo_server_binary)
{
    python_to_echo_server("binary", L_BINARY);
}

Test(protobuf_python, python_to_echo_server_gob)
{
    python_to_echo_server("gob", L_GOB);
}

Test(protobuf_python, echo_client_to_python)
{
    struct harness *h = start_broker();
    struct proc *srv = py_serve(address(h, L_PROTOBUF), "py",
                                ARGS("--once", "--prefix", "", "serve",
                                     "echo"));
    struct proc *client = example_start(
        "echo_client", ARGS("-a", address(h, L_JSON), "-f", "json", "-s",
                            SECRET, "-p", "py", "hello", "", "plain"));

    expect_exit(client, 0);
    expect_out(client, "opened echo connection alice:");
    expect_out(client, "got 'hello' back from py\n");
    expect_out(client, "got '' back from py\n");
    expect_out(client, "got 'plain' back from py\n");
    expect_exit(srv, 0);
    expect_out(srv, "got [hello] from alice on alice:");
    expect_out(srv, "got [] from alice on alice:");
    proc_free(client);
    proc_free(srv);
    harness_stop(h);
}

Test(protobuf_python, python_to_rr_server)
{
    struct harness *h = start_broker();
    size_t mark = harness_log_mark(h);
    struct proc *rr = example_start(
        "rr_server", ARGS("-a", address(h, L_AUTO), "-f", "json", "-n", "bob",
                          "-s", SECRET));

    wait_login(h, mark, "bob", rr);
    struct proc *py = py_start(address(h, L_AUTO), "py", SECRET,
                               ARGS("send", "bob", "upper", "hello there"));
    expect_exit(py, 0);
    expect_out(py, "reply [HELLO THERE] from bob\n");
    expect_out(rr, "py asked 'hello there'\n");
    kill(rr->pid, SIGTERM);
    expect_exit(rr, 0);
    proc_free(py);
    proc_free(rr);
    harness_stop(h);
}

/* ----------------------------------------------------------------------
 * Python <-> Python: TCP, the Unix socket, the auto listener
 */

static void python_pair(int server_listener, int client_listener)
{
    struct harness *h = start_broker();
    struct proc *srv = py_serve(address(h, server_listener), "py",
                                ARGS("--once", "serve", "pp"));
    struct proc *cli = py_start(address(h, client_listener), "py2", SECRET,
                                ARGS("send", "py", "pp", HELLO, "", "x"));

    expect_exit(cli, 0);
    expect_out(cli, "connected py2:1 to py\nreply [echo: " HELLO "] from py\n"
                    "reply [echo: ] from py\nreply [echo: x] from py\n"
                    "closed py2:1\n");
    expect_exit(srv, 0);
    expect_out(srv, "opened py2:1 from py2 for pp\n"
                    "got [" HELLO "] from py2 on py2:1\n"
                    "got [] from py2 on py2:1\n"
                    "got [x] from py2 on py2:1\nclosed py2:1\n");
    proc_free(cli);
    proc_free(srv);
    harness_stop(h);
}

Test(protobuf_python, python_pair_tcp) { python_pair(L_PROTOBUF, L_PROTOBUF); }
Test(protobuf_python, python_pair_unix_and_tcp) { python_pair(L_UNIX, L_PROTOBUF); }
Test(protobuf_python, python_pair_auto_listener) { python_pair(L_AUTO, L_UNIX); }

/* ----------------------------------------------------------------------
 * Refusals the peer reads from the wire
 */

Test(protobuf_python, refusals)
{
    struct harness *h = start_broker();

    /* A wrong secret: AuthFailure with the reason. */
    struct proc *bad = py_start(address(h, L_PROTOBUF), "py", "secret",
                                ARGS("serve", "x"));
    expect_exit(bad, 3);
    expect_err(bad, "login as py refused: invalid name or secret\n");
    proc_free(bad);

    /* Nobody called py2: NoSuchConnection. */
    struct proc *py = py_start(address(h, L_PROTOBUF), "py", SECRET,
                               ARGS("send", "py2", "p", "x"));
    expect_exit(py, 4);
    expect_err(py, "no such client: py2\n");
    proc_free(py);

    /* py2 serves another protocol: UnknownProtocol. */
    struct proc *srv = py_serve(address(h, L_UNIX), "py2",
                                ARGS("serve", "p"));
    py = py_start(address(h, L_PROTOBUF), "py", SECRET,
                  ARGS("send", "py2", "q", "x"));
    expect_exit(py, 4);
    expect_err(py, "py2 has no handler for q\n");
    expect_out(srv, "refused py:1 from py for q\n");
    proc_free(py);
    kill(srv->pid, SIGTERM);
    expect_exit(srv, 0);
    proc_free(srv);
    harness_stop(h);
}
