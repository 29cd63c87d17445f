/* shutdown.c - the broker's orderly end (see shutdown.h). */
#include "config.h"

#include <stdio.h>

#include <event2/event.h>

#include "broker.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "presence.h"
#include "session.h"
#include "shutdown.h"

static struct timeval ms_to_tv(unsigned ms)
{
    return (struct timeval){.tv_sec = ms / 1000,
                            .tv_usec = (ms % 1000) * 1000};
}

/* A session GoingAway is for: logged in at level 2, not closing. */
static bool told_going_away(const struct session *s)
{
    return s->state == SESSION_READY && s->ep.level >= 2;
}

/* Close every session (or, with `keep_level2`, every other): each goes
 * once its output is flushed. A closed session stays in the list until
 * the reaper frees it. */
static void close_sessions(struct broker *b, bool keep_level2)
{
    struct session *s;

    TAILQ_FOREACH(s, &b->sessions, entry) {
        if (!keep_level2 || !told_going_away(s))
            session_close(s, "broker shutting down");
    }
}

static void flush_and_close(struct broker *b)
{
    struct timeval tv = ms_to_tv(b->conf.shutdown_timeout_ms);

    b->in_grace = false;
    evtimer_del(b->grace_timer);
    close_sessions(b, false);
    evtimer_add(b->shutdown_timer, &tv);
    /* The reaper frees the closed sessions and ends the loop when none
     * is left; with no client at all, that is now. */
    event_active(b->reaper, 0, 0);
}

/* Send GoingAway to each level-2 client; how many were told. */
static size_t tell_going_away(struct broker *b)
{
    char delay[16];
    struct session *s;
    size_t told = 0;

    snprintf(delay, sizeof delay, "%u", b->conf.shutdown_grace_ms);
    TAILQ_FOREACH(s, &b->sessions, entry) {
        if (!told_going_away(s))
            continue;
        session_send_notice(s, MP_META_GOING_AWAY, "", "", 0, delay);
        told++;
    }
    b->stats.going_away += told;
    return told;
}

void shutdown_begin(struct broker *b, const char *why)
{
    struct timeval grace = ms_to_tv(b->conf.shutdown_grace_ms);
    size_t told;

    b->shutting_down = true;
    service_notify("STOPPING=1");
    listeners_stop_accepting(b);
    presence_mute(b->presence);
    /* The metrics listener stays: /healthz says 503 while flushing. */
    told = b->conf.shutdown_grace_ms > 0 ? tell_going_away(b) : 0;
    if (told == 0) {
        log_notice("received %s, shutting down: flushing %zu client%s for "
                   "at most %u ms", why, b->n_sessions,
                   b->n_sessions == 1 ? "" : "s",
                   b->conf.shutdown_timeout_ms);
        flush_and_close(b);
        return;
    }
    log_notice("received %s, shutting down: %zu level-2 client%s told "
               "GoingAway, served for at most %u ms (shutdown_grace_ms), "
               "then %zu client%s flushed for at most %u ms", why, told,
               told == 1 ? "" : "s", b->conf.shutdown_grace_ms,
               b->n_sessions, b->n_sessions == 1 ? "" : "s",
               b->conf.shutdown_timeout_ms);
    b->in_grace = true;
    close_sessions(b, true);
    evtimer_add(b->grace_timer, &grace);
}

void shutdown_grace_check(struct broker *b)
{
    const struct session *s;

    TAILQ_FOREACH(s, &b->sessions, entry) {
        if (told_going_away(s))
            return;
    }
    log_notice("every level-2 client left before shutdown_grace_ms");
    flush_and_close(b);
}

void shutdown_grace_over(struct broker *b)
{
    if (!b->in_grace)
        return;
    log_notice("shutdown_grace_ms passed: closing the level-2 clients");
    flush_and_close(b);
}
