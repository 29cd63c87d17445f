/* format.c - the registry of wire formats (see format.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <mp/protocol.h>

#include "format.h"

const struct mp_format mp_formats[MP_FORMAT_COUNT] = {
    [MP_FORMAT_JSON] = {
        .name = "json", .module = "translator_json.so",
        .data_num = 4, .data_den = 3, .names_extra = 12,
    },
    [MP_FORMAT_BINARY] = {
        .name = "binary", .module = "translator_binary.so",
        .data_num = 1, .data_den = 1, .names_extra = 1,
    },
    [MP_FORMAT_GOB] = {
        .name = "gob", .module = "translator_gob.so",
        .data_num = 1, .data_den = 1, .names_extra = 1,
    },
    [MP_FORMAT_PROTOBUF] = {
        .name = "protobuf", .module = "translator_protobuf.so",
        .data_num = 1, .data_den = 1, .names_extra = 1,
    },
};

const struct mp_format *mp_format_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < MP_FORMAT_COUNT; i++)
        if (strcmp(mp_formats[i].name, name) == 0)
            return &mp_formats[i];
    return NULL;
}

char *mp_format_names(char *buf, size_t size, const char *last_sep)
{
    size_t o = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < MP_FORMAT_COUNT && o < size; i++) {
        const char *sep = i == 0                    ? ""
                          : i + 1 == MP_FORMAT_COUNT ? last_sep
                                                     : ", ";
        int n = snprintf(buf + o, size - o, "%s%s", sep, mp_formats[i].name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    return buf;
}

size_t mp_format_wire_max(const struct mp_format *f, size_t raw_max)
{
    /* raw_max / den * (num - den), not raw_max * num / den: no overflow
     * near SIZE_MAX; the rounding lost is within the data_num added. */
    size_t data = raw_max + raw_max / f->data_den * (f->data_num - f->data_den);

    if (f->data_num != f->data_den)
        data += f->data_num;
    return data + (size_t)f->names_extra * MP_NAME_MAX + 1024;
}
