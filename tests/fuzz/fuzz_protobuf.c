/*
 * fuzz_protobuf.c - libFuzzer harness for the protobuf format
 * (common/codec_protobuf.c): the input is what a client sends on a
 * socket. fuzz_codec.c's checks, plus a differential one against
 * libprotobuf-c with protoc-c's code for proto/mp.proto (generated at
 * build time, tests/local.mk): every message our decoder accepts,
 * protobuf-c must read too, to the same fields.
 *
 * Names compare up to their first NUL byte: protobuf-c keeps a string
 * as a C string and so cuts it there (one of the reasons the codec does
 * not use it; ours keeps the whole name, and a name holding a NUL is
 * UTF-8). Our decoder is stricter than protobuf-c in places (UTF-8, the
 * 255-byte and 0-255 limits, groups), so only what ours accepts is
 * compared.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "fuzz_codec.h"
#include "fuzz_util.h"
#include "message.h"
#include "mp.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The broker's largest max_message_size. */
#define MAX_SIZE ((size_t)1 << 30)

/* The bytes the varint at p (of a message ours decoded) takes. */
static size_t prefix_len(const uint8_t *p)
{
    size_t n = 1;

    while (p[n - 1] & 0x80)
        n++;
    return n;
}

static void check_same(const Mp__Message *ref, const struct mp_message *msg,
                       size_t at)
{
    bool same_data = (ref->payload_case == MP__MESSAGE__PAYLOAD_DATA) ==
                     msg->has_data;

    if (same_data && msg->has_data)
        same_data = ref->data.len == msg->data_len &&
                    (msg->data_len == 0 ||
                     memcmp(ref->data.data, msg->data, msg->data_len) == 0);
    if ((unsigned)ref->meta == msg->meta && ref->level == msg->level &&
        strcmp(ref->other_client, msg->other_client) == 0 &&
        strcmp(ref->connection_id, msg->connection_id) == 0 && same_data)
        return;
    fuzz_print_message("ours", msg);
    fprintf(stderr, "protobuf-c: meta %u level %u other_client \"%s\" "
            "connection_id \"%s\" data %s, %zu bytes\n",
            (unsigned)ref->meta, (unsigned)ref->level, ref->other_client,
            ref->connection_id,
            ref->payload_case == MP__MESSAGE__PAYLOAD_DATA ? "present"
                                                           : "absent",
            ref->payload_case == MP__MESSAGE__PAYLOAD_DATA ? ref->data.len
                                                           : 0);
    FUZZ_CHECK(0, "the message at byte %zu reads differently in protobuf-c",
               at);
}

/* Each message of the input our decoder takes, protobuf-c must read the
 * same. */
static void check_against_protobuf_c(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct mp_message msg;
        size_t consumed = 0;
        char err[200];

        memset(&msg, 0, sizeof msg);
        if (mp_codec_protobuf.decode(NULL, data + off, size - off, MAX_SIZE,
                                     &msg, &consumed, err, sizeof err) !=
            MP_DECODE_OK)
            return;
        size_t body = prefix_len(data + off);
        FUZZ_CHECK(body <= consumed, "prefix of %zu of %zu bytes", body,
                   consumed);
        Mp__Message *ref = mp__message__unpack(NULL, consumed - body,
                                               data + off + body);
        if (ref == NULL) {
            fuzz_print_message("ours", &msg);
            FUZZ_CHECK(0, "protobuf-c refuses the message at byte %zu that"
                       " we take (%zu bytes)", off, consumed);
        }
        check_same(ref, &msg, off);
        mp__message__free_unpacked(ref, NULL);
        mp_message_clear(&msg);
        off += consumed;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_codec_one_input(&mp_codec_protobuf, &mp_codec_json, false, data,
                         size);
    check_against_protobuf_c(data, size);
    return 0;
}
