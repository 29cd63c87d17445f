/*
 * link_peer.c - a peer's life: made, up when both its streams passed
 * their handshakes, kept alive by PINGs and the receive timeout, down
 * once (events->down) and handed to the reaper; and the calls into the
 * user's events, counted so that link_set_free() can tell it is called
 * from one (which it must not be).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "link-internal.h"
#include "log.h"
#include "xalloc.h"

static struct timeval ms_to_tv(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    return tv;
}

/* ------------------------------------------------------------------------
 * Calls into the user: counted, so that link_set_free() can tell it is
 * called from one (which it must not be).
 */

static void call_down(struct link_peer *p, const char *why)
{
    struct link_set *ls = p->ls;

    ls->dispatching++;
    ls->events.down(ls->arg, p, why);
    ls->dispatching--;
}

void link_deliver(struct link_peer *p, const struct link_frame *f)
{
    struct link_set *ls = p->ls;

    ls->stats.frames_in++;
    ls->dispatching++;
    ls->events.frame(ls->arg, p, f);
    ls->dispatching--;
}

void link_queue_drained(struct link_peer *p)
{
    struct link_set *ls = p->ls;

    if (!p->drain_watch || p->dead ||
        evbuffer_get_length(p->queue) > p->drain_low)
        return;
    p->drain_watch = false;
    if (ls->events.drained == NULL)
        return;
    ls->dispatching++;
    ls->events.drained(ls->arg, p);
    ls->dispatching--;
}

/* ------------------------------------------------------------------------
 * Peers: up, liveness, down
 */

static void arm_timer(struct link_peer *p, uint64_t ms)
{
    struct timeval tv = ms_to_tv(ms);

    evtimer_add(p->timer, &tv);
}

static void send_ping(struct link_peer *p)
{
    struct link_frame ping = {.type = LINK_PING};
    unsigned char header[LINK_FRAME_PREFIX + 1];
    size_t n = link_frame_encode_header(&ping, header, sizeof header);

    evbuffer_add(p->queue, header, n);
    link_stream_want_flush(p->out);
    p->last_sent_ms = link_now_ms(); /* the next only after ping_ms */
}

/* Up: a PING when nothing was written for ping_ms, down when nothing
 * was read for timeout_ms; the timer wakes at the nearer of the two.
 * Before up: the bound on coming up, or a failure from the dial. */
static void peer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link_peer *p = arg;
    const struct link_conf *c = &p->ls->conf;
    uint64_t now = link_now_ms(), ping_at, dead_at;
    char why[96];

    (void)fd;
    (void)what;
    if (p->fail != NULL) {
        link_peer_down(p, p->fail);
        return;
    }
    if (!p->up) {
        snprintf(why, sizeof why, "the link did not come up within %u ms",
                 2 * c->handshake_ms);
        link_peer_down(p, why);
        return;
    }
    dead_at = p->last_recv_ms + c->timeout_ms;
    if (now >= dead_at) {
        snprintf(why, sizeof why, "nothing received for %u ms", c->timeout_ms);
        link_peer_down(p, why);
        return;
    }
    if (now >= p->last_sent_ms + c->ping_ms)
        send_ping(p);
    ping_at = p->last_sent_ms + c->ping_ms;
    arm_timer(p, (ping_at < dead_at ? ping_at : dead_at) - now);
}

void link_peer_check_up(struct link_peer *p)
{
    struct link_set *ls = p->ls;

    if (p->up || p->dead || p->out == NULL || p->in == NULL ||
        p->out->state != STREAM_OPEN || p->in->state != STREAM_OPEN)
        return;
    p->up = true;
    ls->stats.peers_up++;
    log_notice("cluster: link to %s (%s) up", LOG_VALUE(p->id), p->addr);
    p->last_sent_ms = p->last_recv_ms = link_now_ms();
    event_del(p->timer);
    arm_timer(p, ls->conf.ping_ms < ls->conf.timeout_ms ? ls->conf.ping_ms
                                                        : ls->conf.timeout_ms);
    link_stream_want_flush(p->out); /* what waited for the link */
    if (ls->events.up != NULL) {
        ls->dispatching++;
        ls->events.up(ls->arg, p);
        ls->dispatching--;
    }
    if (!p->dead)
        link_stream_resume_input(p->in);
}

void link_peer_down(struct link_peer *p, const char *why)
{
    struct link_set *ls = p->ls;

    if (p->dead)
        return;
    p->dead = true;
    if (p->out != NULL)
        link_stream_close(p->out);
    if (p->in != NULL)
        link_stream_close(p->in);
    event_del(p->timer);
    TAILQ_REMOVE(&ls->peers, p, entry);
    if (p->up)
        ls->stats.peers_up--;
    ls->stats.downs++;
    log_notice("cluster: link to %s (%s) down: %s", LOG_VALUE(p->id), p->addr,
               why);
    call_down(p, why);
    TAILQ_INSERT_TAIL(&ls->dead_peers, p, entry);
    link_schedule_reap(ls);
}

struct link_peer *link_peer_new(struct link_set *ls, const char *id,
                                size_t id_len, const char *host, int port)
{
    struct link_peer *p = mp_xcalloc(1, sizeof *p);

    p->ls = ls;
    snprintf(p->id, sizeof p->id, "%.*s", (int)id_len, id);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    link_format_addr(p->addr, sizeof p->addr, host, port);
    p->queue = link_must(evbuffer_new(), "an evbuffer");
    p->timer = link_must(evtimer_new(ls->base, peer_timer_cb, p), "an event");
    TAILQ_INSERT_TAIL(&ls->peers, p, entry);
    arm_timer(p, 2 * (uint64_t)ls->conf.handshake_ms);
    return p;
}


void link_peer_free(struct link_peer *p)
{
    event_free(p->timer);
    evbuffer_free(p->queue);
    free(p);
}
