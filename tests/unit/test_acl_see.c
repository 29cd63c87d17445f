/*
 * test_acl_see.c - the acl plugin's answer to authorize_see() (plugins/
 * acl.c), through the broker's plugin loader (plugins_authorize_see(), as
 * presence asks it): see/hide rules, first match wins, and, when none
 * matches, the default derived from the allow/deny rules ("a client sees
 * exactly the names it could open a connection to"), one test per case
 * of that derivation; then SIGHUP reloads, and what the loader does for
 * a set without an authorizer or with one built before authorize_see.
 *
 * Each derivation case is also checked against authorize_syn on the
 * protocols the rules name and one they do not (see_by_syn()), so a
 * test states the expected answer and proves it from the Syn verdicts.
 *
 * Needs MP_PLUGIN_BUILD_DIR and MP_TEST_PLUGIN_DIR (set by `make check`).
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "conf.h"
#include "errors.h"
#include "log.h"
#include "plugin_loader.h"

static char dir[] = "/tmp/mp-test-acl-see-XXXXXX";
static char conf_path[sizeof dir + 32];
static char rules_path[sizeof dir + 32];
static struct broker_conf conf;
static struct plugin_set set;
static struct errors errs;
static struct event_base *base;

static void setup(void)
{
    cr_assert(getenv("MP_PLUGIN_BUILD_DIR") && getenv("MP_TEST_PLUGIN_DIR"),
              "run through make check");
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(conf_path, sizeof conf_path, "%s/mpbroker.conf", dir);
    snprintf(rules_path, sizeof rules_path, "%s/acl.rules", dir);
    mp_log_set_level(MP_LOG_ERROR);
    base = event_base_new();
    cr_assert(base != NULL);
    errors_init(&errs);
}

static void teardown(void)
{
    plugins_unload(&set);
    conf_free(&conf);
    errors_free(&errs);
    event_base_free(base);
    unlink(conf_path);
    unlink(rules_path);
    rmdir(dir);
}

TestSuite(acl_see, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert(fp != NULL);
    fputs(text, fp);
    cr_assert(fclose(fp) == 0);
}

/* Load a config whose authenticators are `entries` ("@T@": the test
 * plugin directory, "@R@": the rules file). */
static void load(const char *entries)
{
    const struct plugin_services services = { .base = base };
    char list[2048], text[4096];
    size_t o = 0;

    for (const char *p = entries; *p != '\0' && o < sizeof list - 1;) {
        const char *with = strncmp(p, "@T@", 3) == 0
                               ? getenv("MP_TEST_PLUGIN_DIR")
                           : strncmp(p, "@R@", 3) == 0 ? rules_path
                                                       : NULL;

        if (with != NULL) {
            o += (size_t)snprintf(list + o, sizeof list - o, "%s", with);
            p += 3;
        } else {
            list[o++] = *p++;
        }
    }
    list[o] = '\0';
    snprintf(text, sizeof text,
             "plugin_dir = \"%s\";\n"
             "listeners = ( { address = \"127.0.0.1\"; port = 0; "
             "translator = \"json\"; } );\n"
             "authenticators = ( %s );\n",
             getenv("MP_PLUGIN_BUILD_DIR"), list);
    write_file(conf_path, text);
    cr_assert(conf_load(&conf, conf_path, getenv("MP_PLUGIN_BUILD_DIR"),
                        &errs) == 0,
              "config: %s", errs.count ? errs.lines[0] : "?");
    cr_assert(plugins_load(&set, &conf, &services, &errs) == 0,
              "plugins_load: %s", errs.count ? errs.lines[0] : "?");
}

/* acl with `rules` and `default` ("allow", "deny"), then allow-all. */
static void load_acl(const char *rules, const char *fallback)
{
    char entries[512];

    write_file(rules_path, rules);
    snprintf(entries, sizeof entries,
             "{ module = \"acl.so\"; options = { rules = \"@R@\"; "
             "default = \"%s\"; }; },"
             "{ module = \"auth_allow_all.so\"; }",
             fallback);
    load(entries);
}

static bool see(const char *client, const char *name)
{
    return plugins_authorize_see(&set, client, name);
}

static bool syn(const char *from, const char *to, const char *protocol)
{
    struct mp_message msg = {
        .meta = MP_META_CONN_SYN,
        .other_client_len = (uint8_t)strlen(to),
        .data = (unsigned char *)protocol,
        .data_len = strlen(protocol),
        .has_data = true,
    };

    memcpy(msg.other_client, to, msg.other_client_len + 1);
    return plugins_authorize_syn(&set, from, &msg);
}

/* The default's meaning, by brute force: some protocol among those the
 * tests' rules name (chat, mail, echo) and one that none names. */
static bool see_by_syn(const char *client, const char *name)
{
    static const char *const protocols[] = { "chat", "mail", "echo",
                                             "unnamed" };

    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
        if (syn(client, name, protocols[i]))
            return true;
    }
    return false;
}

/* authorize_see answers `want` for client -> name, and so do the Syn
 * verdicts (only where no see/hide rule applies). */
static void expect_see(const char *client, const char *name, bool want)
{
    cr_expect_eq(see(client, name), want, "%s %s %s", client,
                 want ? "should see" : "should not see", name);
    cr_expect_eq(see_by_syn(client, name), want,
                 "the Syn verdicts say %s %s %s", client,
                 want ? "cannot open" : "can open", name);
}

/* ---------------------------------------------------------------------- */
/* The default, derived from allow/deny: one case of the derivation each */

Test(acl_see, acl_has_the_hook)
{
    load_acl("", "deny");
    cr_expect(set.authenticators[0].authz.authorize_see != NULL);
}

/* No rule for the pair: the default option decides for every protocol. */
Test(acl_see, no_rule_default_deny)
{
    load_acl("allow carol -> dave chat\n", "deny");
    expect_see("alice", "bob", false);
    expect_see("carol", "dave", true);
}

Test(acl_see, no_rule_default_allow)
{
    load_acl("deny carol -> dave *\n", "allow");
    expect_see("alice", "bob", true);
    expect_see("carol", "dave", false);
}

/* allow with `*`: yes, whatever denies of single protocols precede it. */
Test(acl_see, allow_any_protocol)
{
    load_acl("deny alice -> bob chat\n"
             "deny alice -> bob mail\n"
             "allow alice -> bob *\n",
             "deny");
    expect_see("alice", "bob", true);
}

/* allow for one protocol: yes, and only in the rule's direction. */
Test(acl_see, allow_one_protocol)
{
    load_acl("allow alice -> bob chat\n", "deny");
    expect_see("alice", "bob", true);
    expect_see("bob", "alice", false);
    expect_see("carol", "bob", false);
}

/* allow for P after a deny of P for the pair: shadowed, so the walk goes
 * on (to the default here). */
Test(acl_see, allow_shadowed_by_earlier_deny)
{
    load_acl("deny alice -> bob chat\n"
             "allow alice -> bob chat\n",
             "deny");
    expect_see("alice", "bob", false);
}

Test(acl_see, shadowed_allow_then_default_allow)
{
    load_acl("deny alice -> bob chat\n"
             "allow alice -> bob chat\n",
             "allow");
    expect_see("alice", "bob", true); /* mail falls to the default */
}

/* A deny of P shadows only the allows of P: another protocol still
 * counts, and so does an allow of P for another pair. */
Test(acl_see, shadow_is_per_protocol_and_pair)
{
    load_acl("deny alice -> bob chat\n"
             "deny * -> carol chat\n"
             "allow alice -> bob chat\n"
             "allow alice -> bob mail\n"
             "allow * -> dave chat\n"
             "allow bob -> carol chat\n",
             "deny");
    expect_see("alice", "bob", true);   /* mail */
    expect_see("alice", "dave", true);  /* nothing denies chat to dave */
    expect_see("bob", "carol", false);  /* deny * -> carol chat first */
    expect_see("bob", "dave", true);
}

/* A wildcard deny of P shadows a later exact allow of P. */
Test(acl_see, wildcard_deny_shadows)
{
    load_acl("deny * -> * chat\n"
             "allow alice -> bob chat\n",
             "deny");
    expect_see("alice", "bob", false);
}

/* A deny of P for another pair does not shadow. */
Test(acl_see, deny_of_another_pair_does_not_shadow)
{
    load_acl("deny carol -> bob chat\n"
             "allow * -> bob chat\n",
             "deny");
    expect_see("alice", "bob", true);
    expect_see("carol", "bob", false);
}

/* deny with `*` before any allow for the pair: no, whatever follows and
 * whatever the default. */
Test(acl_see, deny_any_protocol_first)
{
    load_acl("deny alice -> bob *\n"
             "allow alice -> bob chat\n"
             "allow * -> * *\n",
             "allow");
    expect_see("alice", "bob", false);
    expect_see("bob", "alice", true);
}

/* deny with `*` after an allow of the pair: the allow answered first. */
Test(acl_see, deny_any_protocol_after_allow)
{
    load_acl("allow alice -> bob chat\n"
             "deny * -> * *\n",
             "allow");
    expect_see("alice", "bob", true);
    expect_see("bob", "alice", false);
}

/* Denies of single protocols only: the default decides for the rest. */
Test(acl_see, only_single_denies)
{
    load_acl("deny alice -> bob chat\n"
             "deny alice -> bob mail\n",
             "allow");
    expect_see("alice", "bob", true);
    plugins_unload(&set);
    conf_free(&conf);
    load_acl("deny alice -> bob chat\n", "deny");
    expect_see("alice", "bob", false);
}

/* A shadow chain of several denies of the same protocol, other
 * protocols between them. */
Test(acl_see, long_shadow_chain)
{
    load_acl("deny carol -> bob chat\n"
             "deny alice -> bob mail\n"
             "deny alice -> * chat\n"
             "deny dave -> bob chat\n"
             "allow alice -> bob chat\n"
             "allow alice -> bob mail\n"
             "allow dave -> bob mail\n",
             "deny");
    expect_see("alice", "bob", false);
    expect_see("dave", "bob", true);
    expect_see("carol", "bob", false);
}

/* ---------------------------------------------------------------------- */
/* see and hide rules */

/* hide overrides what the allow/deny rules would let through. */
Test(acl_see, hide_overrides_the_default)
{
    load_acl("hide * -> admin\n"
             "allow * -> * *\n",
             "allow");
    cr_expect(syn("alice", "admin", "chat"));
    cr_expect_not(see("alice", "admin"));
    cr_expect(see("alice", "bob"));
}

/* see shows a name the client could not open. */
Test(acl_see, see_overrides_the_default)
{
    load_acl("see monitor -> *\n"
             "deny * -> * *\n",
             "deny");
    cr_expect_not(syn("monitor", "bob", "chat"));
    cr_expect(see("monitor", "bob"));
    cr_expect_not(see("bob", "monitor"));
}

/* The first see/hide line that matches decides, wherever the allow/deny
 * lines stand. */
Test(acl_see, first_see_or_hide_wins)
{
    load_acl("allow * -> * *\n"
             "see alice -> admin\n"
             "hide * -> admin\n"
             "see * -> admin\n"
             "hide bob -> *\n"
             "see bob -> carol\n",
             "allow");
    cr_expect(see("alice", "admin"));
    cr_expect_not(see("bob", "admin"));
    cr_expect_not(see("carol", "admin"));
    cr_expect_not(see("bob", "carol"));  /* hide bob -> * came first */
    cr_expect(see("carol", "bob"));      /* no see/hide: allow * -> * * */
}

/* see/hide lines answer only authorize_see: Syns are unchanged. */
Test(acl_see, see_rules_do_not_touch_syns)
{
    load_acl("see alice -> bob\n"
             "hide carol -> bob\n"
             "allow carol -> bob chat\n",
             "deny");
    cr_expect_not(syn("alice", "bob", "chat"));
    cr_expect(syn("carol", "bob", "chat"));
    cr_expect(see("alice", "bob"));
    cr_expect_not(see("carol", "bob"));
}

/* ---------------------------------------------------------------------- */
/* SIGHUP */

Test(acl_see, reload_replaces_see_rules)
{
    load_acl("hide alice -> bob\n"
             "allow * -> * *\n",
             "deny");
    cr_expect_not(see("alice", "bob"));
    write_file(rules_path, "see alice -> carol\n");
    cr_expect_eq(plugins_reload(&set), 0);
    cr_expect_not(see("alice", "bob")); /* the default deny, now */
    cr_expect(see("alice", "carol"));
    write_file(rules_path, "allow alice -> bob chat\n");
    cr_expect_eq(plugins_reload(&set), 0);
    cr_expect(see("alice", "bob"));
    cr_expect_not(see("alice", "carol"));
}

/* A broken file keeps the old rules, see/hide included. */
Test(acl_see, broken_reload_keeps_see_rules)
{
    load_acl("see alice -> bob\n", "deny");
    write_file(rules_path, "hide alice -> bob\nsee alice -> bob chat\n");
    cr_expect_eq(plugins_reload(&set), 1);
    cr_expect(see("alice", "bob"));
}

/* ---------------------------------------------------------------------- */
/* The loader's side */

/* No authorizer: every name is visible. */
Test(acl_see, no_authorizer_sees_all)
{
    load("{ module = \"auth_allow_all.so\"; }");
    cr_expect(see("alice", "bob"));
}

/* An authorizer built before authorize_see fails closed: it hides every
 * name, even those it lets a Syn reach. */
Test(acl_see, authorizer_without_the_hook_hides)
{
    load("{ module = \"@T@/legacy_authz.so\"; }");
    cr_expect(syn("alice", "bob", "chat"));
    cr_expect_not(see("alice", "bob"));
}

/* Every authorizer must let a name be seen: acl's see does not overrule
 * another plugin's hiding. */
Test(acl_see, one_hiding_plugin_is_enough)
{
    write_file(rules_path, "see * -> *\n");
    load("{ module = \"acl.so\"; options = { rules = \"@R@\"; }; },"
         "{ module = \"@T@/legacy_authz.so\"; }");
    cr_expect_not(see("alice", "bob"));
}
