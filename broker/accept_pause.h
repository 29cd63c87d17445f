/*
 * accept_pause.h - keep a listening socket from spinning when accept()
 * fails. Out of file descriptors, accept() fails while the socket stays
 * readable: left alone, libevent calls back at once, for ever (one
 * metrics connection made evhttp write 268 690 "Error from accept()"
 * lines in 3 s). Instead the listener is paused for ACCEPT_RETRY_MS and
 * tried again; the failure is logged when an episode starts, then at most
 * once a minute, and its end is logged too.
 *
 * A listener can also be held (paused for as long as its owner says):
 * the metrics listener at max_connections. It accepts again only when it
 * is neither held nor waiting for a retry.
 *
 * Ownership: a struct accept_pause lives inside its owner (a listener,
 * the metrics server) and does not own the evconnlistener; clear it
 * before freeing either.
 */
#ifndef MP_BROKER_ACCEPT_PAUSE_H
#define MP_BROKER_ACCEPT_PAUSE_H

#include <stdbool.h>
#include <time.h>

struct event;
struct event_base;
struct evconnlistener;

enum { ACCEPT_RETRY_MS = 1000 };

struct accept_pause {
    struct evconnlistener *evl;
    struct event *retry;          /* re-enables after ACCEPT_RETRY_MS */
    const char *label;            /* the owner's, for the log */
    unsigned long failed_accepts; /* in the current episode */
    time_t last_log;              /* when a failure was last logged */
    bool held;                    /* accept_pause_hold() */
};

/* Watch `evl`: returns 0, or -1 out of memory. `label` must outlive p. */
int accept_pause_init(struct accept_pause *p, struct event_base *base,
                      struct evconnlistener *evl, const char *label);
/* Stop watching (the retry timer is freed); evl is not touched. */
void accept_pause_clear(struct accept_pause *p);

/* accept() failed: call from the listener's error callback. */
void accept_pause_failed(struct accept_pause *p);
/* A connection was accepted: ends a failure episode in the log. */
void accept_pause_accepted(struct accept_pause *p);
/* Hold the listener (stop accepting) or let it go again. */
void accept_pause_hold(struct accept_pause *p, bool hold);

#endif
