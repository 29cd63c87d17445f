/*
 * auth_passwd - an authenticator that checks names and secrets against a
 * file of `name:hash` lines (crypt(3) hashes, written by mpbroker-passwd).
 *
 *     plugins = ( { path = "auth_passwd.so";
 *                   options = { file = "/etc/mpbroker.passwd"; }; } );
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
 * An unknown name costs a hash too (see mp_passwd_verify()), so the time an
 * answer takes does not tell which names exist.
 *
 * The file is read at init() and again when the broker gets SIGHUP; a
 * file that no longer parses is reported and the old users stay. Hashing blocks the event loop for the cost of one
 * hash (~10-20 ms for yescrypt at its default cost) per login attempt.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mp/plugin.h>

#include "passwd_file.h"

#define DENY_REASON "invalid name or secret"

struct passwd_state {
    const struct mp_host *host; /* valid until cleanup() returns */
    struct mp_passwd *table;
    char *file;                 /* for reloads */
};

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
    if (st->file == NULL || mp_passwd_load(file, &st->table, err, errlen) < 0) {
        if (st->file == NULL)
            snprintf(err, errlen, "out of memory");
        free(st->file);
        free(st);
        return -1;
    }
    st->host = host;
    warn_if_world_accessible(host, file);
    log_table(host, file, st->table);
    *state = st;
    return 0;
}

static void passwd_cleanup(void *state)
{
    struct passwd_state *st = state;

    if (st == NULL)
        return;
    mp_passwd_free(st->table);
    free(st->file);
    free(st);
}

/* SIGHUP: a new table replaces the old one only if the file loads. */
static int passwd_reload(void *state, char *err, size_t errlen)
{
    struct passwd_state *st = state;
    struct mp_passwd *table;

    if (mp_passwd_load(st->file, &table, err, errlen) < 0)
        return -1;
    mp_passwd_free(st->table);
    st->table = table;
    warn_if_world_accessible(st->host, st->file);
    log_table(st->host, st->file, st->table);
    return 0;
}

static enum mp_auth_result passwd_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    struct passwd_state *st = state;
    const char *peer = req->peer != NULL ? req->peer : "?";

    (void)ticket; /* always answers at once */

    /* The name was checked by the broker (no control characters), so it is
     * safe in a log line. The secret never is. */
    switch (mp_passwd_verify(st->table, req->name, req->name_len,
                             req->secret, req->secret_len)) {
    case MP_PASSWD_MATCH:
        return MP_AUTH_ALLOW;
    case MP_PASSWD_UNKNOWN:
        st->host->log(st->host, MP_LOG_DEBUG,
                      "no user '%s' (peer %s): deferring", req->name, peer);
        return MP_AUTH_DEFER;
    case MP_PASSWD_MISMATCH:
        st->host->log(st->host, MP_LOG_INFO, "wrong secret for '%s' (peer %s)",
                      req->name, peer);
        set_reason(reason, reason_len, DENY_REASON);
        return MP_AUTH_DENY;
    case MP_PASSWD_ERROR:
    default:
        /* Never let a client in on an error. */
        st->host->log(st->host, MP_LOG_ERROR,
                      "out of memory checking the secret of '%s'", req->name);
        set_reason(reason, reason_len, "internal error, try again later");
        return MP_AUTH_DENY;
    }
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
