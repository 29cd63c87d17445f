/*
 * auth_allow_all - an authenticator that lets every client in, whatever
 * its secret: for a first try on loopback, and for tests. It takes no
 * options, and warns at start-up so that it is not left on by mistake.
 *
 * As it always answers ALLOW, no authenticator after it in the chain is
 * ever asked.
 */
#include "config.h"

#include <stddef.h>

#include <mp/plugin.h>

static int allow_all_init(const struct mp_host *host,
                          const struct mp_options *opts, void **state,
                          char *err, size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    /* host->log prefixes the plugin's name: "auth_allow_all: every..." */
    host->log(host, MP_LOG_WARNING,
              "every client is allowed in without a secret check; do not "
              "use this outside a trusted network");
    *state = NULL;
    return 0;
}

static enum mp_auth_result allow_all_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    (void)state;
    (void)req;
    (void)ticket;
    (void)reason;
    (void)reason_len;
    return MP_AUTH_ALLOW;
}

static const struct mp_auth_ops allow_all_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = allow_all_authenticate,
};

static const struct mp_plugin allow_all_plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "auth_allow_all",
    .version = PACKAGE_VERSION,
    .init = allow_all_init,
    .auth = &allow_all_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &allow_all_plugin;
}
