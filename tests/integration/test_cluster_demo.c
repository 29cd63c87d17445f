/*
 * test_cluster_demo.c - tools/cluster-demo.sh as a user runs it, against
 * this build: the echo comes back across brokers, the script exits 0,
 * and nothing it started is left (no process of the pids it printed, no
 * temporary directory); SIGTERM half way through stops everything just
 * as cleanly; and a Redis that does not start fails it, cleanly too.
 *
 * Environment (set by tests/local.mk): MP_SRCDIR (the script),
 * MP_BUILDDIR (given to it as --build-dir). The script runs in a process
 * group of its own, so that a test that fails or times out kills
 * whatever it started.
 */
#define _GNU_SOURCE
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
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

/* The whole demo takes about 2 s on an idle machine. */
#define DEMO_MS 60000

struct demo {
    pid_t pid;       /* the script, leader of its own process group */
    int fd[2];       /* stdout, stderr; -1 at EOF */
    char out[2][65536];
    size_t len[2];
    int status;
};

static struct demo *live;

static void kill_live(void)
{
    if (live != NULL && live->pid > 0) {
        killpg(live->pid, SIGKILL);
        waitpid(live->pid, NULL, 0);
    }
    live = NULL;
}

TestSuite(cluster_demo, .fini = kill_live, .timeout = 120);

/* Start the demo; redis_server (or NULL) becomes its $MP_REDIS_SERVER. */
static void demo_start(struct demo *d, const char *redis_server)
{
    const char *src = getenv("MP_SRCDIR"), *build = getenv("MP_BUILDDIR");
    char script[4096];
    int out[2], err[2];

    cr_assert(src != NULL && build != NULL,
              "MP_SRCDIR and MP_BUILDDIR unset: run through `make check`");
    snprintf(script, sizeof script, "%s/tools/cluster-demo.sh", src);
    cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
    memset(d, 0, sizeof *d);
    d->pid = fork();
    cr_assert(d->pid >= 0, "fork: %s", strerror(errno));
    if (d->pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        dup2(err[1], 2);
        if (redis_server != NULL)
            setenv("MP_REDIS_SERVER", redis_server, 1);
        execlp("sh", "sh", script, "--build-dir", build, (char *)NULL);
        _exit(127);
    }
    setpgid(d->pid, d->pid);
    live = d;
    close(out[1]);
    close(err[1]);
    d->fd[0] = out[0];
    d->fd[1] = err[0];
}

/* Read what the script wrote until `text` is in its stderr (text NULL:
 * until both pipes are closed). Fails the test past the deadline. */
static void demo_read_until(struct demo *d, const char *text,
                            long long deadline)
{
    while (d->fd[0] >= 0 || d->fd[1] >= 0) {
        struct pollfd pfd[2] = { { .fd = d->fd[0], .events = POLLIN },
                                 { .fd = d->fd[1], .events = POLLIN } };
        long long left = deadline - mpt_now_ms();

        if (text != NULL && strstr(d->out[1], text) != NULL)
            return;
        cr_assert_gt(left, 0, "the demo ran out of time; its stderr:\n%s",
                     d->out[1]);
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
            cr_assert_fail("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            ssize_t n;
            size_t room = sizeof d->out[i] - 1 - d->len[i];

            if (d->fd[i] < 0 || pfd[i].revents == 0)
                continue;
            n = read(d->fd[i], d->out[i] + d->len[i], room);
            if (n <= 0 || room == 0) {
                close(d->fd[i]);
                d->fd[i] = -1;
                continue;
            }
            d->len[i] += (size_t)n;
            d->out[i][d->len[i]] = '\0';
        }
    }
    if (text != NULL)
        cr_assert_fail("the demo ended without printing '%s':\n%s", text,
                       d->out[1]);
}

/* Read to the end and reap the script; returns its wait status. */
static int demo_finish(struct demo *d, long long deadline)
{
    demo_read_until(d, NULL, deadline);
    cr_assert_eq(waitpid(d->pid, &d->status, 0), d->pid);
    live = NULL;
    return d->status;
}

/* Every "(pid N" the script printed (at least min_pids) names a process
 * that is gone, and so is the directory it removed. */
static void assert_nothing_left(const struct demo *d, int min_pids)
{
    const char *p = d->out[1], *dir;
    int pids = 0;

    while ((p = strstr(p, "(pid ")) != NULL) {
        long pid = strtol(p + 5, NULL, 10);
        cr_assert_gt(pid, 1);
        cr_assert(kill((pid_t)pid, 0) == -1 && errno == ESRCH,
                  "pid %ld still runs after the demo:\n%s", pid, d->out[1]);
        pids++;
        p += 5;
    }
    cr_assert_geq(pids, min_pids, "too few pids printed:\n%s", d->out[1]);
    dir = strstr(d->out[1], "removed ");
    cr_assert_not_null(dir, "no 'removed DIR' line:\n%s", d->out[1]);
    char path[1024];
    struct stat st;

    cr_assert_eq(sscanf(dir + strlen("removed "), "%1023s", path), 1);
    cr_assert(stat(path, &st) == -1 && errno == ENOENT,
              "%s is still there", path);
    /* The process group holds nothing either (the script included). */
    cr_assert(killpg(d->pid, 0) == -1 && errno == ESRCH,
              "a process of the demo's group still runs");
}

Test(cluster_demo, the_echo_comes_back_and_everything_stops)
{
    struct demo *d = malloc(sizeof *d);
    long long deadline = mpt_now_ms() + mpt_ms(DEMO_MS);
    int status;

    cr_assert_not_null(d);
    demo_start(d, NULL);
    status = demo_finish(d, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the demo failed (status 0x%x):\n%s", status, d->out[1]);
    cr_assert_str_eq(d->out[0], "hello across brokers\n",
                     "stdout is the echo alone");
    cr_assert_not_null(strstr(d->out[1], "broker 3 ready"));
    cr_assert_not_null(strstr(d->out[1], "WARNING: DEMO ONLY"));
    cr_assert_not_null(strstr(d->out[1], "cluster demo: OK"));
    assert_nothing_left(d, 2);
    free(d);
}

Test(cluster_demo, sigterm_half_way_stops_everything)
{
    struct demo *d = malloc(sizeof *d);
    long long deadline = mpt_now_ms() + mpt_ms(DEMO_MS);
    int status;

    cr_assert_not_null(d);
    demo_start(d, NULL);
    /* Redis and broker 1 run, brokers 2 and 3 are still to come. */
    demo_read_until(d, "broker 1 ready", deadline);
    cr_assert_eq(kill(d->pid, SIGTERM), 0);
    status = demo_finish(d, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 143,
              "want exit status 143 after SIGTERM (status 0x%x):\n%s",
              status, d->out[1]);
    cr_assert_str_eq(d->out[0], "", "no echo after SIGTERM");
    assert_nothing_left(d, 2);
    free(d);
}

Test(cluster_demo, a_redis_that_does_not_start_fails_the_demo)
{
    struct demo *d = malloc(sizeof *d);
    long long deadline = mpt_now_ms() + mpt_ms(DEMO_MS);
    int status;

    cr_assert_not_null(d);
    demo_start(d, "false");
    status = demo_finish(d, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
              "want exit status 1 (status 0x%x):\n%s", status, d->out[1]);
    cr_assert_not_null(strstr(d->out[1], "redis-server did not start"),
                       "%s", d->out[1]);
    cr_assert_str_eq(d->out[0], "");
    assert_nothing_left(d, 0);
    free(d);
}
