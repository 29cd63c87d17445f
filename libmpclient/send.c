/*
 * send.c - one message for the broker: encoded in the client's format
 * into its scratch buffer, then handed to the output queue (outq.c),
 * which accounts for its memory. Every message the library sends, the
 * application's and its own (Auth, Ack, Closed, refusals), comes here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client-internal.h"
#include "message.h"

/* The encoder's sink: bytes go to the scratch buffer, except the data of
 * a message sent with mp_conn_send_take(), which is only noted: the
 * output queue adds it by reference. */
struct sink {
    struct evbuffer *buf;
    const void *take;
    size_t take_len;
    struct outq_taken taken;
    bool has_taken;
};

struct taken_data {
    void (*free_fn)(void *, size_t, void *);
    void *free_arg;
};

static void release_taken(const void *data, size_t len, void *extra)
{
    struct taken_data *t = extra;

    if (t->free_fn != NULL)
        t->free_fn((void *)data, len, t->free_arg);
    free(t);
}

static int sink_write(void *ctx, const void *bytes, size_t len)
{
    struct sink *s = ctx;

    if (s->take != NULL && !s->has_taken && bytes == s->take &&
        len == s->take_len && len > 0) {
        s->has_taken = true;
        s->taken.offset = evbuffer_get_length(s->buf);
        s->taken.data = bytes;
        s->taken.len = len;
        return 0;
    }
    return evbuffer_add(s->buf, bytes, len);
}

/* Encode msg into the scratch buffer and queue it; MP_OK or an error
 * (nothing queued). */
static int encode_and_queue(struct mp_client *c, struct mp_conn *conn,
                            const struct mp_message *msg, struct sink *sink,
                            struct taken_data *t)
{
    int rc = MP_OK;

    if (c->codec->encode(c->encode_stream, msg, sink_write, sink) != 0)
        rc = MP_ERR_NOMEM;
    else if (evbuffer_get_length(c->scratch) +
                 (sink->has_taken ? sink->taken.len : 0) >
             c->max_message_size)
        rc = MP_ERR_TOO_BIG;
    if (rc == MP_OK && sink->has_taken) {
        sink->taken.cleanup = release_taken;
        sink->taken.extra = t;
    }
    if (rc == MP_OK)
        rc = outq_append(c, conn, c->scratch,
                         sink->has_taken ? &sink->taken : NULL);
    evbuffer_drain(c->scratch, evbuffer_get_length(c->scratch));
    return rc;
}

/* May the application's Data or Syn go now? A Data needs room in the
 * queue and, at level 2, credit on its connection (checked first: a
 * connection out of credit waits for its peer, not for the queue). */
static int admit(struct mp_client *c, enum mp_meta meta,
                 struct mp_conn *conn)
{
    if (meta == MP_META_DATA && conn != NULL) {
        int rc = credit_admit(conn);
        if (rc != MP_OK)
            return rc;
    }
    return outq_admit(c, meta == MP_META_DATA ? conn : NULL);
}

/* The message send_message() encodes; data is borrowed (the message is
 * not cleared, so it is never freed here). */
static void message_init(struct mp_message *msg, enum mp_meta meta,
                         const char *other, size_t other_len, const char *id,
                         size_t id_len, const void *data, size_t data_len,
                         bool has_data)
{
    memset(msg, 0, sizeof *msg);
    msg->meta = (uint8_t)meta;
    mp_message_set_other_client(msg, other, other_len);
    mp_message_set_connection_id(msg, id, id_len);
    msg->has_data = has_data;
    msg->data = (unsigned char *)data;
    msg->data_len = data_len;
}

static int count_bytes(void *ctx, const void *bytes, size_t len)
{
    (void)bytes;
    *(size_t *)ctx += len;
    return 0;
}

bool send_too_big(struct mp_client *c, enum mp_meta meta, const char *other,
                  size_t other_len, const char *id, size_t id_len,
                  const void *data, size_t data_len)
{
    struct mp_message msg;
    size_t encoded = 0;

    if (data_len > c->max_message_size)
        return true;
    message_init(&msg, meta, other, other_len, id, id_len, data, data_len,
                 true);
    if (c->codec->encode(c->encode_stream, &msg, count_bytes, &encoded) != 0)
        return true;
    return encoded > c->max_message_size;
}

int send_message(struct mp_client *c, struct mp_conn *conn,
                 enum mp_meta meta, const char *other, size_t other_len,
                 const char *id, size_t id_len, const void *data,
                 size_t data_len, bool has_data,
                 void (*free_fn)(void *, size_t, void *), void *free_arg)
{
    struct mp_message msg;
    struct sink sink = {.buf = c->scratch, .take = free_fn ? data : NULL,
                        .take_len = data_len};
    struct taken_data *t = NULL;
    int rc = MP_OK;

    if (c->state != CLIENT_READY && c->state != CLIENT_AUTHENTICATING &&
        c->state != CLIENT_CLOSING)
        rc = MP_ERR_CLOSED;
    else if (data_len > c->max_message_size)
        rc = MP_ERR_TOO_BIG;
    /* Sends the application starts (Data, Syn) wait for room; answers the
     * protocol owes (Ack, Closed, refusals) never do: the client stops
     * reading the broker instead when they pile up (link.c). */
    else if (meta == MP_META_DATA || meta == MP_META_CONN_SYN)
        rc = admit(c, meta, conn);
    if (rc == MP_OK && free_fn != NULL &&
        (t = malloc(sizeof *t)) == NULL)
        rc = MP_ERR_NOMEM;
    if (rc != MP_OK)
        goto done;
    if (t != NULL)
        *t = (struct taken_data){.free_fn = free_fn, .free_arg = free_arg};
    message_init(&msg, meta, other, other_len, id, id_len, data, data_len,
                 has_data);
    /* Level 1 announces nothing: its Auth is the 2015 client's, byte for
     * byte. */
    if (meta == MP_META_AUTH && c->announce_level > 1)
        msg.level = (uint8_t)c->announce_level;
    rc = encode_and_queue(c, conn, &msg, &sink, t);
    if (rc == MP_OK && meta == MP_META_DATA && conn != NULL)
        credit_spent(conn, data_len);
done:
    /* Unless libevent took the data (it then calls release_taken). */
    if (!sink.taken.added) {
        free(t);
        if (free_fn != NULL)
            free_fn((void *)data, data_len, free_arg);
    }
    return rc;
}
