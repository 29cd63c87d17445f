/*
 * user_check.h - mpbroker -t: will the broker still read its files after
 * dropping root?
 *
 * Started as root, the broker reads its config, plugins and certificates
 * as root, then runs as `user`; a SIGHUP reload reads them again as that
 * user. So a file only root can read passes start-up and breaks the first
 * reload. user_check_run() opens each file a reload reads - the config
 * file and every file it @includes, each TLS listener's cert, key and ca,
 * each authenticator's module and the files its string options name -
 * and initializes each authenticator again (which reads the plugin's own
 * files, however it names them), reporting what fails as
 * "PATH: not readable by user 'mpbroker' (needed on reload): REASON".
 * Meant to run in the child of privileges_check_as_user(), switched to
 * the user, where the kernel decides each access as it will later.
 *
 * Translators are not read on reload (a change needs a restart), so their
 * modules are not checked.
 */
#ifndef MP_BROKER_USER_CHECK_H
#define MP_BROKER_USER_CHECK_H

#include "conf.h"
#include "errors.h"
#include "plugin_loader.h"

struct user_check {
    const struct broker_conf *conf;
    const struct plugin_set *loaded; /* as started: which plugins work,
                                        and the services they get */
};

/* fn of privileges_check_as_user(): arg is a struct user_check. */
void user_check_run(void *arg, const char *who, struct errors *errs);

#endif
