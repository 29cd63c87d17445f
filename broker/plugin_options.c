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

/*
 * Find `key` and check its type: one of `type` and `alt` (libconfig tells
 * 32- from 64-bit integers). Returns 1 with *s set, 0 when absent, or -1
 * after reporting "expected WHAT" at the member.
 */
static int typed_option(const struct mp_options *opts, const char *key,
                        int type, int alt, const char *what,
                        const config_setting_t **s)
{
    *s = option_lookup(opts, key);
    if (*s == NULL)
        return 0;
    if (config_setting_type(*s) != type && config_setting_type(*s) != alt) {
        conf_setting_error(opts->errs, *s, "expected %s", what);
        return -1;
    }
    return 1;
}

int plugin_option_string(const struct mp_options *opts, const char *key,
                         const char **out)
{
    const config_setting_t *s;
    int rc = typed_option(opts, key, CONFIG_TYPE_STRING, CONFIG_TYPE_STRING,
                          "a string", &s);

    if (rc == 1)
        *out = config_setting_get_string(s);
    return rc;
}

int plugin_option_int(const struct mp_options *opts, const char *key,
                      long long *out)
{
    const config_setting_t *s;
    int rc = typed_option(opts, key, CONFIG_TYPE_INT, CONFIG_TYPE_INT64,
                          "an integer", &s);

    if (rc == 1)
        *out = config_setting_get_int64(s);
    return rc;
}

int plugin_option_bool(const struct mp_options *opts, const char *key,
                       int *out)
{
    const config_setting_t *s;
    int rc = typed_option(opts, key, CONFIG_TYPE_BOOL, CONFIG_TYPE_BOOL,
                          "true or false", &s);

    if (rc == 1)
        *out = config_setting_get_bool(s);
    return rc;
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
