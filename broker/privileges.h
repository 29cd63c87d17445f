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

#endif
