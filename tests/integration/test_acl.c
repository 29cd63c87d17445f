/*
 * test_acl.c - the acl authorizer (plugins/acl.c) in the real broker:
 * each rule form, first match wins, both defaults, what a refused Syn
 * looks like, and the errors of a bad rules file or bad options; then
 * authorization as a capability of its own: an authorizer anywhere in the
 * list, alone, and an authenticator built against the ABI-1 header of
 * 0.2.0 whose authorize_syn sits in its auth table (legacy_authz.so).
 *
 * The acl brokers list acl.so, auth_allow_all.so: acl takes no part in
 * logins, so auth_allow_all lets everyone in, and acl alone decides on
 * Syns.
 *
 * "The target never saw the refused Syn" is proven without waiting: once
 * the initiator has its UnknownProto, the broker has decided (authorize_syn
 * runs before any delivery), so a Syn that a `probe` client sends to the
 * target afterwards must be the target's next message. Every rules file
 * gets `allow probe -> * *` as its first line for that.
 */
#include "config.h"

#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(acl, .fini = harness_reap_all, .timeout = 60);

#define PROBE_RULE "allow probe -> * *\n"

/* `default` setting text: "" leaves the option out. */
#define DEFAULT_ALLOW "default = \"allow\"; "
#define DEFAULT_DENY "default = \"deny\"; "
#define DEFAULT_NONE ""

/* The acl entry of the authenticators list, its rules in DIR/acl.rules. */
#define ACL_ENTRY(options) \
    "{ module = \"acl.so\"; options = { rules = \"@DIR@/acl.rules\"; " \
    options "}; }"
#define ALLOW_ALL_ENTRY "{ module = \"auth_allow_all.so\"; }"

/* Boot h: listener 0 json, 1 binary; `entries` its authenticators. */
static struct harness *boot_with(struct harness *h, const char *entries)
{
    char body[2048];

    snprintf(body, sizeof body, "%sauthenticators = ( %s );\n",
             MPT_LISTEN_JSON_BINARY, entries);
    harness_boot(h, body);
    return h;
}

static void write_rules(struct harness *h, const char *rules)
{
    char text[4096];

    snprintf(text, sizeof text, "%s%s", PROBE_RULE, rules);
    harness_write_file(h, "acl.rules", text);
}

/* acl with `rules` then allow-all. */
static struct harness *start_acl(const char *rules, const char *default_opt)
{
    struct harness *h = harness_new();
    char entries[1024];

    write_rules(h, rules);
    snprintf(entries, sizeof entries, ACL_ENTRY("%s") ", " ALLOW_ALL_ENTRY,
             default_opt);
    return boot_with(h, entries);
}

/* Logged-in clients of one test, all on the same listener. */
struct cast {
    struct harness *h;
    struct rc_client *probe;
    int next_id;
};

static struct rc_client *login(struct cast *c, enum rc_format f,
                               const char *name)
{
    return rc_login_any(c->h, f == RC_JSON ? 0 : 1, f, name);
}

static void next_id(struct cast *c, const struct rc_client *from, char *id,
                    size_t len)
{
    snprintf(id, len, "%s:%d", rc_name(from), c->next_id++);
}

/* a opens a connection to b for proto: b gets the Syn. b refuses it so
 * that nothing is left open, and a must see that refusal come from b. */
static void expect_allowed(struct cast *c, struct rc_client *a,
                           struct rc_client *b, const char *proto)
{
    char id[300];

    next_id(c, a, id, sizeof id);
    cr_assert(rc_send(a, RC_SYN, rc_name(b), id, rc_str(proto)),
              "%s cannot send: %s", rc_name(a), rc_error(a));
    rc_expect(b, RC_SYN, rc_name(a), id, rc_str(proto));
    cr_assert(rc_send(b, RC_UNKNOWN_PROTO, rc_name(a), id, RC_NULL),
              "%s cannot send: %s", rc_name(b), rc_error(b));
    rc_expect(a, RC_UNKNOWN_PROTO, rc_name(b), id, RC_NULL);
}

/* a's Syn to b for proto is refused by the broker: UnknownProto (meta 3)
 * naming b, same connection id, no data; and b never sees the Syn (the
 * probe's Syn is b's next message). */
static void expect_denied(struct cast *c, struct rc_client *a,
                          struct rc_client *b, const char *proto)
{
    char id[300], probe_id[300];

    next_id(c, a, id, sizeof id);
    cr_assert(rc_send(a, RC_SYN, rc_name(b), id, rc_str(proto)),
              "%s cannot send: %s", rc_name(a), rc_error(a));
    rc_expect(a, RC_UNKNOWN_PROTO, rc_name(b), id, RC_NULL);
    next_id(c, c->probe, probe_id, sizeof probe_id);
    cr_assert(rc_send(c->probe, RC_SYN, rc_name(b), probe_id,
                      rc_str("probe")));
    rc_expect(b, RC_SYN, "probe", probe_id, rc_str("probe"));
    cr_assert(rc_send(b, RC_UNKNOWN_PROTO, "probe", probe_id, RC_NULL));
    rc_expect(c->probe, RC_UNKNOWN_PROTO, rc_name(b), probe_id, RC_NULL);
}

static struct cast cast_of(struct harness *h)
{
    struct cast c = { .h = h };

    c.probe = login(&c, RC_JSON, "probe");
    return c;
}

static struct cast cast_start(const char *rules, const char *default_opt)
{
    return cast_of(start_acl(rules, default_opt));
}

static void cast_stop(struct cast *c, struct rc_client **clients, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rc_close(clients[i]);
    rc_close(c->probe);
    harness_stop(c->h);
}

/* ---------------------------------------------------------------------- */
/* Rule forms */

static void exact_rule(enum rc_format f)
{
    struct cast c = cast_start("allow alice -> bob chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, f, "alice"), *bob = login(&c, f, "bob");
    struct rc_client *carol = login(&c, f, "carol");

    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "mail");   /* other protocol */
    expect_denied(&c, bob, alice, "chat");   /* other direction */
    expect_denied(&c, carol, bob, "chat");   /* other initiator */
    expect_denied(&c, alice, carol, "chat"); /* other target */
    cast_stop(&c, (struct rc_client *[]){ alice, bob, carol }, 3);
}

Test(acl, exact_names_json) { exact_rule(RC_JSON); }
Test(acl, exact_names_binary) { exact_rule(RC_BINARY); }

Test(acl, wildcard_from)
{
    struct cast c = cast_start("allow * -> bob chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    struct rc_client *carol = login(&c, RC_JSON, "carol");

    expect_allowed(&c, alice, bob, "chat");
    expect_allowed(&c, carol, bob, "chat");
    expect_denied(&c, alice, carol, "chat");
    expect_denied(&c, alice, bob, "mail");
    cast_stop(&c, (struct rc_client *[]){ alice, bob, carol }, 3);
}

Test(acl, wildcard_to)
{
    struct cast c = cast_start("allow alice -> * chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    struct rc_client *carol = login(&c, RC_JSON, "carol");

    expect_allowed(&c, alice, bob, "chat");
    expect_allowed(&c, alice, carol, "chat");
    expect_denied(&c, bob, carol, "chat");
    expect_denied(&c, alice, bob, "mail");
    cast_stop(&c, (struct rc_client *[]){ alice, bob, carol }, 3);
}

Test(acl, wildcard_protocol)
{
    struct cast c = cast_start("allow alice -> bob *\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    struct rc_client *carol = login(&c, RC_JSON, "carol");

    expect_allowed(&c, alice, bob, "chat");
    expect_allowed(&c, alice, bob, "mail");
    expect_allowed(&c, alice, bob, ""); /* even an empty protocol */
    expect_denied(&c, alice, carol, "chat");
    expect_denied(&c, bob, alice, "chat");
    cast_stop(&c, (struct rc_client *[]){ alice, bob, carol }, 3);
}

/* A protocol matches byte for byte: no prefix, no case folding. */
Test(acl, protocol_exact_bytes)
{
    struct cast c = cast_start("allow * -> * chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");

    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "cha");
    expect_denied(&c, alice, bob, "chat2");
    expect_denied(&c, alice, bob, "Chat");
    expect_denied(&c, alice, bob, "");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* A deny rule with every wildcard form, under a default of allow. */
Test(acl, deny_rule_default_allow)
{
    struct cast c = cast_start("# keep admin private\n"
                               "\n"
                               "deny * -> admin *\n"
                               "   deny\tbob -> * shell  \r\n",
                               DEFAULT_ALLOW);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    struct rc_client *admin = login(&c, RC_JSON, "admin");

    expect_denied(&c, alice, admin, "chat");
    expect_denied(&c, bob, admin, "mail");
    expect_denied(&c, bob, alice, "shell");
    expect_allowed(&c, bob, alice, "chat");
    expect_allowed(&c, alice, bob, "shell");
    expect_allowed(&c, admin, alice, "chat");
    cast_stop(&c, (struct rc_client *[]){ alice, bob, admin }, 3);
}

/* ---------------------------------------------------------------------- */
/* Order and defaults */

Test(acl, first_match_wins_deny_first)
{
    struct cast c = cast_start("deny alice -> bob chat\n"
                               "allow * -> * *\n",
                               DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");

    expect_denied(&c, alice, bob, "chat");
    expect_allowed(&c, alice, bob, "mail");
    expect_allowed(&c, bob, alice, "chat");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

Test(acl, first_match_wins_allow_first)
{
    struct cast c = cast_start("allow alice -> bob chat\n"
                               "deny * -> * *\n",
                               DEFAULT_ALLOW);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");

    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "mail");
    expect_denied(&c, bob, alice, "chat");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* No rule matches: the default decides. */
static void no_match(const char *default_opt, bool allowed)
{
    struct cast c = cast_start("allow carol -> dave chat\n", default_opt);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");

    if (allowed) {
        expect_allowed(&c, alice, bob, "chat");
        expect_allowed(&c, bob, alice, "mail");
    } else {
        expect_denied(&c, alice, bob, "chat");
        expect_denied(&c, bob, alice, "mail");
    }
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

Test(acl, default_allow) { no_match(DEFAULT_ALLOW, true); }
Test(acl, default_deny) { no_match(DEFAULT_DENY, false); }
/* Without the option the default is the safe one. */
Test(acl, default_is_deny) { no_match(DEFAULT_NONE, false); }

/* acl takes no part in logins: with it first, auth_allow_all still decides
 * them, and a login never depends on the rules. */
Test(acl, logins_deferred)
{
    struct cast c = cast_start("deny * -> * *\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_BINARY, "alice");

    cast_stop(&c, (struct rc_client *[]){ alice }, 1);
}

/* The refusal is logged by the plugin at notice, with escaped bytes. */
Test(acl, deny_logged)
{
    struct cast c = cast_start("", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    size_t mark = harness_log_mark(c.h);

    expect_denied(&c, alice, bob, "chat\nnotice: forged");
    cr_assert(harness_wait_log_from(
                  c.h, mark,
                  "notice: acl: denied: alice -> bob protocol "
                  "\"chat\\x0anotice: forged\"",
                  mpt_ms(MPT_MSG_MS)),
              "no notice from acl for the refused Syn");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* ---------------------------------------------------------------------- */
/* Errors: mpbroker -t with a bad rules file or bad options */

/* Run `mpbroker -t` on a config whose acl entry has `options` (rules text
 * in DIR/acl.rules unless NULL); return the result. */
static struct run_result check_config(struct harness *h, const char *rules,
                                      const char *options)
{
    char body[1024];
    const char *conf;
    struct run_result r;

    if (rules != NULL)
        harness_write_file(h, "acl.rules", rules);
    snprintf(body, sizeof body,
             "%sauthenticators = ( { module = \"acl.so\"; options = { %s }; },\n"
             "                   { module = \"auth_allow_all.so\"; } );\n",
             MPT_LISTEN_JSON_BINARY, options);
    conf = harness_write_config(h, body);
    const char *args[] = { "-t", "-c", conf, NULL };
    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), &r),
              "mpbroker -t did not run or timed out");
    return r;
}

#define RULES_OPT "rules = \"@DIR@/acl.rules\";"

/* -t fails (exit 1, no "configuration OK") with `needle` on stderr, where
 * "@RULES@" in needle stands for the rules file path. */
static void expect_error(const char *rules, const char *options,
                         const char *needle)
{
    struct harness *h = harness_new();
    struct run_result r = check_config(h, rules, options);
    char want[1024];
    const char *at = strstr(needle, "@RULES@");

    if (at != NULL)
        snprintf(want, sizeof want, "%.*s%s%s", (int)(at - needle), needle,
                 harness_path(h, "acl.rules"), at + strlen("@RULES@"));
    else
        snprintf(want, sizeof want, "%s", needle);
    cr_assert_eq(r.exit_code, 1, "exit %d, want 1; stderr:\n%s", r.exit_code,
                 r.err);
    cr_assert(strstr(r.out, "configuration OK") == NULL);
    cr_assert(strstr(r.err, want) != NULL, "no \"%s\" in stderr:\n%s", want,
              r.err);
    run_result_free(&r);
    harness_free(h);
}

/* The error tests' baseline: the same config with good rules passes. */
Test(acl, check_ok)
{
    struct harness *h = harness_new();
    struct run_result r = check_config(
        h, "# comment\n\nallow alice -> bob chat\nsee * -> bob\n"
           "hide\t* -> admin\r\ndeny * -> * *\n",
        RULES_OPT " default = \"allow\";");

    cr_assert_eq(r.exit_code, 0, "exit %d; stderr:\n%s", r.exit_code, r.err);
    cr_assert_str_eq(r.out, "configuration OK\n");
    run_result_free(&r);
    harness_free(h);
}

Test(acl, bad_action)
{
    expect_error("allow a -> b c\n\npermit a -> b c\n", RULES_OPT,
                 "acl: @RULES@:3: expected 'allow', 'deny', 'see' or 'hide' "
                 "first");
}

/* see/hide lines have no PROTOCOL: four fields exactly. */
Test(acl, see_with_a_protocol)
{
    expect_error("see a -> b chat\n", RULES_OPT,
                 "acl: @RULES@:1: expected 'see|hide FROM -> TO'");
}

Test(acl, hide_too_short)
{
    expect_error("hide a ->\n", RULES_OPT,
                 "acl: @RULES@:1: expected 'see|hide FROM -> TO'");
}

Test(acl, see_missing_arrow)
{
    expect_error("see a => b\n", RULES_OPT,
                 "acl: @RULES@:1: expected '->'");
}

Test(acl, see_bad_to_name)
{
    expect_error("hide a -> b:c\n", RULES_OPT,
                 "acl: @RULES@:1: TO: name contains ':'");
}

Test(acl, missing_arrow)
{
    expect_error("allow a => b c\n", RULES_OPT,
                 "acl: @RULES@:1: expected '->'");
}

/* An allow/deny line of four fields is not taken for a see line. */
Test(acl, too_few_fields)
{
    expect_error("# x\nallow a -> b\n", RULES_OPT,
                 "acl: @RULES@:2: expected 'allow|deny FROM -> TO PROTOCOL'");
}

Test(acl, too_many_fields)
{
    expect_error("allow a -> b c # trailing\n", RULES_OPT,
                 "acl: @RULES@:1: expected 'allow|deny FROM -> TO PROTOCOL'");
}

Test(acl, bad_from_name)
{
    expect_error("deny a:b -> b c\n", RULES_OPT,
                 "acl: @RULES@:1: FROM: name contains ':'");
}

Test(acl, bad_to_name)
{
    expect_error("deny a -> \xff\xfe c\n", RULES_OPT,
                 "acl: @RULES@:1: TO: name is not valid UTF-8");
}

Test(acl, missing_rules_file)
{
    expect_error(NULL, RULES_OPT, "acl: @RULES@: No such file or directory");
}

Test(acl, missing_rules_option)
{
    expect_error("", "default = \"deny\";", "acl: option 'rules' is required");
}

Test(acl, rules_not_a_string)
{
    expect_error("", "rules = 3;", "acl: option 'rules' must be a string");
}

Test(acl, bad_default)
{
    expect_error("", RULES_OPT " default = \"maybe\";",
                 "acl: option 'default' must be \"allow\" or \"deny\"");
}

Test(acl, unknown_option)
{
    expect_error("", RULES_OPT " defualt = \"allow\";", "defualt");
}

/* ---------------------------------------------------------------------- */
/* SIGHUP reloads the rules; a broken file keeps the old ones */

/* Replace the rules file and send SIGHUP; wait for the verdict's log line. */
static void reload_rules(struct cast *c, const char *rules, const char *want)
{
    char text[4096];
    size_t mark = harness_log_mark(c->h);

    snprintf(text, sizeof text, "%s%s", PROBE_RULE, rules);
    harness_write_file(c->h, "acl.rules", text);
    cr_assert(harness_signal(c->h, SIGHUP));
    cr_assert(harness_wait_log_from(c->h, mark, want, mpt_ms(MPT_MSG_MS)),
              "no \"%s\" after SIGHUP", want);
}

Test(acl, sighup_reloads_the_rules)
{
    struct cast c = cast_start("allow alice -> bob chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_BINARY, "alice");
    struct rc_client *bob = login(&c, RC_BINARY, "bob");

    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "mail");
    reload_rules(&c, "allow alice -> bob mail\n", "2 rules loaded from");
    cr_assert(harness_wait_log(c.h, "notice: reload done", mpt_ms(MPT_MSG_MS)));
    /* The new rules decide; logged-in clients stay logged in. */
    expect_allowed(&c, alice, bob, "mail");
    expect_denied(&c, alice, bob, "chat");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

Test(acl, sighup_with_a_broken_file_keeps_the_old_rules)
{
    struct cast c = cast_start("allow alice -> bob chat\n", DEFAULT_DENY);
    struct rc_client *alice = login(&c, RC_BINARY, "alice");
    struct rc_client *bob = login(&c, RC_BINARY, "bob");

    reload_rules(&c, "allow alice -> bob mail\npermit everyone\n",
                 "acl: reload failed, keeping the data loaded before: ");
    cr_assert(harness_log_contains(c.h, "acl.rules:3"),
              "the error does not name the file and line");
    cr_assert(harness_wait_log(c.h, "1 plugin kept their old data",
                               mpt_ms(MPT_MSG_MS)));
    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "mail");
    /* A fixed file is picked up by the next SIGHUP. */
    reload_rules(&c, "allow alice -> bob mail\n", "2 rules loaded from");
    expect_allowed(&c, alice, bob, "mail");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* ---------------------------------------------------------------------- */
/* Authorization as a capability of its own */

/* An authorizer is asked wherever it stands in the list: after the
 * authenticator that let the client in, too. */
Test(acl, authorizer_after_the_authenticator)
{
    struct harness *h = harness_new();
    struct cast c;
    struct rc_client *alice, *bob;

    write_rules(h, "allow alice -> bob chat\n");
    c = cast_of(boot_with(h, ALLOW_ALL_ENTRY ", " ACL_ENTRY("")));
    alice = login(&c, RC_JSON, "alice");
    bob = login(&c, RC_JSON, "bob");
    expect_allowed(&c, alice, bob, "chat");
    expect_denied(&c, alice, bob, "mail");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* acl alone: nothing decides logins. The broker says so at start, and
 * refuses logins as a chain of deferring authenticators does. */
Test(acl, authorizer_alone_lets_nobody_in)
{
    struct harness *h = harness_new();
    struct rc_client *alice;
    struct rc_msg reply;

    write_rules(h, "allow * -> * *\n");
    boot_with(h, ACL_ENTRY(""));
    cr_assert(harness_wait_log(h, "warning: authenticators: no plugin decides "
                                  "logins (acl only authorizes)",
                               mpt_ms(MPT_MSG_MS)));
    alice = rc_connect(h, 0, RC_JSON);
    cr_assert_eq(rc_auth(alice, "alice", "x", &reply), RC_OK);
    cr_expect_eq(reply.meta, RC_AUTH_FAILURE);
    rc_msg_free(&reply);
    rc_close(alice);
    harness_stop(h);
}

/* An authenticator built against the ABI-1 header of 0.2.0, its
 * authorize_syn in its auth table: it still loads, decides logins, and
 * is asked on Syns. */
Test(acl, legacy_authenticator_still_authorizes)
{
    struct cast c = cast_of(boot_with(harness_new(),
        "{ module = \"@TEST_PLUGIN_DIR@/legacy_authz.so\"; }"));
    struct rc_client *alice = login(&c, RC_BINARY, "alice");
    struct rc_client *bob = login(&c, RC_JSON, "bob");
    struct rc_client *mallory = rc_connect(c.h, 0, RC_JSON);
    struct rc_msg reply;

    expect_denied(&c, alice, bob, "forbidden");
    expect_allowed(&c, alice, bob, "chat");
    cr_assert_eq(rc_auth(mallory, "mallory", "x", &reply), RC_OK);
    cr_expect_eq(reply.meta, RC_AUTH_FAILURE);
    cr_expect(reply.has_data && strstr((char *)reply.data, "legacy says no"),
              "AuthFailure without the plugin's reason");
    rc_msg_free(&reply);
    rc_close(mallory);
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}

/* The same plugin declaring an ops table that ends before authorize_syn
 * (the slot past it would abort): the broker never asks it. */
Test(acl, ops_past_the_declared_size_are_not_called)
{
    struct cast c = cast_of(boot_with(harness_new(),
        "{ module = \"@TEST_PLUGIN_DIR@/legacy_authz_short.so\"; }"));
    struct rc_client *alice = login(&c, RC_JSON, "alice");
    struct rc_client *bob = login(&c, RC_BINARY, "bob");

    expect_allowed(&c, alice, bob, "forbidden");
    cast_stop(&c, (struct rc_client *[]){ alice, bob }, 2);
}
