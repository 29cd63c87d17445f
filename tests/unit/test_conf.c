/*
 * The config schema table (broker/conf_table.c) drives every step: these
 * tests walk the table and check that each row's range, default, reload
 * report and restart refusal is what conf_load() and the reload diff do,
 * so that a row the reader stopped following fails here.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "conf.h"
#include "conf_schema.h"

/* Enough for a listener and an authenticator; tests add lines after. */
#define BASE                                                               \
    "authenticators = ( { module = \"auth_allow_all.so\"; } );\n"          \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; } );\n"
#define BASE_LINES 2

static char dir[] = "/tmp/mp-test-conf-XXXXXX";
static char file[128];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/mpbroker.conf", dir);
}

static void teardown(void)
{
    unlink(file);
    rmdir(dir);
}

TestSuite(conf, .init = setup, .fini = teardown);

/* Write BASE then `extra` and load it into conf; errs gets what it says. */
static int load(struct broker_conf *conf, struct errors *errs,
                const char *extra)
{
    FILE *f = fopen(file, "w");

    cr_assert_not_null(f);
    fprintf(f, "%s%s", BASE, extra);
    fclose(f);
    errors_init(errs);
    return conf_load(conf, file, "/plugins", errs);
}

static bool in_list(const struct conf_row *row)
{
    char parent[128];
    const char *dot = strrchr(row->path, '.');
    const struct conf_row *p;

    if (dot == NULL)
        return false;
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - row->path),
             row->path);
    p = conf_row_find(parent);
    return p == NULL || p->kind == CONF_LIST || in_list(p);
}

/* "limits = { max_clients = 7; };" or "shutdown_timeout_ms = 7;" */
/* "a.b" = v as "a = { b = v; };". A member of `cluster` (and of
 * `cluster.link`) comes inside the one group the cluster needs:
 * cluster = { link = { secret_file = ...; }; }. */
static void setting_line(char *buf, size_t len, const struct conf_row *row,
                         const char *value)
{
    const char *dot = strchr(row->path, '.');
    const char *in_link = "cluster.link.";

    if (strncmp(row->path, in_link, strlen(in_link)) == 0)
        snprintf(buf, len, "cluster = { link = { %s = %s; %s }; };\n",
                 row->path + strlen(in_link), value,
                 strcmp(row->path, "cluster.link.secret_file") == 0
                     ? "" : "secret_file = \"s\";");
    else if (strncmp(row->path, "cluster.", 8) == 0 &&
             strcmp(row->path, "cluster.link") != 0)
        snprintf(buf, len, "cluster = { %s = %s; link = { secret_file = "
                 "\"s\"; }; };\n", row->path + 8, value);
    else if (dot == NULL)
        snprintf(buf, len, "%s = %s;\n", row->path, value);
    else
        snprintf(buf, len, "%.*s = { %s = %s; };\n",
                 (int)(dot - row->path), row->path, dot + 1, value);
}

static bool has_error(const struct errors *errs, const char *want)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->lines[i], want) == 0)
            return true;
    }
    return false;
}

static char *all_errors(const struct errors *errs)
{
    static char text[8192];
    size_t used = 0;

    text[0] = '\0';
    for (size_t i = 0; i < errs->count && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s\n",
                                 errs->lines[i]);
    return text;
}

static unsigned long long stored_number(const struct broker_conf *conf,
                                        const struct conf_row *row)
{
    const void *field = (const char *)conf + row->offset;

    return row->store == CONF_STORE_SIZE ? *(const size_t *)field
                                         : *(const unsigned *)field;
}

static bool is_number(const struct conf_row *row)
{
    return row->store == CONF_STORE_UNSIGNED || row->store == CONF_STORE_SIZE;
}

/* ------------------------------------------------------------------------
 * The table itself
 */

Test(conf, every_row_is_well_formed)
{
    cr_assert_gt(conf_n_rows, 20);
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        const char *dot = strrchr(r->path, '.');

        cr_expect_eq(conf_row_find(r->path), r, "%s: two rows", r->path);
        if (dot != NULL) {
            char parent[128];
            const struct conf_row *p;

            snprintf(parent, sizeof parent, "%.*s", (int)(dot - r->path),
                     r->path);
            p = conf_row_find(parent);
            cr_expect(p != NULL && p < r && (p->kind == CONF_GROUP ||
                                             p->kind == CONF_LIST),
                      "%s: its group %s is not an earlier group row",
                      r->path, parent);
        }
        if (r->kind == CONF_INT) {
            cr_expect(r->min <= r->def && r->def <= r->max,
                      "%s: default %lld outside [%lld, %lld]", r->path,
                      r->def, r->min, r->max);
            cr_expect(r->store != CONF_STORE_UNSIGNED || r->max <= UINT_MAX,
                      "%s: max %lld does not fit an unsigned", r->path,
                      r->max);
        }
        if (r->store == CONF_STORE_PARSED) {
            char field[64];

            cr_expect(r->parse != NULL && r->must != NULL,
                      "%s: parsed without parse() or `must`", r->path);
            cr_expect(r->def_text == NULL || r->parse(r->def_text, field) == 0,
                      "%s: its default \"%s\" does not parse", r->path,
                      r->def_text);
        }
        if (r->store != CONF_STORE_NONE)
            cr_expect(!in_list(r), "%s: a list entry's member has no one "
                      "place in struct broker_conf", r->path);
        cr_expect((r->reload == CONF_RELOAD_RESTART) == (r->restart != NULL),
                  "%s: a restart row needs its text, and only it", r->path);
        if (r->reload == CONF_RELOAD_REPORT ||
            r->reload == CONF_RELOAD_REPORT_NEW ||
            r->reload == CONF_RELOAD_RESTART)
            cr_expect(r->store != CONF_STORE_NONE, "%s: reload compares a "
                      "value it does not store", r->path);
    }
}

/* ------------------------------------------------------------------------
 * Reading: defaults, ranges, every error at once
 */

Test(conf, absent_settings_take_the_rows_defaults)
{
    struct broker_conf conf;
    struct errors errs;

    cr_assert_eq(load(&conf, &errs, "metrics = { };\n"
                           "cluster = { link = { secret_file = \"s\"; }; };\n"),
                 0, "%s", all_errors(&errs));
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];

        if (is_number(r))
            cr_expect_eq(stored_number(&conf, r), (unsigned long long)r->def,
                         "%s: %llu, the row says %lld", r->path,
                         stored_number(&conf, r), r->def);
    }
    /* The same, written out: the table is what the broker runs with. */
    cr_expect_eq(conf.max_clients, 10000);
    cr_expect_eq(conf.output_hard_limit, 16 * 1024 * 1024);
    cr_expect_eq(conf.auth_workers, 2);
    cr_expect_eq(conf.metrics.port, 9330);
    cr_expect_str_eq(conf.metrics.address, "127.0.0.1");
    cr_expect_eq(conf.log_level, MP_LOG_INFO);
    cr_expect_eq(conf.duplicate_names, DUPLICATE_REPLACE);
    cr_expect_eq(conf.listeners[0].port, 0);
    cr_expect_str_eq(conf.plugin_dir, "/plugins");
    conf_free(&conf);
    errors_free(&errs);
}

Test(conf, a_group_left_out_keeps_its_members_unset)
{
    struct broker_conf conf;
    struct errors errs;

    cr_assert_eq(load(&conf, &errs, ""), 0, "%s", all_errors(&errs));
    cr_expect_null(conf.metrics.entry);
    cr_expect_eq(conf.metrics.port, 0);
    cr_expect_null(conf.metrics.address);
    conf_free(&conf);
    errors_free(&errs);
}

Test(conf, each_value_is_read_into_its_field)
{
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        struct broker_conf conf;
        struct errors errs;
        char value[32], line[256];
        long long v = r->def < r->max ? r->def + 1 : r->min;

        if (!is_number(r))
            continue;
        snprintf(value, sizeof value, "%lldL", v);
        setting_line(line, sizeof line, r, value);
        load(&conf, &errs, line);
        /* A moved mark may break a rule across limits: not this test's. */
        if (errs.count == 0)
            cr_expect_eq(stored_number(&conf, r), (unsigned long long)v,
                         "%s = %lld read as %llu", r->path, v,
                         stored_number(&conf, r));
        conf_free(&conf);
        errors_free(&errs);
    }
}

Test(conf, out_of_range_names_file_line_and_path)
{
    size_t tried = 0;

    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        struct broker_conf conf;
        struct errors errs;
        char value[32], line[256], want[512];

        if (r->kind != CONF_INT || in_list(r))
            continue;
        snprintf(value, sizeof value, "%lldL", r->max + 1);
        setting_line(line, sizeof line, r, value);
        cr_expect_neq(load(&conf, &errs, line), 0, "%s = %s accepted",
                      r->path, value);
        snprintf(want, sizeof want, "%s:%d: %s: must be between %lld and "
                 "%lld", file, BASE_LINES + 1, r->path, r->min, r->max);
        cr_expect(has_error(&errs, want), "want \"%s\", got:\n%s", want,
                  all_errors(&errs));
        if (r->min > 0) {
            errors_free(&errs);
            conf_free(&conf);
            snprintf(value, sizeof value, "%lld", r->min - 1);
            setting_line(line, sizeof line, r, value);
            load(&conf, &errs, line);
            cr_expect(has_error(&errs, want), "%s = %s: want \"%s\", got:\n%s",
                      r->path, value, want, all_errors(&errs));
        }
        conf_free(&conf);
        errors_free(&errs);
        tried++;
    }
    cr_assert_gt(tried, 20);
}

Test(conf, a_list_entrys_range_comes_from_its_row)
{
    const struct conf_row *port = conf_row_find("listeners.port");
    struct broker_conf conf;
    struct errors errs;
    char want[512];
    FILE *f = fopen(file, "w");

    cr_assert_not_null(port);
    fprintf(f, "authenticators = ( { module = \"a.so\"; } );\n"
               "listeners = ( { address = \"127.0.0.1\"; },\n"
               "  { address = \"::1\"; port = %lld; } );\n", port->max + 1);
    fclose(f);
    errors_init(&errs);
    cr_assert_neq(conf_load(&conf, file, NULL, &errs), 0);
    snprintf(want, sizeof want, "%s:3: listeners[1].port: must be between "
             "%lld and %lld", file, port->min, port->max);
    cr_expect(has_error(&errs, want), "want \"%s\", got:\n%s", want,
              all_errors(&errs));
    cr_expect_eq(conf.listeners[0].port, port->def);
    conf_free(&conf);
    errors_free(&errs);
}

/* Every integer of every group out of range in one file: one error each,
 * each on its own line, in one run. */
Test(conf, every_error_in_one_run)
{
    char text[16384] = "";
    size_t used = 0, expected = 0;
    int lines[256];
    const char *groups[] = {"", "limits", "log", "metrics"};
    struct broker_conf conf;
    struct errors errs;
    int line = BASE_LINES;

    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
        if (groups[g][0] != '\0') {
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     "%s = {\n", groups[g]);
            line++;
        }
        for (size_t i = 0; i < conf_n_rows; i++) {
            const struct conf_row *r = &conf_rows[i];
            const char *dot = strrchr(r->path, '.');
            size_t n = dot ? (size_t)(dot - r->path) : 0;

            if (r->kind != CONF_INT || in_list(r) ||
                n != strlen(groups[g]) || strncmp(r->path, groups[g], n) != 0)
                continue;
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     "  %s = %lldL;\n", conf_row_name(r),
                                     r->max + 1);
            lines[expected++] = ++line;
        }
        if (groups[g][0] != '\0') {
            used += (size_t)snprintf(text + used, sizeof text - used, "};\n");
            line++;
        }
    }
    cr_assert_lt(used, sizeof text);
    cr_assert_neq(load(&conf, &errs, text), 0);
    cr_expect_eq(errs.count, expected, "%zu settings out of range, %zu "
                 "errors:\n%s", expected, errs.count, all_errors(&errs));
    for (size_t i = 0; i < expected; i++) {
        char at[200];
        bool found = false;

        snprintf(at, sizeof at, "%s:%d: ", file, lines[i]);
        for (size_t j = 0; j < errs.count && !found; j++)
            found = strncmp(errs.lines[j], at, strlen(at)) == 0;
        cr_expect(found, "no error at line %d:\n%s", lines[i],
                  all_errors(&errs));
    }
    conf_free(&conf);
    errors_free(&errs);
}

Test(conf, unknown_and_mistyped_settings_name_their_path)
{
    struct broker_conf conf;
    struct errors errs;
    char want[512];

    load(&conf, &errs, "limits = { max_clientz = 1; };\n"
                       "log = { level = 3; };\n"
                       "metrics = { port = \"80\"; };\n");
    snprintf(want, sizeof want, "%s:3: limits.max_clientz: unknown setting "
             "'max_clientz'", file);
    cr_expect(has_error(&errs, want), "%s", all_errors(&errs));
    snprintf(want, sizeof want, "%s:4: log.level: expected a string", file);
    cr_expect(has_error(&errs, want), "%s", all_errors(&errs));
    snprintf(want, sizeof want, "%s:5: metrics.port: expected an integer",
             file);
    cr_expect(has_error(&errs, want), "%s", all_errors(&errs));
    cr_expect_eq(errs.count, 3, "%s", all_errors(&errs));
    conf_free(&conf);
    errors_free(&errs);
}

Test(conf, a_parsed_value_keeps_its_default_when_wrong)
{
    struct broker_conf conf;
    struct errors errs;
    char want[512];

    load(&conf, &errs, "log = { level = \"loud\"; };\n"
                       "duplicate_names = \"maybe\";\n");
    snprintf(want, sizeof want, "%s:3: log.level: %s", file,
             conf_row_find("log.level")->must);
    cr_expect(has_error(&errs, want), "%s", all_errors(&errs));
    snprintf(want, sizeof want, "%s:4: duplicate_names: must be \"replace\" "
             "or \"reject\"", file);
    cr_expect(has_error(&errs, want), "%s", all_errors(&errs));
    cr_expect_eq(conf.log_level, MP_LOG_INFO);
    cr_expect_eq(conf.duplicate_names, DUPLICATE_REPLACE);
    conf_free(&conf);
    errors_free(&errs);
}

/* ------------------------------------------------------------------------
 * Reloads
 */

struct changes {
    char text[16][128];
    size_t n;
};

static void collect(const char *text, void *arg)
{
    struct changes *c = arg;

    if (c->n < 16)
        snprintf(c->text[c->n], sizeof c->text[0], "%s", text);
    c->n++;
}

static void changes_between(const char *old_text, const char *new_text,
                            struct changes *c, struct errors *restart)
{
    struct broker_conf old, new;
    struct errors errs;

    cr_assert_eq(load(&old, &errs, old_text), 0, "%s", all_errors(&errs));
    errors_free(&errs);
    cr_assert_eq(load(&new, &errs, new_text), 0, "%s", all_errors(&errs));
    errors_free(&errs);
    memset(c, 0, sizeof *c);
    conf_each_change(&old, &new, collect, c);
    if (restart != NULL) {
        errors_init(restart);
        conf_check_restart(&old, &new, restart);
    }
    conf_free(&old);
    conf_free(&new);
}

Test(conf, reload_reports_each_changed_number_by_its_row)
{
    size_t tried = 0;

    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        char value[32], line[256], old_text[300], want[256];
        struct changes c;
        long long v = r->def < r->max ? r->def + 1 : r->min;

        if (r->reload != CONF_RELOAD_REPORT || !is_number(r))
            continue;
        snprintf(value, sizeof value, "%lldL", v);
        setting_line(line, sizeof line, r, value);
        /* metrics.* are read only when the group is there. */
        snprintf(old_text, sizeof old_text, "metrics = { };\n");
        if (strncmp(r->path, "metrics.", 8) != 0)
            snprintf(line + strlen(line), sizeof line - strlen(line),
                     "metrics = { };\n");
        changes_between(old_text, line, &c, NULL);
        snprintf(want, sizeof want, "%s %lld -> %lld",
                 r->log_name ? r->log_name : r->path, r->def, v);
        cr_expect_eq(c.n, 1, "%s: %zu changes reported", r->path, c.n);
        cr_expect_str_eq(c.text[0], want);
        tried++;
    }
    cr_assert_gt(tried, 20);
}

Test(conf, reload_reports_names_and_groups_in_table_order)
{
    struct changes c;

    changes_between("",
                    "duplicate_names = \"reject\";\n"
                    "log = { level = \"debug\"; syslog = true; };\n"
                    "limits = { max_clients = 77;\n"
                    "  auth_throttle_exempt = [ \"10.0.0.0/8\" ]; };\n"
                    "metrics = { };\n",
                    &c, NULL);
    cr_assert_eq(c.n, 9, "%zu changes", c.n);
    cr_expect_str_eq(c.text[0], "max_clients 10000 -> 77");
    cr_expect_str_eq(c.text[1], "limits.auth_throttle_exempt: 1 range");
    cr_expect_str_eq(c.text[2], "log.level info -> debug");
    cr_expect_str_eq(c.text[3], "log.syslog on");
    cr_expect_str_eq(c.text[4], "duplicate_names reject");
    cr_expect_str_eq(c.text[5], "metrics listener");
    cr_expect_str_eq(c.text[6], "metrics.max_connections 0 -> 16");
    cr_expect_str_eq(c.text[7], "metrics.timeout_ms 0 -> 10000");
    cr_expect_str_eq(c.text[8], "metrics.max_header_size 0 -> 8192");
}

Test(conf, reload_reports_nothing_when_nothing_changed)
{
    struct changes c;
    struct errors restart;
    const char *text = "user = \"nobody\";\nlimits = { max_clients = 5; };\n"
                       "metrics = { port = 0; };\n";

    changes_between(text, text, &c, &restart);
    cr_expect_eq(c.n, 0, "first: %s", c.text[0]);
    cr_expect_eq(restart.count, 0, "%s", all_errors(&restart));
    errors_free(&restart);
}

Test(conf, reload_refuses_each_restart_row_where_it_is_set)
{
    size_t tried = 0;

    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        char value[64], line[256], want[512];
        struct changes c;
        struct errors restart;

        if (r->reload != CONF_RELOAD_RESTART)
            continue;
        if (r->kind == CONF_INT)
            snprintf(value, sizeof value, "%lld",
                     r->def < r->max ? r->def + 1 : r->min);
        else if (r->kind == CONF_BOOL)
            snprintf(value, sizeof value, "%s", r->def ? "false" : "true");
        else if (strcmp(r->path, "cluster.redis") == 0)
            snprintf(value, sizeof value, "\"unix:/changed\"");
        else
            snprintf(value, sizeof value, "\"/changed\"");
        setting_line(line, sizeof line, r, value);
        /* A cluster member changes inside a cluster that was there: the
         * group itself appearing changes every member. */
        changes_between(strncmp(r->path, "cluster.", 8) == 0
                            ? "cluster = { link = { secret_file = \"s\"; }; };\n"
                            : "",
                        line, &c, &restart);
        snprintf(want, sizeof want, "%s:%d: %s: %s", file, BASE_LINES + 1,
                 r->path, r->restart);
        cr_expect_eq(restart.count, 1, "%s:\n%s", r->path,
                     all_errors(&restart));
        cr_expect(has_error(&restart, want), "want \"%s\", got:\n%s", want,
                  all_errors(&restart));
        errors_free(&restart);
        tried++;
    }
    cr_assert_geq(tried, 5);
}
