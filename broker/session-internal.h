/*
 * session-internal.h - what the files of a session (session.h lists
 * them) share with each other and nobody else.
 */
#ifndef MP_BROKER_SESSION_INTERNAL_H
#define MP_BROKER_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/util.h>

#include "codec.h"
#include "plugin_loader.h"
#include "session.h"

struct broker_conf;
struct evbuffer;
struct mp_message;

static inline const struct mp_codec_ops *session_codec(const struct session *s)
{
    return &s->ep.format->codec;
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
/* Stop its I/O and free it from the loop (the reaper), soon. */
void session_schedule_free(struct session *s);
/* The socket is gone (`reason`): close, with nothing left to flush. */
void session_lost(struct session *s, const char *reason);

/* session_io.c: the socket (see there for why plain sockets have no
 * bufferevent). Buffers returned are valid until control returns to the
 * loop. */
/* Start reading the accepted socket `fd`, which the session now owns
 * (s->listener and s->ep.broker set). */
void session_io_open(struct session *s, evutil_socket_t fd);
/* No more reading or writing (the session is being freed). */
void session_io_stop(struct session *s);
/* Free the events, the buffers and the socket. */
void session_io_free(struct session *s);
/* A reload's output_low_water (TLS; plain sockets read it as they go). */
void session_io_apply_limits(struct session *s, const struct broker_conf *conf);
/* Backpressure: stop or resume reading; resuming also handles what was
 * buffered meanwhile, from the loop. */
void session_io_set_reading(struct session *s, bool reading);
/* What the client sent and nobody handled yet (made if need be). */
struct evbuffer *session_input(struct session *s);
size_t session_input_length(const struct session *s);
/* What waits to be written to the client (made if need be). */
struct evbuffer *session_output(struct session *s);
size_t session_queued(const struct session *s);
void session_discard_output(struct session *s);
/* Bytes were added to session_output(): write them at the end of this
 * turn of the loop. */
void session_io_written(struct session *s);
/* Closing: free the session once what is queued is out. */
void session_io_flush_before_close(struct session *s);

/* session_output.c */
/* The endpoint's deliver operation (endpoint.h). */
int session_deliver(struct endpoint *to, const struct mp_message *msg,
                    const struct wire_data *wire, struct endpoint *sender);

/* The endpoint's credit operation (endpoint.h): a Credit message for a
 * level-2 client; nothing for a level-1 one. */
void session_credit(struct endpoint *ep, struct conn *conn,
                    const struct endpoint *receiver, uint64_t bytes);
/* Output fell to output_low_water or below: resume paused senders. */
void session_output_drained(struct session *s);
/* The slow-consumer deadline passed: disconnect the session. */
void session_slow_deadline_passed(struct session *s);
/* The session's traffic counters (its listener's, for its format). */
struct traffic_stats *session_traffic(const struct session *s);

/* session_input.c */
/* Bytes arrived (or were waiting): handle what is whole. */
void session_input_arrived(struct session *s);

/* login.c */
/* The first message of a session: Auth, or a protocol error. */
void session_begin_login(struct session *s, const struct mp_message *msg);

#endif
