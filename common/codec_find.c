/*
 * codec_find.c - a format's codec by name (see codec.h). Apart from
 * format.c's table so that only what encodes or decodes (libmpclient, the
 * tests) links all the codecs: one row each, by enum mp_format_id.
 */
#include "config.h"

#include "codec.h"
#include "format.h"

static const struct mp_codec_ops *const codecs[MP_FORMAT_COUNT] = {
    [MP_FORMAT_JSON] = &mp_codec_json,
    [MP_FORMAT_BINARY] = &mp_codec_binary,
    [MP_FORMAT_GOB] = &mp_codec_gob,
    [MP_FORMAT_PROTOBUF] = &mp_codec_protobuf,
};

const struct mp_codec_ops *mp_codec_find(const char *name)
{
    const struct mp_format *f = mp_format_find(name);

    return f != NULL ? codecs[f - mp_formats] : NULL;
}
