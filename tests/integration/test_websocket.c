/*
 * test_websocket.c - WebSocket listeners (ws_session.h): the opening
 * handshake and its refusals, messages both ways between a WebSocket
 * client and a TCP client in JSON and binary, fragmentation and control
 * frames, the bad-input catalogue (unmasked frames, reserved bits,
 * oversized lengths, invalid UTF-8, control frames over 125 bytes, close
 * without a code), the idle Ping, and the close handshake. Each test
 * starts a real broker; the WebSocket client is tests/support/ws_client.
 *
 * Listener 0 speaks WebSocket ("auto"), listener 1 is plain TCP (binary).
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httpclient.h"
#include "rawclient.h"
#include "ws_client.h"
#include "ws_frame.h"

TestSuite(websocket, .fini = harness_reap_all, .timeout = 90);

#define WS_LISTENER 0
#define TCP_LISTENER 1

#define LISTENERS(WS_EXTRA)                                                  \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\";\n" \
    "                websocket = { path = \"/mp\"; " WS_EXTRA " }; },\n"     \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"

#define ORIGINS "origins = [ \"http://allowed.example:8080\" ];"

static struct harness *start(const char *ws_extra_and_more)
{
    char body[2048];

    snprintf(body, sizeof body, "%s%s", MPT_AUTH_ALLOW_ALL,
             ws_extra_and_more);
    return harness_start(body);
}

static struct harness *start_default(void)
{
    return start(LISTENERS(ORIGINS));
}

/* Open a WebSocket to listener 0 with `headers` (NULL-terminated);
 * assert the answer's status. NULL unless it is 101. */
static struct ws_client *open_ws(struct harness *h, const char *path,
                                 const char *const *headers, int want_status,
                                 char *answer, size_t answer_size)
{
    struct harness_listener l = harness_listener(h, WS_LISTENER);
    struct ws_client *c = NULL;
    char local[2048];
    int status = 0;

    cr_assert(l.is_websocket, "listener 0 is not a WebSocket listener");
    if (answer == NULL) {
        answer = local;
        answer_size = sizeof local;
    }
    ws_client_open(l.host, l.port, path, headers, mpt_ms(MPT_MSG_MS), &c,
                   &status, answer, answer_size);
    cr_assert_eq(status, want_status, "HTTP status %d, want %d; answer:\n%s",
                 status, want_status, answer);
    return c;
}

static struct ws_client *open_json(struct harness *h)
{
    const char *headers[] = {"Sec-WebSocket-Protocol: mpbroker.json", NULL};

    return open_ws(h, "/mp", headers, 101, NULL, 0);
}

static void send_frame(struct ws_client *c, uint8_t opcode, const void *p,
                       size_t len)
{
    cr_assert(ws_client_send(c, opcode, p, len) == 0, "ws send failed");
}

/* Receive one message; assert its opcode; return its payload (malloc'd,
 * NUL-terminated). */
static char *recv_message(struct ws_client *c, uint8_t want_opcode,
                          size_t *len)
{
    static char buf[1 << 17];
    uint8_t opcode = 0;
    size_t n = 0;
    char *copy;

    int st = ws_client_recv(c, mpt_ms(MPT_MSG_MS), &opcode, buf,
                            sizeof buf - 1, &n);

    cr_assert(st == WSC_OK, "no WebSocket message arrived: %s (%s)",
              ws_client_status_name(st), ws_client_error(c));
    cr_assert_eq(opcode, want_opcode, "opcode 0x%x, want 0x%x (payload %.*s)",
                 opcode, want_opcode, (int)(n < 200 ? n : 200), buf);
    copy = malloc(n + 1);
    cr_assert_not_null(copy);
    memcpy(copy, buf, n);
    copy[n] = '\0';
    if (len != NULL)
        *len = n;
    return copy;
}

/* Send one JSON message as a text message. */
static void send_json(struct ws_client *c, unsigned meta, const char *other,
                      const char *id, struct rc_blob data)
{
    char *line = rc_json_line(meta, other, id, data);

    cr_assert_not_null(line);
    send_frame(c, WS_OP_TEXT, line, strlen(line));
    free(line);
}

/* The next message is this JSON message, in a text message of its own:
 * the canonical line and the newline the broker writes on streams. */
static void expect_json(struct ws_client *c, unsigned meta, const char *other,
                        const char *id, struct rc_blob data)
{
    char *want = rc_json_line(meta, other, id, data);
    char *got = recv_message(c, WS_OP_TEXT, NULL);

    cr_assert_not_null(want);
    cr_assert(strncmp(got, want, strlen(want)) == 0 &&
                  strcmp(got + strlen(want), "\n") == 0,
              "got  %s\nwant %s\\n", got, want);
    free(want);
    free(got);
}

/* The next message is a JSON one of meta `meta` (its other fields not
 * checked). */
static void expect_json_meta(struct ws_client *c, unsigned meta)
{
    char prefix[32];
    char *got = recv_message(c, WS_OP_TEXT, NULL);

    snprintf(prefix, sizeof prefix, "{\"Meta\":%u,", meta);
    cr_assert(strncmp(got, prefix, strlen(prefix)) == 0, "got %s, want %s...",
              got, prefix);
    free(got);
}

/* The broker's Close frame: assert its code (and that the reason
 * contains `reason`, if not NULL), then the end of the socket. */
static void expect_close(struct ws_client *c, uint16_t code,
                         const char *reason)
{
    size_t len;
    char *payload = recv_message(c, WS_OP_CLOSE, &len);
    unsigned got;

    cr_assert_geq(len, 2, "a Close frame without a code");
    got = ((unsigned)(uint8_t)payload[0] << 8) | (uint8_t)payload[1];
    cr_assert_eq(got, code, "close code %u (%s), want %u", got, payload + 2,
                 code);
    if (reason != NULL)
        cr_assert_not_null(strstr(payload + 2, reason),
                           "close reason \"%s\" lacks \"%s\"", payload + 2,
                           reason);
    free(payload);
    cr_assert(ws_client_wait_eof(c, mpt_ms(MPT_MSG_MS)) == WSC_EOF,
              "the socket stayed open after the Close");
}

static struct ws_client *login_json(struct harness *h, const char *name)
{
    struct ws_client *c = open_json(h);

    send_json(c, RC_AUTH, name, "", rc_str(MPT_SECRET_ALLOW_ALL));
    expect_json_meta(c, RC_AUTH_OK);
    return c;
}

/* The broker still serves: a TCP client logs in. */
static void still_serving(struct harness *h, const char *name)
{
    struct rc_client *c = rc_login_any(h, TCP_LISTENER, RC_BINARY, name);

    rc_close(c);
}

/* ---------------------------------------------------------------------- */

Test(websocket, json_messages_both_ways_with_a_tcp_client)
{
    struct harness *h = start_default();
    char answer[2048];
    const char *headers[] = {"Sec-WebSocket-Protocol: mpbroker.json",
                             "Origin: http://allowed.example:8080", NULL};
    struct ws_client *alice = open_ws(h, "/mp?token=x", headers, 101, answer,
                                      sizeof answer);
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");

    cr_assert_not_null(strstr(answer, "Sec-WebSocket-Protocol: mpbroker.json\r\n"),
                       "%s", answer);
    send_json(alice, RC_AUTH, "alice", "", rc_str(MPT_SECRET_ALLOW_ALL));
    expect_json_meta(alice, RC_AUTH_OK);

    send_json(alice, RC_SYN, "bob", "alice:1", rc_str("chat"));
    rc_expect(bob, RC_SYN, "alice", "alice:1", rc_str("chat"));
    cr_assert(rc_send(bob, RC_ACK, "alice", "alice:1", rc_str("chat")));
    expect_json(alice, RC_ACK, "bob", "alice:1", rc_str("chat"));
    send_json(alice, RC_DATA, "bob", "alice:1", rc_str("h\xc3\xa9llo"));
    rc_expect(bob, RC_DATA, "alice", "alice:1", rc_str("h\xc3\xa9llo"));
    cr_assert(rc_send(bob, RC_DATA, "alice", "alice:1",
                      rc_bytes("\x00\xff\x01", 3)));
    expect_json(alice, RC_DATA, "bob", "alice:1", rc_bytes("\x00\xff\x01", 3));

    /* The WebSocket client closes: its peer is told, it gets the echo. */
    send_frame(alice, WS_OP_CLOSE, "\x03\xe8" "bye", 5);
    expect_close(alice, 1000, NULL);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    cr_assert(harness_wait_log(h, "closed by client (WebSocket close 1000: bye)",
                               mpt_ms(MPT_MSG_MS)));
    ws_client_close(alice);
    rc_close(bob);
    harness_stop(h);
}

Test(websocket, binary_subprotocol_carries_binary_frames)
{
    struct harness *h = start_default();
    const char *headers[] = {
        "Sec-WebSocket-Protocol: mpbroker.gob, mpbroker.binary, mpbroker.json",
        NULL};
    char answer[2048];
    struct ws_client *alice = open_ws(h, "/mp", headers, 101, answer,
                                      sizeof answer);
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
    size_t len, want_len;
    unsigned char *frame;
    char *got;

    cr_assert_not_null(strstr(answer, "Sec-WebSocket-Protocol: mpbroker.binary\r\n"),
                       "the client's first spoken choice wins:\n%s", answer);
    frame = rc_binary_frame(RC_AUTH, "alice", "", rc_str(MPT_SECRET_ALLOW_ALL),
                            -1, &len);
    send_frame(alice, WS_OP_BINARY, frame, len);
    free(frame);
    free(recv_message(alice, WS_OP_BINARY, NULL)); /* AuthOk */

    frame = rc_binary_frame(RC_SYN, "bob", "alice:1", rc_str("chat"), -1, &len);
    send_frame(alice, WS_OP_BINARY, frame, len);
    free(frame);
    rc_expect(bob, RC_SYN, "alice", "alice:1", rc_str("chat"));
    cr_assert(rc_send(bob, RC_ACK, "alice", "alice:1", rc_str("chat")));
    free(recv_message(alice, WS_OP_BINARY, NULL)); /* the Ack */
    cr_assert(rc_send(bob, RC_DATA, "alice", "alice:1", rc_str("one")));
    /* Exactly the frame a TCP client would read, in one binary message. */
    frame = rc_binary_frame(RC_DATA, "bob", "alice:1", rc_str("one"), -1,
                            &want_len);
    got = recv_message(alice, WS_OP_BINARY, &len);
    cr_assert(len == want_len && memcmp(got, frame, len) == 0,
              "binary message of %zu bytes, want %zu", len, want_len);
    free(got);
    free(frame);
    ws_client_close(alice);
    rc_expect(bob, RC_CLIENT_CLOSED, "alice", "", RC_NULL);
    rc_close(bob);
    harness_stop(h);
}

Test(websocket, without_a_subprotocol_the_first_message_picks_the_format)
{
    struct harness *h = start_default();
    struct ws_client *c = open_ws(h, "/mp", (const char *[]){NULL}, 101, NULL, 0);

    send_json(c, RC_AUTH, "carol", "", rc_str(MPT_SECRET_ALLOW_ALL));
    expect_json_meta(c, RC_AUTH_OK);
    ws_client_close(c);
    harness_stop(h);
}

Test(websocket, a_fragmented_message_with_a_ping_between_its_fragments)
{
    struct harness *h = start_default();
    struct ws_client *c = open_json(h);
    char *line = rc_json_line(RC_AUTH, "dave", "",
                              rc_str(MPT_SECRET_ALLOW_ALL));
    size_t n = strlen(line), third = n / 3;
    char *pong;

    cr_assert(ws_client_send_frame(c, WS_OP_TEXT, false, line, third) == 0);
    cr_assert(ws_client_send_frame(c, WS_OP_PING, true, "abc", 3) == 0);
    cr_assert(ws_client_send_frame(c, WS_OP_CONTINUATION, false, line + third,
                                   third) == 0);
    cr_assert(ws_client_send_frame(c, WS_OP_CONTINUATION, true,
                                   line + 2 * third, n - 2 * third) == 0);
    pong = recv_message(c, WS_OP_PONG, NULL);
    cr_assert_str_eq(pong, "abc");
    free(pong);
    expect_json_meta(c, RC_AUTH_OK);
    free(line);
    ws_client_close(c);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Handshake refusals: an HTTP status, one log line, the socket closed,
 * and everyone else served. */

static void refused(struct harness *h, const char *method_path,
                    const char *const *headers, int status, const char *why)
{
    struct harness_listener l = harness_listener(h, WS_LISTENER);
    size_t mark = harness_log_mark(h);
    struct http_response r;
    char *request, want[64];
    size_t len = strlen(method_path) + 64;

    for (const char *const *p = headers; *p != NULL; p++)
        len += strlen(*p) + 2;
    request = malloc(len);
    cr_assert_not_null(request);
    snprintf(request, len, "%s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method_path);
    for (const char *const *p = headers; *p != NULL; p++) {
        strcat(request, *p);
        strcat(request, "\r\n");
    }
    strcat(request, "\r\n");
    r = http_exchange(l.port, request);
    free(request);
    cr_assert_eq(r.status, status, "status %d, want %d:\n%s%s", r.status,
                 status, r.headers, r.body);
    cr_assert_not_null(strstr(r.body, why), "the answer lacks \"%s\":\n%s%s",
                       why, r.headers, r.body);
    http_response_free(&r);
    snprintf(want, sizeof want, "WebSocket handshake refused (%d: ", status);
    cr_assert(harness_wait_log_from(h, mark, want, mpt_ms(MPT_MSG_MS)),
              "no log line \"%s\"", want);
}

#define UPGRADE "Upgrade: websocket", "Connection: Upgrade", \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"

Test(websocket, handshake_refusals)
{
    struct harness *h = start_default();

    refused(h, "GET /other", (const char *[]){UPGRADE, NULL}, 404, "at this path");
    refused(h, "GET /mp", (const char *[]){UPGRADE, "Origin: http://evil.example", NULL},
            403, "origin not allowed");
    refused(h, "GET /mp", (const char *[]){NULL}, 426, "upgrade is required");
    refused(h, "GET /mp", (const char *[]){"Upgrade: websocket", "Connection: Upgrade",
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                           "Sec-WebSocket-Version: 8", NULL},
            426, "version 13 is required");
    refused(h, "POST /mp", (const char *[]){UPGRADE, NULL}, 405, "only GET");
    refused(h, "GET /mp", (const char *[]){"Upgrade: websocket", "Connection: Upgrade",
                                           "Sec-WebSocket-Version: 13", NULL},
            400, "Sec-WebSocket-Key");
    refused(h, "GET /mp", (const char *[]){UPGRADE, "Sec-WebSocket-Protocol: chat", NULL},
            400, "no common subprotocol");
    still_serving(h, "erin");
    harness_stop(h);
}

Test(websocket, an_oversized_request_head_gets_431)
{
    struct harness *h = start_default();
    static char big[9000];

    memcpy(big, "X-Filler: ", 10);
    memset(big + 10, 'a', sizeof big - 11);
    refused(h, "GET /mp", (const char *[]){UPGRADE, big, NULL}, 431, "large");
    still_serving(h, "frank");
    harness_stop(h);
}

Test(websocket, a_listener_with_a_fixed_translator_refuses_other_subprotocols)
{
    struct harness *h = start(
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\";\n"
        "                websocket = { }; },\n"
        "              { address = \"127.0.0.1\"; port = 0; } );\n");

    refused(h, "GET /mp", (const char *[]){UPGRADE, "Sec-WebSocket-Protocol: mpbroker.binary",
                                           NULL},
            400, "no common subprotocol");
    ws_client_close(open_json(h));
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Bad frames: the close code RFC 6455 gives, one log line, and only the
 * offender dropped. */

static void bad_frames(const void *bytes, size_t len, uint16_t code,
                       const char *reason)
{
    struct harness *h = start(LISTENERS(ORIGINS)
                              "limits = { max_message_size = 4096; };\n");
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
    struct ws_client *c = login_json(h, "mallory");

    /* A connection to bob, so that he is told when mallory goes. */
    send_json(c, RC_SYN, "bob", "mallory:1", rc_str("chat"));
    rc_expect(bob, RC_SYN, "mallory", "mallory:1", rc_str("chat"));
    cr_assert(rc_send(bob, RC_ACK, "mallory", "mallory:1", rc_str("chat")));
    expect_json(c, RC_ACK, "bob", "mallory:1", rc_str("chat"));
    cr_assert(ws_client_send_raw(c, bytes, len) == 0);
    expect_close(c, code, reason);
    rc_expect(bob, RC_CLIENT_CLOSED, "mallory", "", RC_NULL);
    cr_assert(harness_wait_log(h, "client mallory left", mpt_ms(MPT_MSG_MS)));
    still_serving(h, "grace");
    ws_client_close(c);
    rc_close(bob);
    harness_stop(h);
}

Test(websocket, an_unmasked_frame_is_a_protocol_error)
{
    bad_frames("\x81\x02{}", 4, WS_CLOSE_PROTOCOL_ERROR, "mask");
}

Test(websocket, a_reserved_bit_is_a_protocol_error)
{
    bad_frames("\xc1\x80\x00\x00\x00\x00", 6, WS_CLOSE_PROTOCOL_ERROR, NULL);
}

Test(websocket, an_oversized_length_is_refused_before_its_payload)
{
    /* 1 MiB announced, nothing of it sent: the header alone decides. */
    bad_frames("\x82\xff\x00\x00\x00\x00\x00\x10\x00\x00\x01\x02\x03\x04", 14,
               WS_CLOSE_TOO_BIG, NULL);
}

Test(websocket, invalid_utf8_in_a_text_message)
{
    /* "\xc3\x28" masked with a zero key. */
    bad_frames("\x81\x82\x00\x00\x00\x00\xc3\x28", 8, WS_CLOSE_INVALID_DATA,
               NULL);
}

Test(websocket, a_control_frame_over_125_bytes)
{
    unsigned char frame[8 + 126] = {0x89, 0xfe, 0x00, 126, 0, 0, 0, 0};

    bad_frames(frame, sizeof frame, WS_CLOSE_PROTOCOL_ERROR, NULL);
}

Test(websocket, a_continuation_without_a_message)
{
    bad_frames("\x80\x80\x00\x00\x00\x00", 6, WS_CLOSE_PROTOCOL_ERROR, NULL);
}

Test(websocket, a_malformed_mpbroker_message_is_a_protocol_error)
{
    struct harness *h = start_default();
    struct ws_client *c = login_json(h, "mallory");

    send_frame(c, WS_OP_TEXT, "{x}", 3);
    expect_json_meta(c, RC_WAT); /* the protocol's own error first */
    expect_close(c, WS_CLOSE_PROTOCOL_ERROR, NULL);
    still_serving(h, "grace");
    ws_client_close(c);
    harness_stop(h);
}

Test(websocket, a_close_without_a_code_is_answered_with_1000)
{
    struct harness *h = start_default();
    struct ws_client *c = login_json(h, "heidi");

    send_frame(c, WS_OP_CLOSE, "", 0);
    expect_close(c, WS_CLOSE_NORMAL, NULL);
    ws_client_close(c);
    harness_stop(h);
}

Test(websocket, a_refused_login_closes_with_1008)
{
    struct harness *h = start_default();
    struct ws_client *c = open_json(h);

    send_json(c, RC_AUTH, "bad:name", "", rc_str(MPT_SECRET_ALLOW_ALL));
    expect_json_meta(c, RC_AUTH_FAILURE);
    expect_close(c, WS_CLOSE_POLICY, NULL);
    ws_client_close(c);
    harness_stop(h);
}

Test(websocket, a_silent_client_is_pinged_then_closed)
{
    struct harness *h = start(LISTENERS("ping_interval_s = 1;"));
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
    struct ws_client *c = login_json(h, "ivan");
    uint8_t opcode;

    send_json(c, RC_SYN, "bob", "ivan:1", rc_str("chat"));
    rc_expect(bob, RC_SYN, "ivan", "ivan:1", rc_str("chat"));
    size_t n;
    char buf[256];

    /* Within two intervals a Ping comes; unanswered, a close after one
     * more. */
    cr_assert(ws_client_recv(c, mpt_ms(4000), &opcode, buf, sizeof buf, &n) == 0);
    cr_assert_eq(opcode, WS_OP_PING);
    expect_close(c, WS_CLOSE_GOING_AWAY, "Ping");
    rc_expect(bob, RC_CLIENT_CLOSED, "ivan", "", RC_NULL);
    ws_client_close(c);
    rc_close(bob);
    harness_stop(h);
}

Test(websocket, a_client_that_answers_pings_stays)
{
    struct harness *h = start(LISTENERS("ping_interval_s = 1;"));
    struct ws_client *c = login_json(h, "judy");
    uint8_t opcode;
    size_t n;
    char buf[256];

    for (int i = 0; i < 3; i++) {
        cr_assert(ws_client_recv(c, mpt_ms(4000), &opcode, buf, sizeof buf,
                                 &n) == 0);
        cr_assert_eq(opcode, WS_OP_PING, "ping %d", i);
        send_frame(c, WS_OP_PONG, buf, n);
    }
    /* Still logged in: a message reaches it (after any Ping). */
    {
        struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
        cr_assert(rc_send(bob, RC_SYN, "judy", "bob:1", rc_str("x")));
        do {
            cr_assert(ws_client_recv(c, mpt_ms(MPT_MSG_MS), &opcode, buf,
                                     sizeof buf - 1, &n) == 0);
        } while (opcode == WS_OP_PING);
        buf[n] = '\0';
        cr_assert_eq(opcode, WS_OP_TEXT);
        cr_assert_not_null(strstr(buf, "\"Meta\":5,"), "%s", buf);
        rc_close(bob);
    }
    ws_client_close(c);
    harness_stop(h);
}

Test(websocket, shutdown_closes_with_1001)
{
    struct harness *h = start_default();
    struct ws_client *c = login_json(h, "ken");

    int status;

    cr_assert(harness_signal(h, SIGTERM));
    /* A level-1 client gets no GoingAway: the Close frame is first. */
    expect_close(c, WS_CLOSE_GOING_AWAY, NULL);
    cr_assert(harness_wait_exit(h, mpt_ms(MPT_EXIT_MS), &status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d",
              status);
    ws_client_close(c);
    harness_free(h);
}

Test(websocket, metrics_count_upgrades_refusals_and_errors)
{
    struct harness *h = start(LISTENERS(ORIGINS)
                              "metrics = { address = \"127.0.0.1\"; port = 0; };\n");
    struct http_response r;
    const char *text;

    ws_client_close(login_json(h, "leo"));
    refused(h, "GET /nope", (const char *[]){UPGRADE, NULL}, 404, "at this path");
    r = http_exchange(http_metrics_port(h),
                      "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 200);
    text = r.body;
    cr_assert_not_null(strstr(text, "mpbroker_websocket_upgrades_total 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "mpbroker_websocket_refused_total 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "mpbroker_websocket_protocol_errors_total 0\n"), "%s", text);
    http_response_free(&r);
    harness_stop(h);
}

Test(websocket, a_reload_changes_the_origins_and_keeps_the_sessions)
{
    struct harness *h = start_default();
    struct ws_client *kept = login_json(h, "mike");
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
    const char *from_other[] = {"Sec-WebSocket-Protocol: mpbroker.json",
                                "Origin: http://other.example", NULL};
    const char *from_allowed[] = {"Sec-WebSocket-Protocol: mpbroker.json",
                                  "Origin: http://allowed.example:8080", NULL};
    char body[2048];
    size_t mark;

    ws_client_close(open_ws(h, "/mp", from_allowed, 101, NULL, 0));
    open_ws(h, "/mp", from_other, 403, NULL, 0);
    snprintf(body, sizeof body, "%s%s", MPT_AUTH_ALLOW_ALL,
             LISTENERS("origins = [ \"http://OTHER.example\" ];"));
    mark = harness_log_mark(h);
    harness_write_config(h, body);
    cr_assert(harness_signal(h, SIGHUP));
    cr_assert(harness_wait_log_from(h, mark, "configuration reloaded",
                                    mpt_ms(MPT_MSG_MS)));
    ws_client_close(open_ws(h, "/mp", from_other, 101, NULL, 0));
    open_ws(h, "/mp", from_allowed, 403, NULL, 0);
    /* The session from before the reload talks on. */
    send_json(kept, RC_SYN, "bob", "mike:1", rc_str("chat"));
    rc_expect(bob, RC_SYN, "mike", "mike:1", rc_str("chat"));
    ws_client_close(kept);
    rc_close(bob);
    harness_stop(h);
}

/* A client the broker stopped reading (its recipient is slow) may have
 * answered a Ping long ago: the answer waits unread. It must not be
 * closed as silent. */

enum { FLOOD_MESSAGES = 600, FLOOD_BYTES = 40000 };

static char flood_chunk[FLOOD_BYTES + 1];

/* Alice's sending, in a thread of its own: once the broker stops reading
 * her, the sends block until bob reads. */
static void *flood(void *arg)
{
    struct ws_client *alice = arg;
    char *line = rc_json_line(RC_DATA, "bob", "alice:1", rc_str(flood_chunk));
    intptr_t failures = 0;

    for (int i = 0; i < FLOOD_MESSAGES && line != NULL; i++)
        failures += ws_client_send(alice, WS_OP_TEXT, line, strlen(line)) != 0;
    free(line);
    return (void *)failures;
}

Test(websocket, a_client_paused_for_a_slow_reader_is_not_taken_for_silent)
{
    struct harness *h = start(
        LISTENERS("ping_interval_s = 1;")
        "limits = { max_message_size = 65536; slow_consumer_timeout_ms = 0;\n"
        "           output_hard_limit = 1073741824; };\n"
        "log = { level = \"debug\"; };\n");
    struct rc_client *bob = rc_login_any(h, TCP_LISTENER, RC_BINARY, "bob");
    struct ws_client *alice = login_json(h, "alice");
    pthread_t sender;
    void *failures;

    memset(flood_chunk, 'x', FLOOD_BYTES);
    send_json(alice, RC_SYN, "bob", "alice:1", rc_str("chat"));
    rc_expect(bob, RC_SYN, "alice", "alice:1", rc_str("chat"));
    cr_assert(rc_send(bob, RC_ACK, "alice", "alice:1", rc_str("chat")));
    expect_json(alice, RC_ACK, "bob", "alice:1", rc_str("chat"));
    /* bob reads nothing: once his queue passes the high water mark,
     * alice is paused. */
    cr_assert(pthread_create(&sender, NULL, flood, alice) == 0);
    cr_assert(harness_wait_log(h, "pausing alice: bob has too much queued",
                               mpt_ms(10000)), "alice was never paused");
    /* Three intervals, not scaled: a broker that took the pause for
     * silence pings at 1 s and closes at 2 s. */
    cr_assert_not(harness_wait_log(h, "no answer to Ping", 3500),
                  "alice was closed as silent while paused");
    for (int i = 0; i < FLOOD_MESSAGES; i++)
        rc_expect(bob, RC_DATA, "alice", "alice:1", rc_str(flood_chunk));
    pthread_join(sender, &failures);
    cr_assert_eq((intptr_t)failures, 0, "some of alice's sends failed");
    cr_assert_not(harness_log_contains(h, "client alice left"));
    ws_client_close(alice);
    rc_close(bob);
    harness_stop(h);
}
