/* Unit tests: the registry of wire formats (common/format.c,
 * common/codec_find.c). */
#include "config.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mp/plugin.h>

#include "codec.h"
#include "format.h"

Test(format, finds_each_format_and_its_codec)
{
    static const struct {
        const char *name;
        const struct mp_codec_ops *codec;
    } want[] = {
        { "json", &mp_codec_json },
        { "binary", &mp_codec_binary },
        { "gob", &mp_codec_gob },
        { "protobuf", &mp_codec_protobuf },
    };

    cr_assert_eq(MP_FORMAT_COUNT, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < MP_FORMAT_COUNT; i++) {
        const struct mp_format *f = mp_format_find(want[i].name);
        cr_assert_not_null(f, "%s", want[i].name);
        cr_assert_eq(f, &mp_formats[i], "%s: listed in table order",
                     want[i].name);
        cr_assert_eq(mp_codec_find(want[i].name), want[i].codec, "%s",
                     want[i].name);
    }
}

Test(format, unknown_names_find_nothing)
{
    static const char *const bad[] = { "auto", "JSON", "", "jso", "json ",
                                       "binaryx", "translator_json.so" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(mp_format_find(bad[i]), "'%s'", bad[i]);
        cr_assert_null(mp_codec_find(bad[i]), "'%s'", bad[i]);
    }
    cr_assert_null(mp_format_find(NULL));
    cr_assert_null(mp_codec_find(NULL));
}

Test(format, lists_the_names_for_users)
{
    char buf[64];

    cr_assert_str_eq(mp_format_names(buf, sizeof buf, " or "),
                     "json, binary, gob or protobuf");
    cr_assert_str_eq(mp_format_names(buf, sizeof buf, ", "),
                     "json, binary, gob, protobuf");
    cr_assert_str_eq(mp_format_names(buf, 8, " or "), "json, b", "cut");
    cr_assert_str_eq(mp_format_names(buf, 1, " or "), "");
}

/* What libmpclient accepted before the registry, for a max_message_size
 * of `max`: the limits must not move. */
Test(format, wire_max_is_the_receive_limit_of_each_format)
{
    static const size_t sizes[] = { 0, 1, 2, 3, 1000, 65536, 1u << 20,
                                    (1u << 20) + 2, (size_t)1 << 40 };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t max = sizes[i];
        cr_assert_eq(mp_format_wire_max(mp_format_find("json"), max),
                     max + max / 3 + 4 + 2 * 6 * MP_NAME_MAX + 1024,
                     "json, %zu", max);
        cr_assert_eq(mp_format_wire_max(mp_format_find("binary"), max),
                     max + MP_NAME_MAX + 1024, "binary, %zu", max);
        cr_assert_eq(mp_format_wire_max(mp_format_find("gob"), max),
                     max + MP_NAME_MAX + 1024, "gob, %zu", max);
    }
}

/* Base64 of n bytes is 4 * ceil(n / 3) bytes: the JSON growth covers it
 * for every length, including the ones the integer division rounds. */
Test(format, json_growth_covers_base64)
{
    const struct mp_format *f = mp_format_find("json");

    for (size_t n = 0; n < 5000; n++) {
        size_t grown = n + n / f->data_den * (f->data_num - f->data_den) +
                       f->data_num;
        cr_assert_geq(grown, 4 * ((n + 2) / 3), "%zu", n);
    }
}

/* Each row names a translator that is built, and serves that format. */
Test(format, each_module_is_the_translator_of_its_format)
{
    const char *dir = getenv("MP_PLUGIN_BUILD_DIR");

    cr_assert_not_null(dir, "MP_PLUGIN_BUILD_DIR is not set (run through "
                            "make check)");
    for (size_t i = 0; i < MP_FORMAT_COUNT; i++) {
        const struct mp_format *f = &mp_formats[i];
        char path[1024], want[64];
        void *h;
        mp_plugin_entry_fn entry;
        const struct mp_plugin *p;

        snprintf(path, sizeof path, "%s/%s", dir, f->module);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        cr_assert_not_null(h, "%s: %s", path, dlerror());
        *(void **)&entry = dlsym(h, MP_PLUGIN_ENTRY_SYMBOL);
        cr_assert_not_null(entry, "%s", path);
        p = entry();
        snprintf(want, sizeof want, "translator_%s", f->name);
        cr_assert_eq(p->kind, MP_PLUGIN_TRANSLATOR, "%s", f->module);
        cr_assert_str_eq(p->name, want);
        cr_assert_not_null(p->codec);
        dlclose(h);
    }
}
