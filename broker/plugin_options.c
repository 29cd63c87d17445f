/* plugin_options.c - a plugin's options, through typed accessors (see
 * plugin_options.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "plugin_options.h"

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

int plugin_option_string(const struct mp_options *opts, const char *key,
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

int plugin_option_int(const struct mp_options *opts, const char *key,
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

int plugin_option_bool(const struct mp_options *opts, const char *key,
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

int plugin_options_open(struct mp_options *opts,
                        const config_setting_t *group, struct errors *errs)
{
    size_t n = group ? (size_t)config_setting_length(group) : 0;

    opts->group = group;
    opts->errs = errs;
    opts->used = calloc(n ? n : 1, sizeof *opts->used);
    if (opts->used == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    return 0;
}

void plugin_options_close(struct mp_options *opts)
{
    int n = opts->group ? config_setting_length(opts->group) : 0;

    for (int i = 0; i < n; i++) {
        const config_setting_t *s =
            config_setting_get_elem(opts->group, (unsigned)i);
        if (!opts->used[i])
            conf_setting_error(opts->errs, s, "unknown setting '%s'",
                               config_setting_name(s));
    }
    free(opts->used);
    opts->used = NULL;
}
