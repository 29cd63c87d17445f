/* message.c - helpers for struct mp_message. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"

void mp_copy(void *dst, const void *src, size_t n)
{
    if (n > 0) /* src may be NULL then */
        memcpy(dst, src, n);
}

void mp_zero(void *dst, size_t n)
{
    memset(dst, 0, n);
}

void mp_message_clear(struct mp_message *msg)
{
    free(msg->data);
    mp_zero(msg, sizeof *msg);
}

static int set_inline_string(char *dst, uint8_t *dst_len, const char *s,
                             size_t len)
{
    if (len > MP_NAME_MAX)
        return -1;
    mp_copy(dst, s, len);
    dst[len] = '\0';
    *dst_len = (uint8_t)len;
    return 0;
}

int mp_message_set_other_client(struct mp_message *msg, const char *s,
                                 size_t len)
{
    return set_inline_string(msg->other_client, &msg->other_client_len, s,
                             len);
}

int mp_message_set_connection_id(struct mp_message *msg, const char *s,
                                 size_t len)
{
    return set_inline_string(msg->connection_id, &msg->connection_id_len, s,
                             len);
}

int mp_message_set_data(struct mp_message *msg, const void *bytes,
                        size_t len)
{
    unsigned char *copy = NULL;

    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL)
            return -1;
        memcpy(copy, bytes, len);
    }
    mp_message_take_data(msg, copy, len);
    return 0;
}

void mp_message_take_data(struct mp_message *msg, unsigned char *bytes,
                          size_t len)
{
    free(msg->data);
    msg->data = bytes;
    msg->data_len = len;
    msg->has_data = true;
}

void mp_message_clear_data(struct mp_message *msg)
{
    free(msg->data);
    msg->data = NULL;
    msg->data_len = 0;
    msg->has_data = false;
}

static const char *const meta_names[] = {
    [MP_META_DATA] = "Data",
    [MP_META_WAT] = "WAT",
    [MP_META_NO_SUCH_CONNECTION] = "NoSuchConnection",
    [MP_META_UNKNOWN_PROTO] = "UnknownProto",
    [MP_META_CLIENT_CLOSED] = "ClientClosed",
    [MP_META_CONN_SYN] = "ConnSyn",
    [MP_META_CONN_ACK] = "ConnAck",
    [MP_META_CONN_CLOSED] = "ConnClosed",
    [MP_META_AUTH] = "Auth",
    [MP_META_AUTH_OK] = "AuthOk",
    [MP_META_AUTH_FAILURE] = "AuthFailure",
    [MP_META_CREDIT] = "Credit",
    [MP_META_WATCH] = "Watch",
    [MP_META_UNWATCH] = "Unwatch",
    [MP_META_PRESENCE] = "Presence",
    [MP_META_LIST] = "List",
    [MP_META_DENIED] = "Denied",
    [MP_META_REPLACED] = "Replaced",
    [MP_META_GOING_AWAY] = "GoingAway",
};

const char *mp_meta_name(unsigned meta)
{
    if (meta < sizeof meta_names / sizeof meta_names[0])
        return meta_names[meta];
    return "unknown";
}
