/*
 * test_plugin_loader.c - the plugin loader alone, without a broker: the
 * ops tables it copies (full-size, NULL past what a plugin declares), the
 * authorizer kind, plugins built against the ABI-1 header of 0.2.0
 * (tests/plugins/legacy_authz.c), the services main lends the plugins,
 * the translator index and the plugins' timers.
 *
 * Needs MP_PLUGIN_BUILD_DIR and MP_TEST_PLUGIN_DIR (set by `make check`).
 */
#include "config.h"

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

static char dir[] = "/tmp/mp-test-loader-XXXXXX";
static char conf_path[sizeof dir + 32];
static char rules_path[sizeof dir + 32];
static struct broker_conf conf;
static struct plugin_set set;
static struct errors errs;
static struct event_base *base;

/* The services a test lends: recognizable, never called by the loader. */
static void fake_auth_done(struct mp_auth_ticket *ticket,
                           enum mp_auth_result result, const char *reason)
{
    (void)ticket;
    (void)result;
    (void)reason;
}

static int fake_run_blocking(struct mp_auth_ticket *ticket,
                             void (*work)(void *arg),
                             void (*done)(void *arg, int cancelled), void *arg)
{
    (void)ticket;
    (void)work;
    (void)done;
    (void)arg;
    return -1;
}

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

TestSuite(plugin_loader, .init = setup, .fini = teardown);

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    cr_assert(fp != NULL);
    fputs(text, fp);
    cr_assert(fclose(fp) == 0);
}

/* Load a config whose `authenticators` list is `entries` ("@T@" stands for
 * the test plugin directory) and `extra` (more settings); return what
 * plugins_load() returns. The config itself must be valid. */
static int load(const char *entries, const char *extra)
{
    const struct plugin_services services = {
        .base = base,
        .auth_done = fake_auth_done,
        .run_blocking = fake_run_blocking,
    };
    const char *tdir = getenv("MP_TEST_PLUGIN_DIR");
    char list[2048], text[4096];
    size_t o = 0;

    for (const char *p = entries; *p != '\0' && o < sizeof list - 1;) {
        if (strncmp(p, "@T@", 3) == 0) {
            o += (size_t)snprintf(list + o, sizeof list - o, "%s", tdir);
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
             "authenticators = ( %s );\n%s",
             getenv("MP_PLUGIN_BUILD_DIR"), list, extra);
    write_file(conf_path, text);
    cr_assert(conf_load(&conf, conf_path, getenv("MP_PLUGIN_BUILD_DIR"),
                        &errs) == 0,
              "config: %s", errs.count ? errs.lines[0] : "?");
    return plugins_load(&set, &conf, &services, &errs);
}

static void load_ok(const char *entries)
{
    cr_assert(load(entries, "") == 0, "plugins_load: %s",
              errs.count ? errs.lines[0] : "failed without an error");
}

/* Would a Syn from `from` to `to` for `protocol` be let through? */
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

/* ---------------------------------------------------------------------- */

Test(plugin_loader, translators_know_their_index)
{
    load_ok("{ module = \"auth_allow_all.so\"; }");
    cr_assert_eq(set.n_translators, 2); /* the defaults: json, binary */
    for (size_t i = 0; i < set.n_translators; i++) {
        const struct loaded_plugin *t = &set.translators[i];

        cr_expect_eq(t->translator_index, i);
        cr_expect(t->codec.decode != NULL && t->codec.encode != NULL);
        /* Both shipped formats have the fast lane, whole. */
        cr_expect(t->codec.decode_wire != NULL && t->codec.encode_wire != NULL,
                  "%s lost its fast lane", t->name);
        cr_expect_eq(plugins_translator(&set, t->name), t);
    }
}

/* The loader calls nothing of the login chain itself: what the plugins
 * get is what the caller lent. */
Test(plugin_loader, services_come_from_the_caller)
{
    load_ok("{ module = \"auth_allow_all.so\"; }");
    cr_assert_eq(set.n_authenticators, 1);
    cr_expect(set.authenticators[0].host.auth_done == fake_auth_done);
    cr_expect(set.authenticators[0].host.run_blocking == fake_run_blocking);
    cr_expect(set.translators[0].host.auth_done == fake_auth_done);
    cr_expect_eq(set.services.base, base);
    cr_expect_eq(set.authenticators[0].base, base);
}

/* acl.so authorizes and takes no part in logins; the authenticator next
 * to it does not authorize. */
Test(plugin_loader, acl_is_an_authorizer)
{
    const struct loaded_plugin *acl, *allow;

    write_file(rules_path, "allow alice -> bob chat\n");
    {
        char entries[512];

        snprintf(entries, sizeof entries,
                 "{ module = \"acl.so\"; options = { rules = \"%s\"; }; },"
                 "{ module = \"auth_allow_all.so\"; }",
                 rules_path);
        load_ok(entries);
    }
    cr_assert_eq(set.n_authenticators, 2);
    acl = &set.authenticators[0];
    allow = &set.authenticators[1];
    cr_expect_eq(acl->desc->kind, MP_PLUGIN_AUTHORIZER);
    cr_expect(acl->auth.authenticate == NULL, "acl is in the login chain");
    cr_expect(acl->authz.authorize_syn != NULL);
    cr_expect(allow->auth.authenticate != NULL);
    cr_expect(allow->authz.authorize_syn == NULL);
    cr_expect(syn("alice", "bob", "chat"));
    cr_expect(!syn("bob", "alice", "chat"));
    cr_expect(!syn("alice", "bob", "mail"));
}

/* Built against the ABI-1 header of 0.2.0: same ABI number, loaded, and
 * its authorize_syn (in its auth table) is asked, from the authz table. */
Test(plugin_loader, legacy_authenticator_still_authorizes)
{
    const struct loaded_plugin *p;

    load_ok("{ module = \"@T@/legacy_authz.so\"; }");
    p = &set.authenticators[0];
    cr_expect_str_eq(p->name, "legacy_authz");
    cr_expect(p->auth.authenticate != NULL);
    cr_expect(p->authz.authorize_syn != NULL);
    cr_expect(p->auth.authorize_syn == NULL,
              "the hook is in two tables: callers could ask it twice");
    cr_expect(!syn("alice", "bob", "forbidden"));
    cr_expect(syn("alice", "bob", "chat"));
}

/* An ops table whose size stops before authorize_syn: the slot past it
 * holds a function that aborts, and reads as absent. */
Test(plugin_loader, ops_read_only_up_to_the_declared_size)
{
    const struct loaded_plugin *p;

    load_ok("{ module = \"@T@/legacy_authz_short.so\"; }");
    p = &set.authenticators[0];
    cr_expect(p->auth.authenticate != NULL);
    cr_expect(p->auth.authorize_syn == NULL);
    cr_expect(p->authz.authorize_syn == NULL);
    cr_expect(syn("alice", "bob", "forbidden"));
}

/* An authorizer is no wire format. */
Test(plugin_loader, authorizer_is_not_a_translator)
{
    cr_expect(load("{ module = \"auth_allow_all.so\"; }",
                   "translators = ( { name = \"json\"; "
                   "module = \"translator_json.so\"; },\n"
                   "  { name = \"acl\"; module = \"acl.so\"; } );\n") != 0);
    cr_assert(errs.count >= 1);
    cr_expect(strstr(errs.lines[0], "\"acl.so\" is not a translator plugin"),
              "%s", errs.lines[0]);
}

/* ---------------------------------------------------------------------- */
/* Timers: a list per plugin, unlinked when one fires or is cancelled,
 * emptied at unload (ASan and valgrind see a leak otherwise). */

static void count_fired(void *arg)
{
    ++*(int *)arg;
}

Test(plugin_loader, timers_fire_cancel_and_unload)
{
    struct loaded_plugin *p;
    struct mp_timer *a, *b, *c;
    int fired = 0, late = 0;

    load_ok("{ module = \"auth_allow_all.so\"; }");
    p = &set.authenticators[0];
    a = p->host.timer_start(&p->host, 0, count_fired, &fired);
    b = p->host.timer_start(&p->host, 0, count_fired, &fired);
    c = p->host.timer_start(&p->host, 0, count_fired, &fired);
    cr_assert(a != NULL && b != NULL && c != NULL);
    p->host.timer_cancel(b);
    /* Returns once no timer is left (1: nothing pending). */
    cr_assert_neq(event_base_dispatch(base), -1);
    cr_expect_eq(fired, 2, "%d timers fired, want 2 (one cancelled)", fired);
    cr_expect(LIST_EMPTY(&p->timers));
    /* Left running: unloading frees it without calling it. */
    cr_assert(p->host.timer_start(&p->host, 60000, count_fired, &late));
    cr_expect(!LIST_EMPTY(&p->timers));
    plugins_unload(&set);
    cr_expect_eq(late, 0);
}
