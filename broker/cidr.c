/* cidr.c - address ranges (see cidr.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"

static size_t addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

/* Are the bits of addr past `prefix` all zero? */
static bool host_bits_zero(const unsigned char *addr, size_t n,
                           unsigned prefix)
{
    for (size_t i = 0; i < n; i++) {
        unsigned first = (unsigned)i * 8;
        unsigned char mask;
        if (first + 8 <= prefix)
            continue;
        mask = first >= prefix ? 0xff
                               : (unsigned char)(0xff >> (prefix - first));
        if (addr[i] & mask)
            return false;
    }
    return true;
}

/* Does addr (of c's family) start with c's first c->prefix bits? */
static bool in_range(const struct cidr *c, const unsigned char *addr)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;

    if (memcmp(c->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((c->addr[full] ^ addr[full]) &
            (unsigned char)(0xff << (8 - rest))) == 0;
}

const char *cidr_parse(const char *text, struct cidr *out, char *why,
                       size_t len)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    unsigned long prefix;
    char *end;

    if (n == 0 || n >= sizeof buf)
        return "not an IPv4 or IPv6 address (or ADDRESS/PREFIX)";
    memcpy(buf, text, n);
    buf[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, out->addr) == 1)
        out->family = AF_INET6;
    else
        return "not an IPv4 or IPv6 address (or ADDRESS/PREFIX)";
    out->prefix = (unsigned)addr_len(out->family) * 8;
    if (slash == NULL)
        return NULL;
    if (slash[1] < '0' || slash[1] > '9')
        return "the prefix length after '/' must be a number";
    prefix = strtoul(slash + 1, &end, 10);
    if (*end != '\0' || prefix > out->prefix) {
        snprintf(why, len, "the prefix length must be 0 to %u",
                 out->prefix);
        return why;
    }
    out->prefix = (unsigned)prefix;
    if (!host_bits_zero(out->addr, addr_len(out->family), out->prefix)) {
        /* "10.0.0.1/8" is most likely a typo: say what it would mean. */
        unsigned char net[16];
        char shown[INET6_ADDRSTRLEN];
        unsigned full = out->prefix / 8, rest = out->prefix % 8;

        memset(net, 0, sizeof net);
        memcpy(net, out->addr, full);
        if (rest != 0)
            net[full] = out->addr[full] & (unsigned char)(0xff << (8 - rest));
        inet_ntop(out->family, net, shown, sizeof shown);
        snprintf(why, len, "bits past the prefix are set (the range is "
                 "%s/%u)", shown, out->prefix);
        return why;
    }
    return NULL;
}

/* The address of a peer label; false for Unix peers and anything else. */
static bool peer_address(const char *peer, int *family, unsigned char *addr)
{
    char buf[INET6_ADDRSTRLEN];
    const char *colon = strrchr(peer, ':');
    const char *start = peer;
    struct in6_addr a6;
    size_t n;

    if (colon == NULL)
        return false;
    n = (size_t)(colon - peer);
    if (peer[0] == '[') {
        if (n < 2 || colon[-1] != ']')
            return false;
        start = peer + 1;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, start, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(addr, &a6.s6_addr[12], 4);
        *family = AF_INET;
    } else {
        memcpy(addr, a6.s6_addr, 16);
        *family = AF_INET6;
    }
    return true;
}

bool cidr_list_has_peer(const struct cidr *list, size_t n, const char *peer)
{
    unsigned char addr[16];
    int family;

    if (n == 0 || !peer_address(peer, &family, addr))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (list[i].family == family && in_range(&list[i], addr))
            return true;
    }
    return false;
}
