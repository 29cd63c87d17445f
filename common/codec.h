/*
 * codec.h - the wire formats, one implementation each, shared by the
 * translator plugins, the broker's tests and libmpclient.
 *
 * The ops tables follow the contract of struct mp_codec_ops in
 * mp/plugin.h. JSON and binary are stateless per stream except for the
 * JSON decoder's scan position (so a large message arriving in small
 * pieces is scanned once, not once per piece); gob keeps the type
 * definitions of each stream.
 */
#ifndef MP_COMMON_CODEC_H
#define MP_COMMON_CODEC_H

#include <mp/plugin.h>

/* JSON, wire-compatible with the original Go JSON translator. */
extern const struct mp_codec_ops mp_codec_json;

/* The binary framing documented in doc/protocol.md. */
extern const struct mp_codec_ops mp_codec_binary;

/* Go's encoding/gob of the original's Message struct (the original's Gob
 * translator). Needs its streams (mp_codec_streams_open). */
extern const struct mp_codec_ops mp_codec_gob;

/* The same for a client that may announce a protocol level: a stream
 * whose first message has a level defines Message with a fifth field
 * `Level int`, as a level-2 Go client does, and writes each message's
 * level there (when not zero). A stream whose first message has no level
 * writes what mp_codec_gob writes. Decoding is mp_codec_gob's. The broker
 * uses mp_codec_gob: it announces no level. */
extern const struct mp_codec_ops mp_codec_gob_client;

/* mp.Message of proto/mp.proto, each preceded by its length as a varint
 * (doc/protocol.md, "Protobuf format"). */
extern const struct mp_codec_ops mp_codec_protobuf;

/* The codec of the format called `name` (format.h), or NULL if there is
 * none. Links all the codecs: translators take theirs by name above. */
const struct mp_codec_ops *mp_codec_find(const char *name);

/*
 * The two streams of one socket, one per direction (formats without
 * stream state get NULLs). open returns 0, or -1 on allocation failure
 * (whatever was made must still be closed); close accepts NULLs and a
 * NULL codec.
 */
int mp_codec_streams_open(const struct mp_codec_ops *codec,
                          void *plugin_state, void **decode, void **encode);
void mp_codec_streams_close(const struct mp_codec_ops *codec, void *decode,
                            void *encode);

/* For decoders: the reason into err[0..errlen), and MP_DECODE_ERROR to
 * return. */
enum mp_decode_status mp_decode_fail(char *err, size_t errlen,
                                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
