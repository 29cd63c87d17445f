/*
 * session_output.c - queueing for a session's client: the endpoint's
 * deliver operation, the output limits (output_high_water, output_hard_limit)
 * and the slow-consumer deadline. Who gets paused is flow.c's business.
 */
#include "config.h"

#include <stdio.h>

#include <event2/buffer.h>

#include "broker.h"
#include "conn_table.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "session-internal.h"

/* Drop a client that cannot keep up: its backlog goes at once (that is
 * what we must not keep), and no more is queued for it. The close itself
 * runs from the loop (the session timer): we may be deep inside routing
 * or inside another client's departure here. */
static void drop_slow_consumer(struct session *s, size_t queued,
                               const char *limit)
{
    log_warn("disconnecting slow client %s: client=%s peer=%s queued=%zu "
             "reason=%s", LOG_VALUE(s->ep.name), LOG_VALUE(s->ep.name),
             s->ep.peer, queued, limit);
    session_discard_output(s);
    s->too_slow = true;
    s->slow_deadline = false;
    s->ep.broker->stats.slow_disconnects++;
    session_set_timer(s, 0);
}

void session_slow_deadline_passed(struct session *s)
{
    s->ep.broker->stats.slow_deadline_disconnects++;
    drop_slow_consumer(s, session_queued(s),
                       "slow_consumer_timeout_ms");
}

/*
 * The slow-consumer deadline (limits.slow_consumer_timeout_ms, as NATS's
 * write_deadline): a client whose queue passed the high water mark must
 * drain it below the low water mark within the deadline. Without it, a
 * client that never reads would keep its senders paused for as long as
 * it stays connected - and a paused server is paused for all of its
 * clients - while its own queue never reaches the hard limit, because
 * the pause stops the messages that would fill it.
 */
static void start_slow_deadline(struct session *s)
{
    unsigned ms = s->ep.broker->conf.slow_consumer_timeout_ms;

    if (ms == 0 || s->slow_deadline || s->too_slow ||
        s->state != SESSION_READY)
        return;
    s->slow_deadline = true;
    session_set_timer(s, ms);
}

static void stop_slow_deadline(struct session *s)
{
    if (!s->slow_deadline)
        return;
    s->slow_deadline = false;
    session_stop_timer(s);
}

void session_output_drained(struct session *s)
{
    stop_slow_deadline(s);
    flow_resume_senders(&s->ep);
}

/* After queueing for `s` a message of `sender` (NULL: the broker's own):
 * apply the limits to its output. */
static void check_output(struct session *s, size_t before,
                         struct endpoint *sender)
{
    const struct broker_conf *conf = &s->ep.broker->conf;
    size_t queued = session_queued(s);

    /* Only a queue that was already past the high water mark makes a
     * client too slow: one message re-encoded for it (JSON escapes and
     * base64 grow it) may alone pass the hard limit of a small config,
     * and that says nothing about the reader. The queue stays bounded by
     * the hard limit plus one message. */
    if (queued > conf->output_hard_limit && before > conf->output_high_water) {
        drop_slow_consumer(s, queued, "output_hard_limit");
        return;
    }
    if (queued <= conf->output_high_water)
        return;
    start_slow_deadline(s);
    if (sender != NULL)
        flow_pause(sender, &s->ep);
}

static int write_to_evbuffer(void *ctx, const void *bytes, size_t len)
{
    return evbuffer_add(ctx, bytes, len);
}

struct traffic_stats *session_traffic(const struct session *s)
{
    return &s->listener->traffic[s->ep.format->translator_index];
}

/*
 * A level-1 client is never sent a level-2 meta value: a Denied reaches
 * it as the UnknownProto it knows (without the reason), anything else is
 * not sent at all. Returns msg, `*as_level1` rewritten from it, or NULL.
 */
static const struct mp_message *for_level(const struct session *s,
                                          const struct mp_message *msg,
                                          struct mp_message *as_level1)
{
    if (msg->meta <= MP_META_LEVEL1_MAX || s->ep.level >= 2)
        return msg;
    if (msg->meta != MP_META_DENIED)
        return NULL;
    mp_copy(as_level1, msg, sizeof *msg);
    as_level1->meta = MP_META_UNKNOWN_PROTO;
    as_level1->has_data = false;
    as_level1->data = NULL;
    as_level1->data_len = 0;
    return as_level1;
}

/* Is `sender` paused when this message passes the high water mark? Not
 * for Data to a level-2 client: each connection's credit bounds that, and
 * pausing the sender would stall its other connections. */
static bool pauses_sender(const struct session *s, const struct mp_message *msg)
{
    return s->ep.level < 2 || msg->meta != MP_META_DATA;
}

int session_deliver(struct endpoint *to, const struct mp_message *msg,
                    const struct wire_data *wire, struct endpoint *sender)
{
    struct session *s = session_of(to);
    const struct mp_codec_ops *codec;
    struct mp_message as_level1;
    struct evbuffer *out;
    size_t before, queued_before;
    int rc;

    if (s->state == SESSION_CLOSING || s->ep.format == NULL || s->too_slow)
        return -1;
    msg = for_level(s, msg, &as_level1);
    if (msg == NULL)
        return 0;
    if (msg == &as_level1)
        wire = NULL;
    codec = session_codec(s);
    out = session_output(s);
    before = evbuffer_get_length(out);
    queued_before = session_queued(s);
    rc = wire != NULL ? codec->encode_wire(s->encode_stream, msg, wire->bytes,
                                           wire->len, write_to_evbuffer, out)
                      : codec->encode(s->encode_stream, msg,
                                      write_to_evbuffer, out);
    if (rc != 0) {
        log_warn("cannot encode %s for client %s (peer %s, format %s)",
                 mp_meta_name(msg->meta), s->ep.name, s->ep.peer,
                 s->ep.format->name);
        return -1;
    }
    session_traffic(s)->messages_out++;
    session_traffic(s)->bytes_out += evbuffer_get_length(out) - before;
    session_io_written(s);
    check_output(s, queued_before, pauses_sender(s, msg) ? sender : NULL);
    return 0;
}

void session_credit(struct endpoint *ep, struct conn *conn,
                    const struct endpoint *receiver, uint64_t bytes)
{
    char text[24];

    if (ep->level < 2)
        return;
    snprintf(text, sizeof text, "%llu", (unsigned long long)bytes);
    ep->broker->stats.credit_grants++;
    endpoint_send_notice(ep, MP_META_CREDIT, receiver->name,
                         receiver->name_len, conn->id, conn->id_len, text,
                         NULL);
}
