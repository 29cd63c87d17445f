/*
 * driver_mp.c - mpbroker, in its binary and JSON formats.
 *
 * Login is Auth -> AuthOk; a sender opens one connection to its peer
 * (ConnSyn "bench" -> ConnAck) and then writes Data messages on it; the
 * receiver accepts whatever connection is opened to it and answers on
 * it (ping-pong). Control messages go through the project's codecs;
 * binary Data frames are written and skipped by hand, as a client
 * library in a hurry would, and JSON is decoded and encoded in full
 * (base64 included), which is the cost a JSON client really pays.
 */
#include "driver.h"

#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "codec.h"
#include "message.h"

#define BENCH_SECRET "bench"
#define BENCH_PROTOCOL "bench"
#define MAX_FRAME (BENCH_MAX_PAYLOAD + 1024)

static int write_evbuffer(void *ctx, const void *bytes, size_t len)
{
    return evbuffer_add(ctx, bytes, len);
}

static void send_control(struct bench_client *c, const struct mp_codec_ops *codec,
                         unsigned meta, const char *other, const char *conn_id,
                         const char *data)
{
    struct mp_message msg = {.meta = (uint8_t)meta};

    mp_message_set_other_client(&msg, other, strlen(other));
    mp_message_set_connection_id(&msg, conn_id, strlen(conn_id));
    if (data != NULL)
        mp_message_set_data(&msg, data, strlen(data));
    codec->encode(NULL, &msg, write_evbuffer, bufferevent_get_output(c->bev));
    mp_message_clear(&msg);
}

static const struct mp_codec_ops *codec_of(const struct bench_client *c)
{
    return c->driver == &bench_driver_mp_json ? &mp_codec_json : &mp_codec_binary;
}

static void mp_hello(struct bench_client *c)
{
    send_control(c, codec_of(c), MP_META_AUTH, c->name, "", BENCH_SECRET);
}

static void mp_link(struct bench_client *c)
{
    snprintf(c->conn_id, sizeof c->conn_id, "%s:0", c->name);
    send_control(c, codec_of(c), MP_META_CONN_SYN, c->peer, c->conn_id,
                 BENCH_PROTOCOL);
}

/* Everything but Data, in either format. */
static void on_control(struct bench_client *c, const struct mp_message *msg)
{
    switch (msg->meta) {
    case MP_META_AUTH_OK:
        bench_ready(c);
        break;
    case MP_META_CONN_SYN: /* we are the receiver: accept, answer on it */
        snprintf(c->peer, sizeof c->peer, "%s", msg->other_client);
        snprintf(c->conn_id, sizeof c->conn_id, "%s", msg->connection_id);
        send_control(c, codec_of(c), MP_META_CONN_ACK, c->peer, c->conn_id, NULL);
        bench_linked(c);
        break;
    case MP_META_CONN_ACK:
        bench_linked(c);
        break;
    case MP_META_CLIENT_CLOSED:
    case MP_META_CONN_CLOSED:
        break;
    default:
        bench_fail(c, "broker sent %s (%.*s)", mp_meta_name(msg->meta),
                   msg->has_data ? (int)msg->data_len : 0,
                   msg->has_data ? (const char *)msg->data : "");
    }
}

/* One binary frame, or 0 when it is not all here yet. */
static int binary_one(struct bench_client *c, struct evbuffer *in)
{
    unsigned char head[8];
    size_t have = evbuffer_get_length(in);

    if (bench_peek(in, head, sizeof head) < sizeof head)
        return 0;
    uint32_t length = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
                      (uint32_t)head[2] << 8 | head[3];
    if (length > MAX_FRAME) {
        bench_fail(c, "frame of %u bytes", (unsigned)length);
        return -1;
    }
    if (have < 4 + (size_t)length)
        return 0;
    if (head[4] == MP_META_DATA) {
        size_t fixed = 4 + ((head[5] & 2) ? 1u : 0u) + head[6] + head[7];
        evbuffer_drain(in, 4 + (size_t)length);
        bench_received(c, length >= fixed ? length - fixed : 0);
        return 1;
    }
    struct mp_message msg = {0};
    size_t used;
    char err[128];
    const unsigned char *frame = evbuffer_pullup(in, 4 + (ssize_t)length);
    if (mp_codec_binary.decode(NULL, frame, 4 + (size_t)length, MAX_FRAME, &msg,
                               &used, err, sizeof err) != MP_DECODE_OK) {
        bench_fail(c, "bad frame: %s", err);
        return -1;
    }
    evbuffer_drain(in, used);
    on_control(c, &msg);
    mp_message_clear(&msg);
    return 1;
}

static int mp_binary_input(struct bench_client *c, struct evbuffer *in)
{
    return bench_parse_all(c, in, binary_one);
}

static void mp_binary_send(struct bench_client *c, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t peer_len = strlen(c->peer), id_len = strlen(c->conn_id);
    uint32_t length = (uint32_t)(4 + peer_len + id_len + len);
    unsigned char head[8 + 2 * 256] = {
        (unsigned char)(length >> 24), (unsigned char)(length >> 16),
        (unsigned char)(length >> 8), (unsigned char)length,
        MP_META_DATA, 1, (unsigned char)peer_len, (unsigned char)id_len};

    memcpy(head + 8, c->peer, peer_len);
    memcpy(head + 8 + peer_len, c->conn_id, id_len);
    evbuffer_add(out, head, 8 + peer_len + id_len);
    bench_add_filler(out, len);
}

static int mp_json_input(struct bench_client *c, struct evbuffer *in)
{
    while (!c->closing) {
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        if (eol.pos < 0)
            return 0;
        size_t line = (size_t)eol.pos + 1;
        const unsigned char *text = evbuffer_pullup(in, (ssize_t)line);
        struct mp_message msg = {0};
        size_t used;
        char err[128] = "";
        if (mp_codec_json.decode(NULL, text, line, 2 * MAX_FRAME, &msg, &used, err,
                                 sizeof err) != MP_DECODE_OK) {
            bench_fail(c, "bad JSON: %s", err);
            return -1;
        }
        evbuffer_drain(in, line); /* the broker writes one object a line */
        if (msg.meta == MP_META_DATA)
            bench_received(c, msg.data_len);
        else
            on_control(c, &msg);
        mp_message_clear(&msg);
    }
    return 0;
}

static void mp_json_send(struct bench_client *c, size_t len)
{
    struct mp_message msg = {.meta = MP_META_DATA, .has_data = true,
                             .data_len = len, .data = (unsigned char *)bench_filler()};

    mp_message_set_other_client(&msg, c->peer, strlen(c->peer));
    mp_message_set_connection_id(&msg, c->conn_id, strlen(c->conn_id));
    mp_codec_json.encode(NULL, &msg, write_evbuffer, bufferevent_get_output(c->bev));
}

const struct bench_driver bench_driver_mp_binary = {
    .name = "mp-binary", .has_names = true, .hello = mp_hello,
    .input = mp_binary_input, .link = mp_link, .send = mp_binary_send,
};

const struct bench_driver bench_driver_mp_json = {
    .name = "mp-json", .has_names = true, .hello = mp_hello,
    .input = mp_json_input, .link = mp_link, .send = mp_json_send,
};
