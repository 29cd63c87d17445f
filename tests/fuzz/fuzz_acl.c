/*
 * fuzz_acl.c - libFuzzer harness for the acl plugin's rules file parser
 * (plugins/acl.c, compiled into the harness and driven through its plugin
 * ABI with a small fake host): the first input byte picks the `default`
 * option, the rest is the rules file.
 *
 * The plugin is checked against an independent reading of the same bytes,
 * written from the format in acl.c's header:
 *  - lines end at '\n'; fields are separated by blanks (space, tab, CR,
 *    VT, FF); a line without fields or whose first field starts with '#'
 *    is skipped; a NUL byte anywhere in a line makes the file invalid;
 *  - every other line is exactly `allow|deny FROM -> TO PROTOCOL` or
 *    `see|hide FROM -> TO`, FROM and TO being `*` or a valid client name.
 * init() must succeed exactly when the file is valid (and the option
 * too), reload() must agree with init(), and for queries built from the
 * rules, authorize_syn() must give the verdict of the first matching
 * allow/deny rule, or the default; authorize_see() that of the first
 * matching see/hide rule, or else ALLOW exactly when authorize_syn() as
 * read here allows some protocol: tried by brute force on every protocol
 * the rules name and one they cannot (it holds a blank), which stands for
 * all the others.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mp/plugin.h>

#include "fuzz_util.h"
#include "name.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* From plugins/acl.c, linked in. */
const struct mp_plugin *mp_plugin_entry(void);

#define FIELDS 5     /* of an allow/deny line */
#define SEE_FIELDS 4 /* of a see/hide line */
#define QUERIES_MAX 16
#define CROSS_MAX 4  /* see queries pair FROM of rule i, TO of rule j */

/* Stand for `*` in queries: no rule can name them (':' is not allowed in
 * a name, a blank separates fields). */
#define ANY_FROM "q:from"
#define ANY_TO "q:to"
#define ANY_PROTOCOL "q proto"

static char dir[4096];
static char rules_path[sizeof dir + 16];

/* ------------------------------------------------------------------------
 * The fake host: options from the harness, logs formatted and dropped.
 */

struct mp_options {
    const char *rules;
    const char *fallback; /* NULL: option absent */
};

static void host_log(const struct mp_host *host, enum mp_log_level level,
                     const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    (void)host;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

static int option_string(const struct mp_options *opts, const char *key,
                         const char **out)
{
    if (strcmp(key, "rules") == 0) {
        *out = opts->rules;
        return 1;
    }
    if (strcmp(key, "default") == 0 && opts->fallback != NULL) {
        *out = opts->fallback;
        return 1;
    }
    return 0;
}

static int option_int(const struct mp_options *opts, const char *key,
                      long long *out)
{
    (void)opts;
    (void)key;
    (void)out;
    return 0;
}

static int option_bool(const struct mp_options *opts, const char *key,
                       int *out)
{
    (void)opts;
    (void)key;
    (void)out;
    return 0;
}

static const struct mp_host host = {
    .abi = MP_PLUGIN_ABI, .size = sizeof host, .log = host_log,
    .option_string = option_string, .option_int = option_int,
    .option_bool = option_bool,
};

/* ------------------------------------------------------------------------
 * The independent reading
 */

struct rule {
    bool see;            /* a see/hide line, else allow/deny */
    bool allow;          /* allow or see */
    size_t n;            /* FIELDS or SEE_FIELDS */
    char *field[FIELDS]; /* copies; [1] FROM, [3] TO, [4] PROTOCOL */
};

struct reading {
    bool valid;
    struct rule *rules;
    size_t n;
};

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Fields of s[0..len) (no NUL in it) into f (copies); returns how many,
 * up to FIELDS + 1. */
static size_t fields_of(const char *s, size_t len, char **f)
{
    size_t n = 0, i = 0;

    while (i < len && n <= FIELDS) {
        size_t start;

        while (i < len && blank(s[i]))
            i++;
        if (i == len)
            break;
        start = i;
        while (i < len && !blank(s[i]))
            i++;
        f[n] = strndup(s + start, i - start);
        FUZZ_CHECK(f[n] != NULL, "out of memory");
        n++;
    }
    return n;
}

static bool name_field_ok(const char *f)
{
    return strcmp(f, "*") == 0 || mp_name_check(f, strlen(f)) == NULL;
}

static bool rule_of(char **f, size_t n, struct rule *r)
{
    bool syn = strcmp(f[0], "allow") == 0 || strcmp(f[0], "deny") == 0;
    bool see = strcmp(f[0], "see") == 0 || strcmp(f[0], "hide") == 0;

    if (!(syn && n == FIELDS) && !(see && n == SEE_FIELDS))
        return false;
    if (strcmp(f[2], "->") != 0 || !name_field_ok(f[1]) ||
        !name_field_ok(f[3]))
        return false;
    r->see = see;
    r->allow = strcmp(f[0], "allow") == 0 || strcmp(f[0], "see") == 0;
    r->n = n;
    memset(r->field, 0, sizeof r->field);
    memcpy(r->field, f, n * sizeof *f);
    return true;
}

static void free_fields(char **f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i]);
}

static void read_rules(const char *text, size_t len, struct reading *rd)
{
    size_t pos = 0;

    *rd = (struct reading){.valid = true};
    while (pos < len && rd->valid) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl != NULL ? (size_t)(nl - s) : len - pos;
        char *f[FIELDS + 1];
        size_t n;
        struct rule r;

        pos += l + (nl != NULL);
        if (memchr(s, '\0', l) != NULL) {
            rd->valid = false;
            break;
        }
        n = fields_of(s, l, f);
        if (n == 0 || f[0][0] == '#') {
            free_fields(f, n);
            continue;
        }
        if (!rule_of(f, n, &r)) {
            free_fields(f, n);
            rd->valid = false;
            break;
        }
        rd->rules = realloc(rd->rules, (rd->n + 1) * sizeof *rd->rules);
        FUZZ_CHECK(rd->rules != NULL, "out of memory");
        rd->rules[rd->n++] = r;
    }
}

static void free_reading(struct reading *rd)
{
    for (size_t i = 0; i < rd->n; i++)
        free_fields(rd->rules[i].field, rd->rules[i].n);
    free(rd->rules);
}

static bool matches(const char *pattern, const char *value)
{
    return strcmp(pattern, "*") == 0 || strcmp(pattern, value) == 0;
}

static enum mp_auth_result expected(const struct reading *rd, bool allow_all,
                                    const char *from, const char *to,
                                    const char *protocol)
{
    for (size_t i = 0; i < rd->n; i++) {
        const struct rule *r = &rd->rules[i];

        if (!r->see && matches(r->field[1], from) &&
            matches(r->field[3], to) && matches(r->field[4], protocol))
            return r->allow ? MP_AUTH_ALLOW : MP_AUTH_DENY;
    }
    return allow_all ? MP_AUTH_ALLOW : MP_AUTH_DENY;
}

/* The first see/hide rule that matches, or whether some protocol is
 * allowed: those the rules name, and one no rule names (all the others
 * get the same verdict as it). */
static enum mp_auth_result expected_see(const struct reading *rd,
                                        bool allow_all, const char *client,
                                        const char *name)
{
    for (size_t i = 0; i < rd->n; i++) {
        const struct rule *r = &rd->rules[i];

        if (r->see && matches(r->field[1], client) &&
            matches(r->field[3], name))
            return r->allow ? MP_AUTH_ALLOW : MP_AUTH_DENY;
    }
    if (expected(rd, allow_all, client, name, ANY_PROTOCOL) == MP_AUTH_ALLOW)
        return MP_AUTH_ALLOW;
    for (size_t i = 0; i < rd->n; i++) {
        const struct rule *r = &rd->rules[i];

        if (!r->see &&
            expected(rd, allow_all, client, name, r->field[4]) ==
                MP_AUTH_ALLOW)
            return MP_AUTH_ALLOW;
    }
    return MP_AUTH_DENY;
}

/* ------------------------------------------------------------------------
 * The harness
 */

static void remove_files(void)
{
    unlink(rules_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/mpbroker-fuzz-acl-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
    snprintf(rules_path, sizeof rules_path, "%s/rules", dir);
    atexit(remove_files);
    return 0;
}

static const char *query_field(const struct rule *r, size_t i,
                               const char *any)
{
    return strcmp(r->field[i], "*") != 0 ? r->field[i] : any;
}

static void check_see(const struct mp_plugin *p, void *state,
                      const struct reading *rd, bool allow_all,
                      const char *client, const char *name)
{
    enum mp_auth_result got = p->authz->authorize_see(state, client, name);

    FUZZ_CHECK(got == expected_see(rd, allow_all, client, name),
               "the plugin says %d for see %s -> %s", (int)got, client,
               name);
}

/* Ask the plugin about queries made from the rules' own fields (a `*`
 * replaced by a name no rule can hold), and compare with the reading:
 * authorize_syn for each allow/deny rule, authorize_see for each rule's
 * pair and for pairs across the first rules. */
static void check_verdicts(const struct mp_plugin *p, void *state,
                           const struct reading *rd, bool allow_all)
{
    for (size_t i = 0; i < rd->n && i < QUERIES_MAX; i++) {
        const struct rule *r = &rd->rules[i];
        const char *from = query_field(r, 1, ANY_FROM);
        const char *to = query_field(r, 3, ANY_TO);

        check_see(p, state, rd, allow_all, from, to);
        if (r->see)
            continue;
        const char *proto = query_field(r, 4, ANY_PROTOCOL);
        enum mp_auth_result got = p->authz->authorize_syn(
            state, from, to, (const unsigned char *)proto, strlen(proto));

        FUZZ_CHECK(got == expected(rd, allow_all, from, to, proto),
                   "rule %zu: the plugin says %d for %s -> %s %s", i,
                   (int)got, from, to, proto);
    }
    for (size_t i = 0; i < rd->n && i < CROSS_MAX; i++) {
        for (size_t j = 0; j < rd->n && j < CROSS_MAX; j++)
            check_see(p, state, rd, allow_all,
                      query_field(&rd->rules[i], 1, ANY_FROM),
                      query_field(&rd->rules[j], 3, ANY_TO));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const defaults[] = {NULL, "allow", "deny", "maybe"};
    const struct mp_plugin *p = mp_plugin_entry();
    struct mp_options opts = {.rules = rules_path};
    struct reading rd;
    void *state = NULL;
    char err[512];
    bool option_ok, allow_all;
    int rc;

    if (size == 0)
        return 0;
    opts.fallback = defaults[data[0] % 4];
    option_ok = data[0] % 4 != 3;
    allow_all = data[0] % 4 == 1;
    fuzz_write_file(rules_path, data + 1, size - 1);
    read_rules((const char *)data + 1, size - 1, &rd);
    err[0] = '\0';
    rc = p->init(&host, &opts, &state, err, sizeof err);
    if (rc == 0) {
        FUZZ_CHECK(option_ok && rd.valid, "an invalid file or option was "
                   "accepted");
        check_verdicts(p, state, &rd, allow_all);
        FUZZ_CHECK(p->reload(state, err, sizeof err) == 0,
                   "reload refused what init took: %s", err);
        check_verdicts(p, state, &rd, allow_all);
        p->cleanup(state);
    } else if (strstr(err, "out of memory") == NULL) {
        FUZZ_CHECK(!option_ok || !rd.valid, "a valid file was refused: %s",
                   err);
        FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
        FUZZ_CHECK(!option_ok || strncmp(err, rules_path,
                                         strlen(rules_path)) == 0,
                   "the error does not name the file: %s", err);
    }
    free_reading(&rd);
    return 0;
}
