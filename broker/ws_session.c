/*
 * ws_session.c - a session over WebSocket (see ws_session.h): the opening
 * handshake, the frames of the client's messages, the broker's messages
 * framed, Ping/Pong, the close handshake and the idle timer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "broker.h"
#include "conf.h"
#include "flow.h"
#include "listener.h"
#include "log.h"
#include "plugin_loader.h"
#include "session-internal.h"
#include "ws_frame.h"
#include "ws_handshake.h"
#include "ws_session.h"
#include "xalloc.h"

/* A subprotocol is "mpbroker." and the translator module's name without
 * "translator_"; the formats a listener speaks are few. */
enum { WS_MAX_FORMATS = 16, WS_SUBPROTOCOL_MAX = 64 };

struct ws_listener {
    char *path;
    char **origins;
    size_t n_origins;
    unsigned ping_interval_s;
    char subprotocol_text[WS_MAX_FORMATS][WS_SUBPROTOCOL_MAX];
    const char *subprotocols[WS_MAX_FORMATS];
    const struct loaded_plugin *formats[WS_MAX_FORMATS];
    size_t n_formats;
};

struct ws_session {
    struct session *s;
    bool upgraded;              /* the 101 was queued */
    bool close_queued;          /* our Close frame is in the output */
    uint16_t close_code;        /* what it will say (0: from the state) */
    /* The frame being read: its header, and its payload bytes not read
     * yet (a data frame's payload is moved as it arrives). */
    bool in_frame;
    struct ws_frame_header frame;
    uint64_t frame_read;
    struct ws_message message;  /* fragmentation and UTF-8 */
    /* Silence: a Ping after ping_interval_s without input, a close after
     * two. */
    struct event *idle_timer;
    bool heard;                 /* input since the timer last fired */
    bool pinged;                /* a Ping is unanswered */
};

/* ------------------------------------------------------------------------
 * The listener's part
 */

/* "translator_json" -> "json": the format's name in a subprotocol. */
static const char *format_name(const struct loaded_plugin *t)
{
    const char *name = t->desc->name;

    return strncmp(name, "translator_", 11) == 0 ? name + 11 : name;
}

static void add_format(struct ws_listener *wl, const struct loaded_plugin *t)
{
    size_t i = wl->n_formats;

    if (i == WS_MAX_FORMATS)
        return;
    snprintf(wl->subprotocol_text[i], WS_SUBPROTOCOL_MAX, "mpbroker.%s",
             format_name(t));
    wl->subprotocols[i] = wl->subprotocol_text[i];
    wl->formats[i] = t;
    wl->n_formats++;
}

struct ws_listener *ws_listener_new(const struct listener_conf *lc,
                                    const struct plugin_set *set,
                                    const struct loaded_plugin *translator)
{
    struct ws_listener *wl;

    if (lc->ws.entry == NULL)
        return NULL;
    wl = mp_xcalloc(1, sizeof *wl);
    wl->path = mp_xstrdup(lc->ws.path);
    wl->ping_interval_s = lc->ws.ping_interval_s;
    wl->n_origins = lc->ws.n_origins;
    wl->origins = mp_xcalloc(wl->n_origins + 1, sizeof *wl->origins);
    for (size_t i = 0; i < lc->ws.n_origins; i++)
        wl->origins[i] = mp_xstrdup(lc->ws.origins[i]);
    if (translator != NULL)
        add_format(wl, translator);
    else
        for (size_t i = 0; i < set->n_translators; i++)
            add_format(wl, &set->translators[i]);
    return wl;
}

void ws_listener_free(struct ws_listener *wl)
{
    if (wl == NULL)
        return;
    for (size_t i = 0; i < wl->n_origins; i++)
        free(wl->origins[i]);
    free(wl->origins);
    free(wl->path);
    free(wl);
}

static void ws_policy_of(const struct ws_listener *wl, struct ws_policy *p)
{
    p->path = wl->path;
    p->origins = (const char *const *)wl->origins;
    p->n_origins = wl->n_origins;
    p->subprotocols = wl->subprotocols;
    p->n_subprotocols = wl->n_formats;
}

/* ------------------------------------------------------------------------
 * Sending frames
 */

static struct evbuffer *wire(struct session *s)
{
    return bufferevent_get_output(s->bev);
}

/* The header of a whole (FIN) frame of `len` bytes. */
static void queue_header(struct session *s, uint8_t opcode, size_t len)
{
    uint8_t header[WS_MAX_HEADER];

    evbuffer_add(wire(s), header,
                 ws_write_header(header, opcode, true, len, NULL));
}

static void queue_frame(struct session *s, uint8_t opcode,
                        const void *payload, size_t len)
{
    queue_header(s, opcode, len);
    evbuffer_add(wire(s), payload, len);
}

/* Text frames for JSON (a browser hands the page a string), binary ones
 * for every other format. */
static uint8_t data_opcode(const struct session *s)
{
    return s->ep.format != NULL && strcmp(format_name(s->ep.format), "json") == 0
               ? WS_OP_TEXT
               : WS_OP_BINARY;
}

void ws_session_queue_message(struct session *s, struct evbuffer *message)
{
    size_t len = evbuffer_get_length(message);

    if (!s->ws->upgraded || s->ws->close_queued) {
        evbuffer_drain(message, len);
        return;
    }
    queue_header(s, data_opcode(s), len);
    evbuffer_add_buffer(wire(s), message);
}

/* The code of our Close frame: the one set for the reason, else what
 * the broker's state says. */
static uint16_t close_code_of(const struct session *s)
{
    if (s->ws->close_code != 0)
        return s->ws->close_code;
    return s->ep.broker->shutting_down ? WS_CLOSE_GOING_AWAY
                                       : WS_CLOSE_NORMAL;
}

void ws_session_closing(struct session *s, const char *reason)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t n;

    if (s->ws == NULL || !s->ws->upgraded || s->ws->close_queued)
        return;
    n = ws_write_close_payload(payload, close_code_of(s), reason);
    queue_frame(s, WS_OP_CLOSE, payload, n);
    s->ws->close_queued = true;
}

void ws_session_set_close_code(struct session *s, uint16_t code)
{
    if (s->ws != NULL && s->ws->close_code == 0)
        s->ws->close_code = code;
}

/* A WebSocket rule was broken: close with its code. */
static void fail(struct session *s, uint16_t code, const char *why)
{
    char reason[160];

    s->ep.broker->stats.ws_protocol_errors++;
    ws_session_set_close_code(s, code);
    snprintf(reason, sizeof reason, "WebSocket: %s", why);
    session_close(s, reason);
}

/* ------------------------------------------------------------------------
 * The idle timer
 */

static void idle_timer_fired(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    struct ws_session *ws = s->ws;

    (void)fd;
    (void)what;
    if (s->state == SESSION_CLOSING)
        return;
    /* A client we are not reading (paused for a slow recipient) may well
     * have answered: its Pong waits unread. Only silence counts. */
    if (ws->heard || flow_is_paused(&s->ep) ||
        evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
        ws->heard = false;
        ws->pinged = false;
        return;
    }
    if (ws->pinged) {
        s->ep.broker->stats.ws_idle_closes++;
        ws_session_set_close_code(s, WS_CLOSE_GOING_AWAY);
        session_close(s, "WebSocket: no answer to Ping");
        return;
    }
    queue_frame(s, WS_OP_PING, NULL, 0);
    ws->pinged = true;
}

static void start_idle_timer(struct session *s)
{
    unsigned interval = s->listener->ws->ping_interval_s;
    struct timeval tv = {.tv_sec = interval};

    if (interval == 0)
        return;
    s->ws->idle_timer = event_new(s->ep.broker->base, -1, EV_PERSIST,
                                  idle_timer_fired, s);
    if (s->ws->idle_timer == NULL)
        mp_out_of_memory("an event", 0);
    event_add(s->ws->idle_timer, &tv);
}

/* ------------------------------------------------------------------------
 * The opening handshake
 */

static void refuse_upgrade(struct session *s, const struct ws_handshake *r)
{
    char reason[200];

    s->ep.broker->stats.ws_refused++;
    snprintf(reason, sizeof reason, "WebSocket handshake refused (%d: %s%s%s)",
             r->status, r->why, r->origin[0] ? "; origin " : "", r->origin);
    session_close(s, reason);
}

/* The format the subprotocol names; on an "auto" listener it is the
 * session's from now on (without one, the first message tells). */
static void take_subprotocol(struct session *s, int chosen)
{
    const struct ws_listener *wl = s->listener->ws;

    if (chosen < 0 || s->ep.format != NULL)
        return;
    s->ep.format = wl->formats[chosen];
    session_open_streams(s);
}

/* Returns true once the upgrade is done (the rest of `in` is frames). */
static bool handshake(struct session *s, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    size_t look = len < WS_MAX_REQUEST_HEAD ? len : WS_MAX_REQUEST_HEAD;
    const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
    size_t head = ws_request_head_length(buf, look);
    struct ws_policy policy;
    struct ws_handshake r;
    char answer[1024];
    size_t n;

    ws_policy_of(s->listener->ws, &policy);
    if (head == 0 && look < WS_MAX_REQUEST_HEAD)
        return false; /* not whole yet; the auth timeout bounds the wait */
    if (head == 0) {
        memset(&r, 0, sizeof r);
        r.status = 431;
        r.why = "request header fields too large";
        r.subprotocol = -1;
    } else {
        ws_handshake_check(buf, head, &policy, &r);
    }
    n = ws_handshake_answer(&r, &policy, answer, sizeof answer);
    evbuffer_add(wire(s), answer, n);
    if (r.status != 101) {
        refuse_upgrade(s, &r);
        return false;
    }
    evbuffer_drain(in, head);
    s->ws->upgraded = true;
    s->ep.broker->stats.ws_upgrades++;
    take_subprotocol(s, r.subprotocol);
    log_debug("WebSocket upgrade from %s on %s (subprotocol %s)", s->ep.peer,
              s->listener->label,
              r.subprotocol >= 0 ? policy.subprotocols[r.subprotocol]
                                 : "none");
    start_idle_timer(s);
    return true;
}

/* ------------------------------------------------------------------------
 * Reading frames
 */

/* The largest message payload the session takes now: what its decoder
 * would (limits.max_message_size, or before login
 * limits.max_auth_message_size), and a line end. */
static uint64_t message_limit(const struct session *s)
{
    const struct broker_conf *conf = &s->ep.broker->conf;

    return (s->state == SESSION_READY ? conf->max_message_size
                                      : conf->max_auth_message_size) + 2;
}

static void answer_close(struct session *s, const uint8_t *payload,
                         size_t len)
{
    uint16_t close_code, code;
    const uint8_t *reason_bytes;
    size_t reason_len;
    const char *why;
    char reason[160];

    if (!ws_parse_close(payload, len, &close_code, &reason_bytes, &reason_len,
                        &code, &why)) {
        fail(s, code, why);
        return;
    }
    /* Echo the client's code (section 5.5.1); none: a normal close. */
    ws_session_set_close_code(s, close_code == WS_CLOSE_NO_STATUS
                                     ? WS_CLOSE_NORMAL
                                     : close_code);
    snprintf(reason, sizeof reason, "closed by client (WebSocket close %u%s%.*s)",
             (unsigned)close_code, reason_len > 0 ? ": " : "",
             (int)(reason_len < 100 ? reason_len : 100),
             (const char *)reason_bytes);
    session_close(s, reason);
}

/* A whole control frame (header and payload in `in`). */
static void control_frame(struct session *s, struct evbuffer *in,
                          const struct ws_frame_header *h)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t len = (size_t)h->payload_len;

    evbuffer_drain(in, h->header_len);
    evbuffer_remove(in, payload, len);
    ws_unmask(payload, len, h->mask, 0);
    switch (h->opcode) {
    case WS_OP_PING:
        queue_frame(s, WS_OP_PONG, payload, len);
        break;
    case WS_OP_PONG:
        break; /* it was heard: that is all a Pong is for */
    case WS_OP_CLOSE:
        answer_close(s, payload, len);
        break;
    }
}

/* Move what has arrived of the current data frame's payload to the
 * session's input, unmasked. Returns false on invalid UTF-8. */
static bool take_payload(struct session *s, struct evbuffer *in)
{
    struct ws_session *ws = s->ws;
    uint64_t left = ws->frame.payload_len - ws->frame_read;
    size_t n = evbuffer_get_length(in);
    struct evbuffer_iovec v;
    const char *why;
    uint16_t code;

    if (n > left)
        n = (size_t)left;
    if (n == 0)
        return true;
    if (evbuffer_reserve_space(session_input(s), (ev_ssize_t)n, &v, 1) < 1)
        mp_out_of_memory("a WebSocket payload", n);
    evbuffer_remove(in, v.iov_base, n);
    ws_unmask(v.iov_base, n, ws->frame.mask, ws->frame_read);
    ws->frame_read += n;
    if (!ws_message_payload(&ws->message, v.iov_base, n, &code, &why)) {
        fail(s, code, why);
        return false;
    }
    v.iov_len = n;
    evbuffer_commit_space(session_input(s), &v, 1);
    return true;
}

/* The next frame's header, once whole: a control frame is handled once
 * its payload is in too; a data frame opens its payload. Returns false
 * when it must wait or the session closed. */
static bool next_frame(struct session *s, struct evbuffer *in)
{
    struct ws_session *ws = s->ws;
    size_t len = evbuffer_get_length(in);
    size_t look = len < WS_MAX_HEADER ? len : WS_MAX_HEADER;
    const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)look);
    struct ws_frame_header h;
    enum ws_parse_status st;
    const char *why = NULL;
    uint16_t code = 0;

    st = ws_parse_header(buf, look, true, message_limit(s), &h, &code, &why);
    if (st == WS_PARSE_NEED_MORE)
        return false;
    if (st == WS_PARSE_ERROR) {
        fail(s, code, why);
        return false;
    }
    if (h.opcode >= WS_OP_CLOSE) {
        if (len < h.header_len + h.payload_len)
            return false;
        control_frame(s, in, &h);
        return s->state != SESSION_CLOSING;
    }
    if (ws_message_frame(&ws->message, &h, message_limit(s), &code, &why) !=
        WS_PARSE_OK) {
        fail(s, code, why);
        return false;
    }
    evbuffer_drain(in, h.header_len);
    ws->frame = h;
    ws->frame_read = 0;
    ws->in_frame = true;
    return true;
}

/* Read frames while they are whole enough. Returns false if the
 * session closed. */
static bool read_frames(struct session *s, struct evbuffer *in)
{
    struct ws_session *ws = s->ws;
    const char *why;
    uint16_t code;

    while (s->state != SESSION_CLOSING) {
        if (!ws->in_frame) {
            if (!next_frame(s, in))
                break;
            continue;
        }
        if (!take_payload(s, in))
            return false;
        if (ws->frame_read < ws->frame.payload_len)
            break; /* the rest of the payload is still on its way */
        ws->in_frame = false;
        if (ws->frame.fin && !ws_message_end(&ws->message, &code, &why)) {
            fail(s, code, why);
            return false;
        }
    }
    return s->state != SESSION_CLOSING;
}

void ws_session_read(struct session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);

    if (s->state == SESSION_CLOSING)
        return;
    if (!s->ws->upgraded && s->listener->ws == NULL) {
        session_close(s, "the listener no longer speaks WebSocket (reload)");
        return;
    }
    if (!s->ws->upgraded && !handshake(s, in))
        return;
    if (evbuffer_get_length(in) > 0)
        s->ws->heard = true;
    if (!read_frames(s, in))
        return;
    if (session_input_length(s) > 0)
        session_input_arrived(s);
}

/* ------------------------------------------------------------------------
 * Creating and freeing
 */

struct ws_session *ws_session_new(struct session *s)
{
    struct ws_session *ws = mp_xcalloc(1, sizeof *ws);

    ws->s = s;
    ws->heard = true;
    return ws;
}

void ws_session_free(struct ws_session *ws)
{
    if (ws == NULL)
        return;
    if (ws->idle_timer != NULL)
        event_free(ws->idle_timer);
    free(ws);
}
