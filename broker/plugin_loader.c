/* plugin_loader.c - dlopen, ABI check, init and host side of mp_host. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_chain.h"
#include "log.h"
#include "plugin_loader.h"

/* ------------------------------------------------------------------------
 * Options: the plugin reads its `options` group through accessors; every
 * member it never asked for is reported as an unknown setting.
 */
struct mp_options {
    const config_setting_t *group; /* may be NULL: no options */
    bool *used;                    /* one flag per member */
    struct errors *errs;
};

static const config_setting_t *option_lookup(const struct mp_options *opts,
                                             const char *key)
{
    int n;

    if (opts == NULL || opts->group == NULL || key == NULL)
        return NULL;
    n = config_setting_length(opts->group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s =
            config_setting_get_elem(opts->group, (unsigned)i);
        if (strcmp(config_setting_name(s), key) == 0) {
            opts->used[i] = true;
            return s;
        }
    }
    return NULL;
}

static int option_string(const struct mp_options *opts, const char *key,
                         const char **out)
{
    const config_setting_t *s = option_lookup(opts, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        conf_setting_error(opts->errs, s, "expected a string");
        return -1;
    }
    *out = config_setting_get_string(s);
    return 1;
}

static int option_int(const struct mp_options *opts, const char *key,
                      long long *out)
{
    const config_setting_t *s = option_lookup(opts, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_INT &&
        config_setting_type(s) != CONFIG_TYPE_INT64) {
        conf_setting_error(opts->errs, s, "expected an integer");
        return -1;
    }
    *out = config_setting_get_int64(s);
    return 1;
}

static int option_bool(const struct mp_options *opts, const char *key,
                       int *out)
{
    const config_setting_t *s = option_lookup(opts, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        conf_setting_error(opts->errs, s, "expected true or false");
        return -1;
    }
    *out = config_setting_get_bool(s);
    return 1;
}

static void report_unused_options(const struct mp_options *opts)
{
    int n = opts->group ? config_setting_length(opts->group) : 0;

    for (int i = 0; i < n; i++) {
        const config_setting_t *s =
            config_setting_get_elem(opts->group, (unsigned)i);
        if (!opts->used[i])
            conf_setting_error(opts->errs, s, "unknown setting '%s'",
                               config_setting_name(s));
    }
}

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
    struct loaded_plugin *owner;
    struct mp_timer *prev, *next;
    bool firing;
};

static void timer_unlink(struct mp_timer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        t->owner->timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
}

static void timer_destroy(struct mp_timer *t)
{
    timer_unlink(t);
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
    t->owner = p;
    t->next = p->timers;
    if (p->timers != NULL)
        p->timers->prev = t;
    p->timers = t;
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

static void host_init(struct loaded_plugin *p, struct event_base *base)
{
    memset(&p->host, 0, sizeof p->host);
    p->host.abi = MP_PLUGIN_ABI;
    p->host.size = sizeof p->host;
    p->host.log = host_log;
    p->host.option_string = option_string;
    p->host.option_int = option_int;
    p->host.option_bool = option_bool;
    p->host.auth_done = auth_chain_done;
    p->host.timer_start = host_timer_start;
    p->host.timer_cancel = host_timer_cancel;
    p->host.run_blocking = auth_chain_run_blocking;
    p->base = base;
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

/* Is the descriptor one this broker can use as `kind`? */
static const char *descriptor_problem(const struct mp_plugin *d,
                                      enum mp_plugin_kind kind)
{
    if (d->kind != kind)
        return kind == MP_PLUGIN_TRANSLATOR ? "is not a translator plugin"
                                            : "is not an authenticator plugin";
    if (d->name == NULL || d->version == NULL)
        return "has no name or version";
    if (!reserved_empty(d->reserved, sizeof d->reserved / sizeof d->reserved[0]))
        return "has non-NULL reserved fields";
    if (kind == MP_PLUGIN_TRANSLATOR &&
        (d->codec == NULL || d->codec->size == 0 || d->codec->decode == NULL ||
         d->codec->encode == NULL))
        return "has no decode/encode operations";
    if (kind == MP_PLUGIN_AUTHENTICATOR &&
        (d->auth == NULL || d->auth->size == 0 || d->auth->authenticate == NULL))
        return "has no authenticate operation";
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
    struct mp_options opts = {.group = pc->options, .errs = errs};
    size_t n = pc->options ? (size_t)config_setting_length(pc->options) : 0;
    size_t errors_before = errs->count;
    char err[512] = "";
    int rc = 0;

    opts.used = calloc(n ? n : 1, sizeof *opts.used);
    if (opts.used == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    if (p->desc->init != NULL)
        rc = p->desc->init(&p->host, &opts, &p->state, err, sizeof err);
    if (rc != 0) {
        err[sizeof err - 1] = '\0';
        conf_setting_error(errs, pc->entry, "%s: %s", p->desc->name,
                           err[0] ? err : "initialization failed");
    } else {
        p->initialized = true;
    }
    report_unused_options(&opts);
    free(opts.used);
    return rc == 0 && errs->count == errors_before ? 0 : -1;
}

static int load_one(struct loaded_plugin *p, const struct plugin_conf *pc,
                    enum mp_plugin_kind kind, const char *plugin_dir,
                    struct event_base *base, struct errors *errs)
{
    const char *problem;

    host_init(p, base);
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
    if (problem != NULL) {
        conf_setting_error(errs, module_setting(pc), "\"%s\" %s", pc->module,
                           problem);
        p->desc = NULL;
        return -1;
    }
    if (p->name == NULL)
        p->name = p->desc->name;
    return init_plugin(p, pc, errs);
}

static int load_all(struct loaded_plugin **out, size_t *count,
                    const struct plugin_conf *confs, size_t n,
                    enum mp_plugin_kind kind, const char *plugin_dir,
                    struct event_base *base, struct errors *errs)
{
    int rc = 0;

    *count = 0;
    *out = n ? calloc(n, sizeof **out) : NULL;
    if (n && *out == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (load_one(&(*out)[i], &confs[i], kind, plugin_dir, base, errs) != 0)
            rc = -1;
        *count = i + 1;
    }
    return rc;
}

int plugins_load(struct plugin_set *set, const struct broker_conf *conf,
                 struct event_base *base, struct errors *errs)
{
    int rc = 0;

    memset(set, 0, sizeof *set);
    if (load_all(&set->translators, &set->n_translators, conf->translators,
                 conf->n_translators, MP_PLUGIN_TRANSLATOR, conf->plugin_dir,
                 base, errs) != 0)
        rc = -1;
    for (size_t i = 0; i < set->n_translators; i++)
        set->translators[i].translator_index = i;
    if (load_all(&set->authenticators, &set->n_authenticators,
                 conf->authenticators, conf->n_authenticators,
                 MP_PLUGIN_AUTHENTICATOR, conf->plugin_dir, base, errs) != 0)
        rc = -1;
    return rc;
}

static void unload_one(struct loaded_plugin *p)
{
    if (p->initialized && p->desc->cleanup != NULL)
        p->desc->cleanup(p->state);
    while (p->timers != NULL)
        timer_destroy(p->timers);
    if (p->dl != NULL)
        dlclose(p->dl);
    free(p->name_copy);
    memset(p, 0, sizeof *p);
}

int plugins_load_authenticators(struct plugin_set *set,
                                const struct broker_conf *conf,
                                struct event_base *base, struct errors *errs)
{
    return load_all(&set->authenticators, &set->n_authenticators,
                    conf->authenticators, conf->n_authenticators,
                    MP_PLUGIN_AUTHENTICATOR, conf->plugin_dir, base, errs);
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

bool plugins_authorize_syn(const struct plugin_set *set, const char *from,
                           const struct mp_message *syn)
{
    for (size_t i = 0; i < set->n_authenticators; i++) {
        const struct loaded_plugin *p = &set->authenticators[i];
        const struct mp_auth_ops *ops = p->desc->auth;
        if (ops->size < offsetof(struct mp_auth_ops, authorize_syn) +
                            sizeof ops->authorize_syn ||
            ops->authorize_syn == NULL)
            continue;
        if (ops->authorize_syn(p->state, from, syn->other_client, syn->data,
                               syn->data_len) == MP_AUTH_DENY)
            return false;
    }
    return true;
}
