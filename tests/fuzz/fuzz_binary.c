/*
 * fuzz_binary.c - libFuzzer harness for the binary framing
 * (common/codec_binary.c): the input is what a client sends on a socket.
 * See fuzz_codec.c for the checks.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_codec_one_input(&mp_codec_binary, &mp_codec_json, false, data, size);
    return 0;
}
