/*
 * fuzz_ws_handshake.c - libFuzzer harness for the server side of the
 * WebSocket opening handshake (broker/ws_handshake.c): the input is what
 * a client sends on a WebSocket listener before the upgrade.
 *
 * The listener's policy is fixed (path /mp, two origins, the two
 * mpbroker subprotocols). The input goes through ws_request_head_length
 * as a reader would use it; a head that is whole is checked, and so is
 * the whole input when no head end is found (the parser must be safe on
 * any bytes, not only on heads the reader would pass it); 431 is
 * answered when the reader would give up. Every call gets an exact-size
 * copy, so a read past `len` is an ASan report. Checks:
 *   - the head's length is that of the first CRLF CRLF within
 *     WS_MAX_REQUEST_HEAD bytes, or 0 when there is none;
 *   - the result is one of the documented statuses, with a why for a
 *     refusal; a 101 has a 28-character accept key, a subprotocol index
 *     within the policy's, and comes only for a GET;
 *   - r->origin is NUL-terminated within its array;
 *   - checking twice gives the same result;
 *   - the answer fits in 512 bytes, is a C string of the length
 *     returned, starts with "HTTP/1.1 <status> ", and its head ends with
 *     a blank line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const origins[] = {"http://127.0.0.1:8080",
                                      "https://example.org"};
static const char *const subprotocols[] = {"mpbroker.json",
                                           "mpbroker.binary"};
static const struct ws_policy policy = {
    .path = "/mp",
    .origins = origins,
    .n_origins = 2,
    .subprotocols = subprotocols,
    .n_subprotocols = 2,
};

enum { ANSWER_SIZE = 512 };

static char *copy_of(const uint8_t *data, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);

    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, data, len);
    return copy;
}

/* The reference: where the first CRLF CRLF ends, looking no further
 * than the limit. */
static size_t head_end_reference(const uint8_t *data, size_t size)
{
    size_t n = size < WS_MAX_REQUEST_HEAD ? size : WS_MAX_REQUEST_HEAD;

    for (size_t i = 3; i < n; i++)
        if (data[i - 3] == '\r' && data[i - 2] == '\n' &&
            data[i - 1] == '\r' && data[i] == '\n')
            return i + 1;
    return 0;
}

static bool known_status(int s)
{
    static const int statuses[] = {101, 400, 403, 404, 405, 426, 431, 500};

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i] == s)
            return true;
    return false;
}

static void check_result(const struct ws_handshake *r, const uint8_t *head,
                         size_t len)
{
    FUZZ_CHECK(known_status(r->status), "status %d", r->status);
    FUZZ_CHECK(memchr(r->origin, '\0', sizeof r->origin) != NULL,
               "origin not terminated");
    if (r->status != 101) {
        FUZZ_CHECK(r->why != NULL && r->why[0] != '\0', "refusal %d: no why",
                   r->status);
        return;
    }
    FUZZ_CHECK(len >= 4 && memcmp(head, "GET ", 4) == 0, "101 for not GET");
    FUZZ_CHECK(strlen(r->accept) == 28 && r->accept[27] == '=',
               "accept '%s'", r->accept);
    FUZZ_CHECK(r->subprotocol >= -1 &&
                   r->subprotocol < (int)policy.n_subprotocols,
               "subprotocol %d", r->subprotocol);
}

static void check_answer(const struct ws_handshake *r)
{
    char *out = malloc(ANSWER_SIZE);
    char status[32];
    size_t n;

    FUZZ_CHECK(out != NULL, "out of memory");
    n = ws_handshake_answer(r, &policy, out, ANSWER_SIZE);
    FUZZ_CHECK(n > 0 && n < ANSWER_SIZE, "answer of %zu bytes", n);
    FUZZ_CHECK(strlen(out) == n, "answer length %zu, returned %zu",
               strlen(out), n);
    snprintf(status, sizeof status, "HTTP/1.1 %d ", r->status);
    FUZZ_CHECK(strncmp(out, status, strlen(status)) == 0, "answer '%s'", out);
    FUZZ_CHECK(strstr(out, "\r\n\r\n") != NULL, "no blank line: '%s'", out);
    if (r->status == 101)
        FUZZ_CHECK(strcmp(out + n - 4, "\r\n\r\n") == 0,
                   "a 101 with a body");
    free(out);
}

static void check_head(const uint8_t *head, size_t len)
{
    char *copy = copy_of(head, len);
    struct ws_handshake r, again;

    ws_handshake_check(copy, len, &policy, &r);
    ws_handshake_check(copy, len, &policy, &again);
    free(copy);
    check_result(&r, head, len);
    FUZZ_CHECK(r.status == again.status &&
                   r.subprotocol == again.subprotocol &&
                   strcmp(r.accept, again.accept) == 0 &&
                   strcmp(r.origin, again.origin) == 0,
               "two checks differ");
    check_answer(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = copy_of(data, size);
    size_t n = ws_request_head_length(copy, size);

    free(copy);
    FUZZ_CHECK(n == head_end_reference(data, size), "head length %zu, not %zu",
               n, head_end_reference(data, size));
    if (n > 0) {
        check_head(data, n);
    } else {
        check_head(data, size);
        if (size >= WS_MAX_REQUEST_HEAD) {
            struct ws_handshake r = {.status = 431,
                                     .why = "request head too large",
                                     .subprotocol = -1};

            check_answer(&r);
        }
    }
    return 0;
}
