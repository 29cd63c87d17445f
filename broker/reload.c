/* reload.c - SIGHUP: the config file again (see reload.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth_chain.h"
#include "auth_throttle.h"
#include "broker.h"
#include "http_server.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "reload.h"
#include "session.h"
#include "xalloc.h"
#include "work_pool.h"

/* What the new config needs before anything changes. */
struct reload_plan {
    struct broker_conf conf;
    struct plugin_set auth;          /* the new authenticators only */
    struct listener **kept;          /* per conf.listeners[i]: the running
                                        listener it describes, or NULL */
    struct listener **added;         /* bound, not linked yet */
    size_t n_added;
    bool metrics_moved;              /* the metrics listener moves */
    struct http_server *metrics;     /* ... bound there, not serving yet
                                        (NULL: none any more) */
};

static bool same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The setting `name` of the new file (or its root): where to point. */
static const config_setting_t *at(const struct broker_conf *conf,
                                  const char *name)
{
    return conf_member_or_group(config_root_setting(&conf->tree), name);
}

/* Settings a running broker cannot take: a restart is needed. */
static void check_fixed(const struct broker_conf *old,
                        const struct broker_conf *new, struct errors *errs)
{
    bool same = old->n_translators == new->n_translators;

    for (size_t i = 0; same && i < new->n_translators; i++)
        same = same_string(old->translators[i].name,
                           new->translators[i].name) &&
               same_string(old->translators[i].module,
                           new->translators[i].module);
    if (!same)
        conf_setting_error(errs, at(new, "translators"), "changing the wire "
                           "formats needs a restart (sessions hold their "
                           "state)");
    conf_check_restart(old, new, errs);
}

static bool is_kept(const struct reload_plan *p, const struct listener *l)
{
    for (size_t i = 0; i < p->conf.n_listeners; i++) {
        if (p->kept[i] == l)
            return true;
    }
    return false;
}

/* Pair each configured listener with a running one it describes, each
 * running one used once; bind the listeners left over. */
static int plan_listeners(struct broker *b, struct reload_plan *p,
                          struct errors *errs)
{
    size_t n = p->conf.n_listeners ? p->conf.n_listeners : 1;
    int rc = 0;

    p->kept = calloc(n, sizeof *p->kept);
    p->added = calloc(n, sizeof *p->added);
    if (p->kept == NULL || p->added == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->conf.n_listeners; i++) {
        for (struct listener *l = b->listeners; l != NULL; l = l->next) {
            if (listener_is(l, &p->conf.listeners[i]) && !is_kept(p, l)) {
                p->kept[i] = l;
                break;
            }
        }
    }
    for (size_t i = 0; i < p->conf.n_listeners; i++) {
        struct listener *l;
        if (p->kept[i] != NULL)
            continue;
        l = listener_open(b, &p->conf.listeners[i], errs);
        if (l == NULL)
            rc = -1;
        else
            p->added[p->n_added++] = l;
    }
    return rc;
}

static void abandon(struct reload_plan *p)
{
    for (size_t i = 0; i < p->n_added; i++)
        listener_discard(p->added[i]);
    http_server_free(p->metrics);
    free(p->added);
    free(p->kept);
    plugins_unload_authenticators(&p->auth);
    conf_free(&p->conf);
}

/* ------------------------------------------------------------------------
 * Applying
 */

/* Swap in the new chain; logins waiting on an old authenticator are asked
 * again, from the first authenticator of the new chain. */
static void swap_authenticators(struct broker *b, struct plugin_set *fresh)
{
    struct waiting_login {
        struct session *session;
        unsigned char *secret;
        size_t len;
    } *waiting = NULL;
    size_t n = 0, cap = 0;
    struct session *s;

    TAILQ_FOREACH(s, &b->sessions, entry) {
        if (s->auth == NULL)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            waiting = mp_xreallocarray(waiting, cap, sizeof *waiting);
        }
        /* It fails only when memory is exhausted, having cancelled
         * the login: the client's auth timeout ends it. */
        if (auth_chain_suspend(s, &waiting[n].secret, &waiting[n].len) == 0)
            waiting[n++].session = s;
    }
    /* The old plugins' jobs (all cancelled now) call into their code:
     * finish them before it is unloaded. */
    work_pool_drain(b->work_pool);
    plugins_unload_authenticators(&b->plugins);
    b->plugins.authenticators = fresh->authenticators;
    b->plugins.n_authenticators = fresh->n_authenticators;
    fresh->authenticators = NULL;
    fresh->n_authenticators = 0;
    for (size_t i = 0; i < n; i++) {
        auth_chain_start(waiting[i].session, waiting[i].secret,
                         waiting[i].len);
        if (waiting[i].secret != NULL) {
            explicit_bzero(waiting[i].secret, waiting[i].len);
            free(waiting[i].secret);
        }
    }
    free(waiting);
}

/* Listeners: update the kept ones (a kept TLS listener whose certificates
 * cannot be read keeps the old ones), retire the ones no longer named,
 * link the new ones. */
static void apply_listeners(struct broker *b, struct reload_plan *p)
{
    struct listener *l, *next;

    for (size_t i = 0; i < p->conf.n_listeners; i++) {
        struct errors errs;
        if (p->kept[i] == NULL)
            continue;
        errors_init(&errs);
        if (listener_update(p->kept[i], &p->conf.listeners[i], &errs) != 0)
            for (size_t e = 0; e < errs.count; e++)
                log_error("%s (keeping the old certificates of %s)",
                          errs.lines[e], p->kept[i]->label);
        errors_free(&errs);
    }
    for (l = b->listeners; l != NULL; l = next) {
        next = l->next;
        if (!l->retired && !is_kept(p, l))
            listener_retire(l);
    }
    for (size_t i = 0; i < p->n_added; i++)
        listener_link(b, p->added[i]);
    free(p->added);
    free(p->kept);
    p->added = NULL;
    p->kept = NULL;
    p->n_added = 0;
}

/* Output watermarks are per bufferevent: new limits reach the sessions
 * already there. */
static void apply_limits(struct broker *b)
{
    struct auth_throttle_limits throttle;
    struct session *s;

    TAILQ_FOREACH(s, &b->sessions, entry)
        session_apply_limits(s, &b->conf);
    conf_throttle_limits(&b->conf, &throttle);
    auth_throttle_configure(b->auth_throttle, &throttle);
    work_pool_configure(b->work_pool, b->conf.auth_queue_max,
                        b->conf.auth_queue_per_source);
}

static void apply_log(const struct broker_conf *old,
                      const struct broker_conf *new)
{
    mp_log_set_level(new->log_level);
    if (new->log_syslog && (!old->log_syslog ||
                            old->log_facility != new->log_facility)) {
        log_notice("logging to syslog from now on");
        mp_log_to_stderr();
        mp_log_to_syslog(new->log_facility);
    } else if (!new->log_syslog && old->log_syslog) {
        mp_log_to_stderr();
        log_notice("logging to stderr from now on");
    }
}

/* ------------------------------------------------------------------------
 * What changed, for the log
 */

struct change_log {
    char text[768];
    size_t len;
};

static void changed(struct change_log *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void changed(struct change_log *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->len >= sizeof c->text - 1)
        return;
    if (c->len > 0)
        c->text[c->len++] = ';', c->text[c->len++] = ' ';
    va_start(ap, fmt);
    n = vsnprintf(c->text + c->len, sizeof c->text - c->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->len += (size_t)n < sizeof c->text - c->len ? (size_t)n
                                                       : sizeof c->text - c->len - 1;
}

static void setting_changed(const char *text, void *arg)
{
    changed(arg, "%s", text);
}

static void describe(const struct broker_conf *old,
                     const struct broker_conf *new, size_t added,
                     size_t removed, struct change_log *c)
{
    changed(c, "%zu authenticator%s re-initialized", new->n_authenticators,
            new->n_authenticators == 1 ? "" : "s");
    if (added > 0)
        changed(c, "%zu listener%s added", added, added == 1 ? "" : "s");
    if (removed > 0)
        changed(c, "%zu listener%s removed", removed, removed == 1 ? "" : "s");
    conf_each_change(old, new, setting_changed, c);
}

static size_t count_removed(struct broker *b, const struct reload_plan *p)
{
    size_t removed = 0;

    for (struct listener *l = b->listeners; l != NULL; l = l->next)
        removed += !l->retired && !is_kept(p, l);
    return removed;
}

/* ------------------------------------------------------------------------
 * The reload
 */

static int prepare(struct broker *b, struct reload_plan *p,
                   struct errors *errs)
{
    int rc;

    if (conf_load(&p->conf, b->conf.file, b->default_plugin_dir, errs) != 0)
        return -1;
    check_fixed(&b->conf, &p->conf, errs);
    if (errors_any(errs))
        return -1;
    if (plugins_load_authenticators(&p->auth, &p->conf, b->base, errs) != 0)
        return -1;
    /* Every new socket is bound before anything changes: a port in use
     * fails the reload (both errors reported) and keeps the old config. */
    rc = plan_listeners(b, p, errs);
    p->metrics_moved = metrics_moves(&b->conf, &p->conf);
    if (p->metrics_moved &&
        metrics_prepare(b, &p->conf, &p->metrics, errs) != 0)
        rc = -1;
    return rc;
}

int broker_reload(struct broker *b)
{
    struct reload_plan plan;
    struct broker_conf old;
    struct change_log log = {.len = 0};
    struct errors errs;
    size_t removed;

    memset(&plan, 0, sizeof plan);
    errors_init(&errs);
    if (prepare(b, &plan, &errs) != 0 || errors_any(&errs)) {
        for (size_t i = 0; i < errs.count; i++)
            log_error("%s", errs.lines[i]);
        log_error("reload failed: still running on the configuration "
                  "loaded before");
        abandon(&plan);
        errors_free(&errs);
        return -1;
    }
    errors_free(&errs);

    removed = count_removed(b, &plan);
    describe(&b->conf, &plan.conf, plan.n_added, removed, &log);
    swap_authenticators(b, &plan.auth);
    apply_listeners(b, &plan);
    apply_log(&b->conf, &plan.conf);
    old = b->conf;
    b->conf = plan.conf;
    conf_free(&old);
    apply_limits(b);
    if (plan.metrics_moved)
        metrics_replace(b, plan.metrics);
    else
        metrics_update(b);
    log_notice("configuration reloaded: %s", log.text);
    return 0;
}
