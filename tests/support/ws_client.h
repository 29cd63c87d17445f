/*
 * ws_client.h - a small blocking WebSocket client (RFC 6455) for the
 * tests of the broker's WebSocket listeners.
 *
 * It frames with broker/ws_frame.c and checks what the server sends as
 * strictly as the broker checks clients (unmasked frames, the
 * fragmentation rules, UTF-8 text), but its opening handshake is its own
 * (the request written and the Sec-WebSocket-Accept verified here, with
 * OpenSSL's SHA-1), so that a bug in broker/ws_handshake.c cannot hide.
 * It answers nothing by itself: a Ping, a Pong or a Close is returned to
 * the caller like a data message, and the caller sends what it wants.
 *
 * Every wait is a poll() with the caller's timeout; nothing sleeps, and
 * nothing here asserts, so it can run outside a test body (a thread).
 * Ownership: ws_client_open() gives the caller a client, freed (and its
 * socket closed) by ws_client_close(); every buffer passed in stays the
 * caller's.
 */
#ifndef MP_TEST_WS_CLIENT_H
#define MP_TEST_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_client;

enum ws_client_status {
    WSC_OK = 0,
    WSC_TIMEOUT = -1,
    WSC_EOF = -2,       /* the server closed (or reset) the TCP
                           connection */
    WSC_ERROR = -3,     /* a socket error, or no memory */
    WSC_BAD = -4,       /* the server broke the protocol (see
                           ws_client_error) */
    WSC_REFUSED = -5,   /* ws_client_open: an answer other than 101 */
    WSC_TOO_BIG = -6,   /* ws_client_recv: the message did not fit in
                           the caller's buffer (*len says its size; it is
                           dropped) */
};

const char *ws_client_status_name(int status);

/*
 * Connect to host:port (a numeric IPv4 or IPv6 address), send the
 * opening request for `path` and read the answer, all within timeout_ms.
 * The request has Host, Upgrade: websocket, Connection: Upgrade, a fresh
 * Sec-WebSocket-Key and Sec-WebSocket-Version: 13, then each of
 * `extra_headers` (a NULL-terminated array of "Name: value" lines
 * without CRLF, or NULL): one whose name is a default header's replaces
 * it, and a bare "Name" without a colon removes it (a test of refusals
 * can send a wrong version, no key, ...).
 *
 * Returns WSC_OK for a 101 whose Upgrade, Connection and
 * Sec-WebSocket-Accept are right, with *out set; otherwise a status and
 * *out NULL (WSC_REFUSED for another status, WSC_BAD for a 101 with a
 * wrong header or a malformed answer, WSC_EOF when the server closed
 * first). *http_status (may be NULL) gets the answer's status, 0 if none
 * came. `answer` (may be NULL) gets the answer's head, NUL-terminated and
 * cut to answer_size; for a refusal its body too, as much as came before
 * the server closed the connection (or the time ran out).
 */
int ws_client_open(const char *host, int port, const char *path,
                   const char *const *extra_headers, int timeout_ms,
                   struct ws_client **out, int *http_status, char *answer,
                   size_t answer_size);

/* The subprotocol the server chose (its Sec-WebSocket-Protocol), "" if
 * none. Owned by the client. */
const char *ws_client_subprotocol(const struct ws_client *c);

/* Send one frame, masked: FIN set, or not (a fragment; continue with
 * WS_OP_CONTINUATION). WSC_OK, WSC_TIMEOUT (10 s without progress) or
 * WSC_ERROR (the server closed, a reset). */
int ws_client_send(struct ws_client *c, uint8_t opcode, const void *payload,
                   size_t len);
int ws_client_send_frame(struct ws_client *c, uint8_t opcode, bool fin,
                         const void *payload, size_t len);

/* Send bytes as they are (malformed frames on purpose). */
int ws_client_send_raw(struct ws_client *c, const void *bytes, size_t len);

/*
 * Receive the next message within timeout_ms: a data message whole (its
 * fragments joined), or a control frame (which may come between the
 * fragments of a data message: the message goes on at the next call).
 * *opcode is WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING, WS_OP_PONG or
 * WS_OP_CLOSE; the payload goes to buf[0..size) and its length to *len;
 * a text message is also NUL-terminated when there is room.
 */
int ws_client_recv(struct ws_client *c, int timeout_ms, uint8_t *opcode,
                   void *buf, size_t size, size_t *len);

/*
 * Receive until a Close frame comes (within timeout_ms in all), dropping
 * anything before it; *close_code gets its code (1005 for an empty
 * payload) and `reason` (may be NULL) its reason, NUL-terminated and cut
 * to reason_size. WSC_BAD if the payload is not a valid one.
 */
int ws_client_wait_close(struct ws_client *c, int timeout_ms,
                         uint16_t *close_code, char *reason,
                         size_t reason_size);

/* WSC_EOF once the server closes the TCP connection with nothing more
 * to read, WSC_OK if bytes came instead (kept for ws_client_recv), or
 * WSC_TIMEOUT. */
int ws_client_wait_eof(struct ws_client *c, int timeout_ms);

/* Why the last call failed, for messages ("" if it did not). */
const char *ws_client_error(const struct ws_client *c);

/* The socket (to shut it down half, say); still the client's. */
int ws_client_fd(const struct ws_client *c);

/* Close the socket without a Close frame (send one first for a clean
 * close) and free the client. NULL is fine. */
void ws_client_close(struct ws_client *c);

#endif
