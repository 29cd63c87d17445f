/* privileges.c - dropping root after binding (see privileges.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "errors.h"
#include "log.h"
#include "privileges.h"

static const config_setting_t *root_setting(const struct broker_conf *conf,
                                            const char *name)
{
    return conf_member_or_group(config_root_setting(&conf->tree), name);
}

/* The uid and gid `user`/`group` name; -1 with an error if unknown. */
static int lookup(const struct broker_conf *conf, uid_t *uid, gid_t *gid,
                  struct errors *errs)
{
    const struct passwd *pw;
    const struct group *gr;

    errno = 0;
    pw = getpwnam(conf->user);
    if (pw == NULL) {
        conf_setting_error(errs, root_setting(conf, "user"),
                           "no user named \"%s\"%s%s", conf->user,
                           errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (conf->group == NULL)
        return 0;
    errno = 0;
    gr = getgrnam(conf->group);
    if (gr == NULL) {
        conf_setting_error(errs, root_setting(conf, "group"),
                           "no group named \"%s\"", conf->group);
        return -1;
    }
    *gid = gr->gr_gid;
    return 0;
}

int privileges_check(const struct broker_conf *conf, struct errors *errs)
{
    uid_t uid;
    gid_t gid;

    /* Not root: `user` is ignored (privileges_drop warns), so a config
     * naming a user this machine lacks still runs for a developer. An
     * empty `user` is conf_load's to report. */
    if (conf->user != NULL)
        return geteuid() == 0 && conf->user[0] != '\0'
                   ? lookup(conf, &uid, &gid, errs)
                   : 0;
    if (conf->group != NULL) {
        conf_setting_error(errs, root_setting(conf, "group"),
                           "'group' needs 'user'");
        return -1;
    }
    if (geteuid() == 0 && !conf->allow_root) {
        errors_add(errs, conf->file, 0,
                   "running as root: set 'user' (for example user = "
                   "\"mpbroker\";) to drop privileges once the listeners "
                   "are open, or allow_root = true; to keep them");
        return -1;
    }
    return 0;
}

/* Become uid/gid for good: supplementary groups dropped, gid then uid. */
static int switch_to(const struct broker_conf *conf, uid_t uid, gid_t gid,
                     struct errors *errs)
{
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        errors_add(errs, conf->file, 0, "cannot switch to user %s: %s",
                   conf->user, strerror(errno));
        return -1;
    }
    /* Belt and braces: a switch that left a way back is no switch. */
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        errors_add(errs, conf->file, 0, "could regain root after switching "
                   "to %s", conf->user);
        return -1;
    }
    return 0;
}

int privileges_drop(const struct broker_conf *conf, struct errors *errs)
{
    uid_t uid;
    gid_t gid;

    if (conf->user == NULL) {
        if (geteuid() == 0)
            log_warn("running as root (allow_root = true)");
        return 0;
    }
    if (lookup(conf, &uid, &gid, errs) != 0)
        return -1;
    if (geteuid() != 0) {
        if (geteuid() != uid)
            log_warn("user \"%s\" ignored: not started as root (running "
                     "as uid %u)", conf->user, (unsigned)geteuid());
        return 0;
    }
    if (switch_to(conf, uid, gid, errs) != 0)
        return -1;
    log_notice("running as user %s (uid %u, gid %u)", conf->user,
               (unsigned)uid, (unsigned)gid);
    return 0;
}

/* ------------------------------------------------------------------------
 * Checking as the user: a child process switches as privileges_drop()
 * does and reports what it finds through a pipe, one error a line. The
 * kernel then decides each access exactly as it will for the running
 * broker (owner, group, mode bits, ACLs, directories on the way).
 */

static void child_report(int fd, const struct errors *errs)
{
    for (size_t i = 0; i < errs->count; i++) {
        char *line = errs->lines[i];
        size_t len = strlen(line);

        /* One error, one line, whatever a plugin put in its message. */
        for (char *p = line; *p != '\0'; p++) {
            if (*p == '\n')
                *p = ' ';
        }
        while (len > 0) {
            ssize_t n = write(fd, line, len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return;
            line += n;
            len -= (size_t)n;
        }
        if (write(fd, "\n", 1) != 1)
            return;
    }
}

static void run_child(const struct broker_conf *conf, uid_t uid, gid_t gid,
                      void (*fn)(void *arg, const char *who,
                                 struct errors *errs),
                      void *arg, int fd)
{
    struct errors errs;
    char who[256];

    errors_init(&errs);
    if (conf->group != NULL)
        snprintf(who, sizeof who, "user '%s' (group '%s')", conf->user,
                 conf->group);
    else
        snprintf(who, sizeof who, "user '%s'", conf->user);
    if (switch_to(conf, uid, gid, &errs) == 0)
        fn(arg, who, &errs);
    child_report(fd, &errs);
    errors_free(&errs);
    close(fd);
    /* Not exit(): the parent's atexit handlers and stdio buffers are the
     * parent's. */
    _exit(0);
}

/* Read the child's lines into errs until it closes the pipe. */
static void collect(int fd, struct errors *errs)
{
    char buf[4096];
    char *text = NULL;
    size_t len = 0;
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char *bigger = realloc(text, len + (size_t)n + 1);
        if (bigger == NULL) {
            errors_add(errs, NULL, 0, "out of memory reading the checks "
                       "made as user");
            break;
        }
        text = bigger;
        memcpy(text + len, buf, (size_t)n);
        len += (size_t)n;
    }
    for (char *line = text, *end; line != NULL && line < text + len;
         line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (end == NULL)
            end = text + len;
        *end = '\0';
        if (*line != '\0')
            errors_add(errs, NULL, 0, "%s", line);
    }
    free(text);
}

int privileges_check_as_user(const struct broker_conf *conf,
                             void (*fn)(void *arg, const char *who,
                                        struct errors *errs),
                             void *arg, struct errors *errs)
{
    uid_t uid;
    gid_t gid;
    int fds[2], status, found;
    pid_t pid;
    struct errors unknown;

    if (conf->user == NULL || conf->user[0] == '\0' || geteuid() != 0)
        return 0;
    /* An unknown user or group: privileges_check() has said so. */
    errors_init(&unknown);
    found = lookup(conf, &uid, &gid, &unknown);
    errors_free(&unknown);
    if (found != 0)
        return 0;
    if (uid == 0)
        return 0; /* root reads what it read at start-up */
    if (pipe(fds) != 0) {
        errors_add(errs, NULL, 0, "cannot check files as user %s: %s",
                   conf->user, strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid = fork();
    if (pid < 0) {
        errors_add(errs, NULL, 0, "cannot check files as user %s: %s",
                   conf->user, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(conf, uid, gid, fn, arg, fds[1]);
    }
    close(fds[1]);
    collect(fds[0], errs);
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errors_add(errs, NULL, 0, "checking files as user %s failed (%s %d)",
                   conf->user, WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status)
                                     : WTERMSIG(status));
        return -1;
    }
    return 0;
}
