/*
 * gobclient.h - a gob client on a raw socket, for the integration tests:
 * its own writer and reader, written from the gob specification, so that
 * a bug in common/codec_gob.c cannot hide itself. It rides on an
 * rc_client for the socket (connect, rc_send_raw) but reads the socket
 * itself: rc_recv() is never called on it.
 *
 * Like rawclient.h's rc_expect*, the gc_* functions and gob_parse_value
 * assert with criterion: call them from a test body.
 */
#ifndef MP_TEST_GOBCLIENT_H
#define MP_TEST_GOBCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "rawclient.h"

/* The original's definition of Message, type 65, in hex: what every gob
 * stream of tests/gob_transcript.h starts with, and what the broker must
 * send first (the first 73 bytes of its chunk 1). */
#define GOB_MESSAGE_DEFINITION_HEX                                          \
    "48ff81030101074d65737361676501ff8200010401044d657461010600010b4f"    \
    "74686572436c69656e74010c00010c436f6e6e656374696f6e4944010c000104"    \
    "44617461010a000000"

/* A growing byte buffer (p is malloc'd). */
struct gob_bytes {
    unsigned char *p;
    size_t len, cap;
};

void gob_put(struct gob_bytes *b, const void *p, size_t n);
void gob_put_byte(struct gob_bytes *b, unsigned char c);
/* Lower-case hex to bytes, and back (malloc'd, NUL-terminated). */
struct gob_bytes gob_unhex(const char *hex);
char *gob_hex(const unsigned char *p, size_t n);

/* Gob's unsigned integers: append one; read one at p[*off..len), false
 * if it is not all there. */
void gob_uint(struct gob_bytes *b, uint64_t v);
bool gob_read_uint(const unsigned char *p, size_t len, size_t *off,
                   uint64_t *v);

struct gob_bytes gob_message_definition(void);
/* One Message value (type 65), Go's way, byte count first. */
struct gob_bytes gob_value(unsigned meta, const char *other, const char *id,
                           const void *data, size_t data_len);
/* A value as received, in the broker's numbering. */
struct gob_msg {
    unsigned meta;
    char other[256], id[256];
    unsigned char *data; /* NULL: no Data field */
    size_t data_len;
};
void gob_parse_value(const unsigned char *p, size_t len, struct gob_msg *m);

struct gob_client {
    struct rc_client *rc; /* the socket */
    struct gob_bytes in;  /* received, not yet taken */
    bool defined;         /* the broker's definition has been checked */
};

/* Connect to the harness's listener (its socket only; no login). */
struct gob_client *gc_connect(struct harness *h, size_t listener);
void gc_close(struct gob_client *c);
void gc_send(struct gob_client *c, const void *p, size_t n);
void gc_send_value(struct gob_client *c, unsigned meta, const char *other,
                   const char *id, const void *data, size_t data_len);
/* Read more bytes; false on EOF. Fails the test on a timeout. */
bool gc_fill(struct gob_client *c);
/* The next whole gob message, byte count included (malloc'd into *m). */
void gc_recv_raw(struct gob_client *c, struct gob_bytes *m);
void gc_expect_raw(struct gob_client *c, const unsigned char *want,
                   size_t len, const char *what);
/* The next value, after the broker's definition on the first call. */
void gc_recv(struct gob_client *c, struct gob_msg *m);
/* data NULL: no Data field (absent and empty are the same in gob). */
void gc_expect(struct gob_client *c, unsigned meta, const char *other,
               const char *id, const void *data, size_t data_len);
void gc_expect_eof(struct gob_client *c);
/* Log in with the auth_allow_all secret: the definition with the Auth,
 * as the Go client does; asserts AuthOk. */
struct gob_client *gc_login(struct harness *h, size_t listener,
                            const char *name);

/*
 * Replay the original's gob capture (tests/gob_transcript.h) with c[0] as
 * its client 1 and c[1] as client 2, every byte the broker sends compared
 * with the capture's. The capture's cross-client order is only
 * approximately causal (a delivery sometimes shows before the send that
 * caused it), so what each client is to receive is checked before that
 * client sends anything next and at the end; and a client's first send
 * (its Auth) waits for its answer, which on a cluster keeps the other
 * client's Syn from looking the name up before it is registered.
 */
void gc_replay_transcript(struct gob_client *c[2]);

#endif
