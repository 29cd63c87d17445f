/*
 * conf_listeners.c - the `listeners` list of the config file, with each
 * listener's `tls` and `websocket` groups and Unix socket `mode` (see
 * conf_sections.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_schema.h"
#include "conf_sections.h"

static const char *tls_path(const config_setting_t *g, const char *name,
                            bool required, struct errors *errs)
{
    const char *path = required ? conf_required_string(g, name, errs)
                                : conf_string_member(g, name);

    if (path != NULL && path[0] != '/') {
        conf_setting_error(errs, config_setting_get_member(g, name),
                           "must be an absolute path");
        return NULL;
    }
    return path;
}

static void read_tls(const config_setting_t *g, struct tls_conf *tc,
                     struct errors *errs)
{
    static const char *const verify_names[] = {
        [TLS_VERIFY_NONE] = "none",
        [TLS_VERIFY_OPTIONAL] = "optional",
        [TLS_VERIFY_REQUIRED] = "required",
    };
    const char *verify = conf_string_member(g, "verify_client");
    bool known = verify == NULL;

    conf_check_members(g, "listeners.tls", errs);
    tc->entry = g;
    tc->cert = tls_path(g, "cert", true, errs);
    tc->key = tls_path(g, "key", true, errs);
    tc->ca = tls_path(g, "ca", false, errs);
    tc->verify_client = TLS_VERIFY_NONE;
    for (size_t i = 0; verify != NULL && i < 3; i++) {
        if (strcmp(verify, verify_names[i]) == 0) {
            tc->verify_client = (enum tls_verify)i;
            known = true;
        }
    }
    if (!known)
        conf_setting_error(errs, config_setting_get_member(g, "verify_client"),
                           "must be \"none\", \"optional\" or \"required\"");
    if (tc->verify_client != TLS_VERIFY_NONE && tc->ca == NULL &&
        config_setting_get_member(g, "ca") == NULL)
        conf_setting_error(errs, g, "verify_client \"%s\" needs 'ca' (the "
                                    "CAs that sign client certificates)",
                           verify);
}

/* `mode`: octal permissions of a Unix socket, "0666" by default. */
static void read_unix_mode(const config_setting_t *e, struct listener_conf *l,
                           struct errors *errs)
{
    const config_setting_t *s = conf_member(e, "mode", CONF_STRING);
    const char *text = s ? config_setting_get_string(s) : NULL;
    char *end = NULL;
    unsigned long mode;

    l->unix_mode = 0666;
    if (text == NULL)
        return;
    if (config_setting_get_member(e, "unix") == NULL) {
        conf_setting_error(errs, s, "'mode' is for Unix socket listeners");
        return;
    }
    mode = strtoul(text, &end, 8);
    if (text[0] == '\0' || *end != '\0' || mode > 0777 || text[0] == '-')
        conf_setting_error(errs, s, "must be octal permissions such as "
                                    "\"0660\"");
    else
        l->unix_mode = (unsigned)mode;
}

/* websocket.origins: what browsers' Origin header may say, each as a
 * browser writes it ("https://app.example", "http://127.0.0.1:8080"), or
 * "*". Absent: any origin. */
static void read_origins(const config_setting_t *g, struct ws_conf *wc,
                         struct errors *errs)
{
    const config_setting_t *array = conf_member(g, "origins", CONF_ARRAY);
    int n = array ? config_setting_length(array) : 0;

    if (n == 0)
        return;
    wc->origins = calloc((size_t)n, sizeof *wc->origins);
    if (wc->origins == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(array, (unsigned)i);
        const char *text = config_setting_get_string(e);

        if (text == NULL || text[0] == '\0' ||
            (strcmp(text, "*") != 0 && strstr(text, "://") == NULL))
            conf_setting_error(errs, e, "expected an origin such as "
                                        "\"https://app.example\" or \"*\"");
        else
            wc->origins[wc->n_origins++] = text;
    }
}

static void read_websocket(const config_setting_t *g, struct ws_conf *wc,
                           struct errors *errs)
{
    const config_setting_t *path = conf_member(g, "path", CONF_STRING);

    conf_check_members(g, "listeners.websocket", errs);
    wc->entry = g;
    wc->path = path != NULL ? config_setting_get_string(path) : "/mp";
    if (wc->path[0] != '/' || strpbrk(wc->path, "?# \t") != NULL)
        conf_setting_error(errs, path, "must be an absolute URL path such "
                                       "as \"/mp\" (no query, no spaces)");
    wc->ping_interval_s =
        (unsigned)conf_int(g, "listeners.websocket.ping_interval_s", errs);
    read_origins(g, wc, errs);
}

static void read_listener(const config_setting_t *e, struct listener_conf *l,
                          const struct broker_conf *conf, struct errors *errs)
{
    const config_setting_t *tr = conf_member(e, "translator", CONF_STRING);

    conf_check_members(e, "listeners", errs);
    l->entry = e;
    l->address = conf_string_member(e, "address");
    l->unix_path = conf_string_member(e, "unix");
    l->port = (int)conf_int(e, "listeners.port", errs);
    l->translator = tr != NULL ? config_setting_get_string(tr) : "auto";
    if (conf_member(e, "tls", CONF_GROUP) != NULL)
        read_tls(conf_member(e, "tls", CONF_GROUP), &l->tls, errs);
    if (conf_member(e, "websocket", CONF_GROUP) != NULL)
        read_websocket(conf_member(e, "websocket", CONF_GROUP), &l->ws, errs);
    read_unix_mode(e, l, errs);
    if (l->unix_path != NULL && l->ws.entry != NULL)
        conf_setting_error(errs, l->ws.entry,
                           "WebSocket is for TCP listeners");
    if (l->unix_path != NULL && l->tls.entry != NULL)
        conf_setting_error(errs, l->tls.entry,
                           "TLS is for TCP listeners; a Unix socket is "
                           "protected by its file permissions");

    if (l->address == NULL && l->unix_path == NULL &&
        config_setting_get_member(e, "address") == NULL &&
        config_setting_get_member(e, "unix") == NULL)
        conf_setting_error(errs, e, "a listener needs 'address' (TCP) or "
                                    "'unix' (a socket path)");
    if (l->address != NULL && l->unix_path != NULL)
        conf_setting_error(errs, e, "a listener has either 'address' or "
                                    "'unix', not both");
    if (l->unix_path != NULL && config_setting_get_member(e, "port") != NULL)
        conf_setting_error(errs, config_setting_get_member(e, "port"),
                           "a Unix socket listener has no port");
    if (l->unix_path != NULL && l->unix_path[0] != '/')
        conf_setting_error(errs, config_setting_get_member(e, "unix"),
                           "must be an absolute path");
    if (strcmp(l->translator, "auto") == 0) {
        if (conf->n_translators == 0)
            conf_setting_error(errs, tr != NULL ? tr : e,
                               "\"auto\" needs at least one translator");
    } else if (!conf_translator_known(conf, l->translator)) {
        conf_setting_error(errs, tr, "no translator named \"%s\" (defined: "
                                     "see 'translators')", l->translator);
    }
}

void conf_read_listeners(struct broker_conf *conf, struct errors *errs)
{
    const config_setting_t *list =
        conf_member(config_root_setting(&conf->tree), "listeners", CONF_LIST);
    size_t n = conf_list_of_groups(list, errs);

    if (n == 0) {
        const config_setting_t *where = list ? list : config_root_setting(&conf->tree);
        if (list == NULL)
            errors_add(errs, conf->file, 0,
                       "missing required setting 'listeners'");
        else
            conf_setting_error(errs, where, "no listeners defined");
        return;
    }
    conf->listeners = calloc(n, sizeof *conf->listeners);
    if (conf->listeners == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_type(e) == CONFIG_TYPE_GROUP)
            read_listener(e, &conf->listeners[conf->n_listeners++], conf, errs);
    }
}
