/* Unit tests: the server side of the WebSocket opening handshake
 * (broker/ws_handshake.c): the head's end, the accept key of RFC 6455
 * section 1.3, each refusal, header and token matching, the choice of
 * subprotocol and Origin, and the exact answers. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ws_handshake.h"

/* RFC 6455 section 1.3's example key and its accept value. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const char *const subprotocols[] = {"mpbroker.json",
                                           "mpbroker.binary"};
static const char *const origins[] = {"http://127.0.0.1:8080",
                                      "https://Example.org"};

static const struct ws_policy policy = {
    .path = "/mp",
    .origins = origins,
    .n_origins = 2,
    .subprotocols = subprotocols,
    .n_subprotocols = 2,
};

/* A request for /mp with the usual headers, and `extra` lines (each
 * ending in CRLF) before the blank line. */
static size_t request(char *out, size_t size, const char *line,
                      const char *extra)
{
    int n = snprintf(out, size,
                     "%s\r\n"
                     "Host: 127.0.0.1:7380\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s"
                     "\r\n",
                     line, extra);

    cr_assert(n > 0 && (size_t)n < size);
    return (size_t)n;
}

static struct ws_handshake check_with(const struct ws_policy *p,
                                      const char *head)
{
    struct ws_handshake r;
    size_t len = strlen(head);

    cr_assert_eq(ws_request_head_length(head, len), len, "%s", head);
    ws_handshake_check(head, len, p, &r);
    if (r.status != 101)
        cr_expect_not_null(r.why);
    return r;
}

static struct ws_handshake check(const char *head)
{
    return check_with(&policy, head);
}

static struct ws_handshake check_extra(const char *extra)
{
    char head[2048];

    request(head, sizeof head, "GET /mp HTTP/1.1", extra);
    return check(head);
}

/* ------------------------------------------------------------------------
 * The head's end
 */

Test(ws_head, length_through_the_blank_line)
{
    const char *h = "GET / HTTP/1.1\r\nHost: x\r\n\r\nframes";

    cr_expect_eq(ws_request_head_length(h, strlen(h)),
                 strlen(h) - strlen("frames"));
    for (size_t n = 0; n < strlen(h) - strlen("frames"); n++)
        cr_expect_eq(ws_request_head_length(h, n), 0, "len %zu", n);
}

Test(ws_head, too_large_is_told_by_length)
{
    static char big[WS_MAX_REQUEST_HEAD + 100];

    memset(big, 'a', sizeof big);
    memcpy(big + WS_MAX_REQUEST_HEAD + 10, "\r\n\r\n", 4);
    /* The end lies past the limit: not seen, so the caller, holding
     * WS_MAX_REQUEST_HEAD bytes or more, answers 431. */
    cr_expect_eq(ws_request_head_length(big, sizeof big), 0);
    memcpy(big + WS_MAX_REQUEST_HEAD - 4, "\r\n\r\n", 4);
    cr_expect_eq(ws_request_head_length(big, sizeof big),
                 WS_MAX_REQUEST_HEAD);
}

/* ------------------------------------------------------------------------
 * Accepted requests
 */

Test(ws_handshake, rfc_6455_example_key)
{
    struct ws_handshake r = check_extra("");

    cr_assert_eq(r.status, 101, "%s", r.why);
    cr_expect_str_eq(r.accept, ACCEPT);
    cr_expect_eq(r.subprotocol, -1);
    cr_expect_str_eq(r.origin, "");
}

Test(ws_handshake, case_insensitive_names_and_tokens)
{
    struct ws_handshake r = check(
        "GET /mp HTTP/1.1\r\n"
        "hOST: x\r\n"
        "UPGRADE:WebSocket\r\n"
        "connection: keep-alive, Upgrade\r\n"
        "sec-websocket-key:   " KEY "  \r\n"
        "SEC-WEBSOCKET-VERSION: 13\r\n"
        "\r\n");

    cr_expect_eq(r.status, 101, "%s", r.why);
    cr_expect_str_eq(r.accept, ACCEPT);
}

Test(ws_handshake, repeated_list_headers_are_joined)
{
    struct ws_handshake r = check(
        "GET /mp HTTP/1.1\r\n"
        "Host: x\r\n"
        "Connection: keep-alive\r\n"
        "Upgrade: h2c\r\n"
        "Connection: upgrade\r\n"
        "Upgrade: websocket\r\n"
        "Sec-WebSocket-Key: " KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: chat\r\n"
        "Sec-WebSocket-Protocol: mpbroker.binary, mpbroker.json\r\n"
        "\r\n");

    cr_expect_eq(r.status, 101, "%s", r.why);
    cr_expect_eq(r.subprotocol, 1);
}

Test(ws_handshake, http_versions_later_than_1_1)
{
    char head[1024];

    request(head, sizeof head, "GET /mp HTTP/1.2", "");
    cr_expect_eq(check(head).status, 101);
}

Test(ws_handshake, query_string_ignored)
{
    char head[1024];

    request(head, sizeof head, "GET /mp?token=abc&x=/other HTTP/1.1", "");
    cr_expect_eq(check(head).status, 101);
    request(head, sizeof head, "GET /mp? HTTP/1.1", "");
    cr_expect_eq(check(head).status, 101);
}

Test(ws_handshake, subprotocol_by_the_clients_order)
{
    struct ws_handshake r =
        check_extra("Sec-WebSocket-Protocol: x, mpbroker.binary, "
                    "mpbroker.json\r\n");

    cr_expect_eq(r.status, 101);
    cr_expect_eq(r.subprotocol, 1);
    r = check_extra("Sec-WebSocket-Protocol: mpbroker.json,mpbroker.binary"
                    "\r\n");
    cr_expect_eq(r.subprotocol, 0);
    /* Names are exact. */
    r = check_extra("Sec-WebSocket-Protocol: MPBROKER.JSON\r\n");
    cr_expect_eq(r.status, 400);
    cr_expect_eq(r.subprotocol, -1);
}

Test(ws_handshake, origins)
{
    struct ws_handshake r;

    r = check_extra("Origin: http://127.0.0.1:8080\r\n");
    cr_expect_eq(r.status, 101);
    cr_expect_str_eq(r.origin, "http://127.0.0.1:8080");
    r = check_extra("Origin: HTTPS://example.ORG\r\n");
    cr_expect_eq(r.status, 101, "compared without regard to case");
    r = check_extra("Origin: http://evil.example\r\n");
    cr_expect_eq(r.status, 403);
    cr_expect_str_eq(r.origin, "http://evil.example");
    r = check_extra("Origin: http://127.0.0.1:8080\r\n"
                    "Origin: http://127.0.0.1:8080\r\n");
    cr_expect_eq(r.status, 400, "Origin is one value");

    /* Without an Origin header (not a browser): always allowed. */
    cr_expect_eq(check_extra("").status, 101);
}

Test(ws_handshake, origin_star_and_absent_list)
{
    static const char *const star[] = {"http://a", "*"};
    struct ws_policy any = policy;
    char head[1024];

    request(head, sizeof head, "GET /mp HTTP/1.1",
            "Origin: http://anything\r\n");
    any.origins = star;
    any.n_origins = 2;
    cr_expect_eq(check_with(&any, head).status, 101);
    any.origins = NULL;
    any.n_origins = 0;
    cr_expect_eq(check_with(&any, head).status, 101);
}

Test(ws_handshake, origin_cut_to_fit)
{
    char extra[400] = "Origin: http://";

    memset(extra + strlen(extra), 'o', 300);
    strcpy(extra + strlen(extra), "\r\n");
    struct ws_handshake r = check_extra(extra);

    cr_expect_eq(r.status, 403);
    cr_expect_eq(strlen(r.origin), sizeof r.origin - 1);
}

/* ------------------------------------------------------------------------
 * Refusals
 */

Test(ws_refusal, not_get_is_405)
{
    char head[1024];

    request(head, sizeof head, "POST /mp HTTP/1.1", "");
    cr_expect_eq(check(head).status, 405);
    request(head, sizeof head, "get /mp HTTP/1.1", "");
    cr_expect_eq(check(head).status, 405, "methods are case-sensitive");
}

Test(ws_refusal, malformed_is_400)
{
    static const char *const lines[] = {
        "GET /mp HTTP/1.0",             /* too old */
        "GET /mp HTTP/1",
        "GET /mp http/1.1",
        "GET /mp",
        "GET",
        "",
        "GET  /mp HTTP/1.1",            /* two spaces */
        "GET /mp HTTP/1.1 extra",
        "GET /m\x01p HTTP/1.1",
    };
    char head[1024];

    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        request(head, sizeof head, lines[i], "");
        cr_expect_eq(check(head).status, 400, "%s", lines[i]);
    }
}

Test(ws_refusal, malformed_headers_are_400)
{
    static const char *const extras[] = {
        "No colon here\r\n",
        ": no name\r\n",
        "Bad Name: x\r\n",
        "Name : x\r\n",
        "X-Folded: a\r\n b\r\n",
        "X-Ctl: a\x01" "b\r\n",
        "X-Cr: a\rb\r\n",
        "X-Lf: a\nb\r\n",
        "Host: second\r\n",
    };

    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
        cr_expect_eq(check_extra(extras[i]).status, 400, "%s", extras[i]);
}

Test(ws_refusal, no_host_is_400)
{
    struct ws_handshake r = check(
        "GET /mp HTTP/1.1\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: " KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n");

    cr_expect_eq(r.status, 400);
}

Test(ws_refusal, bad_keys_are_400)
{
    static const char *const keys[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",           /* unpadded */
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25j",             /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ=!",
        "dGhlIHNhbXBsZSBub25jZSE=",         /* 17 bytes */
    };
    char extra[256], head[1024];

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(head, sizeof head,
                 "GET /mp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 keys[i]);
        cr_expect_eq(check(head).status, 400, "key %s", keys[i]);
    }
    snprintf(extra, sizeof extra, "Sec-WebSocket-Key: %s\r\n", KEY);
    cr_expect_eq(check_extra(extra).status, 400, "two keys");
}

Test(ws_refusal, other_path_is_404)
{
    char head[1024];

    request(head, sizeof head, "GET /mq HTTP/1.1", "");
    cr_expect_eq(check(head).status, 404);
    request(head, sizeof head, "GET /mp/ HTTP/1.1", "");
    cr_expect_eq(check(head).status, 404);
    request(head, sizeof head, "GET / HTTP/1.1", "");
    cr_expect_eq(check(head).status, 404);
}

Test(ws_refusal, plain_http_is_426)
{
    cr_expect_eq(check("GET /mp HTTP/1.1\r\nHost: x\r\n\r\n").status, 426);
    cr_expect_eq(check("GET /mp HTTP/1.1\r\nHost: x\r\n"
                       "Upgrade: websocket\r\n\r\n").status,
                 426);
    cr_expect_eq(check("GET /mp HTTP/1.1\r\nHost: x\r\n"
                       "Connection: upgrade\r\nUpgrade: h2c\r\n\r\n")
                     .status,
                 426);
    /* "Upgrade" must be a whole token. */
    cr_expect_eq(check("GET /mp HTTP/1.1\r\nHost: x\r\n"
                       "Upgrade: websocket\r\nConnection: upgraded\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n")
                     .status,
                 426);
}

Test(ws_refusal, other_version_is_426)
{
    static const char *const versions[] = {"8", "12, 13", "", "13a"};
    char head[1024];

    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        snprintf(head, sizeof head,
                 "GET /mp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                 "Sec-WebSocket-Version: %s\r\n\r\n",
                 versions[i]);
        cr_expect_eq(check(head).status, 426, "version '%s'", versions[i]);
    }
    cr_expect_eq(check("GET /mp HTTP/1.1\r\nHost: x\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\n\r\n")
                     .status,
                 426, "no version");
}

Test(ws_refusal, no_common_subprotocol_is_400)
{
    struct ws_handshake r =
        check_extra("Sec-WebSocket-Protocol: chat, superchat\r\n");

    cr_expect_eq(r.status, 400);
    cr_expect_eq(r.subprotocol, -1);
}

Test(ws_refusal, order_of_refusals)
{
    /* A wrong path is told before the missing upgrade. */
    cr_expect_eq(check("GET /x HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
    /* Not GET before anything else about the request. */
    cr_expect_eq(check("PUT /x HTTP/1.0\r\n\r\n").status, 405);
}

/* ------------------------------------------------------------------------
 * Answers
 */

static size_t answer(const struct ws_handshake *r, char *out, size_t size)
{
    size_t n = ws_handshake_answer(r, &policy, out, size);

    cr_assert_gt(n, 0);
    cr_assert_lt(n, size);
    cr_assert_eq(strlen(out), n);
    return n;
}

Test(ws_answer, switching_protocols_exact)
{
    char out[512];
    struct ws_handshake r = check_extra("");

    answer(&r, out, sizeof out);
    cr_expect_str_eq(out, "HTTP/1.1 101 Switching Protocols\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                          "\r\n");

    r = check_extra("Sec-WebSocket-Protocol: mpbroker.json\r\n");
    answer(&r, out, sizeof out);
    cr_expect_str_eq(out, "HTTP/1.1 101 Switching Protocols\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " ACCEPT "\r\n"
                          "Sec-WebSocket-Protocol: mpbroker.json\r\n"
                          "\r\n");
}

Test(ws_answer, refusals)
{
    static const int statuses[] = {400, 403, 404, 405, 426, 431};
    char out[512], line[64], body[64];

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct ws_handshake r = {.status = statuses[i],
                                 .why = "the reason",
                                 .subprotocol = -1};

        answer(&r, out, sizeof out);
        snprintf(line, sizeof line, "HTTP/1.1 %d ", statuses[i]);
        cr_expect_eq(strncmp(out, line, strlen(line)), 0, "%s", out);
        cr_expect_not_null(strstr(out, "\r\nConnection: close\r\n"));
        cr_expect_not_null(strstr(out, "\r\nContent-Length: 11\r\n"));
        snprintf(body, sizeof body, "\r\n\r\nthe reason\n");
        cr_expect_not_null(strstr(out, body), "%s", out);
        cr_expect_eq(strstr(out, "Sec-WebSocket-Version") != NULL,
                     statuses[i] == 426, "%s", out);
    }
}

Test(ws_answer, status_426_names_version_13)
{
    char out[512];
    struct ws_handshake r =
        check("GET /mp HTTP/1.1\r\nHost: x\r\n\r\n");

    answer(&r, out, sizeof out);
    cr_expect_eq(strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31), 0);
    cr_expect_not_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    cr_expect_not_null(strstr(out, "\r\nUpgrade: websocket\r\n"));
}

Test(ws_answer, status_405_names_get)
{
    char out[512];
    struct ws_handshake r = {.status = 405, .why = "x", .subprotocol = -1};

    answer(&r, out, sizeof out);
    cr_expect_not_null(strstr(out, "\r\nAllow: GET\r\n"));
}

Test(ws_answer, does_not_overflow)
{
    static char longname[600];
    const char *const names[] = {longname};
    struct ws_policy p = {.path = "/", .subprotocols = names,
                          .n_subprotocols = 1};
    struct ws_handshake r = {.status = 101, .subprotocol = 0,
                             .accept = ACCEPT};
    char out[512];

    memset(longname, 'n', sizeof longname - 1);
    cr_expect_eq(ws_handshake_answer(&r, &p, out, sizeof out), 0);
}
