/*
 * test_auth.c - sessions before READY: Auth, name rules, the authenticator
 * chain (passwd, asynchronous), auth timeout, duplicate names, re-Auth.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(auth, .fini = harness_reap_all, .timeout = 60);

/* Listener index for a format in MPT_LISTEN_JSON_BINARY. */
static size_t lst(enum rc_format f)
{
    return f == RC_JSON ? 0 : 1;
}

static struct harness *start_allow_all(const char *extra)
{
    char body[2048];

    snprintf(body, sizeof body, "%s%s%s", MPT_LISTEN_JSON_BINARY,
             MPT_AUTH_ALLOW_ALL, extra);
    return harness_start(body);
}

/* A Syn from a to b, delivered, then refused with UnknownProto: proves
 * both sessions work without leaving anything in the connection table. */
static void roundtrip(struct rc_client *a, struct rc_client *b, const char *id)
{
    cr_assert(rc_send(a, RC_SYN, rc_name(b), id, rc_str("ping")),
              "%s cannot send: %s", rc_name(a), rc_error(a));
    rc_expect(b, RC_SYN, rc_name(a), id, rc_str("ping"));
    cr_assert(rc_send(b, RC_UNKNOWN_PROTO, rc_name(a), id, RC_NULL),
              "%s cannot send: %s", rc_name(b), rc_error(b));
    rc_expect(a, RC_UNKNOWN_PROTO, rc_name(b), id, RC_NULL);
}

/* ---------------------------------------------------------------------- */

Test(auth, ok_json_exact_bytes)
{
    struct harness *h = start_allow_all("");
    struct rc_client *c = rc_connect(h, 0, RC_JSON);

    cr_assert(rc_send_json(c, "{\"Meta\":8,\"OtherClient\":\"alice\","
                              "\"ConnectionID\":\"\",\"Data\":\"Tm8gcGFzc3dvcmQgbmVlZGVkIQ==\"}"));
    rc_expect_line(c, "{\"Meta\":9,\"OtherClient\":\"alice\",\"ConnectionID\":\"\",\"Data\":null}");
    rc_close(c);
    harness_stop(h);
}

Test(auth, ok_binary_exact_bytes)
{
    static const unsigned char auth[] = {
        0, 0, 0, 14, RC_AUTH, RC_FLAG_HAS_DATA, 5, 0,
        'a', 'l', 'i', 'c', 'e', 'N', 'o', ' ', 'p', 'w' };
    static const unsigned char ok[] = {
        0, 0, 0, 9, RC_AUTH_OK, 0, 5, 0, 'a', 'l', 'i', 'c', 'e' };
    struct harness *h = start_allow_all("");
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);
    struct rc_msg m;

    cr_assert(rc_send_raw(c, auth, sizeof auth));
    rc_expect_any(c, &m);
    cr_assert_eq(m.raw_len, sizeof ok, "AuthOk frame is %zu bytes, want %zu",
                 m.raw_len, sizeof ok);
    cr_assert_arr_eq(m.raw, ok, sizeof ok, "AuthOk frame bytes differ");
    rc_msg_free(&m);
    rc_close(c);
    harness_stop(h);
}

Test(auth, auth_with_level_byte_binary)
{
    struct harness *h = start_allow_all("");
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);

    cr_assert(rc_send_binary(c, RC_AUTH, "alice", "", rc_str("x"), 1));
    rc_expect(c, RC_AUTH_OK, "alice", "", RC_NULL);
    rc_close(c);
    harness_stop(h);
}

/* Anything but Auth first: AuthFailure with a reason, then close. */
static void not_auth_first(enum rc_format f, unsigned meta)
{
    struct harness *h = start_allow_all("");
    struct rc_client *c = rc_connect(h, lst(f), f);
    struct rc_client *bob = rc_login_any(h, lst(f), f, "bob");
    struct rc_client *carol = rc_login_any(h, 0, RC_JSON, "carol");

    cr_assert(rc_send(c, meta, "bob", "x:1", rc_str("echo")));
    rc_expect_auth_failure(c, NULL);
    roundtrip(bob, carol, "bob:1");
    rc_close(c);
    rc_close(bob);
    rc_close(carol);
    harness_stop(h);
}

Test(auth, syn_first_json) { not_auth_first(RC_JSON, RC_SYN); }
Test(auth, syn_first_binary) { not_auth_first(RC_BINARY, RC_SYN); }
Test(auth, data_first_json) { not_auth_first(RC_JSON, RC_DATA); }
Test(auth, data_first_binary) { not_auth_first(RC_BINARY, RC_DATA); }
Test(auth, authok_first_json) { not_auth_first(RC_JSON, RC_AUTH_OK); }

Test(auth, expected_auth_reason)
{
    struct harness *h = start_allow_all("");
    struct rc_client *c = rc_connect(h, 0, RC_JSON);

    cr_assert(rc_send(c, RC_SYN, "bob", "x:1", rc_str("echo")));
    rc_expect_auth_failure(c, "Auth");
    rc_close(c);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Name rules: 1..255 bytes, no ':', no control characters, valid UTF-8. */

static void expect_bad_name_binary(struct harness *h, const char *name,
                                   size_t len)
{
    unsigned char frame[300];
    size_t rest = 4 + len + 1;
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);

    frame[0] = 0;
    frame[1] = 0;
    frame[2] = (unsigned char)(rest >> 8);
    frame[3] = (unsigned char)rest;
    frame[4] = RC_AUTH;
    frame[5] = RC_FLAG_HAS_DATA;
    frame[6] = (unsigned char)len;
    frame[7] = 0;
    memcpy(frame + 8, name, len);
    frame[8 + len] = 'x';
    cr_assert(rc_send_raw(c, frame, 4 + rest));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);
}

static void expect_bad_name_json(struct harness *h, const char *json_name)
{
    char line[1024];
    struct rc_client *c = rc_connect(h, 0, RC_JSON);

    snprintf(line, sizeof line,
             "{\"Meta\":8,\"OtherClient\":\"%s\",\"ConnectionID\":\"\",\"Data\":\"eA==\"}",
             json_name);
    cr_assert(rc_send_json(c, line));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);
}

Test(auth, bad_names_binary)
{
    struct harness *h = start_allow_all("");

    expect_bad_name_binary(h, "", 0);
    expect_bad_name_binary(h, "a:b", 3);
    expect_bad_name_binary(h, ":", 1);
    expect_bad_name_binary(h, "a\x01" "b", 3);
    expect_bad_name_binary(h, "a\nb", 3);
    expect_bad_name_binary(h, "a\0b", 3);
    expect_bad_name_binary(h, "\xff\xfe", 2);
    expect_bad_name_binary(h, "\xc0\xaf", 2);          /* overlong '/' */
    expect_bad_name_binary(h, "\xed\xa0\x80", 3);      /* surrogate */
    expect_bad_name_binary(h, "abc\xe2\x82", 5);       /* truncated */
    /* The broker is still fine. */
    rc_close(rc_login_any(h, 1, RC_BINARY, "alice"));
    harness_stop(h);
}

Test(auth, bad_names_json)
{
    struct harness *h = start_allow_all("");
    char long_name[300];

    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    expect_bad_name_json(h, "");
    expect_bad_name_json(h, "a:b");
    expect_bad_name_json(h, "tab\\there");
    expect_bad_name_json(h, "\\u0001x");
    expect_bad_name_json(h, "x\\u001f");
    expect_bad_name_json(h, long_name);
    rc_close(rc_login_any(h, 0, RC_JSON, "alice"));
    harness_stop(h);
}

Test(auth, name_boundaries)
{
    struct harness *h = start_allow_all("");
    char name[256];

    memset(name, 'b', 255);
    name[255] = '\0';
    struct rc_client *b255 = rc_login_any(h, 1, RC_BINARY, name);
    name[0] = 'j';
    struct rc_client *j255 = rc_login_any(h, 0, RC_JSON, name);
    struct rc_client *one = rc_login_any(h, 0, RC_JSON, "x");
    struct rc_client *utf8 = rc_login_any(h, 1, RC_BINARY, "h\xc3\xa9l\xc3\xa8ne-\xe2\x82\xac");

    roundtrip(one, b255, "x:1");
    roundtrip(utf8, j255, "h\xc3\xa9l\xc3\xa8ne-\xe2\x82\xac:1");
    rc_close(b255);
    rc_close(j255);
    rc_close(one);
    rc_close(utf8);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* auth_passwd */

/* A broker with alice (s3cret) and bob (hunter2) in auth_passwd, then
 * extra_auth in its authenticators and extra_conf after them. */
static struct harness *start_alice_and_bob(const char *extra_auth,
                                           const char *extra_conf)
{
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "s3cret");
    char *bob = harness_passwd_entry("bob", "hunter2");
    char text[1024], body[2048];

    snprintf(text, sizeof text, "%s\n%s\n", alice, bob);
    free(alice);
    free(bob);
    harness_write_file(h, "mpbroker.passwd", text);
    snprintf(body, sizeof body,
             "%s"
             "authenticators = ( { module = \"auth_passwd.so\";"
             " options = { file = \"@DIR@/mpbroker.passwd\"; }; }%s );\n"
             "%s",
             MPT_LISTEN_JSON_BINARY, extra_auth, extra_conf);
    harness_boot(h, body);
    return h;
}

static struct harness *start_passwd(const char *extra_auth)
{
    return start_alice_and_bob(extra_auth, "");
}

static void passwd_cases(enum rc_format f)
{
    struct harness *h = start_passwd("");
    struct rc_client *alice = rc_login(h, lst(f), f, "alice", "s3cret");
    struct rc_client *c;
    struct rc_msg m;

    c = rc_connect(h, lst(f), f);
    cr_assert(rc_send(c, RC_AUTH, "bob", "", rc_str("hunter3")));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);

    c = rc_connect(h, lst(f), f);
    cr_assert(rc_send(c, RC_AUTH, "mallory", "", rc_str("s3cret")));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);

    c = rc_connect(h, lst(f), f);
    cr_assert(rc_send(c, RC_AUTH, "bob", "", RC_NULL));
    rc_expect_meta(c, RC_AUTH_FAILURE, &m);
    rc_msg_free(&m);
    rc_expect_eof(c);
    rc_close(c);

    struct rc_client *bob = rc_login(h, lst(f), f, "bob", "hunter2");
    roundtrip(alice, bob, "alice:1");
    rc_close(alice);
    rc_close(bob);
    harness_stop(h);
}

Test(auth, passwd_json) { passwd_cases(RC_JSON); }
Test(auth, passwd_binary) { passwd_cases(RC_BINARY); }

/* The chain: passwd first, auth_delayed second. Unknown names defer to the
 * next authenticator; a wrong secret for a known name stops the chain. */
Test(auth, chain_defer_and_deny)
{
    struct harness *h = start_passwd(
        ",\n { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";"
        " options = { delay_ms = 20; }; }");
    struct rc_client *c;

    struct rc_client *carol = rc_login(h, 0, RC_JSON, "carol", "delayed");
    struct rc_client *alice = rc_login(h, 1, RC_BINARY, "alice", "s3cret");

    c = rc_connect(h, 0, RC_JSON);
    cr_assert(rc_send(c, RC_AUTH, "bob", "", rc_str("delayed")));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);

    c = rc_connect(h, 0, RC_JSON);
    cr_assert(rc_send(c, RC_AUTH, "dave", "", rc_str("wrong")));
    rc_expect_auth_failure(c, NULL);
    rc_close(c);

    roundtrip(carol, alice, "carol:1");
    rc_close(carol);
    rc_close(alice);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Asynchronous authentication (auth_delayed) */

static struct harness *start_delayed(int delay_ms, const char *extra)
{
    char body[2048];

    snprintf(body, sizeof body,
             "%s"
             "authenticators = ( { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";"
             " options = { delay_ms = %d; secret = \"open sesame\"; }; } );\n%s",
             MPT_LISTEN_JSON_BINARY, delay_ms, extra);
    return harness_start(body);
}

Test(auth, async_allowed)
{
    struct harness *h = start_delayed(100, "");
    long long t0 = mpt_now_ms();
    struct rc_client *a = rc_login(h, 0, RC_JSON, "alice", "open sesame");

    cr_assert_geq(mpt_now_ms() - t0, 90, "AuthOk came before the plugin's delay");
    struct rc_client *b = rc_login(h, 1, RC_BINARY, "bob", "open sesame");
    roundtrip(a, b, "alice:1");
    rc_close(a);
    rc_close(b);
    harness_stop(h);
}

Test(auth, async_denied)
{
    struct harness *h = start_delayed(50, "");

    for (int i = 0; i < 2; i++) {
        enum rc_format f = i == 0 ? RC_JSON : RC_BINARY;
        struct rc_client *c = rc_connect(h, lst(f), f);
        cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("delayed")));
        rc_expect_auth_failure(c, NULL);
        rc_close(c);
    }
    harness_stop(h);
}

/* Many clients pending at once, completed in any order, each answered. */
Test(auth, async_many_pending)
{
    struct harness *h = start_delayed(100, "");
    struct rc_client *c[8];
    char name[16];

    for (int i = 0; i < 8; i++) {
        c[i] = rc_connect(h, lst(i % 2 ? RC_BINARY : RC_JSON),
                          i % 2 ? RC_BINARY : RC_JSON);
        snprintf(name, sizeof name, "user%d", i);
        cr_assert(rc_send(c[i], RC_AUTH, name, "",
                          rc_str(i == 3 ? "nope" : "open sesame")));
    }
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "user%d", i);
        if (i == 3)
            rc_expect_auth_failure(c[i], NULL);
        else
            rc_expect(c[i], RC_AUTH_OK, name, "", RC_NULL);
        rc_close(c[i]);
    }
    harness_stop(h);
}

/* A broker round trip through c: once it is back, the broker has most
 * likely read whatever other clients sent before it. */
static void barrier(struct rc_client *c)
{
    cr_assert(rc_send(c, RC_DATA, "nobody", "barrier:1", RC_NULL));
    rc_expect(c, RC_NO_SUCH_CONN, "nobody", "barrier:1", RC_NULL);
}

/*
 * Clients leave while their authentication is pending: the broker cancels
 * it, survives the plugin's timer, and keeps serving. In particular a
 * departed client must never be logged in afterwards - here it would
 * replace the live session of the same name.
 */
Test(auth, async_client_leaves_while_pending)
{
    struct harness *h = start_delayed(200, "");
    struct rc_client *ghost = rc_login(h, 0, RC_JSON, "ghost", "open sesame");
    struct rc_client *bob = rc_login(h, 1, RC_BINARY, "bob", "open sesame");
    struct rc_client *dead[3];
    size_t mark = harness_log_mark(h);

    for (int i = 0; i < 3; i++) {
        enum rc_format f = i ? RC_BINARY : RC_JSON;
        dead[i] = rc_connect(h, lst(f), f);
        cr_assert(rc_send(dead[i], RC_AUTH, "ghost", "", rc_str("open sesame")));
    }
    barrier(bob);
    for (int i = 0; i < 3; i++)
        rc_close(dead[i]);
    barrier(bob);
    /* This login's timer starts after the departed ones': when it is
     * answered, theirs are due. */
    struct rc_client *sync = rc_login(h, 0, RC_JSON, "sync", "open sesame");
    roundtrip(ghost, bob, "ghost:1");
    roundtrip(sync, ghost, "sync:1");
    cr_assert_not(harness_wait_log_from(h, mark, "error:", 0),
                  "the broker logged an error");
    rc_close(ghost);
    rc_close(bob);
    rc_close(sync);
    harness_stop(h);
}

/* Messages pipelined right behind the Auth wait for the verdict, then
 * are handled in order (the client need not wait for AuthOk). */
static void pipelined(struct harness *h, const char *secret)
{
    struct rc_client *bob = rc_login(h, 1, RC_BINARY, "bob", secret);
    struct rc_client *a = rc_connect(h, 0, RC_JSON);
    char *auth = rc_json_line(RC_AUTH, "alice", "", rc_str(secret));
    char *syn = rc_json_line(RC_SYN, "bob", "alice:1", rc_str("echo"));
    char both[512];

    snprintf(both, sizeof both, "%s\n%s\n", auth, syn);
    free(auth);
    free(syn);
    cr_assert(rc_send_raw(a, both, strlen(both)));
    rc_expect(a, RC_AUTH_OK, "alice", "", RC_NULL);
    rc_expect(bob, RC_SYN, "alice", "alice:1", rc_str("echo"));
    rc_close(a);
    rc_close(bob);
    harness_stop(h);
}

Test(auth, pipelined_after_auth) { pipelined(start_allow_all(""), "x"); }
Test(auth, pipelined_after_async_auth)
{
    pipelined(start_delayed(50, ""), "open sesame");
}

/* ---------------------------------------------------------------------- */
/* Auth timeout */

Test(auth, timeout_silent_client)
{
    struct harness *h = start_allow_all("limits = { auth_timeout_ms = 200; };\n");
    struct rc_client *ready = rc_login_any(h, 0, RC_JSON, "alice");
    struct rc_client *peer = rc_login_any(h, 1, RC_BINARY, "bob");
    long long t0 = mpt_now_ms();
    struct rc_client *c = rc_connect(h, 0, RC_JSON);
    struct rc_client *d = rc_connect(h, 1, RC_BINARY);

    rc_expect_auth_failure(c, "authentication timed out");
    long long took = mpt_now_ms() - t0;
    cr_assert_geq(took, 150, "timed out after %lld ms, before 200", took);
    cr_assert_leq(took, mpt_ms(2000), "timed out after %lld ms", took);
    rc_expect_auth_failure(d, "authentication timed out");
    /* READY sessions are not subject to the auth timeout. */
    roundtrip(ready, peer, "alice:1");
    rc_close(c);
    rc_close(d);
    rc_close(ready);
    rc_close(peer);
    harness_stop(h);
}

Test(auth, timeout_partial_auth)
{
    struct harness *h = start_allow_all("limits = { auth_timeout_ms = 200; };\n");
    struct rc_client *c = rc_connect(h, 0, RC_JSON);
    struct rc_client *d = rc_connect(h, 1, RC_BINARY);
    static const unsigned char partial[] = { 0, 0, 0, 40, RC_AUTH, 1, 5, 0 };

    cr_assert(rc_send_raw(c, "{\"Meta\":8,\"OtherClient\":", 24));
    cr_assert(rc_send_raw(d, partial, sizeof partial));
    rc_expect_auth_failure(c, "authentication timed out");
    rc_expect_auth_failure(d, "authentication timed out");
    rc_close(c);
    rc_close(d);
    harness_stop(h);
}

/* A pending asynchronous authentication that outlasts the timeout. */
Test(auth, timeout_while_async_pending)
{
    struct harness *h = start_delayed(1500, "limits = { auth_timeout_ms = 200; };\n");
    struct rc_client *c = rc_connect(h, 0, RC_JSON);
    long long t0 = mpt_now_ms();

    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("open sesame")));
    rc_expect_auth_failure(c, "authentication timed out");
    cr_assert_lt(mpt_now_ms() - t0, 1400, "the timeout waited for the plugin");
    rc_close(c);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Duplicate names */

static void duplicate_replace(const char *extra)
{
    struct harness *h = start_allow_all(extra);
    struct rc_client *alice1 = rc_login_any(h, 0, RC_JSON, "alice");
    struct rc_client *bob = rc_login_any(h, 1, RC_BINARY, "bob");
    struct rc_client *carol = rc_login_any(h, 0, RC_JSON, "carol");

    rc_open_conn(bob, alice1, "bob:1", "echo");
    struct rc_client *alice2 = rc_login_any(h, 1, RC_BINARY, "alice");
    rc_expect_eof(alice1);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    /* carol shared nothing with the old alice: she got nothing, and bob
     * got only one ClientClosed. */
    roundtrip(carol, bob, "carol:1");
    /* The old connection is gone; the new alice is reachable. */
    cr_assert(rc_send(bob, RC_DATA, "alice", "bob:1", rc_str("hi")));
    rc_expect(bob, RC_NO_SUCH_CONN, "alice", "bob:1", rc_str("hi"));
    rc_open_conn(bob, alice2, "bob:2", "echo");
    cr_assert(rc_send(alice2, RC_DATA, "bob", "bob:2", rc_str("new")));
    rc_expect(bob, RC_DATA, "alice", "bob:2", rc_str("new"));
    rc_close(alice1);
    rc_close(alice2);
    rc_close(bob);
    rc_close(carol);
    harness_stop(h);
}

Test(auth, duplicate_replace_is_default) { duplicate_replace(""); }
Test(auth, duplicate_replace) { duplicate_replace("duplicate_names = \"replace\";\n"); }

Test(auth, duplicate_reject)
{
    struct harness *h = start_allow_all("duplicate_names = \"reject\";\n");
    struct rc_client *alice1 = rc_login_any(h, 0, RC_JSON, "alice");
    struct rc_client *bob = rc_login_any(h, 1, RC_BINARY, "bob");

    rc_open_conn(bob, alice1, "bob:1", "echo");
    for (int i = 0; i < 2; i++) {
        enum rc_format f = i ? RC_BINARY : RC_JSON;
        struct rc_client *alice2 = rc_connect(h, lst(f), f);
        cr_assert(rc_send(alice2, RC_AUTH, "alice", "", rc_str("x")));
        rc_expect_auth_failure(alice2, "name already in use");
        rc_close(alice2);
    }
    /* The first alice is untouched. */
    cr_assert(rc_send(bob, RC_DATA, "alice", "bob:1", rc_str("still there?")));
    rc_expect(alice1, RC_DATA, "bob", "bob:1", rc_str("still there?"));
    cr_assert(rc_send(alice1, RC_DATA, "bob", "bob:1", rc_str("yes")));
    rc_expect(bob, RC_DATA, "alice", "bob:1", rc_str("yes"));
    /* Once she leaves, the name is free again. */
    rc_close(alice1);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    struct rc_client *alice3 = rc_login_any(h, 0, RC_JSON, "alice");
    roundtrip(alice3, bob, "alice:1");
    rc_close(alice3);
    rc_close(bob);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */

static void auth_again(enum rc_format f)
{
    struct harness *h = start_allow_all("");
    struct rc_client *alice = rc_login_any(h, lst(f), f, "alice");
    struct rc_client *bob = rc_login_any(h, 0, RC_JSON, "bob");
    struct rc_msg m;

    cr_assert(rc_send(alice, RC_AUTH, "mallory", "", rc_str("x")));
    rc_expect_meta(alice, RC_WAT, &m);
    rc_msg_free(&m);
    cr_assert(rc_send(alice, RC_AUTH, "alice", "", rc_str("x")));
    rc_expect_meta(alice, RC_WAT, &m);
    rc_msg_free(&m);
    /* Still open, still named alice. */
    roundtrip(bob, alice, "bob:1");
    roundtrip(alice, bob, "alice:1");
    rc_close(alice);
    rc_close(bob);
    harness_stop(h);
}

Test(auth, auth_again_json) { auth_again(RC_JSON); }
Test(auth, auth_again_binary) { auth_again(RC_BINARY); }

/* ------------------------------------------------------------------------
 * Failed logins are rate-limited per source address and per (source,
 * name) (limits.auth_failures_max, auth_failures_per_name_max,
 * auth_block_s), except from the ranges in auth_throttle_exempt.
 */

static void wrong_secret(struct harness *h, size_t listener, const char *why)
{
    struct rc_client *c = rc_connect(h, listener, RC_BINARY);

    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("guess-1234")));
    rc_expect_auth_failure(c, why);
    rc_close(c);
}

Test(auth, failed_logins_block_the_address)
{
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "s3cret");
    char passwd[512];
    struct rc_client *c;

    snprintf(passwd, sizeof passwd, "%s\n", alice);
    free(alice);
    harness_write_file(h, "mpbroker.passwd", passwd);
    harness_boot(h,
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n"
        "              { unix = \"@DIR@/s\"; translator = \"binary\"; } );\n"
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        "limits = { auth_failures_max = 3; auth_block_s = 600; };\n");
    for (int i = 0; i < 3; i++)
        wrong_secret(h, 0, "invalid name or secret");
    cr_assert(harness_wait_log(h, "refusing every login from the address "
                                  "of 127.0.0.1:", mpt_ms(MPT_MSG_MS)));
    /* Blocked: even the right secret is refused now, unasked. */
    c = rc_connect(h, 0, RC_BINARY);
    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("s3cret")));
    rc_expect_auth_failure(c, "too many failed logins from this address; "
                              "try again later");
    rc_close(c);
    /* Unix socket peers count by uid, apart from 127.0.0.1: alice still
     * gets in there. */
    wrong_secret(h, 1, "invalid name or secret");
    c = rc_login(h, 1, RC_BINARY, "alice", "s3cret");
    rc_close(c);
    /* The guesses never reach the log. */
    char *log = harness_log_text(h);
    cr_assert(strstr(log, "guess-1234") == NULL, "a secret was logged");
    free(log);
    harness_stop(h);
}

/* Issue 13: guessing over the Unix socket was never throttled. Now its
 * peers are counted by uid (SO_PEERCRED). */
Test(auth, failed_logins_over_unix_socket_block_the_uid)
{
    struct harness *h = harness_new();
    char *alice = harness_passwd_entry("alice", "s3cret");
    char passwd[512], expected[64];
    struct rc_client *c;

    snprintf(passwd, sizeof passwd, "%s\n", alice);
    free(alice);
    harness_write_file(h, "mpbroker.passwd", passwd);
    harness_boot(h,
        "listeners = ( { unix = \"@DIR@/s\"; translator = \"binary\"; },\n"
        "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        "limits = { auth_failures_max = 3; auth_block_s = 600; };\n");
    for (int i = 0; i < 3; i++)
        wrong_secret(h, 0, "invalid name or secret");
    snprintf(expected, sizeof expected,
             "refusing every login from the address of unix(uid=%lu)",
             (unsigned long)getuid());
    cr_assert(harness_wait_log(h, expected, mpt_ms(MPT_MSG_MS)));
    c = rc_connect(h, 0, RC_BINARY);
    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str("s3cret")));
    rc_expect_auth_failure(c, "too many failed logins from this address; "
                              "try again later");
    rc_close(c);
    /* Other sources are counted apart: TCP from 127.0.0.1 still works. */
    c = rc_login(h, 1, RC_BINARY, "alice", "s3cret");
    rc_close(c);
    harness_stop(h);
}

Test(auth, failed_logins_below_the_limit_do_not_block)
{
    struct harness *h = start_passwd("");
    struct rc_client *c;

    /* The default limit for one name is 10 in 60 s: 9 failures leave the
     * door open. */
    for (int i = 0; i < 9; i++)
        wrong_secret(h, 1, "invalid name or secret");
    c = rc_login(h, 1, RC_BINARY, "alice", "s3cret");
    rc_close(c);
    cr_assert_not(harness_log_contains(h, "refusing"));
    harness_stop(h);
}

/* alice (s3cret) and bob (hunter2) in auth_passwd, with `limits`. */
static struct harness *start_throttled(const char *limits)
{
    char conf[1024];

    snprintf(conf, sizeof conf, "limits = { %s };\n", limits);
    return start_alice_and_bob("", conf);
}

static void bad_login(struct harness *h, const char *name, const char *why)
{
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);

    cr_assert(rc_send(c, RC_AUTH, name, "", rc_str("guess-1234")));
    rc_expect_auth_failure(c, why);
    rc_close(c);
}

static void blocked_login(struct harness *h, const char *name,
                          const char *secret)
{
    struct rc_client *c = rc_connect(h, 1, RC_BINARY);

    cr_assert(rc_send(c, RC_AUTH, name, "", rc_str(secret)));
    rc_expect_auth_failure(c, "too many failed logins from this address; "
                              "try again later");
    rc_close(c);
}

/* Issue 14: ten typos of one user from 127.0.0.1 locked every loopback
 * client out. Now they lock out that name from there, no more. */
Test(auth, typos_block_the_name_not_the_host)
{
    struct harness *h = start_throttled(
        "auth_failures_per_name_max = 3; auth_failures_max = 100;"
        " auth_block_s = 600;");

    for (int i = 0; i < 3; i++)
        bad_login(h, "alice", "invalid name or secret");
    cr_assert(harness_wait_log(h, "refusing logins as alice from the "
                                  "address of 127.0.0.1:",
                               mpt_ms(MPT_MSG_MS)));
    /* alice herself, even with the right secret, waits. */
    blocked_login(h, "alice", "s3cret");
    /* Everyone else on the host is asked as before. */
    rc_close(rc_login(h, 1, RC_BINARY, "bob", "hunter2"));
    bad_login(h, "bob", "invalid name or secret");
    rc_close(rc_login(h, 1, RC_BINARY, "bob", "hunter2"));
    harness_stop(h);
}

/* A guesser spreading guesses over names is stopped by the per-source
 * ceiling: then nobody from that source gets in. */
Test(auth, past_the_source_ceiling_everyone_is_refused)
{
    static const char *const names[] = { "alice", "bob", "carol" };
    struct harness *h = start_throttled(
        "auth_failures_per_name_max = 3; auth_failures_max = 6;"
        " auth_block_s = 600;");

    /* Two guesses a name: no name reaches its limit of 3. */
    for (int i = 0; i < 6; i++)
        bad_login(h, names[i % 3], "invalid name or secret");
    cr_assert(harness_wait_log(h, "refusing every login from the address "
                                  "of 127.0.0.1:", mpt_ms(MPT_MSG_MS)));
    cr_assert_not(harness_log_contains(h, "refusing logins as"));
    blocked_login(h, "bob", "hunter2");
    blocked_login(h, "alice", "s3cret");
    blocked_login(h, "dave", "anything");
    harness_stop(h);
}

/* limits.auth_throttle_exempt: guesses from there are never blocked. */
Test(auth, an_exempt_source_is_never_blocked)
{
    struct harness *h = start_throttled(
        "auth_failures_per_name_max = 2; auth_failures_max = 3;"
        " auth_block_s = 600;"
        " auth_throttle_exempt = [ \"10.0.0.0/8\", \"127.0.0.0/8\", \"::1\" ];");

    for (int i = 0; i < 10; i++)
        bad_login(h, i % 2 ? "alice" : "nobody", "invalid name or secret");
    rc_close(rc_login(h, 1, RC_BINARY, "alice", "s3cret"));
    cr_assert_not(harness_log_contains(h, "refusing"));
    harness_stop(h);
}

/* SIGHUP applies the throttle's settings to the failures counted so far:
 * a source made exempt gets in at once, and a lower ceiling blocks. */
Test(auth, throttle_settings_reload)
{
    struct harness *h = start_throttled(
        "auth_failures_per_name_max = 2; auth_block_s = 600;");
    char body[2048];
    size_t mark;

    for (int i = 0; i < 2; i++)
        bad_login(h, "alice", "invalid name or secret");
    blocked_login(h, "alice", "s3cret");

    snprintf(body, sizeof body,
             "%sauthenticators = ( { module = \"auth_passwd.so\";"
             " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
             "limits = { auth_failures_per_name_max = 2; auth_block_s = 600;"
             " auth_throttle_exempt = [ \"127.0.0.1\" ]; };\n",
             MPT_LISTEN_JSON_BINARY);
    mark = harness_log_mark(h);
    harness_write_config(h, body);
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "limits.auth_throttle_exempt: "
                                    "1 range", mpt_ms(MPT_MSG_MS)));
    rc_close(rc_login(h, 1, RC_BINARY, "alice", "s3cret"));

    /* No longer exempt, with a limit of one failure: the two failures
     * counted before the first reload still count (exempt peers are not
     * counted, but what was counted stays), so alice is blocked again. */
    snprintf(body, sizeof body,
             "%sauthenticators = ( { module = \"auth_passwd.so\";"
             " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
             "limits = { auth_failures_per_name_max = 1; auth_block_s = 600; };\n",
             MPT_LISTEN_JSON_BINARY);
    mark = harness_log_mark(h);
    harness_write_config(h, body);
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "auth_failures_per_name_max "
                                    "2 -> 1", mpt_ms(MPT_MSG_MS)));
    blocked_login(h, "alice", "s3cret");
    rc_close(rc_login(h, 1, RC_BINARY, "bob", "hunter2"));
    harness_stop(h);
}

/* Lines logged from `mark` until `until` (which must come), not counting
 * the line holding `until`. */
static size_t lines_before(struct harness *h, size_t mark, const char *until,
                           char **text)
{
    char *log;
    const char *p;
    size_t n = 0, line = 0;

    cr_assert(harness_wait_log_from(h, mark, until, mpt_ms(MPT_MSG_MS)),
              "no \"%s\" in the log", until);
    log = harness_log_text(h);
    for (p = log; *p != '\0' && line < mark; p++)
        line += *p == '\n';
    *text = strdup(p);
    for (; *p != '\0'; ) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *l = strndup(p, len);
        bool last = strstr(l, until) != NULL;
        bool tool = strncmp(l, "==", 2) == 0; /* valgrind's own lines */
        free(l);
        if (last)
            break;
        n += !tool;
        p += len + (end ? 1 : 0);
    }
    free(log);
    return n;
}

/* bob logs in and leaves; returns once his leaving is logged, so that
 * no line of his comes after the caller's next mark. */
static void bob_comes_and_goes(struct harness *h)
{
    size_t mark = harness_log_mark(h);

    rc_close(rc_login(h, 1, RC_BINARY, "bob", "hunter2"));
    cr_assert(harness_wait_log_from(h, mark, "client bob left",
                                    mpt_ms(MPT_MSG_MS)));
}

/* Issue 14: a bad login was two or three lines (the authenticator's, the
 * refusal, the close). It is one now, naming the name, the peer, the
 * reason and the authenticator that decided. */
Test(auth, one_bad_login_is_one_log_line)
{
    static const struct { const char *name, *by, *level; } cases[] = {
        /* A wrong secret. */
        { "alice", "by=auth_passwd", "notice: authentication failed for " },
        /* No such name: every authenticator deferred. */
        { "mallory", "by=none", "notice: authentication failed for " },
        /* alice's second failure: it starts her block, still one line. */
        { "alice", "block=name", "warning: authentication failed for alice; "
                                 "refusing logins as alice" },
    };
    struct harness *h = start_throttled(
        "auth_failures_per_name_max = 2; auth_failures_max = 100;");
    char *text;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t mark = harness_log_mark(h);
        bad_login(h, cases[i].name, "invalid name or secret");
        /* The next login's line closes the window. */
        bob_comes_and_goes(h);
        cr_assert_eq(lines_before(h, mark, "client bob logged in", &text), 1,
                     "a bad login logged other than one line:\n%s", text);
        cr_assert(strstr(text, cases[i].level) != NULL, "%s", text);
        cr_assert(strstr(text, "reason=\"invalid name or secret\"") != NULL,
                  "%s", text);
        cr_assert(strstr(text, "peer=127.0.0.1:") != NULL, "%s", text);
        cr_assert(strstr(text, cases[i].by) != NULL, "%s", text);
        free(text);
    }
    /* A login refused by the block is not logged at all. */
    size_t mark = harness_log_mark(h);
    blocked_login(h, "alice", "s3cret");
    bob_comes_and_goes(h);
    cr_assert_eq(lines_before(h, mark, "client bob logged in", &text), 0,
                 "a blocked login was logged:\n%s", text);
    free(text);
    harness_stop(h);
}

/* SIGHUP: auth_passwd reads its file again; a broken file changes nothing. */
Test(auth, passwd_file_reloaded_on_sighup)
{
    struct harness *h = start_passwd("");
    struct rc_client *alice = rc_login(h, 1, RC_BINARY, "alice", "s3cret");
    char *carol = harness_passwd_entry("carol", "new-secret");
    char text[1024];
    size_t mark;
    struct rc_client *c;

    /* A broken edit: the old users stay. */
    mark = harness_log_mark(h);
    harness_write_file(h, "mpbroker.passwd", "carol has no hash\n");
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "auth_passwd: reload failed",
                                    mpt_ms(MPT_MSG_MS)));
    c = rc_login(h, 1, RC_BINARY, "bob", "hunter2");
    rc_close(c);

    /* A good one: carol in, bob out; alice's session is not touched. */
    snprintf(text, sizeof text, "%s\n", carol);
    free(carol);
    mark = harness_log_mark(h);
    harness_write_file(h, "mpbroker.passwd", text);
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "notice: reload done",
                                    mpt_ms(MPT_MSG_MS)));
    struct rc_client *carol_c = rc_login(h, 1, RC_BINARY, "carol", "new-secret");
    c = rc_connect(h, 1, RC_BINARY);
    cr_assert(rc_send(c, RC_AUTH, "bob", "", rc_str("hunter2")));
    rc_expect_auth_failure(c, "invalid name or secret");
    rc_close(c);
    roundtrip(alice, carol_c, "alice:1");
    rc_close(alice);
    rc_close(carol_c);
    harness_stop(h);
}
