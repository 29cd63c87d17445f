/*
 * client.c - the client object and its lifecycle: the options and what
 * they imply, creation, the loop modes, disconnecting, freeing, and
 * every way the broker link ends (a failed login, a lost broker, a
 * completed disconnect). Logging in is login.c; the link's I/O is link.c.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bev_output.h"
#include "client-internal.h"
#include "codec.h"
#include "format.h"
#include "hashmap.h"
#include "name.h"

enum {
    DEFAULT_MAX_MESSAGE_SIZE = 1048576,
    DEFAULT_CONNECT_TIMEOUT_MS = 10000,
    DEFAULT_MAX_QUEUED = 16 * 1024 * 1024,
    /* One connection may hold half of the queue by default, so that a
     * peer that does not read leaves room for the others. */
    DEFAULT_PER_CONN_SHARE = 2,
    /* TCP keepalive: probes after 60 s of silence (Mosquitto's default
     * keepalive), then every 20 s; three unanswered (KEEPALIVE_PROBES,
     * login.c), and the broker is declared gone: about 2 minutes for a
     * dead network. */
    DEFAULT_KEEPALIVE_S = 60,
    /* As the broker's max_connections_per_client. */
    DEFAULT_MAX_INCOMING_CONNS = 4096,
};

/* ------------------------------------------------------------------------
 * Options, and the limit they imply
 */

/*
 * The largest encoding of a legal message in our format. The broker
 * checks a message's size in its sender's format, and the message's raw
 * bytes (names and data) are at most that; but it replaces OtherClient
 * with the sender's name (up to 255 bytes, however short the target's
 * name was), and it re-encodes for us: each format's growth is in the
 * registry (common/format.h).
 */
size_t client_receive_limit(const struct mp_client *c)
{
    return mp_format_wire_max(c->format, c->max_message_size);
}

/* Options of libmpclient 0.5 or later: protocol level 2 is known. */
#define KNOWS_LEVEL2(o)                                                     \
    ((o)->size >= offsetof(struct mp_client_options, protocol_level) +     \
                      sizeof (o)->protocol_level)

/* sizeof(struct mp_client_options) in libmpclient 0.1. */
#define OPTIONS_SIZE_0_1                                                    \
    (offsetof(struct mp_client_options, connect_timeout_ms) +              \
     sizeof(unsigned))

static int copy_options(struct mp_client *c, const struct mp_client_options *o)
{
    const char *format = o->format ? o->format : "binary";
    int rc;

    /* A NUL-terminated secret needs no length (o.secret = "demo"); an
     * explicit one is for binary secrets. */
    size_t secret_len = o->secret_len == 0 && o->secret != NULL
                            ? strlen(o->secret)
                            : o->secret_len;

    if (o->name == NULL || mp_name_check(o->name, strlen(o->name)) != NULL)
        return MP_ERR_NAME;
    if (o->secret == NULL && o->secret_len > 0)
        return MP_ERR_INVALID;
    c->format = mp_format_find(format);
    c->codec = mp_codec_find(format);
    if (c->codec == NULL)
        return MP_ERR_INVALID;
    c->name_len = strlen(o->name);
    memcpy(c->name, o->name, c->name_len + 1);
    c->secret = malloc(secret_len ? secret_len : 1);
    if (c->secret == NULL)
        return MP_ERR_NOMEM;
    if (secret_len > 0)
        memcpy(c->secret, o->secret, secret_len);
    c->secret_len = secret_len;
    c->max_message_size =
        o->max_message_size ? o->max_message_size : DEFAULT_MAX_MESSAGE_SIZE;
    c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                                                  : DEFAULT_CONNECT_TIMEOUT_MS;
    c->max_queued = OPTION(o, max_queued) ? OPTION(o, max_queued)
                                          : DEFAULT_MAX_QUEUED;
    c->max_queued_per_conn = OPTION(o, max_queued_per_conn)
                                 ? OPTION(o, max_queued_per_conn)
                                 : c->max_queued / DEFAULT_PER_CONN_SHARE;
    if (c->max_queued_per_conn > c->max_queued)
        c->max_queued_per_conn = c->max_queued;
    c->keepalive_s = OPTION(o, keepalive_s) ? OPTION(o, keepalive_s)
                                            : DEFAULT_KEEPALIVE_S;
    c->idle_timeout_ms = OPTION(o, idle_timeout_ms);
    c->max_incoming_conns = OPTION(o, max_incoming_conns)
                                ? OPTION(o, max_incoming_conns)
                                : DEFAULT_MAX_INCOMING_CONNS;
    /* Level 2 unless the application asks for 1; a later level than
     * this library speaks is announced as the one it does. A program
     * built against 0.4 or older (its options end before
     * protocol_level) knows none of level 2's errors and notices, nor
     * credit: it stays at level 1, as it was. */
    c->announce_level = !KNOWS_LEVEL2(o) || o->protocol_level == 1
                            ? 1
                            : MP_PROTOCOL_LEVEL;
    /* Gob announces a level by a fifth field in its type, which a broker
     * that predates level 2 refuses (doc/protocol.md, "Gob"): only when
     * asked for by name. mp_codec_gob_client writes the original's bytes
     * when the Auth has no level. */
    if (strcmp(format, "gob") == 0) {
        c->codec = &mp_codec_gob_client;
        if (!KNOWS_LEVEL2(o) || o->protocol_level != 2)
            c->announce_level = 1;
    }
    c->receive_window = OPTION(o, receive_window);
    c->manual_credit = OPTION(o, manual_credit) != 0;
    rc = reconnect_copy_options(c, o);
    if (rc != MP_OK)
        return rc;
    if (OPTION(o, tls_server_name) != NULL &&
        (c->tls_server_name = strdup(o->tls_server_name)) == NULL)
        return MP_ERR_NOMEM;
    return MP_OK;
}

int client_open_streams(struct mp_client *c)
{
    mp_codec_streams_close(c->codec, c->decode_stream, c->encode_stream);
    c->decode_stream = c->encode_stream = NULL;
    return mp_codec_streams_open(c->codec, NULL, &c->decode_stream,
                                 &c->encode_stream) == 0
               ? MP_OK
               : MP_ERR_NOMEM;
}

/* For "tls:" addresses: the TLS context. A file that cannot be loaded is
 * reported by mp_client_connect() with OpenSSL's reason. */
static int setup_tls(struct mp_client *c, const struct mp_client_options *o)
{
    struct mp_client_options tls = MP_CLIENT_OPTIONS_INIT;
    int rc;

    if (!reconnect_any_address(c, "tls:"))
        return MP_OK;
    tls.tls_ca_file = OPTION(o, tls_ca_file);
    tls.tls_cert_file = OPTION(o, tls_cert_file);
    tls.tls_key_file = OPTION(o, tls_key_file);
    rc = mp_tls_context_new(c, &tls, c->tls_error, sizeof c->tls_error);
    return rc == MP_ERR_TLS ? MP_OK : rc;
}

void client_printable(char *out, size_t out_len,
                      const struct mp_message *msg)
{
    size_t n = msg->data_len < out_len - 1 ? msg->data_len : out_len - 1;

    for (size_t i = 0; i < n; i++)
        out[i] = msg->data[i] >= 0x20 && msg->data[i] < 0x7f
                     ? (char)msg->data[i]
                     : '?';
    out[n] = '\0';
}

/* ------------------------------------------------------------------------
 * The end of the broker link
 */

/* Close the broker socket. What is still queued is dropped now: libevent
 * frees a bufferevent lazily, and data sent with mp_conn_send_take()
 * must be released before the caller moves on. */
void client_release_bev(struct mp_client *c)
{
    if (c->bev == NULL)
        return;
    outq_detach(c);
    mp_bev_discard_output(c->bev);
    bufferevent_free(c->bev);
    c->bev = NULL;
}

/* The broker connection is gone after login: end every connection, then
 * tell the application - or, with the reconnect option, log in again. */
static void lose_broker(struct mp_client *c, int status)
{
    bool again = reconnect_wanted(c, status);

    /* RECONNECTING first: what the callbacks below try (an open, a
     * watch) fails with MP_ERR_DISCONNECTED. */
    c->state = again ? CLIENT_RECONNECTING : CLIENT_DONE;
    client_release_bev(c);
    conns_end_all(c, NULL, 0, MP_CLOSE_BROKER_LOST, MP_ERR_BROKER_GONE);
    presence_end(c, MP_ERR_BROKER_GONE, again);
    if (again) {
        reconnect_begin(c, status);
        return;
    }
    if (c->lost_cb != NULL)
        c->lost_cb(c, status, c->lost_arg);
    if (c->own_base)
        event_base_loopbreak(c->base);
}

/* mp_client_disconnect() is complete: the broker closed its side (or the
 * link failed, or the disconnect timed out). */
static void finish_disconnect(struct mp_client *c)
{
    c->state = CLIENT_DONE;
    evtimer_del(c->timer);
    client_release_bev(c);
    if (c->disconnected_cb != NULL)
        c->disconnected_cb(c, c->disconnected_arg);
    if (c->own_base)
        event_base_loopbreak(c->base);
}

void client_connection_failed(struct mp_client *c, int status,
                              const char *reason)
{
    if (c->lost_reason[0] == '\0' && reason != NULL)
        snprintf(c->lost_reason, sizeof c->lost_reason, "%s", reason);
    /* The broker announced its shutdown: its close is no surprise. */
    if (status == MP_ERR_BROKER_GONE && c->notice_status != 0)
        status = c->notice_status;
    if (c->state == CLIENT_CLOSING)
        finish_disconnect(c);
    else if (c->state == CLIENT_READY)
        lose_broker(c, status);
    else if (c->state == CLIENT_CONNECTING ||
             c->state == CLIENT_AUTHENTICATING)
        login_finish(c, status, reason);
}

/* The client's one timer: connect_timeout_ms over the login and over a
 * disconnect, or 0 to report a deferred error from the loop. */
void client_set_timer(struct mp_client *c, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mp_client *c = arg;
    char reason[MP_REASON_MAX];

    (void)fd;
    (void)what;
    if (c->state == CLIENT_RECONNECTING) {
        reconnect_attempt_start(c);
        return;
    }
    if (c->deferred_error) {
        client_connection_failed(c, c->deferred_error,
                                 c->deferred_reason[0] ? c->deferred_reason
                                                       : NULL);
        return;
    }
    login_timeout_reason(c, reason, sizeof reason);
    client_connection_failed(c, MP_ERR_TIMEOUT, reason[0] ? reason : NULL);
}

/* ------------------------------------------------------------------------
 * Public API: lifecycle
 */

struct mp_client *mp_client_new(struct event_base *base,
                                const struct mp_client_options *opts,
                                int *error)
{
    struct mp_client *c;
    int rc = MP_ERR_NOMEM;

    if (opts == NULL || opts->size < OPTIONS_SIZE_0_1) {
        rc = MP_ERR_INVALID;
        c = NULL;
        goto fail;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        goto fail;
    SLIST_INIT(&c->handlers);
    SLIST_INIT(&c->watches);
    SLIST_INIT(&c->lists);
    LIST_INIT(&c->conns);
    c->own_base = base == NULL;
    c->base = base ? base : event_base_new();
    if (c->base == NULL)
        goto fail;
    rc = copy_options(c, opts);
    if (rc != MP_OK)
        goto fail;
    rc = client_open_streams(c);
    if (rc != MP_OK)
        goto fail;
    rc = setup_tls(c, opts);
    if (rc != MP_OK)
        goto fail;
    rc = MP_ERR_NOMEM;
    c->scratch = evbuffer_new();
    c->timer = evtimer_new(c->base, timer_cb, c);
    c->conns_by_id = hashmap_new();
    if (c->scratch == NULL || c->timer == NULL || c->conns_by_id == NULL ||
        outq_init(c) != MP_OK)
        goto fail;
    /* A broker vanishing mid-write must not kill the program: libevent
     * writes with writev(), which raises SIGPIPE. Only a default
     * disposition is changed; a handler the program set stays. */
    {
        struct sigaction old;
        if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            signal(SIGPIPE, SIG_IGN);
    }
    c->state = CLIENT_NEW;
    return c;
fail:
    if (error != NULL)
        *error = rc;
    mp_client_free(c);
    return NULL;
}

/* Hand what is still queued (the last messages, the ConnClosed of the
 * connections just closed) to the kernel, as far as it takes it without
 * waiting: a program that sends and then frees its client expects its
 * messages to leave. */
static void flush_output(struct mp_client *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    if (fd < 0 || c->state != CLIENT_READY)
        return;
    if (c->tls_ctx != NULL) {
        mp_tls_flush(c->bev);
        return;
    }
    /* The front of a socket bufferevent's output is frozen except while
     * libevent writes it; we write it ourselves here, once, at the end. */
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, fd) <= 0)
            break;
    }
}

void mp_client_free(struct mp_client *c)
{
    if (c == NULL)
        return;
    conns_end_all(c, NULL, 0, MP_CLOSE_CLIENT_FREED, MP_ERR_CLOSED);
    presence_end(c, MP_ERR_CLOSED, false);
    handlers_free(c);
    if (c->bev != NULL) {
        flush_output(c);
        client_release_bev(c);
    }
    mp_dialer_free(c->dialer);
    if (c->timer != NULL)
        event_free(c->timer);
    outq_free(c);
    if (c->scratch != NULL)
        evbuffer_free(c->scratch);
    hashmap_free(c->conns_by_id);
    mp_codec_streams_close(c->codec, c->decode_stream, c->encode_stream);
    if (c->secret != NULL) {
        explicit_bzero(c->secret, c->secret_len);
        free(c->secret);
    }
    reconnect_free(c);
    free(c->tls_server_name);
    mp_tls_context_free(c);
    if (c->own_base && c->base != NULL)
        event_base_free(c->base);
    free(c);
}

int mp_client_disconnect(struct mp_client *c, mp_disconnected_cb cb,
                         void *arg)
{
    if (c == NULL)
        return MP_ERR_INVALID;
    if (reconnect_pending(c))
        return reconnect_stop(c, cb, arg);
    if (c->state != CLIENT_READY)
        return MP_ERR_STATE;
    /* CLOSING first: callbacks of pending opens cannot open new ones. */
    c->state = CLIENT_CLOSING;
    conns_close_all(c);
    presence_end(c, MP_ERR_CLOSED, false);
    c->disconnected_cb = cb;
    c->disconnected_arg = arg;
    client_set_timer(c, c->connect_timeout_ms);
    link_shutdown(c);
    return MP_OK;
}

void mp_client_on_lost(struct mp_client *c, mp_lost_cb cb, void *arg)
{
    c->lost_cb = cb;
    c->lost_arg = arg;
}

int mp_client_run(struct mp_client *c)
{
    if (c == NULL || !c->own_base)
        return MP_ERR_STATE;
    event_base_dispatch(c->base);
    return MP_OK;
}

void mp_client_stop(struct mp_client *c)
{
    c->waiting = false;
    event_base_loopbreak(c->base);
}

struct event_base *mp_client_base(const struct mp_client *c)
{
    return c->base;
}

const char *mp_client_name(const struct mp_client *c)
{
    return c->name;
}

const char *mp_client_lost_reason(const struct mp_client *c)
{
    return c->lost_reason;
}

void mp_client_on_drained(struct mp_client *c, mp_drained_cb cb, void *arg)
{
    c->drained_cb = cb;
    c->drained_arg = arg;
}

int mp_client_level(const struct mp_client *c)
{
    return c != NULL ? (int)c->level : 0;
}

size_t mp_client_window(const struct mp_client *c)
{
    return c != NULL && c->level >= 2 ? c->window : 0;
}

unsigned mp_client_max_watches(const struct mp_client *c)
{
    return c != NULL && c->level >= 2 ? c->max_watches : 0;
}

void mp_client_on_going_away(struct mp_client *c, mp_going_away_cb cb,
                             void *arg)
{
    c->going_away_cb = cb;
    c->going_away_arg = arg;
}
