/*
 * shutdown.h - SIGTERM and SIGINT: the broker's orderly end.
 *
 * It stops accepting. Level-2 clients are sent GoingAway with
 * shutdown_grace_ms and served that long (or until none of them is left)
 * so that they finish and connect elsewhere; then, or at once without
 * any, every session is closed once its output is flushed, and the loop
 * ends when all are gone or after shutdown_timeout_ms. No Presence is
 * sent meanwhile: the watchers are going too. A second signal ends the
 * loop at once (main.c).
 */
#ifndef MP_BROKER_SHUTDOWN_H
#define MP_BROKER_SHUTDOWN_H

struct broker;

/* Begin the shutdown; `why` names the signal for the log. */
void shutdown_begin(struct broker *b, const char *why);

/* The reaper, during the grace: ends it once no level-2 client is left. */
void shutdown_grace_check(struct broker *b);

/* The grace timer: close every session now. */
void shutdown_grace_over(struct broker *b);

#endif
