/*
 * conf_plugins.c - the `translators` and `authenticators` lists of the
 * config file (see conf_sections.h). Their `options` groups are the
 * plugins' own: plugin_loader.c checks them against what each plugin asks
 * for.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_schema.h"
#include "conf_sections.h"
#include "format.h"

/* The entries of `list`, whose members are the rows at `prefix`. */
static void read_plugin_entries(const config_setting_t *list,
                                const char *prefix, bool named,
                                struct plugin_conf **out, size_t *count,
                                struct errors *errs)
{
    size_t n = conf_list_of_groups(list, errs);

    *out = n ? calloc(n, sizeof **out) : NULL;
    *count = 0;
    if (n && *out == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        struct plugin_conf *p;

        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            continue;
        conf_check_members(e, prefix, errs);
        p = &(*out)[(*count)++];
        p->entry = e;
        p->module = conf_required_string(e, "module", errs);
        p->options = conf_member(e, "options", CONF_GROUP);
        if (named)
            p->name = conf_required_string(e, "name", errs);
    }
}

/* Without a 'translators' setting, load the two shipped formats. */
static void default_translators(struct broker_conf *conf,
                                const config_setting_t *root,
                                struct errors *errs)
{
    static const enum mp_format_id defaults[] = {MP_FORMAT_JSON,
                                                 MP_FORMAT_BINARY};
    size_t n = sizeof defaults / sizeof defaults[0];

    conf->translators = calloc(n, sizeof *conf->translators);
    if (conf->translators == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        conf->translators[i].entry = root;
        conf->translators[i].name = mp_formats[defaults[i]].name;
        conf->translators[i].module = mp_formats[defaults[i]].module;
    }
    conf->n_translators = n;
}

static void check_translator_names(const struct broker_conf *conf,
                                   struct errors *errs)
{
    for (size_t i = 0; i < conf->n_translators; i++) {
        const struct plugin_conf *t = &conf->translators[i];
        if (t->name == NULL)
            continue;
        if (strcmp(t->name, "auto") == 0)
            conf_setting_error(errs, config_setting_get_member(t->entry, "name"),
                               "\"auto\" is reserved for listeners that "
                               "detect the format");
        for (size_t j = 0; j < i; j++) {
            if (conf->translators[j].name != NULL &&
                strcmp(conf->translators[j].name, t->name) == 0)
                conf_setting_error(errs,
                                   config_setting_get_member(t->entry, "name"),
                                   "translator \"%s\" is defined twice",
                                   t->name);
        }
    }
}

bool conf_translator_known(const struct broker_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->n_translators; i++) {
        if (conf->translators[i].name != NULL &&
            strcmp(conf->translators[i].name, name) == 0)
            return true;
    }
    return false;
}


void conf_read_plugins(struct broker_conf *conf, struct errors *errs)
{
    const config_setting_t *root = config_root_setting(&conf->tree);
    const config_setting_t *auth = conf_member(root, "authenticators",
                                               CONF_LIST);

    if (config_setting_get_member(root, "translators") == NULL)
        default_translators(conf, root, errs);
    else
        read_plugin_entries(conf_member(root, "translators", CONF_LIST),
                            "translators", true, &conf->translators,
                            &conf->n_translators, errs);
    check_translator_names(conf, errs);
    read_plugin_entries(auth, "authenticators", false, &conf->authenticators,
                        &conf->n_authenticators, errs);
    if (conf->n_authenticators == 0 &&
        config_setting_get_member(root, "authenticators") == NULL)
        errors_add(errs, conf->file, 0,
                   "missing required setting 'authenticators' (to let every "
                   "client in, name auth_allow_all.so explicitly)");
    else if (conf->n_authenticators == 0 && auth != NULL)
        conf_setting_error(errs, auth, "no authenticators defined");
}
