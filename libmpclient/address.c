/* address.c - broker addresses: "tcp:HOST:PORT", "tls:HOST:PORT" and
 * "unix:PATH". */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "client-internal.h"

static int parse_unix(const char *path, struct mp_address *a)
{
    struct sockaddr_storage *sa = &a->sa;
    socklen_t *len = &a->len;
    struct sockaddr_un *sun = (struct sockaddr_un *)sa;
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof sun->sun_path)
        return MP_ERR_ADDRESS;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    *len = (socklen_t)sizeof *sun;
    return MP_OK;
}

/* "HOST:PORT" or "[V6ADDR]:PORT". */
static int parse_tcp(const char *hostport, struct mp_address *a)
{
    char *host = a->host;
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    size_t host_len;

    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (end == NULL || end[1] != ':')
            return MP_ERR_ADDRESS;
        host_len = (size_t)(end - hostport - 1);
        hostport++;
        port = end + 2;
    } else {
        const char *colon = strrchr(hostport, ':');
        if (colon == NULL)
            return MP_ERR_ADDRESS;
        host_len = (size_t)(colon - hostport);
        port = colon + 1;
    }
    if (host_len == 0 || host_len >= sizeof a->host || port[0] == '\0' ||
        strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
        return MP_ERR_ADDRESS;
    memcpy(host, hostport, host_len);
    host[host_len] = '\0';
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return MP_ERR_ADDRESS;
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    return MP_OK;
}

int mp_address_parse(const char *address, struct mp_address *a)
{
    memset(a, 0, sizeof *a);
    if (address == NULL)
        return MP_ERR_ADDRESS;
    if (strncmp(address, "unix:", 5) == 0)
        return parse_unix(address + 5, a);
    if (strncmp(address, "tcp:", 4) == 0)
        return parse_tcp(address + 4, a);
    if (strncmp(address, "tls:", 4) == 0) {
        a->tls = true;
        return parse_tcp(address + 4, a);
    }
    return MP_ERR_ADDRESS;
}
