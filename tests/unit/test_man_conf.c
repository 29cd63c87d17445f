/*
 * mpbroker.conf(5) against the code: every setting the config parser
 * accepts (the rows of broker/conf_table.c, through conf_each_setting())
 * and every option a shipped plugin asks for must be documented in
 * doc/man/mpbroker.conf.5,
 * and the page must not document settings that no longer exist.
 *
 * What counts as "documented" (the page's header comment says the same):
 *
 *   - a broker setting is an item of a .Bl list whose head is exactly
 *         .It Cm FULL.DOTTED.PATH Pq Ar TYPE
 *     with the path conf_each_setting() gives ("limits.max_clients",
 *     "listeners.tls.cert": a member of a list's entries is LIST.MEMBER)
 *     and its type ("string", "integer", "bool", "group" or "list");
 *   - an option of a shipped plugin is such an item, with the option's bare
 *     name ("file"), inside the subsection ".Ss MODULE.so" of that plugin
 *     (up to the next .Ss or .Sh); its type is that of the accessor the
 *     plugin uses (option_string: "string", option_int: "integer",
 *     option_bool: "bool"). Every shipped plugin needs its subsection, even
 *     one without options;
 *   - the item's text (up to the next item of the same list or the end of
 *     the list) has a line starting with "Default:" and a ".Bd -literal"
 *     example; for an integer setting, that line starts with the default
 *     of the setting's row in the schema table (broker/conf_table.c),
 *     "Default: 10000.".
 *
 * The plugins' options are found by loading each *.so of
 * $MP_PLUGIN_BUILD_DIR (plugins/.libs) and calling its init() with a host
 * whose option accessors record every key asked for and answer "absent":
 * the plugins ask for every option they know before failing on a missing
 * one (doc/plugins.md requires it, since the broker reports keys never
 * asked for as unknown settings).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <mp/plugin.h>

#include "conf.h"
#include "conf_schema.h"

#define PAGE "doc/man/mpbroker.conf.5"

/* ------------------------------------------------------------------------
 * The page
 */

struct item {
    char name[128];    /* the dotted path, or a plugin option's name */
    char type[32];
    char section[128]; /* the .Ss it is in */
    bool plugin;       /* in a ".Ss MODULE.so" subsection */
    bool has_default;
    char default_text[64]; /* what follows "Default: " on its line */
    bool has_example;
    int line;
};

#define MAX_ITEMS 512
#define MAX_MODULES 64

struct page {
    struct item items[MAX_ITEMS];
    size_t n_items;
    char modules[MAX_MODULES][128]; /* ".Ss X.so" headings */
    size_t n_modules;
};

static struct page page;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Split a macro line on blanks into at most max tokens; returns the count
 * (max + 1 when there were more). */
static size_t split(char *line, char **tok, size_t max)
{
    size_t n = 0;

    for (char *p = strtok(line, " \t"); p != NULL; p = strtok(NULL, " \t")) {
        if (n == max)
            return max + 1;
        tok[n++] = p;
    }
    return n;
}

/* Copy src into dst[0..size), cut if need be (names here are short). */
static void copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void read_page(void)
{
    const char *srcdir = getenv("MP_SRCDIR");
    char path[4096];
    char section[128] = "";
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, depth = 0, item_depth = -1;
    struct item *cur = NULL;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", srcdir ? srcdir : ".", PAGE);
    f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (MP_SRCDIR is set by make check)",
                       path);
    memset(&page, 0, sizeof page);
    while ((len = getline(&line, &cap, f)) >= 0) {
        char buf[1024];
        char *tok[8];
        size_t n;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (starts_with(line, ".Sh") || starts_with(line, ".Ss")) {
            cur = NULL;
            section[0] = '\0';
            if (starts_with(line, ".Ss ")) {
                copy(section, sizeof section, line + 4);
                if (ends_with(section, ".so")) {
                    cr_assert_lt(page.n_modules, MAX_MODULES);
                    copy(page.modules[page.n_modules++],
                         sizeof page.modules[0], section);
                }
            }
            continue;
        }
        if (starts_with(line, ".Bl")) {
            depth++;
            continue;
        }
        if (starts_with(line, ".El")) {
            if (cur != NULL && depth == item_depth)
                cur = NULL;
            depth--;
            continue;
        }
        if (starts_with(line, ".It")) {
            if (cur != NULL && depth == item_depth)
                cur = NULL;
            copy(buf, sizeof buf, line);
            n = split(buf, tok, 7);
            if (n == 6 && strcmp(tok[1], "Cm") == 0 &&
                strcmp(tok[3], "Pq") == 0 && strcmp(tok[4], "Ar") == 0) {
                cr_assert_lt(page.n_items, MAX_ITEMS);
                cur = &page.items[page.n_items++];
                copy(cur->name, sizeof cur->name, tok[2]);
                copy(cur->type, sizeof cur->type, tok[5]);
                copy(cur->section, sizeof cur->section, section);
                cur->plugin = ends_with(section, ".so");
                cur->line = lineno;
                item_depth = depth;
            }
            continue;
        }
        if (cur != NULL && starts_with(line, "Default:")) {
            cur->has_default = true;
            copy(cur->default_text, sizeof cur->default_text,
                 line + strspn(line + 8, " ") + 8);
        }
        if (cur != NULL && starts_with(line, ".Bd -literal"))
            cur->has_example = true;
    }
    free(line);
    fclose(f);
    cr_assert_gt(page.n_items, 0, "%s documents no setting at all "
                 "(no `.It Cm NAME Pq Ar TYPE` item)", path);
}

/* The item for a broker setting (section NULL) or a plugin option. */
static const struct item *find_item(const char *name, const char *module)
{
    for (size_t i = 0; i < page.n_items; i++) {
        const struct item *it = &page.items[i];
        if (strcmp(it->name, name) != 0)
            continue;
        if (module == NULL ? !it->plugin : strcmp(it->section, module) == 0)
            return it;
    }
    return NULL;
}

static void check_item(const char *what, const char *name, const char *type,
                       const char *module)
{
    const struct item *it = find_item(name, module);

    if (module == NULL)
        cr_expect_not_null(it, PAGE " does not document %s `%s` (%s): add "
                           "`.It Cm %s Pq Ar %s` with a \"Default:\" line and "
                           "a .Bd -literal example", what, name, type, name,
                           type);
    else
        cr_expect_not_null(it, PAGE " does not document %s `%s` (%s) of %s: "
                           "add `.It Cm %s Pq Ar %s` under `.Ss %s`, with a "
                           "\"Default:\" line and a .Bd -literal example",
                           what, name, type, module, name, type, module);
    if (it == NULL)
        return;
    cr_expect_str_eq(it->type, type, PAGE ":%d: `%s` is a %s, not a %s",
                     it->line, name, type, it->type);
    cr_expect(it->has_default, PAGE ":%d: `%s` has no line starting with "
              "\"Default:\"", it->line, name);
    cr_expect(it->has_example, PAGE ":%d: `%s` has no example "
              "(.Bd -literal)", it->line, name);
}

/* ------------------------------------------------------------------------
 * The parser's settings
 */

#define MAX_SETTINGS 256

struct settings {
    char path[MAX_SETTINGS][128];
    size_t n;
};

static void check_setting(const char *path, const char *type, void *arg)
{
    struct settings *s = arg;

    if (s->n < MAX_SETTINGS)
        copy(s->path[s->n++], sizeof s->path[0], path);
    cr_expect_not_null(type, "the schema table has no rows for the members "
                       "of `%s`: add them to broker/conf_table.c (or mark "
                       "it CONF_FREE_FORM if they are a plugin's)", path);
    if (type != NULL)
        check_item("setting", path, type, NULL);
}

Test(man_conf, documents_every_setting_of_the_parser)
{
    struct settings s = {.n = 0};

    read_page();
    conf_each_setting(check_setting, &s);
    cr_assert_gt(s.n, 0, "conf_each_setting() listed nothing");
    cr_assert_lt(s.n, MAX_SETTINGS, "raise MAX_SETTINGS");
}

/* The page's "Default:" of each integer is its row's: a default changed
 * in the table must be changed on the page too. */
Test(man_conf, documents_each_integers_default_from_the_table)
{
    size_t checked = 0;

    read_page();
    for (size_t i = 0; i < conf_n_rows; i++) {
        const struct conf_row *r = &conf_rows[i];
        const struct item *it = find_item(r->path, NULL);
        char want[32];
        size_t n;

        if (r->kind != CONF_INT || it == NULL || !it->has_default)
            continue;
        n = (size_t)snprintf(want, sizeof want, "%lld", r->def);
        cr_expect(strncmp(it->default_text, want, n) == 0 &&
                  strchr(". ", it->default_text[n]) != NULL,
                  PAGE ":%d: `%s` says \"Default: %s\", the schema table "
                  "(broker/conf_table.c) says %s", it->line, r->path,
                  it->default_text, want);
        checked++;
    }
    cr_assert_gt(checked, 20);
}

static void collect_setting(const char *path, const char *type, void *arg)
{
    struct settings *s = arg;

    (void)type;
    if (s->n < MAX_SETTINGS)
        copy(s->path[s->n++], sizeof s->path[0], path);
}

Test(man_conf, documents_no_setting_the_parser_refuses)
{
    struct settings s = {.n = 0};

    read_page();
    conf_each_setting(collect_setting, &s);
    cr_assert_lt(s.n, MAX_SETTINGS, "raise MAX_SETTINGS");
    for (size_t i = 0; i < page.n_items; i++) {
        const struct item *it = &page.items[i];
        bool known = false;

        if (it->plugin)
            continue;
        for (size_t j = 0; j < s.n && !known; j++)
            known = strcmp(s.path[j], it->name) == 0;
        cr_expect(known, PAGE ":%d: `%s` is documented as a setting, but the "
                  "config parser does not accept it (a plugin option goes "
                  "under `.Ss MODULE.so`)", it->line, it->name);
    }
}

/* ------------------------------------------------------------------------
 * The shipped plugins' options
 */

#define MAX_OPTIONS 32

static struct {
    char key[MAX_OPTIONS][64];
    char type[MAX_OPTIONS][16];
    size_t n;
} asked;

static void record(const char *key, const char *type)
{
    for (size_t i = 0; i < asked.n; i++) {
        if (strcmp(asked.key[i], key) == 0)
            return;
    }
    cr_assert_lt(asked.n, MAX_OPTIONS);
    copy(asked.key[asked.n], sizeof asked.key[0], key);
    copy(asked.type[asked.n], sizeof asked.type[0], type);
    asked.n++;
}

static int mock_option_string(const struct mp_options *opts, const char *key,
                              const char **out)
{
    (void)opts;
    (void)out;
    record(key, "string");
    return 0;
}

static int mock_option_int(const struct mp_options *opts, const char *key,
                           long long *out)
{
    (void)opts;
    (void)out;
    record(key, "integer");
    return 0;
}

static int mock_option_bool(const struct mp_options *opts, const char *key,
                            int *out)
{
    (void)opts;
    (void)out;
    record(key, "bool");
    return 0;
}

static void mock_log(const struct mp_host *host, enum mp_log_level level,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mock_log(const struct mp_host *host, enum mp_log_level level,
                     const char *fmt, ...)
{
    (void)host;
    (void)level;
    (void)fmt;
}

static void mock_auth_done(struct mp_auth_ticket *ticket,
                           enum mp_auth_result result, const char *reason)
{
    (void)ticket;
    (void)result;
    (void)reason;
}

static struct mp_timer *mock_timer_start(const struct mp_host *host,
                                         unsigned ms, void (*cb)(void *arg),
                                         void *arg)
{
    (void)host;
    (void)ms;
    (void)cb;
    (void)arg;
    return NULL;
}

static void mock_timer_cancel(struct mp_timer *timer)
{
    (void)timer;
}

/* Load one module and record the options its init() asks for. Returns
 * false if it is not a plugin this test can ask. */
static bool ask_options(const char *dir, const char *file)
{
    static const char dummy_options = 0;
    const struct mp_host host = {
        .abi = MP_PLUGIN_ABI,
        .size = sizeof(struct mp_host),
        .log = mock_log,
        .option_string = mock_option_string,
        .option_int = mock_option_int,
        .option_bool = mock_option_bool,
        .auth_done = mock_auth_done,
        .timer_start = mock_timer_start,
        .timer_cancel = mock_timer_cancel,
    };
    char path[4096], err[512] = "";
    mp_plugin_entry_fn entry;
    const struct mp_plugin *desc;
    void *state = NULL;
    void *dl;

    memset(&asked, 0, sizeof asked);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_expect_not_null(dl, "dlopen %s: %s", path, dlerror());
    if (dl == NULL)
        return false;
    *(void **)&entry = dlsym(dl, MP_PLUGIN_ENTRY_SYMBOL);
    desc = entry != NULL ? entry() : NULL;
    cr_expect(desc != NULL && desc->abi == MP_PLUGIN_ABI,
              "%s: no mp_plugin_entry() of ABI %d", path, MP_PLUGIN_ABI);
    if (desc == NULL || desc->abi != MP_PLUGIN_ABI) {
        dlclose(dl);
        return false;
    }
    if (desc->init != NULL &&
        desc->init(&host, (const struct mp_options *)&dummy_options, &state,
                   err, sizeof err) == 0 &&
        desc->cleanup != NULL)
        desc->cleanup(state);
    dlclose(dl);
    return true;
}

static bool page_has_module(const char *module)
{
    for (size_t i = 0; i < page.n_modules; i++) {
        if (strcmp(page.modules[i], module) == 0)
            return true;
    }
    return false;
}

Test(man_conf, documents_every_shipped_plugin_and_option)
{
    const char *dir = getenv("MP_PLUGIN_BUILD_DIR");
    char seen[MAX_MODULES][128];
    size_t n_seen = 0;
    struct dirent *e;
    DIR *d;

    if (dir == NULL)
        cr_skip_test("MP_PLUGIN_BUILD_DIR is not set (make check sets it)");
    read_page();
    d = opendir(dir);
    cr_assert_not_null(d, "cannot open MP_PLUGIN_BUILD_DIR %s", dir);
    while ((e = readdir(d)) != NULL) {
        const char *module = e->d_name;

        if (!ends_with(module, ".so") || !ask_options(dir, module))
            continue;
        if (n_seen < MAX_MODULES)
            copy(seen[n_seen++], sizeof seen[0], module);
        cr_expect(page_has_module(module), PAGE " has no subsection "
                  "`.Ss %s` for the shipped plugin %s", module, module);
        for (size_t i = 0; i < asked.n; i++)
            check_item("option", asked.key[i], asked.type[i], module);
        /* The reverse: options documented that the plugin never asks. */
        for (size_t i = 0; i < page.n_items; i++) {
            const struct item *it = &page.items[i];
            bool known = false;

            if (strcmp(it->section, module) != 0)
                continue;
            for (size_t j = 0; j < asked.n && !known; j++)
                known = strcmp(asked.key[j], it->name) == 0;
            cr_expect(known, PAGE ":%d: `%s` is documented as an option of "
                      "%s, which does not ask for it", it->line, it->name,
                      module);
        }
    }
    closedir(d);
    cr_assert_gt(n_seen, 0, "no plugin (*.so) in %s: build first", dir);
    for (size_t i = 0; i < page.n_modules; i++) {
        bool shipped = false;

        for (size_t j = 0; j < n_seen && !shipped; j++)
            shipped = strcmp(seen[j], page.modules[i]) == 0;
        cr_expect(shipped, PAGE ": `.Ss %s` documents a plugin that is not "
                  "built in %s", page.modules[i], dir);
    }
}
