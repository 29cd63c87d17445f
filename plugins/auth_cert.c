/*
 * auth_cert - log clients in by their TLS client certificate: the name a
 * client asks for must equal the common name (CN) of the certificate it
 * presented on a TLS listener with verify_client "optional" or "required"
 * (the broker has then verified it against the listener's CA). The secret
 * is not looked at.
 *
 *   name == CN          ALLOW
 *   name != CN          DENY ("certificate does not match the name")
 *   no certificate      DEFER to the next authenticator, or DENY when the
 *                       option `required = true;` is set
 *
 * Options: required (bool, default false).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

struct cert_state {
    const struct mp_host *host;
    bool required;
};

static int cert_init(const struct mp_host *host, const struct mp_options *opts,
                     void **state, char *err, size_t errlen)
{
    struct cert_state *st = calloc(1, sizeof *st);
    int required = 0;

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (host->option_bool(opts, "required", &required) < 0) {
        free(st);
        snprintf(err, errlen, "options.required must be true or false");
        return -1;
    }
    st->host = host;
    st->required = required != 0;
    *state = st;
    return 0;
}

static void cert_cleanup(void *state)
{
    free(state);
}

static enum mp_auth_result cert_authenticate(void *state,
                                             const struct mp_auth_request *req,
                                             struct mp_auth_ticket *ticket,
                                             char *reason, size_t reason_len)
{
    const struct cert_state *st = state;

    (void)ticket;
    if (req->tls_subject == NULL) {
        if (!st->required)
            return MP_AUTH_DEFER;
        snprintf(reason, reason_len, "a client certificate is required");
        return MP_AUTH_DENY;
    }
    if (req->tls_common_name != NULL &&
        strcmp(req->tls_common_name, req->name) == 0)
        return MP_AUTH_ALLOW;
    /* The broker logs the refusal in one line (by=auth_cert, with the
     * reason); the subject is detail for debugging. */
    st->host->log(st->host, MP_LOG_DEBUG,
                  "%s from %s asked for a name its certificate (%s) does "
                  "not carry", req->name, req->peer, req->tls_subject);
    snprintf(reason, reason_len, "certificate does not match the name");
    return MP_AUTH_DENY;
}

static const struct mp_auth_ops cert_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = cert_authenticate,
};

static const struct mp_plugin cert_plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "auth_cert",
    .version = PACKAGE_VERSION,
    .init = cert_init,
    .cleanup = cert_cleanup,
    .auth = &cert_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &cert_plugin;
}
