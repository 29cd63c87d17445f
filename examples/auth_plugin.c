/*
 * auth_plugin.c - "auth_prefix", a minimal mpbroker authenticator to copy.
 *
 * It lets in every client whose name starts with a prefix and whose secret
 * is one shared secret, both set in the config file:
 *
 *     authenticators = (
 *         { module = "auth_prefix.so";
 *           options = { prefix = "guest-"; secret = "letmein"; }; },
 *         { module = "auth_passwd.so";
 *           options = { file = "/etc/mpbroker.passwd"; }; }
 *     );
 *
 *   - a name with the prefix and the right secret:  ALLOW (let in);
 *   - a name with the prefix and a wrong secret:    DENY (refused; the
 *     authenticators after this one are not asked);
 *   - any other name:                               DEFER (no opinion: the
 *     next authenticator decides; if none is left, the client is refused).
 *
 * A plugin is built against <mp/plugin.h> alone - nothing to link:
 *     cc -shared -fPIC $(pkg-config --cflags mpbroker-plugin) \
 *        -o auth_prefix.so auth_plugin.c
 * The whole contract is in doc/plugins.md and the header.
 */
#define _POSIX_C_SOURCE 200809L /* strdup() */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

/* What init() builds from the options; every callback gets it back. */
struct prefix_state {
    char *prefix;
    size_t prefix_len;
    unsigned char *secret;
    size_t secret_len;
};

/*
 * Compare a secret a client sent with ours, taking a time that depends
 * only on the length of what the client sent - never on how many leading
 * bytes are right - so that timing the answers cannot guess the secret
 * byte by byte. (memcmp() stops at the first difference.)
 */
static int secret_equal(const unsigned char *given, size_t given_len,
                        const unsigned char *secret, size_t secret_len)
{
    unsigned char diff = given_len != secret_len; /* secret_len > 0 */

    for (size_t i = 0; i < given_len; i++)
        diff |= given[i] ^ secret[i % secret_len];
    return diff == 0;
}

static void prefix_cleanup(void *arg)
{
    struct prefix_state *st = arg;

    if (st == NULL)
        return;
    if (st->secret != NULL) {
        /* Wipe it before free(); volatile, so that the compiler cannot
         * skip writes nobody reads (explicit_bzero() does this too). */
        volatile unsigned char *p = st->secret;
        for (size_t i = 0; i < st->secret_len; i++)
            p[i] = 0;
    }
    free(st->secret);
    free(st->prefix);
    free(st);
}

/* Check a string option that must be there and not be empty. `found` is
 * what host->option_string() returned for it. */
static int check_required(const char *key, int found, const char *value,
                          char *err, size_t errlen)
{
    if (found < 0) { /* the broker has already said "expected a string" */
        snprintf(err, errlen, "option '%s' must be a string", key);
        return -1;
    }
    if (found == 0 || value[0] == '\0') {
        snprintf(err, errlen, "option '%s' (a non-empty string) is required",
                 key);
        return -1;
    }
    return 0;
}

/*
 * init(): called once at start-up (and by `mpbroker -t`), before any other
 * callback. Read the options here - the option strings are the broker's
 * and valid only during init(), so copy what you keep. Return 0 and set
 * *state, or -1 with a one-line message in err: the broker prints it after
 * the config file and line of this plugin, and does not start.
 */
static int prefix_init(const struct mp_host *host,
                       const struct mp_options *opts, void **state,
                       char *err, size_t errlen)
{
    const char *prefix = NULL, *secret = NULL;
    struct prefix_state *st;

    /* Ask for every option you support, before failing on any: the
     * broker reports each key a plugin never asked for as an unknown
     * setting (a typo, surely). Each call returns 1 when the key is there
     * (a string), 0 when it is absent, -1 when it is not a string. */
    int has_prefix = host->option_string(opts, "prefix", &prefix);
    int has_secret = host->option_string(opts, "secret", &secret);

    if (check_required("prefix", has_prefix, prefix, err, errlen) != 0 ||
        check_required("secret", has_secret, secret, err, errlen) != 0)
        return -1;

    st = calloc(1, sizeof *st);
    if (st == NULL || (st->prefix = strdup(prefix)) == NULL ||
        (st->secret = (unsigned char *)strdup(secret)) == NULL) {
        prefix_cleanup(st);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->prefix_len = strlen(prefix);
    st->secret_len = strlen(secret);
    *state = st;

    /* host->log() prefixes our name. Never log a secret. */
    host->log(host, MP_LOG_INFO, "names starting with \"%s\" log in with "
              "the shared secret", st->prefix);
    return 0;
}

/*
 * authenticate(): one login attempt. `req` and everything it points to
 * belong to the broker and are valid during this call only. The name is
 * NUL-terminated and already checked against the name rules (safe to log);
 * the secret is any bytes, NUL included, and is NOT NUL-terminated. This
 * runs on the broker's only thread: answer at once (or return
 * MP_AUTH_PENDING and answer later through host->auth_done()).
 */
static enum mp_auth_result prefix_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    struct prefix_state *st = state;

    (void)ticket; /* only for PENDING answers */
    if (req->name_len < st->prefix_len ||
        memcmp(req->name, st->prefix, st->prefix_len) != 0)
        return MP_AUTH_DEFER; /* not ours: ask the next authenticator */
    if (secret_equal(req->secret, req->secret_len, st->secret, st->secret_len))
        return MP_AUTH_ALLOW;
    /* The reason goes to the client: keep it vague. */
    snprintf(reason, reason_len, "invalid name or secret");
    return MP_AUTH_DENY;
}

/* The operations of an authenticator. `size` tells the broker which
 * members this plugin knows; the members not named here stay NULL
 * (cancel is optional; reserved must be NULL). Deciding on connections
 * is another capability, with its own table (.authz, mp/plugin.h). */
static const struct mp_auth_ops prefix_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = prefix_authenticate,
};

/* The descriptor: static, so it lives as long as the module is loaded. */
static const struct mp_plugin prefix_plugin = {
    .abi = MP_PLUGIN_ABI, /* the broker refuses a plugin built for another */
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "auth_prefix",
    .version = "1.0",
    .init = prefix_init,
    .cleanup = prefix_cleanup, /* once, at exit */
    .auth = &prefix_ops,
};

/* The one symbol a plugin exports; MP_PLUGIN_EXPORT keeps it visible even
 * with -fvisibility=hidden. The declaration keeps -Wmissing-prototypes
 * quiet. */
MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &prefix_plugin;
}
