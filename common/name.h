/*
 * name.h - the rules for client names and connection ids.
 *
 * A client name is 1..MP_NAME_MAX bytes of valid UTF-8 with no ':' (it
 * separates the initiator from the suffix in connection ids) and no control
 * characters (names appear in logs). A connection id opened by client N is
 * "N:" followed by a non-empty suffix, at most MP_NAME_MAX bytes in all.
 */
#ifndef MP_COMMON_NAME_H
#define MP_COMMON_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* NULL if `name` (len bytes, not necessarily NUL-terminated) is a valid
 * client name, else a static string saying why not. */
const char *mp_name_check(const char *name, size_t len);

/* Is `id` a well-formed connection id opened by `initiator`? */
bool mp_connection_id_is_from(const char *id, size_t id_len,
                              const char *initiator, size_t initiator_len);

/* Is bytes[0..len) valid UTF-8 (no overlongs, no surrogates)? */
bool mp_utf8_valid(const unsigned char *bytes, size_t len);

#endif
