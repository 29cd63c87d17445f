/*
 * session-internal.h - what the files of a session (session.h lists
 * them) share with each other and nobody else.
 */
#ifndef MP_BROKER_SESSION_INTERNAL_H
#define MP_BROKER_SESSION_INTERNAL_H

#include <stddef.h>

#include "codec.h"
#include "plugin_loader.h"
#include "session.h"

struct bufferevent;
struct mp_message;

static inline const struct mp_codec_ops *session_codec(const struct session *s)
{
    return s->ep.format->desc->codec;
}

/* session.c */
/* Arm the session's timer (its auth timeout, close linger or
 * slow-consumer deadline), making it first if need be. */
void session_set_timer(struct session *s, unsigned ms);
void session_stop_timer(struct session *s);
/* Open the codec streams of the session's format. */
void session_open_streams(struct session *s);
/* No longer counted as not logged in (it logged in, or is going). */
void session_stop_counting_unauthenticated(struct session *s);

/* session_output.c */
/* The endpoint's deliver operation (endpoint.h). */
int session_deliver(struct endpoint *to, const struct mp_message *msg,
                    const struct wire_data *wire, struct endpoint *sender);
/* The bufferevent's write callback: output fell below output_low_water. */
void session_output_drained(struct bufferevent *bev, void *arg);
/* The slow-consumer deadline passed: disconnect the session. */
void session_slow_deadline_passed(struct session *s);
/* The session's traffic counters (its listener's, for its format). */
struct traffic_stats *session_traffic(const struct session *s);

/* session_input.c */
void session_read_cb(struct bufferevent *bev, void *arg);

/* login.c */
/* The first message of a session: Auth, or a protocol error. */
void session_begin_login(struct session *s, const struct mp_message *msg);

#endif
