/*
 * conf.c - read and check the broker's config file (see conf.h): the
 * order of the sections, and the checks across settings. What each
 * setting is (type, range, default, reload) is a row of conf_table.c,
 * read by conf_schema.c; lists are read by conf_plugins.c and
 * conf_listeners.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_throttle.h"
#include "conf.h"
#include "conf_schema.h"
#include "conf_sections.h"

/* ------------------------------------------------------------------------
 * limits: what its rows cannot say alone
 */

/* low <= high, and room above high for one more message of every size:
 * a sender is paused only after the message that crossed the mark. */
static void check_output_limits(const config_setting_t *g, long long max_msg,
                                long long high, long long low,
                                long long hard, struct errors *errs)
{
    if (low > high)
        conf_setting_error(errs, conf_member_or_group(g, "output_low_water"),
                           "output_low_water (%lld) is above output_high_water "
                           "(%lld)", low, high);
    if (hard < high + max_msg)
        conf_setting_error(errs, conf_member_or_group(g, "output_hard_limit"),
                           "output_hard_limit (%lld) must be at least "
                           "output_high_water + max_message_size (%lld)", hard,
                           high + max_msg);
}

/* Across the rows of `limits`, once they are read. */
static void check_limits(struct broker_conf *conf, struct errors *errs)
{
    const config_setting_t *g =
        conf_member(config_root_setting(&conf->tree), "limits", CONF_GROUP);

    if (g != NULL)
        check_output_limits(g, (long long)conf->max_message_size,
                            (long long)conf->output_high_water,
                            (long long)conf->output_low_water,
                            (long long)conf->output_hard_limit, errs);
    /* An Auth is a message too: never more than max_message_size. */
    if (conf->max_auth_message_size > conf->max_message_size)
        conf->max_auth_message_size = conf->max_message_size;
}

/* limits.auth_throttle_exempt: address ranges the login throttle leaves
 * alone (auth_throttle.h). Absent: none. */
void conf_read_throttle_exempt(struct broker_conf *conf,
                               const config_setting_t *array,
                               struct errors *errs)
{
    int n = array ? config_setting_length(array) : 0;

    if (n == 0)
        return;
    conf->auth_throttle_exempt = calloc((size_t)n,
                                        sizeof *conf->auth_throttle_exempt);
    if (conf->auth_throttle_exempt == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(array, (unsigned)i);
        const char *text = config_setting_get_string(e);
        const char *problem;
        char why[160];

        if (text == NULL) {
            conf_setting_error(errs, e, "expected a string such as "
                                        "\"10.0.0.0/8\" or \"::1\"");
            continue;
        }
        problem = cidr_parse(text, &conf->auth_throttle_exempt
                                        [conf->n_auth_throttle_exempt],
                             why, sizeof why);
        if (problem != NULL)
            conf_setting_error(errs, e, "\"%s\": %s", text, problem);
        else
            conf->n_auth_throttle_exempt++;
    }
}

void conf_throttle_limits(const struct broker_conf *conf,
                          struct auth_throttle_limits *out)
{
    out->per_source_max = conf->auth_failures_max;
    out->per_name_max = conf->auth_failures_per_name_max;
    out->block_s = conf->auth_block_s;
    out->exempt = conf->auth_throttle_exempt;
    out->n_exempt = conf->n_auth_throttle_exempt;
}

/* ------------------------------------------------------------------------
 * Loading
 */

static int read_tree(struct broker_conf *conf, const char *file,
                     struct errors *errs)
{
    FILE *f = fopen(file, "r");
    char dir[4096];
    const char *slash;

    if (f == NULL) {
        errors_add(errs, file, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    fclose(f);
    /* @include paths are relative to the config file's directory. */
    slash = strrchr(file, '/');
    if (slash != NULL && (size_t)(slash - file) < sizeof dir) {
        memcpy(dir, file, (size_t)(slash - file));
        dir[slash - file] = '\0';
        config_set_include_dir(&conf->tree, dir[0] ? dir : "/");
    }
    if (config_read_file(&conf->tree, file) != CONFIG_TRUE) {
        const char *where = config_error_file(&conf->tree);
        errors_add(errs, where ? where : file, config_error_line(&conf->tree),
                   "%s", config_error_text(&conf->tree));
        return -1;
    }
    return 0;
}

int conf_load(struct broker_conf *conf, const char *file,
              const char *default_plugin_dir, struct errors *errs)
{
    const config_setting_t *root;
    size_t errors_before = errs->count + errs->unrecorded;

    memset(conf, 0, sizeof *conf);
    config_init(&conf->tree);
    conf->file = file;
    conf->plugin_dir = default_plugin_dir;
    if (read_tree(conf, file, errs) != 0)
        return -1;
    conf->parsed = true;

    root = config_root_setting(&conf->tree);
    conf_check_members(root, "", errs);
    conf_read_plugins(conf, errs);
    conf_read_listeners(conf, errs);
    conf_read_section(conf, "limits", errs);
    check_limits(conf, errs);
    conf_read_section(conf, "log", errs);
    conf_read_section(conf, "", errs);
    if (conf->plugin_dir == NULL)
        conf->plugin_dir = default_plugin_dir;
    conf->metrics.entry = conf_member(root, "metrics", CONF_GROUP);
    conf_read_section(conf, "metrics", errs);
    conf_read_cluster(conf, errs);

    return errs->count + errs->unrecorded > errors_before ? -1 : 0;
}

void conf_free(struct broker_conf *conf)
{
    free(conf->auth_throttle_exempt);
    free(conf->translators);
    free(conf->authenticators);
    for (size_t i = 0; i < conf->n_listeners; i++)
        free(conf->listeners[i].ws.origins);
    free(conf->listeners);
    config_destroy(&conf->tree);
    memset(conf, 0, sizeof *conf);
}
