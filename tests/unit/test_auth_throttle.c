/* Unit tests: failed logins per source address (broker/auth_throttle.c). */
#include "config.h"

#include <stdio.h>

#include <criterion/criterion.h>

#include "auth_throttle.h"

static struct auth_throttle *t;

static void setup(void)
{
    t = auth_throttle_new(3, 60);
    cr_assert_not_null(t);
}

static void teardown(void)
{
    auth_throttle_free(t);
}

TestSuite(throttle, .init = setup, .fini = teardown);

Test(throttle, blocks_after_max_failures_and_says_so_once)
{
    cr_assert(auth_throttle_allows(t, "192.0.2.1:1000", 100));
    cr_assert_not(auth_throttle_failed(t, "192.0.2.1:1000", 100));
    cr_assert_not(auth_throttle_failed(t, "192.0.2.1:1001", 101));
    cr_assert(auth_throttle_allows(t, "192.0.2.1:1002", 101));
    cr_assert(auth_throttle_failed(t, "192.0.2.1:1002", 102),
              "the third failure must start the block");
    cr_assert_not(auth_throttle_allows(t, "192.0.2.1:1003", 102));
    /* A late failure (an asynchronous login) does not announce it again. */
    cr_assert_not(auth_throttle_failed(t, "192.0.2.1:1004", 103));
}

Test(throttle, the_port_does_not_matter_but_the_address_does)
{
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "192.0.2.1:1000", 100);
    cr_assert_not(auth_throttle_allows(t, "192.0.2.1:65000", 100));
    cr_assert(auth_throttle_allows(t, "192.0.2.2:1000", 100));
    cr_assert(auth_throttle_allows(t, "[2001:db8::1]:1000", 100));
}

Test(throttle, ipv6_addresses_are_counted)
{
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "[2001:db8::1]:1000", 100);
    cr_assert_not(auth_throttle_allows(t, "[2001:db8::1]:2000", 100));
    cr_assert(auth_throttle_allows(t, "[2001:db8:0:1::1]:2000", 100),
              "another /64 was blocked");
}

/* A host owns a whole /64: rotating through it must not reset the count. */
Test(throttle, ipv6_addresses_of_one_slash64_share_a_counter)
{
    auth_throttle_failed(t, "[2001:db8:1:2::1]:1000", 100);
    auth_throttle_failed(t, "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1001", 100);
    cr_assert(auth_throttle_failed(t, "[2001:db8:1:2:ffff::7]:1002", 100),
              "three failures in one /64 must start the block");
    cr_assert_not(auth_throttle_allows(t, "[2001:db8:1:2:1234::]:1003", 100));
    cr_assert(auth_throttle_allows(t, "[2001:db8:1:3::1]:1000", 100));
    cr_assert_eq(auth_throttle_tracked(t), 1);
}

Test(throttle, ipv4_mapped_addresses_count_as_ipv4)
{
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "[::ffff:192.0.2.9]:1000", 100);
    cr_assert_not(auth_throttle_allows(t, "192.0.2.9:1000", 100));
    cr_assert(auth_throttle_allows(t, "[::ffff:192.0.2.10]:1000", 100));
}

/* Unix peers count by uid (SO_PEERCRED): one user cannot lock out another,
 * and guessing over the socket is throttled too. */
Test(throttle, unix_peers_count_by_uid)
{
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "unix(uid=1000)", 100);
    cr_assert_not(auth_throttle_allows(t, "unix(uid=1000)", 100));
    cr_assert(auth_throttle_allows(t, "unix(uid=1001)", 100));
    /* Without a uid there is nothing to tell users apart: not counted. */
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "unix", 100);
    cr_assert(auth_throttle_allows(t, "unix", 100));
}

Test(throttle, source_keys)
{
    static const struct { const char *peer, *key; bool counted; } cases[] = {
        {"192.0.2.1:4242", "192.0.2.1", true},
        {"[2001:db8:1:2:3:4:5:6]:4242", "2001:db8:1:2::/64", true},
        {"[::1]:4242", "::/64", true},
        {"[::ffff:10.0.0.1]:1", "10.0.0.1", true},
        {"unix(uid=0)", "uid:0", true},
        {"unix(uid=4294967294)", "uid:4294967294", true},
        {"unix", "unix", false},
        {"unix(uid=)", "unix(uid=)", false},
        {"[nonsense]:1", "[nonsense]:1", false},
    };
    char key[AUTH_SOURCE_MAX];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool counted = auth_throttle_source(cases[i].peer, key, sizeof key);

        cr_assert_eq(counted, cases[i].counted, "%s", cases[i].peer);
        cr_assert_str_eq(key, cases[i].key, "%s", cases[i].peer);
    }
}

Test(throttle, the_block_ends_after_block_s)
{
    for (int i = 0; i < 3; i++)
        auth_throttle_failed(t, "192.0.2.1:1000", 100);
    cr_assert_not(auth_throttle_allows(t, "192.0.2.1:1000", 159));
    cr_assert(auth_throttle_allows(t, "192.0.2.1:1000", 160));
    cr_assert_eq(auth_throttle_tracked(t), 0, "an expired entry stayed");
}

Test(throttle, failures_spread_wider_than_the_window_never_block)
{
    for (int i = 0; i < 10; i++)
        auth_throttle_failed(t, "192.0.2.1:1000", 100 + i * 60);
    cr_assert(auth_throttle_allows(t, "192.0.2.1:1000", 100 + 9 * 60));
}

Test(throttle, unix_peers_are_not_counted)
{
    for (int i = 0; i < 10; i++)
        cr_assert_not(auth_throttle_failed(t, "unix", 100));
    cr_assert(auth_throttle_allows(t, "unix", 100));
    cr_assert_eq(auth_throttle_tracked(t), 0);
}

Test(throttle, zero_turns_it_off)
{
    struct auth_throttle *off = auth_throttle_new(0, 60);

    for (int i = 0; i < 100; i++)
        auth_throttle_failed(off, "192.0.2.1:1000", 100);
    cr_assert(auth_throttle_allows(off, "192.0.2.1:1000", 100));
    auth_throttle_free(off);
}

Test(throttle, memory_is_bounded_by_forgetting_the_oldest)
{
    char peer[64];

    for (unsigned i = 0; i < THROTTLE_MAX_TRACKED + 10; i++) {
        snprintf(peer, sizeof peer, "10.%u.%u.%u:1", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        auth_throttle_failed(t, peer, 100);
    }
    cr_assert_eq(auth_throttle_tracked(t), THROTTLE_MAX_TRACKED);
    /* The first ones were forgotten, the last ones remembered. */
    for (int i = 0; i < 2; i++)
        auth_throttle_failed(t, "10.0.0.0:1", 100);
    cr_assert(auth_throttle_allows(t, "10.0.0.0:1", 100),
              "a forgotten address kept its old count");
}
