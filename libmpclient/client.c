/*
 * client.c - libmpclient's client: the broker connection, login, the
 * event loop modes, handlers, and decoding what the broker sends.
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include "message.h"
#include "name.h"

enum {
    DEFAULT_MAX_MESSAGE_SIZE = 1048576,
    DEFAULT_CONNECT_TIMEOUT_MS = 10000,
    DEFAULT_MAX_QUEUED = 16 * 1024 * 1024,
    /* One connection may hold half of the queue by default, so that a
     * peer that does not read leaves room for the others. */
    DEFAULT_PER_CONN_SHARE = 2,
    /* TCP keepalive: probes after 60 s of silence (Mosquitto's default
     * keepalive), then every 20 s; three unanswered, and the broker is
     * declared gone: about 2 minutes for a dead network. */
    DEFAULT_KEEPALIVE_S = 60,
    /* As the broker's max_connections_per_client. */
    DEFAULT_MAX_INCOMING_CONNS = 4096,
    KEEPALIVE_PROBES = 3,
};

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void set_timer(struct mp_client *c, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

/* ------------------------------------------------------------------------
 * Sending
 */

/* The encoder's sink: bytes go to the scratch buffer, except the data of
 * a message sent with mp_conn_send_take(), which is only noted: the
 * output queue adds it by reference. */
struct sink {
    struct evbuffer *buf;
    const void *take;
    size_t take_len;
    struct outq_taken taken;
    bool has_taken;
};

struct taken_data {
    void (*free_fn)(void *, size_t, void *);
    void *free_arg;
};

static void release_taken(const void *data, size_t len, void *extra)
{
    struct taken_data *t = extra;

    if (t->free_fn != NULL)
        t->free_fn((void *)data, len, t->free_arg);
    free(t);
}

static int sink_write(void *ctx, const void *bytes, size_t len)
{
    struct sink *s = ctx;

    if (s->take != NULL && !s->has_taken && bytes == s->take &&
        len == s->take_len && len > 0) {
        s->has_taken = true;
        s->taken.offset = evbuffer_get_length(s->buf);
        s->taken.data = bytes;
        s->taken.len = len;
        return 0;
    }
    return evbuffer_add(s->buf, bytes, len);
}

/* Encode msg into the scratch buffer and queue it; MP_OK or an error
 * (nothing queued). */
static int encode_and_queue(struct mp_client *c, struct mp_conn *conn,
                            const struct mp_message *msg, struct sink *sink,
                            struct taken_data *t)
{
    int rc = MP_OK;

    if (c->codec->encode(c->encode_stream, msg, sink_write, sink) != 0)
        rc = MP_ERR_NOMEM;
    else if (evbuffer_get_length(c->scratch) +
                 (sink->has_taken ? sink->taken.len : 0) >
             c->max_message_size)
        rc = MP_ERR_TOO_BIG;
    if (rc == MP_OK && sink->has_taken) {
        sink->taken.cleanup = release_taken;
        sink->taken.extra = t;
    }
    if (rc == MP_OK)
        rc = outq_append(c, conn, c->scratch,
                         sink->has_taken ? &sink->taken : NULL);
    evbuffer_drain(c->scratch, evbuffer_get_length(c->scratch));
    return rc;
}

int client_send(struct mp_client *c, struct mp_conn *conn, enum mp_meta meta,
                const char *other, size_t other_len, const char *id,
                size_t id_len, const void *data, size_t data_len,
                bool has_data, void (*free_fn)(void *, size_t, void *),
                void *free_arg)
{
    struct mp_message msg;
    struct sink sink = {.buf = c->scratch, .take = free_fn ? data : NULL,
                        .take_len = data_len};
    struct taken_data *t = NULL;
    int rc = MP_OK;

    if (c->state != CLIENT_READY && c->state != CLIENT_AUTHENTICATING &&
        c->state != CLIENT_CLOSING)
        rc = MP_ERR_CLOSED;
    else if (data_len > c->max_message_size)
        rc = MP_ERR_TOO_BIG;
    /* Sends the application starts (Data, Syn) wait for room; answers the
     * protocol owes (Ack, Closed, refusals) never do: the client stops
     * reading the broker instead when they pile up (read_cb). */
    else if (meta == MP_META_DATA || meta == MP_META_CONN_SYN)
        rc = outq_admit(c, meta == MP_META_DATA ? conn : NULL);
    if (rc == MP_OK && free_fn != NULL &&
        (t = malloc(sizeof *t)) == NULL)
        rc = MP_ERR_NOMEM;
    if (rc != MP_OK)
        goto done;
    if (t != NULL)
        *t = (struct taken_data){.free_fn = free_fn, .free_arg = free_arg};
    memset(&msg, 0, sizeof msg);
    msg.meta = (uint8_t)meta;
    mp_message_set_other_client(&msg, other, other_len);
    mp_message_set_connection_id(&msg, id, id_len);
    /* Borrowed: the message is not cleared, so data is never freed here. */
    msg.has_data = has_data;
    msg.data = (unsigned char *)data;
    msg.data_len = data_len;
    rc = encode_and_queue(c, conn, &msg, &sink, t);
done:
    /* Unless libevent took the data (it then calls release_taken). */
    if (!sink.taken.added) {
        free(t);
        if (free_fn != NULL)
            free_fn((void *)data, data_len, free_arg);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Login outcome and loss
 */

/* Close the broker socket. What is still queued is dropped now: libevent
 * frees a bufferevent lazily, and data sent with mp_conn_send_take()
 * must be released before the caller moves on. */
static void release_bev(struct mp_client *c)
{
    if (c->bev == NULL)
        return;
    outq_detach(c);
    mp_bev_discard_output(c->bev);
    bufferevent_free(c->bev);
    c->bev = NULL;
}

/* idle_timeout_ms: the broker must send something that often. While
 * input is paused, libevent does not run the timeout. */
static void set_idle_timeout(struct mp_client *c)
{
    struct timeval tv = {.tv_sec = c->idle_timeout_ms / 1000,
                         .tv_usec = (c->idle_timeout_ms % 1000) * 1000};

    if (c->idle_timeout_ms > 0)
        bufferevent_set_timeouts(c->bev, &tv, NULL);
}

static void finish_login(struct mp_client *c, int status, const char *reason)
{
    mp_ready_cb cb = c->ready_cb;

    evtimer_del(c->timer);
    c->deferred_error = 0;
    if (status == MP_OK) {
        c->state = CLIENT_READY;
        set_idle_timeout(c);
    } else {
        c->state = CLIENT_DONE;
        mp_dialer_free(c->dialer);
        c->dialer = NULL;
        release_bev(c);
        /* Nothing left to run: let mp_client_run() return. */
        if (c->own_base)
            event_base_loopbreak(c->base);
    }
    if (cb != NULL)
        cb(c, status, reason, c->ready_arg);
}

/* The broker connection is gone after login: end every connection, then
 * tell the application. */
static void lose_broker(struct mp_client *c, int status)
{
    c->state = CLIENT_DONE;
    release_bev(c);
    conns_end_all(c, NULL, 0, MP_CLOSE_BROKER_LOST, MP_ERR_BROKER_GONE);
    if (c->lost_cb != NULL)
        c->lost_cb(c, status, c->lost_arg);
    if (c->own_base)
        event_base_loopbreak(c->base);
}

/* A fatal problem with the broker connection, in any state. */
static void finish_disconnect(struct mp_client *c)
{
    c->state = CLIENT_DONE;
    evtimer_del(c->timer);
    release_bev(c);
    if (c->disconnected_cb != NULL)
        c->disconnected_cb(c, c->disconnected_arg);
    if (c->own_base)
        event_base_loopbreak(c->base);
}

static void connection_failed(struct mp_client *c, int status,
                              const char *reason)
{
    if (c->lost_reason[0] == '\0' && reason != NULL)
        snprintf(c->lost_reason, sizeof c->lost_reason, "%s", reason);
    if (c->state == CLIENT_CLOSING)
        finish_disconnect(c);
    else if (c->state == CLIENT_READY)
        lose_broker(c, status);
    else if (c->state == CLIENT_CONNECTING ||
             c->state == CLIENT_AUTHENTICATING)
        finish_login(c, status, reason);
}

/* ------------------------------------------------------------------------
 * Receiving
 */

static void handle_login_answer(struct mp_client *c, struct mp_message *msg)
{
    char reason[256];
    size_t n;

    if (msg->meta == MP_META_AUTH_OK) {
        finish_login(c, MP_OK, NULL);
        return;
    }
    if (msg->meta != MP_META_AUTH_FAILURE) {
        finish_login(c, MP_ERR_PROTOCOL, NULL);
        return;
    }
    n = msg->data_len < sizeof reason - 1 ? msg->data_len : sizeof reason - 1;
    if (n > 0)
        memcpy(reason, msg->data, n);
    reason[n] = '\0';
    finish_login(c, MP_ERR_AUTH, reason);
}

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

/*
 * An "auto" listener that recognises none of its formats in what we sent
 * writes one line, "mpbroker: unknown wire format; this listener speaks:
 * json, binary\n", and closes (doc/protocol.md). The line comes where
 * the login answer is due, and no answer of any format starts so: binary
 * frames start with 0x00, JSON with '{', and gob's first message defines
 * a type (a negative type id, 0xff..., after its length byte).
 * MP_DECODE_OK: it was the line, and the login failed with MP_ERR_FORMAT;
 * MP_DECODE_NEED_MORE: it may be; MP_DECODE_ERROR: it is not.
 */
enum { REFUSAL_LINE_MAX = 512 };
static const char refusal_prefix[] = "mpbroker: ";

static enum mp_decode_status check_refusal(struct mp_client *c,
                                           const unsigned char *buf,
                                           size_t len)
{
    size_t prefix_len = sizeof refusal_prefix - 1;
    const unsigned char *nl;
    char line[REFUSAL_LINE_MAX + 1], reason[MP_REASON_MAX];
    size_t n;

    if (memcmp(buf, refusal_prefix, len < prefix_len ? len : prefix_len) != 0)
        return MP_DECODE_ERROR;
    if (len < prefix_len)
        return c->input_ended ? MP_DECODE_ERROR : MP_DECODE_NEED_MORE;
    nl = memchr(buf, '\n', len);
    if (nl == NULL && len < REFUSAL_LINE_MAX && !c->input_ended)
        return MP_DECODE_NEED_MORE;
    n = nl != NULL ? (size_t)(nl - buf) : len;
    if (n > REFUSAL_LINE_MAX)
        n = REFUSAL_LINE_MAX;
    /* Printable ASCII only: the text may end up on a terminal. */
    for (size_t i = 0; i < n; i++)
        line[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
    while (n > 0 && line[n - 1] == '?' && buf[n - 1] == '\r')
        n--;
    line[n] = '\0';
    snprintf(reason, sizeof reason,
             "the broker does not speak %s on this listener: \"%s\"",
             c->format->name, line);
    connection_failed(c, MP_ERR_FORMAT, reason);
    return MP_DECODE_OK;
}

/* Decode and handle one message; false when the loop must stop. */
static bool process_one(struct mp_client *c)
{
    struct evbuffer *in;
    size_t len, consumed = 0;
    const unsigned char *buf;
    struct mp_message msg;
    char err[160];
    enum mp_decode_status st;

    if (c->bev == NULL ||
        (c->state != CLIENT_AUTHENTICATING && c->state != CLIENT_READY))
        return false;
    if (c->queued_cost >= outq_pause_level(c)) {
        /* The broker sends faster than it reads what we owe it (Acks,
         * refusals): read no more until the output drains, rather than
         * queue without bound. outq.c resumes. */
        c->read_paused = true;
        bufferevent_disable(c->bev, EV_READ);
        return false;
    }
    in = bufferevent_get_input(c->bev);
    len = evbuffer_get_length(in);
    if (len == 0)
        return false;
    buf = evbuffer_pullup(in, -1);
    if (c->state == CLIENT_AUTHENTICATING && buf != NULL &&
        check_refusal(c, buf, len) != MP_DECODE_ERROR)
        return false;
    memset(&msg, 0, sizeof msg);
    st = buf == NULL ? MP_DECODE_ERROR
                     : c->codec->decode(c->decode_stream, buf, len,
                                        client_receive_limit(c), &msg,
                                        &consumed,
                                        err, sizeof err);
    if (st == MP_DECODE_NEED_MORE)
        return false;
    if (st == MP_DECODE_ERROR) {
        char reason[sizeof c->lost_reason];
        snprintf(reason, sizeof reason, "undecodable input from the broker: %s",
                 buf == NULL ? "out of memory" : err);
        connection_failed(c, MP_ERR_PROTOCOL, reason);
        return false;
    }
    evbuffer_drain(in, consumed);
    if (c->state == CLIENT_AUTHENTICATING)
        handle_login_answer(c, &msg);
    else
        conn_handle_message(c, &msg);
    mp_message_clear(&msg);
    return true;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct mp_client *c = arg;

    if (c->state == CLIENT_CLOSING) {
        /* Leaving: read only to see the broker's close. */
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    while (process_one(c))
        ;
}

static void send_auth(struct mp_client *c)
{
    c->state = CLIENT_AUTHENTICATING;
    if (client_send(c, NULL, MP_META_AUTH, c->name, c->name_len, "", 0,
                    c->secret, c->secret_len, true, NULL, NULL) != MP_OK)
        finish_login(c, MP_ERR_NOMEM, NULL);
}

/*
 * A dead network (a cut cable, a NAT that forgot us) sends nothing: TCP
 * keepalive probes the silence. (Not TCP_USER_TIMEOUT: Linux applies it
 * to a zero window too, and a broker holding us back for a slow peer
 * would then cut us off.) All of it fails harmlessly on Unix sockets.
 */
static void set_socket_options(struct mp_client *c, evutil_socket_t fd)
{
    int one = 1;

    /* Small messages, latency matters. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->keepalive_s < 0)
        return;
    int idle = c->keepalive_s;
    int interval = idle / KEEPALIVE_PROBES > 0 ? idle / KEEPALIVE_PROBES : 1;
    int probes = KEEPALIVE_PROBES;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct mp_client *c = arg;
    char tls_reason[200];

    if (what & BEV_EVENT_CONNECTED) {
        /* TLS only: the handshake is done. */
        send_auth(c);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && c->state == CLIENT_READY) {
        char reason[128];
        snprintf(reason, sizeof reason,
                 "nothing from the broker for %u ms (idle_timeout_ms)",
                 c->idle_timeout_ms);
        connection_failed(c, MP_ERR_TIMEOUT, reason);
        return;
    }
    /* Messages that arrived with the close (an AuthFailure) come first. */
    if (what & BEV_EVENT_EOF)
        c->input_ended = true;
    read_cb(bev, c);
    if ((c->state == CLIENT_CONNECTING || c->state == CLIENT_AUTHENTICATING) &&
        (what & BEV_EVENT_ERROR) && mp_tls_error(bev, tls_reason, sizeof tls_reason))
        connection_failed(c, MP_ERR_TLS, tls_reason);
    else if (c->state == CLIENT_CONNECTING)
        connection_failed(c, MP_ERR_CONNECT, NULL);
    else
        connection_failed(c, MP_ERR_BROKER_GONE, NULL);
}

/* HOST:PORT or PATH: the address without its "tcp:", "tls:" or "unix:". */
static const char *target_of(const struct mp_client *c)
{
    const char *colon = strchr(c->address, ':');

    return colon != NULL ? colon + 1 : c->address;
}

/* connect_timeout_ms ran out before the login was decided: say where it
 * got to. */
static void timeout_reason(const struct mp_client *c, char *buf, size_t len)
{
    char tried[MP_REASON_MAX - 256]; /* room for the rest of the text */

    if (c->dialer != NULL) {
        mp_dialer_describe(c->dialer, tried, sizeof tried);
        snprintf(buf, len, "no connection to %s within %u ms: tried %s",
                 target_of(c), c->connect_timeout_ms, tried);
    } else if (c->state == CLIENT_CONNECTING) {
        snprintf(buf, len, "no TLS handshake with %s within %u ms",
                 target_of(c), c->connect_timeout_ms);
    } else if (c->state == CLIENT_AUTHENTICATING) {
        snprintf(buf, len, "no answer to the login from %s within %u ms",
                 target_of(c), c->connect_timeout_ms);
    } else {
        buf[0] = '\0';
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mp_client *c = arg;
    char reason[MP_REASON_MAX];

    (void)fd;
    (void)what;
    if (c->deferred_error) {
        connection_failed(c, c->deferred_error,
                          c->deferred_reason[0] ? c->deferred_reason : NULL);
        return;
    }
    timeout_reason(c, reason, sizeof reason);
    connection_failed(c, MP_ERR_TIMEOUT, reason[0] ? reason : NULL);
}

/* Everything queued has left: half-close, so the broker reads to the end
 * and closes its side, which event_cb then sees. */
static void flushed_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    mp_tls_close_notify(bev);
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

void client_resume_reading(struct mp_client *c)
{
    c->read_paused = false;
    bufferevent_enable(c->bev, EV_READ);
    /* What is already buffered is not announced again by libevent. */
    read_cb(c->bev, c);
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

int mp_client_disconnect(struct mp_client *c, mp_disconnected_cb cb,
                         void *arg)
{
    if (c == NULL)
        return MP_ERR_INVALID;
    if (c->state != CLIENT_READY)
        return MP_ERR_STATE;
    /* CLOSING first: callbacks of pending opens cannot open new ones. */
    c->state = CLIENT_CLOSING;
    conns_close_all(c);
    c->disconnected_cb = cb;
    c->disconnected_arg = arg;
    set_timer(c, c->connect_timeout_ms);
    /* Input paused for backpressure: the broker's close must be seen. */
    if (c->read_paused) {
        c->read_paused = false;
        bufferevent_enable(c->bev, EV_READ);
    }
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(c->bev, read_cb, flushed_cb, event_cb, c);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        flushed_cb(c->bev, c);
    return MP_OK;
}

/* ------------------------------------------------------------------------
 * Public API: lifecycle
 */

/* A member of the options, or 0/NULL when the program was built against
 * an older header whose struct ends before it. */
#define OPTION(o, member)                                                   \
    ((o)->size >= offsetof(struct mp_client_options, member) +              \
                      sizeof (o)->member                                   \
         ? (o)->member                                                      \
         : 0)

/* sizeof(struct mp_client_options) in libmpclient 0.1. */
#define OPTIONS_SIZE_0_1                                                    \
    (offsetof(struct mp_client_options, connect_timeout_ms) +              \
     sizeof(unsigned))

static int copy_options(struct mp_client *c, const struct mp_client_options *o)
{
    const char *format = o->format ? o->format : "binary";

    /* A NUL-terminated secret needs no length (o.secret = "demo"); an
     * explicit one is for binary secrets. */
    size_t secret_len = o->secret_len == 0 && o->secret != NULL
                            ? strlen(o->secret)
                            : o->secret_len;

    if (o->name == NULL || mp_name_check(o->name, strlen(o->name)) != NULL)
        return MP_ERR_NAME;
    if ((o->secret == NULL && o->secret_len > 0) || o->address == NULL)
        return MP_ERR_INVALID;
    c->format = mp_format_find(format);
    c->codec = mp_codec_find(format);
    if (c->codec == NULL)
        return MP_ERR_INVALID;
    c->name_len = strlen(o->name);
    memcpy(c->name, o->name, c->name_len + 1);
    c->address = strdup(o->address);
    c->secret = malloc(secret_len ? secret_len : 1);
    if (c->address == NULL || c->secret == NULL)
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
    if (OPTION(o, tls_server_name) != NULL &&
        (c->tls_server_name = strdup(o->tls_server_name)) == NULL)
        return MP_ERR_NOMEM;
    return MP_OK;
}

static int open_streams(struct mp_client *c)
{
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

    if (strncmp(c->address, "tls:", 4) != 0)
        return MP_OK;
    tls.tls_ca_file = OPTION(o, tls_ca_file);
    tls.tls_cert_file = OPTION(o, tls_cert_file);
    tls.tls_key_file = OPTION(o, tls_key_file);
    rc = mp_tls_context_new(c, &tls, c->tls_error, sizeof c->tls_error);
    return rc == MP_ERR_TLS ? MP_OK : rc;
}

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
    c->own_base = base == NULL;
    c->base = base ? base : event_base_new();
    if (c->base == NULL)
        goto fail;
    rc = copy_options(c, opts);
    if (rc != MP_OK)
        goto fail;
    rc = open_streams(c);
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
    while (c->handlers != NULL) {
        struct handler *h = c->handlers;
        c->handlers = h->next;
        free(h->protocol);
        free(h);
    }
    if (c->bev != NULL) {
        flush_output(c);
        release_bev(c);
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
    free(c->address);
    free(c->tls_server_name);
    mp_tls_context_free(c);
    if (c->own_base && c->base != NULL)
        event_base_free(c->base);
    free(c);
}

void mp_client_on_lost(struct mp_client *c, mp_lost_cb cb, void *arg)
{
    c->lost_cb = cb;
    c->lost_arg = arg;
}

/* The TLS context could not be set up at mp_client_new() (c->tls_error
 * says why): report it through cb from the loop, as any connect outcome. */
static int deferred_failure(struct mp_client *c, mp_ready_cb cb, void *arg,
                            int status)
{
    c->ready_cb = cb;
    c->ready_arg = arg;
    c->state = CLIENT_CONNECTING;
    c->deferred_error = status;
    snprintf(c->deferred_reason, sizeof c->deferred_reason, "%s",
             c->tls_error);
    set_timer(c, 0);
    return MP_OK;
}

/* The broker's socket is connected: put a bufferevent on it (TLS starts
 * its handshake, and says BEV_EVENT_CONNECTED when done) and log in. */
static int attach_socket(struct mp_client *c, evutil_socket_t fd)
{
    c->bev = c->tls_ctx != NULL
                 ? mp_tls_bufferevent_new(c, c->tls_host, fd)
                 : bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        return MP_ERR_NOMEM;
    }
    if (outq_attach(c) != MP_OK) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        return MP_ERR_NOMEM;
    }
    set_socket_options(c, fd);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (c->tls_ctx == NULL)
        send_auth(c);
    return MP_OK;
}

/* The dialer's outcome: a connected socket, or what every address gave. */
static void dialed(int fd, const char *why, void *arg)
{
    struct mp_client *c = arg;
    char reason[MP_REASON_MAX];
    int rc;

    mp_dialer_free(c->dialer);
    c->dialer = NULL;
    if (fd < 0) {
        snprintf(reason, sizeof reason, "cannot connect to %s: tried %s",
                 target_of(c), why);
        connection_failed(c, MP_ERR_CONNECT, reason);
        return;
    }
    rc = attach_socket(c, fd);
    if (rc != MP_OK)
        connection_failed(c, rc, NULL);
}

int mp_client_connect(struct mp_client *c, mp_ready_cb cb, void *arg)
{
    struct mp_address a;
    char err[MP_REASON_MAX / 2];
    int rc;

    if (c == NULL)
        return MP_ERR_INVALID;
    if (c->state != CLIENT_NEW)
        return MP_ERR_STATE;
    rc = mp_address_parse(c->address, &a, err, sizeof err);
    if (rc != MP_OK) {
        snprintf(c->lost_reason, sizeof c->lost_reason, "%s: %s", c->address,
                 err);
        return rc;
    }
    if (a.tls && c->tls_ctx == NULL)
        return deferred_failure(c, cb, arg, MP_ERR_TLS);
    snprintf(c->tls_host, sizeof c->tls_host, "%s", a.host);
    /* Every address is tried, and the outcome comes from the loop. */
    c->dialer = mp_dialer_new(c->base, a.addrs, a.n_addrs, dialed, c);
    if (c->dialer == NULL)
        return MP_ERR_NOMEM;
    c->ready_cb = cb;
    c->ready_arg = arg;
    c->state = CLIENT_CONNECTING;
    set_timer(c, c->connect_timeout_ms);
    return MP_OK;
}

static void wait_ready(struct mp_client *c, int status, const char *reason,
                       void *arg)
{
    (void)arg;
    c->wait_done = true;
    c->wait_status = status;
    snprintf(c->wait_reason, sizeof c->wait_reason, "%s",
             reason ? reason : "");
}

int mp_client_connect_wait(struct mp_client *c, char *reason,
                           size_t reason_len)
{
    int rc = mp_client_connect(c, wait_ready, NULL);

    if (rc != MP_OK) {
        /* MP_ERR_ADDRESS says why in lost_reason. */
        if (c != NULL && reason != NULL && reason_len > 0)
            snprintf(reason, reason_len, "%s",
                     rc == MP_ERR_ADDRESS ? c->lost_reason : "");
        return rc;
    }
    c->waiting = true;
    c->wait_done = false;
    /* The login timer is always pending until the outcome, so each
     * iteration has something to wait for. */
    while (!c->wait_done && c->waiting)
        event_base_loop(c->base, EVLOOP_ONCE);
    if (!c->wait_done) {
        c->ready_cb = NULL; /* stopped: the outcome is nobody's business */
        return MP_ERR_STATE;
    }
    c->waiting = false;
    if (reason != NULL && reason_len > 0)
        snprintf(reason, reason_len, "%s", c->wait_reason);
    return c->wait_status;
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

/* ------------------------------------------------------------------------
 * Handlers
 */

static struct handler **find_handler(struct mp_client *c, const char *protocol,
                                     size_t len)
{
    struct handler **h = &c->handlers;

    for (; *h != NULL; h = &(*h)->next) {
        if (strlen((*h)->protocol) == len &&
            memcmp((*h)->protocol, protocol, len) == 0)
            break;
    }
    return h;
}

int mp_client_handle(struct mp_client *c, const char *protocol,
                     mp_connection_cb on_connection, void *arg)
{
    struct handler *h;

    if (c == NULL || protocol == NULL || on_connection == NULL)
        return MP_ERR_INVALID;
    if (*find_handler(c, protocol, strlen(protocol)) != NULL)
        return MP_ERR_EXISTS;
    h = calloc(1, sizeof *h);
    if (h == NULL || (h->protocol = strdup(protocol)) == NULL) {
        free(h);
        return MP_ERR_NOMEM;
    }
    h->on_connection = on_connection;
    h->arg = arg;
    h->next = c->handlers;
    c->handlers = h;
    return MP_OK;
}

int mp_client_unhandle(struct mp_client *c, const char *protocol)
{
    struct handler **slot, *h;

    if (c == NULL || protocol == NULL)
        return MP_ERR_INVALID;
    slot = find_handler(c, protocol, strlen(protocol));
    h = *slot;
    if (h == NULL)
        return MP_ERR_INVALID;
    *slot = h->next;
    free(h->protocol);
    free(h);
    return MP_OK;
}

const struct handler *client_find_handler(struct mp_client *c,
                                          const void *protocol, size_t len)
{
    return *find_handler(c, protocol ? protocol : "", len);
}
