/* session.c - one client connection (see session.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth_chain.h"
#include "auth_throttle.h"
#include "bev_output.h"
#include "codec.h"
#include "broker.h"
#include "listener.h"
#include "log.h"
#include "message.h"
#include "name.h"
#include "read_batch.h"
#include "router.h"
#include "session.h"
#include "sources.h"
#include "tls.h"

/* How long a closing session may take to flush what is queued for it
 * (an AuthFailure, a WAT) before its socket is closed anyway. */
enum { CLOSE_LINGER_MS = 2000 };

static const struct mp_codec_ops *codec_of(const struct session *s)
{
    return &s->translator->codec;
}

static int open_streams(struct session *s)
{
    return mp_codec_streams_open(codec_of(s), s->translator->state,
                                 &s->decode_stream, &s->encode_stream);
}

static void close_streams(struct session *s)
{
    if (s->translator != NULL)
        mp_codec_streams_close(codec_of(s), s->decode_stream,
                               s->encode_stream);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg);
static void schedule_free(struct session *s);

/* The name of a session before Auth. */
static char no_name[] = "";

/* Arm the session's timer, making it first if the session has none. If
 * that fails (out of memory), the session is freed at once: what the
 * timer was for (a timeout, a bounded linger) must not be lost. */
static void set_timer(struct session *s, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (s->timer == NULL)
        s->timer = evtimer_new(s->broker->base, timer_fired, s);
    if (s->timer == NULL) {
        log_error("cannot arm a timer for %s (out of memory): closing it now",
                  s->peer);
        schedule_free(s);
        return;
    }
    evtimer_add(s->timer, &tv);
}

static void stop_timer(struct session *s)
{
    if (s->timer != NULL)
        evtimer_del(s->timer);
}

/* ------------------------------------------------------------------------
 * Backpressure: when a recipient's queued output passes output_high_water,
 * the client whose message put it there stops being read; when the output
 * drains below output_low_water (the bufferevent's write watermark), every
 * client it paused is read again. A recipient whose output passes
 * output_hard_limit anyway (many senders, broker notices) is disconnected
 * as too slow. So no queue grows without bound, and a sender is never
 * dropped for going faster than a reader.
 */

static int list_add(struct session_list *l, struct session *s)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct session **items = realloc(l->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = s;
    return 0;
}

static void list_remove(struct session_list *l, const struct session *s)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->items[i] == s) {
            l->items[i] = l->items[--l->count];
            return;
        }
    }
}

static bool list_contains(const struct session_list *l, const struct session *s)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->items[i] == s)
            return true;
    }
    return false;
}

static void pause_sender(struct session *sender, struct session *recipient)
{
    if (list_contains(&recipient->paused, sender))
        return;
    if (list_add(&recipient->paused, sender) != 0)
        return; /* out of memory: the hard limit still bounds the queue */
    if (list_add(&sender->blockers, recipient) != 0) {
        list_remove(&recipient->paused, sender);
        return;
    }
    if (sender->blockers.count == 1) {
        sender->broker->stats.backpressure_stalls++;
        log_debug("pausing %s: %s has %zu bytes queued", sender->name,
                  recipient->name,
                  evbuffer_get_length(bufferevent_get_output(recipient->bev)));
        bufferevent_disable(sender->bev, EV_READ);
    }
}

/* `recipient` no longer holds anyone: read its paused senders again. */
static void resume_senders(struct session *recipient)
{
    while (recipient->paused.count > 0) {
        struct session *sender = recipient->paused.items[--recipient->paused.count];
        list_remove(&sender->blockers, recipient);
        if (sender->blockers.count > 0 || sender->state == SESSION_CLOSING)
            continue;
        log_debug("resuming %s", sender->name);
        bufferevent_enable(sender->bev, EV_READ);
        /* What it sent meanwhile waits in its input buffer: run its read
         * callback from the loop, not from inside whoever resumed it. */
        if (evbuffer_get_length(bufferevent_get_input(sender->bev)) > 0)
            bufferevent_trigger(sender->bev, EV_READ,
                                BEV_TRIG_IGNORE_WATERMARKS |
                                    BEV_TRIG_DEFER_CALLBACKS);
    }
}

/* Forget every pause this session is part of (it is going away). */
static void release_pauses(struct session *s)
{
    resume_senders(s);
    while (s->blockers.count > 0) {
        struct session *recipient = s->blockers.items[--s->blockers.count];
        list_remove(&recipient->paused, s);
    }
    free(s->paused.items);
    free(s->blockers.items);
    memset(&s->paused, 0, sizeof s->paused);
    memset(&s->blockers, 0, sizeof s->blockers);
}

/* Drop a client that cannot keep up: its backlog goes at once (that is
 * what we must not keep), and no more is queued for it. The close itself
 * runs from the loop (the session timer): we may be deep inside routing
 * or inside another client's departure here. */
static void drop_slow_consumer(struct session *s, size_t queued,
                               const char *limit)
{
    log_warn("disconnecting slow client %s: client=%s peer=%s queued=%zu "
             "reason=%s", LOG_VALUE(s->name), LOG_VALUE(s->name), s->peer,
             queued, limit);
    mp_bev_discard_output(s->bev);
    s->too_slow = true;
    s->slow_deadline = false;
    s->broker->stats.slow_disconnects++;
    set_timer(s, 0);
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
    unsigned ms = s->broker->conf.slow_consumer_timeout_ms;

    if (ms == 0 || s->slow_deadline || s->too_slow ||
        s->state != SESSION_READY)
        return;
    s->slow_deadline = true;
    set_timer(s, ms);
}

static void stop_slow_deadline(struct session *s)
{
    if (!s->slow_deadline)
        return;
    s->slow_deadline = false;
    stop_timer(s);
}

/* Output fell below output_low_water. */
static void output_drained(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;

    (void)bev;
    stop_slow_deadline(s);
    resume_senders(s);
}

/* After queueing for `s`: apply the limits to its output. */
static void check_output(struct session *s, size_t before)
{
    const struct broker_conf *conf = &s->broker->conf;
    size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev));

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
    if (s->broker->sender != NULL &&
        s->broker->sender->state != SESSION_CLOSING)
        pause_sender(s->broker->sender, s);
}

/* ------------------------------------------------------------------------
 * Output
 */

static int write_to_evbuffer(void *ctx, const void *bytes, size_t len)
{
    return evbuffer_add(ctx, bytes, len);
}

/* The traffic counters of this session's listener and format. */
static struct traffic_stats *traffic_of(const struct session *s)
{
    return &s->listener->traffic[s->translator -
                                 s->broker->plugins.translators];
}

/* Encode msg for s, its data as bytes (wire NULL) or in wire form. */
static int send_encoded(struct session *s, const struct mp_message *msg,
                        const unsigned char *wire, size_t wire_len)
{
    const struct mp_codec_ops *codec;
    struct evbuffer *out;
    size_t before;
    int rc;

    if (s->state == SESSION_CLOSING || s->translator == NULL || s->too_slow)
        return -1;
    codec = codec_of(s);
    out = bufferevent_get_output(s->bev);
    before = evbuffer_get_length(out);
    rc = wire != NULL ? codec->encode_wire(s->encode_stream, msg, wire,
                                           wire_len, write_to_evbuffer, out)
                      : codec->encode(s->encode_stream, msg,
                                      write_to_evbuffer, out);
    if (rc != 0) {
        log_warn("cannot encode %s for client %s (peer %s, format %s)",
                 mp_meta_name(msg->meta), s->name, s->peer,
                 s->translator->name);
        return -1;
    }
    traffic_of(s)->messages_out++;
    traffic_of(s)->bytes_out += evbuffer_get_length(out) - before;
    check_output(s, before);
    return 0;
}

int session_send(struct session *s, const struct mp_message *msg)
{
    return send_encoded(s, msg, NULL, 0);
}

int session_send_wire(struct session *s, const struct mp_message *msg,
                      const unsigned char *wire, size_t wire_len)
{
    /* A NULL wire means "decoded data" to send_encoded(): empty data
     * in wire form is any pointer with length 0. */
    return send_encoded(s, msg, wire != NULL ? wire : (const unsigned char *)"",
                        wire_len);
}

void session_send_notice(struct session *s, enum mp_meta meta,
                         const char *other_client,
                         const char *connection_id, size_t connection_id_len,
                         const char *reason)
{
    struct mp_message msg;

    memset(&msg, 0, sizeof msg);
    msg.meta = (uint8_t)meta;
    mp_message_set_other_client(&msg, other_client,
                                strnlen(other_client, MP_NAME_MAX));
    mp_message_set_connection_id(&msg, connection_id, connection_id_len);
    if (reason != NULL && mp_message_set_data(&msg, reason, strlen(reason)) != 0)
        mp_message_clear_data(&msg);
    session_send(s, &msg);
    mp_message_clear(&msg);
}

/* ------------------------------------------------------------------------
 * Counting sessions that have not logged in (limits.max_unauthenticated
 * and max_unauthenticated_per_address)
 */

static void stop_counting_unauthenticated(struct session *s)
{
    if (!s->unauthenticated)
        return;
    s->unauthenticated = false;
    s->broker->n_unauthenticated--;
    if (s->source != NULL)
        s->source->unauthenticated--;
}

static void release_source(struct session *s)
{
    stop_counting_unauthenticated(s);
    if (s->source != NULL)
        source_release(s->broker->sources, s->source, 0);
    s->source = NULL;
}

/* ------------------------------------------------------------------------
 * Closing and freeing
 */

static void schedule_free(struct session *s)
{
    struct broker *b = s->broker;

    if (s->dying)
        return; /* already scheduled */
    s->dying = true;
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    stop_timer(s);
    s->next_dead = b->dead;
    b->dead = s;
    event_active(b->reaper, 0, 0);
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

static void close_when_flushed(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;

    (void)bev;
    schedule_free(s);
}

void session_close(struct session *s, const char *reason)
{
    if (s->state == SESSION_CLOSING)
        return;
    client_log_flush(s);
    if (s->registered)
        log_info("client %s left: client=%s peer=%s listener=%s reason=%s",
                 LOG_VALUE(s->name), LOG_VALUE(s->name), s->peer,
                 LOG_VALUE(s->listener->label), LOG_VALUE(reason));
    else if (!s->close_logged && client_log_allowed(s->broker, NULL))
        log_info("connection from %s closed before authentication: peer=%s "
                 "listener=%s reason=%s", s->peer, s->peer,
                 LOG_VALUE(s->listener->label), LOG_VALUE(reason));
    auth_chain_cancel(s);
    router_unregister(s, true);
    s->state = SESSION_CLOSING;
    release_pauses(s);
    bufferevent_disable(s->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
        schedule_free(s);
        return;
    }
    /* Let the last words (AuthFailure, WAT) reach the client, within a
     * bounded time: a client that stops reading cannot hold us. */
    bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(s->bev, NULL, close_when_flushed, event_cb, s);
    /* At shutdown, the broker's shutdown_timeout_ms bounds it instead. */
    if (s->broker->shutting_down)
        stop_timer(s);
    else
        set_timer(s, CLOSE_LINGER_MS);
}

void session_free(struct session *s)
{
    struct broker *b = s->broker;

    auth_chain_cancel(s);
    router_unregister(s, false);
    release_pauses(s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        b->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    b->n_sessions--;
    release_source(s);
    close_streams(s);
    bufferevent_free(s->bev);
    if (s->timer != NULL)
        event_free(s->timer);
    if (s->name != no_name)
        free(s->name);
    listener_session_gone(s->listener);
    free(s);
}

void sessions_reap(struct broker *b)
{
    while (b->dead != NULL) {
        struct session *s = b->dead;
        b->dead = s->next_dead;
        s->next_dead = NULL;
        session_free(s);
    }
}

/* A fatal problem with what the client sent: answer with the protocol's
 * error (AuthFailure before login, WAT after) and close. */
static void protocol_error(struct session *s, const char *reason)
{
    if (client_log_allowed(s->broker, s))
        log_notice("protocol error from %s: client=%s peer=%s reason=%s",
                   s->registered ? LOG_VALUE(s->name)
                                 : "an unauthenticated client",
                   s->registered ? LOG_VALUE(s->name) : "-", s->peer,
                   LOG_VALUE(reason));
    if (s->state == SESSION_AUTHENTICATING)
        session_send_notice(s, MP_META_AUTH_FAILURE, s->name, "", 0, reason);
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
    unsigned max = s->broker->conf.bad_messages_max;
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
    s->broker->stats.bad_message_disconnects++;
    log_warn("disconnecting %s after %u bad messages within %d s: client=%s "
             "peer=%s reason=bad_messages_max last=%s", LOG_VALUE(s->name),
             s->bad_messages, BAD_MESSAGE_WINDOW_S, LOG_VALUE(s->name), s->peer,
             LOG_VALUE(why));
    session_send_notice(s, MP_META_WAT, "", "", 0, "too many bad messages");
    session_close(s, "too many bad messages");
    return true;
}

/* ------------------------------------------------------------------------
 * Authentication
 */

static void refuse_login(struct session *s, const char *reason);

/* What a login refused for a throttle block hears (the same words for
 * both blocks: a guesser learns nothing about which names it hit). */
static const char blocked_reason[] =
    "too many failed logins from this address; try again later";

static void begin_auth(struct session *s, const struct mp_message *msg)
{
    const char *bad_name;
    enum auth_block block;

    if (msg->meta != MP_META_AUTH) {
        protocol_error(s, "expected Auth");
        return;
    }
    char *name = malloc((size_t)msg->other_client_len + 1);
    if (name == NULL) {
        protocol_error(s, "out of memory");
        return;
    }
    memcpy(name, msg->other_client, msg->other_client_len);
    name[msg->other_client_len] = '\0';
    if (s->name != no_name)
        free(s->name);
    s->name = name;
    s->name_len = msg->other_client_len;
    bad_name = mp_name_check(s->name, s->name_len);
    if (bad_name != NULL) {
        protocol_error(s, bad_name);
        return;
    }
    s->level = msg->level ? msg->level : 1;
    block = auth_throttle_check(s->broker->auth_throttle, s->peer, s->name,
                                time(NULL));
    if (block != AUTH_BLOCK_NONE) {
        /* No authenticator is asked: guesses from here cannot succeed.
         * Not logged: the line that started the block was (a guesser
         * must not be able to fill the log). */
        s->broker->stats.auth_failures++;
        s->broker->stats.auth_blocked++;
        log_debug("login refused unasked: client=%s peer=%s block=%s",
                  LOG_VALUE(s->name), s->peer,
                  block == AUTH_BLOCK_NAME ? "name" : "source");
        refuse_login(s, blocked_reason);
        return;
    }
    auth_chain_start(s, msg->data, msg->data_len);
}

/* AuthFailure and close. The caller has logged the one line this login
 * gets, if any: the close adds none. */
static void refuse_login(struct session *s, const char *reason)
{
    s->close_logged = true;
    session_send_notice(s, MP_META_AUTH_FAILURE, s->name, "", 0, reason);
    session_close(s, reason);
}

/*
 * A refused login is one line: who (name, peer, listener, and the subject
 * of its TLS client certificate if it showed one), why (the reason the
 * client hears, and the authenticator that decided: by=none when every
 * one deferred, as for an unknown name), and, when this failure starts a
 * throttle block, that block - as a warning, which the client log limits
 * never suppress.
 */
static void log_refused_login(struct session *s, const char *reason,
                              const char *by, enum auth_block started)
{
    const struct broker_conf *conf = &s->broker->conf;
    char fields[1024], cert[MP_LOG_VALUE_MAX + 8] = "";
    char *subject = NULL, *common_name = NULL;

    if (started == AUTH_BLOCK_NONE && !client_log_allowed(s->broker, s))
        return;
    if (s->listener->tls != NULL &&
        tls_peer_identity(s->bev, &subject, &common_name) == 0 &&
        subject != NULL)
        snprintf(cert, sizeof cert, " cert=%s", LOG_VALUE(subject));
    free(subject);
    free(common_name);
    snprintf(fields, sizeof fields, "client=%s peer=%s listener=%s "
             "reason=%s by=%s%s", LOG_VALUE(s->name), s->peer,
             LOG_VALUE(s->listener->label), LOG_VALUE(reason),
             by != NULL ? LOG_VALUE(by) : "none", cert);
    if (started == AUTH_BLOCK_NONE)
        log_notice("authentication failed for %s: %s", LOG_VALUE(s->name),
                   fields);
    else if (started == AUTH_BLOCK_SOURCE)
        log_warn("authentication failed for %s; refusing every login from "
                 "the address of %s for %u s after %u failed logins: %s "
                 "block=source", LOG_VALUE(s->name), s->peer,
                 conf->auth_block_s, conf->auth_failures_max, fields);
    else
        log_warn("authentication failed for %s; refusing logins as %s from "
                 "the address of %s for %u s after %u failed logins: %s "
                 "block=name", LOG_VALUE(s->name), LOG_VALUE(s->name),
                 s->peer, conf->auth_block_s,
                 conf->auth_failures_per_name_max, fields);
}

void session_auth_finished(struct session *s, enum mp_auth_result result,
                           const char *reason, const char *by)
{
    struct broker *b = s->broker;
    enum auth_block started;

    if (s->state != SESSION_AUTHENTICATING)
        return;
    if (result != MP_AUTH_ALLOW) {
        reason = reason ? reason : "authentication failed";
        b->stats.auth_failures++;
        started = auth_throttle_failed(b->auth_throttle, s->peer, s->name,
                                       time(NULL));
        log_refused_login(s, reason, by, started);
        refuse_login(s, reason);
        return;
    }
    if (router_register(s, &reason) != 0) {
        log_refused_login(s, reason, NULL, AUTH_BLOCK_NONE);
        refuse_login(s, reason);
        return;
    }
    s->state = SESSION_READY;
    stop_counting_unauthenticated(s);
    s->broker->stats.auth_successes++;
    event_free(s->timer);
    s->timer = NULL;
    log_info("client %s logged in: client=%s peer=%s listener=%s format=%s "
             "level=%u", LOG_VALUE(s->name), LOG_VALUE(s->name), s->peer,
             LOG_VALUE(s->listener->label), s->translator->name, s->level);
    session_send_notice(s, MP_META_AUTH_OK, s->name, "", 0, NULL);
    /* An asynchronous verdict: handle what the client sent meanwhile. */
    if (!s->processing)
        session_process_input(s);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;

    (void)fd;
    (void)what;
    if (s->state == SESSION_CLOSING)
        schedule_free(s); /* linger over: close even if output remains */
    else if (s->too_slow)
        session_close(s, "too slow to read its messages");
    else if (s->slow_deadline) { /* never drained: too slow */
        s->broker->stats.slow_deadline_disconnects++;
        drop_slow_consumer(s,
                           evbuffer_get_length(bufferevent_get_output(s->bev)),
                           "slow_consumer_timeout_ms");
    } else {
        protocol_error(s, "authentication timed out");
    }
}

/* ------------------------------------------------------------------------
 * Input
 */

/* For an "auto" listener: pick the first translator that recognizes the
 * stream's first bytes. Returns false if it cannot tell yet or closed. */
static bool pick_translator(struct session *s, const unsigned char *buf,
                            size_t len)
{
    const struct plugin_set *set = &s->broker->plugins;
    bool undecided = false;

    for (size_t i = 0; i < set->n_translators; i++) {
        const struct loaded_plugin *t = &set->translators[i];
        int r = t->codec.sniff ? t->codec.sniff(buf, len) : 0;
        if (r == 1) {
            s->translator = t;
            return true;
        }
        undecided |= r < 0;
    }
    if (!undecided) {
        /* Say it in words before closing, or the client sees only a
         * closed socket while the reason is in our log: one line, of
         * bounded length (this is before authentication), listing the
         * formats this listener speaks (doc/protocol.md). */
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
        bufferevent_write(s->bev, line, n);
        if (client_log_allowed(s->broker, s))
            log_notice("closing connection from %s: not a known wire format "
                       "(first byte 0x%02x)", s->peer, buf[0]);
        session_close(s, "unknown wire format");
    }
    return false;
}

static void handle_message(struct session *s, struct mp_message *msg)
{
    if (s->state == SESSION_AUTHENTICATING)
        begin_auth(s, msg);
    else
        router_handle(s, msg);
}

/*
 * The fast lane (the translator's decode_wire and encode_wire): a Data
 * message to a client of the same format goes out with its data as it
 * came in, neither decoded nor encoded again (binary: a header rewrite;
 * JSON: the base64 text passed on). Returns true when the first message
 * in `in` went that way and was consumed; false leaves everything to the
 * general path (another format at the other end, control messages,
 * anything invalid: decode() words the errors).
 */
/* One message's bytes were used: drop them from the input, count them. */
static void consume_input(struct session *s, struct evbuffer *in,
                          size_t consumed)
{
    evbuffer_drain(in, consumed);
    traffic_of(s)->messages_in++;
    traffic_of(s)->bytes_in += consumed;
}

/* `msg` is empty on entry, and on a false return again. */
static bool forward_wire(struct session *s, struct evbuffer *in,
                         const unsigned char *buf, size_t len,
                         struct mp_message *msg)
{
    const struct mp_codec_ops *codec = codec_of(s);
    size_t consumed, wire_off, wire_len;
    struct session *previous_sender;
    bool done;

    /* The loader keeps both halves of the fast lane or neither. */
    if (codec->decode_wire == NULL || s->state != SESSION_READY)
        return false;
    /* Not taken: msg is untouched (the decode_wire contract). */
    if (!codec->decode_wire(s->decode_stream, buf, len,
                            s->broker->conf.max_message_size, msg,
                            &consumed, &wire_off, &wire_len))
        return false;
    previous_sender = s->broker->sender;
    s->broker->sender = s;
    done = router_forward_wire(s, msg, buf + wire_off, wire_len);
    s->broker->sender = previous_sender;
    mp_message_clear(msg);
    if (done)
        consume_input(s, in, consumed); /* after routing: wire is in `in` */
    return done;
}

/* The largest message the client may send now: before login, an Auth
 * needs a few hundred bytes, and a socket that never logs in must not
 * hold a partial message of max_message_size (limits.max_auth_message_size). */
static size_t input_limit(const struct session *s)
{
    const struct broker_conf *conf = &s->broker->conf;

    return s->state == SESSION_READY ? conf->max_message_size
                                     : conf->max_auth_message_size;
}

/* Decode and handle one message. Returns false when the loop must stop
 * (need more bytes, waiting for an authenticator, or closing). */
static bool process_one(struct session *s, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    const unsigned char *buf;
    struct mp_message msg;
    size_t consumed = 0;
    char err[200];
    enum mp_decode_status st;
    struct session *previous_sender;

    if (len == 0 || s->state == SESSION_CLOSING || s->auth != NULL ||
        s->blockers.count > 0)
        return false;
    /* One copy per read at most: after it, the buffered messages lie in
     * one chunk, and the next calls find them there. */
    buf = evbuffer_pullup(in, -1);
    if (buf == NULL) {
        session_close(s, "out of memory");
        return false;
    }
    if (s->translator == NULL) {
        if (!pick_translator(s, buf, len))
            return false;
        if (open_streams(s) != 0) {
            session_close(s, "out of memory");
            return false;
        }
    }
    mp_zero(&msg, sizeof msg); /* not memset: see mp_zero() */
    if (forward_wire(s, in, buf, len, &msg))
        return true;
    err[0] = '\0';
    st = codec_of(s)->decode(s->decode_stream, buf, len, input_limit(s), &msg,
                             &consumed, err, sizeof err);
    if (st == MP_DECODE_NEED_MORE)
        return false;
    if (st != MP_DECODE_OK) {
        err[sizeof err - 1] = '\0';
        protocol_error(s, err[0] ? err : "malformed message");
        return false;
    }
    consume_input(s, in, consumed);
    previous_sender = s->broker->sender;
    s->broker->sender = s;
    handle_message(s, &msg);
    s->broker->sender = previous_sender;
    mp_message_clear(&msg);
    return true;
}

void session_process_input(struct session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);

    s->processing = true;
    while (process_one(s, in))
        ;
    s->processing = false;
}

/*
 * Before decoding, read whatever else the socket already holds, up to
 * READ_BATCH bytes in one readv (read_batch.h: libevent 2.1 reads 4 KiB
 * per event; the batch stays below glibc's mmap threshold, so its chunk
 * comes from the heap). Only for plain sockets of logged-in clients that
 * are not paused: backpressure and the limits before authentication
 * stay as they were. End of file and errors are left for libevent's own
 * next read to report.
 */
enum { READ_BATCH = 64 * 1024, WRITE_BATCH = 256 * 1024 };

static void read_more(struct session *s, struct evbuffer *in)
{
    if (s->listener->tls != NULL || s->state != SESSION_READY ||
        s->blockers.count > 0 || evbuffer_get_length(in) >= READ_BATCH)
        return;
    mp_read_batch(in, bufferevent_getfd(s->bev), READ_BATCH);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct session *s = arg;

    /* While an authenticator decides, input waits in the buffer (reading
     * goes on so that a client leaving is noticed and its ticket
     * cancelled), but no more than a message allowed before login. */
    if (s->auth != NULL &&
        evbuffer_get_length(bufferevent_get_input(bev)) > input_limit(s)) {
        protocol_error(s, "too much data before authentication completed");
        return;
    }
    read_more(s, bufferevent_get_input(bev));
    session_process_input(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct session *s = arg;

    if (what & BEV_EVENT_CONNECTED) {
        /* A TLS handshake completed: nothing to do until Auth. */
        log_debug("TLS handshake with %s done", s->peer);
        return;
    }
    if (what & BEV_EVENT_EOF)
        session_close(s, "connection closed by client");
    else if ((what & BEV_EVENT_ERROR) && s->listener->tls != NULL) {
        char why[256];
        tls_error_string(bev, why, sizeof why);
        session_close(s, why);
    } else if (what & BEV_EVENT_ERROR)
        session_close(s, evutil_socket_error_to_string(
                             EVUTIL_SOCKET_ERROR()));
    /* The socket is gone: nothing left to flush. */
    schedule_free(s);
}

/* ------------------------------------------------------------------------
 * Creation
 */

struct session *session_new(struct broker *b, struct listener *l,
                            evutil_socket_t fd, const char *peer,
                            struct source *source)
{
    struct session *s = calloc(1, sizeof *s);

    if (s == NULL)
        goto fail;
    s->broker = b;
    s->source = source;
    source = NULL; /* the session's now, released with it */
    s->unauthenticated = true;
    b->n_unauthenticated++;
    if (l->tls != NULL) {
        s->bev = tls_bufferevent_new(b->base, fd, l->tls);
        fd = -1; /* owned by the bufferevent, even on failure */
    } else {
        s->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (s->bev != NULL)
            fd = -1; /* owned by the bufferevent now */
    }
    if (s->bev == NULL)
        goto fail;
    s->timer = evtimer_new(b->base, timer_fired, s);
    if (s->timer == NULL)
        goto fail;
    s->name = no_name;
    s->listener = l;
    l->n_sessions++;
    s->translator = l->translator;
    s->state = SESSION_AUTHENTICATING;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    if (s->translator != NULL && open_streams(s) != 0)
        goto fail;

    s->next = b->sessions;
    if (b->sessions != NULL)
        b->sessions->prev = s;
    b->sessions = s;
    b->n_sessions++;

    bufferevent_setcb(s->bev, read_cb, output_drained, event_cb, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, b->conf.output_low_water, 0);
    /* libevent writes at most 16 KiB per writability event by default:
     * let one writev take a whole batch of queued messages. */
    bufferevent_set_max_single_write(s->bev, WRITE_BATCH);
    bufferevent_enable(s->bev, EV_READ);
    set_timer(s, b->conf.auth_timeout_ms);
    log_debug("connection from %s on %s", peer, l->label);
    return s;
fail:
    log_error("cannot set up a session for %s: out of memory", peer);
    if (source != NULL)
        source_release(b->sources, source, 1);
    if (s != NULL) {
        if (s->listener != NULL)
            s->listener->n_sessions--;
        release_source(s);
        close_streams(s);
        if (s->timer != NULL)
            event_free(s->timer);
        if (s->bev != NULL)
            bufferevent_free(s->bev);
        free(s);
    }
    if (fd >= 0)
        evutil_closesocket(fd);
    return NULL;
}
