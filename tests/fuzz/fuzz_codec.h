/*
 * fuzz_codec.h - the body of the codec harnesses (fuzz_json, fuzz_binary):
 * decode a whole input as one stream, check every message round-trips
 * through both formats, and check that the answer does not depend on how
 * the bytes arrived.
 */
#ifndef MP_FUZZ_CODEC_H
#define MP_FUZZ_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <mp/plugin.h>

#include <stdbool.h>

/* Run every check on data[0..size) as a stream of `codec`; `other` is
 * another wire format (a decoded message must be representable there too,
 * since the broker re-encodes every message for its recipient).
 * `needs_stream`: the codec cannot decode without its stream state (gob
 * keeps the peer's type definition there), so no run goes without it. */
void fuzz_codec_one_input(const struct mp_codec_ops *codec,
                          const struct mp_codec_ops *other, bool needs_stream,
                          const uint8_t *data, size_t size);

#endif
