/* Unit tests: the tests' WebSocket client (tests/support/ws_client.c)
 * against a tiny echo server in a thread, built on broker/ws_handshake.c
 * and broker/ws_frame.c: the handshake both ways (the client checks the
 * server's accept key with its own code), echoes of every length form,
 * fragments both ways with a Ping between, the close handshake, the
 * refusals, and servers that break the protocol. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "broker/ws_frame.h"
#include "broker/ws_handshake.h"
#include "ws_client.h"

enum { WAIT_MS = 5000, SERVER_MAX = 1 << 20 };

static const char *const subprotocols[] = {"mpbroker.json",
                                           "mpbroker.binary"};
static const struct ws_policy policy = {
    .path = "/mp",
    .subprotocols = subprotocols,
    .n_subprotocols = 2,
};

/* ------------------------------------------------------------------------
 * The server: one connection, handshake, then `prelude` (frames the test
 * wants sent first), then an echo of every message until a Close or the
 * end of the connection. With `raw_answer` it answers the request with
 * those bytes instead and closes.
 */

struct server {
    int listen_fd, port;
    pthread_t thread;
    const void *prelude;
    size_t prelude_len;
    const char *raw_answer;
    uint16_t close_code;        /* the client's Close, when one came */
};

struct conn {
    int fd;
    uint8_t in[SERVER_MAX + WS_MAX_HEADER];
    size_t len;
};

static bool read_more(struct conn *k)
{
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    ssize_t n;

    if (k->len == sizeof k->in || poll(&p, 1, WAIT_MS) != 1)
        return false;
    n = read(k->fd, k->in + k->len, sizeof k->in - k->len);
    if (n <= 0)
        return false;
    k->len += (size_t)n;
    return true;
}

static void write_all(int fd, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void send_frame(int fd, uint8_t opcode, const void *payload,
                       size_t len)
{
    uint8_t h[WS_MAX_HEADER];

    write_all(fd, h, ws_write_header(h, opcode, true, len, NULL));
    write_all(fd, payload, len);
}

static bool handshake(struct server *s, struct conn *k)
{
    struct ws_handshake r;
    char answer[1024];
    size_t head;

    while ((head = ws_request_head_length((char *)k->in, k->len)) == 0)
        if (!read_more(k))
            return false;
    if (s->raw_answer) {
        write_all(k->fd, s->raw_answer, strlen(s->raw_answer));
        return false;
    }
    ws_handshake_check((char *)k->in, head, &policy, &r);
    write_all(k->fd, answer,
              ws_handshake_answer(&r, &policy, answer, sizeof answer));
    memmove(k->in, k->in + head, k->len - head);
    k->len -= head;
    return r.status == 101;
}

/* Echo messages (fragments joined) until a Close, which is echoed. */
static void echo(struct server *s, struct conn *k)
{
    static uint8_t message[SERVER_MAX];
    size_t message_len = 0;
    uint8_t message_op = 0;

    for (;;) {
        struct ws_frame_header h;
        uint16_t code;
        const char *why;
        enum ws_parse_status st = ws_parse_header(k->in, k->len, true,
                                                  SERVER_MAX, &h, &code, &why);

        if (st == WS_PARSE_ERROR)
            return;
        if (st == WS_PARSE_NEED_MORE || k->len - h.header_len < h.payload_len) {
            if (!read_more(k))
                return;
            continue;
        }
        uint8_t *payload = k->in + h.header_len;
        size_t n = (size_t)h.payload_len;

        ws_unmask(payload, n, h.mask, 0);
        if (h.opcode == WS_OP_PING) {
            send_frame(k->fd, WS_OP_PONG, payload, n);
        } else if (h.opcode == WS_OP_CLOSE) {
            s->close_code = n >= 2 ? (uint16_t)(payload[0] << 8 | payload[1])
                                   : WS_CLOSE_NO_STATUS;
            send_frame(k->fd, WS_OP_CLOSE, payload, n);
            return;
        } else if (h.opcode != WS_OP_PONG) {
            if (h.opcode != WS_OP_CONTINUATION) {
                message_op = h.opcode;
                message_len = 0;
            }
            if (message_len + n > sizeof message)
                return;
            memcpy(message + message_len, payload, n);
            message_len += n;
            if (h.fin)
                send_frame(k->fd, message_op, message, message_len);
        }
        memmove(k->in, k->in + h.header_len + n, k->len - h.header_len - n);
        k->len -= h.header_len + n;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
    struct conn *k = calloc(1, sizeof *k);

    if (k && poll(&p, 1, WAIT_MS) == 1 &&
        (k->fd = accept(s->listen_fd, NULL, NULL)) >= 0) {
        if (handshake(s, k)) {
            write_all(k->fd, s->prelude, s->prelude_len);
            echo(s, k);
        }
        close(k->fd);
    }
    free(k);
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->listen_fd, 0);
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->listen_fd, 1), 0);
    cr_assert_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* A server frame into out (unmasked); returns its length. */
static size_t frame(uint8_t *out, uint8_t opcode, bool fin, const char *p)
{
    size_t n = ws_write_header(out, opcode, fin, strlen(p), NULL);

    memcpy(out + n, p, strlen(p));
    return n + strlen(p);
}

static struct ws_client *open_ok(struct server *s, const char *const *extra)
{
    struct ws_client *c = NULL;
    char answer[1024];
    int status = 0;
    int st = ws_client_open("127.0.0.1", s->port, "/mp", extra, WAIT_MS, &c,
                            &status, answer, sizeof answer);

    cr_assert_eq(st, WSC_OK, "%s: %s", ws_client_status_name(st), answer);
    cr_assert_eq(status, 101);
    cr_assert_not_null(c);
    return c;
}

static void expect_message(struct ws_client *c, uint8_t opcode,
                           const void *payload, size_t len)
{
    static uint8_t buf[100000];
    uint8_t op = 0;
    size_t n = 0;
    int st = ws_client_recv(c, WAIT_MS, &op, buf, sizeof buf, &n);

    cr_assert_eq(st, WSC_OK, "%s: %s", ws_client_status_name(st),
                 ws_client_error(c));
    cr_expect_eq(op, opcode);
    cr_assert_eq(n, len);
    if (len > 0)
        cr_expect_arr_eq(buf, payload, len);
}

/* ------------------------------------------------------------------------
 * Tests
 */

Test(ws_client, echoes_every_length_form_then_closes)
{
    static const char *const extra[] = {
        "Sec-WebSocket-Protocol: x, mpbroker.binary", NULL};
    static uint8_t big[70000];
    struct server s = {0};
    struct ws_client *c;
    uint16_t code = 0;
    char reason[64];
    uint8_t close_payload[WS_MAX_CONTROL_PAYLOAD];

    server_start(&s);
    c = open_ok(&s, extra);
    cr_expect_str_eq(ws_client_subprotocol(c), "mpbroker.binary");
    cr_assert_eq(ws_client_send(c, WS_OP_TEXT, "hello", 5), WSC_OK);
    expect_message(c, WS_OP_TEXT, "hello", 5);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    cr_assert_eq(ws_client_send(c, WS_OP_BINARY, big, 300), WSC_OK);
    expect_message(c, WS_OP_BINARY, big, 300);
    cr_assert_eq(ws_client_send(c, WS_OP_BINARY, big, sizeof big), WSC_OK);
    expect_message(c, WS_OP_BINARY, big, sizeof big);
    cr_assert_eq(ws_client_send(c, WS_OP_PING, "p", 1), WSC_OK);
    expect_message(c, WS_OP_PONG, "p", 1);

    size_t n = ws_write_close_payload(close_payload, 1000, "bye");

    cr_assert_eq(ws_client_send(c, WS_OP_CLOSE, close_payload, n), WSC_OK);
    cr_assert_eq(ws_client_wait_close(c, WAIT_MS, &code, reason,
                                      sizeof reason),
                 WSC_OK);
    cr_expect_eq(code, 1000);
    cr_expect_str_eq(reason, "bye");
    cr_expect_eq(ws_client_wait_eof(c, WAIT_MS), WSC_EOF);
    ws_client_close(c);
    server_stop(&s);
    cr_expect_eq(s.close_code, 1000);
}

Test(ws_client, joins_fragments_and_returns_a_ping_between)
{
    static uint8_t prelude[64];
    struct server s = {0};
    struct ws_client *c;
    size_t n = 0;

    n += frame(prelude + n, WS_OP_TEXT, false, "Hel");
    n += frame(prelude + n, WS_OP_PING, true, "x");
    n += frame(prelude + n, WS_OP_CONTINUATION, true, "lo");
    s.prelude = prelude;
    s.prelude_len = n;
    server_start(&s);
    c = open_ok(&s, NULL);
    expect_message(c, WS_OP_PING, "x", 1);
    expect_message(c, WS_OP_TEXT, "Hello", 5);

    /* And fragments the other way. */
    cr_assert_eq(ws_client_send_frame(c, WS_OP_TEXT, false, "ab", 2), WSC_OK);
    cr_assert_eq(ws_client_send_frame(c, WS_OP_CONTINUATION, true, "cd", 2),
                 WSC_OK);
    expect_message(c, WS_OP_TEXT, "abcd", 4);
    ws_client_close(c);
    server_stop(&s);
}

Test(ws_client, message_too_big_for_the_buffer)
{
    static uint8_t prelude[256];
    struct server s = {0};
    struct ws_client *c;
    char hundred[101], small[10];
    uint8_t op;
    size_t len = 0;

    memset(hundred, 'h', 100);
    hundred[100] = '\0';
    s.prelude = prelude;
    s.prelude_len = frame(prelude, WS_OP_BINARY, true, hundred);
    server_start(&s);
    c = open_ok(&s, NULL);
    cr_expect_eq(ws_client_recv(c, WAIT_MS, &op, small, sizeof small, &len),
                 WSC_TOO_BIG);
    cr_expect_eq(len, 100);
    cr_expect_eq(ws_client_recv(c, 50, &op, small, sizeof small, &len),
                 WSC_TIMEOUT);
    ws_client_close(c);
    server_stop(&s);
}

static void expect_refused(const char *path, const char *const *extra,
                           int http_status, const char *in_answer)
{
    struct server s = {0};
    struct ws_client *c = (struct ws_client *)&s;
    char answer[1024];
    int status = 0;

    server_start(&s);
    cr_expect_eq(ws_client_open("127.0.0.1", s.port, path, extra, WAIT_MS, &c,
                                &status, answer, sizeof answer),
                 WSC_REFUSED);
    cr_expect_null(c);
    cr_expect_eq(status, http_status);
    cr_expect_not_null(strstr(answer, in_answer), "%s", answer);
    server_stop(&s);
}

Test(ws_client, refusals_with_their_bodies)
{
    static const char *const version8[] = {"Sec-WebSocket-Version: 8", NULL};
    static const char *const no_upgrade[] = {"Upgrade", NULL};
    static const char *const chat[] = {"Sec-WebSocket-Protocol: chat", NULL};

    expect_refused("/elsewhere", NULL, 404, "\r\n\r\nno WebSocket at this path\n");
    expect_refused("/mp", version8, 426, "\r\nSec-WebSocket-Version: 13\r\n");
    expect_refused("/mp", no_upgrade, 426, "upgrade is required");
    expect_refused("/mp", chat, 400, "no common subprotocol");
}

static void expect_bad_server(const void *prelude, size_t len,
                              const char *raw_answer)
{
    struct server s = {.prelude = prelude, .prelude_len = len,
                       .raw_answer = raw_answer};
    struct ws_client *c = NULL;
    uint8_t buf[64], op;
    size_t n;
    int status;

    server_start(&s);
    if (raw_answer) {
        cr_expect_eq(ws_client_open("127.0.0.1", s.port, "/mp", NULL, WAIT_MS,
                                    &c, &status, NULL, 0),
                     WSC_BAD);
        cr_expect_null(c);
    } else {
        c = open_ok(&s, NULL);
        cr_expect_eq(ws_client_recv(c, WAIT_MS, &op, buf, sizeof buf, &n),
                     WSC_BAD);
        cr_expect_neq(ws_client_error(c)[0], '\0');
        ws_client_close(c);
    }
    server_stop(&s);
}

Test(ws_client, servers_that_break_the_protocol)
{
    static const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1};
    static const uint8_t bad_utf8[] = {0x81, 0x03, 0xed, 0xa0, 0x80};
    static const uint8_t orphan[] = {0x80, 0x01, 'x'};

    expect_bad_server(masked, sizeof masked, NULL);
    expect_bad_server(bad_utf8, sizeof bad_utf8, NULL);
    expect_bad_server(orphan, sizeof orphan, NULL);
    expect_bad_server(NULL, 0,
                      "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                      "\r\n");
    expect_bad_server(NULL, 0, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    expect_bad_server(NULL, 0, "garbage\r\n\r\n");
}
