/*
 * dialer.c - connection attempts racing over a host's addresses (RFC 8305
 * "Happy Eyeballs"; see dialer.h for the rules).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/event.h>
#include <event2/util.h>

#include "dialer.h"

enum attempt_state {
    ATTEMPT_WAITING,   /* not started yet */
    ATTEMPT_RACING,    /* connect() under way */
    ATTEMPT_FAILED,    /* refused, unreachable, ...: `error` says */
    ATTEMPT_CONNECTED, /* the winner */
    ATTEMPT_CLOSED,    /* a loser, closed when another one won */
};

struct attempt {
    struct mp_dialer *dialer;
    struct mp_sockaddr addr;
    enum attempt_state state;
    evutil_socket_t fd; /* while racing */
    struct event *ev;   /* fd writable: the connect is decided */
    int error;          /* errno of a failed attempt */
};

struct mp_dialer {
    struct event_base *base;
    struct attempt attempts[MP_DIAL_MAX]; /* in the order they are tried */
    size_t n;
    size_t started; /* attempts[0..started) have been started */
    size_t racing;  /* ... of which this many are still racing */
    struct event *delay; /* the Connection Attempt Delay: starts the next */
    mp_dial_cb cb;
    void *arg;
};

static void start_next(struct mp_dialer *d, bool from_loop);

/* RFC 8305 section 4: alternate the families, beginning with the family
 * of the first address, each family in the resolver's order. */
static void interleave(struct mp_dialer *d, const struct mp_sockaddr *in,
                       size_t n)
{
    sa_family_t first = in[0].sa.ss_family;
    size_t next_first = 0, next_other = 0;
    bool want_first = true;

    while (d->n < n) {
        size_t *i = want_first ? &next_first : &next_other;
        while (*i < n && (in[*i].sa.ss_family == first) != want_first)
            (*i)++;
        if (*i < n)
            d->attempts[d->n++].addr = in[(*i)++];
        want_first = !want_first;
    }
}

static void close_attempt(struct attempt *a, enum attempt_state state)
{
    if (a->ev != NULL)
        event_free(a->ev);
    a->ev = NULL;
    if (a->fd >= 0)
        evutil_closesocket(a->fd);
    a->fd = -1;
    if (a->state == ATTEMPT_RACING)
        a->dialer->racing--;
    a->state = state;
}

/* `a` connected: close every other attempt, hand its socket over. */
static void win(struct mp_dialer *d, struct attempt *a)
{
    evutil_socket_t fd = a->fd;

    a->fd = -1;
    close_attempt(a, ATTEMPT_CONNECTED);
    for (size_t i = 0; i < d->started; i++) {
        if (d->attempts[i].state == ATTEMPT_RACING)
            close_attempt(&d->attempts[i], ATTEMPT_CLOSED);
    }
    evtimer_del(d->delay);
    d->cb((int)fd, NULL, d->arg);
}

static void fail(struct attempt *a, int error)
{
    close_attempt(a, ATTEMPT_FAILED);
    a->error = error;
}

/* Every address has been tried and failed. */
static void give_up(struct mp_dialer *d)
{
    char why[1024];

    mp_dialer_describe(d, why, sizeof why);
    d->cb(-1, why, d->arg);
}

static void attempt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct attempt *a = arg;
    struct mp_dialer *d = a->dialer;
    int error = 0;
    socklen_t len = sizeof error;

    (void)what;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        error = errno;
    if (error == 0) {
        win(d, a);
        return;
    }
    if (error == EINPROGRESS || error == EINTR) {
        event_add(a->ev, NULL);
        return;
    }
    fail(a, error);
    /* RFC 8305 section 5: a failure starts the next attempt at once,
     * with a fresh delay after it. */
    evtimer_del(d->delay);
    start_next(d, true);
}

/* Start connecting to a's address: true if under way, false if it failed
 * at once. A connect that succeeds at once (a Unix socket, loopback) is
 * under way too: its socket is writable, and attempt_cb, from the loop,
 * declares it the winner. */
static bool start_attempt(struct mp_dialer *d, struct attempt *a)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->addr.sa;

    a->fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (a->fd < 0) {
        a->error = errno;
        a->state = ATTEMPT_FAILED;
        return false;
    }
    a->state = ATTEMPT_RACING;
    d->racing++;
    if (evutil_make_socket_nonblocking(a->fd) != 0 ||
        evutil_make_socket_closeonexec(a->fd) != 0) {
        fail(a, errno);
        return false;
    }
    if (connect(a->fd, sa, a->addr.len) != 0 && errno != EINPROGRESS &&
        errno != EINTR) {
        fail(a, errno);
        return false;
    }
    a->ev = event_new(d->base, a->fd, EV_WRITE, attempt_cb, a);
    if (a->ev == NULL || event_add(a->ev, NULL) != 0) {
        fail(a, ENOMEM);
        return false;
    }
    return true;
}

/*
 * Start the next address; if it fails at once, the one after it. When
 * nothing is left and nothing races, give up: from the loop at once, or
 * (called from mp_dialer_new) through the delay timer set to 0, so that
 * the callback never runs inside mp_dialer_new.
 */
static void start_next(struct mp_dialer *d, bool from_loop)
{
    struct timeval delay = {.tv_sec = 0,
                            .tv_usec = MP_DIAL_ATTEMPT_DELAY_MS * 1000};
    struct timeval now = {0, 0};

    while (d->started < d->n) {
        if (start_attempt(d, &d->attempts[d->started++])) {
            if (d->started < d->n)
                evtimer_add(d->delay, &delay);
            return;
        }
    }
    if (d->racing > 0)
        return;
    if (from_loop)
        give_up(d);
    else
        evtimer_add(d->delay, &now);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_next(arg, true);
}

struct mp_dialer *mp_dialer_new(struct event_base *base,
                                const struct mp_sockaddr *addrs, size_t n,
                                mp_dial_cb cb, void *arg)
{
    struct mp_dialer *d = calloc(1, sizeof *d);

    if (d == NULL || n == 0) {
        free(d);
        return NULL;
    }
    d->base = base;
    d->cb = cb;
    d->arg = arg;
    interleave(d, addrs, n < MP_DIAL_MAX ? n : MP_DIAL_MAX);
    for (size_t i = 0; i < d->n; i++) {
        d->attempts[i].dialer = d;
        d->attempts[i].fd = -1;
    }
    /* The first connect() is made now, as a program that runs the loop
     * later expects; its outcome, as every other, comes from the loop. */
    d->delay = evtimer_new(base, delay_cb, d);
    if (d->delay == NULL) {
        mp_dialer_free(d);
        return NULL;
    }
    start_next(d, false);
    return d;
}

void mp_dialer_free(struct mp_dialer *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        close_attempt(&d->attempts[i], d->attempts[i].state);
    if (d->delay != NULL)
        event_free(d->delay);
    free(d);
}

/* ------------------------------------------------------------------------
 * Describing what was tried
 */

static unsigned port_of(const struct mp_sockaddr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return 0;
}

/* "127.0.0.1", "::1", "/run/x.sock"; with the port ("127.0.0.1:7330",
 * "[::1]:7330") when with_port. */
static void format_address(const struct mp_sockaddr *a, bool with_port,
                           char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int family = a->sa.ss_family;

    if (family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->sa;
        snprintf(buf, len, "%.*s", (int)sizeof sun->sun_path, sun->sun_path);
        return;
    }
    if (family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->sa)->sin_addr,
                  host, sizeof host);
    else if (family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)&a->sa)->sin6_addr, host,
                  sizeof host);
    if (!with_port)
        snprintf(buf, len, "%s", host);
    else if (family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", host, port_of(a));
    else
        snprintf(buf, len, "%s:%u", host, port_of(a));
}

/* strerror's text, starting in lower case as the rest of our messages
 * ("connection refused"). strerror_r: several clients may run on several
 * threads. */
static void error_text(int error, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    char tmp[128];
    snprintf(buf, len, "%s", strerror_r(error, tmp, sizeof tmp));
#else
    if (strerror_r(error, buf, len) != 0)
        snprintf(buf, len, "error %d", error);
#endif
    buf[0] = (char)tolower((unsigned char)buf[0]);
}

static void outcome_text(const struct attempt *a, char *buf, size_t len)
{
    switch (a->state) {
    case ATTEMPT_FAILED:
        error_text(a->error, buf, len);
        return;
    case ATTEMPT_CONNECTED:
        snprintf(buf, len, "connected");
        return;
    case ATTEMPT_RACING:
    case ATTEMPT_CLOSED:
        snprintf(buf, len, "no answer");
        return;
    case ATTEMPT_WAITING:
        snprintf(buf, len, "not tried");
        return;
    }
}

static bool one_port(const struct mp_dialer *d)
{
    for (size_t i = 1; i < d->n; i++) {
        if (port_of(&d->attempts[i].addr) != port_of(&d->attempts[0].addr))
            return false;
    }
    return true;
}

void mp_dialer_describe(const struct mp_dialer *d, char *buf, size_t len)
{
    bool with_port = !one_port(d);
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < d->started; i++) {
        char addr[INET6_ADDRSTRLEN + 8 + sizeof(struct sockaddr_un)];
        char outcome[128];
        format_address(&d->attempts[i].addr, with_port, addr, sizeof addr);
        outcome_text(&d->attempts[i], outcome, sizeof outcome);
        int n = snprintf(buf + used, len - used, "%s%s (%s)",
                         i > 0 ? ", " : "", addr, outcome);
        if (n < 0 || (size_t)n >= len - used) {
            /* Cut short: end with "..." where it still fits. */
            if (len >= 4)
                memcpy(buf + (used + 4 <= len ? used : len - 4), "...", 4);
            return;
        }
        used += (size_t)n;
    }
}
