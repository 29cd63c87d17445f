/*
 * plugin_loader.h - load the plugins a config names, check their ABI,
 * copy their operations into tables of this broker's size, initialize
 * them with their options, and give them the host functions (the loader's
 * own, and the services its caller lends).
 *
 * Ownership: a plugin_set owns its dlopen handles, the plugins' states and
 * any timer the plugins left running; plugins_unload() releases them all
 * (cleanup in reverse order of init).
 */
#ifndef MP_BROKER_PLUGIN_LOADER_H
#define MP_BROKER_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <mp/plugin.h>

#include "conf.h"
#include "errors.h"

struct event_base;
struct mp_timer;

/*
 * What the broker's core lends plugins through struct mp_host, beside what
 * the loader serves itself (logging, options, timers). main.c chooses it
 * (the login callbacks lead into the authenticator chain), so that the
 * loader knows nothing of routing or login policy and can be tested alone.
 */
struct plugin_services {
    struct event_base *base; /* runs the plugins' timers */
    void (*auth_done)(struct mp_auth_ticket *ticket,
                      enum mp_auth_result result, const char *reason);
    int (*run_blocking)(struct mp_auth_ticket *ticket,
                        void (*work)(void *arg),
                        void (*done)(void *arg, int cancelled), void *arg);
};

struct loaded_plugin {
    struct mp_host host;           /* first: host functions find us from it */
    const struct mp_plugin *desc;  /* static, inside the module */
    /*
     * The plugin's operations, copied at load time into full-size tables
     * that are zero past the size the plugin declared (and past the
     * members this broker knows). Callers use these, never desc->auth or
     * desc->codec, and test an optional operation for NULL only: absent
     * table, older header and NULL member all read the same. An
     * authenticator's legacy auth.authorize_syn is moved to authz.
     */
    struct mp_auth_ops auth;       /* authenticate NULL: not in the chain */
    struct mp_authz_ops authz;     /* authorize_syn NULL: not asked */
    struct mp_codec_ops codec;     /* translators; decode_wire and
                                      encode_wire both set or both NULL */
    size_t translator_index;       /* translators: the position in
                                      plugin_set.translators (per-format
                                      counters are indexed by it) */
    const char *name;              /* translators: the configured name
                                      (name_copy), else desc->name */
    char *name_copy;               /* owned: outlives the config tree */
    void *dl;                      /* dlopen handle */
    void *state;                   /* from init() */
    bool initialized;
    struct event_base *base;
    LIST_HEAD(, mp_timer) timers;  /* still running, freed at unload */
};

/*
 * `authenticators` holds every plugin of the config list of that name,
 * in its order: authenticators and authorizers (MP_PLUGIN_AUTHORIZER,
 * whose auth.authenticate is NULL). Indexes match conf->authenticators.
 */
struct plugin_set {
    struct loaded_plugin *translators;
    size_t n_translators;
    struct loaded_plugin *authenticators;
    size_t n_authenticators;
    struct plugin_services services; /* as given to plugins_load() */
};

/*
 * Load and initialize every translator and authenticator of `conf`,
 * lending them `services` (copied into set->services). Errors (missing
 * file, ABI mismatch, wrong kind, init failure, unknown option) go to errs
 * with the file and line of the entry. Returns 0 if there were none. On
 * failure the set must still be unloaded.
 */
int plugins_load(struct plugin_set *set, const struct broker_conf *conf,
                 const struct plugin_services *services, struct errors *errs);
void plugins_unload(struct plugin_set *set);

/* Reloads: load only the authenticators of `conf` into set (translators
 * untouched), or unload only those of set. */
int plugins_load_authenticators(struct plugin_set *set,
                                const struct broker_conf *conf,
                                const struct plugin_services *services,
                                struct errors *errs);
void plugins_unload_authenticators(struct plugin_set *set);

/* SIGHUP: call reload() of every plugin that has one, logging each
 * outcome. Returns the number of plugins whose reload failed (they keep
 * their old data). */
unsigned plugins_reload(struct plugin_set *set);

/* The translator configured under `name`, or NULL. */
const struct loaded_plugin *plugins_translator(const struct plugin_set *set,
                                               const char *name);

struct mp_message;
/*
 * May `from` open the connection this Syn asks for (to syn->other_client,
 * for the protocol in its data), whether or not its target is logged in?
 * Asks authorize_syn() of each plugin of set->authenticators that has one
 * (authorizers, and authenticators that also authorize), in config order;
 * false at the first DENY, true when none denies.
 */
bool plugins_authorize_syn(const struct plugin_set *set, const char *from,
                           const struct mp_message *syn);

/*
 * May `client` learn whether `name` is online (level-2 presence)? Asks
 * authorize_see() of the same plugins as plugins_authorize_syn(): false
 * at the first DENY, or at a plugin that authorizes Syns but has no
 * authorize_see (it fails closed); true when none denies (no authorizer:
 * every name is visible).
 */
bool plugins_authorize_see(const struct plugin_set *set, const char *client,
                           const char *name);

#endif
