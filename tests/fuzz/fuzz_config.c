/*
 * fuzz_config.c - libFuzzer harness for the config loader (broker/conf.c
 * on libconfig): the input is a config file.
 *
 * conf_load() reads a file, so each input is written to a private
 * directory made at start-up and read from there. A config that loads
 * without errors must be internally consistent (checked below); one that
 * does not must say why, each error with the file it is in.
 *
 * Safety: what a config names must never make this process run or read
 * arbitrary things.
 *  - conf_load() itself opens no plugin: it only records module names.
 *    When a config loads cleanly the harness also runs plugins_load(),
 *    so that the plugins' option handling is fuzzed, but only when every
 *    module is one of the shipped ones below, given by bare file name:
 *    the harness then points plugin_dir at the build's plugins/.libs,
 *    whatever plugin_dir the input set. Any other module (an absolute
 *    path, "../x.so", a name not in the list) and plugins_load() is
 *    skipped: a dlopen runs the module's constructors.
 *  - auth_passwd and acl read the file their options name; they are
 *    loaded only when that file is /dev/null (or absent: they then fail
 *    before opening anything).
 *  - libconfig follows `@include "path"` relative to the config's
 *    directory, and "../../dev/zero" or a FIFO would read forever. An
 *    input is run only if each of its @include names one of the files
 *    this harness wrote beside it; other inputs are skipped whole.
 *  - listeners are only checked, never opened (conf_load does not bind).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "errors.h"
#include "fuzz_plugins.h"
#include "fuzz_util.h"
#include "log.h"
#include "plugin_loader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/*
 * libconfig 1.5 (Debian 12) leaks the text of a string token that the
 * grammar rejects ('"abc"' where a setting name belongs): bison discards
 * the token without freeing it. conf.c cannot reach that memory; the
 * leak is libconfig's, and only on a config that fails to load (once per
 * `mpbroker -t`). Only token text is exempt: the settings libconfig
 * allocates are still checked, so a missing config_destroy() is still
 * caught.
 */
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\n"  /* a string's text */
           "leak:libconfig_yylex\n"; /* an empty string's text */
}

/* ... and without a table of them after every input that hit one. */
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* Files the inputs may @include (in the corpus and the dictionary). */
static const struct {
    const char *name, *text;
} include_files[] = {
    { "limits.inc", "limits = { max_message_size = 4096; "
                    "auth_timeout_ms = 500; };\n" },
    { "listeners.inc", "listeners = ( { address = \"127.0.0.1\"; "
                       "port = 0; translator = \"json\"; } );\n" },
    { "loop.inc", "@include \"loop.inc\"\n" },
    { "broken.inc", "limits = { max_clients = ; };\n" },
};
#define N_INCLUDES (sizeof include_files / sizeof include_files[0])

/* The modules plugins_load() may open (see the header comment). */
static const char *const safe_modules[] = {
    "translator_json.so", "translator_binary.so", "auth_allow_all.so",
    "auth_passwd.so", "acl.so",
};
#define N_SAFE_MODULES (sizeof safe_modules / sizeof safe_modules[0])

static char dir[256];       /* the private directory */
static char conf_path[300]; /* dir/fuzz.conf, rewritten for each input */
static struct event_base *base;
static bool plugins_available;

static void remove_files(void)
{
    char path[sizeof dir + 64];

    unlink(conf_path);
    for (size_t i = 0; i < N_INCLUDES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, include_files[i].name);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char path[sizeof dir + 64];

    (void)argc;
    (void)argv;
    /* Plugins warn at init (auth_allow_all, a world-readable file):
     * thousands of times a second is noise. */
    mp_log_set_level(MP_LOG_ERROR);
    snprintf(dir, sizeof dir, "%s/mpbroker-fuzz-config-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
    snprintf(conf_path, sizeof conf_path, "%s/fuzz.conf", dir);
    for (size_t i = 0; i < N_INCLUDES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, include_files[i].name);
        fuzz_write_file(path, include_files[i].text,
                        strlen(include_files[i].text));
    }
    atexit(remove_files);
    base = event_base_new();
    FUZZ_CHECK(base != NULL, "event_base_new failed");
    plugins_available = true;
    for (size_t i = 0; i < N_SAFE_MODULES; i++) {
        if (fuzz_pin_plugin(safe_modules[i]) != 0)
            plugins_available = false;
    }
    if (!plugins_available)
        fprintf(stderr, "fuzz_config: plugins_load() will not be fuzzed\n");
    return 0;
}

/* ------------------------------------------------------------------------
 * What may run
 */

static bool is_include_file(const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < N_INCLUDES; i++) {
        if (strlen(include_files[i].name) == len &&
            memcmp(include_files[i].name, name, len) == 0)
            return true;
    }
    return false;
}

/* Does every "@include" (in any case, anywhere: stricter than libconfig)
 * name one of include_files, quoted and plain? */
static bool includes_safe(const uint8_t *data, size_t size)
{
    static const char directive[] = "@include";
    const size_t dlen = sizeof directive - 1;

    for (size_t i = 0; i + dlen <= size; i++) {
        if (strncasecmp((const char *)data + i, directive, dlen) != 0)
            continue;
        size_t j = i + dlen;
        while (j < size && (data[j] == ' ' || data[j] == '\t'))
            j++;
        if (j == size || data[j] != '"')
            return false;
        size_t start = ++j;
        while (j < size && data[j] != '"')
            j++;
        if (j == size || !is_include_file(data + start, j - start))
            return false;
        i = j;
    }
    return true;
}

/* The string member `key` of an options group, NULL if absent or not a
 * string. */
static const char *option_string(const config_setting_t *options,
                                 const char *key)
{
    const config_setting_t *s =
        options ? config_setting_get_member(options, key) : NULL;

    return s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING
               ? config_setting_get_string(s)
               : NULL;
}

static bool module_safe(const struct plugin_conf *pc)
{
    const char *file = NULL;
    bool known = false;

    if (pc->module == NULL)
        return true; /* reported by conf_load; nothing is opened */
    for (size_t i = 0; i < N_SAFE_MODULES; i++)
        known |= strcmp(pc->module, safe_modules[i]) == 0;
    if (!known)
        return false;
    if (strcmp(pc->module, "auth_passwd.so") == 0)
        file = option_string(pc->options, "file");
    else if (strcmp(pc->module, "acl.so") == 0)
        file = option_string(pc->options, "rules");
    return file == NULL || strcmp(file, "/dev/null") == 0;
}

static bool plugins_safe(const struct broker_conf *conf)
{
    for (size_t i = 0; i < conf->n_translators; i++) {
        if (!module_safe(&conf->translators[i]))
            return false;
    }
    for (size_t i = 0; i < conf->n_authenticators; i++) {
        if (!module_safe(&conf->authenticators[i]))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Checks
 */

/* Does the error start with the name of an included file? libconfig 1.5
 * reports a syntax error inside an @include under the name as written
 * there (relative to the config's directory), not as a path. */
static bool names_include(const char *line)
{
    for (size_t i = 0; i < N_INCLUDES; i++) {
        size_t n = strlen(include_files[i].name);
        if (strncmp(line, include_files[i].name, n) == 0 && line[n] == ':')
            return true;
    }
    return false;
}

/* Every error names the file it is about ("FILE:LINE: ..." or
 * "FILE: ..."): `mpbroker -t` promises file:line for each. */
static void check_errors(const struct errors *errs)
{
    size_t dlen = strlen(dir);

    for (size_t i = 0; i < errs->count; i++) {
        const char *line = errs->lines[i];
        FUZZ_CHECK(line != NULL && line[0] != '\0', "empty error %zu", i);
        if (strcmp(line, "out of memory") == 0 || names_include(line))
            continue;
        FUZZ_CHECK(strncmp(line, dir, dlen) == 0 && line[dlen] == '/',
                   "error without its file: \"%s\"", line);
    }
}

/* A config that loaded cleanly is one the broker can start from. */
static void check_conf(const struct broker_conf *conf)
{
    FUZZ_CHECK(conf->plugin_dir != NULL, "no plugin_dir");
    FUZZ_CHECK(conf->n_listeners > 0, "loaded without listeners");
    FUZZ_CHECK(conf->n_authenticators > 0, "loaded without authenticators");
    for (size_t i = 0; i < conf->n_translators; i++) {
        FUZZ_CHECK(conf->translators[i].module != NULL &&
                       conf->translators[i].name != NULL,
                   "translator %zu without module or name", i);
    }
    for (size_t i = 0; i < conf->n_authenticators; i++) {
        FUZZ_CHECK(conf->authenticators[i].module != NULL,
                   "authenticator %zu without module", i);
    }
    for (size_t i = 0; i < conf->n_listeners; i++) {
        const struct listener_conf *l = &conf->listeners[i];
        FUZZ_CHECK(l->translator != NULL, "listener %zu: no translator", i);
        FUZZ_CHECK((l->address != NULL) != (l->unix_path != NULL),
                   "listener %zu: needs exactly one of address and unix", i);
        FUZZ_CHECK(l->port >= 0 && l->port <= 65535, "listener %zu: port %d",
                   i, l->port);
    }
    FUZZ_CHECK(conf->max_message_size >= 256 &&
                   conf->max_message_size <= ((size_t)1 << 30),
               "max_message_size %zu", conf->max_message_size);
    FUZZ_CHECK(conf->output_low_water <= conf->output_high_water &&
                   conf->output_hard_limit >=
                       conf->output_high_water + conf->max_message_size,
               "output limits %zu/%zu/%zu", conf->output_low_water,
               conf->output_high_water, conf->output_hard_limit);
    FUZZ_CHECK(conf->auth_timeout_ms > 0 && conf->max_clients > 0 &&
                   conf->max_connections_per_client > 0,
               "a zero limit");
}

/* Load the (safe) plugins the config names, as `mpbroker -t` does. */
static void load_plugins(struct broker_conf *conf)
{
    /* No login is ever attempted: the plugins get timers and nothing more. */
    const struct plugin_services services = {.base = base};
    struct plugin_set set;
    struct errors errs;

    if (!plugins_available || !plugins_safe(conf))
        return;
    conf->plugin_dir = fuzz_plugin_dir();
    errors_init(&errs);
    if (plugins_load(&set, conf, &services, &errs) != 0)
        FUZZ_CHECK(errors_any(&errs), "plugins_load failed without an error");
    check_errors(&errs);
    plugins_unload(&set);
    errors_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct broker_conf conf;
    struct errors errs;

    if (!includes_safe(data, size))
        return 0;
    fuzz_write_file(conf_path, data, size);
    errors_init(&errs);
    if (conf_load(&conf, conf_path, "/nonexistent", &errs) == 0) {
        FUZZ_CHECK(!errors_any(&errs), "success with %zu errors", errs.count);
        check_conf(&conf);
        load_plugins(&conf);
    } else {
        FUZZ_CHECK(errors_any(&errs), "conf_load failed without an error");
        check_errors(&errs);
    }
    conf_free(&conf);
    errors_free(&errs);
    return 0;
}
