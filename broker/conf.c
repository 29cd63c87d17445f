/*
 * conf.c - read and check the broker's config file (see conf.h).
 *
 * The schema is data: each group has a table of the settings it may hold
 * and their types. A first pass reports unknown settings and wrong types
 * for the whole file; extraction then reads only well-typed settings, so
 * one mistake produces one error, and every mistake is reported.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_throttle.h"
#include "conf.h"
#include "format.h"
#include "log.h"
#include "work_pool.h"

/* V_ARRAY: an array of strings, [ "a", "b" ]. */
enum value_kind { V_STRING, V_INT, V_BOOL, V_GROUP, V_LIST, V_ARRAY };

struct setting_spec {
    const char *name;
    enum value_kind kind;
};

static const struct setting_spec top_specs[] = {
    {"plugin_dir", V_STRING},   {"translators", V_LIST},
    {"authenticators", V_LIST}, {"listeners", V_LIST},
    {"limits", V_GROUP},        {"duplicate_names", V_STRING},
    {"log", V_GROUP},           {"shutdown_timeout_ms", V_INT},
    {"metrics", V_GROUP},       {"user", V_STRING},
    {"group", V_STRING},        {"allow_root", V_BOOL},
    {NULL, 0},
};

static const struct setting_spec metrics_specs[] = {
    {"address", V_STRING}, {"port", V_INT}, {"max_connections", V_INT},
    {"timeout_ms", V_INT}, {"max_header_size", V_INT}, {NULL, 0},
};

static const struct setting_spec translator_specs[] = {
    {"name", V_STRING}, {"module", V_STRING}, {"options", V_GROUP},
    {NULL, 0},
};

static const struct setting_spec authenticator_specs[] = {
    {"module", V_STRING}, {"options", V_GROUP}, {NULL, 0},
};

static const struct setting_spec listener_specs[] = {
    {"address", V_STRING}, {"port", V_INT}, {"unix", V_STRING},
    {"translator", V_STRING}, {"tls", V_GROUP}, {"mode", V_STRING},
    {NULL, 0},
};

static const struct setting_spec tls_specs[] = {
    {"cert", V_STRING}, {"key", V_STRING}, {"ca", V_STRING},
    {"verify_client", V_STRING}, {NULL, 0},
};

static const struct setting_spec limits_specs[] = {
    {"max_message_size", V_INT}, {"auth_timeout_ms", V_INT},
    {"max_clients", V_INT}, {"max_connections_per_client", V_INT},
    {"output_high_water", V_INT}, {"tcp_keepalive_s", V_INT},
    {"output_low_water", V_INT}, {"output_hard_limit", V_INT},
    {"auth_failures_max", V_INT}, {"auth_block_s", V_INT},
    {"auth_failures_per_name_max", V_INT},
    {"auth_throttle_exempt", V_ARRAY},
    {"slow_consumer_timeout_ms", V_INT},
    {"max_clients_per_address", V_INT},
    {"max_unauthenticated", V_INT},
    {"max_unauthenticated_per_address", V_INT},
    {"max_auth_message_size", V_INT},
    {"max_connections_per_pair", V_INT},
    {"bad_messages_max", V_INT},
    {"auth_workers", V_INT}, {"auth_queue_max", V_INT},
    {"auth_queue_per_source", V_INT},
    {NULL, 0},
};

static const struct setting_spec log_specs[] = {
    {"level", V_STRING}, {"syslog", V_BOOL}, {"facility", V_STRING},
    {"client_lines_per_s", V_INT}, {"lines_per_s", V_INT},
    {NULL, 0},
};

static const char *const kind_names[] = {
    [V_STRING] = "a string",
    [V_INT] = "an integer",
    [V_BOOL] = "true or false",
    [V_GROUP] = "a group { ... }",
    [V_LIST] = "a list ( { ... }, ... )",
    [V_ARRAY] = "an array of strings [ \"...\", ... ]",
};

/* ------------------------------------------------------------------------
 * Error reporting
 */

void conf_setting_path(const config_setting_t *s, char *buf, size_t len)
{
    const config_setting_t *parent = config_setting_parent(s);
    const char *name = config_setting_name(s);
    size_t used;

    buf[0] = '\0';
    if (parent == NULL)
        return;
    conf_setting_path(parent, buf, len);
    used = strlen(buf);
    if (name != NULL)
        snprintf(buf + used, len - used, "%s%s", used ? "." : "", name);
    else
        snprintf(buf + used, len - used, "[%d]", config_setting_index(s));
}

void conf_setting_error(struct errors *errs, const config_setting_t *s,
                        const char *fmt, ...)
{
    char path[256];
    char message[512];
    va_list ap;

    conf_setting_path(s, path, sizeof path);
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (path[0] != '\0')
        errors_add(errs, config_setting_source_file(s),
                   (int)config_setting_source_line(s), "%s: %s", path,
                   message);
    else
        errors_add(errs, config_setting_source_file(s),
                   (int)config_setting_source_line(s), "%s", message);
}

const config_setting_t *conf_member_or_group(const config_setting_t *group,
                                             const char *name)
{
    const config_setting_t *s = config_setting_get_member(group, name);

    return s != NULL ? s : group;
}

/* ------------------------------------------------------------------------
 * Schema checks
 */

static bool has_kind(const config_setting_t *s, enum value_kind kind)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: return kind == V_STRING;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return kind == V_INT;
    case CONFIG_TYPE_BOOL: return kind == V_BOOL;
    case CONFIG_TYPE_GROUP: return kind == V_GROUP;
    case CONFIG_TYPE_LIST: return kind == V_LIST;
    case CONFIG_TYPE_ARRAY: return kind == V_ARRAY;
    default: return false;
    }
}

static const struct setting_spec *find_spec(const struct setting_spec *specs,
                                            const char *name)
{
    for (; specs->name != NULL; specs++) {
        if (strcmp(specs->name, name) == 0)
            return specs;
    }
    return NULL;
}

/* Report unknown members of `group` and members of the wrong type. */
static void check_members(const config_setting_t *group,
                          const struct setting_spec *specs,
                          struct errors *errs)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const struct setting_spec *spec = find_spec(specs, config_setting_name(s));

        if (spec == NULL)
            conf_setting_error(errs, s, "unknown setting '%s'",
                               config_setting_name(s));
        else if (!has_kind(s, spec->kind))
            conf_setting_error(errs, s, "expected %s", kind_names[spec->kind]);
    }
}

/* The member `name` of `group` if present with the right kind, else NULL
 * (check_members has already reported a wrong kind). */
static const config_setting_t *member(const config_setting_t *group,
                                      const char *name, enum value_kind kind)
{
    const config_setting_t *s;

    if (group == NULL)
        return NULL;
    s = config_setting_get_member(group, name);
    return s != NULL && has_kind(s, kind) ? s : NULL;
}

static const char *string_member(const config_setting_t *group,
                                 const char *name)
{
    const config_setting_t *s = member(group, name, V_STRING);

    return s != NULL ? config_setting_get_string(s) : NULL;
}

/* Read an integer member into *out if present, checking [min, max]. */
static void int_member(const config_setting_t *group, const char *name,
                       long long min, long long max, long long *out,
                       struct errors *errs)
{
    const config_setting_t *s = member(group, name, V_INT);
    long long v;

    if (s == NULL)
        return;
    v = config_setting_get_int64(s);
    if (v < min || v > max) {
        conf_setting_error(errs, s, "must be between %lld and %lld", min, max);
        return;
    }
    *out = v;
}

static const char *required_string(const config_setting_t *entry,
                                   const char *name, struct errors *errs)
{
    const char *value = string_member(entry, name);

    if (value == NULL && config_setting_get_member(entry, name) == NULL)
        conf_setting_error(errs, entry, "missing required setting '%s'", name);
    else if (value != NULL && value[0] == '\0')
        conf_setting_error(errs, config_setting_get_member(entry, name),
                           "must not be empty");
    return value != NULL && value[0] != '\0' ? value : NULL;
}

/* ------------------------------------------------------------------------
 * Sections
 */

/* Check that `list` holds only groups; returns its length (0 if absent). */
static size_t list_of_groups(const config_setting_t *list, struct errors *errs)
{
    int n;
    size_t groups = 0;

    if (list == NULL)
        return 0;
    n = config_setting_length(list);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            conf_setting_error(errs, e, "expected a group { ... }");
        else
            groups++;
    }
    return (size_t)n;
}

static void read_plugin_entries(const config_setting_t *list,
                                const struct setting_spec *specs,
                                bool named, struct plugin_conf **out,
                                size_t *count, struct errors *errs)
{
    size_t n = list_of_groups(list, errs);

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
        check_members(e, specs, errs);
        p = &(*out)[(*count)++];
        p->entry = e;
        p->module = required_string(e, "module", errs);
        p->options = member(e, "options", V_GROUP);
        if (named)
            p->name = required_string(e, "name", errs);
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

static bool translator_known(const struct broker_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->n_translators; i++) {
        if (conf->translators[i].name != NULL &&
            strcmp(conf->translators[i].name, name) == 0)
            return true;
    }
    return false;
}

/* A file path setting of the tls group: required or not, absolute. */
static const char *tls_path(const config_setting_t *g, const char *name,
                            bool required, struct errors *errs)
{
    const char *path = required ? required_string(g, name, errs)
                                : string_member(g, name);

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
    const char *verify = string_member(g, "verify_client");
    bool known = verify == NULL;

    check_members(g, tls_specs, errs);
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
    const config_setting_t *s = member(e, "mode", V_STRING);
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

static void read_listener(const config_setting_t *e, struct listener_conf *l,
                          const struct broker_conf *conf, struct errors *errs)
{
    long long port = CONF_DEFAULT_PORT;
    const config_setting_t *tr = member(e, "translator", V_STRING);

    check_members(e, listener_specs, errs);
    l->entry = e;
    l->address = string_member(e, "address");
    l->unix_path = string_member(e, "unix");
    int_member(e, "port", 0, 65535, &port, errs);
    l->port = (int)port;
    l->translator = tr != NULL ? config_setting_get_string(tr) : "auto";
    if (member(e, "tls", V_GROUP) != NULL)
        read_tls(member(e, "tls", V_GROUP), &l->tls, errs);
    read_unix_mode(e, l, errs);
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
    } else if (!translator_known(conf, l->translator)) {
        conf_setting_error(errs, tr, "no translator named \"%s\" (defined: "
                                     "see 'translators')", l->translator);
    }
}

static void read_listeners(struct broker_conf *conf,
                           const config_setting_t *list, struct errors *errs)
{
    size_t n = list_of_groups(list, errs);

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

/* limits.auth_workers, the hashing threads (broker/work_pool.h): not a
 * row of int_limits, as a reload cannot change it. */
static void read_auth_workers(struct broker_conf *conf,
                              const config_setting_t *g, struct errors *errs)
{
    long long workers = CONF_DEFAULT_AUTH_WORKERS;

    if (g != NULL)
        int_member(g, "auth_workers", 1, WORK_POOL_WORKERS_MAX, &workers, errs);
    conf->auth_workers = (unsigned)workers;
}

/* limits.auth_throttle_exempt: address ranges the login throttle leaves
 * alone (auth_throttle.h). Absent: none. */
static void read_throttle_exempt(struct broker_conf *conf,
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

/*
 * The integer members of `limits` that stand alone: name, range, default
 * and where the value goes. A new limit is a row here (and in
 * limits_specs); reloads report a change of any row (conf_limit_changes).
 */
struct int_limit {
    const char *name;
    long long min, max, def;
    size_t offset;  /* in struct broker_conf */
    bool is_size;   /* a size_t member, else unsigned */
};

#define AS_UNSIGNED(field) offsetof(struct broker_conf, field), false
#define AS_SIZE(field) offsetof(struct broker_conf, field), true

static const struct int_limit int_limits[] = {
    /* 256 bytes holds any header with short names; 1 GiB keeps the
     * binary length prefix and buffer arithmetic far from overflow. */
    {"max_message_size", 256, 1LL << 30, CONF_DEFAULT_MAX_MESSAGE_SIZE,
     AS_SIZE(max_message_size)},
    {"auth_timeout_ms", 1, 3600000, CONF_DEFAULT_AUTH_TIMEOUT_MS,
     AS_UNSIGNED(auth_timeout_ms)},
    {"max_clients", 1, 10000000, CONF_DEFAULT_MAX_CLIENTS,
     AS_UNSIGNED(max_clients)},
    {"max_connections_per_client", 1, 10000000,
     CONF_DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
     AS_SIZE(max_connections_per_client)},
    {"tcp_keepalive_s", 0, 86400, CONF_DEFAULT_TCP_KEEPALIVE_S,
     AS_UNSIGNED(tcp_keepalive_s)},
    {"output_high_water", 1024, 1LL << 32, CONF_DEFAULT_OUTPUT_HIGH_WATER,
     AS_SIZE(output_high_water)},
    {"output_low_water", 0, 1LL << 32, CONF_DEFAULT_OUTPUT_LOW_WATER,
     AS_SIZE(output_low_water)},
    {"output_hard_limit", 1024, 1LL << 40, CONF_DEFAULT_OUTPUT_HARD_LIMIT,
     AS_SIZE(output_hard_limit)},
    {"auth_failures_max", 0, 1000000, CONF_DEFAULT_AUTH_FAILURES_MAX,
     AS_UNSIGNED(auth_failures_max)},
    {"auth_failures_per_name_max", 0, 1000000,
     CONF_DEFAULT_AUTH_FAILURES_PER_NAME_MAX,
     AS_UNSIGNED(auth_failures_per_name_max)},
    {"auth_block_s", 1, 86400, CONF_DEFAULT_AUTH_BLOCK_S,
     AS_UNSIGNED(auth_block_s)},
    {"slow_consumer_timeout_ms", 0, 3600000,
     CONF_DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
     AS_UNSIGNED(slow_consumer_timeout_ms)},
    {"max_clients_per_address", 0, 10000000,
     CONF_DEFAULT_MAX_CLIENTS_PER_ADDRESS,
     AS_UNSIGNED(max_clients_per_address)},
    {"max_unauthenticated", 1, 10000000, CONF_DEFAULT_MAX_UNAUTHENTICATED,
     AS_UNSIGNED(max_unauthenticated)},
    {"max_unauthenticated_per_address", 0, 10000000,
     CONF_DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
     AS_UNSIGNED(max_unauthenticated_per_address)},
    /* 256 bytes: an Auth with a short name and secret in any format. */
    {"max_auth_message_size", 256, 1LL << 30,
     CONF_DEFAULT_MAX_AUTH_MESSAGE_SIZE, AS_SIZE(max_auth_message_size)},
    {"max_connections_per_pair", 1, 10000000,
     CONF_DEFAULT_MAX_CONNECTIONS_PER_PAIR,
     AS_SIZE(max_connections_per_pair)},
    {"bad_messages_max", 0, 10000000, CONF_DEFAULT_BAD_MESSAGES_MAX,
     AS_UNSIGNED(bad_messages_max)},
    {"auth_queue_max", 1, 1000000, CONF_DEFAULT_AUTH_QUEUE_MAX,
     AS_UNSIGNED(auth_queue_max)},
    {"auth_queue_per_source", 1, 1000000, CONF_DEFAULT_AUTH_QUEUE_PER_SOURCE,
     AS_UNSIGNED(auth_queue_per_source)},
};

static unsigned long long limit_value(const struct broker_conf *conf,
                                      const struct int_limit *l)
{
    const char *field = (const char *)conf + l->offset;

    return l->is_size ? *(const size_t *)(const void *)field
                      : *(const unsigned *)(const void *)field;
}

static void set_limit(struct broker_conf *conf, const struct int_limit *l,
                      long long v)
{
    char *field = (char *)conf + l->offset;

    if (l->is_size)
        *(size_t *)(void *)field = (size_t)v;
    else
        *(unsigned *)(void *)field = (unsigned)v;
}

void conf_limit_changes(const struct broker_conf *old,
                        const struct broker_conf *new,
                        void (*changed)(const char *name,
                                        unsigned long long from,
                                        unsigned long long to, void *arg),
                        void *arg)
{
    for (size_t i = 0; i < sizeof int_limits / sizeof int_limits[0]; i++) {
        unsigned long long from = limit_value(old, &int_limits[i]);
        unsigned long long to = limit_value(new, &int_limits[i]);
        if (from != to)
            changed(int_limits[i].name, from, to, arg);
    }
}

static void read_limits(struct broker_conf *conf, const config_setting_t *g,
                        struct errors *errs)
{
    if (g != NULL)
        check_members(g, limits_specs, errs);
    for (size_t i = 0; i < sizeof int_limits / sizeof int_limits[0]; i++) {
        const struct int_limit *l = &int_limits[i];
        long long v = l->def;
        if (g != NULL)
            int_member(g, l->name, l->min, l->max, &v, errs);
        set_limit(conf, l, v);
    }
    if (g != NULL)
        check_output_limits(g, (long long)conf->max_message_size,
                            (long long)conf->output_high_water,
                            (long long)conf->output_low_water,
                            (long long)conf->output_hard_limit, errs);
    /* An Auth is a message too: never more than max_message_size. */
    if (conf->max_auth_message_size > conf->max_message_size)
        conf->max_auth_message_size = conf->max_message_size;
    read_auth_workers(conf, g, errs);
    read_throttle_exempt(conf, member(g, "auth_throttle_exempt", V_ARRAY),
                         errs);
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

bool conf_same_throttle_exempt(const struct broker_conf *old,
                               const struct broker_conf *new)
{
    return old->n_auth_throttle_exempt == new->n_auth_throttle_exempt &&
           (old->n_auth_throttle_exempt == 0 ||
            memcmp(old->auth_throttle_exempt, new->auth_throttle_exempt,
                   old->n_auth_throttle_exempt *
                       sizeof *old->auth_throttle_exempt) == 0);
}

static void read_duplicate_names(struct broker_conf *conf,
                                 const config_setting_t *root,
                                 struct errors *errs)
{
    const config_setting_t *s = member(root, "duplicate_names", V_STRING);
    const char *v = s ? config_setting_get_string(s) : "replace";

    if (strcmp(v, "replace") == 0)
        conf->duplicate_names = DUPLICATE_REPLACE;
    else if (strcmp(v, "reject") == 0)
        conf->duplicate_names = DUPLICATE_REJECT;
    else
        conf_setting_error(errs, s, "must be \"replace\" or \"reject\"");
}

static void read_identity(struct broker_conf *conf,
                          const config_setting_t *root, struct errors *errs)
{
    const config_setting_t *allow = member(root, "allow_root", V_BOOL);

    conf->user = string_member(root, "user");
    conf->group = string_member(root, "group");
    if (conf->user != NULL && conf->user[0] == '\0')
        conf_setting_error(errs, config_setting_get_member(root, "user"),
                           "must not be empty");
    if (conf->group != NULL && conf->group[0] == '\0')
        conf_setting_error(errs, config_setting_get_member(root, "group"),
                           "must not be empty");
    conf->allow_root = allow != NULL && config_setting_get_bool(allow);
}

static void read_shutdown_timeout(struct broker_conf *conf,
                                  const config_setting_t *root,
                                  struct errors *errs)
{
    long long ms = CONF_DEFAULT_SHUTDOWN_TIMEOUT_MS;

    int_member(root, "shutdown_timeout_ms", 0, 3600000, &ms, errs);
    conf->shutdown_timeout_ms = (unsigned)ms;
}

static void read_metrics(struct broker_conf *conf, const config_setting_t *g,
                         struct errors *errs)
{
    const char *address;
    long long port = CONF_DEFAULT_METRICS_PORT;
    long long max_conns = CONF_DEFAULT_METRICS_MAX_CONNECTIONS;
    long long timeout_ms = CONF_DEFAULT_METRICS_TIMEOUT_MS;
    long long max_header = CONF_DEFAULT_METRICS_MAX_HEADER_SIZE;

    if (g == NULL)
        return;
    check_members(g, metrics_specs, errs);
    address = string_member(g, "address");
    int_member(g, "port", 0, 65535, &port, errs);
    int_member(g, "max_connections", 1, 4096, &max_conns, errs);
    int_member(g, "timeout_ms", 100, 3600000, &timeout_ms, errs);
    /* Below 1 KiB a browser's or a proxy's request may not fit. */
    int_member(g, "max_header_size", 1024, 1 << 20, &max_header, errs);
    conf->metrics.entry = g;
    conf->metrics.address = address ? address : CONF_DEFAULT_METRICS_ADDRESS;
    conf->metrics.port = (int)port;
    conf->metrics.max_connections = (unsigned)max_conns;
    conf->metrics.timeout_ms = (unsigned)timeout_ms;
    conf->metrics.max_header_size = (size_t)max_header;
}

static void read_log(struct broker_conf *conf, const config_setting_t *g,
                     struct errors *errs)
{
    const config_setting_t *level, *syslog_on, *facility;
    long long client_rate = CONF_DEFAULT_LOG_CLIENT_LINES_PER_S;
    long long rate = CONF_DEFAULT_LOG_LINES_PER_S;

    conf->log_level = MP_LOG_INFO;
    conf->log_syslog = false;
    conf->log_client_lines_per_s = (unsigned)client_rate;
    conf->log_lines_per_s = (unsigned)rate;
    mp_log_facility_parse("daemon", &conf->log_facility);
    if (g == NULL)
        return;
    check_members(g, log_specs, errs);
    int_member(g, "client_lines_per_s", 0, 1000000, &client_rate, errs);
    int_member(g, "lines_per_s", 0, 1000000, &rate, errs);
    conf->log_client_lines_per_s = (unsigned)client_rate;
    conf->log_lines_per_s = (unsigned)rate;
    level = member(g, "level", V_STRING);
    if (level != NULL &&
        mp_log_level_parse(config_setting_get_string(level),
                                &conf->log_level) != 0)
        conf_setting_error(errs, level, "must be one of error, warning, "
                                        "notice, info, debug");
    syslog_on = member(g, "syslog", V_BOOL);
    if (syslog_on != NULL)
        conf->log_syslog = config_setting_get_bool(syslog_on) != 0;
    facility = member(g, "facility", V_STRING);
    if (facility != NULL &&
        mp_log_facility_parse(config_setting_get_string(facility),
                              &conf->log_facility) != 0)
        conf_setting_error(errs, facility, "must be daemon, user, auth or "
                                           "local0 to local7");
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
    check_members(root, top_specs, errs);
    if (string_member(root, "plugin_dir") != NULL)
        conf->plugin_dir = string_member(root, "plugin_dir");

    if (config_setting_get_member(root, "translators") == NULL)
        default_translators(conf, root, errs);
    else
        read_plugin_entries(member(root, "translators", V_LIST),
                            translator_specs, true, &conf->translators,
                            &conf->n_translators, errs);
    check_translator_names(conf, errs);
    read_plugin_entries(member(root, "authenticators", V_LIST),
                        authenticator_specs, false, &conf->authenticators,
                        &conf->n_authenticators, errs);
    if (conf->n_authenticators == 0 &&
        config_setting_get_member(root, "authenticators") == NULL)
        errors_add(errs, file, 0,
                   "missing required setting 'authenticators' (to let every "
                   "client in, name auth_allow_all.so explicitly)");
    else if (conf->n_authenticators == 0 && member(root, "authenticators", V_LIST))
        conf_setting_error(errs, member(root, "authenticators", V_LIST),
                           "no authenticators defined");
    read_listeners(conf, member(root, "listeners", V_LIST), errs);
    read_limits(conf, member(root, "limits", V_GROUP), errs);
    read_duplicate_names(conf, root, errs);
    read_log(conf, member(root, "log", V_GROUP), errs);
    read_shutdown_timeout(conf, root, errs);
    read_identity(conf, root, errs);
    read_metrics(conf, member(root, "metrics", V_GROUP), errs);

    return errs->count + errs->unrecorded > errors_before ? -1 : 0;
}

void conf_free(struct broker_conf *conf)
{
    free(conf->auth_throttle_exempt);
    free(conf->translators);
    free(conf->authenticators);
    free(conf->listeners);
    config_destroy(&conf->tree);
    memset(conf, 0, sizeof *conf);
}

/* ------------------------------------------------------------------------
 * The schema as a list of settings, for documentation checks
 * (tests/unit/test_man_conf.c keeps mpbroker.conf(5) in sync with it).
 */

/* Where each table above applies, by dotted path ("" is the file's top
 * level; list entries' members are LIST.MEMBER). A table added above must
 * be added here too: a group or list that is neither here nor free-form is
 * reported to conf_each_setting()'s callback with a NULL type. */
static const struct {
    const char *path;
    const struct setting_spec *specs;
} conf_doc_tables[] = {
    {"", top_specs},
    {"translators", translator_specs},
    {"authenticators", authenticator_specs},
    {"listeners", listener_specs},
    {"listeners.tls", tls_specs},
    {"limits", limits_specs},
    {"log", log_specs},
    {"metrics", metrics_specs},
};

/* Groups whose members belong to a plugin (checked by plugin_loader.c
 * against the options the plugin asks for), not to this schema. */
static const char *const conf_doc_free_form[] = {
    "translators.options",
    "authenticators.options",
};

static const char *const conf_doc_type_names[] = {
    [V_STRING] = "string",
    [V_INT] = "integer",
    [V_BOOL] = "bool",
    [V_GROUP] = "group",
    [V_LIST] = "list",
    [V_ARRAY] = "array",
};

static const struct setting_spec *conf_doc_table(const char *path)
{
    for (size_t i = 0; i < sizeof conf_doc_tables / sizeof conf_doc_tables[0];
         i++) {
        if (strcmp(conf_doc_tables[i].path, path) == 0)
            return conf_doc_tables[i].specs;
    }
    return NULL;
}

static bool conf_doc_is_free_form(const char *path)
{
    for (size_t i = 0;
         i < sizeof conf_doc_free_form / sizeof conf_doc_free_form[0]; i++) {
        if (strcmp(conf_doc_free_form[i], path) == 0)
            return true;
    }
    return false;
}

static void conf_doc_walk(const char *prefix, const struct setting_spec *specs,
                          void (*fn)(const char *path, const char *type,
                                     void *arg),
                          void *arg)
{
    for (; specs->name != NULL; specs++) {
        char path[256];
        const struct setting_spec *members;

        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
                 specs->name);
        if (specs->kind != V_GROUP && specs->kind != V_LIST) {
            fn(path, conf_doc_type_names[specs->kind], arg);
            continue;
        }
        members = conf_doc_table(path);
        if (members == NULL && !conf_doc_is_free_form(path)) {
            fn(path, NULL, arg);
            continue;
        }
        fn(path, conf_doc_type_names[specs->kind], arg);
        if (members != NULL)
            conf_doc_walk(path, members, fn, arg);
    }
}

void conf_each_setting(void (*fn)(const char *path, const char *type,
                                  void *arg),
                       void *arg)
{
    conf_doc_walk("", top_specs, fn, arg);
}
