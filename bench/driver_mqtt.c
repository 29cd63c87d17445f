/*
 * driver_mqtt.c - an MQTT 3.1.1 broker (mosquitto), QoS 0.
 *
 * CONNECT with a clean session and the client's name as its id, then
 * SUBSCRIBE to a topic named after it; ready at the SUBACK. Messages are
 * PUBLISH at QoS 0 to the peer's topic: no acknowledgement, like the
 * other targets.
 */
#include "driver.h"

#include <string.h>

enum {
    CONNECT = 0x10, CONNACK = 0x20, PUBLISH = 0x30, SUBSCRIBE = 0x82,
    SUBACK = 0x90, PINGRESP = 0xd0,
};

/* The "remaining length" varint; returns its size. */
static size_t put_length(unsigned char *out, size_t len)
{
    size_t n = 0;
    do {
        unsigned char byte = len % 128;
        len /= 128;
        out[n++] = byte | (len > 0 ? 0x80 : 0);
    } while (len > 0);
    return n;
}

/* The fixed header and a length-prefixed string. */
static void add_packet_start(struct evbuffer *out, unsigned char type, size_t rest)
{
    unsigned char head[5] = {type};
    evbuffer_add(out, head, 1 + put_length(head + 1, rest));
}

static void add_string(struct evbuffer *out, const char *s)
{
    size_t len = strlen(s);
    unsigned char prefix[2] = {(unsigned char)(len >> 8), (unsigned char)len};
    evbuffer_add(out, prefix, 2);
    evbuffer_add(out, s, len);
}

static void mqtt_hello(struct bench_client *c)
{
    struct evbuffer *out = c->out;
    static const unsigned char connect_header[] = {
        0, 4, 'M', 'Q', 'T', 'T', 4 /* 3.1.1 */, 0x02 /* clean */, 0, 0 /* no keepalive */};
    size_t name_len = strlen(c->name);

    add_packet_start(out, CONNECT, sizeof connect_header + 2 + name_len);
    evbuffer_add(out, connect_header, sizeof connect_header);
    add_string(out, c->name);

    static const unsigned char packet_id[2] = {0, 1};
    add_packet_start(out, SUBSCRIBE, 2 + 2 + name_len + 1);
    evbuffer_add(out, packet_id, 2);
    add_string(out, c->name);
    evbuffer_add(out, "", 1); /* QoS 0 */
}

/* One packet at in[0..len): its size, or 0 when it is not all here. */
static ssize_t mqtt_one(struct bench_client *c, const unsigned char *in, size_t len)
{
    size_t rest = 0, i = 1;
    unsigned shift = 0;

    for (;; i++, shift += 7) {
        if (i >= len)
            return 0;
        if (i > 4) {
            bench_fail(c, "bad remaining length");
            return -1;
        }
        rest |= (size_t)(in[i] & 0x7f) << shift;
        if (!(in[i] & 0x80))
            break;
    }
    size_t fixed = i + 1, total = fixed + rest;
    if (len < total)
        return 0;
    switch (in[0] & 0xf0) {
    case PUBLISH: {
        if (rest < 2) {
            bench_fail(c, "PUBLISH without a topic");
            return -1;
        }
        size_t topic_len = (size_t)in[fixed] << 8 | in[fixed + 1];
        bench_received(c, rest - 2 - topic_len);
        break;
    }
    case CONNACK:
        if (total < 4 || in[3] != 0) {
            bench_fail(c, "CONNACK refused (%u)", total < 4 ? 255u : in[3]);
            return -1;
        }
        break;
    case SUBACK:
        if (!c->ready)
            bench_ready(c);
        break;
    case PINGRESP:
        break;
    default:
        bench_fail(c, "unexpected packet type 0x%02x", in[0]);
        return -1;
    }
    return (ssize_t)total;
}

static ssize_t mqtt_input(struct bench_client *c, const unsigned char *in, size_t len)
{
    return bench_parse_all(c, in, len, mqtt_one);
}

static void mqtt_send(struct bench_client *c, size_t len)
{
    add_packet_start(c->out, PUBLISH, 2 + strlen(c->peer) + len);
    add_string(c->out, c->peer);
    bench_add_filler(c->out, len);
}

const struct bench_driver bench_driver_mqtt = {
    .name = "mqtt", .pub_sub = true, .has_names = true,
    .hello = mqtt_hello, .input = mqtt_input, .send = mqtt_send,
};
