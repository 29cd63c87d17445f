/*
 * plugin_options.h - a plugin's `options` group, read by the plugin
 * through the typed accessors of struct mp_host (see mp/plugin.h); every
 * member it never asked for is reported as an unknown setting, so that a
 * typo in the config file cannot go unnoticed.
 *
 * Ownership: a struct mp_options borrows the config tree and `errs`, and
 * owns only its `used` flags, freed by plugin_options_close(). Strings the
 * accessors hand out belong to the config tree.
 */
#ifndef MP_BROKER_PLUGIN_OPTIONS_H
#define MP_BROKER_PLUGIN_OPTIONS_H

#include <stdbool.h>

#include <libconfig.h>
#include <mp/plugin.h>

#include "errors.h"

/* Opaque to plugins (mp/plugin.h declares it only). */
struct mp_options {
    const config_setting_t *group; /* may be NULL: no options */
    bool *used;                    /* one flag per member, owned */
    struct errors *errs;           /* where type errors go */
};

/* Prepare opts for `group` (NULL: the plugin has no options). Returns 0,
 * or -1 when out of memory (reported to errs). */
int plugin_options_open(struct mp_options *opts,
                        const config_setting_t *group, struct errors *errs);

/* Report every member never asked for to errs, and free opts' flags. */
void plugin_options_close(struct mp_options *opts);

/* host->option_string, option_int, option_bool. */
int plugin_option_string(const struct mp_options *opts, const char *key,
                         const char **out);
int plugin_option_int(const struct mp_options *opts, const char *key,
                      long long *out);
int plugin_option_bool(const struct mp_options *opts, const char *key,
                       int *out);

#endif
