/* session.c - one client connection: its life (see session.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth_chain.h"
#include "broker.h"
#include "cluster.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "router.h"
#include "session-internal.h"
#include "sources.h"
#include "ws_frame.h"
#include "ws_session.h"
#include "xalloc.h"

/* How long a closing session may take to flush what is queued for it
 * (an AuthFailure, a WAT) before its socket is closed anyway. */
enum { CLOSE_LINGER_MS = 2000 };

static void session_set_reading(struct endpoint *ep, bool reading);
static bool session_endpoint_bad_message(struct endpoint *ep, const char *why);
static void session_endpoint_close(struct endpoint *ep, const char *reason);

static const struct endpoint_ops session_endpoint_ops = {
    .deliver = session_deliver,
    .set_reading = session_set_reading,
    .bad_message = session_endpoint_bad_message,
    .close = session_endpoint_close,
    .credit = session_credit,
};

struct session *session_of(struct endpoint *ep)
{
    return (struct session *)(void *)((char *)ep -
                                      offsetof(struct session, ep));
}

void session_open_streams(struct session *s)
{
    if (mp_codec_streams_open(session_codec(s), s->ep.format->state,
                              &s->decode_stream, &s->encode_stream) != 0)
        mp_out_of_memory("codec streams", 0);
}

static void close_streams(struct session *s)
{
    if (s->ep.format != NULL)
        mp_codec_streams_close(session_codec(s), s->decode_stream,
                               s->encode_stream);
}

/* ------------------------------------------------------------------------
 * State and limits
 */

void session_set_state(struct session *s, enum session_state state)
{
    s->listener->n_by_state[s->state]--;
    s->listener->n_by_state[state]++;
    s->state = state;
    s->ep.closing = state == SESSION_CLOSING;
}

void session_apply_limits(struct session *s, const struct broker_conf *conf)
{
    if (s->state != SESSION_CLOSING)
        session_io_apply_limits(s, conf);
}

/* ------------------------------------------------------------------------
 * The timer
 */

static void timer_fired(evutil_socket_t fd, short what, void *arg);

void session_set_timer(struct session *s, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (s->timer == NULL)
        s->timer = evtimer_new(s->ep.broker->base, timer_fired, s);
    evtimer_add(s->timer, &tv);
}

void session_stop_timer(struct session *s)
{
    if (s->timer != NULL)
        evtimer_del(s->timer);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;

    (void)fd;
    (void)what;
    if (s->state == SESSION_CLOSING)
        session_schedule_free(s); /* linger over: close even if output
                                     remains */
    else if (s->too_slow)
        session_close(s, "too slow to read its messages");
    else if (s->slow_deadline)
        session_slow_deadline_passed(s);
    else
        session_protocol_error(s, "authentication timed out");
}

/* ------------------------------------------------------------------------
 * Counting sessions that have not logged in (limits.max_unauthenticated
 * and max_unauthenticated_per_address)
 */

void session_stop_counting_unauthenticated(struct session *s)
{
    if (!s->unauthenticated)
        return;
    s->unauthenticated = false;
    s->ep.broker->n_unauthenticated--;
    if (s->source != NULL)
        s->source->unauthenticated--;
}

static void release_source(struct session *s)
{
    session_stop_counting_unauthenticated(s);
    if (s->source != NULL)
        source_release(s->ep.broker->sources, s->source, 0);
    s->source = NULL;
}

/* ------------------------------------------------------------------------
 * Closing and freeing
 */

void session_schedule_free(struct session *s)
{
    struct broker *b = s->ep.broker;

    if (s->dying)
        return; /* already scheduled */
    s->dying = true;
    session_io_stop(s);
    session_stop_timer(s);
    SLIST_INSERT_HEAD(&b->dead, s, dead);
    event_active(b->reaper, 0, 0);
}

static void log_close(struct session *s, const char *reason)
{
    client_log_flush(&s->ep);
    if (s->ep.registered)
        log_info("client %s left: client=%s peer=%s listener=%s reason=%s",
                 LOG_VALUE(s->ep.name), LOG_VALUE(s->ep.name), s->ep.peer,
                 LOG_VALUE(s->listener->label), LOG_VALUE(reason));
    else if (!s->close_logged && client_log_allowed(s->ep.broker, NULL))
        log_info("connection from %s closed before authentication: peer=%s "
                 "listener=%s reason=%s", s->ep.peer, s->ep.peer,
                 LOG_VALUE(s->listener->label), LOG_VALUE(reason));
}

void session_close(struct session *s, const char *reason)
{
    if (s->state == SESSION_CLOSING)
        return;
    log_close(s, reason);
    auth_chain_cancel(s);
    if (s->claim != NULL || s->reclaim != NULL)
        cluster_cancel_claim(s->ep.broker->cluster, s);
    router_unregister(&s->ep, true);
    session_set_state(s, SESSION_CLOSING);
    flow_release(&s->ep);
    session_io_set_reading(s, false);
    ws_session_closing(s, reason); /* a WebSocket's Close frame */
    if (session_queued(s) == 0) {
        session_schedule_free(s);
        return;
    }
    /* Let the last words (AuthFailure, WAT) reach the client, within a
     * bounded time: a client that stops reading cannot hold us. */
    session_io_flush_before_close(s);
    /* At shutdown, the broker's shutdown_timeout_ms bounds it instead. */
    if (s->ep.broker->shutting_down)
        session_stop_timer(s);
    else
        session_set_timer(s, CLOSE_LINGER_MS);
}

void session_free(struct session *s)
{
    struct broker *b = s->ep.broker;

    auth_chain_cancel(s);
    if (s->claim != NULL || s->reclaim != NULL)
        cluster_cancel_claim(s->ep.broker->cluster, s);
    router_unregister(&s->ep, false);
    flow_release(&s->ep);
    TAILQ_REMOVE(&b->sessions, s, entry);
    b->n_sessions--;
    release_source(s);
    close_streams(s);
    session_io_free(s);
    if (s->timer != NULL)
        event_free(s->timer);
    endpoint_clear(&s->ep);
    s->listener->n_by_state[s->state]--;
    listener_session_gone(s->listener);
    free(s);
}

void sessions_reap(struct broker *b)
{
    while (!SLIST_EMPTY(&b->dead)) {
        struct session *s = SLIST_FIRST(&b->dead);
        SLIST_REMOVE_HEAD(&b->dead, dead);
        session_free(s);
    }
}

/* ------------------------------------------------------------------------
 * Errors and notices
 */

void session_send_notice(struct session *s, enum mp_meta meta,
                         const char *other_client,
                         const char *connection_id, size_t connection_id_len,
                         const char *reason)
{
    endpoint_send_notice(&s->ep, meta, other_client,
                         strnlen(other_client, MP_NAME_MAX), connection_id,
                         connection_id_len, reason, NULL);
}

void session_protocol_error(struct session *s, const char *reason)
{
    if (client_log_allowed(s->ep.broker, &s->ep))
        log_notice("protocol error from %s: client=%s peer=%s reason=%s",
                   s->ep.registered ? LOG_VALUE(s->ep.name)
                                    : "an unauthenticated client",
                   s->ep.registered ? LOG_VALUE(s->ep.name) : "-",
                   s->ep.peer, LOG_VALUE(reason));
    ws_session_set_close_code(s, s->state == SESSION_AUTHENTICATING
                                     ? WS_CLOSE_POLICY
                                     : WS_CLOSE_PROTOCOL_ERROR);
    if (s->state == SESSION_AUTHENTICATING)
        session_send_notice(s, MP_META_AUTH_FAILURE, s->ep.name, "", 0,
                            reason);
    else
        session_send_notice(s, MP_META_WAT, "", "", 0, reason);
    session_close(s, reason);
}

/*
 * A client that keeps sending what it should not (WAT-worthy messages,
 * Syns with ids not its own) is a broken or hostile one: NATS and
 * Mosquitto disconnect at the first protocol error; a level-1 client
 * survives a WAT, so a few are forgiven, but not a stream of them.
 */
enum { BAD_MESSAGE_WINDOW_S = 60 };

bool session_bad_message(struct session *s, const char *why)
{
    unsigned max = s->ep.broker->conf.bad_messages_max;
    struct timespec ts;
    uint32_t now;

    if (max == 0 || s->state != SESSION_READY)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint32_t)ts.tv_sec;
    if (s->bad_messages == 0 || now - s->bad_window_s >= BAD_MESSAGE_WINDOW_S) {
        s->bad_messages = 0;
        s->bad_window_s = now;
    }
    if (++s->bad_messages <= max)
        return false;
    s->ep.broker->stats.bad_message_disconnects++;
    log_warn("disconnecting %s after %u bad messages within %d s: client=%s "
             "peer=%s reason=bad_messages_max last=%s", LOG_VALUE(s->ep.name),
             s->bad_messages, BAD_MESSAGE_WINDOW_S, LOG_VALUE(s->ep.name),
             s->ep.peer, LOG_VALUE(why));
    session_send_notice(s, MP_META_WAT, "", "", 0, "too many bad messages");
    session_close(s, "too many bad messages");
    return true;
}

/* ------------------------------------------------------------------------
 * The endpoint operations other than deliver (session_output.c)
 */

/* Backpressure (flow.h): stop or start reading the client. */
static void session_set_reading(struct endpoint *ep, bool reading)
{
    session_io_set_reading(session_of(ep), reading);
}

static bool session_endpoint_bad_message(struct endpoint *ep, const char *why)
{
    return session_bad_message(session_of(ep), why);
}

static void session_endpoint_close(struct endpoint *ep, const char *reason)
{
    session_close(session_of(ep), reason);
}

/* ------------------------------------------------------------------------
 * Socket events and creation
 */

void session_lost(struct session *s, const char *reason)
{
    session_close(s, reason);
    /* The socket is gone: nothing left to flush. */
    session_schedule_free(s);
}

struct session *session_new(struct broker *b, struct listener *l,
                            evutil_socket_t fd, const char *peer,
                            struct source *source)
{
    struct session *s = mp_xcalloc(1, sizeof *s);

    endpoint_init(&s->ep, &session_endpoint_ops, b, peer);
    s->ep.is_client = true;
    s->ep.id = ++b->last_session_id;
    s->source = source; /* the session's now, released with it */
    s->unauthenticated = true;
    b->n_unauthenticated++;
    s->listener = l;
    l->n_sessions++;
    l->n_by_state[SESSION_AUTHENTICATING]++;
    s->state = SESSION_AUTHENTICATING;
    s->ep.format = l->translator;
    if (s->ep.format != NULL)
        session_open_streams(s);
    TAILQ_INSERT_HEAD(&b->sessions, s, entry);
    b->n_sessions++;

    session_io_open(s, fd);
    session_set_timer(s, b->conf.auth_timeout_ms);
    log_debug("connection from %s on %s", peer, l->label);
    return s;
}
