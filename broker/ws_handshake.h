/*
 * ws_handshake.h - the server side of the WebSocket opening handshake
 * (RFC 6455 section 4.2), without I/O: finding the end of the request's
 * head, checking it against a listener's policy, and writing the answer
 * (101 Switching Protocols, or a refusal with a one-line text body).
 *
 * Nothing here allocates; the fuzz harness drives it directly.
 */
#ifndef MP_BROKER_WS_HANDSHAKE_H
#define MP_BROKER_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

/* The largest request head accepted (request line and headers): larger
 * is refused with 431 before it is all read. */
enum { WS_MAX_REQUEST_HEAD = 8192 };

struct ws_policy {
    const char *path;                   /* the request's path must be this
                                           (a query string is ignored) */
    const char *const *origins;         /* allowed Origin values, compared
                                           without regard to case; "*"
                                           allows any. A request without
                                           an Origin header (not a
                                           browser) is always allowed */
    size_t n_origins;                   /* 0: any origin */
    const char *const *subprotocols;    /* the listener speaks these, in
                                           its order of preference */
    size_t n_subprotocols;
};

struct ws_handshake {
    int status;                 /* 101, or the refusal: 400, 403, 404,
                                   405, 426 or 431 (500 if SHA-1 is
                                   unavailable) */
    const char *why;            /* a refusal's reason (static text) */
    char accept[29];            /* Sec-WebSocket-Accept, NUL-terminated */
    int subprotocol;            /* index in policy->subprotocols of the one
                                   chosen, -1 if the client offered none */
    char origin[128];           /* the Origin header, cut; "" if none */
};

/* The length of the request head in buf[0..len), through the blank line
 * (CRLF CRLF) that ends it; 0 while it is not whole. Only the first
 * WS_MAX_REQUEST_HEAD bytes are looked at, so the caller refuses with
 * 431 when this returns 0 although len >= WS_MAX_REQUEST_HEAD (it fills
 * a struct ws_handshake with status 431, a why and subprotocol -1 itself
 * and passes it to ws_handshake_answer()). Bytes after the head (a
 * client's first frames) are the caller's to keep. */
size_t ws_request_head_length(const char *buf, size_t len);

/*
 * Check a whole request head against the policy. The answer, in r:
 *  - 405: not GET;  400: not HTTP/1.1 or later, a malformed line, no
 *    Host, no Sec-WebSocket-Key or one that is not 16 bytes in base64,
 *    or subprotocols offered and none of the policy's among them;
 *  - 404: another path;  403: an Origin not allowed;
 *  - 426: no "Upgrade: websocket" and "Connection: upgrade" (a plain HTTP
 *    request), or a Sec-WebSocket-Version other than 13;
 *  - 101: otherwise, with the accept key and the first of the client's
 *    subprotocols that the policy lists (RFC 6455 leaves the choice to
 *    the server; the client's order is its preference).
 * Header names and the tokens of Upgrade and Connection are compared
 * without regard to case; a header may repeat (lists are joined).
 */
void ws_handshake_check(const char *head, size_t len,
                        const struct ws_policy *policy,
                        struct ws_handshake *r);

/* Write the answer to r into out[0..size): for 101 the Upgrade,
 * Connection, Sec-WebSocket-Accept and (if chosen) Sec-WebSocket-Protocol
 * headers; for a refusal "Connection: close", a text/plain body with
 * r->why, and for 426 "Sec-WebSocket-Version: 13". Returns its length
 * (size must be at least 512), or 0 if it does not fit in size (a
 * subprotocol name of hundreds of bytes). */
size_t ws_handshake_answer(const struct ws_handshake *r,
                           const struct ws_policy *policy, char *out,
                           size_t size);

#endif
