/*
 * conf_schema.h - the broker's config schema as one table (conf_table.c)
 * and the generic reader that the table drives (conf_schema.c).
 *
 * Every setting the file may hold is one row: its dotted path, its type,
 * and for a value the broker keeps in struct broker_conf, its range,
 * default, where it goes and what a reload does with a change. From the
 * rows come the type and unknown-setting checks, the range checks, the
 * defaults, the reload report and the restart-only refusals, and the list
 * of settings that mpbroker.conf(5) must document (tests/unit/
 * test_man_conf.c). conf.c and its section readers (conf_plugins.c,
 * conf_listeners.c) handle what is not one value: lists of entries and
 * checks across settings.
 *
 * Ownership: the table is static and constant; nothing here allocates
 * except a row's own `read` hook (into the conf, freed by conf_free()).
 */
#ifndef MP_BROKER_CONF_SCHEMA_H
#define MP_BROKER_CONF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

#include "conf.h"
#include "errors.h"

/* CONF_ARRAY: an array of strings, [ "a", "b" ]. */
enum conf_kind {
    CONF_STRING, CONF_INT, CONF_BOOL, CONF_GROUP, CONF_LIST, CONF_ARRAY,
};

/* Where a row's value goes (at `offset` in struct broker_conf). */
enum conf_store {
    CONF_STORE_NONE,     /* read by its section's code (conf.c, ...) */
    CONF_STORE_UNSIGNED, /* unsigned */
    CONF_STORE_SIZE,     /* size_t */
    CONF_STORE_BOOL,     /* bool */
    CONF_STORE_STRING,   /* const char *, into the libconfig tree */
    CONF_STORE_PARSED,   /* the row's parse() writes it */
};

/* What a reload does when the value differs from the running one. */
enum conf_reload {
    CONF_RELOAD_QUIET,   /* takes it without a word (or another row says) */
    CONF_RELOAD_REPORT,  /* "NAME FROM -> TO" in the reload's log line */
    CONF_RELOAD_REPORT_NEW, /* "NAME TO" */
    CONF_RELOAD_RESTART, /* refuses the reload with the row's `restart` */
};

/* Row flags. */
#define CONF_NONEMPTY 0x1u  /* a string: "" is an error */
#define CONF_FREE_FORM 0x2u /* a group whose members are a plugin's */
#define CONF_ONLY_IF_PRESENT 0x4u /* a group: without it, its members'
                                     fields stay zero (no defaults) */

struct conf_row {
    const char *path;     /* "limits.max_clients"; a member of a list's
                             entries is LIST.MEMBER ("listeners.port") */
    enum conf_kind kind;
    unsigned flags;
    long long min, max;   /* integers: the accepted range */
    long long def;        /* integers and bools: the default */
    const char *def_text; /* strings: the default, or NULL */
    enum conf_store store;
    size_t offset;        /* in struct broker_conf, if stored */
    /* CONF_STORE_PARSED: text -> *field; -1 if the text is not one of
     * the values, reported as `must`. name(): the value, for reports. */
    int (*parse)(const char *text, void *field);
    const char *(*name)(const void *field);
    const char *must;
    /* A value read by its own code (an array): the setting or NULL. */
    void (*read)(struct broker_conf *conf, const config_setting_t *s,
                 struct errors *errs);
    enum conf_reload reload;
    const char *log_name; /* the name a reload reports; NULL: the path */
    const char *restart;  /* CONF_RELOAD_RESTART: the error's text */
    /* A change that is not one value's (a group moved, a set of
     * ranges): writes what the reload reports and returns true. */
    bool (*changed)(const struct broker_conf *old,
                    const struct broker_conf *new, char *buf, size_t len);
};

/* The table, in conf_table.c. Its order is the order of the reload
 * report and of the restart refusals; a group comes before its members. */
extern const struct conf_row conf_rows[];
extern const size_t conf_n_rows;

/* The row of `path`, or NULL. */
const struct conf_row *conf_row_find(const char *path);

/* The last component of a row's path: its name inside its group. */
const char *conf_row_name(const struct conf_row *row);

/* Report members of `group` that no row at `prefix` ("" for the top
 * level, "listeners" for a listener entry) names, and members of the
 * wrong type. */
void conf_check_members(const config_setting_t *group, const char *prefix,
                        struct errors *errs);

/* The member `name` of `group` if present with the right kind, else NULL
 * (conf_check_members reports a wrong kind). group may be NULL. */
const config_setting_t *conf_member(const config_setting_t *group,
                                    const char *name, enum conf_kind kind);
const char *conf_string_member(const config_setting_t *group,
                               const char *name);

/* A string member that must be there and not be empty. */
const char *conf_required_string(const config_setting_t *entry,
                                 const char *name, struct errors *errs);

/* The integer of row `path` (a member of `group`, which may be NULL): its
 * default, or the value if it is within the row's range (else an error
 * "FILE:LINE: PATH: must be between MIN and MAX" and the default). For a
 * member of a list's entries ("listeners.port"); 0 for a path with no row
 * (tests/unit/test_conf.c checks the one in use). */
long long conf_int(const config_setting_t *group, const char *path,
                   struct errors *errs);

/* Check that `list` holds only groups; returns its length (0 if absent). */
size_t conf_list_of_groups(const config_setting_t *list, struct errors *errs);

/* Read every stored row whose group is `prefix` ("" for the top level)
 * from the file into conf, defaults for those absent, in table order; a
 * group named by `prefix` has its members checked first. */
void conf_read_section(struct broker_conf *conf, const char *prefix,
                       struct errors *errs);

#endif
