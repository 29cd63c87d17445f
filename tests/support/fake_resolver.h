/*
 * fake_resolver.h - getaddrinfo() answers of the test's choosing, to test
 * what a client does with a name of several addresses without touching
 * /etc/hosts.
 *
 * fake_resolver.c defines getaddrinfo() and freeaddrinfo(). Linked into a
 * test program (its own sources, not a library), they are the
 * executable's, and the dynamic linker binds every reference to them -
 * libmpclient.so's included - to the executable's definitions, which
 * come first in symbol lookup. A name the test has not set an answer for
 * goes to the next definition (libc's, or a sanitizer's interceptor),
 * found with dlsym(RTLD_NEXT).
 *
 * Only for one thread at a time (criterion runs each test in a process of
 * its own).
 */
#ifndef MP_TEST_FAKE_RESOLVER_H
#define MP_TEST_FAKE_RESOLVER_H

#include <stddef.h>

/* The most addresses one answer may hold, and names answered at once. */
#define MPT_FAKE_ADDRS_MAX 8
#define MPT_FAKE_NAMES_MAX 4

/* One address of an answer: a numeric IPv4 or IPv6 address, and a port;
 * port 0 means the port getaddrinfo was asked for (its service
 * argument). */
struct mpt_fake_addr {
    const char *ip;
    int port;
};

/* Answer `name` with addrs[0..n), in that order, from now on (replacing
 * an earlier answer for it). Asserts that the addresses parse. */
void mpt_fake_resolve(const char *name, const struct mpt_fake_addr *addrs,
                      size_t n);

/* Forget every answer. */
void mpt_fake_resolve_reset(void);

/* How many times a faked name was asked for: proof that the fake, not
 * the system's resolver, answered. */
unsigned mpt_fake_resolve_calls(void);

#endif
