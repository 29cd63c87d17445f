/* user_check.c - what a reload reads, checked as `user` (see user_check.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "user_check.h"

/* Can this process open `path` for reading? 0, or errno. */
static int open_error(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* The file behind setting s (its path `path`): an error at s when
 * unreadable. Returns false when it was. A file that does not exist was
 * reported at start-up (root cannot read it either), or is not a file
 * at all (a plugin option): not this check's business. */
static bool check_setting_file(const config_setting_t *s, const char *path,
                               const char *who, struct errors *errs)
{
    int err = open_error(path);

    if (err == 0 || err == ENOENT || err == ENOTDIR)
        return true;
    conf_setting_error(errs, s, "%s: not readable by %s (needed on "
                       "reload): %s", path, who, strerror(err));
    return false;
}

/* ------------------------------------------------------------------------
 * The config file and the files it @includes: every file a setting came
 * from (libconfig records it per setting).
 */

enum { MAX_CONFIG_FILES = 64 };

struct file_set {
    const char *names[MAX_CONFIG_FILES];
    size_t count;
};

static void add_file(struct file_set *fs, const char *name)
{
    if (name == NULL)
        return;
    for (size_t i = 0; i < fs->count; i++) {
        if (strcmp(fs->names[i], name) == 0)
            return;
    }
    if (fs->count < MAX_CONFIG_FILES)
        fs->names[fs->count++] = name;
}

static void collect_files(const config_setting_t *s, struct file_set *fs)
{
    int n;

    add_file(fs, config_setting_source_file(s));
    if (!config_setting_is_aggregate(s))
        return;
    n = config_setting_length(s);
    for (int i = 0; i < n; i++)
        collect_files(config_setting_get_elem(s, (unsigned)i), fs);
}

/* Returns false if the main file itself is unreadable: a reload then
 * fails before anything else is read. */
static bool check_config_files(const struct broker_conf *conf,
                               const char *who, struct errors *errs)
{
    struct file_set fs = {.count = 0};
    int err = open_error(conf->file);

    if (err != 0) {
        errors_add(errs, conf->file, 0, "not readable by %s (needed on "
                   "reload): %s", who, strerror(err));
        return false;
    }
    collect_files(config_root_setting(&conf->tree), &fs);
    for (size_t i = 0; i < fs.count; i++) {
        const char *dir = config_get_include_dir(&conf->tree);
        char path[4096];

        if (strcmp(fs.names[i], conf->file) == 0)
            continue;
        /* libconfig records an @include as written: relative ones are
         * relative to the include directory (the config file's). */
        if (fs.names[i][0] != '/' && dir != NULL)
            snprintf(path, sizeof path, "%s/%s", dir, fs.names[i]);
        else
            snprintf(path, sizeof path, "%s", fs.names[i]);
        err = open_error(path);
        if (err != 0 && err != ENOENT)
            errors_add(errs, path, 0, "@included by %s: not readable by %s "
                       "(needed on reload): %s", conf->file, who,
                       strerror(err));
    }
    return true;
}

/* ------------------------------------------------------------------------
 * TLS certificates and keys: a reload reads them again (listener_update).
 */

static void check_tls_files(const struct broker_conf *conf, const char *who,
                            struct errors *errs)
{
    static const char *const names[] = {"cert", "key", "ca"};

    for (size_t i = 0; i < conf->n_listeners; i++) {
        const struct tls_conf *tc = &conf->listeners[i].tls;
        const char *paths[] = {tc->cert, tc->key, tc->ca};

        if (tc->entry == NULL)
            continue;
        for (size_t j = 0; j < 3; j++) {
            if (paths[j] != NULL)
                check_setting_file(
                    conf_member_or_group(tc->entry, names[j]), paths[j],
                    who, errs);
        }
    }
}

/* ------------------------------------------------------------------------
 * Authenticators: a reload loads and initializes them again, as `user`.
 */

/* Its module file, as open_module() in plugin_loader.c finds it. */
static bool check_module(const struct broker_conf *conf,
                         const struct plugin_conf *pc, const char *who,
                         struct errors *errs)
{
    char path[4096];

    if (pc->module[0] == '/')
        snprintf(path, sizeof path, "%s", pc->module);
    else
        snprintf(path, sizeof path, "%s/%s", conf->plugin_dir, pc->module);
    return check_setting_file(conf_member_or_group(pc->entry, "module"),
                              path, who, errs);
}

/* Options that name files: any string option holding an absolute path
 * that exists. (One the user cannot even see through is an error too;
 * one that does not exist was reported when the plugin was initialized
 * at start-up, or is not a file at all.) */
static bool check_option_paths(const struct plugin_conf *pc, const char *who,
                               struct errors *errs)
{
    int n = pc->options ? config_setting_length(pc->options) : 0;
    bool ok = true;

    for (int i = 0; i < n; i++) {
        const config_setting_t *s =
            config_setting_get_elem(pc->options, (unsigned)i);
        const char *path;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            continue;
        path = config_setting_get_string(s);
        if (path != NULL && path[0] == '/' &&
            !check_setting_file(s, path, who, errs))
            ok = false;
    }
    return ok;
}

/*
 * Initialize again, as the user, every authenticator that started: what
 * the plugin itself reads (files named any way, directories) is then
 * read as a reload reads it. Authenticators whose module or option files
 * were found unreadable above are left out, so that one problem is one
 * error; so are those that failed at start-up (already reported).
 */
static void reinit_authenticators(const struct user_check *uc,
                                  const bool *skip, const char *who,
                                  struct errors *errs)
{
    struct broker_conf subset = *uc->conf;
    struct plugin_conf *confs;
    struct plugin_set set;
    struct errors found;
    size_t n = 0;

    confs = calloc(uc->conf->n_authenticators + 1, sizeof *confs);
    if (confs == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < uc->conf->n_authenticators; i++) {
        if (!skip[i] && i < uc->loaded->n_authenticators &&
            uc->loaded->authenticators[i].initialized)
            confs[n++] = uc->conf->authenticators[i];
    }
    subset.authenticators = confs;
    subset.n_authenticators = n;
    memset(&set, 0, sizeof set);
    errors_init(&found);
    plugins_load_authenticators(&set, &subset, &uc->loaded->services,
                                &found);
    plugins_unload_authenticators(&set);
    for (size_t i = 0; i < found.count; i++)
        errors_add(errs, NULL, 0, "%s (as %s, needed on reload)",
                   found.lines[i], who);
    errors_free(&found);
    free(confs);
}

void user_check_run(void *arg, const char *who, struct errors *errs)
{
    const struct user_check *uc = arg;
    const struct broker_conf *conf = uc->conf;
    bool *skip;

    if (!check_config_files(conf, who, errs))
        return;
    check_tls_files(conf, who, errs);
    skip = calloc(conf->n_authenticators + 1, sizeof *skip);
    if (skip == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < conf->n_authenticators; i++) {
        const struct plugin_conf *pc = &conf->authenticators[i];
        if (pc->module == NULL) {
            skip[i] = true; /* reported by conf_load */
            continue;
        }
        skip[i] = !check_module(conf, pc, who, errs);
        skip[i] |= !check_option_paths(pc, who, errs);
    }
    reinit_authenticators(uc, skip, who, errs);
    free(skip);
}
