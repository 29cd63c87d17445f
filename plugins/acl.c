/*
 * acl - an authorizer (MP_PLUGIN_AUTHORIZER): decides who may open which
 * protocol to whom.
 *
 *     authenticators = (
 *         { module = "acl.so";
 *           options = { rules = "/etc/mpbroker.acl"; default = "deny"; }; },
 *         { module = "auth_passwd.so"; options = { file = "..."; }; } );
 *
 * It is listed among the authenticators but takes no part in logins (it
 * has no authenticate(): the broker skips it in the login chain), so the
 * other authenticators alone decide who logs in. Its work is
 * authorize_syn(): each ConnSyn is checked against the rules file, one
 * rule a line,
 *
 *     allow|deny FROM -> TO PROTOCOL
 *
 * FROM, TO and PROTOCOL are a name or `*` (any). The first rule that
 * matches decides; when none does, the `default` option does ("deny"
 * unless set: a forgotten rule then fails closed, not open). A DENY
 * reaches the initiator as UnknownProto, as if the target did not speak
 * the protocol, so the rules are not revealed.
 *
 * The file is read at init(), and again when the broker gets SIGHUP: the
 * new rules replace the old ones only if the whole file is valid;
 * otherwise the error is logged and the old rules stay. Matching only
 * compares strings and never allocates: it runs on every Syn.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

#include "name.h"

/* A rules file line has exactly these fields: ACTION FROM -> TO PROTOCOL. */
#define ACL_FIELDS 5
#define ACL_SYNTAX "expected 'allow|deny FROM -> TO PROTOCOL'"

/* Longest protocol shown in a log line; longer ones are cut. */
#define ACL_LOG_PROTO_MAX 64

struct acl_rule {
    enum mp_auth_result verdict; /* MP_AUTH_ALLOW or MP_AUTH_DENY */
    char *from;                  /* NULL stands for `*` */
    char *to;                    /* NULL stands for `*` */
    char *protocol;              /* NULL stands for `*` */
    size_t protocol_len;
};

struct acl_state {
    const struct mp_host *host; /* valid until cleanup() returns */
    char *file;                 /* the rules file, for reloads */
    struct acl_rule *rules;
    size_t n_rules, cap_rules;
    enum mp_auth_result fallback; /* when no rule matches */
};

/* ------------------------------------------------------------------------
 * Parsing the rules file
 */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Split `line` in place into at most `max` blank-separated fields; return
 * how many there are (max + 1 if there are more). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            return n;
        if (n == max)
            return max + 1;
        fields[n++] = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}

static void free_rule(struct acl_rule *r)
{
    free(r->from);
    free(r->to);
    free(r->protocol);
}

/* A copy of `field`, or NULL for `*`. *ok is false when out of memory. */
static char *copy_pattern(const char *field, bool *ok)
{
    char *copy;

    if (strcmp(field, "*") == 0)
        return NULL;
    copy = strdup(field);
    if (copy == NULL)
        *ok = false;
    return copy;
}

/* Check a FROM or TO field: `*` or a valid client name (a name that no
 * client can have would make a rule that never matches, silently). */
static int check_name_field(const char *what, const char *field,
                            const char *where, char *err, size_t errlen)
{
    const char *why;

    if (strcmp(field, "*") == 0)
        return 0;
    why = mp_name_check(field, strlen(field));
    if (why == NULL)
        return 0;
    snprintf(err, errlen, "%s: %s: %s", where, what, why);
    return -1;
}

/* Fill *rule from the fields of one line; `where` is "FILE:LINE". */
static int parse_rule(char **f, struct acl_rule *rule, const char *where,
                      char *err, size_t errlen)
{
    bool ok = true;

    if (strcmp(f[0], "allow") == 0)
        rule->verdict = MP_AUTH_ALLOW;
    else if (strcmp(f[0], "deny") == 0)
        rule->verdict = MP_AUTH_DENY;
    else {
        snprintf(err, errlen, "%s: expected 'allow' or 'deny' first", where);
        return -1;
    }
    if (strcmp(f[2], "->") != 0) {
        snprintf(err, errlen, "%s: expected '->' between FROM and TO", where);
        return -1;
    }
    if (check_name_field("FROM", f[1], where, err, errlen) < 0 ||
        check_name_field("TO", f[3], where, err, errlen) < 0)
        return -1;
    rule->from = copy_pattern(f[1], &ok);
    rule->to = copy_pattern(f[3], &ok);
    rule->protocol = copy_pattern(f[4], &ok);
    rule->protocol_len = rule->protocol ? strlen(rule->protocol) : 0;
    if (!ok) {
        free_rule(rule);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int append_rule(struct acl_state *st, const struct acl_rule *rule)
{
    if (st->n_rules == st->cap_rules) {
        size_t cap = st->cap_rules ? 2 * st->cap_rules : 16;
        struct acl_rule *grown = realloc(st->rules, cap * sizeof *grown);

        if (grown == NULL)
            return -1;
        st->rules = grown;
        st->cap_rules = cap;
    }
    st->rules[st->n_rules++] = *rule;
    return 0;
}

/* Parse one line (len bytes, as read) into st; blank and comment lines
 * add nothing. */
static int parse_line(struct acl_state *st, char *line, size_t len,
                      const char *where, char *err, size_t errlen)
{
    char *f[ACL_FIELDS];
    struct acl_rule rule = {0};
    size_t n;

    /* A NUL would silently cut the line short: refuse it. */
    if (strlen(line) != len) {
        snprintf(err, errlen, "%s: NUL byte in line", where);
        return -1;
    }
    n = split_fields(line, f, ACL_FIELDS);
    if (n == 0 || f[0][0] == '#')
        return 0;
    if (n != ACL_FIELDS) {
        snprintf(err, errlen, "%s: %s", where, ACL_SYNTAX);
        return -1;
    }
    if (parse_rule(f, &rule, where, err, errlen) < 0)
        return -1;
    if (append_rule(st, &rule) < 0) {
        free_rule(&rule);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int load_rules(struct acl_state *st, const char *file, char *err,
                      size_t errlen)
{
    FILE *fp = fopen(file, "r");
    char *line = NULL, where[512];
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;

    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
        snprintf(where, sizeof where, "%s:%zu", file, ++lineno);
        rc = parse_line(st, line, (size_t)len, where, err, errlen);
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "%s: read error", file);
        rc = -1;
    }
    free(line);
    fclose(fp);
    return rc;
}

/* ------------------------------------------------------------------------
 * Options, init, cleanup
 */

static void free_rules(struct acl_state *st)
{
    for (size_t i = 0; i < st->n_rules; i++)
        free_rule(&st->rules[i]);
    free(st->rules);
    st->rules = NULL;
    st->n_rules = st->cap_rules = 0;
}

static void acl_cleanup(void *state)
{
    struct acl_state *st = state;

    if (st == NULL)
        return;
    free_rules(st);
    free(st->file);
    free(st);
}

static void log_loaded(const struct acl_state *st, const char *verb)
{
    st->host->log(st->host, MP_LOG_INFO, "%zu rule%s %s from %s, default %s",
                  st->n_rules, st->n_rules == 1 ? "" : "s", verb, st->file,
                  st->fallback == MP_AUTH_ALLOW ? "allow" : "deny");
}

/* SIGHUP: read the file into a fresh rule list; swap only if all of it
 * parsed, so a broken edit leaves the old rules in force. */
static int acl_reload(void *state, char *err, size_t errlen)
{
    struct acl_state *st = state;
    struct acl_state fresh = {.host = st->host, .file = st->file,
                              .fallback = st->fallback};

    if (load_rules(&fresh, st->file, err, errlen) < 0) {
        free_rules(&fresh);
        return -1;
    }
    free_rules(st);
    st->rules = fresh.rules;
    st->n_rules = fresh.n_rules;
    st->cap_rules = fresh.cap_rules;
    log_loaded(st, "reloaded");
    return 0;
}

static int get_rules_option(const struct mp_host *host,
                            const struct mp_options *opts, const char **file,
                            char *err, size_t errlen)
{
    int rc = host->option_string(opts, "rules", file);

    if (rc < 0)
        snprintf(err, errlen, "option 'rules' must be a string");
    else if (rc == 0)
        snprintf(err, errlen, "option 'rules' is required");
    else if ((*file)[0] == '\0')
        snprintf(err, errlen, "option 'rules' is empty");
    else
        return 0;
    return -1;
}

static int get_default_option(const struct mp_host *host,
                              const struct mp_options *opts,
                              enum mp_auth_result *fallback, char *err,
                              size_t errlen)
{
    const char *value = "deny";
    int rc = host->option_string(opts, "default", &value);

    if (rc < 0) {
        snprintf(err, errlen, "option 'default' must be a string");
        return -1;
    }
    if (strcmp(value, "allow") == 0)
        *fallback = MP_AUTH_ALLOW;
    else if (strcmp(value, "deny") == 0)
        *fallback = MP_AUTH_DENY;
    else {
        snprintf(err, errlen, "option 'default' must be \"allow\" or \"deny\"");
        return -1;
    }
    return 0;
}

static int acl_init(const struct mp_host *host, const struct mp_options *opts,
                    void **state, char *err, size_t errlen)
{
    struct acl_state *st;
    const char *file = NULL;
    enum mp_auth_result fallback = MP_AUTH_DENY;
    int rc;

    rc = get_rules_option(host, opts, &file, err, errlen);

    /* Asked even when `rules` is wrong, so that a valid `default` is not
     * also reported as an unknown setting; the first error is kept. */
    if (get_default_option(host, opts, &fallback, rc < 0 ? NULL : err,
                           rc < 0 ? 0 : errlen) < 0)
        rc = -1;
    if (rc < 0)
        return -1;
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->host = host;
    st->fallback = fallback;
    st->file = strdup(file);
    if (st->file == NULL) {
        snprintf(err, errlen, "out of memory");
        acl_cleanup(st);
        return -1;
    }
    if (load_rules(st, file, err, errlen) < 0) {
        acl_cleanup(st);
        return -1;
    }
    log_loaded(st, "loaded");
    *state = st;
    return 0;
}

/* ------------------------------------------------------------------------
 * Answers
 */

static bool name_matches(const char *pattern, const char *name)
{
    return pattern == NULL || strcmp(pattern, name) == 0;
}

static bool rule_matches(const struct acl_rule *r, const char *from,
                         const char *to, const unsigned char *protocol,
                         size_t protocol_len)
{
    return name_matches(r->from, from) && name_matches(r->to, to) &&
           (r->protocol == NULL ||
            (r->protocol_len == protocol_len &&
             memcmp(r->protocol, protocol, protocol_len) == 0));
}

/* The protocol comes from the client and may hold any bytes: show at most
 * ACL_LOG_PROTO_MAX of them, control, non-ASCII and '\\' bytes escaped,
 * so that it cannot forge log lines. */
static void printable_protocol(const unsigned char *p, size_t len,
                               char out[4 * ACL_LOG_PROTO_MAX + 4])
{
    size_t n = len < ACL_LOG_PROTO_MAX ? len : ACL_LOG_PROTO_MAX, o = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            out[o++] = (char)p[i];
        } else {
            snprintf(out + o, 5, "\\x%02x", p[i]);
            o += 4;
        }
    }
    if (n < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static enum mp_auth_result acl_authorize_syn(void *state, const char *from,
                                             const char *to,
                                             const unsigned char *protocol,
                                             size_t protocol_len)
{
    const struct acl_state *st = state;
    enum mp_auth_result verdict = st->fallback;
    char shown[4 * ACL_LOG_PROTO_MAX + 4];

    for (size_t i = 0; i < st->n_rules; i++) {
        if (rule_matches(&st->rules[i], from, to, protocol, protocol_len)) {
            verdict = st->rules[i].verdict;
            break;
        }
    }
    if (verdict == MP_AUTH_DENY) {
        printable_protocol(protocol, protocol_len, shown);
        st->host->log(st->host, MP_LOG_NOTICE,
                      "denied: %s -> %s protocol \"%s\"", from, to, shown);
    }
    return verdict;
}

static const struct mp_authz_ops acl_ops = {
    .size = sizeof(struct mp_authz_ops),
    .authorize_syn = acl_authorize_syn,
};

static const struct mp_plugin acl_plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_AUTHORIZER,
    .name = "acl",
    .version = PACKAGE_VERSION,
    .init = acl_init,
    .cleanup = acl_cleanup,
    .reload = acl_reload,
    .authz = &acl_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &acl_plugin;
}
