/*
 * link_frame.h - the frames brokers of a cluster send each other on their
 * links (doc/cluster.md, "Link frames"). Pure encoding and decoding: no
 * sockets, no state; tests/unit/test_link_frame.c and a fuzz harness
 * drive it.
 *
 * Every frame: a big-endian u32 LENGTH of the rest (as the binary
 * client framing), a u8 TYPE, then the type's fields. Integers are
 * big-endian; strings are a u8 length then their bytes (names and ids
 * at most MP_NAME_MAX, as for clients).
 *
 *   HELLO_CHALLENGE  acceptor -> dialer, first frame on a new link:
 *                    u8 version (1), str acceptor_id, 32 B nonce
 *   HELLO            dialer -> acceptor: str dialer_id, str acceptor_id
 *                    (the id it meant to reach), str host, u16 port
 *                    (where the dialer accepts links), 32 B nonce,
 *                    32 B mac = HMAC-SHA256(secret, "mp-link-hello" ||
 *                    challenge nonce || hello nonce || dialer_id ||
 *                    acceptor_id || host || port), each id and the
 *                    host with its length byte, the port big-endian
 *   HELLO_OK         acceptor -> dialer: 32 B mac = HMAC-SHA256(secret,
 *                    "mp-link-ok" || hello nonce || challenge nonce)
 *   REFUSED          either way, then the socket closes: str reason
 *   FORWARD          a client's message (or the broker's notice about a
 *                    client) for a client on the other broker:
 *                    u8 meta, u8 flags (bit 0 HAS_DATA, bit 1 STALE:
 *                    a Syn refused because `to_session` is no longer
 *                    the target's session - look it up again),
 *                    u64 from_session, u64 to_session (0: any),
 *                    str from, str to, str connection_id, data (the
 *                    rest of the frame, raw bytes)
 *   CREDIT           u32 bytes, str connection_id: the sender of this
 *                    frame may be sent `bytes` more bytes of Data on
 *                    that connection
 *   KICK             u64 session, str name: a newer login elsewhere
 *                    took `name` from the receiver's session `session`
 *   PING             nothing: "still here" (any frame counts)
 *
 * Unknown types are skipped (a newer peer may send more); a frame longer
 * than the decoder's `max` or with fields that do not fit is malformed.
 */
#ifndef MP_BROKER_LINK_FRAME_H
#define MP_BROKER_LINK_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_PROTOCOL_VERSION 1
#define LINK_NONCE_LEN 32
#define LINK_MAC_LEN 32
#define LINK_FRAME_PREFIX 4 /* the LENGTH field */

enum link_frame_type {
    LINK_HELLO_CHALLENGE = 1,
    LINK_HELLO = 2,
    LINK_HELLO_OK = 3,
    LINK_REFUSED = 4,
    LINK_FORWARD = 5,
    LINK_CREDIT = 6,
    LINK_KICK = 7,
    LINK_PING = 8,
};

#define LINK_FORWARD_HAS_DATA 0x01
#define LINK_FORWARD_STALE 0x02

/* A string field: pointer into the frame being decoded (or the caller's
 * bytes when encoding), not NUL-terminated. */
struct link_str {
    const char *ptr;
    size_t len; /* <= MP_NAME_MAX */
};

struct link_frame {
    enum link_frame_type type;
    union {
        struct {
            uint8_t version;
            struct link_str acceptor_id;
            unsigned char nonce[LINK_NONCE_LEN];
        } challenge;
        struct {
            struct link_str dialer_id, acceptor_id, host;
            uint16_t port;
            unsigned char nonce[LINK_NONCE_LEN];
            unsigned char mac[LINK_MAC_LEN];
        } hello;
        struct {
            unsigned char mac[LINK_MAC_LEN];
        } hello_ok;
        struct {
            struct link_str reason;
        } refused;
        struct {
            uint8_t meta;
            uint8_t flags;
            uint64_t from_session, to_session;
            struct link_str from, to, connection_id;
            const unsigned char *data; /* valid when HAS_DATA */
            size_t data_len;
        } forward;
        struct {
            uint32_t bytes;
            struct link_str connection_id;
        } credit;
        struct {
            uint64_t session;
            struct link_str name;
        } kick;
    } u;
};

enum link_decode_result {
    LINK_DECODE_OK,        /* *frame filled, *used bytes consumed */
    LINK_DECODE_MORE,      /* not a whole frame yet */
    LINK_DECODE_SKIP,      /* an unknown type: *used bytes to drop */
    LINK_DECODE_MALFORMED, /* why in err */
};

/*
 * Decode one frame from bytes[0..len). Strings and data in *frame point
 * into `bytes`. A frame whose LENGTH exceeds `max` is malformed as soon
 * as the prefix is in (before it is buffered).
 */
enum link_decode_result link_frame_decode(const unsigned char *bytes,
                                          size_t len, size_t max,
                                          struct link_frame *frame,
                                          size_t *used, char *err,
                                          size_t errlen);

/* The encoded size of `frame` (FORWARD: header and data). */
size_t link_frame_size(const struct link_frame *frame);

/*
 * Encode `frame` into out[0..link_frame_size(frame)) except a FORWARD's
 * data: link_frame_encode_header() writes everything before the data,
 * returning its length, so that a caller can append the data from where
 * it lies (evbuffer_add) without a copy into a staging buffer. Returns
 * the bytes written, or 0 when a field is too long (a string over
 * MP_NAME_MAX).
 */
size_t link_frame_encode_header(const struct link_frame *frame,
                                unsigned char *out, size_t outlen);

/* The largest header link_frame_encode_header() writes. */
#define LINK_FRAME_HEADER_MAX (LINK_FRAME_PREFIX + 1 + 2 + 16 + \
                               3 * (1 + 255) + 2 * LINK_NONCE_LEN + 2)

#endif
