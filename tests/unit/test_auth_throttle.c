/* Unit tests: failed logins per source address and per (source, name)
 * (broker/auth_throttle.c), and the exempt ranges (broker/cidr.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "auth_throttle.h"

static struct auth_throttle *t;

/* The per-source counter alone: per_source_max 3, no per-name counter. */
static void setup(void)
{
    struct auth_throttle_limits l = { .per_source_max = 3, .block_s = 60 };

    t = auth_throttle_new(&l);
    cr_assert_not_null(t);
}

/* One name throughout: the suite's tests are about sources. */
static bool allows(struct auth_throttle *th, const char *peer, time_t now)
{
    return auth_throttle_check(th, peer, "alice", now) == AUTH_BLOCK_NONE;
}

static bool failed(struct auth_throttle *th, const char *peer, time_t now)
{
    return auth_throttle_failed(th, peer, "alice", now) != AUTH_BLOCK_NONE;
}

static void teardown(void)
{
    auth_throttle_free(t);
}

TestSuite(throttle, .init = setup, .fini = teardown);

Test(throttle, blocks_after_max_failures_and_says_so_once)
{
    cr_assert(allows(t, "192.0.2.1:1000", 100));
    cr_assert_not(failed(t, "192.0.2.1:1000", 100));
    cr_assert_not(failed(t, "192.0.2.1:1001", 101));
    cr_assert(allows(t, "192.0.2.1:1002", 101));
    cr_assert(failed(t, "192.0.2.1:1002", 102),
              "the third failure must start the block");
    cr_assert_not(allows(t, "192.0.2.1:1003", 102));
    /* A late failure (an asynchronous login) does not announce it again. */
    cr_assert_not(failed(t, "192.0.2.1:1004", 103));
}

Test(throttle, the_port_does_not_matter_but_the_address_does)
{
    for (int i = 0; i < 3; i++)
        failed(t, "192.0.2.1:1000", 100);
    cr_assert_not(allows(t, "192.0.2.1:65000", 100));
    cr_assert(allows(t, "192.0.2.2:1000", 100));
    cr_assert(allows(t, "[2001:db8::1]:1000", 100));
}

Test(throttle, ipv6_addresses_are_counted)
{
    for (int i = 0; i < 3; i++)
        failed(t, "[2001:db8::1]:1000", 100);
    cr_assert_not(allows(t, "[2001:db8::1]:2000", 100));
    cr_assert(allows(t, "[2001:db8:0:1::1]:2000", 100),
              "another /64 was blocked");
}

/* A host owns a whole /64: rotating through it must not reset the count. */
Test(throttle, ipv6_addresses_of_one_slash64_share_a_counter)
{
    failed(t, "[2001:db8:1:2::1]:1000", 100);
    failed(t, "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1001", 100);
    cr_assert(failed(t, "[2001:db8:1:2:ffff::7]:1002", 100),
              "three failures in one /64 must start the block");
    cr_assert_not(allows(t, "[2001:db8:1:2:1234::]:1003", 100));
    cr_assert(allows(t, "[2001:db8:1:3::1]:1000", 100));
    cr_assert_eq(auth_throttle_tracked(t), 1);
}

Test(throttle, ipv4_mapped_addresses_count_as_ipv4)
{
    for (int i = 0; i < 3; i++)
        failed(t, "[::ffff:192.0.2.9]:1000", 100);
    cr_assert_not(allows(t, "192.0.2.9:1000", 100));
    cr_assert(allows(t, "[::ffff:192.0.2.10]:1000", 100));
}

/* Unix peers count by uid (SO_PEERCRED): one user cannot lock out another,
 * and guessing over the socket is throttled too. */
Test(throttle, unix_peers_count_by_uid)
{
    for (int i = 0; i < 3; i++)
        failed(t, "unix(uid=1000)", 100);
    cr_assert_not(allows(t, "unix(uid=1000)", 100));
    cr_assert(allows(t, "unix(uid=1001)", 100));
    /* Without a uid there is nothing to tell users apart: not counted. */
    for (int i = 0; i < 3; i++)
        failed(t, "unix", 100);
    cr_assert(allows(t, "unix", 100));
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
        failed(t, "192.0.2.1:1000", 100);
    cr_assert_not(allows(t, "192.0.2.1:1000", 159));
    cr_assert(allows(t, "192.0.2.1:1000", 160));
    cr_assert_eq(auth_throttle_tracked(t), 0, "an expired entry stayed");
}

Test(throttle, failures_spread_wider_than_the_window_never_block)
{
    for (int i = 0; i < 10; i++)
        failed(t, "192.0.2.1:1000", 100 + i * 60);
    cr_assert(allows(t, "192.0.2.1:1000", 100 + 9 * 60));
}

Test(throttle, unix_peers_are_not_counted)
{
    for (int i = 0; i < 10; i++)
        cr_assert_not(failed(t, "unix", 100));
    cr_assert(allows(t, "unix", 100));
    cr_assert_eq(auth_throttle_tracked(t), 0);
}

Test(throttle, zero_turns_it_off)
{
    struct auth_throttle_limits l = { .block_s = 60 };
    struct auth_throttle *off = auth_throttle_new(&l);

    for (int i = 0; i < 100; i++)
        failed(off, "192.0.2.1:1000", 100);
    cr_assert(allows(off, "192.0.2.1:1000", 100));
    auth_throttle_free(off);
}

Test(throttle, memory_is_bounded_by_forgetting_the_oldest)
{
    char peer[64];

    for (unsigned i = 0; i < THROTTLE_MAX_TRACKED + 10; i++) {
        snprintf(peer, sizeof peer, "10.%u.%u.%u:1", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        failed(t, peer, 100);
    }
    cr_assert_eq(auth_throttle_tracked(t), THROTTLE_MAX_TRACKED);
    /* The first ones were forgotten, the last ones remembered. */
    for (int i = 0; i < 2; i++)
        failed(t, "10.0.0.0:1", 100);
    cr_assert(allows(t, "10.0.0.0:1", 100),
              "a forgotten address kept its old count");
}

/* ---------------------------------------------------------------------- */
/* Per (source, name): one user's typos block that name from that source,
 * not the source; past the higher per-source ceiling, the source. */

static struct auth_throttle *both(unsigned per_name, unsigned per_source,
                                  const struct cidr *exempt, size_t n_exempt)
{
    struct auth_throttle_limits l = {
        .per_source_max = per_source, .per_name_max = per_name,
        .block_s = 60, .exempt = exempt, .n_exempt = n_exempt,
    };
    struct auth_throttle *th = auth_throttle_new(&l);

    cr_assert_not_null(th);
    return th;
}

Test(throttle_names, typos_block_the_name_not_the_source)
{
    struct auth_throttle *th = both(3, 10, NULL, 0);

    cr_assert_eq(auth_throttle_failed(th, "127.0.0.1:1", "alice", 100),
                 AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_failed(th, "127.0.0.1:2", "alice", 100),
                 AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_failed(th, "127.0.0.1:3", "alice", 101),
                 AUTH_BLOCK_NAME, "the third failure blocks alice");
    cr_assert_eq(auth_throttle_check(th, "127.0.0.1:4", "alice", 101),
                 AUTH_BLOCK_NAME);
    /* Everyone else on the host still gets asked. */
    cr_assert_eq(auth_throttle_check(th, "127.0.0.1:5", "bob", 101),
                 AUTH_BLOCK_NONE);
    /* alice from elsewhere too. */
    cr_assert_eq(auth_throttle_check(th, "192.0.2.7:5", "alice", 101),
                 AUTH_BLOCK_NONE);
    /* A late failure does not announce the block again. */
    cr_assert_eq(auth_throttle_failed(th, "127.0.0.1:6", "alice", 102),
                 AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_tracked(th), 1);
    cr_assert_eq(auth_throttle_tracked_names(th), 1);
    /* The block ends block_s after the last counted failure. */
    cr_assert_eq(auth_throttle_check(th, "127.0.0.1:7", "alice", 161),
                 AUTH_BLOCK_NAME);
    cr_assert_eq(auth_throttle_check(th, "127.0.0.1:7", "alice", 162),
                 AUTH_BLOCK_NONE);
    auth_throttle_free(th);
}

Test(throttle_names, a_guesser_over_many_names_blocks_the_source)
{
    struct auth_throttle *th = both(3, 10, NULL, 0);
    char name[32];
    enum auth_block b = AUTH_BLOCK_NONE;
    int i;

    /* Two guesses per name: never a name's block, but the source's at
     * the tenth. */
    for (i = 0; i < 10 && b == AUTH_BLOCK_NONE; i++) {
        snprintf(name, sizeof name, "user%d", i / 2);
        b = auth_throttle_failed(th, "198.51.100.1:1", name, 100);
    }
    cr_assert_eq(b, AUTH_BLOCK_SOURCE);
    cr_assert_eq(i, 10, "blocked after %d failures, want 10", i);
    cr_assert_eq(auth_throttle_check(th, "198.51.100.1:2", "carol", 100),
                 AUTH_BLOCK_SOURCE, "a fresh name is blocked too");
    cr_assert_eq(auth_throttle_check(th, "198.51.100.2:2", "carol", 100),
                 AUTH_BLOCK_NONE);
    auth_throttle_free(th);
}

Test(throttle_names, a_failure_starting_both_blocks_names_the_source)
{
    struct auth_throttle *th = both(3, 3, NULL, 0);

    auth_throttle_failed(th, "192.0.2.1:1", "alice", 100);
    auth_throttle_failed(th, "192.0.2.1:1", "alice", 100);
    cr_assert_eq(auth_throttle_failed(th, "192.0.2.1:1", "alice", 100),
                 AUTH_BLOCK_SOURCE);
    auth_throttle_free(th);
}

Test(throttle_names, names_are_told_apart_exactly)
{
    struct auth_throttle *th = both(2, 100, NULL, 0);

    auth_throttle_failed(th, "192.0.2.1:1", "al", 100);
    auth_throttle_failed(th, "192.0.2.1:1", "al", 100);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "al", 100),
                 AUTH_BLOCK_NAME);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "alice", 100),
                 AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "a", 100),
                 AUTH_BLOCK_NONE);
    auth_throttle_free(th);
}

Test(throttle_names, per_name_zero_counts_sources_only)
{
    struct auth_throttle *th = both(0, 3, NULL, 0);

    for (int i = 0; i < 2; i++)
        cr_assert_eq(auth_throttle_failed(th, "192.0.2.1:1", "alice", 100),
                     AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_failed(th, "192.0.2.1:1", "bob", 100),
                 AUTH_BLOCK_SOURCE);
    cr_assert_eq(auth_throttle_tracked_names(th), 0);
    auth_throttle_free(th);
}

Test(throttle_names, per_source_zero_counts_names_only)
{
    struct auth_throttle *th = both(2, 0, NULL, 0);
    char name[32];

    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "user%d", i);
        cr_assert_eq(auth_throttle_failed(th, "192.0.2.1:1", name, 100),
                     AUTH_BLOCK_NONE);
    }
    cr_assert_eq(auth_throttle_failed(th, "192.0.2.1:1", "user0", 100),
                 AUTH_BLOCK_NAME);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "fresh", 100),
                 AUTH_BLOCK_NONE);
    cr_assert_eq(auth_throttle_tracked(th), 0);
    auth_throttle_free(th);
}

Test(throttle_names, pair_memory_is_bounded_too)
{
    struct auth_throttle *th = both(3, 0, NULL, 0);
    char name[32];

    for (unsigned i = 0; i < THROTTLE_MAX_TRACKED + 10; i++) {
        snprintf(name, sizeof name, "u%u", i);
        auth_throttle_failed(th, "192.0.2.1:1", name, 100);
    }
    cr_assert_eq(auth_throttle_tracked_names(th), THROTTLE_MAX_TRACKED);
    auth_throttle_free(th);
}

/* ---------------------------------------------------------------------- */
/* Exempt ranges: never counted, never blocked. */

static struct cidr range(const char *text)
{
    struct cidr c;
    char why[160];
    const char *problem = cidr_parse(text, &c, why, sizeof why);

    cr_assert_null(problem, "%s: %s", text, problem);
    return c;
}

Test(throttle_exempt, exempt_peers_are_never_blocked)
{
    struct cidr ex[] = { range("127.0.0.1"), range("::1"),
                         range("10.0.0.0/8") };
    struct auth_throttle *th = both(2, 3, ex, 3);
    static const char *const peers[] = { "127.0.0.1:1", "[::1]:1",
                                         "10.200.3.4:1",
                                         "[::ffff:10.1.1.1]:1" };

    for (size_t p = 0; p < sizeof peers / sizeof peers[0]; p++) {
        for (int i = 0; i < 50; i++)
            cr_assert_eq(auth_throttle_failed(th, peers[p], "alice", 100),
                         AUTH_BLOCK_NONE, "%s", peers[p]);
        cr_assert_eq(auth_throttle_check(th, peers[p], "alice", 100),
                     AUTH_BLOCK_NONE, "%s", peers[p]);
        cr_assert(auth_throttle_exempt(th, peers[p]), "%s", peers[p]);
    }
    cr_assert_eq(auth_throttle_tracked(th), 0, "an exempt peer was counted");
    /* Just outside the ranges: counted as ever. */
    cr_assert_not(auth_throttle_exempt(th, "127.0.0.2:1"));
    cr_assert_not(auth_throttle_exempt(th, "11.0.0.1:1"));
    cr_assert_not(auth_throttle_exempt(th, "[::2]:1"));
    cr_assert_not(auth_throttle_exempt(th, "unix(uid=0)"));
    auth_throttle_failed(th, "11.0.0.1:1", "alice", 100);
    cr_assert_eq(auth_throttle_failed(th, "11.0.0.1:1", "alice", 100),
                 AUTH_BLOCK_NAME);
    auth_throttle_free(th);
}

/* A reload: new ceilings judge the failures counted so far, and a source
 * made exempt is let in at once. */
Test(throttle_exempt, configure_applies_to_what_was_counted)
{
    struct auth_throttle *th = both(5, 100, NULL, 0);
    struct cidr ex[] = { range("192.0.2.0/24") };
    struct auth_throttle_limits l = { .per_source_max = 100,
                                      .per_name_max = 2, .block_s = 60 };

    for (int i = 0; i < 3; i++)
        auth_throttle_failed(th, "192.0.2.1:1", "alice", 100);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "alice", 100),
                 AUTH_BLOCK_NONE);
    auth_throttle_configure(th, &l);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "alice", 100),
                 AUTH_BLOCK_NAME, "the lower ceiling was not applied");
    l.exempt = ex;
    l.n_exempt = 1;
    auth_throttle_configure(th, &l);
    cr_assert_eq(auth_throttle_check(th, "192.0.2.1:1", "alice", 100),
                 AUTH_BLOCK_NONE, "the new exempt range was not applied");
    auth_throttle_free(th);
}

Test(cidr, ranges_parse_and_match)
{
    struct cidr c[] = { range("0.0.0.0/0"), range("2001:db8::/32"),
                        range("192.0.2.128/25"), range("fe80::1/128") };

    cr_assert(cidr_list_has_peer(&c[0], 1, "203.0.113.9:1"));
    cr_assert_not(cidr_list_has_peer(&c[0], 1, "[2001:db8::1]:1"),
                  "an IPv4 range holds no IPv6 address");
    cr_assert(cidr_list_has_peer(&c[1], 1, "[2001:db8:ffff::1]:1"));
    cr_assert_not(cidr_list_has_peer(&c[1], 1, "[2001:db9::1]:1"));
    cr_assert(cidr_list_has_peer(&c[2], 1, "192.0.2.128:1"));
    cr_assert(cidr_list_has_peer(&c[2], 1, "192.0.2.255:1"));
    cr_assert_not(cidr_list_has_peer(&c[2], 1, "192.0.2.127:1"));
    cr_assert(cidr_list_has_peer(&c[3], 1, "[fe80::1]:1"));
    cr_assert_not(cidr_list_has_peer(&c[3], 1, "[fe80::2]:1"));
    cr_assert_not(cidr_list_has_peer(c, 4, "unix(uid=0)"));
    cr_assert_not(cidr_list_has_peer(c, 4, "unix"));
}

Test(cidr, bad_ranges_are_named)
{
    static const struct { const char *text, *needle; } bad[] = {
        { "", "not an IPv4 or IPv6 address" },
        { "localhost", "not an IPv4 or IPv6 address" },
        { "10.0.0.0/", "prefix length" },
        { "10.0.0.0/33", "0 to 32" },
        { "::/129", "0 to 128" },
        { "10.0.0.0/8x", "0 to 32" },
        { "10.0.0.1/8", "the range is 10.0.0.0/8" },
        { "2001:db8::1/32", "the range is 2001:db8::/32" },
    };
    struct cidr c;
    char why[160];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *problem = cidr_parse(bad[i].text, &c, why, sizeof why);
        cr_assert_not_null(problem, "\"%s\" parsed", bad[i].text);
        cr_assert_not_null(strstr(problem, bad[i].needle), "\"%s\": %s",
                           bad[i].text, problem);
    }
}
