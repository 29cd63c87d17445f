/*
 * session_input.c - reading what a session's client sends: sniffing its
 * format on an "auto" listener, decoding, and handing each message to
 * the login (before Auth) or to the router (after).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "broker.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "router.h"
#include "session-internal.h"
#include "ws_frame.h"
#include "ws_session.h"

/* Say in words why an "auto" listener closes, or the client sees only a
 * closed socket while the reason is in our log: one line, of bounded
 * length (this is before authentication), listing the formats this
 * listener speaks (doc/protocol.md). */
static void refuse_unknown_format(struct session *s, unsigned char first)
{
    const struct plugin_set *set = &s->ep.broker->plugins;
    char line[256] = "mpbroker: unknown wire format; this listener speaks:";
    size_t n = strlen(line);

    for (size_t i = 0; i < set->n_translators; i++) {
        int w = snprintf(line + n, sizeof line - n - 1, "%s %s",
                         i > 0 ? "," : "", set->translators[i].name);
        if (w < 0 || (size_t)w >= sizeof line - n - 1)
            break; /* what does not fit is left out */
        n += (size_t)w;
    }
    line[n++] = '\n';
    ws_session_set_close_code(s, WS_CLOSE_PROTOCOL_ERROR);
    evbuffer_add(session_output(s), line, n);
    session_io_written(s);
    if (client_log_allowed(s->ep.broker, &s->ep))
        log_notice("closing connection from %s: not a known wire format "
                   "(first byte 0x%02x)", s->ep.peer, first);
    session_close(s, "unknown wire format");
}

/* For an "auto" listener: pick the first translator that recognizes the
 * stream's first bytes. Returns false if it cannot tell yet or closed. */
static bool pick_translator(struct session *s, const unsigned char *buf,
                            size_t len)
{
    const struct plugin_set *set = &s->ep.broker->plugins;
    bool undecided = false;

    for (size_t i = 0; i < set->n_translators; i++) {
        const struct loaded_plugin *t = &set->translators[i];
        int r = t->codec.sniff ? t->codec.sniff(buf, len) : 0;
        if (r == 1) {
            s->ep.format = t;
            session_open_streams(s);
            return true;
        }
        undecided |= r < 0;
    }
    if (!undecided)
        refuse_unknown_format(s, buf[0]);
    return false;
}

/* One message's bytes were used: drop them from the input, count them. */
static void consume_input(struct session *s, struct evbuffer *in,
                          size_t consumed)
{
    evbuffer_drain(in, consumed);
    session_traffic(s)->messages_in++;
    session_traffic(s)->bytes_in += consumed;
}

/*
 * The fast lane (the translator's decode_wire and encode_wire): a message
 * read with its data left in wire form, which the router passes on as it
 * came to a client of the same format (binary: a header rewrite; JSON:
 * the base64 text passed on) and decodes once for any other. Returns
 * true when the first message in `in` went that way and was consumed;
 * false leaves it to the general path (anything decode_wire does not
 * take, invalid input included: decode() words the errors). `msg` is
 * empty on entry, and on a false return again.
 */
static bool route_wire(struct session *s, struct evbuffer *in,
                       const unsigned char *buf, size_t len,
                       struct mp_message *msg)
{
    const struct mp_codec_ops *codec = session_codec(s);
    size_t consumed, wire_off, wire_len, data_len;
    enum route_result routed;

    /* The loader keeps both halves of the fast lane or neither. */
    if (codec->decode_wire == NULL || s->state != SESSION_READY)
        return false;
    /* Not taken: msg is untouched (the decode_wire contract), but for
     * the length we ask it to set. */
    msg->data_len = SIZE_MAX;
    if (!codec->decode_wire(s->decode_stream, buf, len,
                            s->ep.broker->conf.max_message_size, msg,
                            &consumed, &wire_off, &wire_len)) {
        msg->data_len = 0;
        return false;
    }
    data_len = msg->data_len;
    msg->data_len = 0; /* the data is not in msg */
    /* A 0.2 plugin does not tell the length credit needs: decode(). */
    if (data_len == SIZE_MAX) {
        mp_message_clear(msg);
        mp_zero(msg, sizeof *msg);
        return false;
    }
    routed = route(&s->ep, msg,
                   &(struct wire_data){.bytes = buf + wire_off,
                                       .len = wire_len,
                                       .data_len = data_len,
                                       .format = s->ep.format});
    mp_message_clear(msg);
    if (routed == ROUTED)
        consume_input(s, in, consumed); /* after routing: wire is in `in` */
    return routed == ROUTED;
}

/* The largest message the client may send now: before login, an Auth
 * needs a few hundred bytes, and a socket that never logs in must not
 * hold a partial message of max_message_size (limits.max_auth_message_size). */
static size_t input_limit(const struct session *s)
{
    const struct broker_conf *conf = &s->ep.broker->conf;

    return s->state == SESSION_READY ? conf->max_message_size
                                     : conf->max_auth_message_size;
}

/* Decode and handle one message. Returns false when the loop must stop
 * (need more bytes, waiting for an authenticator, paused or closing). */
static bool process_one(struct session *s, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    const unsigned char *buf;
    struct mp_message msg;
    size_t consumed = 0;
    char err[200];
    enum mp_decode_status st;

    if (len == 0 || s->state == SESSION_CLOSING || session_login_waits(s) ||
        flow_is_paused(&s->ep))
        return false;
    /* One copy per read at most: after it, the buffered messages lie in
     * one chunk, and the next calls find them there. */
    buf = evbuffer_pullup(in, -1);
    if (s->ep.format == NULL && !pick_translator(s, buf, len))
        return false;
    mp_zero(&msg, sizeof msg); /* not memset: see mp_zero() */
    if (route_wire(s, in, buf, len, &msg))
        return true;
    err[0] = '\0';
    st = session_codec(s)->decode(s->decode_stream, buf, len, input_limit(s),
                                  &msg, &consumed, err, sizeof err);
    if (st == MP_DECODE_NEED_MORE)
        return false;
    if (st != MP_DECODE_OK) {
        err[sizeof err - 1] = '\0';
        session_protocol_error(s, err[0] ? err : "malformed message");
        return false;
    }
    consume_input(s, in, consumed);
    if (s->state == SESSION_AUTHENTICATING)
        session_begin_login(s, &msg);
    else
        route(&s->ep, &msg, NULL);
    mp_message_clear(&msg);
    return true;
}

void session_process_input(struct session *s)
{
    struct evbuffer *in;

    if (session_input_length(s) == 0)
        return;
    in = session_input(s);
    s->processing = true;
    while (process_one(s, in))
        ;
    s->processing = false;
}

void session_input_arrived(struct session *s)
{
    /* While an authenticator (or the cluster's registry) decides, input
     * waits in the buffer (reading goes on so that a client leaving is
     * noticed and its ticket cancelled), but no more than a message
     * allowed before login. */
    if (session_login_waits(s) && session_input_length(s) > input_limit(s)) {
        session_protocol_error(s, "too much data before authentication "
                                  "completed");
        return;
    }
    session_process_input(s);
}
