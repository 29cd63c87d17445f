/*
 * dialer.h - connect to the first of a host's addresses that answers, as
 * RFC 8305 ("Happy Eyeballs Version 2") says: private to libmpclient.
 *
 * A name often resolves to several addresses, and the first is not always
 * the one that works: Debian's stock /etc/hosts gives "localhost" as ::1
 * before 127.0.0.1, and a broker listening on 127.0.0.1 only refuses ::1.
 * The dialer tries them all without making the user wait for each in
 * turn:
 *   - the order alternates address families (RFC 8305 section 4), starting
 *     with the family of the resolver's first answer, keeping the
 *     resolver's order within a family (getaddrinfo sorts by RFC 6724);
 *   - an attempt has MP_DIAL_ATTEMPT_DELAY_MS to itself; if it has not
 *     connected by then the next one starts alongside it, and the earlier
 *     one keeps racing (section 5);
 *   - an attempt that fails (refused, unreachable) starts the next at
 *     once;
 *   - the first to connect wins and every other attempt is closed.
 * The dialer has no deadline of its own: its owner bounds the whole (for
 * libmpclient, connect_timeout_ms) and frees it.
 *
 * Ownership: the dialer owns its sockets until one connects; that one is
 * the callback's from then on.
 */
#ifndef MP_DIALER_H
#define MP_DIALER_H

#include <stddef.h>

#include <sys/socket.h>

struct event_base;
struct mp_dialer;

/* RFC 8305's recommended Connection Attempt Delay. */
#define MP_DIAL_ATTEMPT_DELAY_MS 250

/* The most addresses a dialer tries (the rest of a longer answer is
 * ignored: that many sockets racing is plenty). */
#define MP_DIAL_MAX 16

/* One address to try: an AF_INET, AF_INET6 or AF_UNIX socket address. */
struct mp_sockaddr {
    struct sockaddr_storage sa;
    socklen_t len;
};

/*
 * The outcome, called once from the event loop (never from inside
 * mp_dialer_new): fd >= 0 is the connected, non-blocking socket, now the
 * callee's, and why is NULL; or fd is -1 and why says what every address
 * gave ("::1 (connection refused), 127.0.0.1 (connection refused)"),
 * valid during the call. The dialer touches nothing after calling it, so
 * the callback may free it.
 */
typedef void (*mp_dial_cb)(int fd, const char *why, void *arg);

/*
 * Start dialing addrs[0..n) (copied; n >= 1, at most MP_DIAL_MAX are
 * used) on base. NULL when out of memory.
 */
struct mp_dialer *mp_dialer_new(struct event_base *base,
                                const struct mp_sockaddr *addrs, size_t n,
                                mp_dial_cb cb, void *arg);

/* Close every attempt still running and free the dialer; no callback.
 * NULL is a no-op. */
void mp_dialer_free(struct mp_dialer *d);

/*
 * What was tried so far, in the order tried, and how each went: "::1
 * (connection refused), 127.0.0.1 (no answer)". An address is written
 * with its port ("[::1]:7330") when the addresses do not all share one.
 * Always NUL-terminated; cut short with "..." when len is too small.
 */
void mp_dialer_describe(const struct mp_dialer *d, char *buf, size_t len);

#endif
