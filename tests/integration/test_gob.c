/*
 * test_gob.c - translator_gob.so in the real broker: the capture of the
 * original Go server and clients (tests/gob_transcript.h) replayed over
 * raw sockets, every message the broker sends compared byte for byte with
 * what the original server sent; gob, JSON and binary clients talking to
 * each other through one broker; a bad type definition refused.
 *
 * The gob client (tests/support/gobclient.h) has its own writer and
 * reader, written from the gob specification, so that a bug in
 * common/codec_gob.c cannot hide itself.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "gobclient.h"
#include "harness.h"
#include "rawclient.h"

TestSuite(gob, .fini = harness_reap_all, .timeout = 60);

/* Listener 0 speaks gob, listener 1 picks by the first bytes. The
 * prologue harness_write_config() writes names json and binary only, so
 * the whole config is written here. */
static const char config[] =
    "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
    "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
    "                { name = \"binary\"; module = \"translator_binary.so\"; },\n"
    "                { name = \"gob\"; module = \"translator_gob.so\"; } );\n"
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"gob\"; },\n"
    "              { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n"
    MPT_AUTH_ALLOW_ALL;
#define L_GOB 0
#define L_AUTO 1

static struct harness *start_broker(void)
{
    struct harness *h = harness_new();

    harness_launch(h, harness_write_file(h, "mpbroker.conf", config));
    cr_assert(harness_wait_ready(h, mpt_ms(MPT_READY_MS)),
              "the broker did not become ready");
    return h;
}

/* ------------------------------------------------------------------------
 * The capture, replayed
 */

static void replay(size_t listener)
{
    struct harness *h = start_broker();
    struct gob_client *c[2] = { gc_connect(h, listener),
                                gc_connect(h, listener) };

    gc_replay_transcript(c);
    gc_close(c[0]);
    gc_close(c[1]);
    harness_stop(h);
}

Test(gob, transcript_on_gob_listener)
{
    replay(L_GOB);
}

Test(gob, transcript_on_auto_listener)
{
    replay(L_AUTO);
}

/* ------------------------------------------------------------------------
 * Across formats
 */

#define BINARY "\x00\x01\x02\xff\x0a\x22"

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

Test(gob, gob_json_and_binary_clients)
{
    struct harness *h = start_broker();
    struct gob_client *g = gc_login(h, L_AUTO, "gopher");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jason");
    struct rc_client *b = rc_login_any(h, L_AUTO, RC_BINARY, "bina");
    unsigned char big[1000];

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31);

    /* gob opens to JSON. */
    gc_send_value(g, RC_SYN, "jason", "gopher:0", "echo", 4);
    rc_expect(j, RC_SYN, "gopher", "gopher:0", rc_str("echo"));
    send_ok(j, RC_ACK, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_ACK, "jason", "gopher:0", NULL, 0);
    gc_send_value(g, RC_DATA, "jason", "gopher:0", BINARY, 6);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", rc_bytes(BINARY, 6));
    /* gob cannot send empty Data: its absence on a Data message is
     * empty, not null. */
    gc_send_value(g, RC_DATA, "jason", "gopher:0", NULL, 0);
    rc_expect(j, RC_DATA, "gopher", "gopher:0", RC_EMPTY);
    send_ok(j, RC_DATA, "gopher", "gopher:0", rc_str("hi <&>"));
    gc_expect(g, RC_DATA, "jason", "gopher:0", "hi <&>", 6);
    send_ok(j, RC_DATA, "gopher", "gopher:0", RC_NULL);
    gc_expect(g, RC_DATA, "jason", "gopher:0", NULL, 0);

    /* binary opens to gob. */
    send_ok(b, RC_SYN, "gopher", "bina:1", rc_str("chat"));
    gc_expect(g, RC_SYN, "bina", "bina:1", "chat", 4);
    gc_send_value(g, RC_ACK, "bina", "bina:1", NULL, 0);
    rc_expect(b, RC_ACK, "gopher", "bina:1", RC_NULL);
    send_ok(b, RC_DATA, "gopher", "bina:1", RC_EMPTY);
    gc_expect(g, RC_DATA, "bina", "bina:1", NULL, 0);
    send_ok(b, RC_DATA, "gopher", "bina:1", rc_bytes(big, 300));
    gc_expect(g, RC_DATA, "bina", "bina:1", big, 300);
    gc_send_value(g, RC_DATA, "bina", "bina:1", big, sizeof big);
    rc_expect(b, RC_DATA, "gopher", "bina:1", rc_bytes(big, sizeof big));

    /* A Syn to nobody comes back to gob as NoSuchConnection. */
    gc_send_value(g, RC_SYN, "nobody", "gopher:2", "echo", 4);
    gc_expect(g, RC_NO_SUCH_CONN, "nobody", "gopher:2", "echo", 4);

    /* gob leaves: both peers are told. */
    gc_close(g);
    rc_expect(j, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_expect(b, RC_CLIENT_CLOSED, "gopher", "", RC_NULL);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* Two gob clients, one on each listener, and a JSON client's view of a
 * gob ConnClosed (absent data stays null). */
Test(gob, gob_to_gob_and_close)
{
    struct harness *h = start_broker();
    struct gob_client *a = gc_login(h, L_GOB, "alice");
    struct gob_client *z = gc_login(h, L_AUTO, "zed");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jo");

    gc_send_value(a, RC_SYN, "zed", "alice:1", "p", 1);
    gc_expect(z, RC_SYN, "alice", "alice:1", "p", 1);
    gc_send_value(z, RC_ACK, "alice", "alice:1", NULL, 0);
    gc_expect(a, RC_ACK, "zed", "alice:1", NULL, 0);
    gc_send_value(z, RC_CLOSED, "alice", "alice:1", NULL, 0);
    gc_expect(a, RC_CLOSED, "zed", "alice:1", NULL, 0);

    gc_send_value(a, RC_SYN, "jo", "alice:2", "p", 1);
    rc_expect(j, RC_SYN, "alice", "alice:2", rc_str("p"));
    send_ok(j, RC_ACK, "alice", "alice:2", RC_NULL);
    gc_expect(a, RC_ACK, "jo", "alice:2", NULL, 0);
    gc_send_value(a, RC_CLOSED, "jo", "alice:2", NULL, 0);
    rc_expect(j, RC_CLOSED, "alice", "alice:2", RC_NULL);

    gc_close(a);
    gc_close(z);
    rc_close(j);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * A level-2 gob client: its Message has a fifth field, `Level int`
 */

/* What Go's encoder writes to define that Message (doc/protocol.md,
 * "Protocol level 2", "Gob"): 83 bytes, type 65. */
#define GOB_LEVEL_DEFINITION_HEX                                            \
    "52ff81030101074d65737361676501ff8200010501044d657461010600010b4f"    \
    "74686572436c69656e74010c00010c436f6e6e656374696f6e4944010c000104"    \
    "44617461010a0001054c6576656c0104000000"

/* The five-field definition and an Auth of `name` announcing `level`
 * (Level is field 4, an int: written as level << 1). */
static struct gob_bytes level_login_bytes(const char *name, uint64_t level)
{
    struct gob_bytes all = gob_unhex(GOB_LEVEL_DEFINITION_HEX);
    struct gob_bytes body = { 0 };
    const char *secret = MPT_SECRET_ALLOW_ALL;

    gob_put(&body, "\xff\x82\x01\x08", 4); /* type 65; Meta 8 */
    gob_put_byte(&body, 1);                 /* OtherClient */
    gob_uint(&body, strlen(name));
    gob_put(&body, name, strlen(name));
    gob_put_byte(&body, 2);                 /* Data */
    gob_uint(&body, strlen(secret));
    gob_put(&body, secret, strlen(secret));
    gob_put_byte(&body, 1);                 /* Level */
    gob_uint(&body, level << 1);
    gob_put_byte(&body, 0);
    gob_uint(&all, body.len);
    gob_put(&all, body.p, body.len);
    free(body.p);
    return all;
}

/* The broker takes the five-field stream on both listeners, answers in
 * its own four-field definition (checked by gc_recv), and routes the
 * client's values, which use the same field numbers for the first four,
 * to and from a JSON client. AuthOk's data is not checked: at level 2 it
 * carries settings. */
static void level_client(size_t listener)
{
    struct harness *h = start_broker();
    struct gob_client *g = gc_connect(h, listener);
    struct gob_bytes login = level_login_bytes("gopher2", 2);
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jo");
    struct gob_msg m;

    gc_send(g, login.p, login.len);
    gc_recv(g, &m);
    cr_assert_eq(m.meta, RC_AUTH_OK);
    cr_assert_str_eq(m.other, "gopher2");
    free(m.data);
    gc_send_value(g, RC_SYN, "jo", "gopher2:1", "p", 1);
    rc_expect(j, RC_SYN, "gopher2", "gopher2:1", rc_str("p"));
    send_ok(j, RC_ACK, "gopher2", "gopher2:1", RC_NULL);
    gc_expect(g, RC_ACK, "jo", "gopher2:1", NULL, 0);
    gc_send_value(g, RC_DATA, "jo", "gopher2:1", "hi", 2);
    rc_expect(j, RC_DATA, "gopher2", "gopher2:1", rc_str("hi"));
    free(login.p);
    gc_close(g);
    rc_close(j);
    harness_stop(h);
}

Test(gob, level_client_on_gob_listener)
{
    level_client(L_GOB);
}

Test(gob, level_client_on_auto_listener)
{
    level_client(L_AUTO);
}

/* A Level past 255 is refused as a Meta past 255 is: AuthFailure with
 * the reason, then the socket closes. */
Test(gob, level_out_of_range_refused)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_connect(h, L_GOB);
    struct gob_bytes login = level_login_bytes("gopher2", 256);
    struct gob_msg m;

    gc_send(c, login.p, login.len);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_AUTH_FAILURE);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "Level value 256 is not 0 to 255") !=
                  NULL,
              "reason: %s", (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    free(login.p);
    gc_close(c);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Bad input
 */

/* A definition with the wrong field type: AuthFailure with the reason,
 * in gob, then the socket closes. */
Test(gob, wrong_type_definition_refused)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_connect(h, L_GOB);
    struct gob_bytes b = gob_message_definition();
    struct gob_msg m;

    /* Meta's type: uint (3, sent as 0x06) becomes int (2, 0x04). */
    cr_assert_eq(b.p[27], 0x06);
    b.p[27] = 0x04;
    gc_send(c, b.p, b.len);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_AUTH_FAILURE);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "field Meta has type int, expected "
                                     "uint") != NULL,
              "reason: %s", (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    free(b.p);
    gc_close(c);
    harness_stop(h);
}

/* After login, a malformed value gets WAT with the reason, then the
 * socket closes; the others carry on. */
Test(gob, malformed_value_after_login)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_login(h, L_GOB, "mallory");
    struct rc_client *j = rc_login_any(h, L_AUTO, RC_JSON, "jo");
    struct gob_msg m;

    /* Meta 256 does not fit in a uint8. */
    gc_send(c, "\x07\xff\x82\x01\xfe\x01\x00\x00", 8);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_WAT);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "Meta value 256") != NULL, "reason: %s",
              (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    gc_close(c);
    send_ok(j, RC_SYN, "jo", "jo:1", rc_str("self"));
    rc_expect(j, RC_SYN, "jo", "jo:1", rc_str("self"));
    rc_close(j);
    harness_stop(h);
}

/* A value too big for max_message_size is refused from its byte count:
 * the broker answers before the rest is sent. */
Test(gob, oversize_refused_from_the_count)
{
    struct harness *h = start_broker();
    struct gob_client *c = gc_login(h, L_GOB, "big");
    struct gob_msg m;

    /* 2 MiB announced (the default limit is 1 MiB): 0xfd + 3 bytes. */
    gc_send(c, "\xfd\x20\x00\x00\xff\x82", 6);
    gc_recv(c, &m);
    cr_assert_eq(m.meta, RC_WAT);
    cr_assert_not_null(m.data);
    m.data[m.data_len] = '\0';
    cr_assert(strstr((char *)m.data, "exceeds the limit") != NULL,
              "reason: %s", (char *)m.data);
    free(m.data);
    gc_expect_eof(c);
    gc_close(c);
    harness_stop(h);
}
