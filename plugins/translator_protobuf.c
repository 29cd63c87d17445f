/*
 * translator_protobuf.c - the protobuf wire format as a plugin. The codec
 * lives in common/codec_protobuf.c, shared with libmpclient and the tests;
 * this module only hands it to the broker. It takes no options, so it
 * needs no init().
 */
#include "config.h"

#include <mp/plugin.h>

#include "codec.h"

static const struct mp_plugin plugin = {
    .abi = MP_PLUGIN_ABI,
    .kind = MP_PLUGIN_TRANSLATOR,
    .name = "translator_protobuf",
    .version = PACKAGE_VERSION,
    .codec = &mp_codec_protobuf,
};

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void);

MP_PLUGIN_EXPORT const struct mp_plugin *mp_plugin_entry(void)
{
    return &plugin;
}
