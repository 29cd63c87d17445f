/*
 * rawclient.h - raw socket clients for the integration tests.
 *
 * A client is one socket to the broker plus an input buffer. It speaks
 * any of three wire formats with its own encoder and decoder, written from
 * the specification and independent of common/codec_*.c, so that a bug
 * there cannot hide itself:
 *
 *   json    one object per line:
 *           {"Meta":5,"OtherClient":"bob","ConnectionID":"alice:0","Data":"ZWNobw=="}
 *   binary  u32 BE length of the rest; u8 meta; u8 flags (bit0 HAS_DATA,
 *           bit1 HAS_LEVEL); u8 name_len; u8 id_len; [u8 level]; name; id;
 *           data.
 *   protobuf varint length of the rest, then proto/mp.proto's Message:
 *           key 0x08 meta (varint), 0x12 other_client, 0x1a
 *           connection_id, 0x22 data (length-delimited; present even when
 *           empty), 0x28 level (varint). Written in field order, zero and
 *           empty fields left out, as protobuf libraries write it; what the
 *           broker sends must be exactly that (checked by rc_expect).
 *
 * The plain functions return a status and never assert; the rc_expect*
 * and rc_login* helpers assert with criterion and must be called from a
 * test body.
 */
#ifndef MP_TEST_RAWCLIENT_H
#define MP_TEST_RAWCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct harness;

enum rc_format { RC_JSON, RC_BINARY, RC_PROTOBUF };

/* Binary flag bits. */
#define RC_FLAG_HAS_DATA 0x01u
#define RC_FLAG_HAS_LEVEL 0x02u

/* Meta values (the wire numbers; spelled out here on purpose). */
enum {
    RC_DATA = 0, RC_WAT = 1, RC_NO_SUCH_CONN = 2, RC_UNKNOWN_PROTO = 3,
    RC_CLIENT_CLOSED = 4, RC_SYN = 5, RC_ACK = 6, RC_CLOSED = 7,
    RC_AUTH = 8, RC_AUTH_OK = 9, RC_AUTH_FAILURE = 10,
};

/* Data to send or to expect: absent (null) or present, possibly empty. */
struct rc_blob {
    const void *bytes;
    size_t len;
    bool present;
};
#define RC_NULL ((struct rc_blob){ NULL, 0, false })
#define RC_EMPTY ((struct rc_blob){ "", 0, true })
struct rc_blob rc_str(const char *s);
struct rc_blob rc_bytes(const void *bytes, size_t len);

/* Longest string a received message may carry (more is a protocol error). */
#define RC_STR_MAX 1024

/* One received message. */
struct rc_msg {
    int meta;
    char other_client[RC_STR_MAX + 1];
    size_t other_client_len;
    char connection_id[RC_STR_MAX + 1];
    size_t connection_id_len;
    bool has_data;
    unsigned char *data;     /* malloc'd, NUL-terminated for convenience */
    size_t data_len;
    bool has_level;          /* the binary level byte, JSON's "Level",
                                protobuf's level field */
    unsigned level;
    char *raw;               /* the exact bytes received (line incl. '\n',
                                or the whole frame), NUL-terminated */
    size_t raw_len;
};
void rc_msg_free(struct rc_msg *m);

/* Results of rc_recv() and rc_wait_eof(). */
enum rc_status {
    RC_OK = 0,
    RC_TIMEOUT = -1,
    RC_EOF = -2,        /* orderly close or connection reset */
    RC_ERROR = -3,      /* other socket error */
    RC_BAD = -4,        /* bytes that do not decode (see rc_error) */
};
const char *rc_status_name(int status);

struct rc_client;

/* Connect; NULL on failure (errno set). */
struct rc_client *rc_connect_tcp(const char *host, int port,
                                 enum rc_format fmt);
struct rc_client *rc_connect_unix(const char *path, enum rc_format fmt);
/* A client on a socket of the caller's (the fake broker's accepted one);
 * it is closed by rc_close. NULL (fd closed) when out of memory. */
struct rc_client *rc_adopt(int fd, enum rc_format fmt);
/* Connect to the harness's listener i (config order). Asserts. */
struct rc_client *rc_connect(struct harness *h, size_t listener,
                             enum rc_format fmt);
void rc_close(struct rc_client *c);

enum rc_format rc_format(const struct rc_client *c);
int rc_fd(const struct rc_client *c);
/* Why the last call failed (decoder or socket), for messages. */
const char *rc_error(const struct rc_client *c);

/* Sending: false on a socket error (EPIPE, reset, ...) or timeout. */
bool rc_send_raw(struct rc_client *c, const void *bytes, size_t len);
/* Send `line` as is, plus '\n' unless it already ends with one. */
bool rc_send_json(struct rc_client *c, const char *line);
/* Send one binary frame; `level` < 0 means no level byte. */
bool rc_send_binary(struct rc_client *c, unsigned meta, const char *name,
                    const char *id, struct rc_blob data, int level);
/* Send one protobuf message; `level` <= 0 means no level field. */
bool rc_send_protobuf(struct rc_client *c, unsigned meta, const char *name,
                      const char *id, struct rc_blob data, int level);
/* Send a message in the client's own format. */
bool rc_send(struct rc_client *c, unsigned meta, const char *other,
             const char *id, struct rc_blob data);

/* Encoders, malloc'd results; *len gets the size. */
char *rc_json_line(unsigned meta, const char *other, const char *id,
                   struct rc_blob data);
unsigned char *rc_binary_frame(unsigned meta, const char *name,
                               const char *id, struct rc_blob data,
                               int level, size_t *len);
/* A protobuf message with its length prefix, the canonical way (see
 * above); level <= 0: no level field. Names may hold any bytes. */
unsigned char *rc_protobuf_frame(unsigned meta, const char *name,
                                 const char *id, struct rc_blob data,
                                 int level, size_t *len);
/* A varint at p (at most 10 bytes); returns its size. */
size_t rc_varint(unsigned char *p, uint64_t v);

/* Base64 (standard alphabet, padded); malloc'd, NUL-terminated. */
char *rc_base64(const void *bytes, size_t len);

/* Receive the next message; RC_OK fills *m (free with rc_msg_free). */
int rc_recv(struct rc_client *c, struct rc_msg *m, int timeout_ms);
/* RC_EOF if the broker closes the socket with nothing more to read,
 * RC_OK if bytes arrived instead (they are left in the buffer). */
int rc_wait_eof(struct rc_client *c, int timeout_ms);

/* Authenticate in the client's format; the reply goes into *reply. */
int rc_auth(struct rc_client *c, const char *name, const char *secret,
            struct rc_msg *reply);
int auth_json(struct rc_client *c, const char *name, const char *secret,
              struct rc_msg *reply);
int auth_binary(struct rc_client *c, const char *name, const char *secret,
                struct rc_msg *reply);

/* ----------------------------------------------------------------------
 * Assertions (criterion). Time limits are mpt_ms(MPT_MSG_MS).
 */

/* Receive the next message; assert that one arrives. */
void rc_expect_any(struct rc_client *c, struct rc_msg *m);
/* Assert that the next message is exactly this one; for a JSON client
 * whose strings are plain ASCII the raw line must also be byte-identical
 * to the canonical {"Meta":..,"OtherClient":..,"ConnectionID":..,"Data":..}. */
void rc_expect(struct rc_client *c, unsigned meta, const char *other,
               const char *id, struct rc_blob data);
/* Assert the next message's meta; return it in *m. */
void rc_expect_meta(struct rc_client *c, unsigned meta, struct rc_msg *m);
/* Assert that the next JSON line is exactly `line` (without '\n'). */
void rc_expect_line(struct rc_client *c, const char *line);
/* Assert that the broker closes the socket, nothing being sent first. */
void rc_expect_eof(struct rc_client *c);
/* Assert that the broker sends exactly `text` (raw bytes, no message
 * format: the line an auto listener writes for an unknown format) and
 * then closes the socket. */
void rc_expect_text_then_eof(struct rc_client *c, const char *text);
/* Assert that the broker closes the socket, optionally after one message
 * of meta `allowed` (e.g. WAT or AuthFailure with a reason). */
void rc_expect_closed(struct rc_client *c, int allowed);
/* Assert an AuthFailure with a non-empty reason, then EOF; if `reason` is
 * not NULL the reason must contain it. */
void rc_expect_auth_failure(struct rc_client *c, const char *reason);

/* Connect to listener i, authenticate as name/secret, assert AuthOk. */
struct rc_client *rc_login(struct harness *h, size_t listener,
                           enum rc_format fmt, const char *name,
                           const char *secret);
/* rc_login with the auth_allow_all secret. */
struct rc_client *rc_login_any(struct harness *h, size_t listener,
                               enum rc_format fmt, const char *name);

/* Connect to listener i and send an Auth with the auth_allow_all secret
 * announcing protocol `level`; the AuthOk is left for the caller. */
struct rc_client *rc_login_level(struct harness *h, size_t listener,
                                 enum rc_format fmt, const char *name,
                                 unsigned level);

/* The name in the last AuthOk this client received ("" before one). */
const char *rc_name(const struct rc_client *c);

/* Open connection `id` from a to b (both authenticated) for
 * protocol `proto`: Syn, its delivery, Ack, its delivery, all asserted. */
void rc_open_conn(struct rc_client *a, struct rc_client *b, const char *id,
                  const char *proto);

/*
 * Failure messages name the test's line: each helper above is wrapped so
 * that it first records its call site.
 */
void rc_at(const char *file, int line);
#ifndef RC_NO_SITE_MACROS
#define RC_AT_(call) (rc_at(__FILE__, __LINE__), call)
#define rc_connect(...) RC_AT_(rc_connect(__VA_ARGS__))
#define rc_expect_any(...) RC_AT_(rc_expect_any(__VA_ARGS__))
#define rc_expect(...) RC_AT_(rc_expect(__VA_ARGS__))
#define rc_expect_meta(...) RC_AT_(rc_expect_meta(__VA_ARGS__))
#define rc_expect_line(...) RC_AT_(rc_expect_line(__VA_ARGS__))
#define rc_expect_eof(...) RC_AT_(rc_expect_eof(__VA_ARGS__))
#define rc_expect_text_then_eof(...) RC_AT_(rc_expect_text_then_eof(__VA_ARGS__))
#define rc_expect_closed(...) RC_AT_(rc_expect_closed(__VA_ARGS__))
#define rc_expect_auth_failure(...) RC_AT_(rc_expect_auth_failure(__VA_ARGS__))
#define rc_login(...) RC_AT_(rc_login(__VA_ARGS__))
#define rc_login_any(...) RC_AT_(rc_login_any(__VA_ARGS__))
#define rc_login_level(...) RC_AT_(rc_login_level(__VA_ARGS__))
#define rc_open_conn(...) RC_AT_(rc_open_conn(__VA_ARGS__))
#endif

/* ----------------------------------------------------------------------
 * A pump: two logged-in clients with an open connection exchanging
 * numbered Data messages in both directions, from a thread of their own,
 * while a test does something else to the broker. Every message is
 * checked as it arrives (sender, connection id, number), so a message
 * lost, duplicated, reordered or injected is found. Only the pump's
 * thread uses the two clients until rc_pump_finish() returns.
 */
struct rc_pump;

/* Start pumping between a and b on connection `id` (already open): at
 * most one new message per direction every interval_ms, at most 4 in
 * flight each way. Asserts that `warmup` messages get through each way. */
struct rc_pump *rc_pump_start(struct rc_client *a, struct rc_client *b,
                              const char *id, int interval_ms,
                              unsigned warmup);
/* Assert that `count` more messages arrive each way within timeout_ms. */
void rc_pump_progress(struct rc_pump *p, unsigned count, int timeout_ms);
/* Messages delivered so far a -> b and b -> a. */
void rc_pump_counts(struct rc_pump *p, unsigned *a_to_b, unsigned *b_to_a);
/* Stop sending; assert that every message sent arrived (within
 * timeout_ms), in order and once, and that both clients are still
 * connected with nothing else to read. Frees the pump, not the clients. */
void rc_pump_finish(struct rc_pump *p, int timeout_ms);

#ifndef RC_NO_SITE_MACROS
#define rc_pump_start(...) RC_AT_(rc_pump_start(__VA_ARGS__))
#define rc_pump_progress(...) RC_AT_(rc_pump_progress(__VA_ARGS__))
#define rc_pump_finish(...) RC_AT_(rc_pump_finish(__VA_ARGS__))
#endif

#endif
