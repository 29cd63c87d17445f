/*
 * Unit tests: what each built plugin carries (common/local.mk). libtool
 * links a convenience library whole into a plugin, so a plugin that
 * linked libmpcommon held every codec and needed libyajl, whatever
 * it used. Each translator must carry its own codec only, and yajl only
 * for JSON; auth_passwd.so the password-file reader, not its writer.
 *
 * Reads the symbol tables with nm ($(NM), from configure): the codecs'
 * tables are local symbols (a plugin exports only its entry point), so
 * they are in the full table, which a stripped plugin lacks: those
 * checks are skipped then. Undefined references (yajl) are dynamic
 * symbols, which stripping keeps.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#define MAX_SYMBOLS 4096

struct symbols {
    size_t n;
    char *name[MAX_SYMBOLS];
    bool undefined[MAX_SYMBOLS];
};

static void free_symbols(struct symbols *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->name[i]);
    s->n = 0;
}

/* The symbols `nm [flags]` lists for plugin `so`. Lines are "VALUE TYPE
 * NAME", or "TYPE NAME" with blanks in place of the value when the
 * symbol is undefined. */
static void read_symbols(const char *so, const char *flags,
                         struct symbols *s)
{
    const char *dir = getenv("MP_PLUGIN_BUILD_DIR");
    char cmd[2048], line[1024];
    FILE *p;

    cr_assert_not_null(dir, "MP_PLUGIN_BUILD_DIR is not set (run through "
                            "make check)");
    snprintf(cmd, sizeof cmd, "%s %s '%s/%s' 2>/dev/null", MP_NM, flags, dir,
             so);
    p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run: %s", cmd);
    s->n = 0;
    while (fgets(line, sizeof line, p) != NULL && s->n < MAX_SYMBOLS) {
        char a[512], b[512], c[512];
        int k = sscanf(line, "%511s %511s %511s", a, b, c);
        if (k == 3) {
            s->undefined[s->n] = strcmp(b, "U") == 0;
            s->name[s->n++] = strdup(c);
        } else if (k == 2) {
            s->undefined[s->n] = strcmp(a, "U") == 0;
            s->name[s->n++] = strdup(b);
        }
    }
    cr_assert_eq(pclose(p), 0, "%s failed (is %s built?)", cmd, so);
    cr_assert_lt(s->n, MAX_SYMBOLS);
}

/* Does the table hold a symbol starting with `prefix`, defined (false)
 * or undefined (true)? */
static bool has(const struct symbols *s, const char *prefix, bool undefined)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->undefined[i] == undefined &&
            strncmp(s->name[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

struct plugin_case {
    const char *so;
    const char *must[3];     /* defined symbols it must hold */
    const char *must_not[8]; /* defined symbols it must not hold */
    bool yajl;               /* may it refer to yajl? */
};

static const struct plugin_case cases[] = {
    { "translator_json.so", { "mp_codec_json", "json_decode" },
      { "mp_codec_binary", "mp_codec_gob", "binary_", "gob_", "mp_log",
        "hashmap_" },
      true },
    { "translator_binary.so", { "mp_codec_binary", "binary_decode" },
      { "mp_codec_json", "mp_codec_gob", "json_", "gob_", "mp_base64",
        "mp_log", "hashmap_" },
      false },
    { "translator_gob.so", { "mp_codec_gob", "gob_decode" },
      { "mp_codec_json", "mp_codec_binary", "json_", "binary_",
        "mp_base64", "mp_log", "hashmap_" },
      false },
    { "translator_protobuf.so", { "mp_codec_protobuf", "protobuf_decode" },
      { "mp_codec_json", "mp_codec_binary", "mp_codec_gob", "json_",
        "binary_", "gob_", "mp_base64", "mp_log" },
      false },
    { "auth_passwd.so", { "mp_passwd_verify", "mp_passwd_load" },
      { "mp_passwd_update", "mp_passwd_create", "mp_passwd_hash",
        "mp_codec_", "mp_log", "hashmap_" },
      false },
    { "acl.so", { "mp_name_check" },
      { "mp_codec_", "mp_base64", "mp_log", "hashmap_" },
      false },
};

static void check_plugin(const struct plugin_case *pc)
{
    struct symbols *s = calloc(1, sizeof *s);

    cr_assert_not_null(s);
    read_symbols(pc->so, "-D", s);
    cr_assert(has(s, "mp_plugin_entry", false), "%s: no entry point", pc->so);
    if (!pc->yajl)
        cr_expect(!has(s, "yajl_", true), "%s refers to yajl", pc->so);
    free_symbols(s);

    read_symbols(pc->so, "", s);
    if (!has(s, "mp_plugin_entry", false)) {
        free_symbols(s);
        free(s);
        cr_skip_test("%s has no symbol table (stripped)", pc->so);
    }
    for (size_t i = 0; i < 3 && pc->must[i] != NULL; i++)
        cr_expect(has(s, pc->must[i], false), "%s lacks %s", pc->so,
                  pc->must[i]);
    for (size_t i = 0; i < 8 && pc->must_not[i] != NULL; i++)
        cr_expect(!has(s, pc->must_not[i], false), "%s holds %s...",
                  pc->so, pc->must_not[i]);
    free_symbols(s);
    free(s);
}

Test(plugin_deps, translator_json_carries_json_only) { check_plugin(&cases[0]); }
Test(plugin_deps, translator_binary_carries_binary_only) { check_plugin(&cases[1]); }
Test(plugin_deps, translator_gob_carries_gob_only) { check_plugin(&cases[2]); }
Test(plugin_deps, translator_protobuf_carries_protobuf_only) { check_plugin(&cases[3]); }
Test(plugin_deps, auth_passwd_carries_no_writer) { check_plugin(&cases[4]); }
Test(plugin_deps, acl_carries_no_codec) { check_plugin(&cases[5]); }
