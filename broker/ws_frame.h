/*
 * ws_frame.h - RFC 6455 frames, without I/O: a frame header parsed or
 * written, payloads unmasked, the fragmentation rules of one message,
 * UTF-8 validation of text messages and close frames' payloads. The
 * WebSocket session (ws_session.c) does the I/O; the fuzz harness
 * (tests/fuzz/fuzz_ws.c) drives these functions directly.
 *
 * Nothing here allocates. Every error is answered with the close code
 * RFC 6455 section 7.4.1 gives for it, and a short static text (`why`)
 * for the log and the close frame's reason.
 */
#ifndef MP_BROKER_WS_FRAME_H
#define MP_BROKER_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,      /* a close frame without a code: never
                                       sent, only reported */
    WS_CLOSE_INVALID_DATA = 1007,   /* text that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

/* The longest frame header: 2 bytes, 8 of extended length, 4 of mask. */
enum { WS_MAX_HEADER = 14, WS_MAX_CONTROL_PAYLOAD = 125 };

struct ws_frame_header {
    bool fin;
    uint8_t opcode;             /* enum ws_opcode */
    bool masked;
    uint8_t mask[4];            /* when masked */
    uint64_t payload_len;
    size_t header_len;          /* 2 to WS_MAX_HEADER */
};

enum ws_parse_status {
    WS_PARSE_OK,
    WS_PARSE_NEED_MORE,         /* the header is not whole yet */
    WS_PARSE_ERROR,             /* *code and *why say why */
};

/*
 * Parse the frame header at buf[0..len). A frame from a client must be
 * masked (section 5.1); one from a server must not. Errors (1002 unless
 * said): a reserved bit set (no extension is negotiated), an unknown
 * opcode, a wrong masking, a control frame fragmented or over 125 bytes,
 * a 64-bit length with its top bit set or not in its shortest form, and
 * a payload over max_payload (1009).
 */
enum ws_parse_status ws_parse_header(const uint8_t *buf, size_t len,
                                     bool from_client, uint64_t max_payload,
                                     struct ws_frame_header *h,
                                     uint16_t *code, const char **why);

/* XOR buf[0..len) with the mask, in place; `offset` is where buf[0] lies
 * in the frame's payload (a payload unmasked in pieces). */
void ws_unmask(uint8_t *buf, size_t len, const uint8_t mask[4],
               uint64_t offset);

/* Write the header of a frame of `payload_len` bytes into out (room for
 * WS_MAX_HEADER), masked with `mask` unless it is NULL (a server's
 * frames). Returns the header's length. */
size_t ws_write_header(uint8_t *out, uint8_t opcode, bool fin,
                       uint64_t payload_len, const uint8_t *mask);

/* Incremental UTF-8 validation (RFC 3629: no overlong forms, no
 * surrogates, nothing over U+10FFFF), across frames: *state starts at 0
 * and is 0 again exactly when what was fed ends on a whole character.
 * Returns false at the first invalid byte (the state is then unusable). */
bool ws_utf8_feed(uint32_t *state, const uint8_t *buf, size_t len);

/*
 * The message being received on one connection (section 5.4): a data
 * frame starts one unless one is open, a continuation continues one,
 * control frames may come between fragments.
 */
struct ws_message {
    uint8_t opcode;             /* WS_OP_TEXT or WS_OP_BINARY while open,
                                   0 between messages */
    uint64_t length;            /* payload bytes so far */
    uint32_t utf8_state;        /* text: ws_utf8_feed()'s */
};

/* Check a data or continuation frame's header against the message open
 * in m and update m (opened, length grown; closed when h->fin, which the
 * caller sees as m->opcode = 0 after it has taken the payload: call
 * ws_message_end()). Errors: a continuation with no message open, a new
 * message while one is open (1002), the message growing past
 * max_message bytes (1009). */
enum ws_parse_status ws_message_frame(struct ws_message *m,
                                      const struct ws_frame_header *h,
                                      uint64_t max_message, uint16_t *code,
                                      const char **why);

/* Payload bytes of the open message arrived (unmasked): for a text
 * message, validate them. Returns false (1007) on invalid UTF-8. */
bool ws_message_payload(struct ws_message *m, const uint8_t *buf,
                        size_t len, uint16_t *code, const char **why);

/* The frame with FIN ended: returns false (1007) if a text message ends
 * inside a character; m is reset for the next message. */
bool ws_message_end(struct ws_message *m, uint16_t *code, const char **why);

/*
 * A close frame's payload (section 5.5.1): empty (*close_code set to
 * WS_CLOSE_NO_STATUS) or a code and a UTF-8 reason. Returns false, with
 * *code and *why, for a payload of 1 byte, a code no endpoint may send
 * (below 1000, 1004-1006, 1015, 1016-2999 not yet assigned, 5000 and
 * above), or a reason that is not UTF-8. *reason and *reason_len point
 * into payload.
 */
bool ws_parse_close(const uint8_t *payload, size_t len, uint16_t *close_code,
                    const uint8_t **reason, size_t *reason_len,
                    uint16_t *code, const char **why);

/* A close frame's payload: the code (network order) and as much of
 * `reason` (NUL-terminated, may be NULL) as fits in 123 bytes, cut at a
 * character boundary, and before the first byte that is not UTF-8.
 * Returns its length (at most WS_MAX_CONTROL_PAYLOAD). */
size_t ws_write_close_payload(uint8_t *out, uint16_t close_code,
                              const char *reason);

#endif
