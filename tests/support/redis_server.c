/* redis_server.c - a real redis-server for a test (see redis_server.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "redis_server.h"

#define START_ATTEMPTS 5  /* a free port may be taken before Redis binds */
#define READY_MS 5000
#define STOP_MS 5000
#define POLL_MS 10

struct redis_server {
    char dir[PATH_MAX];
    char address[64];
    int port;
    pid_t pid;                  /* 0 when not running */
    struct redis_server *next;  /* the list of live servers */
};

static struct redis_server *live_servers;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A port nobody listens on now (the kernel's choice for port 0). */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void exec_redis(struct redis_server *s)
{
    const char *prog = getenv("MP_REDIS_SERVER");
    char port[16], log[PATH_MAX + 16];

    /* No redis-server may outlive the test, even one that crashed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(log, sizeof log, "%s/redis.log", s->dir);
    if (prog == NULL || prog[0] == '\0')
        prog = "redis-server";
    execlp(prog, prog, "--port", port, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", s->dir, "--logfile", log,
           "--daemonize", "no", (char *)NULL);
    _exit(127);
}

static bool answers_ping(const struct redis_server *s)
{
    struct timeval tv = {0, 200 * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    redisReply *reply = NULL;
    bool ok = false;

    if (c != NULL && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK)
        reply = redisCommand(c, "PING");
    ok = reply != NULL && reply->type == REDIS_REPLY_STATUS &&
         strcmp(reply->str, "PONG") == 0;
    if (reply != NULL)
        freeReplyObject(reply);
    if (c != NULL)
        redisFree(c);
    return ok;
}

/* Start the process on s->port and wait for PING; false if it exited or
 * did not answer in time. */
static bool launch(struct redis_server *s)
{
    long long deadline = mpt_now_ms() + mpt_ms(READY_MS);
    int status;

    s->pid = fork();
    if (s->pid < 0) {
        fprintf(stderr, "redis_server: fork: %s\n", strerror(errno));
        s->pid = 0;
        return false;
    }
    if (s->pid == 0)
        exec_redis(s);
    while (mpt_now_ms() < deadline) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return false;
        }
        if (answers_ping(s))
            return true;
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "redis_server: no PONG on port %d within %d ms\n",
            s->port, mpt_ms(READY_MS));
    redis_server_kill9(s);
    return false;
}

static void make_dir(struct redis_server *s)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(s->dir, sizeof s->dir, "%s/mpredis.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "redis_server: mkdtemp: %s\n", strerror(errno));
        s->dir[0] = '\0';
    }
}

struct redis_server *redis_server_start(void)
{
    struct redis_server *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    make_dir(s);
    s->next = live_servers;
    live_servers = s;
    if (s->dir[0] == '\0') {
        redis_server_free(s);
        return NULL;
    }
    for (int i = 0; i < START_ATTEMPTS; i++) {
        s->port = free_port();
        snprintf(s->address, sizeof s->address, "tcp:127.0.0.1:%d",
                 s->port);
        if (s->port > 0 && launch(s))
            return s;
    }
    fprintf(stderr, "redis_server: could not start redis-server\n");
    redis_server_free(s);
    return NULL;
}

int redis_server_port(const struct redis_server *s)
{
    return s->port;
}

const char *redis_server_address(const struct redis_server *s)
{
    return s->address;
}

pid_t redis_server_pid(const struct redis_server *s)
{
    return s->pid;
}

void redis_server_kill9(struct redis_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
}

bool redis_server_restart(struct redis_server *s)
{
    redis_server_kill9(s);
    return launch(s);
}

void redis_server_pause(struct redis_server *s)
{
    if (s->pid > 0)
        kill(s->pid, SIGSTOP);
}

void redis_server_resume(struct redis_server *s)
{
    if (s->pid > 0)
        kill(s->pid, SIGCONT);
}

void redis_server_stop(struct redis_server *s)
{
    long long deadline = mpt_now_ms() + mpt_ms(STOP_MS);

    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT);
    kill(s->pid, SIGTERM);
    while (mpt_now_ms() < deadline) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(POLL_MS);
    }
    redis_server_kill9(s);
}

struct redisReply *redis_server_command(struct redis_server *s,
                                        const char *fmt, ...)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    redisReply *reply = NULL;
    va_list ap;

    if (c != NULL && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
        va_start(ap, fmt);
        reply = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    if (c != NULL)
        redisFree(c);
    return reply;
}

static void unlink_from_list(struct redis_server *s)
{
    for (struct redis_server **p = &live_servers; *p != NULL;
         p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

void redis_server_free(struct redis_server *s)
{
    char path[PATH_MAX + 16];

    if (s == NULL)
        return;
    unlink_from_list(s);
    redis_server_stop(s);
    if (s->dir[0] != '\0') {
        snprintf(path, sizeof path, "%s/redis.log", s->dir);
        unlink(path);
        rmdir(s->dir);
    }
    free(s);
}

void redis_server_reap_all(void)
{
    while (live_servers != NULL)
        redis_server_free(live_servers);
}
