/*
 * cidr.h - address ranges such as "10.0.0.0/8", "2001:db8::/32" or a
 * single address ("127.0.0.1", "::1"), and whether a peer is in one
 * (limits.auth_throttle_exempt).
 *
 * An IPv4 range also holds the IPv4-mapped IPv6 form of its addresses
 * ("[::ffff:10.0.0.1]:4242" is in 10.0.0.0/8), as the throttle counts
 * such a peer as the IPv4 address.
 */
#ifndef MP_BROKER_CIDR_H
#define MP_BROKER_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network byte order; host bits zero */
    unsigned prefix;         /* 0-32 or 0-128 */
};

/* Parse "ADDRESS" or "ADDRESS/PREFIX". Returns NULL, or a reason it is
 * not a range ("host bits are set: 10.0.0.0/8?" and the like; written to
 * why[0..len) when the reason needs the text). */
const char *cidr_parse(const char *text, struct cidr *out, char *why,
                       size_t len);

/* Is the peer ("192.0.2.1:4242", "[2001:db8::1]:4242") in any of
 * list[0..n)? Unix socket peers are in none. */
bool cidr_list_has_peer(const struct cidr *list, size_t n, const char *peer);

#endif
