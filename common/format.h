/*
 * format.h - the registry of wire formats: each format's name (mpcat -f,
 * libmpclient's `format` option, the translator names of the shipped
 * configuration), the translator plugin that serves it, and how much it
 * grows a message on the wire. Adding a format is a row here (format.c)
 * and one in mp_codec_find() (codec_find.c).
 *
 * The table holds no pointer to a codec, so that a program that only
 * checks or lists names (mpcat, the broker's config) does not link the
 * codecs, nor yajl: codec.h's mp_codec_find() maps a name to its codec.
 */
#ifndef MP_COMMON_FORMAT_H
#define MP_COMMON_FORMAT_H

#include <stddef.h>

/* Indexes of mp_formats[], in the order names are listed to users. */
enum mp_format_id {
    MP_FORMAT_JSON,
    MP_FORMAT_BINARY,
    MP_FORMAT_GOB,
    MP_FORMAT_PROTOBUF,
    MP_FORMAT_COUNT
};

struct mp_format {
    const char *name;   /* "json" */
    const char *module; /* its translator, "translator_json.so" */
    /*
     * Growth, for sizing what a reader must accept in this format: each
     * byte of data takes at most data_num / data_den bytes on the wire,
     * plus data_num bytes of rounding (base64: 4/3, and 4 for its last
     * group); the names (other_client, connection_id) take at most
     * names_extra * MP_NAME_MAX bytes beyond their own length. That is 1
     * where they are written raw, for the broker writes the sender's
     * name, up to MP_NAME_MAX bytes, where the target's was; and 12 for
     * JSON, whose escapes write one byte of either name as up to six
     * ("<" as \u003c, a stray byte as \ufffd).
     */
    unsigned data_num, data_den;
    unsigned names_extra;
};

/* The known formats, indexed by enum mp_format_id. Static, read-only. */
extern const struct mp_format mp_formats[MP_FORMAT_COUNT];

/* The format called `name`, or NULL if there is none (or name is NULL). */
const struct mp_format *mp_format_find(const char *name);

/*
 * The names, in table order, for a message: "json, binary" and then
 * `last_sep` (" or ") before the last one. Written into buf[0..size),
 * NUL-terminated and cut to fit; returns buf.
 */
char *mp_format_names(char *buf, size_t size, const char *last_sep);

/*
 * The longest encoding in format f of a message whose raw bytes (data and
 * names) were at most raw_max in its sender's format, once the broker has
 * put the sender's name in other_client: what a reader of f must accept.
 * 1 KiB more covers the fixed part (frame headers, JSON's keys).
 */
size_t mp_format_wire_max(const struct mp_format *f, size_t raw_max);

#endif
