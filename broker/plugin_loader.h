/*
 * plugin_loader.h - load the plugins a config names, check their ABI,
 * initialize them with their options, and give them the host functions.
 *
 * Ownership: a plugin_set owns its dlopen handles, the plugins' states and
 * any timer the plugins left running; plugins_unload() releases them all
 * (cleanup in reverse order of init).
 */
#ifndef MP_BROKER_PLUGIN_LOADER_H
#define MP_BROKER_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <mp/plugin.h>

#include "conf.h"
#include "errors.h"

struct event_base;
struct mp_timer;

struct loaded_plugin {
    struct mp_host host;           /* first: host functions find us from it */
    const struct mp_plugin *desc;  /* static, inside the module */
    const char *name;              /* translators: the configured name
                                      (name_copy), else desc->name */
    char *name_copy;               /* owned: outlives the config tree */
    void *dl;                      /* dlopen handle */
    void *state;                   /* from init() */
    bool initialized;
    struct event_base *base;
    struct mp_timer *timers;       /* still running, freed at unload */
    size_t translator_index;       /* translators: its index in
                                      plugin_set.translators (per-format
                                      counters are arrays in that order) */
};

struct plugin_set {
    struct loaded_plugin *translators;
    size_t n_translators;
    struct loaded_plugin *authenticators;
    size_t n_authenticators;
};

/*
 * Load and initialize every translator and authenticator of `conf`.
 * Errors (missing file, ABI mismatch, wrong kind, init failure, unknown
 * option) go to errs with the file and line of the entry. Returns 0 if
 * there were none. On failure the set must still be unloaded.
 */
int plugins_load(struct plugin_set *set, const struct broker_conf *conf,
                 struct event_base *base, struct errors *errs);
void plugins_unload(struct plugin_set *set);

/* Reloads: load only the authenticators of `conf` into set (translators
 * untouched), or unload only those of set. */
int plugins_load_authenticators(struct plugin_set *set,
                                const struct broker_conf *conf,
                                struct event_base *base, struct errors *errs);
void plugins_unload_authenticators(struct plugin_set *set);

/* SIGHUP: call reload() of every plugin that has one, logging each
 * outcome. Returns the number of plugins whose reload failed (they keep
 * their old data). */
unsigned plugins_reload(struct plugin_set *set);

/* The translator configured under `name`, or NULL. */
const struct loaded_plugin *plugins_translator(const struct plugin_set *set,
                                               const char *name);

struct mp_message;
/* May `from` open the connection this Syn asks for, whether or not its
 * target is logged in? Asks each authenticator's optional authorize_syn
 * hook; false when one denies it. */
bool plugins_authorize_syn(const struct plugin_set *set, const char *from,
                           const struct mp_message *syn);

#endif
