/* address.c - broker addresses: "tcp:HOST:PORT", "tls:HOST:PORT" and
 * "unix:PATH", parsed and resolved into the addresses the dialer tries. */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "client-internal.h"

static int parse_unix(const char *path, struct mp_address *a, char *err,
                      size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->addrs[0].sa;
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof sun->sun_path) {
        snprintf(err, errlen, "a Unix socket path must be 1 to %zu bytes",
                 sizeof sun->sun_path - 1);
        return MP_ERR_ADDRESS;
    }
    a->is_unix = true;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    a->addrs[0].len = (socklen_t)sizeof *sun;
    a->n_addrs = 1;
    return MP_OK;
}

/*
 * Every address HOST resolves to, in getaddrinfo's order (RFC 6724).
 * Synchronously, on purpose: getaddrinfo is what /etc/hosts,
 * nsswitch.conf and the system's resolver configuration mean to the
 * program's users (libevent's evdns reads /etc/hosts and resolv.conf
 * itself, and knows neither nsswitch nor systemd-resolved), and it is
 * called once per mp_client_connect(). The price, that the call may
 * block, is documented in client.h and libmpclient(3).
 */
static int resolve(struct mp_address *a, const char *port, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_protocol = IPPROTO_TCP,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    int rc = getaddrinfo(a->host, port, &hints, &res);

    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", a->host,
                 gai_strerror(rc));
        return MP_ERR_ADDRESS;
    }
    for (ai = res; ai != NULL && a->n_addrs < MP_DIAL_MAX; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof a->addrs[0].sa)
            continue;
        memcpy(&a->addrs[a->n_addrs].sa, ai->ai_addr, ai->ai_addrlen);
        a->addrs[a->n_addrs].len = ai->ai_addrlen;
        a->n_addrs++;
    }
    freeaddrinfo(res);
    if (a->n_addrs == 0) {
        snprintf(err, errlen, "cannot resolve %s: no IPv4 or IPv6 address",
                 a->host);
        return MP_ERR_ADDRESS;
    }
    return MP_OK;
}

/* "HOST:PORT" or "[V6ADDR]:PORT". */
static int parse_tcp(const char *hostport, struct mp_address *a, char *err,
                     size_t errlen)
{
    const char *port;
    size_t host_len;

    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (end == NULL || end[1] != ':')
            goto bad;
        host_len = (size_t)(end - hostport - 1);
        hostport++;
        port = end + 2;
    } else {
        const char *colon = strrchr(hostport, ':');
        if (colon == NULL)
            goto bad;
        host_len = (size_t)(colon - hostport);
        port = colon + 1;
    }
    if (host_len == 0 || host_len >= sizeof a->host || port[0] == '\0' ||
        strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
        goto bad;
    memcpy(a->host, hostport, host_len);
    a->host[host_len] = '\0';
    return resolve(a, port, err, errlen);
bad:
    snprintf(err, errlen, "expected HOST:PORT or [IPV6]:PORT");
    return MP_ERR_ADDRESS;
}

int mp_address_parse(const char *address, struct mp_address *a, char *err,
                     size_t errlen)
{
    memset(a, 0, sizeof *a);
    snprintf(err, errlen, "expected tcp:HOST:PORT, tls:HOST:PORT or "
                          "unix:PATH");
    if (address == NULL)
        return MP_ERR_ADDRESS;
    if (strncmp(address, "unix:", 5) == 0)
        return parse_unix(address + 5, a, err, errlen);
    if (strncmp(address, "tcp:", 4) == 0)
        return parse_tcp(address + 4, a, err, errlen);
    if (strncmp(address, "tls:", 4) == 0) {
        a->tls = true;
        return parse_tcp(address + 4, a, err, errlen);
    }
    return MP_ERR_ADDRESS;
}
