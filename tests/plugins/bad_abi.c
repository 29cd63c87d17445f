/*
 * bad_abi - TEST ONLY. A plugin built for an ABI the broker does not speak
 * (MP_PLUGIN_ABI + 1): the broker must refuse to load it, with a message
 * naming both versions, and must call none of its functions.
 */
#include "config.h"

#include <stdlib.h>

#include <mp/plugin.h>

/* Were the broker to call any of these anyway, the test would see it die
 * instead of quietly letting everyone in. */
static int bad_abi_init(const struct mp_host *host,
                        const struct mp_options *opts, void **state,
                        char *err, size_t errlen)
{
    (void)host;
    (void)opts;
    (void)state;
    (void)err;
    (void)errlen;
    abort();
}

static enum mp_auth_result bad_abi_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    (void)state;
    (void)req;
    (void)ticket;
    (void)reason;
    (void)reason_len;
    abort();
}

static const struct mp_auth_ops bad_abi_ops = {
    .size = sizeof(struct mp_auth_ops),
    .authenticate = bad_abi_authenticate,
};

static const struct mp_plugin bad_abi_plugin = {
    .abi = MP_PLUGIN_ABI + 1,
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = "bad_abi",
    .version = PACKAGE_VERSION,
    .init = bad_abi_init,
    .auth = &bad_abi_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &bad_abi_plugin;
}
