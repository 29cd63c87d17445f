/* accept_pause.c - pause a listener whose accept() fails (see
 * accept_pause.h). */
#include "config.h"

#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "accept_pause.h"
#include "log.h"

/* While accept() keeps failing, log it at most once per interval, so a
 * long shortage cannot flood the log. */
enum { ACCEPT_LOG_INTERVAL_S = 60 };

static void resume(struct accept_pause *p)
{
    if (p->evl != NULL && !p->held && !evtimer_pending(p->retry, NULL))
        evconnlistener_enable(p->evl);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resume(arg);
}

int accept_pause_init(struct accept_pause *p, struct event_base *base,
                      struct evconnlistener *evl, const char *label)
{
    p->evl = evl;
    p->label = label;
    p->failed_accepts = 0;
    p->last_log = 0;
    p->held = false;
    p->retry = evtimer_new(base, retry_cb, p);
    return p->retry != NULL ? 0 : -1;
}

void accept_pause_clear(struct accept_pause *p)
{
    if (p->retry != NULL)
        event_free(p->retry);
    p->retry = NULL;
    p->evl = NULL;
}

void accept_pause_failed(struct accept_pause *p)
{
    struct timeval tv = {.tv_sec = ACCEPT_RETRY_MS / 1000,
                         .tv_usec = (ACCEPT_RETRY_MS % 1000) * 1000};
    time_t now = time(NULL);

    if (p->failed_accepts++ == 0 || now - p->last_log >= ACCEPT_LOG_INTERVAL_S) {
        log_error("accept on %s failed: %s; pausing it for %d ms", p->label,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
                  ACCEPT_RETRY_MS);
        p->last_log = now;
    }
    evconnlistener_disable(p->evl);
    evtimer_add(p->retry, &tv);
}

void accept_pause_accepted(struct accept_pause *p)
{
    if (p->failed_accepts > 0) {
        log_notice("accepting on %s again after %lu failed accepts",
                   p->label, p->failed_accepts);
        p->failed_accepts = 0;
    }
}

void accept_pause_hold(struct accept_pause *p, bool hold)
{
    p->held = hold;
    if (hold)
        evconnlistener_disable(p->evl);
    else
        resume(p);
}
