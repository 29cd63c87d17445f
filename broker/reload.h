/*
 * reload.h - SIGHUP: read the config file again and apply it, or keep the
 * running one.
 *
 * The new file is checked as fully as at start-up (every error logged with
 * its file and line), its authenticators loaded and initialized, its new
 * listeners bound and its TLS certificates read, all before anything
 * changes: if any of that fails, the broker goes on exactly as before.
 * Otherwise the new authenticator chain replaces the old one (logins in
 * progress are asked again by the new chain), listeners are added,
 * removed (their sessions stay) or updated (translator, certificates),
 * and limits, log settings, duplicate_names, shutdown_timeout_ms and the
 * metrics listener take effect. Logged-in sessions stay.
 *
 * What a running broker cannot change - the translators (sessions hold
 * their codec state), user/group/allow_root (root is gone), plugin_dir -
 * makes the reload fail with a message saying a restart is needed.
 */
#ifndef MP_BROKER_RELOAD_H
#define MP_BROKER_RELOAD_H

struct broker;

/* Returns 0 if the new configuration is in force, -1 if the old one
 * stays (the reasons are logged). */
int broker_reload(struct broker *broker);

#endif
