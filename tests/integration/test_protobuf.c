/*
 * test_protobuf.c - the protobuf wire format (proto/mp.proto,
 * translator_protobuf.so) in the real broker, driven by raw sockets whose
 * protobuf encoder and decoder are the test support's own
 * (tests/support/rawclient.c), written from the wire-format specification
 * and not from common/codec_protobuf.c:
 *
 *   - routing across formats with exact bytes: protobuf to and from JSON,
 *     binary and gob, and protobuf to protobuf (the fast lane); absent
 *     versus empty data; a 1 MiB message each way with JSON;
 *   - the auto listener: a protobuf client is recognized, also one byte at
 *     a time and when its length prefix reads as '{' or ' '; a client
 *     whose encoder puts other_client first is not, but a "protobuf"
 *     listener takes it;
 *   - bad input: the offender gets WAT with the reason and is closed,
 *     others carry on; unknown fields are skipped;
 *   - protocol level 2; libmpclient with format "protobuf"; WebSocket
 *     subprotocol "mpbroker.protobuf".
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mp/client.h>

#include "gobclient.h"
#include "harness.h"
#include "rawclient.h"
#include "ws_client.h"
#include "ws_frame.h"

TestSuite(protobuf, .fini = harness_reap_all, .timeout = 90);

#define TRANSLATORS                                                          \
    "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"                   \
    "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n" \
    "                { name = \"binary\"; module = \"translator_binary.so\"; },\n" \
    "                { name = \"protobuf\"; module = \"translator_protobuf.so\"; },\n" \
    "                { name = \"gob\"; module = \"translator_gob.so\"; } );\n"

/* Room for a 1 MiB message in JSON (base64) and in protobuf. */
#define MAX_MSG 4194304
#define MAX_MSG_S "4194304"

static const char config[] =
    TRANSLATORS MPT_AUTH_ALLOW_ALL
    "limits = { max_message_size = " MAX_MSG_S "; };\n"
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"protobuf\"; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n";
#define L_JSON 0
#define L_BIN 1
#define L_PB 2
#define L_AUTO 3

#define UNKNOWN_FORMAT_LINE \
    "mpbroker: unknown wire format; this listener speaks: json, binary, " \
    "protobuf, gob\n"

static struct harness *start_with(const char *text)
{
    struct harness *h = harness_new();

    harness_launch(h, harness_write_file(h, "mpbroker.conf", text));
    cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)),
              "the broker did not become ready");
    return h;
}

static struct harness *start(void)
{
    return start_with(config);
}

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

static void send_raw_ok(struct rc_client *c, const void *p, size_t n)
{
    cr_assert(rc_send_raw(c, p, n), "send failed: %s", rc_error(c));
}

/* The next message's bytes are exactly want[0..len). */
static void expect_bytes(struct rc_client *c, const void *want, size_t len)
{
    struct rc_msg m;

    rc_expect_any(c, &m);
    bool same = m.raw_len == len && memcmp(m.raw, want, len) == 0;
    size_t got = m.raw_len;
    int meta = m.meta;
    rc_msg_free(&m);
    cr_assert(same, "message (meta %d) differs: got %zu bytes, want %zu",
              meta, got, len);
}

/* The next binary message is exactly the canonical frame of these. */
static void expect_binary(struct rc_client *c, unsigned meta,
                          const char *other, const char *id,
                          struct rc_blob data)
{
    size_t len;
    unsigned char *want = rc_binary_frame(meta, other, id, data, -1, &len);

    cr_assert_not_null(want);
    expect_bytes(c, want, len);
    free(want);
}

/* ------------------------------------------------------------------------
 * A protobuf body built by hand (for what rc_protobuf_frame will not
 * write: other orders, unknown fields, malformed input)
 */

struct pb {
    unsigned char b[2048];
    size_t n;
};

static void pb_raw(struct pb *p, const void *bytes, size_t n)
{
    cr_assert_leq(p->n + n, sizeof p->b);
    memcpy(p->b + p->n, bytes, n);
    p->n += n;
}

static void pb_varint(struct pb *p, uint64_t v)
{
    unsigned char tmp[10];

    pb_raw(p, tmp, rc_varint(tmp, v));
}

static void pb_key(struct pb *p, unsigned field, unsigned type)
{
    pb_varint(p, (uint64_t)field << 3 | type);
}

static void pb_string(struct pb *p, unsigned field, const void *s, size_t n)
{
    pb_key(p, field, 2);
    pb_varint(p, n);
    pb_raw(p, s, n);
}

/* Send body p with its length prefix. */
static void pb_send(struct rc_client *c, const struct pb *p)
{
    unsigned char prefix[10];

    send_raw_ok(c, prefix, rc_varint(prefix, p->n));
    send_raw_ok(c, p->b, p->n);
}

/* ------------------------------------------------------------------------
 * Across formats
 */

#define BYTES "\x00\x01\x02\xff\x0a\x22"

/* JSON <-> protobuf, every byte checked: what pb reads by hand-written
 * arrays, what jo reads as canonical lines. */
Test(protobuf, protobuf_and_json_exact)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_any(h, L_PB, RC_PROTOBUF, "pb");
    struct rc_client *j = rc_login_any(h, L_JSON, RC_JSON, "jo");
    /* Syn jo:0 "echo" from jo, as pb must read it. */
    static const unsigned char syn[] = {
        0x12, 0x08, 0x05, 0x12, 0x02, 'j', 'o', 0x1a, 0x04, 'j', 'o', ':',
        '0', 0x22, 0x04, 'e', 'c', 'h', 'o' };
    /* Data (meta 0, left out), empty and absent. */
    static const unsigned char empty[] = {
        0x0c, 0x12, 0x02, 'j', 'o', 0x1a, 0x04, 'j', 'o', ':', '0', 0x22,
        0x00 };
    static const unsigned char null[] = {
        0x0a, 0x12, 0x02, 'j', 'o', 0x1a, 0x04, 'j', 'o', ':', '0' };
    static const unsigned char closed[] = {
        0x0c, 0x08, 0x07, 0x12, 0x02, 'j', 'o', 0x1a, 0x04, 'j', 'o', ':',
        '0' };

    cr_assert(rc_send_json(j, "{\"Meta\":5,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":\"ZWNobw==\"}"));
    expect_bytes(p, syn, sizeof syn);
    send_ok(p, RC_ACK, "jo", "jo:0", RC_NULL);
    rc_expect_line(j, "{\"Meta\":6,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":null}");
    cr_assert(rc_send_json(j, "{\"Meta\":0,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":\"\"}"));
    expect_bytes(p, empty, sizeof empty);
    cr_assert(rc_send_json(j, "{\"Meta\":0,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":null}"));
    expect_bytes(p, null, sizeof null);
    send_ok(p, RC_DATA, "jo", "jo:0", rc_bytes(BYTES, 6));
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":\"AAEC/woi\"}");
    send_ok(p, RC_DATA, "jo", "jo:0", RC_EMPTY);
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":\"\"}");
    send_ok(p, RC_DATA, "jo", "jo:0", RC_NULL);
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"pb\",\"ConnectionID\":\"jo:0\",\"Data\":null}");
    send_ok(j, RC_CLOSED, "pb", "jo:0", RC_NULL);
    expect_bytes(p, closed, sizeof closed);

    /* pb opens, and closes. */
    send_ok(p, RC_SYN, "jo", "pb:1", rc_str("chat"));
    rc_expect_line(j, "{\"Meta\":5,\"OtherClient\":\"pb\",\"ConnectionID\":\"pb:1\",\"Data\":\"Y2hhdA==\"}");
    send_ok(j, RC_ACK, "pb", "pb:1", RC_NULL);
    rc_expect(p, RC_ACK, "jo", "pb:1", RC_NULL);
    send_ok(j, RC_DATA, "pb", "pb:1", rc_bytes(BYTES, 6));
    rc_expect(p, RC_DATA, "jo", "pb:1", rc_bytes(BYTES, 6));
    send_ok(p, RC_CLOSED, "jo", "pb:1", RC_NULL);
    rc_expect_line(j, "{\"Meta\":7,\"OtherClient\":\"pb\",\"ConnectionID\":\"pb:1\",\"Data\":null}");

    /* Leaving with a connection open: the peer is told. */
    rc_open_conn(p, j, "pb:2", "p");
    rc_close(p);
    rc_expect_line(j, "{\"Meta\":4,\"OtherClient\":\"pb\",\"ConnectionID\":\"\",\"Data\":null}");
    rc_close(j);
    harness_stop(h);
}

/* binary <-> protobuf: the binary frames compared whole, the protobuf
 * messages with their canonical bytes (rc_expect). */
Test(protobuf, protobuf_and_binary_exact)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_any(h, L_PB, RC_PROTOBUF, "pb");
    struct rc_client *b = rc_login_any(h, L_BIN, RC_BINARY, "bi");

    send_ok(b, RC_SYN, "pb", "bi:0", rc_str("echo"));
    rc_expect(p, RC_SYN, "bi", "bi:0", rc_str("echo"));
    send_ok(p, RC_ACK, "bi", "bi:0", RC_NULL);
    expect_binary(b, RC_ACK, "pb", "bi:0", RC_NULL);
    send_ok(p, RC_DATA, "bi", "bi:0", rc_bytes(BYTES, 6));
    expect_binary(b, RC_DATA, "pb", "bi:0", rc_bytes(BYTES, 6));
    send_ok(p, RC_DATA, "bi", "bi:0", RC_EMPTY);
    expect_binary(b, RC_DATA, "pb", "bi:0", RC_EMPTY);
    send_ok(p, RC_DATA, "bi", "bi:0", RC_NULL);
    expect_binary(b, RC_DATA, "pb", "bi:0", RC_NULL);
    send_ok(b, RC_DATA, "pb", "bi:0", rc_bytes(BYTES, 6));
    rc_expect(p, RC_DATA, "bi", "bi:0", rc_bytes(BYTES, 6));
    send_ok(b, RC_DATA, "pb", "bi:0", RC_EMPTY);
    rc_expect(p, RC_DATA, "bi", "bi:0", RC_EMPTY);
    send_ok(b, RC_DATA, "pb", "bi:0", RC_NULL);
    rc_expect(p, RC_DATA, "bi", "bi:0", RC_NULL);
    send_ok(b, RC_CLOSED, "pb", "bi:0", RC_NULL);
    rc_expect(p, RC_CLOSED, "bi", "bi:0", RC_NULL);

    send_ok(p, RC_SYN, "bi", "pb:1", rc_str("chat"));
    expect_binary(b, RC_SYN, "pb", "pb:1", rc_str("chat"));
    send_ok(b, RC_ACK, "pb", "pb:1", RC_NULL);
    rc_expect(p, RC_ACK, "bi", "pb:1", RC_NULL);
    send_ok(p, RC_CLOSED, "bi", "pb:1", RC_NULL);
    expect_binary(b, RC_CLOSED, "pb", "pb:1", RC_NULL);

    /* Leaving with a connection open: the peer is told. */
    rc_open_conn(p, b, "pb:2", "p");
    rc_close(b);
    rc_expect(p, RC_CLIENT_CLOSED, "bi", "", RC_NULL);
    rc_close(p);
    harness_stop(h);
}

/* gob <-> protobuf. Gob has no empty data apart from absent: a gob
 * Data without data reaches protobuf as present and empty. */
Test(protobuf, protobuf_and_gob)
{
    struct harness *h = start();
    struct gob_client *g = gc_login(h, L_AUTO, "gopher");
    struct rc_client *p = rc_login_any(h, L_PB, RC_PROTOBUF, "pb");

    gc_send_value(g, RC_SYN, "pb", "gopher:0", "echo", 4);
    rc_expect(p, RC_SYN, "gopher", "gopher:0", rc_str("echo"));
    send_ok(p, RC_ACK, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_ACK, "pb", "gopher:0", NULL, 0);
    gc_send_value(g, RC_DATA, "pb", "gopher:0", BYTES, 6);
    rc_expect(p, RC_DATA, "gopher", "gopher:0", rc_bytes(BYTES, 6));
    gc_send_value(g, RC_DATA, "pb", "gopher:0", NULL, 0);
    rc_expect(p, RC_DATA, "gopher", "gopher:0", RC_EMPTY);
    send_ok(p, RC_DATA, "gopher", "gopher:0", rc_bytes(BYTES, 6));
    gc_expect(g, RC_DATA, "pb", "gopher:0", BYTES, 6);
    send_ok(p, RC_DATA, "gopher", "gopher:0", RC_EMPTY);
    gc_expect(g, RC_DATA, "pb", "gopher:0", NULL, 0);
    send_ok(p, RC_DATA, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_DATA, "pb", "gopher:0", NULL, 0);
    send_ok(p, RC_CLOSED, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_CLOSED, "pb", "gopher:0", NULL, 0);

    send_ok(p, RC_SYN, "gopher", "pb:1", rc_str("chat"));
    gc_expect(g, RC_SYN, "pb", "pb:1", "chat", 4);
    gc_send_value(g, RC_ACK, "pb", "pb:1", NULL, 0);
    rc_expect(p, RC_ACK, "gopher", "pb:1", RC_NULL);
    gc_send_value(g, RC_CLOSED, "pb", "pb:1", NULL, 0);
    rc_expect(p, RC_CLOSED, "gopher", "pb:1", RC_NULL);

    /* Leaving with a connection open: the peer is told. */
    send_ok(p, RC_SYN, "gopher", "pb:2", rc_str("p"));
    gc_expect(g, RC_SYN, "pb", "pb:2", "p", 1);
    gc_send_value(g, RC_ACK, "pb", "pb:2", NULL, 0);
    rc_expect(p, RC_ACK, "gopher", "pb:2", RC_NULL);
    gc_close(g);
    rc_expect(p, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_close(p);
    harness_stop(h);
}

/* protobuf -> protobuf goes by the fast lane (the data is not copied out
 * of the frame): the message arrives re-framed with the sender's name,
 * byte for byte what a protobuf library writes; data past the codec's
 * stack buffer (written apart) too. */
Test(protobuf, protobuf_to_protobuf_fast_lane)
{
    struct harness *h = start();
    struct rc_client *a = rc_login_any(h, L_PB, RC_PROTOBUF, "ann");
    struct rc_client *z = rc_login_any(h, L_AUTO, RC_PROTOBUF, "zed");
    static const unsigned char syn[] = {
        0x14, 0x08, 0x05, 0x12, 0x03, 'a', 'n', 'n', 0x1a, 0x05, 'a', 'n',
        'n', ':', '1', 0x22, 0x04, 'e', 'c', 'h', 'o' };
    static unsigned char big[3000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    send_ok(a, RC_SYN, "zed", "ann:1", rc_str("echo"));
    expect_bytes(z, syn, sizeof syn);
    send_ok(z, RC_ACK, "ann", "ann:1", RC_NULL);
    rc_expect(a, RC_ACK, "zed", "ann:1", RC_NULL);
    send_ok(a, RC_DATA, "zed", "ann:1", rc_bytes(BYTES, 6));
    rc_expect(z, RC_DATA, "ann", "ann:1", rc_bytes(BYTES, 6));
    send_ok(a, RC_DATA, "zed", "ann:1", RC_EMPTY);
    rc_expect(z, RC_DATA, "ann", "ann:1", RC_EMPTY);
    send_ok(a, RC_DATA, "zed", "ann:1", RC_NULL);
    rc_expect(z, RC_DATA, "ann", "ann:1", RC_NULL);
    send_ok(z, RC_DATA, "ann", "ann:1", rc_bytes(big, sizeof big));
    rc_expect(a, RC_DATA, "zed", "ann:1", rc_bytes(big, sizeof big));
    /* Two messages in one write, the second split over two. */
    {
        size_t n1, n2;
        unsigned char *m1 = rc_protobuf_frame(RC_DATA, "zed", "ann:1",
                                              rc_str("one"), -1, &n1);
        unsigned char *m2 = rc_protobuf_frame(RC_DATA, "zed", "ann:1",
                                              rc_bytes(big, 2000), -1, &n2);
        unsigned char *both = malloc(n1 + n2);

        cr_assert(m1 != NULL && m2 != NULL && both != NULL);
        memcpy(both, m1, n1);
        memcpy(both + n1, m2, n2);
        send_raw_ok(a, both, n1 + 5);
        rc_expect(z, RC_DATA, "ann", "ann:1", rc_str("one"));
        send_raw_ok(a, both + n1 + 5, n2 - 5);
        rc_expect(z, RC_DATA, "ann", "ann:1", rc_bytes(big, 2000));
        free(m1);
        free(m2);
        free(both);
    }
    send_ok(z, RC_CLOSED, "ann", "ann:1", RC_NULL);
    rc_expect(a, RC_CLOSED, "zed", "ann:1", RC_NULL);
    rc_open_conn(a, z, "ann:2", "p");
    rc_close(a);
    rc_expect(z, RC_CLIENT_CLOSED, "ann", "", RC_NULL);
    rc_close(z);
    harness_stop(h);
}

/* 1 MiB of data, protobuf -> JSON and JSON -> protobuf. */
Test(protobuf, one_mib_each_way_with_json)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_any(h, L_PB, RC_PROTOBUF, "pb");
    struct rc_client *j = rc_login_any(h, L_JSON, RC_JSON, "jo");
    size_t n = 1024 * 1024;
    unsigned char *big = malloc(n);

    cr_assert_not_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 12));
    rc_open_conn(p, j, "pb:1", "bulk");
    send_ok(p, RC_DATA, "jo", "pb:1", rc_bytes(big, n));
    rc_expect(j, RC_DATA, "pb", "pb:1", rc_bytes(big, n));
    big[0] ^= 0xff;
    send_ok(j, RC_DATA, "pb", "pb:1", rc_bytes(big, n));
    rc_expect(p, RC_DATA, "jo", "pb:1", rc_bytes(big, n));
    free(big);
    rc_close(p);
    rc_close(j);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * The auto listener
 */

static void route_to_json(struct harness *h, struct rc_client *p)
{
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jay");
    char id[300];

    snprintf(id, sizeof id, "%s:9", rc_name(p));
    rc_open_conn(p, j, id, "p");
    send_ok(p, RC_DATA, "jay", id, rc_str("hi"));
    rc_expect(j, RC_DATA, rc_name(p), id, rc_str("hi"));
    send_ok(j, RC_DATA, rc_name(p), id, RC_EMPTY);
    rc_expect(p, RC_DATA, "jay", id, RC_EMPTY);
    rc_close(j);
    rc_expect(p, RC_CLIENT_CLOSED, "jay", "", RC_NULL);
}

Test(protobuf, auto_listener_recognizes_protobuf_and_still_json)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_any(h, L_AUTO, RC_PROTOBUF, "pa");

    cr_assert(harness_wait_log(h, "format=protobuf", mpt_ms(MPT_MSG_MS)));
    route_to_json(h, p);
    rc_close(p);
    harness_stop(h);
}

/* Each byte of the Auth on its own: the listener waits until it can
 * tell (and says nothing meanwhile). */
Test(protobuf, auto_listener_one_byte_at_a_time)
{
    struct harness *h = start();
    struct rc_client *p = rc_connect(h, L_AUTO, RC_PROTOBUF);
    size_t len;
    unsigned char *auth = rc_protobuf_frame(
        RC_AUTH, "slow", "", rc_str(MPT_SECRET_ALLOW_ALL), -1, &len);

    cr_assert_not_null(auth);
    for (size_t i = 0; i < len; i++) {
        send_raw_ok(p, auth + i, 1);
        if (i + 1 < len)
            /* Not a synchronisation: nothing may come back before the
             * message is whole; the wait lets each byte arrive alone. */
            cr_assert_eq(rc_wait_eof(p, 20), RC_TIMEOUT,
                         "the broker answered after %zu of %zu bytes",
                         i + 1, len);
    }
    free(auth);
    rc_expect(p, RC_AUTH_OK, "slow", "", RC_NULL);
    route_to_json(h, p);
    rc_close(p);
    harness_stop(h);
}

/* An Auth whose length prefix is '{' (123) or ' ' (32): JSON's sniffer
 * must not take it, its second byte being 0x08. */
static void auth_of_length(unsigned body_len, char first)
{
    struct harness *h = start();
    size_t secret_len = strlen(MPT_SECRET_ALLOW_ALL);
    /* 08 08, 12 <n> name, 22 <n> secret */
    size_t name_len = body_len - 2 - 2 - 2 - secret_len;
    char name[128];
    size_t len;

    cr_assert_lt(name_len, sizeof name);
    memset(name, 'n', name_len);
    name[name_len] = '\0';
    unsigned char *auth = rc_protobuf_frame(
        RC_AUTH, name, "", rc_str(MPT_SECRET_ALLOW_ALL), -1, &len);
    cr_assert_not_null(auth);
    cr_assert_eq(len, 1 + body_len);
    cr_assert_eq(auth[0], (unsigned char)first);
    free(auth);

    struct rc_client *p = rc_login_any(h, L_AUTO, RC_PROTOBUF, name);
    route_to_json(h, p);
    rc_close(p);
    harness_stop(h);
}

Test(protobuf, auto_listener_auth_of_123_bytes) { auth_of_length(123, '{'); }
Test(protobuf, auto_listener_auth_of_32_bytes) { auth_of_length(32, ' '); }

/* An encoder that writes other_client before meta is valid protobuf, but
 * an auto listener cannot recognize it; a "protobuf" listener takes it. */
static void send_auth_name_first(struct rc_client *c, const char *name)
{
    struct pb body = { .n = 0 };

    pb_string(&body, 2, name, strlen(name));
    pb_key(&body, 1, 0);
    pb_varint(&body, RC_AUTH);
    pb_string(&body, 4, MPT_SECRET_ALLOW_ALL, strlen(MPT_SECRET_ALLOW_ALL));
    pb_send(c, &body);
}

Test(protobuf, meta_not_first_refused_on_auto_taken_on_protobuf)
{
    struct harness *h = start();
    struct rc_client *a = rc_connect(h, L_AUTO, RC_PROTOBUF);
    struct rc_client *p = rc_connect(h, L_PB, RC_PROTOBUF);

    send_auth_name_first(a, "late");
    rc_expect_text_then_eof(a, UNKNOWN_FORMAT_LINE);
    cr_assert(harness_wait_log(h, "not a known wire format",
                               mpt_ms(MPT_MSG_MS)));
    send_auth_name_first(p, "late");
    rc_expect(p, RC_AUTH_OK, "late", "", RC_NULL);
    route_to_json(h, p);
    rc_close(a);
    rc_close(p);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Bad input: WAT with the reason, then the offender alone is closed
 */

/* Send `bytes` from a logged-in protobuf client; assert WAT whose reason
 * contains `reason` and the close, while a JSON and a binary client with
 * an open connection carry on. */
static void bad_input(const void *bytes, size_t len, const char *reason)
{
    struct harness *h = start();
    struct rc_client *j = rc_login_any(h, L_JSON, RC_JSON, "jo");
    struct rc_client *b = rc_login_any(h, L_BIN, RC_BINARY, "bi");
    struct rc_client *off = rc_login_any(h, L_PB, RC_PROTOBUF, "off");
    struct rc_msg m;

    rc_open_conn(j, b, "jo:1", "p");
    rc_open_conn(off, j, "off:1", "p");
    send_raw_ok(off, bytes, len);
    rc_expect_meta(off, RC_WAT, &m);
    bool ok = m.has_data && strstr((const char *)m.data, reason) != NULL;
    char got[256];
    snprintf(got, sizeof got, "%.200s", m.has_data ? (char *)m.data : "null");
    rc_msg_free(&m);
    cr_assert(ok, "expected WAT containing \"%s\", got \"%s\"", reason, got);
    rc_expect_eof(off);
    rc_expect(j, RC_CLIENT_CLOSED, "off", "", RC_NULL);

    send_ok(j, RC_DATA, "bi", "jo:1", rc_str("still"));
    rc_expect(b, RC_DATA, "jo", "jo:1", rc_str("still"));
    send_ok(b, RC_DATA, "jo", "jo:1", rc_str("here"));
    rc_expect(j, RC_DATA, "bi", "jo:1", rc_str("here"));
    rc_close(off);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

static void bad_body(const struct pb *body, const char *reason)
{
    unsigned char all[sizeof body->b + 10];
    size_t n = rc_varint(all, body->n);

    memcpy(all + n, body->b, body->n);
    bad_input(all, n + body->n, reason);
}

/* The length prefix alone: refused before any body is sent. */
Test(protobuf, bad_length_over_the_limit_refused_from_the_prefix)
{
    unsigned char prefix[10];

    bad_input(prefix, rc_varint(prefix, MAX_MSG + 1), "exceeds the limit");
}

Test(protobuf, bad_length_prefix_of_11_bytes)
{
    static const unsigned char prefix[] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };

    bad_input(prefix, sizeof prefix, "malformed length prefix");
}

Test(protobuf, bad_varint_of_11_bytes_in_a_field)
{
    struct pb body = { .n = 0 };

    pb_key(&body, 1, 0);
    for (int i = 0; i < 10; i++)
        pb_raw(&body, "\xff", 1);
    pb_raw(&body, "\x01", 1);
    bad_body(&body, "malformed varint");
}

Test(protobuf, bad_truncated_field_at_the_end)
{
    struct pb body = { .n = 0 };

    pb_string(&body, 3, "off:1", 5);
    pb_key(&body, 4, 2);
    pb_varint(&body, 5);
    pb_raw(&body, "ab", 2);
    bad_body(&body, "run past the end");
}

Test(protobuf, bad_group)
{
    struct pb body = { .n = 0 };

    pb_key(&body, 1, 3);
    pb_key(&body, 1, 4);
    bad_body(&body, "wire type 3");
}

Test(protobuf, bad_known_field_with_the_wrong_wire_type)
{
    struct pb body = { .n = 0 };

    pb_key(&body, 2, 0);
    pb_varint(&body, 1);
    bad_body(&body, "other_client) has wire type 0, not 2");
}

Test(protobuf, bad_meta_300)
{
    struct pb body = { .n = 0 };

    pb_key(&body, 1, 0);
    pb_varint(&body, 300);
    pb_string(&body, 2, "jo", 2);
    bad_body(&body, "meta 300 is out of range");
}

Test(protobuf, bad_name_over_255_bytes)
{
    struct pb body = { .n = 0 };
    char name[256];

    memset(name, 'a', sizeof name);
    pb_string(&body, 2, name, sizeof name);
    pb_string(&body, 3, "off:1", 5);
    bad_body(&body, "other_client is 256 bytes");
}

Test(protobuf, bad_name_invalid_utf8)
{
    struct pb body = { .n = 0 };

    pb_string(&body, 2, "j\xc3\x28", 3);
    pb_string(&body, 3, "off:1", 5);
    bad_body(&body, "other_client is not valid UTF-8");
}

/* Before login the answer is AuthFailure with the reason, then the
 * close. */
Test(protobuf, bad_input_before_login_gets_authfailure)
{
    struct harness *h = start();
    struct rc_client *p = rc_connect(h, L_PB, RC_PROTOBUF);
    struct pb body = { .n = 0 };

    pb_key(&body, 1, 0);
    pb_varint(&body, RC_AUTH);
    pb_key(&body, 5, 0);
    pb_varint(&body, 256);
    pb_send(p, &body);
    rc_expect_auth_failure(p, "level 256 is out of range");
    rc_close(p);
    harness_stop(h);
}

/* Field 99 of each wire type, before, between and after the known ones:
 * skipped, and the message routed, to JSON and to protobuf (where the
 * fast lane re-frames it without them). */
static void unknown_fields(struct pb *body, unsigned *which)
{
    switch ((*which)++ % 4) {
    case 0:
        pb_key(body, 99, 0);
        pb_varint(body, 300);
        break;
    case 1:
        pb_key(body, 99, 1);
        pb_raw(body, "12345678", 8);
        break;
    case 2:
        pb_string(body, 99, "xyz", 3);
        break;
    default:
        pb_key(body, 99, 5);
        pb_raw(body, "1234", 4);
        break;
    }
}

Test(protobuf, unknown_fields_are_skipped)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_any(h, L_PB, RC_PROTOBUF, "pb");
    struct rc_client *j = rc_login_any(h, L_JSON, RC_JSON, "jo");
    struct rc_client *z = rc_login_any(h, L_PB, RC_PROTOBUF, "zed");

    rc_open_conn(p, j, "pb:1", "p");
    rc_open_conn(p, z, "pb:2", "p");
    for (unsigned start_with = 0; start_with < 4; start_with++) {
        struct pb body = { .n = 0 };
        unsigned which = start_with;

        unknown_fields(&body, &which);
        pb_string(&body, 2, "jo", 2);
        unknown_fields(&body, &which);
        pb_string(&body, 3, "pb:1", 4);
        unknown_fields(&body, &which);
        pb_string(&body, 4, "hi", 2);
        unknown_fields(&body, &which);
        pb_send(p, &body);
        rc_expect(j, RC_DATA, "pb", "pb:1", rc_str("hi"));

        body.n = 0;
        unknown_fields(&body, &which);
        pb_string(&body, 2, "zed", 3);
        pb_string(&body, 3, "pb:2", 4);
        unknown_fields(&body, &which);
        pb_string(&body, 4, "", 0);
        unknown_fields(&body, &which);
        pb_send(p, &body);
        rc_expect(z, RC_DATA, "pb", "pb:2", RC_EMPTY);
    }
    rc_close(p);
    rc_close(j);
    rc_close(z);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Protocol level 2 over protobuf
 */

Test(protobuf, level2_authok_and_list)
{
    struct harness *h = start();
    struct rc_client *p = rc_login_level(h, L_PB, RC_PROTOBUF, "pb2", 2);
    struct rc_client *other = rc_login_any(h, L_JSON, RC_JSON, "pbx");
    struct rc_msg m;
    bool saw_pb2 = false, saw_pbx = false;

    rc_expect_meta(p, RC_AUTH_OK, &m);
    bool ok = m.has_data &&
              strncmp((const char *)m.data, "level=2 window=", 15) == 0 &&
              strcmp(m.other_client, "pb2") == 0 && !m.has_level;
    char got[128];
    snprintf(got, sizeof got, "%.100s", m.has_data ? (char *)m.data : "null");
    rc_msg_free(&m);
    cr_assert(ok, "a level-2 AuthOk for pb2, got \"%s\"", got);
    cr_assert(harness_wait_log(h, "format=protobuf level=2",
                               mpt_ms(MPT_MSG_MS)));

    send_ok(p, 15, "pb", "q", RC_NULL); /* List */
    for (;;) {
        rc_expect_meta(p, 15, &m);
        cr_assert_str_eq(m.other_client, "pb");
        cr_assert_str_eq(m.connection_id, "q");
        bool last = !m.has_data || m.data_len == 0;
        for (char *save = NULL, *t = last ? NULL
                                          : strtok_r((char *)m.data, "\n", &save);
             t != NULL; t = strtok_r(NULL, "\n", &save)) {
            saw_pb2 |= strcmp(t, "pb2") == 0;
            saw_pbx |= strcmp(t, "pbx") == 0;
        }
        rc_msg_free(&m);
        if (last)
            break;
    }
    cr_assert(saw_pb2 && saw_pbx, "List \"pb\" named pb2: %d, pbx: %d",
              saw_pb2, saw_pbx);
    rc_close(p);
    rc_close(other);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * libmpclient with format "protobuf": an echo service on its own loop,
 * in a thread, used by a raw JSON client
 */

static void lib_on_message(struct mp_conn *conn, const void *data, size_t len,
                           void *arg)
{
    (void)arg;
    if (len == 4 && memcmp(data, "quit", 4) == 0) {
        mp_client_stop(mp_conn_client(conn));
        return;
    }
    mp_conn_send(conn, data, len);
}

static void lib_on_connection(struct mp_conn *conn, void *arg)
{
    (void)arg;
    mp_conn_set_callbacks(conn, lib_on_message, NULL, NULL);
}

static void *lib_run(void *arg)
{
    mp_client_run(arg);
    return NULL;
}

Test(protobuf, libmpclient_speaks_protobuf)
{
    struct harness *h = start();
    struct harness_listener l = harness_listener(h, L_AUTO);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    char address[96], reason[256] = "";
    int err = 0;
    pthread_t thread;

    snprintf(address, sizeof address, "tcp:127.0.0.1:%d", l.port);
    o.address = address;
    o.format = "protobuf";
    o.name = "lib";
    o.secret = MPT_SECRET_ALLOW_ALL;
    struct mp_client *c = mp_client_new(NULL, &o, &err);
    cr_assert_not_null(c, "mp_client_new: %s", mp_strerror(err));
    err = mp_client_connect_wait(c, reason, sizeof reason);
    cr_assert_eq(err, MP_OK, "login: %s (%s)", mp_strerror(err), reason);
    cr_assert(harness_wait_log(h, "client lib logged in", mpt_ms(MPT_MSG_MS)));
    cr_assert(harness_log_contains(h, "format=protobuf"));
    cr_assert_eq(mp_client_handle(c, "echo", lib_on_connection, NULL), MP_OK);
    cr_assert_eq(pthread_create(&thread, NULL, lib_run, c), 0);

    struct rc_client *j = rc_login_any(h, L_JSON, RC_JSON, "jo");
    struct rc_msg m;
    send_ok(j, RC_SYN, "lib", "jo:1", rc_str("echo"));
    rc_expect_meta(j, RC_ACK, &m);
    rc_msg_free(&m);
    send_ok(j, RC_DATA, "lib", "jo:1", rc_bytes(BYTES, 6));
    rc_expect(j, RC_DATA, "lib", "jo:1", rc_bytes(BYTES, 6));
    send_ok(j, RC_DATA, "lib", "jo:1", RC_EMPTY);
    rc_expect(j, RC_DATA, "lib", "jo:1", RC_EMPTY);
    send_ok(j, RC_DATA, "lib", "jo:1", rc_str("quit"));
    pthread_join(thread, NULL);
    mp_client_free(c);
    rc_expect(j, RC_CLIENT_CLOSED, "lib", "", RC_NULL);
    rc_close(j);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * WebSocket: subprotocol mpbroker.protobuf, one message a WebSocket
 * binary message
 */

static const char ws_config[] =
    TRANSLATORS MPT_AUTH_ALLOW_ALL
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\";\n"
    "                websocket = { path = \"/mp\"; }; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n";

static void ws_send_pb(struct ws_client *w, unsigned meta, const char *other,
                       const char *id, struct rc_blob data)
{
    size_t len;
    unsigned char *f = rc_protobuf_frame(meta, other, id, data, -1, &len);

    cr_assert_not_null(f);
    cr_assert_eq(ws_client_send(w, WS_OP_BINARY, f, len), WSC_OK,
                 "ws send: %s", ws_client_error(w));
    free(f);
}

/* The next WebSocket message is a binary one holding exactly this
 * protobuf message. */
static void ws_expect_pb(struct ws_client *w, unsigned meta,
                         const char *other, const char *id,
                         struct rc_blob data)
{
    static unsigned char buf[65536];
    size_t want_len, len = 0;
    uint8_t opcode = 0;
    unsigned char *want = rc_protobuf_frame(meta, other, id, data, -1,
                                            &want_len);
    int st = ws_client_recv(w, mpt_ms(MPT_MSG_MS), &opcode, buf, sizeof buf,
                            &len);

    cr_assert_not_null(want);
    cr_assert_eq(st, WSC_OK, "no WebSocket message: %s (%s)",
                 ws_client_status_name(st), ws_client_error(w));
    cr_assert_eq(opcode, WS_OP_BINARY, "opcode 0x%x", opcode);
    bool same = len == want_len && memcmp(buf, want, len) == 0;
    free(want);
    cr_assert(same, "WebSocket message of %zu bytes differs from the %zu "
              "expected (meta %u)", len, want_len, meta);
}

Test(protobuf, websocket_subprotocol_routes_to_a_tcp_json_client)
{
    struct harness *h = start_with(ws_config);
    struct harness_listener l = harness_listener(h, 0);
    const char *headers[] = {
        "Sec-WebSocket-Protocol: mpbroker.protobuf, mpbroker.json", NULL};
    struct ws_client *w = NULL;
    char answer[2048] = "";
    int status = 0;

    cr_assert(l.is_websocket);
    ws_client_open(l.host, l.port, "/mp", headers, mpt_ms(MPT_MSG_MS), &w,
                   &status, answer, sizeof answer);
    cr_assert_eq(status, 101, "HTTP status %d; answer:\n%s", status, answer);
    cr_assert_str_eq(ws_client_subprotocol(w), "mpbroker.protobuf");

    ws_send_pb(w, RC_AUTH, "wsp", "", rc_str(MPT_SECRET_ALLOW_ALL));
    ws_expect_pb(w, RC_AUTH_OK, "wsp", "", RC_NULL);
    struct rc_client *j = rc_login_any(h, 1, RC_JSON, "jo");
    ws_send_pb(w, RC_SYN, "jo", "wsp:1", rc_str("chat"));
    rc_expect(j, RC_SYN, "wsp", "wsp:1", rc_str("chat"));
    send_ok(j, RC_ACK, "wsp", "wsp:1", RC_NULL);
    ws_expect_pb(w, RC_ACK, "jo", "wsp:1", RC_NULL);
    send_ok(j, RC_DATA, "wsp", "wsp:1", rc_bytes(BYTES, 6));
    ws_expect_pb(w, RC_DATA, "jo", "wsp:1", rc_bytes(BYTES, 6));
    send_ok(j, RC_DATA, "wsp", "wsp:1", RC_EMPTY);
    ws_expect_pb(w, RC_DATA, "jo", "wsp:1", RC_EMPTY);
    ws_send_pb(w, RC_DATA, "jo", "wsp:1", RC_NULL);
    rc_expect(j, RC_DATA, "wsp", "wsp:1", RC_NULL);
    ws_send_pb(w, RC_CLOSED, "jo", "wsp:1", RC_NULL);
    rc_expect(j, RC_CLOSED, "wsp", "wsp:1", RC_NULL);
    ws_send_pb(w, RC_SYN, "jo", "wsp:2", rc_str("chat"));
    rc_expect(j, RC_SYN, "wsp", "wsp:2", rc_str("chat"));
    ws_client_close(w);
    rc_expect(j, RC_CLIENT_CLOSED, "wsp", "", RC_NULL);
    rc_close(j);
    harness_stop(h);
}
