/* name.c - rules for client names and connection ids (see name.h). */
#include "config.h"

#include <string.h>

#include <mp/protocol.h>

#include "name.h"

/* Length of the UTF-8 sequence starting at s[0..len), or 0 if invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned long cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Reject overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

bool mp_utf8_valid(const unsigned char *bytes, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_sequence_length(bytes + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

const char *mp_name_check(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;

    if (len == 0)
        return "name is empty";
    if (len > MP_NAME_MAX)
        return "name is longer than 255 bytes";
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':')
            return "name contains ':'";
        if (s[i] < 0x20 || s[i] == 0x7f)
            return "name contains a control character";
    }
    if (!mp_utf8_valid(s, len))
        return "name is not valid UTF-8";
    return NULL;
}

bool mp_connection_id_is_from(const char *id, size_t id_len,
                              const char *initiator, size_t initiator_len)
{
    /* "<initiator>:" and at least one byte of suffix. */
    return id_len > initiator_len + 1 && id_len <= MP_NAME_MAX &&
           memcmp(id, initiator, initiator_len) == 0 &&
           id[initiator_len] == ':';
}
