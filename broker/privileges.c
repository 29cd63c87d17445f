/* privileges.c - dropping root after binding (see privileges.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
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
     * naming a user this machine lacks still runs for a developer. */
    if (conf->user != NULL)
        return geteuid() == 0 ? lookup(conf, &uid, &gid, errs) : 0;
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
    log_notice("running as user %s (uid %u, gid %u)", conf->user,
               (unsigned)uid, (unsigned)gid);
    return 0;
}
