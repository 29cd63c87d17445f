/*
 * driver_mp.c - mpbroker, in its binary, JSON and protobuf formats.
 *
 * Login is Auth -> AuthOk; a sender opens one connection to its peer
 * (ConnSyn "bench" -> ConnAck) and then writes Data messages on it; the
 * receiver accepts whatever connection is opened to it and answers on
 * it (ping-pong). Control messages go through the project's codecs;
 * binary Data frames are written and skipped by hand, as a client
 * library in a hurry would, and JSON is decoded and encoded in full
 * (base64 included), which is the cost a JSON client really pays.
 * Protobuf (proto/mp.proto) is read with the codec's fast lane, which
 * finds the fields in place as generated code's parser does (it would
 * then copy the data, once), and its Data messages are written by hand
 * like binary's: a varint length, the two name fields, the data's key
 * and length, then the bytes.
 */
#include "driver.h"

#include <stdio.h>
#include <string.h>

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
    codec->encode(NULL, &msg, write_evbuffer, c->out);
    mp_message_clear(&msg);
}

static const struct mp_codec_ops *codec_of(const struct bench_client *c)
{
    if (c->driver == &bench_driver_mp_json)
        return &mp_codec_json;
    if (c->driver == &bench_driver_mp_protobuf)
        return &mp_codec_protobuf;
    return &mp_codec_binary;
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

/* Everything but Data, in any format. */
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

/* One binary frame at in[0..len): its size, or 0 when it is not all here. */
static ssize_t binary_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    if (len < 8)
        return 0;
    size_t length = bench_be32(in);
    if (length > MAX_FRAME) {
        bench_fail(c, "frame of %zu bytes", length);
        return -1;
    }
    if (len < 4 + length)
        return 0;
    if (in[4] == MP_META_DATA) {
        size_t fixed = 4 + ((in[5] & 2) ? 1u : 0u) + in[6] + in[7];
        bench_received(c, length >= fixed ? length - fixed : 0);
        return (ssize_t)(4 + length);
    }
    struct mp_message msg = {0};
    size_t used;
    char err[128];
    if (mp_codec_binary.decode(NULL, in, 4 + length, MAX_FRAME, &msg, &used, err,
                               sizeof err) != MP_DECODE_OK) {
        bench_fail(c, "bad frame: %s", err);
        return -1;
    }
    on_control(c, &msg);
    mp_message_clear(&msg);
    return (ssize_t)used;
}

static ssize_t mp_binary_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, binary_one);
}

static void mp_binary_send(struct bench_client *c, size_t len)
{
    size_t peer_len = strlen(c->peer), id_len = strlen(c->conn_id);
    uint32_t length = (uint32_t)(4 + peer_len + id_len + len);
    unsigned char head[8 + 2 * 256] = {
        (unsigned char)(length >> 24), (unsigned char)(length >> 16),
        (unsigned char)(length >> 8), (unsigned char)length,
        MP_META_DATA, 1, (unsigned char)peer_len, (unsigned char)id_len};

    memcpy(head + 8, c->peer, peer_len);
    memcpy(head + 8 + peer_len, c->conn_id, id_len);
    evbuffer_add(c->out, head, 8 + peer_len + id_len);
    bench_add_filler(c->out, len);
}

/* One JSON line at in[0..len): its size, or 0 when it is not all here. */
static ssize_t json_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    const unsigned char *eol = memchr(in, '\n', len);
    if (eol == NULL)
        return 0;
    size_t line = (size_t)(eol - in) + 1;
    struct mp_message msg = {0};
    size_t used, wire_off, wire_len;
    char err[128] = "";
    /* In place: the envelope only, the data's base64 text not decoded
     * (its length tells the payload's), as the broker's fast lane reads
     * it; anything else through the full decoder. */
    if (mp_codec_json.decode_wire(NULL, in, line, 2 * MAX_FRAME, &msg, &used,
                                  &wire_off, &wire_len) == 1 &&
        msg.meta == MP_META_DATA) {
        size_t pad = wire_len > 0 ? (in[wire_off + wire_len - 1] == '=') +
                                        (in[wire_off + wire_len - 2] == '=')
                                  : 0;
        bench_received(c, wire_len / 4 * 3 - pad);
        mp_message_clear(&msg);
        return (ssize_t)line;
    }
    mp_message_clear(&msg);
    if (mp_codec_json.decode(NULL, in, line, 2 * MAX_FRAME, &msg, &used, err,
                             sizeof err) != MP_DECODE_OK) {
        bench_fail(c, "bad JSON: %s", err);
        return -1;
    }
    if (msg.meta == MP_META_DATA)
        bench_received(c, msg.data_len);
    else
        on_control(c, &msg);
    mp_message_clear(&msg);
    return (ssize_t)line; /* the broker writes one object a line */
}

static ssize_t mp_json_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, json_one);
}

static void mp_json_send(struct bench_client *c, size_t len)
{
    struct mp_message msg = {.meta = MP_META_DATA, .has_data = true,
                             .data_len = len, .data = (unsigned char *)bench_filler()};

    mp_message_set_other_client(&msg, c->peer, strlen(c->peer));
    mp_message_set_connection_id(&msg, c->conn_id, strlen(c->conn_id));
    mp_codec_json.encode(NULL, &msg, write_evbuffer, c->out);
}

/* One protobuf message at in[0..len): its size, or 0 when it is not all
 * here. The fast lane checks the whole message (lengths, names, UTF-8)
 * and says where the data lies, without copying it. */
static ssize_t protobuf_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    struct mp_message msg = {0};
    size_t used, wire_off, wire_len;
    char err[128] = "";

    if (mp_codec_protobuf.decode_wire(NULL, in, len, MAX_FRAME, &msg, &used, &wire_off,
                                      &wire_len) == 1 &&
        msg.meta == MP_META_DATA) {
        bench_received(c, wire_len);
        mp_message_clear(&msg);
        return (ssize_t)used;
    }
    mp_message_clear(&msg);
    switch (mp_codec_protobuf.decode(NULL, in, len, MAX_FRAME, &msg, &used, err,
                                     sizeof err)) {
    case MP_DECODE_OK:
        break;
    case MP_DECODE_NEED_MORE:
        return 0;
    default:
        bench_fail(c, "bad protobuf message: %s", err);
        return -1;
    }
    if (msg.meta == MP_META_DATA)
        bench_received(c, msg.data_len);
    else
        on_control(c, &msg);
    mp_message_clear(&msg);
    return (ssize_t)used;
}

static ssize_t mp_protobuf_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, protobuf_one);
}

/* v as a varint at p; returns its bytes. */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A Data message as protobuf libraries write it: meta 0 left out, then
 * other_client (field 2), connection_id (3) and data (4), in that order. */
static void mp_protobuf_send(struct bench_client *c, size_t len)
{
    size_t peer_len = strlen(c->peer), id_len = strlen(c->conn_id);
    size_t body = 1 + varint_size(peer_len) + peer_len + 1 + varint_size(id_len) + id_len +
                  1 + varint_size(len) + len;
    unsigned char head[3 * 10 + 3 + 2 * 256];
    size_t n = put_varint(head, body);

    head[n++] = 0x12; /* field 2, length-delimited */
    n += put_varint(head + n, peer_len);
    memcpy(head + n, c->peer, peer_len);
    n += peer_len;
    head[n++] = 0x1a; /* field 3 */
    n += put_varint(head + n, id_len);
    memcpy(head + n, c->conn_id, id_len);
    n += id_len;
    head[n++] = 0x22; /* field 4 */
    n += put_varint(head + n, len);
    evbuffer_add(c->out, head, n);
    bench_add_filler(c->out, len);
}

const struct bench_driver bench_driver_mp_binary = {
    .name = "mp-binary", .has_names = true, .hello = mp_hello,
    .input = mp_binary_input, .link = mp_link, .send = mp_binary_send,
};

const struct bench_driver bench_driver_mp_json = {
    .name = "mp-json", .has_names = true, .hello = mp_hello,
    .input = mp_json_input, .link = mp_link, .send = mp_json_send,
};

const struct bench_driver bench_driver_mp_protobuf = {
    .name = "mp-protobuf", .has_names = true, .hello = mp_hello,
    .input = mp_protobuf_input, .link = mp_link, .send = mp_protobuf_send,
};
