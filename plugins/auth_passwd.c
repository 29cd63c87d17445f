/*
 * auth_passwd - an authenticator that checks names and secrets against a
 * file of `name:hash` lines (crypt(3) hashes, written by mpbroker-passwd).
 *
 *     authenticators = (
 *         { module = "auth_passwd.so";
 *           options = { file = "/etc/mpbroker.passwd"; }; } );
 *
 * Answers:
 *  - a name in the file with the right secret: ALLOW;
 *  - a name in the file with a wrong secret: DENY, "invalid name or secret"
 *    (the same words whatever was wrong, so a client learns nothing);
 *  - a name not in the file: DEFER, so that a later authenticator in the
 *    chain (another file, a database) may know it. When no later one
 *    answers, the chain ends in a deny: with auth_passwd alone, unknown
 *    names are refused. Put auth_passwd last, or alone, if a name it does
 *    not know must never get in some other way.
 *
 * An unknown name costs a hash too, of the method a real user of the file
 * has (see mp_passwd_verify()), so the time an answer takes does not tell
 * which names exist.
 *
 * Hashing (10-700 ms a login, by method and machine) runs on the broker's
 * hashing workers through host->run_blocking(), never on the event loop:
 * other clients are served meanwhile. A broker too old to offer it gets
 * the hash computed inline, as before.
 *
 * The file is read at init() and again when the broker gets SIGHUP; a
 * file that no longer parses is reported and the old users stay. A table
 * is reference-counted: a login being hashed keeps the table it started
 * with until its answer is in.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mp/plugin.h>

#include "passwd_file.h"

#define DENY_REASON "invalid name or secret"

/* A loaded file, shared by the state and the logins being hashed with it.
 * The count changes on the loop thread only. */
struct passwd_table {
    struct mp_passwd *pw;
    unsigned refs;
};

struct passwd_state {
    const struct mp_host *host; /* valid until cleanup() returns */
    struct passwd_table *table;
    char *file;                 /* for reloads */
};

/* One login being hashed on a worker thread. */
struct check {
    struct passwd_state *st;
    struct passwd_table *table;  /* a reference */
    struct mp_auth_ticket *ticket;
    enum mp_passwd_result result; /* written by the worker */
    size_t name_len, secret_len;
    char peer[80];
    unsigned char *secret;       /* after name's NUL, wiped when done */
    char name[];
};

static struct passwd_table *table_new(struct mp_passwd *pw)
{
    struct passwd_table *t = malloc(sizeof *t);

    if (t == NULL) {
        mp_passwd_free(pw);
        return NULL;
    }
    t->pw = pw;
    t->refs = 1;
    return t;
}

static void table_release(struct passwd_table *t)
{
    if (t != NULL && --t->refs == 0) {
        mp_passwd_free(t->pw);
        free(t);
    }
}

static void set_reason(char *reason, size_t len, const char *text)
{
    if (reason != NULL && len > 0)
        snprintf(reason, len, "%s", text);
}

/* Hashes leak to anyone who can read them (offline guessing): say so. */
static void warn_if_world_accessible(const struct mp_host *host,
                                     const char *file)
{
    struct stat st;

    if (stat(file, &st) == 0 && (st.st_mode & S_IRWXO) != 0)
        host->log(host, MP_LOG_WARNING,
                  "%s is open to every user of this machine (mode %04o); "
                  "chmod 600 it",
                  file, (unsigned)(st.st_mode & 07777));
}

static void log_table(const struct mp_host *host, const char *file,
                      const struct mp_passwd *table)
{
    size_t n = mp_passwd_count(table), legacy = mp_passwd_legacy_count(table);

    if (n == 0)
        host->log(host, MP_LOG_WARNING,
                  "%s has no users: every login is passed on to the next "
                  "authenticator",
                  file);
    else
        host->log(host, MP_LOG_INFO, "%zu user%s loaded from %s", n,
                  n == 1 ? "" : "s", file);
    if (legacy > 0)
        host->log(host, MP_LOG_WARNING,
                  "%zu user%s in %s %s a weak legacy hash; set %s again "
                  "with mpbroker-passwd",
                  legacy, legacy == 1 ? "" : "s", file,
                  legacy == 1 ? "has" : "have", legacy == 1 ? "it" : "them");
}

static int load_table(const char *file, struct passwd_table **out,
                      char *err, size_t errlen)
{
    struct mp_passwd *pw;

    if (mp_passwd_load(file, &pw, err, errlen) < 0)
        return -1;
    *out = table_new(pw);
    if (*out == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        return -1;
    }
    return 0;
}

static int passwd_init(const struct mp_host *host,
                       const struct mp_options *opts, void **state,
                       char *err, size_t errlen)
{
    struct passwd_state *st;
    const char *file = NULL;
    int rc;

    rc = host->option_string(opts, "file", &file);
    if (rc < 0) {
        snprintf(err, errlen, "option 'file' must be a string");
        return -1;
    }
    if (rc == 0) {
        snprintf(err, errlen, "option 'file' is required");
        return -1;
    }
    if (file[0] == '\0') {
        snprintf(err, errlen, "option 'file' is empty");
        return -1;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Names the file and line of any malformed entry. */
    st->file = strdup(file);
    if (st->file == NULL || load_table(file, &st->table, err, errlen) < 0) {
        if (st->file == NULL)
            snprintf(err, errlen, "out of memory");
        free(st->file);
        free(st);
        return -1;
    }
    st->host = host;
    warn_if_world_accessible(host, file);
    log_table(host, file, st->table->pw);
    *state = st;
    return 0;
}

static void passwd_cleanup(void *state)
{
    struct passwd_state *st = state;

    if (st == NULL)
        return;
    table_release(st->table);
    free(st->file);
    free(st);
}

/* SIGHUP: a new table replaces the old one only if the file loads. */
static int passwd_reload(void *state, char *err, size_t errlen)
{
    struct passwd_state *st = state;
    struct passwd_table *table;

    if (load_table(st->file, &table, err, errlen) < 0)
        return -1;
    table_release(st->table);
    st->table = table;
    warn_if_world_accessible(st->host, st->file);
    log_table(st->host, st->file, st->table->pw);
    return 0;
}

/* The answer to a verified login. The name was checked by the broker (no
 * control characters), so it is safe in a log line. The secret never is. */
static enum mp_auth_result decide(const struct passwd_state *st,
                                  enum mp_passwd_result result,
                                  const char *name, const char *peer,
                                  char *reason, size_t reason_len)
{
    switch (result) {
    case MP_PASSWD_MATCH:
        return MP_AUTH_ALLOW;
    case MP_PASSWD_UNKNOWN:
        st->host->log(st->host, MP_LOG_DEBUG,
                      "no user '%s' (peer %s): deferring", name, peer);
        return MP_AUTH_DEFER;
    case MP_PASSWD_MISMATCH:
        /* The broker logs the refusal in one line (by=auth_passwd). */
        st->host->log(st->host, MP_LOG_DEBUG, "wrong secret for '%s' (peer %s)",
                      name, peer);
        set_reason(reason, reason_len, DENY_REASON);
        return MP_AUTH_DENY;
    case MP_PASSWD_ERROR:
    default:
        /* Never let a client in on an error. */
        st->host->log(st->host, MP_LOG_ERROR,
                      "out of memory checking the secret of '%s'", name);
        set_reason(reason, reason_len, "internal error, try again later");
        return MP_AUTH_DENY;
    }
}

static void check_free(struct check *c)
{
    explicit_bzero(c->secret, c->secret_len);
    table_release(c->table);
    free(c);
}

/* On a worker thread: the table is read-only while c holds it. */
static void check_work(void *arg)
{
    struct check *c = arg;

    c->result = mp_passwd_verify(c->table->pw, c->name, c->name_len,
                                 c->secret, c->secret_len);
    explicit_bzero(c->secret, c->secret_len);
}

/* Back on the loop thread. */
static void check_done(void *arg, int cancelled)
{
    struct check *c = arg;
    char reason[64] = "";
    enum mp_auth_result r;

    if (!cancelled) {
        r = decide(c->st, c->result, c->name, c->peer, reason, sizeof reason);
        c->st->host->auth_done(c->ticket, r, reason[0] ? reason : NULL);
    }
    check_free(c);
}

static struct check *check_new(struct passwd_state *st,
                               const struct mp_auth_request *req,
                               struct mp_auth_ticket *ticket)
{
    struct check *c = calloc(1, sizeof *c + req->name_len + 1 +
                                    req->secret_len);

    if (c == NULL)
        return NULL;
    c->st = st;
    c->table = st->table;
    c->table->refs++;
    c->ticket = ticket;
    c->name_len = req->name_len;
    memcpy(c->name, req->name, req->name_len);
    c->secret = (unsigned char *)c->name + req->name_len + 1;
    c->secret_len = req->secret_len;
    if (req->secret_len > 0)
        memcpy(c->secret, req->secret, req->secret_len);
    snprintf(c->peer, sizeof c->peer, "%s",
             req->peer != NULL ? req->peer : "?");
    return c;
}

static enum mp_auth_result passwd_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    struct passwd_state *st = state;
    const char *peer = req->peer != NULL ? req->peer : "?";
    struct check *c;
    int rc;

    if (st->host->run_blocking == NULL) /* a broker older than 0.4 */
        return decide(st, mp_passwd_verify(st->table->pw, req->name,
                                           req->name_len, req->secret,
                                           req->secret_len),
                      req->name, peer, reason, reason_len);
    c = check_new(st, req, ticket);
    rc = c != NULL ? st->host->run_blocking(ticket, check_work, check_done, c)
                   : -1;
    if (rc == 0)
        return MP_AUTH_PENDING;
    if (c != NULL)
        check_free(c);
    set_reason(reason, reason_len, rc == 1 ? "busy, try later"
                                           : "internal error, try again later");
    return MP_AUTH_DENY;
}

static const struct mp_auth_ops passwd_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = passwd_authenticate,
};

static const struct mp_plugin passwd_plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "auth_passwd",
    .version = PACKAGE_VERSION,
    .init = passwd_init,
    .cleanup = passwd_cleanup,
    .auth = &passwd_ops,
    .reload = passwd_reload,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &passwd_plugin;
}
