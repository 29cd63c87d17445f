/*
 * test_presence.c - protocol level 2's presence against a real broker
 * (doc/protocol.md, "Presence"): Watch of a name and of a prefix,
 * coalesced notices, Unwatch, the cap, List (prefixes, truncation), what
 * an authorizer hides, and silence at shutdown.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <mp/protocol.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(presence, .fini = harness_reap_all, .timeout = 120);

#define JSON_LISTENER 0
#define BINARY_LISTENER 1

#define WATCH 12
#define UNWATCH 13
#define PRESENCE 14
#define LIST 15

static struct harness *start(const char *extra)
{
    return harness_start_allow_all(extra);
}

static struct rc_client *login2(struct harness *h, enum rc_format fmt,
                                const char *name)
{
    struct rc_client *c = rc_login_level(
        h, fmt == RC_JSON ? JSON_LISTENER : BINARY_LISTENER, fmt, name, 2);
    struct rc_msg m;

    rc_expect_meta(c, RC_AUTH_OK, &m);
    rc_msg_free(&m);
    return c;
}

static void watch(struct rc_client *c, const char *key, bool prefix)
{
    cr_assert(rc_send(c, WATCH, key, "", prefix ? rc_str("prefix") : RC_NULL));
}

static void expect_presence(struct rc_client *c, const char *name,
                            const char *state)
{
    rc_expect(c, PRESENCE, name, "", rc_str(state));
}

static void expect_nothing(struct rc_client *c, int ms)
{
    struct rc_msg m;
    /* Not scaled (mpt_ms): under valgrind a silence check is only weaker,
     * the plain run makes it. */
    int st = rc_recv(c, &m, ms);

    cr_assert_eq(st, RC_TIMEOUT, "%s got meta %d about %s", rc_name(c),
                 st == RC_OK ? m.meta : -1, st == RC_OK ? m.other_client : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A List's reply: the names it gave, sorted and joined by ',', and how
 * it ended ("" complete, "truncated": empty data). */
static void list_reply(struct rc_client *c, const char *prefix, char *names,
                       size_t size, const char **end);

static void list(struct rc_client *c, const char *prefix, char *names,
                 size_t size, const char **end)
{
    cr_assert(rc_send(c, LIST, prefix, "q", RC_NULL));
    list_reply(c, prefix, names, size, end);
}

/* Read one List reply (see list()). */
static void list_reply(struct rc_client *c, const char *prefix, char *names,
                       size_t size, const char **end)
{
    char *all[64];
    size_t n = 0, used = 0;
    struct rc_msg m;

    for (;;) {
        rc_expect_meta(c, LIST, &m);
        cr_assert_str_eq(m.other_client, prefix);
        cr_assert_str_eq(m.connection_id, "q");
        if (!m.has_data || m.data_len == 0) {
            *end = m.has_data ? "truncated" : "";
            rc_msg_free(&m);
            break;
        }
        for (char *save = NULL, *t = strtok_r((char *)m.data, "\n", &save);
             t != NULL; t = strtok_r(NULL, "\n", &save)) {
            cr_assert_lt(n, 64);
            all[n++] = strdup(t);
        }
        rc_msg_free(&m);
    }
    qsort(all, n, sizeof *all, cmp_str);
    names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(names + used, size - used, "%s%s",
                                 i ? "," : "", all[i]);
        free(all[i]);
    }
}


Test(presence, a_watched_name_is_reported_now_and_at_each_change)
{
    struct harness *h = start("limits = { presence_coalesce_ms = 20; };\n");
    struct rc_client *w = login2(h, RC_BINARY, "w");
    struct rc_client *bob;

    watch(w, "bob", false);
    expect_presence(w, "bob", "offline");
    bob = rc_login_any(h, JSON_LISTENER, RC_JSON, "bob");
    expect_presence(w, "bob", "online");
    rc_close(bob);
    expect_presence(w, "bob", "offline");
    /* Watching again is no second watch: one notice per change. */
    watch(w, "bob", false);
    expect_presence(w, "bob", "offline");
    bob = rc_login_any(h, JSON_LISTENER, RC_JSON, "bob");
    expect_presence(w, "bob", "online");
    expect_nothing(w, 200);
    rc_close(bob);
    rc_close(w);
    harness_stop(h);
}

/* Within presence_coalesce_ms a name that goes and comes back (a
 * reconnect, a replacing login) is not reported. */
Test(presence, a_name_that_flaps_is_not_reported)
{
    struct harness *h = start("limits = { presence_coalesce_ms = 1000; };\n");
    struct rc_client *w = login2(h, RC_JSON, "w");
    struct rc_client *bob = rc_login_any(h, JSON_LISTENER, RC_JSON, "bob");
    struct rc_client *bob2, *carol;

    watch(w, "bob", false);
    expect_presence(w, "bob", "online");
    watch(w, "c", true);
    /* Replaced by a newer login: offline and online at once. */
    bob2 = rc_login_any(h, BINARY_LISTENER, RC_BINARY, "bob");
    rc_expect_eof(bob);
    carol = rc_login_any(h, JSON_LISTENER, RC_JSON, "carol");
    /* The window ends: carol is reported, bob is not. */
    expect_presence(w, "carol", "online");
    expect_nothing(w, 300);
    rc_close(bob);
    rc_close(bob2);
    rc_close(carol);
    rc_close(w);
    harness_stop(h);
}

Test(presence, a_prefix_watch_reports_each_name_under_it_once)
{
    struct harness *h = start("limits = { presence_coalesce_ms = 0; };\n");
    struct rc_client *w = login2(h, RC_BINARY, "w");
    struct rc_client *bob, *carl, *bea;

    watch(w, "b", true);
    watch(w, "bob", false);
    expect_presence(w, "bob", "offline");
    bob = rc_login_any(h, JSON_LISTENER, RC_JSON, "bob");
    expect_presence(w, "bob", "online");
    carl = rc_login_any(h, JSON_LISTENER, RC_JSON, "carl");
    bea = rc_login_any(h, JSON_LISTENER, RC_JSON, "bea");
    expect_presence(w, "bea", "online");
    /* Unwatch ends the prefix watch; the name watch stays. */
    cr_assert(rc_send(w, UNWATCH, "b", "", rc_str("prefix")));
    cr_assert(rc_send(w, UNWATCH, "nothing", "", RC_NULL));
    rc_close(bea);
    rc_close(bob);
    expect_presence(w, "bob", "offline");
    expect_nothing(w, 200);
    rc_close(carl);
    rc_close(w);
    harness_stop(h);
}

Test(presence, bad_watches_and_the_cap_get_wat)
{
    struct harness *h = start("limits = { max_watches_per_client = 2; };\n");
    struct rc_client *w = login2(h, RC_BINARY, "w");

    cr_assert(rc_send(w, WATCH, "x", "", rc_str("names")));
    rc_expect(w, RC_WAT, "x", "",
              rc_str("malformed watch: data must be absent or \"prefix\""));
    cr_assert(rc_send(w, WATCH, "", "", RC_NULL));
    rc_expect(w, RC_WAT, "", "", rc_str("watch of an empty name"));
    watch(w, "a", false);
    expect_presence(w, "a", "offline");
    watch(w, "", true);
    /* Held already: not counted again. */
    watch(w, "a", false);
    expect_presence(w, "a", "offline");
    watch(w, "c", false);
    rc_expect(w, RC_WAT, "c", "", rc_str("too many watches"));
    /* One freed, one more fits. */
    cr_assert(rc_send(w, UNWATCH, "a", "", RC_NULL));
    watch(w, "c", false);
    expect_presence(w, "c", "offline");
    rc_close(w);
    harness_stop(h);
}

Test(presence, list_gives_the_names_online_under_a_prefix)
{
    struct harness *h = start("limits = { max_list_names = 3; };\n");
    struct rc_client *w = login2(h, RC_JSON, "w");
    struct rc_client *c[3];
    static const char *const names[] = {"bob", "bea", "carol"};
    char got[512], prefix[MP_NAME_MAX + 1];
    const char *end;

    for (int i = 0; i < 3; i++)
        c[i] = rc_login_any(h, BINARY_LISTENER, RC_BINARY, names[i]);
    list(w, "b", got, sizeof got, &end);
    cr_assert_str_eq(got, "bea,bob");
    cr_assert_str_eq(end, "");
    list(w, "nobody", got, sizeof got, &end);
    cr_assert_str_eq(got, "");
    cr_assert_str_eq(end, "");
    memset(prefix, 'p', MP_NAME_MAX);
    prefix[MP_NAME_MAX] = '\0';
    list(w, prefix, got, sizeof got, &end);
    cr_assert_str_eq(got, "");
    /* Four online (w too), at most three named. */
    list(w, "", got, sizeof got, &end);
    cr_assert_str_eq(end, "truncated");
    cr_assert_eq(strlen(got) > 0, true);
    for (int i = 0; i < 3; i++)
        rc_close(c[i]);
    rc_close(w);
    harness_stop(h);
}

/* An authorizer without authorize_see (built before it existed) hides
 * every name: a watched name is offline to the watcher, List is empty,
 * and no notice names it. */
Test(presence, an_authorizer_without_authorize_see_hides_every_name)
{
    struct harness *h = harness_start(
        MPT_LISTEN_JSON_BINARY "limits = { presence_coalesce_ms = 0; };\n"
        "authenticators = ( { module = "
        "\"@TEST_PLUGIN_DIR@/legacy_authz.so\"; } );\n");
    struct rc_client *w, *bob;
    char got[64];
    const char *end;

    w = login2(h, RC_BINARY, "w");
    bob = rc_login(h, JSON_LISTENER, RC_JSON, "bob", "any");
    watch(w, "bob", false);
    expect_presence(w, "bob", "offline");
    watch(w, "", true);
    list(w, "", got, sizeof got, &end);
    cr_assert_str_eq(got, "");
    rc_close(bob);
    expect_nothing(w, 300);
    rc_close(w);
    harness_stop(h);
}

/* At shutdown watchers get GoingAway, not a storm of offline notices. */
Test(presence, no_notices_at_shutdown)
{
    struct harness *h = start("limits = { presence_coalesce_ms = 0; };\n"
                              "shutdown_grace_ms = 60000;\n");
    struct rc_client *w = login2(h, RC_BINARY, "w");
    struct rc_client *bob = rc_login_any(h, JSON_LISTENER, RC_JSON, "bob");
    int status = -1;

    watch(w, "", true);
    cr_assert(harness_signal(h, SIGTERM));
    rc_expect(w, 18, "", "", rc_str("60000"));
    rc_expect_eof(bob);
    expect_nothing(w, 300);
    rc_close(w);
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert_eq(status, 0);
    rc_close(bob);
    harness_free(h);
}

/* LISTS binary List frames, prefix `name`, id "q", in one buffer. */
static unsigned char *list_frames(const char *name, size_t lists,
                                  size_t *len)
{
    size_t name_len = strlen(name), frame = 8 + name_len + 1;
    unsigned char *buf = malloc(lists * frame), *p = buf;

    cr_assert_not_null(buf);
    for (size_t i = 0; i < lists; i++, p += frame) {
        size_t body = frame - 4;
        p[0] = p[1] = 0;
        p[2] = (unsigned char)(body >> 8);
        p[3] = (unsigned char)body;
        p[4] = LIST;
        p[5] = 0; /* no data */
        p[6] = (unsigned char)name_len;
        p[7] = 1;
        memcpy(p + 8, name, name_len);
        p[8 + name_len] = 'q';
    }
    *len = lists * frame;
    return buf;
}

/* A List costs a pass over every name: a client that asks and does not
 * read is paused by its own full queue, as one that sends Data to
 * nowhere is by its bounces, and is read again once it reads. The Lists
 * go in one write, and each reply (the name twice, and the end) is
 * three times its request: the broker's first read of them, 4 KiB,
 * queues more than output_high_water before it writes any. Sent one by
 * one, they could be read, answered and flushed a few at a time, and the
 * queue never fill (as CI once saw). */
Test(presence, a_client_that_lists_without_reading_is_paused)
{
    struct harness *h = start("limits = { max_message_size = 4096;\n"
                              "           output_high_water = 8192;\n"
                              "           output_low_water = 1024;\n"
                              "           output_hard_limit = 1048576; };\n"
                              "log = { level = \"debug\"; };\n");
    enum { LISTS = 300 };
    char name[101], got[128], pausing[160], slow[160];
    const char *end;
    size_t len;

    memset(name, 'w', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    struct rc_client *w = login2(h, RC_BINARY, name);
    unsigned char *lists = list_frames(name, LISTS, &len);

    cr_assert(rc_send_raw(w, lists, len));
    free(lists);
    snprintf(pausing, sizeof pausing, "pausing %s: %s has too much queued",
             name, name);
    cr_assert(harness_wait_log(h, pausing, mpt_ms(MPT_MSG_MS)));
    /* Read everything: every List is answered, none was dropped. */
    for (int i = 0; i < LISTS; i++) {
        list_reply(w, name, got, sizeof got, &end);
        cr_assert_str_eq(got, name);
    }
    snprintf(slow, sizeof slow, "disconnecting slow client %s", name);
    cr_assert(!harness_log_contains(h, slow));
    cr_assert(harness_wait_log(h, "resuming", mpt_ms(MPT_MSG_MS)));
    rc_close(w);
    harness_stop(h);
}
