/*
 * conf_schema.c - the generic reader that the schema table drives (see
 * conf_schema.h; the rows are in conf_table.c).
 *
 * A first pass per group reports unknown settings and wrong types;
 * reading then takes only well-typed settings, so one mistake produces
 * one error, and every mistake is reported.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf_schema.h"

/* Each kind as errors say it ("expected a string") and as the list of
 * settings names it (conf_each_setting). */
static const struct {
    const char *expected;
    const char *type;
} kinds[] = {
    [CONF_STRING] = {"a string", "string"},
    [CONF_INT] = {"an integer", "integer"},
    [CONF_BOOL] = {"true or false", "bool"},
    [CONF_GROUP] = {"a group { ... }", "group"},
    [CONF_LIST] = {"a list ( { ... }, ... )", "list"},
    [CONF_ARRAY] = {"an array of strings [ \"...\", ... ]", "array"},
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
 * Rows
 */

const struct conf_row *conf_row_find(const char *path)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        if (strcmp(conf_rows[i].path, path) == 0)
            return &conf_rows[i];
    }
    return NULL;
}

const char *conf_row_name(const struct conf_row *row)
{
    const char *dot = strrchr(row->path, '.');

    return dot != NULL ? dot + 1 : row->path;
}

/* Is `row` a member of the group or list at `prefix`? */
static bool row_in(const struct conf_row *row, const char *prefix)
{
    size_t n = strlen(prefix);

    if (n == 0)
        return strchr(row->path, '.') == NULL;
    return strncmp(row->path, prefix, n) == 0 && row->path[n] == '.' &&
           strchr(row->path + n + 1, '.') == NULL;
}

static const struct conf_row *member_row(const char *prefix, const char *name)
{
    char path[256];

    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
             name);
    return conf_row_find(path);
}

/* ------------------------------------------------------------------------
 * Typed access to the tree
 */

static bool has_kind(const config_setting_t *s, enum conf_kind kind)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: return kind == CONF_STRING;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return kind == CONF_INT;
    case CONFIG_TYPE_BOOL: return kind == CONF_BOOL;
    case CONFIG_TYPE_GROUP: return kind == CONF_GROUP;
    case CONFIG_TYPE_LIST: return kind == CONF_LIST;
    case CONFIG_TYPE_ARRAY: return kind == CONF_ARRAY;
    default: return false;
    }
}

void conf_check_members(const config_setting_t *group, const char *prefix,
                        struct errors *errs)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s =
            config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct conf_row *row = member_row(prefix, name);

        if (row == NULL)
            conf_setting_error(errs, s, "unknown setting '%s'", name);
        else if (!has_kind(s, row->kind))
            conf_setting_error(errs, s, "expected %s",
                               kinds[row->kind].expected);
    }
}

const config_setting_t *conf_member(const config_setting_t *group,
                                    const char *name, enum conf_kind kind)
{
    const config_setting_t *s;

    if (group == NULL)
        return NULL;
    s = config_setting_get_member(group, name);
    return s != NULL && has_kind(s, kind) ? s : NULL;
}

const char *conf_string_member(const config_setting_t *group,
                               const char *name)
{
    const config_setting_t *s = conf_member(group, name, CONF_STRING);

    return s != NULL ? config_setting_get_string(s) : NULL;
}

const char *conf_required_string(const config_setting_t *entry,
                                 const char *name, struct errors *errs)
{
    const char *value = conf_string_member(entry, name);

    if (value == NULL && config_setting_get_member(entry, name) == NULL)
        conf_setting_error(errs, entry, "missing required setting '%s'", name);
    else if (value != NULL && value[0] == '\0')
        conf_setting_error(errs, config_setting_get_member(entry, name),
                           "must not be empty");
    return value != NULL && value[0] != '\0' ? value : NULL;
}

static long long row_int(const config_setting_t *group,
                         const struct conf_row *row, struct errors *errs)
{
    const config_setting_t *s = conf_member(group, conf_row_name(row),
                                            CONF_INT);
    long long v;

    if (s == NULL)
        return row->def;
    v = config_setting_get_int64(s);
    if (v < row->min || v > row->max) {
        conf_setting_error(errs, s, "must be between %lld and %lld",
                           row->min, row->max);
        return row->def;
    }
    return v;
}

long long conf_int(const config_setting_t *group, const char *path,
                   struct errors *errs)
{
    const struct conf_row *row = conf_row_find(path);

    return row != NULL ? row_int(group, row, errs) : 0;
}

size_t conf_list_of_groups(const config_setting_t *list, struct errors *errs)
{
    int n;

    if (list == NULL)
        return 0;
    n = config_setting_length(list);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            conf_setting_error(errs, e, "expected a group { ... }");
    }
    return (size_t)n;
}

/* ------------------------------------------------------------------------
 * Reading the stored rows
 */

/* The group at dotted `prefix` ("" is the top level), NULL if absent. */
static const config_setting_t *group_at(const struct broker_conf *conf,
                                        const char *prefix)
{
    const config_setting_t *g = config_root_setting(&conf->tree);
    char name[128];

    while (g != NULL && prefix[0] != '\0') {
        size_t n = strcspn(prefix, ".");

        snprintf(name, sizeof name, "%.*s", (int)n, prefix);
        g = conf_member(g, name, CONF_GROUP);
        prefix += prefix[n] == '.' ? n + 1 : n;
    }
    return g;
}

static void *field_of(struct broker_conf *conf, const struct conf_row *row)
{
    return (char *)conf + row->offset;
}

static void read_string(struct broker_conf *conf, const struct conf_row *row,
                        const config_setting_t *group, struct errors *errs)
{
    const config_setting_t *s = conf_member(group, conf_row_name(row),
                                            CONF_STRING);
    const char *text = s != NULL ? config_setting_get_string(s)
                                 : row->def_text;

    if (row->store == CONF_STORE_STRING) {
        *(const char **)field_of(conf, row) = text;
        if (s != NULL && (row->flags & CONF_NONEMPTY) && text[0] == '\0')
            conf_setting_error(errs, s, "must not be empty");
        return;
    }
    /* Parsed: the default first, so that a bad value leaves it. */
    if (row->def_text != NULL)
        row->parse(row->def_text, field_of(conf, row));
    if (s != NULL && row->parse(text, field_of(conf, row)) != 0)
        conf_setting_error(errs, s, "%s", row->must);
}

static void read_row(struct broker_conf *conf, const struct conf_row *row,
                     const config_setting_t *group, struct errors *errs)
{
    const config_setting_t *s;

    if (row->read != NULL) {
        row->read(conf, conf_member(group, conf_row_name(row), row->kind),
                  errs);
        return;
    }
    switch (row->store) {
    case CONF_STORE_NONE:
        break;
    case CONF_STORE_UNSIGNED:
        *(unsigned *)field_of(conf, row) = (unsigned)row_int(group, row, errs);
        break;
    case CONF_STORE_SIZE:
        *(size_t *)field_of(conf, row) = (size_t)row_int(group, row, errs);
        break;
    case CONF_STORE_BOOL:
        s = conf_member(group, conf_row_name(row), CONF_BOOL);
        *(bool *)field_of(conf, row) =
            s != NULL ? config_setting_get_bool(s) != 0 : row->def != 0;
        break;
    case CONF_STORE_STRING:
    case CONF_STORE_PARSED:
        read_string(conf, row, group, errs);
        break;
    }
}

void conf_read_section(struct broker_conf *conf, const char *prefix,
                       struct errors *errs)
{
    const config_setting_t *group = group_at(conf, prefix);
    const struct conf_row *self = prefix[0] ? conf_row_find(prefix) : NULL;

    if (group != NULL && self != NULL)
        conf_check_members(group, prefix, errs);
    if (group == NULL && self != NULL && (self->flags & CONF_ONLY_IF_PRESENT))
        return;
    for (size_t i = 0; i < conf_n_rows; i++) {
        if (row_in(&conf_rows[i], prefix))
            read_row(conf, &conf_rows[i], group, errs);
    }
}

/* ------------------------------------------------------------------------
 * Reloads
 */

/* A stored value as the reload report writes it. */
static void value_text(const struct broker_conf *conf,
                       const struct conf_row *row, char *buf, size_t len)
{
    const void *field = (const char *)conf + row->offset;
    const char *s;

    switch (row->store) {
    case CONF_STORE_UNSIGNED:
        snprintf(buf, len, "%u", *(const unsigned *)field);
        break;
    case CONF_STORE_SIZE:
        snprintf(buf, len, "%zu", *(const size_t *)field);
        break;
    case CONF_STORE_BOOL:
        snprintf(buf, len, "%s", *(const bool *)field ? "on" : "off");
        break;
    case CONF_STORE_STRING:
        s = *(const char *const *)field;
        /* NULL (absent, no default) is not "": tell them apart. */
        if (s != NULL)
            snprintf(buf, len, "\"%s\"", s);
        else
            snprintf(buf, len, "(none)");
        break;
    case CONF_STORE_PARSED:
        snprintf(buf, len, "%s", row->name != NULL ? row->name(field) : "");
        break;
    case CONF_STORE_NONE:
        buf[0] = '\0';
        break;
    }
}

/* Does the row's value differ? Its two texts, for the report. */
static bool differs(const struct broker_conf *old,
                    const struct broker_conf *new,
                    const struct conf_row *row, char *from, char *to,
                    size_t len)
{
    const char *const *a = (const void *)((const char *)old + row->offset);
    const char *const *b = (const void *)((const char *)new + row->offset);

    value_text(old, row, from, len);
    value_text(new, row, to, len);
    /* Paths may be longer than the texts: compare strings whole. */
    if (row->store == CONF_STORE_STRING)
        return (*a == NULL) != (*b == NULL) ||
               (*a != NULL && strcmp(*a, *b) != 0);
    return strcmp(from, to) != 0;
}

void conf_each_change(const struct broker_conf *old,
                      const struct broker_conf *new,
                      void (*fn)(const char *text, void *arg), void *arg)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *row = &conf_rows[i];
        const char *name = row->log_name ? row->log_name : row->path;
        char from[128], to[128], text[320];

        if (row->changed != NULL) {
            if (row->changed(old, new, text, sizeof text))
                fn(text, arg);
            continue;
        }
        if ((row->reload != CONF_RELOAD_REPORT &&
             row->reload != CONF_RELOAD_REPORT_NEW) ||
            !differs(old, new, row, from, to, sizeof from))
            continue;
        if (row->reload == CONF_RELOAD_REPORT)
            snprintf(text, sizeof text, "%s %s -> %s", name, from, to);
        else
            snprintf(text, sizeof text, "%s %s", name, to);
        fn(text, arg);
    }
}

/* The setting `path` of conf's file, or its nearest enclosing group
 * there: where an error about it should point. */
static const config_setting_t *setting_at(const struct broker_conf *conf,
                                          const char *path)
{
    const config_setting_t *at = config_root_setting(&conf->tree);
    char name[128];

    while (path[0] != '\0') {
        size_t n = strcspn(path, ".");

        snprintf(name, sizeof name, "%.*s", (int)n, path);
        at = conf_member_or_group(at, name);
        path += path[n] == '.' ? n + 1 : n;
    }
    return at;
}

void conf_check_restart(const struct broker_conf *old,
                        const struct broker_conf *new, struct errors *errs)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *row = &conf_rows[i];
        char from[128], to[128];

        if (row->reload == CONF_RELOAD_RESTART &&
            differs(old, new, row, from, to, sizeof from))
            conf_setting_error(errs, setting_at(new, row->path), "%s",
                               row->restart);
    }
}

/* ------------------------------------------------------------------------
 * The schema as a list of settings, for documentation checks
 */

static bool has_members(const struct conf_row *row)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        if (row_in(&conf_rows[i], row->path))
            return true;
    }
    return false;
}

void conf_each_setting(void (*fn)(const char *path, const char *type,
                                  void *arg),
                       void *arg)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *row = &conf_rows[i];
        bool container = row->kind == CONF_GROUP || row->kind == CONF_LIST;

        if (container && !(row->flags & CONF_FREE_FORM) && !has_members(row))
            fn(row->path, NULL, arg);
        else
            fn(row->path, kinds[row->kind].type, arg);
    }
}
