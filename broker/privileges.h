/*
 * privileges.h - run as an unprivileged user after binding.
 *
 * Started as root, the broker opens its listeners and loads its plugins
 * (which read their files) first, then switches to `user` (and `group`,
 * else the user's primary group) for good: supplementary groups dropped,
 * gid then uid set, and a check that root cannot be regained. Started as
 * root without `user`, it refuses to run unless `allow_root = true`, as
 * a broker parsing untrusted input should not hold root.
 */
#ifndef MP_BROKER_PRIVILEGES_H
#define MP_BROKER_PRIVILEGES_H

struct broker_conf;
struct errors;

/* Before anything is opened: refuse root without `user` (unless
 * allow_root), and check that `user` and `group` exist. Returns 0, or -1
 * with errors (file, line) added. */
int privileges_check(const struct broker_conf *conf, struct errors *errs);

/* After binding: switch to `user`/`group` if running as root. Returns 0,
 * or -1 with an error added (the broker must then not go on). */
int privileges_drop(const struct broker_conf *conf, struct errors *errs);

/*
 * mpbroker -t, started as root with `user` set: what the broker reads
 * after dropping root (on SIGHUP) must be readable by that user. Runs
 * fn(arg, who, errs) in a child process switched to `user`/`group` as
 * privileges_drop() switches (`who` names them for messages, e.g.
 * "user 'mpbroker'"), and adds every error fn added to errs. Does
 * nothing when not root, without `user`, or when `user` is root.
 * Returns 0, or -1 with an error added if the check could not run (an
 * unknown user or group is privileges_check()'s to report).
 */
int privileges_check_as_user(const struct broker_conf *conf,
                             void (*fn)(void *arg, const char *who,
                                        struct errors *errs),
                             void *arg, struct errors *errs);

#endif
