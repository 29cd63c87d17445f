/*
 * notify.h - tell the service manager what the broker is doing: systemd's
 * sd_notify() when built with libsystemd (a unit with Type=notify then
 * knows when the listeners are up), nothing otherwise. Without
 * $NOTIFY_SOCKET (not started by systemd) it does nothing either.
 */
#ifndef MP_BROKER_NOTIFY_H
#define MP_BROKER_NOTIFY_H

/* "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..." lines. */
void service_notify(const char *state);

#endif
