/* plugin_loader.c - dlopen, ABI check, ops tables, init and the host side
 * of mp_host (see plugin_loader.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "plugin_loader.h"
#include "plugin_options.h"

/* ------------------------------------------------------------------------
 * Host functions
 */

static struct loaded_plugin *plugin_of(const struct mp_host *host)
{
    /* host is the first member of struct loaded_plugin. */
    return (struct loaded_plugin *)(void *)host;
}

static void host_log(const struct mp_host *host, enum mp_log_level level,
                     const char *fmt, ...)
{
    char line[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mp_log(level, "%s: %s", plugin_of(host)->desc->name, line);
}

struct mp_timer {
    struct event *ev;
    void (*cb)(void *arg);
    void *arg;
    LIST_ENTRY(mp_timer) link; /* in the owner's `timers` */
    bool firing;
};

static void timer_destroy(struct mp_timer *t)
{
    LIST_REMOVE(t, link);
    event_free(t->ev);
    free(t);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    struct mp_timer *t = arg;

    (void)fd;
    (void)what;
    t->firing = true;
    t->cb(t->arg);
    timer_destroy(t);
}

static struct mp_timer *host_timer_start(const struct mp_host *host,
                                         unsigned ms, void (*cb)(void *arg),
                                         void *arg)
{
    struct loaded_plugin *p = plugin_of(host);
    struct mp_timer *t = calloc(1, sizeof *t);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (t == NULL || cb == NULL)
        goto fail;
    t->ev = evtimer_new(p->base, timer_fired, t);
    if (t->ev == NULL || evtimer_add(t->ev, &tv) != 0)
        goto fail;
    t->cb = cb;
    t->arg = arg;
    LIST_INSERT_HEAD(&p->timers, t, link);
    return t;
fail:
    if (t != NULL && t->ev != NULL)
        event_free(t->ev);
    free(t);
    return NULL;
}

static void host_timer_cancel(struct mp_timer *t)
{
    /* Cancelling from inside its own callback is a no-op: it is freed
     * when the callback returns. */
    if (t == NULL || t->firing)
        return;
    timer_destroy(t);
}

static void host_init(struct loaded_plugin *p,
                      const struct plugin_services *services)
{
    memset(&p->host, 0, sizeof p->host);
    p->host.abi = MP_PLUGIN_ABI;
    p->host.size = sizeof p->host;
    p->host.log = host_log;
    p->host.option_string = plugin_option_string;
    p->host.option_int = plugin_option_int;
    p->host.option_bool = plugin_option_bool;
    p->host.auth_done = services->auth_done;
    p->host.timer_start = host_timer_start;
    p->host.timer_cancel = host_timer_cancel;
    p->host.run_blocking = services->run_blocking;
    p->base = services->base;
    LIST_INIT(&p->timers);
}

/* ------------------------------------------------------------------------
 * Loading
 */

static const config_setting_t *module_setting(const struct plugin_conf *pc)
{
    return conf_member_or_group(pc->entry, "module");
}

static bool reserved_empty(void *const *reserved, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (reserved[i] != NULL)
            return false;
    }
    return true;
}

/* May a plugin of `kind` appear in the config list that loads `list`?
 * Authorizers share the authenticators' list (see mp/plugin.h). */
static bool kind_fits(enum mp_plugin_kind kind, enum mp_plugin_kind list)
{
    if (list == MP_PLUGIN_TRANSLATOR)
        return kind == MP_PLUGIN_TRANSLATOR;
    return kind == MP_PLUGIN_AUTHENTICATOR || kind == MP_PLUGIN_AUTHORIZER;
}

/* Is the descriptor one this broker can load from the list of `list`? */
static const char *descriptor_problem(const struct mp_plugin *d,
                                      enum mp_plugin_kind list)
{
    if (!kind_fits(d->kind, list))
        return list == MP_PLUGIN_TRANSLATOR ? "is not a translator plugin"
                                            : "is not an authenticator plugin";
    if (d->name == NULL || d->version == NULL)
        return "has no name or version";
    if (!reserved_empty(d->reserved, sizeof d->reserved / sizeof d->reserved[0]))
        return "has non-NULL reserved fields";
    return NULL;
}

/*
 * Copy a plugin's ops table into `full`, this broker's table of
 * `full_size` bytes, zero-filled first. Only the `size` bytes the plugin
 * declares are read, cut at `known` (this broker's reserved members, which
 * stay NULL whatever a newer plugin has there) and down to whole members:
 * an operation the plugin's header did not have reads as NULL, so callers
 * never compare sizes.
 */
static void copy_ops(void *full, size_t full_size, const void *ops,
                     size_t known)
{
    size_t declared;

    memset(full, 0, full_size);
    if (ops == NULL)
        return;
    memcpy(&declared, ops, sizeof declared); /* every table starts with it */
    if (declared > known)
        declared = known;
    declared -= declared % sizeof(void (*)(void));
    memcpy(full, ops, declared);
}

static const char *copy_auth_tables(struct loaded_plugin *p)
{
    copy_ops(&p->authz, sizeof p->authz, p->desc->authz,
             offsetof(struct mp_authz_ops, reserved));
    /* An authorizer's auth table stays zero: not in the login chain,
     * whatever its descriptor says. */
    if (p->desc->kind == MP_PLUGIN_AUTHORIZER)
        return p->authz.authorize_syn == NULL
                   ? "has no authorize_syn operation"
                   : NULL;
    copy_ops(&p->auth, sizeof p->auth, p->desc->auth,
             offsetof(struct mp_auth_ops, reserved));
    if (p->auth.authenticate == NULL)
        return "has no authenticate operation";
    if (p->auth.authorize_syn != NULL) {
        if (p->authz.authorize_syn != NULL)
            return "has authorize_syn in both its auth and authz tables";
        /* Built before mp_authz_ops: its hook goes where callers look. */
        p->authz.authorize_syn = p->auth.authorize_syn;
        p->auth.authorize_syn = NULL;
    }
    return NULL;
}

/* Fill p's ops tables from its descriptor (only the tables of its kind);
 * NULL, or what is wrong with them. */
static const char *copy_tables(struct loaded_plugin *p)
{
    if (p->desc->kind != MP_PLUGIN_TRANSLATOR)
        return copy_auth_tables(p);
    copy_ops(&p->codec, sizeof p->codec, p->desc->codec,
             offsetof(struct mp_codec_ops, reserved));
    if (p->codec.decode == NULL || p->codec.encode == NULL)
        return "has no decode/encode operations";
    /* The fast lane is both halves or neither. */
    if (p->codec.decode_wire == NULL || p->codec.encode_wire == NULL) {
        p->codec.decode_wire = NULL;
        p->codec.encode_wire = NULL;
    }
    return NULL;
}

static void *open_module(const struct plugin_conf *pc, const char *plugin_dir,
                         struct errors *errs)
{
    char path[4096];
    void *dl;

    if (pc->module[0] == '/')
        snprintf(path, sizeof path, "%s", pc->module);
    else
        snprintf(path, sizeof path, "%s/%s", plugin_dir, pc->module);
    if (access(path, R_OK) != 0) {
        conf_setting_error(errs, module_setting(pc), "cannot load \"%s\": %s",
                           path, strerror(errno));
        return NULL;
    }
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        conf_setting_error(errs, module_setting(pc), "cannot load \"%s\": %s",
                           path, dlerror());
    return dl;
}

static const struct mp_plugin *find_descriptor(void *dl,
                                               const struct plugin_conf *pc,
                                               struct errors *errs)
{
    mp_plugin_entry_fn entry;
    const struct mp_plugin *d;

    /* POSIX allows this conversion for dlsym results. */
    *(void **)&entry = dlsym(dl, MP_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        conf_setting_error(errs, module_setting(pc),
                           "\"%s\" is not an mpbroker plugin (no %s symbol)",
                           pc->module, MP_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
    d = entry();
    if (d == NULL) {
        conf_setting_error(errs, module_setting(pc),
                           "\"%s\": %s() returned NULL", pc->module,
                           MP_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
    if (d->abi != MP_PLUGIN_ABI) {
        conf_setting_error(errs, module_setting(pc),
                           "\"%s\" was built for plugin ABI %u, this broker "
                           "has ABI %u: rebuild it against this mp/plugin.h",
                           pc->module, d->abi, MP_PLUGIN_ABI);
        return NULL;
    }
    return d;
}

static int init_plugin(struct loaded_plugin *p, const struct plugin_conf *pc,
                       struct errors *errs)
{
    struct mp_options opts;
    size_t errors_before = errs->count;
    char err[512] = "";
    int rc = 0;

    if (plugin_options_open(&opts, pc->options, errs) != 0)
        return -1;
    if (p->desc->init != NULL)
        rc = p->desc->init(&p->host, &opts, &p->state, err, sizeof err);
    if (rc != 0) {
        err[sizeof err - 1] = '\0';
        conf_setting_error(errs, pc->entry, "%s: %s", p->desc->name,
                           err[0] ? err : "initialization failed");
    } else {
        p->initialized = true;
    }
    plugin_options_close(&opts);
    return rc == 0 && errs->count == errors_before ? 0 : -1;
}

static int load_one(struct loaded_plugin *p, const struct plugin_conf *pc,
                    enum mp_plugin_kind kind, const char *plugin_dir,
                    const struct plugin_services *services,
                    struct errors *errs)
{
    const char *problem;

    host_init(p, services);
    if (pc->name != NULL) {
        p->name = p->name_copy = strdup(pc->name);
        if (p->name == NULL) {
            errors_add(errs, NULL, 0, "out of memory");
            return -1;
        }
    }
    if (pc->module == NULL)
        return -1; /* already reported by conf_load */
    p->dl = open_module(pc, plugin_dir, errs);
    if (p->dl == NULL)
        return -1;
    p->desc = find_descriptor(p->dl, pc, errs);
    if (p->desc == NULL)
        return -1;
    problem = descriptor_problem(p->desc, kind);
    if (problem == NULL)
        problem = copy_tables(p);
    if (problem != NULL) {
        conf_setting_error(errs, module_setting(pc), "\"%s\" %s", pc->module,
                           problem);
        /* Nothing of it may be called: no descriptor, no operation. */
        p->desc = NULL;
        memset(&p->auth, 0, sizeof p->auth);
        memset(&p->authz, 0, sizeof p->authz);
        memset(&p->codec, 0, sizeof p->codec);
        return -1;
    }
    if (p->name == NULL)
        p->name = p->desc->name;
    return init_plugin(p, pc, errs);
}

static int load_all(struct loaded_plugin **out, size_t *count,
                    const struct plugin_conf *confs, size_t n,
                    enum mp_plugin_kind kind, const char *plugin_dir,
                    const struct plugin_services *services,
                    struct errors *errs)
{
    int rc = 0;

    *count = 0;
    *out = n ? calloc(n, sizeof **out) : NULL;
    if (n && *out == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        (*out)[i].translator_index = i; /* meaningful for translators */
        if (load_one(&(*out)[i], &confs[i], kind, plugin_dir, services,
                     errs) != 0)
            rc = -1;
        *count = i + 1;
    }
    return rc;
}

int plugins_load(struct plugin_set *set, const struct broker_conf *conf,
                 const struct plugin_services *services, struct errors *errs)
{
    int rc = 0;

    memset(set, 0, sizeof *set);
    set->services = *services;
    if (load_all(&set->translators, &set->n_translators, conf->translators,
                 conf->n_translators, MP_PLUGIN_TRANSLATOR, conf->plugin_dir,
                 services, errs) != 0)
        rc = -1;
    if (plugins_load_authenticators(set, conf, services, errs) != 0)
        rc = -1;
    return rc;
}

static void unload_one(struct loaded_plugin *p)
{
    if (p->initialized && p->desc->cleanup != NULL)
        p->desc->cleanup(p->state);
    while (!LIST_EMPTY(&p->timers))
        timer_destroy(LIST_FIRST(&p->timers));
    if (p->dl != NULL)
        dlclose(p->dl);
    free(p->name_copy);
    memset(p, 0, sizeof *p);
}

/* Authorizers alone let nobody in; the config is still valid (a door
 * may be closed on purpose), but it is worth a line in the log. */
static void warn_if_no_authenticator(const struct plugin_set *set)
{
    for (size_t i = 0; i < set->n_authenticators; i++) {
        if (set->authenticators[i].auth.authenticate != NULL)
            return;
    }
    log_warn("authenticators: no plugin decides logins (%s only "
             "authorizes): every login will be refused",
             set->authenticators[0].name);
}

int plugins_load_authenticators(struct plugin_set *set,
                                const struct broker_conf *conf,
                                const struct plugin_services *services,
                                struct errors *errs)
{
    int rc;

    set->services = *services;
    rc = load_all(&set->authenticators, &set->n_authenticators,
                  conf->authenticators, conf->n_authenticators,
                  MP_PLUGIN_AUTHENTICATOR, conf->plugin_dir, services, errs);
    if (rc == 0 && set->n_authenticators > 0)
        warn_if_no_authenticator(set);
    return rc;
}

void plugins_unload_authenticators(struct plugin_set *set)
{
    for (size_t i = set->n_authenticators; i-- > 0;)
        unload_one(&set->authenticators[i]);
    free(set->authenticators);
    set->authenticators = NULL;
    set->n_authenticators = 0;
}

void plugins_unload(struct plugin_set *set)
{
    for (size_t i = set->n_authenticators; i-- > 0;)
        unload_one(&set->authenticators[i]);
    for (size_t i = set->n_translators; i-- > 0;)
        unload_one(&set->translators[i]);
    free(set->authenticators);
    free(set->translators);
    memset(set, 0, sizeof *set);
}

static bool reload_one(struct loaded_plugin *p)
{
    char err[512] = "";

    if (!p->initialized || p->desc->reload == NULL)
        return true;
    if (p->desc->reload(p->state, err, sizeof err) == 0)
        return true;
    err[sizeof err - 1] = '\0';
    log_error("%s: reload failed, keeping the data loaded before: %s",
              p->desc->name, err[0] ? err : "no reason given");
    return false;
}

unsigned plugins_reload(struct plugin_set *set)
{
    unsigned failed = 0;

    for (size_t i = 0; i < set->n_translators; i++)
        failed += !reload_one(&set->translators[i]);
    for (size_t i = 0; i < set->n_authenticators; i++)
        failed += !reload_one(&set->authenticators[i]);
    return failed;
}

bool plugins_authorize_syn(const struct plugin_set *set, const char *from,
                           const struct mp_message *syn)
{
    for (size_t i = 0; i < set->n_authenticators; i++) {
        const struct loaded_plugin *p = &set->authenticators[i];

        if (p->authz.authorize_syn != NULL &&
            p->authz.authorize_syn(p->state, from, syn->other_client,
                                   syn->data, syn->data_len) == MP_AUTH_DENY)
            return false;
    }
    return true;
}

bool plugins_authorize_see(const struct plugin_set *set, const char *client,
                           const char *name)
{
    for (size_t i = 0; i < set->n_authenticators; i++) {
        const struct loaded_plugin *p = &set->authenticators[i];

        if (p->authz.authorize_syn == NULL)
            continue;
        /* An authorizer without the hook cannot say: it hides. */
        if (p->authz.authorize_see == NULL ||
            p->authz.authorize_see(p->state, client, name) == MP_AUTH_DENY)
            return false;
    }
    return true;
}

const struct loaded_plugin *plugins_translator(const struct plugin_set *set,
                                               const char *name)
{
    for (size_t i = 0; i < set->n_translators; i++) {
        if (set->translators[i].desc != NULL &&
            strcmp(set->translators[i].name, name) == 0)
            return &set->translators[i];
    }
    return NULL;
}
