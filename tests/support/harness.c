/* harness.c - start and stop the real mpbroker for a test (see harness.h). */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define MAX_LISTENERS 16
#define MAX_WRAPPER_ARGS 32
#define MAX_ARGS 64

struct harness {
    char dir[PATH_MAX];
    pid_t pid;              /* 0 before launch */
    bool exited;
    int status;             /* waitpid status once exited */
    int err_fd;             /* read end of the broker's stderr */
    pthread_t reader;
    bool reader_running;

    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t cv;
    char **lines;
    size_t nlines, cap;
    bool eof;
    struct harness_listener listeners[MAX_LISTENERS];
    size_t nlisteners;

    char **strings;         /* paths handed out, freed with the harness */
    size_t nstrings;
    struct harness *next;   /* registry of live harnesses */
};

static struct harness *live_harnesses;

/* Room for assertion messages: they must not leak when an assert jumps. */
static char failure_text[16384];

/* ----------------------------------------------------------------------
 * Small utilities
 */

long long mpt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mpt_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    cr_assert(flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
}

static void deadline_timespec(long long deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    cr_assert_not_null(p, "out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);

    memcpy(p, s, n);
    return p;
}

static const char *env_required(const char *name)
{
    const char *v = getenv(name);

    cr_assert(v != NULL && *v != '\0',
              "%s is not set: run the integration tests through `make check`",
              name);
    return v;
}

static const char *wrapper_env(void)
{
    const char *w = getenv("MP_BROKER_WRAPPER");

    return (w != NULL && *w != '\0') ? w : NULL;
}

/* The test program itself runs under $MP_TEST_WRAPPER (valgrind). */
static bool test_wrapped(void)
{
    const char *w = getenv("MP_TEST_WRAPPER");

    return w != NULL && *w != '\0';
}

int mpt_ms(int ms)
{
    const char *s = getenv("MP_TEST_TIMEOUT_SCALE");
    long scale = 1;

    if (s != NULL && *s != '\0')
        scale = strtol(s, NULL, 10);
    else if (wrapper_env() != NULL || test_wrapped())
        scale = 20;
    if (scale < 1)
        scale = 1;
    return (int)(ms * scale);
}

static bool verbose(void)
{
    const char *v = getenv("MP_TEST_VERBOSE");

    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Keep `s` until the harness is freed; return it. */
static const char *keep_string(struct harness *h, char *s)
{
    char **n = realloc(h->strings, (h->nstrings + 1) * sizeof *n);

    cr_assert_not_null(n, "out of memory");
    h->strings = n;
    h->strings[h->nstrings++] = s;
    return s;
}

/* ----------------------------------------------------------------------
 * Argument vectors: the wrapper's words, then $MPBROKER, then args
 */

struct argv_buf {
    char *storage;           /* the wrapper string, split in place */
    const char *argv[MAX_ARGS + 1];
    size_t argc;
};

static void argv_push(struct argv_buf *a, const char *s)
{
    cr_assert(a->argc < MAX_ARGS, "too many arguments");
    a->argv[a->argc++] = s;
    a->argv[a->argc] = NULL;
}

static void argv_build(struct argv_buf *a, const char *const *args)
{
    const char *wrapper = wrapper_env();

    memset(a, 0, sizeof *a);
    if (wrapper != NULL) {
        char *save = NULL;
        size_t words = 0;

        a->storage = xstrdup(wrapper);
        for (char *w = strtok_r(a->storage, " \t", &save); w != NULL;
             w = strtok_r(NULL, " \t", &save)) {
            cr_assert(++words <= MAX_WRAPPER_ARGS, "MP_BROKER_WRAPPER too long");
            argv_push(a, w);
        }
    }
    argv_push(a, env_required("MPBROKER"));
    for (size_t i = 0; args[i] != NULL; i++)
        argv_push(a, args[i]);
}

static void argv_free(struct argv_buf *a)
{
    free(a->storage);
    a->storage = NULL;
}

/*
 * In the child: wire fds 1 and 2, close everything else (criterion's own
 * pipes must not leak into the broker), die with the test process, exec.
 */
static void exec_child(const struct argv_buf *a, int out_fd, int err_fd,
                       pid_t parent)
{
    int devnull = open("/dev/null", O_RDONLY);

    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
        dup2(err_fd, 2) < 0)
        _exit(126);
#ifdef PR_SET_PDEATHSIG
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    signal(SIGPIPE, SIG_DFL);
    execvp(a->argv[0], (char *const *)a->argv);
    dprintf(2, "error: cannot exec %s: %s\n", a->argv[0], strerror(errno));
    _exit(127);
}

/* fork + exec; returns the child's pid. */
static pid_t spawn(const struct argv_buf *a, int out_fd, int err_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        exec_child(a, out_fd, err_fd, parent);
    return pid;
}

/* Wait until `pid` exits or the deadline passes. */
static bool wait_child(pid_t pid, long long deadline, int *status)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            if (pidfd >= 0)
                close(pidfd);
            return false;
        }
        long long left = deadline - mpt_now_ms();
        if (left <= 0) {
            if (pidfd >= 0)
                close(pidfd);
            return false;
        }
        if (pidfd >= 0) {
            struct pollfd p = { .fd = pidfd, .events = POLLIN };
            poll(&p, 1, (int)left);
        } else {
            /* No pidfd (old kernel): poll the child's state every 5 ms. */
            struct timespec ts = { 0, 5 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return true;
}

/* ----------------------------------------------------------------------
 * Placeholders and files
 */

struct placeholder {
    const char *key;
    const char *value;
};

static void buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                       size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 256);
        while (ncap < *len + n + 1)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        cr_assert_not_null(nb, "out of memory");
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static char *expand(const struct harness *h, const char *text)
{
    const char *plugin_dir = getenv("MP_PLUGIN_BUILD_DIR");
    const char *test_dir = getenv("MP_TEST_PLUGIN_DIR");
    const struct placeholder ph[] = {
        { "@DIR@", h->dir },
        { "@PLUGIN_DIR@", plugin_dir ? plugin_dir : "" },
        { "@TEST_PLUGIN_DIR@", test_dir ? test_dir : "" },
    };
    char *buf = NULL;
    size_t len = 0, cap = 0;

    buf_append(&buf, &len, &cap, "", 0);
    for (const char *p = text; *p != '\0';) {
        bool replaced = false;
        for (size_t i = 0; i < sizeof ph / sizeof ph[0]; i++) {
            size_t kl = strlen(ph[i].key);
            if (strncmp(p, ph[i].key, kl) == 0) {
                if (strcmp(ph[i].key, "@TEST_PLUGIN_DIR@") == 0)
                    env_required("MP_TEST_PLUGIN_DIR");
                else if (strcmp(ph[i].key, "@PLUGIN_DIR@") == 0)
                    env_required("MP_PLUGIN_BUILD_DIR");
                buf_append(&buf, &len, &cap, ph[i].value, strlen(ph[i].value));
                p += kl;
                replaced = true;
                break;
            }
        }
        if (!replaced)
            buf_append(&buf, &len, &cap, p++, 1);
    }
    return buf;
}

const char *harness_path(struct harness *h, const char *name)
{
    size_t n = strlen(h->dir) + 1 + strlen(name) + 1;
    char *p = xmalloc(n);

    snprintf(p, n, "%s/%s", h->dir, name);
    return keep_string(h, p);
}

const char *harness_write_file(struct harness *h, const char *name,
                               const char *text)
{
    const char *path = harness_path(h, name);
    char *body = expand(h, text);
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(body);
    bool ok = fwrite(body, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    free(body);
    cr_assert(ok, "cannot write %s", path);
    return path;
}

const char *harness_write_config(struct harness *h, const char *body)
{
    static const char prologue[] =
        "# written by the integration test harness\n"
        "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
        "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
        "                { name = \"binary\"; module = \"translator_binary.so\"; } );\n"
        "\n";
    size_t n = sizeof prologue + strlen(body);
    char *text = xmalloc(n);

    snprintf(text, n, "%s%s", prologue, body);
    const char *path = harness_write_file(h, "mpbroker.conf", text);
    free(text);
    return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* ----------------------------------------------------------------------
 * Creating and freeing
 */

static const char *temp_root(void)
{
    const char *t = getenv("TMPDIR");

    /* Unix socket paths must stay short (108 bytes). */
    if (t != NULL && *t == '/' && strlen(t) < 48)
        return t;
    return "/tmp";
}

struct harness *harness_new(void)
{
    struct harness *h = calloc(1, sizeof *h);
    pthread_condattr_t ca;

    cr_assert_not_null(h, "out of memory");
    snprintf(h->dir, sizeof h->dir, "%s/mpbt.XXXXXX", temp_root());
    cr_assert_not_null(mkdtemp(h->dir), "mkdtemp: %s", strerror(errno));
    h->err_fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->next = live_harnesses;
    live_harnesses = h;
    return h;
}

const char *harness_dir(const struct harness *h)
{
    return h->dir;
}

static void unregister(struct harness *h)
{
    for (struct harness **p = &live_harnesses; *p != NULL; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            return;
        }
    }
}

static void kill_and_reap(struct harness *h)
{
    if (h->pid > 0 && !h->exited) {
        kill(h->pid, SIGKILL);
        if (waitpid(h->pid, &h->status, 0) == h->pid)
            h->exited = true;
    }
    if (h->reader_running) {
        pthread_join(h->reader, NULL);
        h->reader_running = false;
    }
    if (h->err_fd >= 0) {
        close(h->err_fd);
        h->err_fd = -1;
    }
}

void harness_free(struct harness *h)
{
    if (h == NULL)
        return;
    unregister(h);
    kill_and_reap(h);
    nftw(h->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < h->nlines; i++)
        free(h->lines[i]);
    free(h->lines);
    for (size_t i = 0; i < h->nstrings; i++)
        free(h->strings[i]);
    free(h->strings);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void harness_reap_all(void)
{
    while (live_harnesses != NULL)
        harness_free(live_harnesses);
}

/* ----------------------------------------------------------------------
 * The stderr reader
 */

/* "info: listening on tcp:127.0.0.1:PORT translator=NAME" and the like. */
static bool parse_listener(const char *line, struct harness_listener *l)
{
    const char *p = strstr(line, "listening on ");
    const char *tr;

    if (p == NULL)
        return false;
    p += strlen("listening on ");
    tr = strstr(p, " translator=");
    if (tr == NULL)
        return false;
    memset(l, 0, sizeof *l);
    snprintf(l->translator, sizeof l->translator, "%s",
             tr + strlen(" translator="));
    if (strncmp(p, "unix:", 5) == 0) {
        l->is_unix = true;
        snprintf(l->path, sizeof l->path, "%.*s", (int)(tr - p - 5), p + 5);
        return true;
    }
    if (strncmp(p, "ws:", 3) == 0 || strncmp(p, "wss:", 4) == 0) {
        l->is_websocket = true;
        l->is_tls = p[2] == 's';
        p += l->is_tls ? 4 : 3;
    } else if (strncmp(p, "tcp:", 4) == 0 || strncmp(p, "tls:", 4) == 0) {
        l->is_tls = strncmp(p, "tls:", 4) == 0;
        p += 4;
    } else {
        return false;
    }
    const char *colon;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(tr - p));
        if (close == NULL || close[1] != ':')
            return false;
        snprintf(l->host, sizeof l->host, "%.*s", (int)(close - p - 1), p + 1);
        colon = close + 1;
    } else {
        colon = p;
        for (const char *q = p; q < tr; q++)
            if (*q == ':')
                colon = q;
        if (*colon != ':')
            return false;
        snprintf(l->host, sizeof l->host, "%.*s", (int)(colon - p), p);
    }
    l->port = atoi(colon + 1);
    return l->port > 0;
}

static void store_line(struct harness *h, const char *s, size_t n)
{
    char *line = malloc(n + 1);
    struct harness_listener l;

    if (line == NULL)
        return;
    memcpy(line, s, n);
    line[n] = '\0';
    if (verbose())
        fprintf(stderr, "[mpbroker %d] %s\n", (int)h->pid, line);
    pthread_mutex_lock(&h->mu);
    if (h->nlines == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        char **nl = realloc(h->lines, ncap * sizeof *nl);
        if (nl == NULL) {
            pthread_mutex_unlock(&h->mu);
            free(line);
            return;
        }
        h->lines = nl;
        h->cap = ncap;
    }
    h->lines[h->nlines++] = line;
    if (h->nlisteners < MAX_LISTENERS && parse_listener(line, &l))
        h->listeners[h->nlisteners++] = l;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void *reader_main(void *arg)
{
    struct harness *h = arg;
    char *pending = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];

    for (;;) {
        ssize_t n = read(h->err_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                store_line(h, pending ? pending : "", len);
                len = 0;
                continue;
            }
            if (len + 1 >= cap) {
                size_t ncap = cap ? cap * 2 : 256;
                char *np = realloc(pending, ncap);
                if (np == NULL)
                    continue;
                pending = np;
                cap = ncap;
            }
            pending[len++] = chunk[i];
        }
    }
    if (len > 0)
        store_line(h, pending, len);
    free(pending);
    pthread_mutex_lock(&h->mu);
    h->eof = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ----------------------------------------------------------------------
 * Running the broker
 */

void harness_launch(struct harness *h, const char *config_path)
{
    const char *args[] = { "-c", config_path, NULL };
    struct argv_buf a;
    int fds[2];

    cr_assert(h->pid == 0, "harness_launch called twice");
    cr_assert(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    argv_build(&a, args);
    h->pid = spawn(&a, fds[1], fds[1]);
    argv_free(&a);
    close(fds[1]);
    h->err_fd = fds[0];
    cr_assert(pthread_create(&h->reader, NULL, reader_main, h) == 0,
              "pthread_create failed");
    h->reader_running = true;
}

/* Must hold h->mu. */
static bool find_line_locked(struct harness *h, size_t *from, const char *s)
{
    for (; *from < h->nlines; (*from)++)
        if (strstr(h->lines[*from], s) != NULL)
            return true;
    return false;
}

bool harness_wait_log_from(struct harness *h, size_t mark,
                           const char *substring, int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;
    struct timespec ts;
    bool found;

    deadline_timespec(deadline, &ts);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        found = find_line_locked(h, &mark, substring);
        if (found || h->eof)
            break;
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT) {
            found = find_line_locked(h, &mark, substring);
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return found;
}

bool harness_wait_log(struct harness *h, const char *substring, int timeout_ms)
{
    return harness_wait_log_from(h, 0, substring, timeout_ms);
}

bool harness_log_contains(struct harness *h, const char *substring)
{
    return harness_wait_log_from(h, 0, substring, 0);
}

size_t harness_log_mark(struct harness *h)
{
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->nlines;
    pthread_mutex_unlock(&h->mu);
    return n;
}

char *harness_log_text(struct harness *h)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;

    buf_append(&buf, &len, &cap, "", 0);
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->nlines; i++) {
        buf_append(&buf, &len, &cap, h->lines[i], strlen(h->lines[i]));
        buf_append(&buf, &len, &cap, "\n", 1);
    }
    pthread_mutex_unlock(&h->mu);
    return buf;
}

/* The last part of the log, in failure_text, for an assertion message. */
static const char *log_tail(struct harness *h)
{
    char *text = harness_log_text(h);
    size_t n = strlen(text), max = sizeof failure_text - 1;
    const char *start = n > max ? text + (n - max) : text;

    snprintf(failure_text, sizeof failure_text, "%s", start);
    free(text);
    return failure_text;
}

bool harness_wait_ready(struct harness *h, int timeout_ms)
{
    return harness_wait_log(h, "notice: ready", timeout_ms);
}

bool harness_relaunch(struct harness *h, const char *config_path,
                      int timeout_ms)
{
    size_t mark;

    kill_and_reap(h);
    pthread_mutex_lock(&h->mu);
    h->eof = false;
    h->nlisteners = 0;
    mark = h->nlines;
    pthread_mutex_unlock(&h->mu);
    h->pid = 0;
    h->exited = false;
    harness_launch(h, config_path);
    return harness_wait_log_from(h, mark, "notice: ready", timeout_ms);
}

void harness_boot(struct harness *h, const char *body)
{
    harness_launch(h, harness_write_config(h, body));
    if (!harness_wait_ready(h, mpt_ms(MPT_READY_MS)))
        cr_assert_fail("the broker did not become ready; its log:\n%s",
                       log_tail(h));
}

struct harness *harness_start(const char *body)
{
    struct harness *h = harness_new();

    harness_boot(h, body);
    return h;
}

struct harness *harness_start_allow_all(const char *extra)
{
    char *body = NULL;
    struct harness *h;

    cr_assert(asprintf(&body, "%s%s%s", MPT_LISTEN_JSON_BINARY,
                       MPT_AUTH_ALLOW_ALL, extra) > 0);
    h = harness_start(body);
    free(body);
    return h;
}

size_t harness_listener_count(struct harness *h)
{
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->nlisteners;
    pthread_mutex_unlock(&h->mu);
    return n;
}

struct harness_listener harness_listener(struct harness *h, size_t i)
{
    struct harness_listener l;
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->nlisteners;
    if (i < n)
        l = h->listeners[i];
    pthread_mutex_unlock(&h->mu);
    if (i >= n)
        cr_assert_fail("listener %zu was not logged (%zu listening lines); log:\n%s",
                       i, n, log_tail(h));
    return l;
}

pid_t harness_pid(const struct harness *h)
{
    return h->pid;
}

long harness_broker_kib(struct harness *h, const char *field)
{
    char path[64], line[256];
    size_t n = strlen(field);
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)harness_pid(h));
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    cr_assert_gt(kib, 0, "no %s in %s", field, path);
    return kib;
}

long long harness_broker_cpu_ms(struct harness *h)
{
    char path[64], buf[1024];
    unsigned long long utime, stime;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)harness_pid(h));
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After "pid (comm) ": state is field 3, utime 14, stime 15. */
    const char *p = strrchr(buf, ')');
    cr_assert_not_null(p, "cannot parse %s", path);
    cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                        "%llu %llu", &utime, &stime), 2,
                 "cannot parse %s", path);
    return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

bool harness_rss_unreliable(void)
{
    const char *w = getenv("MP_BROKER_WRAPPER");

#if defined(__SANITIZE_ADDRESS__)
    return true;
#endif
    return w != NULL && *w != '\0';
}

bool harness_signal(struct harness *h, int sig)
{
    return h->pid > 0 && !h->exited && kill(h->pid, sig) == 0;
}

bool harness_wait_exit(struct harness *h, int timeout_ms, int *status)
{
    if (h->pid <= 0)
        return false;
    if (!h->exited) {
        if (!wait_child(h->pid, mpt_now_ms() + timeout_ms, &h->status))
            return false;
        h->exited = true;
    }
    if (h->reader_running) {
        pthread_join(h->reader, NULL);
        h->reader_running = false;
    }
    if (status != NULL)
        *status = h->status;
    return true;
}

static const char *describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "wait status %#x", (unsigned)status);
    return buf;
}

void harness_stop(struct harness *h)
{
    int status = 0;
    char what[64];

    cr_assert(h->pid > 0, "harness_stop: no broker was started");
    if (!h->exited && !harness_signal(h, SIGTERM))
        cr_assert_fail("cannot send SIGTERM to the broker: %s", strerror(errno));
    if (!harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status)) {
        log_tail(h);
        harness_free(h);
        cr_assert_fail("the broker did not exit within %d ms of SIGTERM "
                       "(killed); its log:\n%s", mpt_ms(MPT_EXIT_MS),
                       failure_text);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        describe_status(status, what, sizeof what);
        log_tail(h);
        harness_free(h);
        cr_assert_fail("the broker did not shut down cleanly (%s); its log:\n%s",
                       what, failure_text);
    }
    harness_free(h);
}

/* ----------------------------------------------------------------------
 * Short runs: mpbroker -t, -v, -h
 */

static void read_into(int *fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    ssize_t n = read(*fd, chunk, sizeof chunk);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    buf_append(buf, len, cap, chunk, (size_t)n);
}

bool harness_run(const char *const *args, int timeout_ms, struct run_result *r)
{
    long long deadline = mpt_now_ms() + timeout_ms;
    struct argv_buf a;
    int out[2], err[2], status = 0;
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;

    memset(r, 0, sizeof *r);
    buf_append(&r->out, &olen, &ocap, "", 0);
    buf_append(&r->err, &elen, &ecap, "", 0);
    cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0,
              "pipe: %s", strerror(errno));
    argv_build(&a, args);
    pid_t pid = spawn(&a, out[1], err[1]);
    argv_free(&a);
    close(out[1]);
    close(err[1]);
    while (out[0] >= 0 || err[0] >= 0) {
        struct pollfd p[2] = { { .fd = out[0], .events = POLLIN },
                               { .fd = err[0], .events = POLLIN } };
        long long left = deadline - mpt_now_ms();
        if (left <= 0 || poll(p, 2, (int)left) == 0)
            break;
        if (p[0].revents)
            read_into(&out[0], &r->out, &olen, &ocap);
        if (p[1].revents)
            read_into(&err[0], &r->err, &elen, &ecap);
    }
    if (out[0] >= 0)
        close(out[0]);
    if (err[0] >= 0)
        close(err[0]);
    if (!wait_child(pid, deadline, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        r->timed_out = true;
    }
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return !r->timed_out;
}

void run_result_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* ----------------------------------------------------------------------
 * Passwd entries
 */

char *harness_passwd_entry(const char *name, const char *secret)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *hash;

    cr_assert_not_null(cd, "out of memory");
    cr_assert_not_null(crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof salt),
                       "crypt_gensalt: %s", strerror(errno));
    hash = crypt_r(secret, salt, cd);
    cr_assert(hash != NULL && hash[0] == '$', "crypt_r failed");
    size_t n = strlen(name) + 1 + strlen(hash) + 1;
    char *line = xmalloc(n);
    snprintf(line, n, "%s:%s", name, hash);
    free(cd);
    return line;
}
