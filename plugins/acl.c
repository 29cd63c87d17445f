/*
 * acl - an authorizer (MP_PLUGIN_AUTHORIZER): decides who may open which
 * protocol to whom, and who may see which names online.
 *
 *     authenticators = (
 *         { module = "acl.so";
 *           options = { rules = "/etc/mpbroker.acl"; default = "deny"; }; },
 *         { module = "auth_passwd.so"; options = { file = "..."; }; } );
 *
 * It is listed among the authenticators but takes no part in logins (it
 * has no authenticate(): the broker skips it in the login chain), so the
 * other authenticators alone decide who logs in. Its work is
 * authorize_syn() and authorize_see(), answered from the rules file, one
 * rule a line, of two kinds:
 *
 *     allow|deny FROM -> TO PROTOCOL
 *     see|hide   FROM -> TO
 *
 * FROM, TO and PROTOCOL are a name or `*` (any). There is no prefix
 * form (`b*`): `*` may be part of a client name, and `b*` already names
 * the client "b*" in an allow/deny line.
 *
 * allow/deny rules answer authorize_syn() (each ConnSyn): the first that
 * matches decides; when none does, the `default` option does ("deny"
 * unless set: a forgotten rule then fails closed, not open). A DENY
 * reaches the initiator as UnknownProto, as if the target did not speak
 * the protocol, so the rules are not revealed.
 *
 * see/hide rules answer authorize_see() (protocol level 2 presence: may
 * FROM learn whether TO is online?): the first that matches decides.
 * When none does, a client sees exactly the names it could open a
 * connection to: FROM sees TO iff the allow/deny rules and the default
 * let FROM open TO for at least one protocol (see_by_syn_rules()). The
 * two kinds are independent lists; their order relative to each other
 * does not matter.
 *
 * The file is read at init(), and again when the broker gets SIGHUP: the
 * new rules replace the old ones only if the whole file is valid;
 * otherwise the error is logged and the old rules stay. Matching only
 * compares strings and never allocates: it runs on every Syn, and for
 * every name of a List.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

#include "name.h"

/* allow/deny lines have ACL_SYN_FIELDS fields: ACTION FROM -> TO
 * PROTOCOL; see/hide lines ACL_SEE_FIELDS: ACTION FROM -> TO. */
#define ACL_SYN_FIELDS 5
#define ACL_SEE_FIELDS 4
#define ACL_SYN_SYNTAX "expected 'allow|deny FROM -> TO PROTOCOL'"
#define ACL_SEE_SYNTAX "expected 'see|hide FROM -> TO'"

/* Longest protocol shown in a log line; longer ones are cut. */
#define ACL_LOG_PROTO_MAX 64

/* No earlier deny rule with the same protocol (acl_rule.prev_deny). */
#define ACL_NO_RULE SIZE_MAX

/* An allow/deny line. */
struct acl_rule {
    enum mp_auth_result verdict; /* MP_AUTH_ALLOW or MP_AUTH_DENY */
    char *from;                  /* NULL stands for `*` */
    char *to;                    /* NULL stands for `*` */
    char *protocol;              /* NULL stands for `*` */
    size_t protocol_len;
    /* The nearest earlier deny rule naming the same protocol (not `*`),
     * or ACL_NO_RULE: the denies that may shadow this rule, chained so
     * that authorize_see() need not scan the whole list back. */
    size_t prev_deny;
};

/* A see/hide line. */
struct acl_see_rule {
    enum mp_auth_result verdict; /* MP_AUTH_ALLOW (see) or MP_AUTH_DENY */
    char *from;                  /* NULL stands for `*` */
    char *to;                    /* NULL stands for `*` */
};

/* What one reading of the file gives; replaced whole on reload. */
struct acl_rules {
    struct acl_rule *syn; /* allow/deny, in file order */
    size_t n_syn, cap_syn;
    struct acl_see_rule *see; /* see/hide, in file order */
    size_t n_see, cap_see;
};

struct acl_state {
    const struct mp_host *host; /* valid until cleanup() returns */
    char *file;                 /* the rules file, for reloads */
    struct acl_rules rules;
    enum mp_auth_result fallback; /* when no allow/deny rule matches */
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

/* The first word of a rule: which list it goes to, and its verdict. */
enum acl_kind { ACL_SYN, ACL_SEE };

static const struct acl_action {
    const char *word;
    enum acl_kind kind;
    enum mp_auth_result verdict;
} acl_actions[] = {
    { "allow", ACL_SYN, MP_AUTH_ALLOW },
    { "deny", ACL_SYN, MP_AUTH_DENY },
    { "see", ACL_SEE, MP_AUTH_ALLOW },
    { "hide", ACL_SEE, MP_AUTH_DENY },
};

static const struct acl_action *action_named(const char *word)
{
    for (size_t i = 0; i < sizeof acl_actions / sizeof acl_actions[0]; i++) {
        if (strcmp(acl_actions[i].word, word) == 0)
            return &acl_actions[i];
    }
    return NULL;
}

static void free_rule(struct acl_rule *r)
{
    free(r->from);
    free(r->to);
    free(r->protocol);
}

static void free_see_rule(struct acl_see_rule *r)
{
    free(r->from);
    free(r->to);
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

/* The part both kinds share: `FROM -> TO` in f[1..3]. */
static int check_ends(char **f, const char *where, char *err, size_t errlen)
{
    if (strcmp(f[2], "->") != 0) {
        snprintf(err, errlen, "%s: expected '->' between FROM and TO", where);
        return -1;
    }
    if (check_name_field("FROM", f[1], where, err, errlen) < 0 ||
        check_name_field("TO", f[3], where, err, errlen) < 0)
        return -1;
    return 0;
}

/* Make room for one more element in *array (n used of *cap). */
static int grow(void **array, size_t *cap, size_t n, size_t size)
{
    size_t more;
    void *grown;

    if (n < *cap)
        return 0;
    more = *cap ? 2 * *cap : 16;
    grown = realloc(*array, more * size);
    if (grown == NULL)
        return -1;
    *array = grown;
    *cap = more;
    return 0;
}

/* The nearest deny rule before syn[n] whose protocol is `r`'s (not `*`).
 * Quadratic in the worst case, but only at load time, and each step
 * compares lengths first. */
static size_t find_prev_deny(const struct acl_rules *rs, size_t n,
                             const struct acl_rule *r)
{
    if (r->protocol == NULL)
        return ACL_NO_RULE;
    while (n-- > 0) {
        const struct acl_rule *d = &rs->syn[n];

        if (d->verdict == MP_AUTH_DENY && d->protocol != NULL &&
            d->protocol_len == r->protocol_len &&
            memcmp(d->protocol, r->protocol, r->protocol_len) == 0)
            return n;
    }
    return ACL_NO_RULE;
}

/* Add the allow/deny line f[0..4]. */
static int add_syn_rule(struct acl_rules *rs, char **f,
                        enum mp_auth_result verdict)
{
    struct acl_rule rule = { .verdict = verdict };
    bool ok = true;

    rule.from = copy_pattern(f[1], &ok);
    rule.to = copy_pattern(f[3], &ok);
    rule.protocol = copy_pattern(f[4], &ok);
    rule.protocol_len = rule.protocol ? strlen(rule.protocol) : 0;
    if (!ok || grow((void **)&rs->syn, &rs->cap_syn, rs->n_syn,
                    sizeof *rs->syn) < 0) {
        free_rule(&rule);
        return -1;
    }
    rule.prev_deny = find_prev_deny(rs, rs->n_syn, &rule);
    rs->syn[rs->n_syn++] = rule;
    return 0;
}

/* Add the see/hide line f[0..3]. */
static int add_see_rule(struct acl_rules *rs, char **f,
                        enum mp_auth_result verdict)
{
    struct acl_see_rule rule = { .verdict = verdict };
    bool ok = true;

    rule.from = copy_pattern(f[1], &ok);
    rule.to = copy_pattern(f[3], &ok);
    if (!ok || grow((void **)&rs->see, &rs->cap_see, rs->n_see,
                    sizeof *rs->see) < 0) {
        free_see_rule(&rule);
        return -1;
    }
    rs->see[rs->n_see++] = rule;
    return 0;
}

/* Parse one line (len bytes, as read) into rs; blank and comment lines
 * add nothing. */
static int parse_line(struct acl_rules *rs, char *line, size_t len,
                      const char *where, char *err, size_t errlen)
{
    char *f[ACL_SYN_FIELDS];
    const struct acl_action *action;
    size_t n;
    int rc;

    /* A NUL would silently cut the line short: refuse it. */
    if (strlen(line) != len) {
        snprintf(err, errlen, "%s: NUL byte in line", where);
        return -1;
    }
    n = split_fields(line, f, ACL_SYN_FIELDS);
    if (n == 0 || f[0][0] == '#')
        return 0;
    action = action_named(f[0]);
    if (action == NULL) {
        snprintf(err, errlen,
                 "%s: expected 'allow', 'deny', 'see' or 'hide' first", where);
        return -1;
    }
    if (n != (action->kind == ACL_SYN ? ACL_SYN_FIELDS : ACL_SEE_FIELDS)) {
        snprintf(err, errlen, "%s: %s", where,
                 action->kind == ACL_SYN ? ACL_SYN_SYNTAX : ACL_SEE_SYNTAX);
        return -1;
    }
    if (check_ends(f, where, err, errlen) < 0)
        return -1;
    rc = action->kind == ACL_SYN ? add_syn_rule(rs, f, action->verdict)
                                 : add_see_rule(rs, f, action->verdict);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

static int load_rules(struct acl_rules *rs, const char *file, char *err,
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
        rc = parse_line(rs, line, (size_t)len, where, err, errlen);
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

static void free_rules(struct acl_rules *rs)
{
    for (size_t i = 0; i < rs->n_syn; i++)
        free_rule(&rs->syn[i]);
    for (size_t i = 0; i < rs->n_see; i++)
        free_see_rule(&rs->see[i]);
    free(rs->syn);
    free(rs->see);
    *rs = (struct acl_rules){ 0 };
}

static void acl_cleanup(void *state)
{
    struct acl_state *st = state;

    if (st == NULL)
        return;
    free_rules(&st->rules);
    free(st->file);
    free(st);
}

static void log_loaded(const struct acl_state *st, const char *verb)
{
    size_t n = st->rules.n_syn + st->rules.n_see;

    st->host->log(st->host, MP_LOG_INFO,
                  "%zu rule%s %s from %s, default %s", n, n == 1 ? "" : "s",
                  verb, st->file,
                  st->fallback == MP_AUTH_ALLOW ? "allow" : "deny");
}

/* SIGHUP: read the file into a fresh rule list; swap only if all of it
 * parsed, so a broken edit leaves the old rules in force. */
static int acl_reload(void *state, char *err, size_t errlen)
{
    struct acl_state *st = state;
    struct acl_rules fresh = { 0 };

    if (load_rules(&fresh, st->file, err, errlen) < 0) {
        free_rules(&fresh);
        return -1;
    }
    free_rules(&st->rules);
    st->rules = fresh;
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
    if (load_rules(&st->rules, file, err, errlen) < 0) {
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

static bool ends_match(const char *from_pattern, const char *to_pattern,
                       const char *from, const char *to)
{
    return name_matches(from_pattern, from) && name_matches(to_pattern, to);
}

static bool rule_matches(const struct acl_rule *r, const char *from,
                         const char *to, const unsigned char *protocol,
                         size_t protocol_len)
{
    return ends_match(r->from, r->to, from, to) &&
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

    for (size_t i = 0; i < st->rules.n_syn; i++) {
        const struct acl_rule *r = &st->rules.syn[i];

        if (rule_matches(r, from, to, protocol, protocol_len)) {
            verdict = r->verdict;
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

/* Does an earlier deny rule of the same protocol that matches (from, to)
 * take syn[i]'s protocol before syn[i] can? syn[i] names one protocol. */
static bool shadowed(const struct acl_rules *rs, size_t i, const char *from,
                     const char *to)
{
    for (size_t j = rs->syn[i].prev_deny; j != ACL_NO_RULE;
         j = rs->syn[j].prev_deny) {
        if (ends_match(rs->syn[j].from, rs->syn[j].to, from, to))
            return true;
    }
    return false;
}

/*
 * The default of authorize_see(): is there a protocol P for which
 * authorize_syn(client, name, P) would answer ALLOW? Walk the allow/deny
 * rules that match (client, name), in order, as every P would:
 *  - allow *: yes. The denies before it name finitely many protocols
 *    (a deny * would have ended the walk), so some P reaches it.
 *  - allow P: yes, unless an earlier deny P took P first (an earlier
 *    allow P would have answered yes already).
 *  - deny *: no. Every P that no earlier allow took is denied here, and
 *    no earlier allow took one, or the walk would have ended.
 *  - deny P: takes P only; go on.
 * The protocols no rule took (infinitely many) get the default.
 */
static bool see_by_syn_rules(const struct acl_state *st, const char *client,
                             const char *name)
{
    const struct acl_rules *rs = &st->rules;

    for (size_t i = 0; i < rs->n_syn; i++) {
        const struct acl_rule *r = &rs->syn[i];

        if (!ends_match(r->from, r->to, client, name))
            continue;
        if (r->verdict == MP_AUTH_ALLOW &&
            (r->protocol == NULL || !shadowed(rs, i, client, name)))
            return true;
        if (r->verdict == MP_AUTH_DENY && r->protocol == NULL)
            return false;
    }
    return st->fallback == MP_AUTH_ALLOW;
}

/* Not logged, unlike a denied Syn: it runs for every name of a List and
 * of a prefix Watch, and hiding is the normal case there. */
static enum mp_auth_result acl_authorize_see(void *state, const char *client,
                                             const char *name)
{
    const struct acl_state *st = state;

    for (size_t i = 0; i < st->rules.n_see; i++) {
        const struct acl_see_rule *r = &st->rules.see[i];

        if (ends_match(r->from, r->to, client, name))
            return r->verdict;
    }
    return see_by_syn_rules(st, client, name) ? MP_AUTH_ALLOW : MP_AUTH_DENY;
}

static const struct mp_authz_ops acl_ops = {
    .size = sizeof(struct mp_authz_ops),
    .authorize_syn = acl_authorize_syn,
    .authorize_see = acl_authorize_see,
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
