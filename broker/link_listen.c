/*
 * link_listen.c - the link listener: where other brokers dial this one.
 * An accepted socket becomes an orphan stream (link_stream.c) that must
 * pass its handshake before it belongs to a peer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "errors.h"
#include "link-internal.h"
#include "log.h"

/* Accepted streams still in their handshake, at most: past it a new
 * connection is closed at once, so strangers cannot hold many sockets
 * for handshake_ms each. */
enum { MAX_HANDSHAKES = 64 };
/* Connections accepted per wake-up of the listener. */
enum { ACCEPT_BATCH = 16 };

/* ------------------------------------------------------------------------
 * The listener
 */

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    struct link_set *ls = arg;

    (void)what;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        evutil_socket_t fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("cluster: accept on the link listener: %s",
                         strerror(errno));
            return;
        }
        if (ls->n_orphans >= MAX_HANDSHAKES) {
            ls->stats.handshakes_refused++;
            evutil_closesocket(fd);
            continue;
        }
        link_stream_accepted(ls, fd, (struct sockaddr *)&ss);
    }
}

int link_parse_listen_address(struct link_set *ls, struct errors *errs)
{
    struct sockaddr_in *in = (void *)&ls->listen_addr;
    struct sockaddr_in6 *in6 = (void *)&ls->listen_addr;
    int port = ls->conf.port;

    if (port < 0 || port > 65535) {
        errors_add(errs, NULL, 0, "cluster link: port %d out of range", port);
        return -1;
    }
    if (inet_pton(AF_INET, ls->address, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        ls->listen_addr_len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, ls->address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ls->listen_addr_len = sizeof *in6;
        return 0;
    }
    errors_add(errs, NULL, 0,
               "cluster link: address \"%s\" is not an IPv4 or IPv6 literal",
               ls->address);
    return -1;
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int link_set_listen(struct link_set *ls, struct errors *errs)
{
    int one = 1;
    char addr[LINK_ADDR_MAX];
    evutil_socket_t fd;

    fd = socket(ls->listen_addr.ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errors_add(errs, NULL, 0, "cluster link: socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ls->listen_addr, ls->listen_addr_len) < 0 ||
        listen(fd, 128) < 0) {
        link_format_addr(addr, sizeof addr, ls->address, ls->conf.port);
        errors_add(errs, NULL, 0, "cluster link: cannot listen on %s: %s",
                   addr, strerror(errno));
        close(fd);
        return -1;
    }
    ls->listen_fd = fd;
    ls->port = bound_port(fd);
    ls->accept_ev = link_must(event_new(ls->base, fd, EV_READ | EV_PERSIST,
                                   accept_cb, ls), "an event");
    event_add(ls->accept_ev, NULL);
    link_format_addr(addr, sizeof addr, ls->address, ls->port);
    log_notice("cluster link listening on %s", addr);
    return 0;
}

int link_set_port(const struct link_set *ls)
{
    return ls->port;
}


/* Lines a second about strangers' streams, with a burst of as many. */
enum { STRANGER_LINES_PER_S = 10 };

bool link_log_stranger(struct link_set *ls)
{
    struct log_limit *l = &ls->stranger_log;

    if (!log_limit_take(l, STRANGER_LINES_PER_S, link_now_ms()))
        return false;
    if (l->suppressed > 0) {
        log_warn("cluster: %u lines about refused links suppressed",
                 l->suppressed);
        l->suppressed = 0;
    }
    return true;
}
