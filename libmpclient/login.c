/*
 * login.c - from mp_client_connect() to READY: the dialer tries the
 * broker's addresses (dialer.c), the socket gets its bufferevent (TLS
 * shakes hands first, tls.c) and its options, Auth goes out, and the
 * broker's answer decides: AuthOk, AuthFailure, the line of an "auto"
 * listener that speaks none of our formats, or connect_timeout_ms over
 * the whole. The outcome goes to the ready callback (login_finish).
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client-internal.h"
#include "format.h"

/* AuthFailure's text when the name is logged in already. */
#define NAME_TAKEN_REASON "name already in use"

/* Unanswered TCP keepalive probes before the kernel gives up on the
 * broker (the timing is DEFAULT_KEEPALIVE_S's comment, in client.c). */
enum { KEEPALIVE_PROBES = 3 };

/* HOST:PORT or PATH: the address without its "tcp:", "tls:" or "unix:". */
static const char *target_of(const struct mp_client *c)
{
    const char *colon = strchr(c->address, ':');

    return colon != NULL ? colon + 1 : c->address;
}

/* ------------------------------------------------------------------------
 * The outcome
 */

/* idle_timeout_ms: the broker must send something that often. While
 * input is paused, libevent does not run the timeout. */
static void set_idle_timeout(struct mp_client *c)
{
    struct timeval tv = {.tv_sec = c->idle_timeout_ms / 1000,
                         .tv_usec = (c->idle_timeout_ms % 1000) * 1000};

    if (c->idle_timeout_ms > 0)
        bufferevent_set_timeouts(c->bev, &tv, NULL);
}

void login_finish(struct mp_client *c, int status, const char *reason)
{
    mp_ready_cb cb = c->ready_cb;

    evtimer_del(c->timer);
    c->deferred_error = 0;
    if (status == MP_OK) {
        c->state = CLIENT_READY;
        set_idle_timeout(c);
        if (reconnect_logged_in(c))
            return;
    } else {
        mp_dialer_free(c->dialer);
        c->dialer = NULL;
        client_release_bev(c);
        /* Another address or attempt follows, or it gave up. */
        if (reconnect_login_failed(c, status, &reason))
            return;
        c->state = CLIENT_DONE;
        /* Nothing left to run: let mp_client_run() return. */
        if (c->own_base)
            event_base_loopbreak(c->base);
    }
    if (cb != NULL)
        cb(c, status, reason, c->ready_arg);
}

/*
 * AuthOk's data at level 2: "key=value" pairs separated by single
 * spaces, in any order ("level=2 window=262144 watches=64"); keys we do
 * not know are skipped, for the levels to come. A value of a known key
 * that is out of range would break the credit count: the answer is
 * refused (false, with why). Null data is a level-1 broker's AuthOk.
 */
struct auth_setting {
    const char *key;
    long long min, max;
    long long value;
    bool seen;
};

static bool parse_setting(struct auth_setting *settings, size_t n,
                          const char *pair, size_t len, char *why,
                          size_t why_len)
{
    const char *eq = memchr(pair, '=', len);
    size_t key_len = eq != NULL ? (size_t)(eq - pair) : len;

    for (size_t i = 0; i < n; i++) {
        struct auth_setting *s = &settings[i];
        if (strlen(s->key) != key_len || memcmp(s->key, pair, key_len) != 0)
            continue;
        if (eq == NULL ||
            !credit_parse_decimal(eq + 1, len - key_len - 1, s->max,
                                  &s->value) ||
            s->value < s->min) {
            snprintf(why, why_len, "the broker's AuthOk has a bad %s "
                     "(want %lld to %lld)", s->key, s->min, s->max);
            return false;
        }
        s->seen = true;
    }
    return true;
}

static bool parse_auth_ok(struct mp_client *c, const struct mp_message *msg,
                          char *why, size_t why_len)
{
    enum { LEVEL, WINDOW, WATCHES };
    struct auth_setting settings[] = {
        [LEVEL] = {"level", 1, 255, 0, false},
        [WINDOW] = {"window", 1, MP_CREDIT_MAX, 0, false},
        [WATCHES] = {"watches", 0, 1000000000, 0, false},
    };
    const char *p = (const char *)msg->data, *end = p + msg->data_len;

    c->level = 1;
    if (c->announce_level < 2 || !msg->has_data)
        return true;
    while (p < end) {
        const char *space = memchr(p, ' ', (size_t)(end - p));
        size_t len = space != NULL ? (size_t)(space - p) : (size_t)(end - p);
        if (len > 0 && !parse_setting(settings, 3, p, len, why, why_len))
            return false;
        if (space == NULL)
            break;
        p = space + 1;
    }
    /* No level said: the broker speaks none above 1. */
    if (!settings[LEVEL].seen || settings[LEVEL].value < 2)
        return true;
    c->level = settings[LEVEL].value < (long long)c->announce_level
                   ? (unsigned)settings[LEVEL].value
                   : c->announce_level;
    c->window = settings[WINDOW].seen ? (size_t)settings[WINDOW].value
                                      : MP_DEFAULT_WINDOW;
    c->max_watches = (unsigned)settings[WATCHES].value;
    return true;
}

void login_answer(struct mp_client *c, const struct mp_message *msg)
{
    char reason[256];
    size_t n;

    if (msg->meta == MP_META_AUTH_OK) {
        if (!parse_auth_ok(c, msg, reason, sizeof reason)) {
            c->level = 0;
            client_connection_failed(c, MP_ERR_PROTOCOL, reason);
            return;
        }
        login_finish(c, MP_OK, NULL);
        return;
    }
    if (msg->meta != MP_META_AUTH_FAILURE) {
        login_finish(c, MP_ERR_PROTOCOL, NULL);
        return;
    }
    n = msg->data_len < sizeof reason - 1 ? msg->data_len : sizeof reason - 1;
    if (n > 0)
        memcpy(reason, msg->data, n);
    reason[n] = '\0';
    /* The broker's words for duplicate_names = "reject" (broker/login.c,
     * cluster_login.c): a reconnecting client must stop there, while
     * another refusal may mend. */
    login_finish(c, strcmp(reason, NAME_TAKEN_REASON) == 0
                        ? MP_ERR_NAME_TAKEN
                        : MP_ERR_AUTH,
                 reason);
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

enum mp_decode_status login_refusal(struct mp_client *c,
                                    const unsigned char *buf, size_t len)
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
    client_connection_failed(c, MP_ERR_FORMAT, reason);
    return MP_DECODE_OK;
}

/* connect_timeout_ms ran out before the login was decided: say where it
 * got to. */
void login_timeout_reason(const struct mp_client *c, char *buf, size_t len)
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

/* ------------------------------------------------------------------------
 * Connecting
 */

void login_send_auth(struct mp_client *c)
{
    c->state = CLIENT_AUTHENTICATING;
    if (send_message(c, NULL, MP_META_AUTH, c->name, c->name_len, "", 0,
                     c->secret, c->secret_len, true, NULL, NULL) != MP_OK)
        login_finish(c, MP_ERR_NOMEM, NULL);
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

/* The TLS context could not be set up at mp_client_new() (c->tls_error
 * says why): report it through cb from the loop, as any connect outcome. */
static int deferred_failure(struct mp_client *c, int status)
{
    c->state = CLIENT_CONNECTING;
    c->deferred_error = status;
    snprintf(c->deferred_reason, sizeof c->deferred_reason, "%s",
             c->tls_error);
    client_set_timer(c, 0);
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
    link_start(c);
    if (c->tls_ctx == NULL)
        login_send_auth(c);
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
        client_connection_failed(c, MP_ERR_CONNECT, reason);
        return;
    }
    rc = attach_socket(c, fd);
    if (rc != MP_OK)
        client_connection_failed(c, rc, NULL);
}

int login_start(struct mp_client *c)
{
    struct mp_address a;
    char err[MP_REASON_MAX / 2];
    int rc;

    rc = mp_address_parse(c->address, &a, err, sizeof err);
    if (rc != MP_OK) {
        snprintf(c->lost_reason, sizeof c->lost_reason, "%s: %s", c->address,
                 err);
        return rc;
    }
    if (a.tls && c->tls_ctx == NULL)
        return deferred_failure(c, MP_ERR_TLS);
    snprintf(c->tls_host, sizeof c->tls_host, "%s", a.host);
    /* Every address is tried, and the outcome comes from the loop. */
    c->dialer = mp_dialer_new(c->base, a.addrs, a.n_addrs, dialed, c);
    if (c->dialer == NULL)
        return MP_ERR_NOMEM;
    c->state = CLIENT_CONNECTING;
    client_set_timer(c, c->connect_timeout_ms);
    return MP_OK;
}

int mp_client_connect(struct mp_client *c, mp_ready_cb cb, void *arg)
{
    int rc;

    if (c == NULL)
        return MP_ERR_INVALID;
    if (c->state != CLIENT_NEW)
        return MP_ERR_STATE;
    c->ready_cb = cb;
    c->ready_arg = arg;
    c->address_index = 0;
    c->address = c->addresses[0];
    c->addresses_tried = 0;
    c->failover_reason[0] = '\0';
    rc = login_start(c);
    /* An address that does not parse or resolve: the next one. */
    if (rc == MP_ERR_ADDRESS)
        rc = reconnect_failover(c, rc);
    return rc;
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
