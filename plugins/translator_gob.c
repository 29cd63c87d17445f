/*
 * translator_gob.c - Go's encoding/gob of the original's Message struct
 * (the original MessagePasser's Gob translator), as a plugin, so that Go
 * programs written for the original can use the broker. The codec lives
 * in common/codec_gob.c, shared with libmpclient and the tests; this
 * module only hands it to the broker. It takes no options, so it needs
 * no init().
 */
#include "config.h"

#include <mp/plugin.h>

#include "codec.h"

static const struct mp_plugin plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_TRANSLATOR,
    .name = "translator_gob",
    .version = PACKAGE_VERSION,
    .codec = &mp_codec_gob,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &plugin;
}
