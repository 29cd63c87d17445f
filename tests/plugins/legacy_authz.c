/*
 * legacy_authz - TEST ONLY. An authenticator as plugins were written before
 * authorization became a capability of its own (struct mp_authz_ops): its
 * descriptor and ops table are frozen copies of the ABI-1 layout of
 * mpbroker 0.2.0 before issue 15, when acl.so was such an authenticator
 * and authorize_syn lived in struct mp_auth_ops only. The broker must go on
 * loading it, with the same ABI number, and must ask its authorize_syn.
 *
 * Built twice:
 *  - legacy_authz.so: the ops table as that header had it, size included;
 *  - legacy_authz_short.so (-DLEGACY_SHORT_OPS): `size` as a header older
 *    still, without authorize_syn, would have set it. The slot past that
 *    size holds a function that aborts: the broker must not read past the
 *    size the plugin declares, so the Syn it would have denied goes through.
 *
 * Logins: everyone but "mallory" is let in. Syns: protocol "forbidden" is
 * denied, anything else deferred.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mp/plugin.h>

/* struct mp_auth_ops is the same in the frozen header (authorize_syn
 * was there already), so this plugin uses the current declaration. */

/* struct mp_plugin of the frozen header: no authz, seven reserved. */
struct legacy_plugin {
    unsigned abi;
    enum mp_plugin_kind kind;
    const char *name;
    const char *version;
    int (*init)(const struct mp_host *host, const struct mp_options *opts,
                void **state, char *err, size_t errlen);
    void (*cleanup)(void *state);
    const struct mp_auth_ops *auth;
    const struct mp_codec_ops *codec;
    int (*reload)(void *state, char *err, size_t errlen);
    void *reserved[7];
};

/* A plugin compiled against the old header and one compiled against the
 * current one must agree on every byte the broker reads. */
_Static_assert(sizeof(struct legacy_plugin) == sizeof(struct mp_plugin),
               "the descriptor changed size: that needs an ABI bump");
_Static_assert(offsetof(struct legacy_plugin, reload) ==
                   offsetof(struct mp_plugin, reload),
               "descriptor members moved");

static enum mp_auth_result legacy_authenticate(
    void *state, const struct mp_auth_request *req,
    struct mp_auth_ticket *ticket, char *reason, size_t reason_len)
{
    (void)state;
    (void)ticket;
    if (strcmp(req->name, "mallory") != 0)
        return MP_AUTH_ALLOW;
    snprintf(reason, reason_len, "legacy says no");
    return MP_AUTH_DENY;
}

#ifdef LEGACY_SHORT_OPS
/* Past the declared size: never to be called. */
static enum mp_auth_result legacy_authorize_syn(void *state, const char *from,
                                                const char *to,
                                                const unsigned char *protocol,
                                                size_t protocol_len)
{
    (void)state;
    (void)from;
    (void)to;
    (void)protocol;
    (void)protocol_len;
    abort();
}
#define LEGACY_OPS_SIZE offsetof(struct mp_auth_ops, authorize_syn)
#define LEGACY_NAME "legacy_authz_short"
#else
static enum mp_auth_result legacy_authorize_syn(void *state, const char *from,
                                                const char *to,
                                                const unsigned char *protocol,
                                                size_t protocol_len)
{
    static const char forbidden[] = "forbidden";

    (void)state;
    (void)from;
    (void)to;
    if (protocol_len == sizeof forbidden - 1 &&
        memcmp(protocol, forbidden, protocol_len) == 0)
        return MP_AUTH_DENY;
    return MP_AUTH_DEFER;
}
#define LEGACY_OPS_SIZE sizeof(struct mp_auth_ops)
#define LEGACY_NAME "legacy_authz"
#endif

static const struct mp_auth_ops legacy_ops = {
    .size = LEGACY_OPS_SIZE,
    .authenticate = legacy_authenticate,
    .authorize_syn = legacy_authorize_syn,
};

static const struct legacy_plugin legacy_plugin = {
    .abi = 1, /* MP_PLUGIN_ABI of the frozen header */
    .kind = MP_PLUGIN_AUTHENTICATOR,
    .name = LEGACY_NAME,
    .version = "0.2.0",
    .auth = &legacy_ops,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    /* The broker reads it through its own declaration, as it would read
     * a plugin built against the old header: same layout (see above). */
    return (const struct mp_plugin *)(const void *)&legacy_plugin;
}
