/*
 * message.h - helpers for struct mp_message (mp/protocol.h).
 *
 * Ownership: a message owns its data (malloc'ed); mp_message_clear() frees
 * it and resets the message to all zero.
 */
#ifndef MP_COMMON_MESSAGE_H
#define MP_COMMON_MESSAGE_H

#include <mp/protocol.h>

/*
 * memcpy and memset through the C library, for the hot paths: GCC inlines
 * a memcpy whose length it knows to be at most 255 (a uint8_t name
 * length), and a memset of the 536-byte struct mp_message, as "rep movs"
 * and "rep stos", which take tens of cycles to start. perf put those two
 * instructions at 80 % of binary_encode and a third of process_one at
 * 64 B messages. Out of line, the caller's compiler knows no bound and
 * the library's vector code does the work.
 */
void mp_copy(void *dst, const void *src, size_t n) __attribute__((noinline));
void mp_zero(void *dst, size_t n) __attribute__((noinline));

/* Free the data and zero every field. Safe on a zeroed message. */
void mp_message_clear(struct mp_message *msg);

/* Copy len bytes (len <= MP_NAME_MAX) into other_client / connection_id,
 * NUL-terminating them. Return 0, or -1 if len is too long. */
int mp_message_set_other_client(struct mp_message *msg, const char *s,
                                 size_t len);
int mp_message_set_connection_id(struct mp_message *msg, const char *s,
                                 size_t len);

/* Replace the data with a copy of bytes[0..len), present (has_data true).
 * Return 0, or -1 on allocation failure (message unchanged). */
int mp_message_set_data(struct mp_message *msg, const void *bytes,
                        size_t len);

/* Replace the data with `bytes`, taking ownership of that malloc'ed buffer
 * (NULL with len 0 is empty data). */
void mp_message_take_data(struct mp_message *msg, unsigned char *bytes,
                          size_t len);

/* Make the data absent (the wire's null). */
void mp_message_clear_data(struct mp_message *msg);

/* A short name for a meta value ("Data", "ConnSyn", ...), "unknown" for
 * values this build does not know. Never NULL. */
const char *mp_meta_name(unsigned meta);

#endif
