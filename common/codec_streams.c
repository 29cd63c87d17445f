/* codec_streams.c - the two codec streams of one socket (see codec.h). */
#include "config.h"

#include "codec.h"

int mp_codec_streams_open(const struct mp_codec_ops *codec,
                          void *plugin_state, void **decode, void **encode)
{
    *decode = *encode = NULL;
    if (codec->stream_new == NULL)
        return 0;
    *decode = codec->stream_new(plugin_state);
    *encode = codec->stream_new(plugin_state);
    return *decode != NULL && *encode != NULL ? 0 : -1;
}

void mp_codec_streams_close(const struct mp_codec_ops *codec, void *decode,
                            void *encode)
{
    if (codec == NULL || codec->stream_free == NULL)
        return;
    codec->stream_free(decode);
    codec->stream_free(encode);
}
