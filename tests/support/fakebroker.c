/*
 * fakebroker.c - a scripted hostile broker (see fakebroker.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fakebroker.h"
#include "harness.h"

struct fakebroker {
    int lfd;
    enum rc_format fmt;
    char address[64];
    struct rc_client *client; /* the accepted one, or NULL */
    pthread_t thread;
    bool started, joined;
    fb_script script;
    void *arg;
    atomic_bool stop, done;
    pthread_mutex_t mu;       /* guards signals, error, client's fd */
    pthread_cond_t cv;
    unsigned signals;
    char error[512];
};

struct fakebroker *fb_new(enum rc_format fmt, int rcvbuf)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof sin;
    struct fakebroker *fb = calloc(1, sizeof *fb);
    int one = 1;

    cr_assert_not_null(fb, "out of memory");
    fb->fmt = fmt;
    fb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fb->lfd >= 0, "socket: %s", strerror(errno));
    setsockopt(fb->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Set on the listening socket, the accepted one inherits it before
     * the window is announced. */
    if (rcvbuf > 0)
        setsockopt(fb->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fb->lfd, (struct sockaddr *)&sin, sizeof sin) == 0,
              "bind: %s", strerror(errno));
    cr_assert(listen(fb->lfd, 4) == 0, "listen: %s", strerror(errno));
    cr_assert(getsockname(fb->lfd, (struct sockaddr *)&sin, &sl) == 0);
    snprintf(fb->address, sizeof fb->address, "tcp:127.0.0.1:%d",
             ntohs(sin.sin_port));
    pthread_mutex_init(&fb->mu, NULL);
    pthread_cond_init(&fb->cv, NULL);
    return fb;
}

const char *fb_address(const struct fakebroker *fb)
{
    return fb->address;
}

static void *run(void *arg)
{
    struct fakebroker *fb = arg;

    fb->script(fb, fb->arg);
    atomic_store(&fb->done, true);
    return NULL;
}

void fb_run(struct fakebroker *fb, fb_script script, void *arg)
{
    fb->script = script;
    fb->arg = arg;
    cr_assert_eq(pthread_create(&fb->thread, NULL, run, fb), 0,
                 "pthread_create failed");
    fb->started = true;
}

bool fb_done(struct fakebroker *fb)
{
    return atomic_load(&fb->done);
}

const char *fb_join(struct fakebroker *fb, int ms)
{
    long long deadline = mpt_now_ms() + ms;

    if (!fb->started || fb->joined)
        return fb->error[0] ? fb->error : NULL;
    pthread_mutex_lock(&fb->mu);
    while (!atomic_load(&fb->done) && mpt_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&fb->cv, &fb->mu, &ts);
    }
    if (!atomic_load(&fb->done)) {
        atomic_store(&fb->stop, true);
        if (fb->error[0] == '\0')
            snprintf(fb->error, sizeof fb->error, "timed out");
        /* A send or receive in progress returns at once. */
        if (fb->client != NULL)
            shutdown(rc_fd(fb->client), SHUT_RDWR);
        shutdown(fb->lfd, SHUT_RDWR);
        pthread_cond_broadcast(&fb->cv);
    }
    pthread_mutex_unlock(&fb->mu);
    pthread_join(fb->thread, NULL);
    fb->joined = true;
    return fb->error[0] ? fb->error : NULL;
}

void fb_free(struct fakebroker *fb)
{
    if (fb == NULL)
        return;
    fb_join(fb, 0);
    if (fb->client != NULL)
        rc_close(fb->client);
    close(fb->lfd);
    pthread_mutex_destroy(&fb->mu);
    pthread_cond_destroy(&fb->cv);
    free(fb);
}

void fb_signal(struct fakebroker *fb)
{
    pthread_mutex_lock(&fb->mu);
    fb->signals++;
    pthread_cond_broadcast(&fb->cv);
    pthread_mutex_unlock(&fb->mu);
}

bool fb_stopping(struct fakebroker *fb)
{
    return atomic_load(&fb->stop);
}

void fb_fail(struct fakebroker *fb, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&fb->mu);
    if (fb->error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(fb->error, sizeof fb->error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fb->mu);
}

bool fb_await(struct fakebroker *fb, int ms)
{
    long long deadline = mpt_now_ms() + mpt_ms(ms);
    bool got = false;

    pthread_mutex_lock(&fb->mu);
    while (fb->signals == 0 && !atomic_load(&fb->stop) &&
           mpt_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&fb->cv, &fb->mu, &ts);
    }
    if (fb->signals > 0) {
        fb->signals--;
        got = true;
    }
    pthread_mutex_unlock(&fb->mu);
    if (!got)
        fb_fail(fb, "no signal from the test within %d ms", ms);
    return got;
}

bool fb_login(struct fakebroker *fb, int ms)
{
    return fb_login_with(fb, ms, RC_NULL);
}

bool fb_login_with(struct fakebroker *fb, int ms, struct rc_blob settings)
{
    struct pollfd pf = {.fd = fb->lfd, .events = POLLIN};
    struct rc_msg m;
    int fd, rc;

    if (poll(&pf, 1, mpt_ms(ms)) != 1 ||
        (fd = accept4(fb->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        fb_fail(fb, "no client connected within %d ms", ms);
        return false;
    }
    pthread_mutex_lock(&fb->mu);
    fb->client = rc_adopt(fd, fb->fmt);
    pthread_mutex_unlock(&fb->mu);
    if (fb->client == NULL) {
        fb_fail(fb, "out of memory");
        return false;
    }
    rc = rc_recv(fb->client, &m, mpt_ms(ms));
    if (rc != RC_OK || m.meta != RC_AUTH) {
        fb_fail(fb, "no Auth from the client: %s %s",
                rc == RC_OK ? "meta" : rc_status_name(rc),
                rc == RC_OK ? "not Auth" : rc_error(fb->client));
        if (rc == RC_OK)
            rc_msg_free(&m);
        return false;
    }
    bool ok = rc_send(fb->client, RC_AUTH_OK, m.other_client, "", settings);
    rc_msg_free(&m);
    if (!ok)
        fb_fail(fb, "cannot send AuthOk: %s", rc_error(fb->client));
    return ok;
}

struct rc_client *fb_client(struct fakebroker *fb)
{
    return fb->client;
}

bool fb_send(struct fakebroker *fb, unsigned meta, const char *other,
             const char *id, struct rc_blob data)
{
    return !fb_stopping(fb) && fb->client != NULL &&
           rc_send(fb->client, meta, other, id, data);
}

bool fb_send_raw(struct fakebroker *fb, const void *bytes, size_t len)
{
    return !fb_stopping(fb) && fb->client != NULL &&
           rc_send_raw(fb->client, bytes, len);
}

bool fb_expect(struct fakebroker *fb, int meta, const char *id,
               struct rc_msg *m, int ms, unsigned *skipped)
{
    long long deadline = mpt_now_ms() + mpt_ms(ms);

    while (!fb_stopping(fb)) {
        long long left = deadline - mpt_now_ms();
        int rc = left > 0 ? rc_recv(fb->client, m, (int)left) : RC_TIMEOUT;
        if (rc != RC_OK) {
            fb_fail(fb, "waiting for meta %d (%s): %s %s", meta,
                    id ? id : "any id", rc_status_name(rc),
                    rc_error(fb->client));
            return false;
        }
        if ((meta < 0 || m->meta == meta) &&
            (id == NULL || strcmp(m->connection_id, id) == 0))
            return true;
        rc_msg_free(m);
        if (skipped != NULL)
            (*skipped)++;
    }
    fb_fail(fb, "stopped while waiting for meta %d", meta);
    return false;
}

bool fb_encode(struct fakebroker *fb, unsigned char **buf, size_t *len,
               size_t *cap, unsigned meta, const char *other, const char *id,
               struct rc_blob data)
{
    size_t n = 0;
    unsigned char *frame;

    if (fb->fmt == RC_JSON) {
        char *line = rc_json_line(meta, other, id, data);
        if (line == NULL)
            return false;
        n = strlen(line);
        frame = realloc(line, n + 1);
        if (frame == NULL) {
            free(line);
            return false;
        }
        frame[n++] = '\n';
    } else {
        frame = rc_binary_frame(meta, other, id, data, -1, &n);
        if (frame == NULL)
            return false;
    }
    if (*len + n > *cap) {
        size_t ncap = (*len + n) * 2;
        unsigned char *p = realloc(*buf, ncap);
        if (p == NULL) {
            free(frame);
            return false;
        }
        *buf = p;
        *cap = ncap;
    }
    memcpy(*buf + *len, frame, n);
    *len += n;
    free(frame);
    return true;
}

/* Has the test signalled (without waiting)? */
static bool signalled(struct fakebroker *fb)
{
    bool got;

    pthread_mutex_lock(&fb->mu);
    got = fb->signals > 0;
    if (got)
        fb->signals--;
    pthread_mutex_unlock(&fb->mu);
    return got;
}

/* Read what has arrived, counting messages of `meta`; false on error. */
static bool count_arrived(struct fakebroker *fb, int meta, unsigned *got)
{
    struct rc_msg m;
    int rc;

    while ((rc = rc_recv(fb->client, &m, 0)) == RC_OK) {
        if (m.meta == meta)
            (*got)++;
        rc_msg_free(&m);
    }
    if (rc == RC_TIMEOUT)
        return true;
    fb_fail(fb, "reading the answers to a flood: %s %s", rc_status_name(rc),
            rc_error(fb->client));
    return false;
}

bool fb_flood(struct fakebroker *fb, const unsigned char *buf, size_t len,
              atomic_bool *all_sent, int meta, unsigned want,
              unsigned *got, int ms)
{
    long long deadline = mpt_now_ms() + mpt_ms(ms);
    int fd = rc_fd(fb->client);
    bool reading = false;
    size_t off = 0;

    while (!fb_stopping(fb) && (off < len || !reading || *got < want)) {
        if (mpt_now_ms() > deadline) {
            fb_fail(fb, "flood: %zu of %zu bytes sent, %u of %u answers "
                    "after %d ms", off, len, *got, want, ms);
            return false;
        }
        if (!reading && signalled(fb))
            reading = true;
        if (off < len) {
            ssize_t n = send(fd, buf + off, len - off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fb_fail(fb, "flood: send: %s", strerror(errno));
                return false;
            }
            if (off == len)
                atomic_store(all_sent, true);
        }
        if (reading && !count_arrived(fb, meta, got))
            return false;
        struct pollfd pf = {.fd = fd,
                            .events = (short)((off < len ? POLLOUT : 0) |
                                              (reading ? POLLIN : 0))};
        /* Short: a signal from the test does not wake poll. */
        poll(&pf, 1, 10);
    }
    return !fb_stopping(fb);
}

bool fb_read_to_eof(struct fakebroker *fb, int ms)
{
    long long deadline = mpt_now_ms() + mpt_ms(ms);
    struct rc_msg m;
    int rc = RC_OK;

    while (rc == RC_OK && !fb_stopping(fb)) {
        long long left = deadline - mpt_now_ms();
        rc = left > 0 ? rc_recv(fb->client, &m, (int)left) : RC_TIMEOUT;
        if (rc == RC_OK)
            rc_msg_free(&m);
    }
    if (rc != RC_EOF)
        fb_fail(fb, "waiting for the client to close: %s %s",
                rc_status_name(rc), rc_error(fb->client));
    pthread_mutex_lock(&fb->mu);
    rc_close(fb->client);
    fb->client = NULL;
    pthread_mutex_unlock(&fb->mu);
    return rc == RC_EOF;
}
