/*
 * test_config.c - `mpbroker -t` and config errors: every error reported as
 * FILE:LINE: naming the setting, all of them in one run, and the same
 * errors stopping `mpbroker -c FILE` with exit 1 before it listens.
 *
 * Each config text below is written whole, so its line numbers are the
 * ones in the comments beside the lines.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(config, .fini = harness_reap_all, .timeout = 60);

/* Lines 1-3: plugin_dir and translators. */
#define HEAD3 \
    "plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n" \
    "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n" \
    "                { name = \"binary\"; module = \"translator_binary.so\"; } );\n"
/* Line 4. */
#define AUTH4 "authenticators = ( { module = \"auth_allow_all.so\"; } );\n"
/* Lines 5-6. */
#define LISTEN56 \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"
/* Lines 1-6: a valid config. */
#define GOOD6 HEAD3 AUTH4 LISTEN56

/* An error line expected on stderr. */
struct want {
    int line;            /* 0: any line */
    const char *needle;  /* must appear in the message */
    bool nocase;
    const char *file;    /* NULL: the config file; else this file's
                            "PATH:LINE" may appear anywhere in the line */
};

/* A log line without its timestamp ("2026-12-02T14:05:01.123+00:00 "),
 * which the broker writes when stderr is not the journal. */
static const char *unstamped(const char *line)
{
    const char *space = strchr(line, ' ');

    if (strlen(line) > 20 && line[4] == '-' && line[10] == 'T' &&
        space != NULL && space - line >= 20)
        return space + 1;
    return line;
}

/* Does one line of `err` match w? */
static bool matches(const char *err, const char *conf, const struct want *w)
{
    char prefix[512];
    const char *file = w->file ? w->file : conf;

    if (w->line > 0)
        snprintf(prefix, sizeof prefix, "%s:%d:", file, w->line);
    else
        snprintf(prefix, sizeof prefix, "%s:", file);
    for (const char *p = err; *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *whole = strndup(p, n);
        const char *line = unstamped(whole);
        const char *at = strstr(line, prefix);
        /* At the start of the line: bare with -t, or as an error log
         * line when the broker refuses to start. */
        bool ok = at != NULL &&
                  (w->file != NULL || at == line ||
                   (at == line + 7 && strncmp(line, "error: ", 7) == 0));
        if (ok && w->needle != NULL)
            ok = w->nocase ? strcasestr(line, w->needle) != NULL
                           : strstr(line, w->needle) != NULL;
        free(whole);
        if (ok)
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}

static char failure[8192];

static void assert_errors(const struct run_result *r, const char *conf,
                          const struct want *w, size_t n, const char *how)
{
    cr_assert_not(r->timed_out, "%s did not exit in time", how);
    snprintf(failure, sizeof failure, "%s", r->err);
    cr_assert_eq(r->exit_code, 1, "%s: exit %d, want 1; stderr:\n%s", how,
                 r->exit_code, failure);
    cr_assert_null(strstr(r->out, "configuration OK"),
                   "%s printed \"configuration OK\" for a bad config", how);
    for (size_t i = 0; i < n; i++)
        cr_assert(matches(r->err, conf, &w[i]),
                  "%s: no error line \"%s:%d: ...%s...\"; stderr:\n%s", how,
                  w[i].file ? w[i].file : conf, w[i].line,
                  w[i].needle ? w[i].needle : "", failure);
}

/* mpbroker -t -c FILE: exit 1 with each wanted error. */
static void check_t(const char *conf, const struct want *w,
                    size_t n)
{
    const char *args[] = { "-t", "-c", conf, NULL };
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    assert_errors(&r, conf, w, n, "mpbroker -t");
    run_result_free(&r);
}

/* Write `text` as bad.conf and check it with -t. */
static void bad_config(const char *text, const struct want *w, size_t n)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_file(h, "bad.conf", text);

    check_t(conf, w, n);
    harness_free(h);
}

#define WANTS(...) (const struct want[]){ __VA_ARGS__ }, \
    sizeof (const struct want[]){ __VA_ARGS__ } / sizeof (struct want)

/* ---------------------------------------------------------------------- */

Test(config, check_ok)
{
    struct harness *h = harness_new();
    char *entry = harness_passwd_entry("alice", "pw");
    char text[256];

    snprintf(text, sizeof text, "# users\n%s\n\n", entry);
    free(entry);
    harness_write_file(h, "mpbroker.passwd", text);
    const char *conf = harness_write_file(h, "good.conf",
        HEAD3
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; },\n"
        "                   { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";"
        " options = { delay_ms = 10; secret = \"s\"; }; },\n"
        "                   { module = \"@PLUGIN_DIR@/auth_allow_all.so\"; } );\n"
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; },\n"
        "              { address = \"::1\"; port = 0; translator = \"json\"; },\n"
        "              { unix = \"@DIR@/s.sock\"; translator = \"binary\"; } );\n"
        "limits = { max_message_size = 1048576; auth_timeout_ms = 10000;"
        " max_clients = 10000; };\n"
        "duplicate_names = \"reject\";\n"
        "log = { level = \"debug\"; };\n");
    const char *args[] = { "-t", "-c", conf, NULL };
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_eq(r.exit_code, 0, "mpbroker -t: exit %d; stderr:\n%s",
                 r.exit_code, failure);
    cr_assert_str_eq(r.out, "configuration OK\n");
    run_result_free(&r);
    harness_free(h);
}

Test(config, unknown_top_level_setting)
{
    bad_config(GOOD6 "foo = 1;\n",                                   /* 7 */
               WANTS({ 7, "foo", false, NULL }));
}

Test(config, unknown_settings_in_groups)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\";"
               " backlog = 5; } );\n"                                       /* 5 */
               "limits = { max_message_size = 1024; bogus_limit = 5; };\n"  /* 6 */
               "log = { level = \"info\"; colour = true; };\n",             /* 7 */
               WANTS({ 5, "backlog", false, NULL },
                     { 6, "bogus_limit", false, NULL },
                     { 7, "colour", false, NULL }));
}

Test(config, unknown_setting_in_a_translator)
{
    bad_config("plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
               "translators = ( { name = \"json\"; module = \"translator_json.so\";"
               " flavour = \"x\"; } );\n"                                   /* 2 */
               AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n",
               WANTS({ 2, "flavour", false, NULL }));
}

Test(config, unknown_plugin_options)
{
    struct harness *h = harness_new();
    char *entry = harness_passwd_entry("alice", "pw");
    char text[256];

    snprintf(text, sizeof text, "%s\n", entry);
    free(entry);
    harness_write_file(h, "pw", text);
    const char *conf = harness_write_file(h, "bad.conf",
        HEAD3
        "authenticators = ( { module = \"auth_passwd.so\";\n"              /* 4 */
        "                     options = { file = \"@DIR@/pw\";\n"          /* 5 */
        "                                 bogus = 1; }; },\n"              /* 6 */
        "                   { module = \"@TEST_PLUGIN_DIR@/auth_delayed.so\";\n" /* 7 */
        "                     options = { delay_ms = 5;\n"                 /* 8 */
        "                                 typo_ms = 3; }; } );\n"          /* 9 */
        LISTEN56);                                                        /* 10-11 */
    check_t(conf, WANTS({ 6, "bogus", false, NULL },
                           { 9, "typo_ms", false, NULL }));
    harness_free(h);
}

Test(config, wrong_types)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = \"x\"; translator = \"json\"; },\n" /* 5 */
               "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"  /* 6 */
               "limits = { max_message_size = \"big\"; };\n"                /* 7 */
               "duplicate_names = 1;\n",                                     /* 8 */
               WANTS({ 5, "port", false, NULL },
                     { 7, "max_message_size", false, NULL },
                     { 8, "duplicate_names", false, NULL }));
}

Test(config, wrong_type_in_plugin_options)
{
    bad_config(HEAD3
               "authenticators = ( { module = \"auth_passwd.so\";\n"         /* 4 */
               "                     options = { file = 5; }; } );\n"        /* 5 */
               LISTEN56,
               WANTS({ 5, "file", false, NULL }));
}

Test(config, bad_values)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = 70000; translator = \"json\"; },\n" /* 5 */
               "              { address = \"127.0.0.1\"; port = -1; translator = \"binary\"; } );\n" /* 6 */
               "duplicate_names = \"maybe\";\n"                              /* 7 */
               "log = { level = \"loud\"; };\n",                             /* 8 */
               WANTS({ 5, "port", false, NULL },
                     { 6, "port", false, NULL },
                     { 7, "duplicate_names", false, NULL },
                     { 8, "level", false, NULL }));
}

Test(config, missing_plugin_file)
{
    bad_config("plugin_dir = \"@PLUGIN_DIR@\"; allow_root = true;\n"
               "translators = ( { name = \"json\"; module = \"translator_json.so\"; },\n"
               "                { name = \"xml\"; module = \"translator_xml.so\"; } );\n" /* 3 */
               "authenticators = ( { module = \"nonexistent.so\"; } );\n"    /* 4 */
               "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n",
               WANTS({ 3, "module", false, NULL },
                     { 3, "translator_xml.so", false, NULL },
                     { 4, "module", false, NULL },
                     { 4, "nonexistent.so", false, NULL }));
}

Test(config, plugin_for_another_abi)
{
    bad_config(HEAD3
               "authenticators = ( { module = \"@TEST_PLUGIN_DIR@/bad_abi.so\"; } );\n" /* 4 */
               LISTEN56,
               WANTS({ 4, "abi", true, NULL }));
}

Test(config, listener_translator_not_found)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
               "              { address = \"127.0.0.1\"; port = 0; translator = \"xml\"; } );\n", /* 6 */
               WANTS({ 6, "translator", false, NULL },
                     { 6, "\"xml\"", false, NULL }));
}

Test(config, syntax_error)
{
    bad_config(GOOD6
               "limits = { max_message_size = ; };\n",                       /* 7 */
               WANTS({ 7, NULL, false, NULL }));
}

Test(config, listener_without_address_or_unix)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
               "              { port = 0; translator = \"binary\"; } );\n", /* 6 */
               WANTS({ 6, "listeners", false, NULL }));
}

Test(config, no_listeners)
{
    bad_config(HEAD3 AUTH4, WANTS({ 0, "listeners", false, NULL }));
}

Test(config, empty_listeners)
{
    bad_config(HEAD3 AUTH4 "listeners = ( );\n",
               WANTS({ 0, "listeners", false, NULL }));
}

Test(config, no_authenticators)
{
    bad_config(HEAD3 LISTEN56, WANTS({ 0, "authenticators", false, NULL }));
}

Test(config, malformed_passwd_line)
{
    struct harness *h = harness_new();
    char *a = harness_passwd_entry("alice", "pw");
    char *b = harness_passwd_entry("bob", "pw");
    char text[512];

    snprintf(text, sizeof text, "%s\nthis line has no colon\n%s\n", a, b);
    free(a);
    free(b);
    const char *pw = harness_write_file(h, "mpbroker.passwd", text);
    const char *conf = harness_write_file(h, "bad.conf",
        HEAD3
        "authenticators = ( { module = \"auth_passwd.so\";"
        " options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n"
        LISTEN56);
    check_t(conf, WANTS({ 2, NULL, false, pw }));
    harness_free(h);
}

/* ---------------------------------------------------------------------- */
/* Several errors: all reported; and without -t, exit 1 without listening */

#define MANY_ERRORS \
    HEAD3 AUTH4 \
    "listeners = ( { address = \"127.0.0.1\"; port = \"x\"; translator = \"json\"; },\n" /* 5 */ \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"xml\"; },\n"     /* 6 */ \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"json\"; } );\n"  /* 7 */ \
    "foo = 1;\n"                                                                          /* 8 */ \
    "limits = { bogus_limit = 5; };\n"                                                    /* 9 */

static const struct want many_wants[] = {
    { 5, "port", false, NULL },
    { 6, "xml", false, NULL },
    { 8, "foo", false, NULL },
    { 9, "bogus_limit", false, NULL },
};

Test(config, all_errors_reported)
{
    bad_config(MANY_ERRORS, many_wants, sizeof many_wants / sizeof many_wants[0]);
}

Test(config, errors_stop_the_broker)
{
    struct harness *h = harness_new();
    const char *conf = harness_write_file(h, "bad.conf", MANY_ERRORS);
    const char *args[] = { "-c", conf, NULL };
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    assert_errors(&r, conf, many_wants, sizeof many_wants / sizeof many_wants[0],
                  "mpbroker -c");
    cr_assert_null(strstr(r.err, "listening on"), "it listened:\n%s", failure);
    cr_assert_null(strstr(r.err, "notice: ready"), "it got ready:\n%s", failure);
    run_result_free(&r);
    harness_free(h);
}

Test(config, each_error_stops_the_broker)
{
    static const char *const texts[] = {
        GOOD6 "foo = 1;\n",
        HEAD3 "authenticators = ( { module = \"@TEST_PLUGIN_DIR@/bad_abi.so\"; } );\n" LISTEN56,
        HEAD3 AUTH4,
        GOOD6 "limits = { max_message_size = ; };\n",
    };

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct harness *h = harness_new();
        const char *conf = harness_write_file(h, "bad.conf", texts[i]);
        const char *args[] = { "-c", conf, NULL };
        struct run_result r;

        harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
        assert_errors(&r, conf, NULL, 0, "mpbroker -c");
        cr_assert_null(strstr(r.err, "listening on"), "config %zu: it listened", i);
        run_result_free(&r);
        harness_free(h);
    }
}

Test(config, missing_config_file)
{
    const char *args[] = { "-t", "-c", "/nonexistent/mpbroker.conf", NULL };
    struct run_result r;

    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_eq(r.exit_code, 1, "exit %d, want 1; stderr:\n%s", r.exit_code,
                 failure);
    cr_assert_not_null(strstr(r.err, "/nonexistent/mpbroker.conf"),
                       "the error does not name the file:\n%s", failure);
    run_result_free(&r);
}

Test(config, log_syslog_settings_checked)
{
    bad_config(GOOD6 "log = { syslog = \"yes\"; facility = \"kern\"; };\n",  /* 7 */
               WANTS({ 7, "log.syslog: expected true or false", false, NULL },
                     { 7, "log.facility: must be daemon, user, auth or local0 "
                          "to local7", false, NULL }));
}

Test(config, unix_socket_mode_checked)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { unix = \"/tmp/x.sock\"; mode = \"rw\"; },\n"   /* 5 */
               "              { address = \"127.0.0.1\"; mode = \"0600\"; } );\n", /* 6 */
               WANTS({ 5, "listeners[0].mode: must be octal permissions", false, NULL },
                     { 6, "listeners[1].mode: 'mode' is for Unix socket listeners", false, NULL }));
}

Test(config, websocket_group_checked)
{
    bad_config(HEAD3 AUTH4
               "listeners = ( { unix = \"/tmp/x.sock\"; websocket = { }; },\n"       /* 5 */
               "  { address = \"127.0.0.1\"; port = 0; websocket = {\n"             /* 6 */
               "      path = \"mp?x\"; origins = [ \"app.example\", \"*\" ];\n"  /* 7 */
               "      ping_interval_s = -1; pong = 1; }; } );\n",                   /* 8 */
               WANTS({ 5, "listeners[0].websocket: WebSocket is for TCP listeners", false, NULL },
                     { 7, "listeners[1].websocket.path: must be an absolute URL path", false, NULL },
                     { 7, "listeners[1].websocket.origins[0]: expected an origin such as", false, NULL },
                     { 8, "listeners[1].websocket.ping_interval_s: must be between 0 and 86400", false, NULL },
                     { 8, "pong", false, NULL }));
}

/* ---------------------------------------------------------------------- */
/* One run reports the errors of every stage: the file's settings, the
 * plugins, the TLS files and the user to run as (before, each stage
 * stopped the next, and a config needed a run per stage). */

Test(config, every_stage_in_one_run)
{
    /* No allow_root and no user: as root, that is an error too. */
    const char *text =
        "plugin_dir = \"@PLUGIN_DIR@\";\n"                               /* 1 */
        "authenticators = ( { module = \"no_such_auth.so\"; } );\n"      /* 2 */
        "listeners = ( { address = \"127.0.0.1\"; port = 0;\n"           /* 3 */
        "                tls = { cert = \"@DIR@/missing.pem\";\n"        /* 4 */
        "                        key = \"@DIR@/missing.key\"; }; } );\n" /* 5 */
        "limits = { max_client = 5;\n"                                   /* 6 */
        "           auth_timeout_ms = 0; };\n";                          /* 7 */
    const struct want common[] = {
        { 6, "limits.max_client: unknown setting", false, NULL },
        { 7, "limits.auth_timeout_ms: must be between", false, NULL },
        { 2, "authenticators[0].module: cannot load", false, NULL },
        { 4, "listeners[0].tls.cert: cannot load certificate", false, NULL },
        { 0, "running as root: set 'user'", false, NULL },
    };
    size_t n = sizeof common / sizeof common[0];

    /* The last one is only an error for root. */
    bad_config(text, common, geteuid() == 0 ? n : n - 1);
}

/* A file the broker reads again on SIGHUP must be readable by `user`:
 * started as root, it reads the password file as root, then a reload
 * runs as the user and fails. -t checks as that user. */
Test(config, files_unreadable_by_user)
{
    struct harness *h;
    char *entry;
    const char *pw, *conf;
    const char *args[4] = { "-t", "-c", NULL, NULL };
    struct run_result r;
    char want[600];

    if (geteuid() != 0)
        cr_skip("needs root: checks access as another user");
    if (getpwnam("nobody") == NULL)
        cr_skip("no user 'nobody' on this machine");
    h = harness_new();
    /* The directory and config are the user's to read; the password
     * file, root's alone. */
    cr_assert_eq(chmod(harness_dir(h), 0755), 0);
    entry = harness_passwd_entry("alice", "pw");
    pw = harness_write_file(h, "mpbroker.passwd", entry);
    free(entry);
    cr_assert_eq(chown(pw, 0, 0), 0);
    cr_assert_eq(chmod(pw, 0600), 0);
    conf = harness_write_file(h, "user.conf",
        "plugin_dir = \"@PLUGIN_DIR@\";\n"
        "user = \"nobody\";\n"
        "authenticators = ( { module = \"auth_passwd.so\";\n"
        "                     options = { file = \"@DIR@/mpbroker.passwd\"; }; } );\n" /* 4 */
        "listeners = ( { address = \"127.0.0.1\"; port = 0; } );\n");
    cr_assert_eq(chmod(conf, 0644), 0);
    args[2] = conf;
    snprintf(want, sizeof want, "%s: not readable by user 'nobody' (needed "
             "on reload): Permission denied", pw);
    check_t(conf, WANTS({ 4, want, false, NULL }));

    /* Readable by the user: that error is gone (the build tree itself
     * may be out of the user's reach, so nothing else is asserted). */
    cr_assert_eq(chmod(pw, 0644), 0);
    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    snprintf(failure, sizeof failure, "%s", r.err);
    cr_assert_null(strstr(r.err, "not readable by user 'nobody'"),
                   "a readable file reported:\n%s", failure);
    run_result_free(&r);

    /* The config file itself. */
    cr_assert_eq(chmod(conf, 0600), 0);
    snprintf(want, sizeof want, "not readable by user 'nobody' (needed on "
             "reload): Permission denied");
    check_t(conf, WANTS({ 0, want, false, NULL }));
    harness_free(h);
}
