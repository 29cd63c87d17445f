/* codec_check.c - see codec_check.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "message.h"

#include "codec_check.h"

int codec_out_write(void *ctx, const void *bytes, size_t len)
{
    struct codec_out *o = ctx;

    o->writes++;
    if (o->fail_from != 0 && o->writes >= o->fail_from)
        return -1;
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2 + 1;
        o->p = realloc(o->p, o->cap);
        cr_assert(o->p != NULL);
    }
    memcpy(o->p + o->len, bytes, len);
    o->len += len;
    return 0;
}

enum mp_decode_status codec_decode_exact(const struct mp_codec_ops *codec,
                                         void *stream, const void *bytes,
                                         size_t len, size_t max_size,
                                         struct mp_message *msg,
                                         size_t *consumed, char *err,
                                         size_t errlen)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    enum mp_decode_status st;

    cr_assert(copy != NULL);
    if (len > 0)
        memcpy(copy, bytes, len);
    memset(msg, 0, sizeof *msg);
    *consumed = (size_t)-1;
    err[0] = '\0';
    st = codec->decode(stream, copy, len, max_size, msg, consumed, err,
                       errlen);
    free(copy);
    if (st == MP_DECODE_ERROR) {
        cr_assert(err[0] != '\0', "an error needs a reason");
        cr_assert_null(msg->data, "an error leaves no allocation");
    }
    if (st == MP_DECODE_OK)
        cr_assert(*consumed > 0 && *consumed <= len,
                  "consumed %zu of %zu bytes", *consumed, len);
    return st;
}

bool codec_check_wire(const struct mp_codec_ops *codec, const void *bytes,
                      size_t len, size_t max_size)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    struct mp_message wire_msg, msg;
    size_t wire_used = (size_t)-1, used, off = (size_t)-1, wire_len = (size_t)-1;
    char err[256];

    cr_assert(copy != NULL);
    if (len > 0)
        memcpy(copy, bytes, len);
    memset(&wire_msg, 0, sizeof wire_msg);
    int took = codec->decode_wire(NULL, copy, len, max_size, &wire_msg,
                                  &wire_used, &off, &wire_len);
    cr_assert(took == 0 || took == 1);
    if (!took) {
        struct mp_message zero;
        memset(&zero, 0, sizeof zero);
        cr_assert(memcmp(&wire_msg, &zero, sizeof zero) == 0,
                  "a message not taken is left untouched");
        free(copy);
        return false;
    }
    cr_assert_null(wire_msg.data);
    cr_assert(off <= len && wire_len <= len - off && wire_used <= len);
    cr_assert_eq(codec_decode_exact(codec, NULL, bytes, len, max_size, &msg,
                                    &used, err, sizeof err),
                 MP_DECODE_OK, "decode_wire took what decode refuses: %s", err);
    cr_assert_eq(wire_used, used);
    cr_assert_eq(wire_msg.meta, msg.meta);
    cr_assert_eq(wire_msg.level, msg.level);
    cr_assert_eq(wire_msg.has_data, msg.has_data);
    cr_assert_str_eq(wire_msg.other_client, msg.other_client);
    cr_assert_eq(wire_msg.other_client_len, msg.other_client_len);
    cr_assert_str_eq(wire_msg.connection_id, msg.connection_id);
    cr_assert_eq(wire_msg.connection_id_len, msg.connection_id_len);

    struct codec_out a = { 0 }, b = { 0 };
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &a), 0);
    cr_assert_eq(codec->encode_wire(NULL, &wire_msg, copy + off, wire_len,
                                    codec_out_write, &b), 0);
    cr_assert_eq(a.len, b.len, "encode_wire wrote %zu bytes, encode %zu", b.len,
                 a.len);
    cr_assert(a.len == 0 || memcmp(a.p, b.p, a.len) == 0,
              "encode_wire and encode differ");
    free(a.p);
    free(b.p);
    mp_message_clear(&msg);
    mp_message_clear(&wire_msg);
    free(copy);
    return true;
}
