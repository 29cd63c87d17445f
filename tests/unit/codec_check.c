/* codec_check.c - see codec_check.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

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
