/*
 * test_passwd_tool.c - the mpbroker-passwd program: -c (a new file, and
 * starting an existing one over), the secret from standard input, from a
 * file (-S FILE, -S -) and from the command line (-b), modes kept or set,
 * -D, and its usage errors. Each file it writes is checked with
 * common/passwd_file.c (it parses, and the secret verifies), and the one
 * -c creates is given to a real broker, which must let the user in.
 *
 * The program is $MP_BUILDDIR/tools/mpbroker-passwd. Its stdin is a file
 * (so never a terminal) or /dev/null; stdout and stderr go to a file in
 * the test's directory. Every wait has a deadline (mpt_ms); nothing sleeps.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "passwd_file.h"
#include "rawclient.h"

TestSuite(passwd_tool, .fini = harness_reap_all, .timeout = 60);

#define TOOL_MS 10000 /* hashing with yescrypt takes a fraction of this */

struct tool_run {
    int exit_code;  /* -1 when it died of a signal */
    char out[4096]; /* stdout and stderr together, NUL-terminated */
};

static const char *tool_path(void)
{
    static char path[4096];
    const char *b = getenv("MP_BUILDDIR");

    cr_assert_not_null(b, "MP_BUILDDIR is not set (run through make check)");
    snprintf(path, sizeof path, "%s/tools/mpbroker-passwd", b);
    return path;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, mode), 0); /* whatever the umask */
    close(fd);
}

static char *read_text(const char *path)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    n = read(fd, buf, sizeof buf - 1);
    cr_assert(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

/* Wait for pid until the deadline; false if it is still running. */
static bool wait_exit(pid_t pid, long long deadline, int *status)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool done = false;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        long long left = deadline - mpt_now_ms();

        if (r == pid) {
            done = true;
            break;
        }
        if ((r < 0 && errno != EINTR) || left <= 0)
            break;
        if (pidfd >= 0) {
            struct pollfd p = { .fd = pidfd, .events = POLLIN };
            poll(&p, 1, (int)left);
        } else {
            poll(NULL, 0, 5); /* no pidfd (old kernel): look again soon */
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return done;
}

/*
 * Run the tool with the NULL-terminated arguments, stdin from `in` (a
 * path; NULL for /dev/null). Asserts that it exits in time.
 */
static void run_tool(struct harness *h, const char *in, struct tool_run *r,
                     ...)
{
    const char *argv[16];
    const char *out = harness_path(h, "tool.out");
    size_t n = 0;
    va_list ap;
    int status = 0;

    argv[n++] = tool_path();
    va_start(ap, r);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        cr_assert(n < 15);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;

    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int i = open(in ? in : "/dev/null", O_RDONLY);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (i < 0 || o < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 ||
            dup2(o, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (!wait_exit(pid, mpt_now_ms() + mpt_ms(TOOL_MS), &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("mpbroker-passwd ran for more than %d ms",
                       mpt_ms(TOOL_MS));
    }
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    snprintf(r->out, sizeof r->out, "%s", read_text(out));
}

/* Assert that `file` parses and that name/secret verifies (or, with a
 * NULL secret, that name is absent). Returns the number of users. */
static size_t check_user(const char *file, const char *name,
                         const char *secret)
{
    struct mp_passwd *pw = NULL;
    char err[512];
    size_t count;

    cr_assert_eq(mp_passwd_load(file, &pw, err, sizeof err), 0, "%s", err);
    if (secret == NULL)
        cr_assert_null(mp_passwd_lookup(pw, name, strlen(name)),
                       "%s is still in %s", name, file);
    else
        cr_assert_eq(mp_passwd_verify(pw, name, strlen(name),
                                      (const unsigned char *)secret,
                                      strlen(secret)),
                     MP_PASSWD_MATCH, "%s's secret does not verify in %s",
                     name, file);
    count = mp_passwd_count(pw);
    mp_passwd_free(pw);
    return count;
}

/* ---------------------------------------------------------------------- */

Test(passwd_tool, create_makes_a_file_the_broker_accepts)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *secret_file = harness_path(h, "alice.secret");
    struct tool_run r;

    write_text(secret_file, "open sesame\n", 0600);
    run_tool(h, NULL, &r, "-c", "-S", secret_file, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(mode_of(file), 0600);
    cr_assert_eq(check_user(file, "alice", "open sesame"), 1);

    harness_boot(h, MPT_LISTEN_JSON_BINARY
                 "authenticators = ( { module = \"auth_passwd.so\";"
                 " options = { file = \"@DIR@/users.passwd\"; }; } );\n");
    rc_close(rc_login(h, 0, RC_JSON, "alice", "open sesame"));
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);
    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("open sesame\n")));
    rc_expect_auth_failure(c, NULL); /* the newline was not kept */
    rc_close(c);
    rc_close(rc_login(h, 1, RC_BINARY, "alice", "open sesame"));
    harness_stop(h);
}

Test(passwd_tool, create_starts_an_existing_file_over_keeping_its_mode)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *in = harness_path(h, "stdin");
    char *bob = harness_passwd_entry("bob", "hunter2");
    char text[1024];
    struct tool_run r;

    snprintf(text, sizeof text, "# the old file\n%s\n", bob);
    free(bob);
    write_text(file, text, 0640);
    write_text(in, "s3cret\n", 0600);
    run_tool(h, in, &r, "-c", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "alice", "s3cret"), 1);
    check_user(file, "bob", NULL);
    cr_assert_null(strstr(read_text(file), "the old file"));
    cr_assert_eq(mode_of(file), 0640, "mode %o", (unsigned)mode_of(file));
    harness_free(h);
}

Test(passwd_tool, create_replaces_a_file_that_does_not_parse)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *in = harness_path(h, "stdin");
    struct tool_run r;

    write_text(file, "this is no passwd file\n", 0600);
    write_text(in, "s3cret\n", 0600);
    /* Without -c the broken file is refused and left alone... */
    run_tool(h, in, &r, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "users.passwd:1") != NULL, "%s", r.out);
    cr_assert_str_eq(read_text(file), "this is no passwd file\n");
    /* ... -c starts it over. */
    run_tool(h, in, &r, "--create", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "alice", "s3cret"), 1);
    harness_free(h);
}

Test(passwd_tool, secret_from_standard_input_is_its_first_line)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *in = harness_path(h, "stdin");
    struct tool_run r;

    write_text(in, "first line\nsecond line\n", 0600);
    run_tool(h, in, &r, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(mode_of(file), 0600); /* a new file, without -c too */
    check_user(file, "alice", "first line");

    /* A second user: the first is kept, and so is the file's mode. */
    cr_assert_eq(chmod(file, 0640), 0);
    write_text(in, "other\n", 0600);
    run_tool(h, in, &r, file, "bob", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "bob", "other"), 2);
    check_user(file, "alice", "first line");
    cr_assert_eq(mode_of(file), 0640);
    harness_free(h);
}

Test(passwd_tool, secret_file_is_its_content_less_one_newline)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *sf = harness_path(h, "secret");
    const char *in = harness_path(h, "stdin");
    struct tool_run r;

    write_text(sf, "two words\n", 0600);
    run_tool(h, NULL, &r, "--secret-file", sf, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    check_user(file, "alice", "two words");

    write_text(sf, "no newline", 0600);
    run_tool(h, NULL, &r, "-S", sf, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    check_user(file, "alice", "no newline");

    /* "-": standard input, read the same way (to its end). */
    write_text(in, "from stdin\n", 0600);
    run_tool(h, in, &r, "-S", "-", file, "bob", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "bob", "from stdin"), 2);
    harness_free(h);
}

Test(passwd_tool, secret_file_errors)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *sf = harness_path(h, "secret");
    char big[MP_PASSWD_SECRET_MAX + 3];
    struct tool_run r;

    write_text(sf, "", 0600);
    run_tool(h, NULL, &r, "-S", sf, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "no secret in") != NULL, "%s", r.out);

    run_tool(h, NULL, &r, "-S", harness_path(h, "missing"), file, "alice",
             NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "No such file") != NULL, "%s", r.out);

    /* The longest secret, with its newline, is taken; one byte more is
     * not. */
    memset(big, 'a', MP_PASSWD_SECRET_MAX);
    strcpy(big + MP_PASSWD_SECRET_MAX, "\n");
    write_text(sf, big, 0600);
    run_tool(h, NULL, &r, "-S", sf, file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    big[MP_PASSWD_SECRET_MAX] = '\0';
    check_user(file, "alice", big);
    strcpy(big + MP_PASSWD_SECRET_MAX, "b");
    write_text(sf, big, 0600);
    run_tool(h, NULL, &r, "-S", sf, file, "bob", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "longer than") != NULL, "%s", r.out);
    check_user(file, "bob", NULL);
    harness_free(h);
}

Test(passwd_tool, batch_takes_the_secret_argument_and_warns)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    struct tool_run r;

    run_tool(h, NULL, &r, "-c", "-b", file, "alice", "pw one", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "warning") != NULL &&
                  strstr(r.out, "other users") != NULL,
              "%s", r.out);
    cr_assert_null(strstr(r.out, "pw one"), "the secret was printed");
    run_tool(h, NULL, &r, "--batch", file, "bob", "pw two", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "bob", "pw two"), 2);
    check_user(file, "alice", "pw one");

    /* -D still works, and reads no secret. */
    run_tool(h, NULL, &r, "-D", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_eq(check_user(file, "alice", NULL), 1);
    harness_free(h);
}

Test(passwd_tool, usage_errors_change_nothing)
{
    struct harness *h = harness_new();
    const char *file = harness_path(h, "users.passwd");
    const char *sf = harness_path(h, "secret");
    struct tool_run r;

    write_text(sf, "x\n", 0600);
    run_tool(h, NULL, &r, "-D", "-c", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    run_tool(h, NULL, &r, "-D", "-b", file, "alice", "pw", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    run_tool(h, NULL, &r, "-b", "-S", sf, file, "alice", "pw", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    run_tool(h, NULL, &r, file, "alice", "pw", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    cr_assert(strstr(r.out, "only for -b") != NULL, "%s", r.out);
    run_tool(h, NULL, &r, "-b", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    run_tool(h, NULL, &r, "--bogus", file, "alice", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    cr_assert(strstr(r.out, "unknown option --bogus") != NULL, "%s", r.out);
    run_tool(h, NULL, &r, file, "alice", "-S", NULL);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    cr_assert(strstr(r.out, "needs an argument") != NULL, "%s", r.out);
    cr_assert_eq(access(file, F_OK), -1, "a usage error wrote the file");

    run_tool(h, NULL, &r, "--help", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "--secret-file") != NULL, "%s", r.out);
    cr_assert(strstr(r.out, "--create") != NULL, "%s", r.out);
    harness_free(h);
}
