/*
 * mpcat - send and receive mpbroker messages from a shell; the
 * mosquitto_pub/mosquitto_sub of mpbroker.
 *
 *     mpcat [options] listen PROTO
 *     mpcat [options] connect PEER PROTO [FILE...]
 *     mpcat [options] request PEER PROTO [DATA]
 *     mpcat [options] watch NAME...       (protocol level 2)
 *     mpcat [options] list [PREFIX]       (protocol level 2)
 *
 * One event_base of our own runs everything: the libmpclient client (in
 * attached mode), the input (a libevent read event for pipes, sockets and
 * terminals; chunked synchronous reads, one chunk per loop pass, for
 * regular files and devices, which epoll cannot watch), SIGINT/SIGTERM,
 * and the timers. Every way out goes through finish(), which records the
 * exit status and breaks the loop; main() then frees everything.
 *
 * This file: the messages and the exit path, printing, the connections of
 * both commands, logging in, setting up and tearing down. The command
 * line is in mpcat_args.c, connect's input in mpcat_input.c, listen -e's
 * echoes at level 2 in mpcat_echo.c, watch and list in
 * mpcat_presence.c, request in mpcat_request.c; mpcat.h is what they
 * share.
 *
 * Exit status: see enum status and the --help text.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpcat.h"

/* ------------------------------------------------------------------------
 * Messages and the exit path
 */

void vnote_start(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
}

void note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote_start(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Record the exit status and leave the loop after the current callback.
 * Only the first outcome counts: later ones are consequences of it (the
 * broker being lost fails the open, closes the connection, ...). */
void finish(struct app *a, int status)
{
    if (a->finished)
        return;
    a->finished = true;
    a->status = status;
    event_base_loopbreak(a->base);
}

void fail(struct app *a, int status, const char *fmt, ...)
{
    va_list ap;

    if (a->finished)
        return;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    finish(a, status);
}

/* The exit status for a libmpclient error. */
int status_of(int error)
{
    switch (error) {
    case MP_OK:
        return ST_OK;
    case MP_ERR_INVALID:
    case MP_ERR_NAME:
    case MP_ERR_SELF:
        return ST_USAGE;
    case MP_ERR_AUTH:
    case MP_ERR_NAME_TAKEN:
        return ST_AUTH;
    case MP_ERR_NO_SUCH_CLIENT:
    case MP_ERR_UNKNOWN_PROTOCOL:
    case MP_ERR_PEER_LEFT:
        return ST_REFUSED;
    case MP_ERR_ADDRESS: /* syntax was checked: the host did not resolve */
    case MP_ERR_CONNECT:
    case MP_ERR_BROKER_GONE:
    case MP_ERR_TIMEOUT:
    case MP_ERR_CLOSED:
    case MP_ERR_TLS:
    case MP_ERR_FORMAT:
    case MP_ERR_DISCONNECTED:
        return ST_BROKER;
    case MP_ERR_DENIED:
        return ST_DENIED;
    case MP_ERR_REPLACED:
        return ST_REPLACED;
    case MP_ERR_GOING_AWAY:
        return ST_GOING_AWAY;
    default:
        return ST_ERROR;
    }
}

/* ------------------------------------------------------------------------
 * Output
 */

static bool put_bytes(const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, stdout) == n;
}

/* Print one message in the chosen framing. Flushed at once: a reader of
 * a pipe (a script, a test) sees each message as it arrives. */
bool print_message(const struct config *c, const char *peer,
                          const void *data, size_t len)
{
    unsigned char hdr[4];
    bool ok = false;

    switch (c->framing) {
    case FRAME_LENGTH:
        hdr[0] = (unsigned char)(len >> 24);
        hdr[1] = (unsigned char)(len >> 16);
        hdr[2] = (unsigned char)(len >> 8);
        hdr[3] = (unsigned char)len;
        ok = put_bytes(hdr, 4) && put_bytes(data, len);
        break;
    case FRAME_NUL:
        ok = put_bytes(data, len) && putchar('\0') != EOF;
        break;
    case FRAME_LINE:
    case FRAME_WHOLE: /* input only */
        ok = true;
        if (c->verbose)
            ok = fputs(peer, stdout) != EOF && fputs(": ", stdout) != EOF;
        ok = ok && put_bytes(data, len) && putchar('\n') != EOF;
        break;
    }
    return fflush(stdout) == 0 && ok;
}

/* ------------------------------------------------------------------------
 * Connections: shared by both modes
 */

static void rearm_idle(struct app *a)
{
    struct timeval tv;

    tv.tv_sec = (time_t)a->cfg.wait_s;
    tv.tv_usec = (suseconds_t)((a->cfg.wait_s - (double)tv.tv_sec) * 1e6);
    evtimer_add(a->idle, &tv);
}

static bool short_of_count(struct app *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* -c N: did fewer than N messages arrive? Then say so, with what ended
 * the wait (fmt), and the caller ends with ST_SHORT. */
static bool short_of_count(struct app *a, const char *fmt, ...)
{
    va_list ap;

    if (a->cfg.count == 0 || a->received >= a->cfg.count)
        return false;
    fprintf(stderr, PROG ": only %lu of %lu messages (-c %lu) arrived: ",
            a->received, a->cfg.count, a->cfg.count);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return true;
}

/*
 * -e: the echo cannot be queued, because this peer does not read what we
 * send it (its backlog passed --conn-queue) or everyone's backlog passed
 * --queue. Waiting would stall every connection (they share our socket)
 * and exiting would drop them all: disconnect this peer, as a NATS
 * server cuts a slow consumer. What was queued for it still goes.
 */
static void shed(struct app *a, struct mp_conn *conn)
{
    note("%s does not read its echoes (%zu bytes wait for it): closing "
         "connection %s", mp_conn_peer(conn), mp_conn_queued(conn),
         mp_conn_id(conn));
    echo_detach(a, conn);
    mp_conn_close(conn);
    a->open_conns--;
    if (a->cfg.once && a->open_conns == 0)
        leave(a, short_of_count(a, "the last connection ended (-q)")
                     ? ST_SHORT : ST_OK);
}

static void on_message(struct mp_conn *conn, const void *data, size_t len,
                       void *arg)
{
    struct app *a = arg;
    int r;

    if (a->finished)
        return;
    if (!print_message(&a->cfg, mp_conn_peer(conn), data, len)) {
        fail(a, ST_ERROR, "cannot write to stdout: %s", strerror(errno));
        return;
    }
    if (a->cfg.echo) {
        r = echo_message(a, conn, data, len);
        if (r == MP_ERR_WOULD_BLOCK) {
            shed(a, conn);
            return;
        }
        if (r != MP_OK) {
            fail(a, r == MP_ERR_TOO_BIG ? ST_ERROR : status_of(r),
                 "cannot echo to %s: %s", mp_conn_peer(conn), mp_strerror(r));
            return;
        }
    }
    /* -c N: the Nth message ends it, whatever input is left (its echo,
     * queued above, still goes: leaving flushes). */
    if (a->cfg.count != 0 && ++a->received >= a->cfg.count) {
        if (a->cfg.verbose)
            note("%lu message%s arrived (-c): closing", a->received,
                 a->received == 1 ? "" : "s");
        leave(a, ST_OK);
        return;
    }
    /* -w counts idle time: traffic starts it again. With -c N it is a
     * deadline: the N replies must come within it. */
    if (a->lingering && a->cfg.count == 0)
        rearm_idle(a);
}

/* The broker is lost for good: without reconnecting, or after giving
 * up (the last attempt's error decides the status: 3 for a refused
 * login, 5 for a broker out of reach). */
static void on_lost(struct mp_client *c, int status, void *arg)
{
    struct app *a = arg;
    const char *why = mp_client_lost_reason(c);

    /* Level 2: the broker said what happened; its words say it all. */
    if (status == MP_ERR_REPLACED || status == MP_ERR_GOING_AWAY) {
        fail(a, status_of(status), "%s (broker %s)%s", why,
             mp_client_address(c),
             status == MP_ERR_REPLACED
                 ? "; another mpcat or client logs in with -n "
                   "the same name"
                 : "");
        return;
    }
    fail(a, status == MP_ERR_PROTOCOL ? ST_ERROR : status_of(status),
         "%s the broker at %s: %s%s%s",
         a->cfg.reconnect ? "gave up reconnecting to" : "lost",
         mp_client_address(c), mp_strerror(status), *why ? ": " : "", why);
}

/* ------------------------------------------------------------------------
 * Reconnecting (listen and watch): libmpclient logs in again; -v tells.
 */

static void on_interrupted(struct mp_client *c, int status,
                           const char *reason, void *arg)
{
    struct app *a = arg;

    if (a->cfg.verbose)
        note("disconnected from %s: %s%s%s", mp_client_address(c),
             mp_strerror(status), *reason ? ": " : "", reason);
}

static void on_reconnecting(struct mp_client *c, unsigned attempt,
                            unsigned delay_ms, void *arg)
{
    struct app *a = arg;

    if (a->cfg.verbose)
        note("reconnecting to %s (attempt %u) in %u ms",
             mp_client_address(c), attempt, delay_ms);
}

static void on_reconnected(struct mp_client *c, void *arg)
{
    struct app *a = arg;

    if (a->cfg.verbose)
        note("reconnected at %s as %s", mp_client_address(c),
             mp_client_name(c));
}

static void on_left(struct mp_client *c, void *arg)
{
    struct app *a = arg;

    (void)c;
    finish(a, a->leave_status);
}

/*
 * Every normal end goes through here: the input is done and the -w time
 * passed, the peer closed, -q, a signal. mp_client_free() alone would drop
 * what is still queued (the tail of the input, the last echoes), so leave
 * the broker gracefully first: libmpclient closes the connections (the
 * peers are told), sends everything, and calls on_left once the broker
 * has read it all (or after its connect timeout, 10 s). Asked a second
 * time (a second Ctrl-C while that is slow), exit at once. `status` is
 * the exit status once gone (ST_SHORT when -c was not met); the first
 * call decides it.
 */
void leave(struct app *a, int status)
{
    if (a->leaving) {
        finish(a, a->leave_status);
        return;
    }
    a->leaving = true;
    a->leave_status = status;
    a->conn = NULL;          /* closed by the disconnect, without on_close */
    input_close(&a->in);     /* nothing more can be sent */
    evtimer_del(a->idle);
    /* Not logged in (yet, or any more: on_lost has then decided). */
    if (mp_client_disconnect(a->client, on_left, a) != MP_OK)
        finish(a, status);
}

/* ------------------------------------------------------------------------
 * Listen mode
 */

static void listen_on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct app *a = arg;

    echo_detach(a, conn);
    /* Reconnecting: the connection is over, the listener is not. */
    if (reason == MP_CLOSE_BROKER_LOST && a->cfg.reconnect) {
        a->open_conns--;
        return;
    }
    /* Lost broker: on_lost reports it. Freed: we are exiting anyway. */
    if (a->finished || reason == MP_CLOSE_BROKER_LOST ||
        reason == MP_CLOSE_CLIENT_FREED)
        return;
    if (a->cfg.verbose)
        note("connection %s from %s ended: %s", mp_conn_id(conn),
             mp_conn_peer(conn), mp_close_reason_string(reason));
    a->open_conns--;
    if (a->cfg.once && a->open_conns == 0)
        leave(a, short_of_count(a, "the last connection ended (-q)")
                     ? ST_SHORT : ST_OK);
}

static void on_connection(struct mp_conn *conn, void *arg)
{
    struct app *a = arg;

    if (a->finished || a->leaving) {
        mp_conn_close(conn);
        return;
    }
    if (!echo_attach(a, conn)) {
        fail(a, ST_ERROR, "out of memory");
        return;
    }
    a->open_conns++;
    mp_conn_set_callbacks(conn, on_message, listen_on_close, a);
    if (a->cfg.verbose)
        note("connection %s from %s", mp_conn_id(conn), mp_conn_peer(conn));
}

/* ------------------------------------------------------------------------
 * Connect mode: closing
 */

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;

    (void)fd;
    (void)what;
    if (short_of_count(a, "-w %g s passed since %s; raise -w if the peer is "
                       "slow", a->cfg.wait_s,
                       a->cfg.mode == MODE_REQUEST ? "the request began"
                                                   : "the input ended")) {
        leave(a, ST_SHORT);
        return;
    }
    if (a->cfg.verbose)
        note("no message for %g s: closing", a->cfg.wait_s);
    leave(a, ST_OK);
}

/* All input sent: close now (-w 0) or wait for the peer. */
void input_finished(struct app *a)
{
    if (a->cfg.wait_s <= 0) {
        leave(a, short_of_count(a, "-w 0 closes when the input ends; give -w "
                                 "SECONDS to wait for replies")
                     ? ST_SHORT : ST_OK);
        return;
    }
    /* Tests wait for this line to know when the countdown began. */
    if (a->cfg.verbose)
        note("input done: closing after %g s without a message",
             a->cfg.wait_s);
    start_wait(a);
}

void start_wait(struct app *a)
{
    a->lingering = true;
    rearm_idle(a);
}

static void connect_on_close(struct mp_conn *conn, int reason, void *arg)
{
    struct app *a = arg;

    (void)conn;
    a->conn = NULL;
    if (a->finished || reason == MP_CLOSE_BROKER_LOST ||
        reason == MP_CLOSE_CLIENT_FREED)
        return;
    /* The peer ending the conversation is a normal end, as in nc(1),
     * even if some input was not sent. */
    if (a->cfg.verbose)
        note("%s: %s", a->cfg.peer, mp_close_reason_string(reason));
    leave(a, short_of_count(a, "the peer closed the connection")
                 ? ST_SHORT : ST_OK);
}

/* ------------------------------------------------------------------------
 * Connect mode: opening
 */

/* A refused open, with what to do about it, which libmpclient cannot
 * say: it does not know the command line. */
void open_failed(struct app *a, int status)
{
    const struct config *c = &a->cfg;
    char hint[600] = "";

    if (status == MP_ERR_NO_SUCH_CLIENT)
        snprintf(hint, sizeof hint, " (is %s logged in to this broker? "
                 "names are case-sensitive)", c->peer);
    else if (status == MP_ERR_UNKNOWN_PROTOCOL)
        snprintf(hint, sizeof hint, " (%s must listen for %s, as "
                 "'mpcat -n %s listen %s' does)", c->peer, c->protocol,
                 c->peer, c->protocol);
    else if (status == MP_ERR_DENIED)
        snprintf(hint, sizeof hint, " (%s; the broker's acl rules or "
                 "connection limits decide, or %s refused it)",
                 *mp_client_open_reason(a->client)
                     ? mp_client_open_reason(a->client)
                     : "no reason given",
                 c->peer);
    fail(a, status_of(status), "cannot open %s to %s: %s%s", c->protocol,
         c->peer, mp_strerror(status), hint);
}

static void on_open(struct mp_conn *conn, int status, void *arg)
{
    struct app *a = arg;

    if (conn == NULL) {
        open_failed(a, status);
        return;
    }
    if (a->finished || a->leaving) {
        mp_conn_close(conn);
        return;
    }
    a->conn = conn;
    mp_conn_set_callbacks(conn, on_message, connect_on_close, a);
    if (a->cfg.verbose)
        note("connection %s to %s open", mp_conn_id(conn), a->cfg.peer);
    if (a->cfg.mode == MODE_REQUEST) {
        ask_opened(a);
        return;
    }
    /* Only now: nothing is read that could not be sent. */
    next_input(a);
}

void open_peer(struct app *a)
{
    int r = mp_client_open(a->client, a->cfg.peer, a->cfg.protocol, on_open,
                           a);

    if (r != MP_OK)
        open_failed(a, r);
}

/* ------------------------------------------------------------------------
 * Logging in
 */

/*
 * The login failed: libmpclient's text for the error and its reason (the
 * broker's, OpenSSL's, the system's), then a hint naming the option to
 * change, which only mpcat knows.
 */
static void login_failed(struct app *a, int status, const char *reason)
{
    const struct config *c = &a->cfg;
    bool has_reason = reason != NULL && *reason != '\0';
    char hint[160] = "";

    switch (status) {
    case MP_ERR_AUTH:
        snprintf(hint, sizeof hint, " (check -n and the secret: -s, -S or "
                 "MPCAT_SECRET)");
        break;
    case MP_ERR_NAME_TAKEN:
        snprintf(hint, sizeof hint, " (another client is logged in as %s: "
                 "choose another -n)", c->name);
        break;
    case MP_ERR_TLS:
        snprintf(hint, sizeof hint, " (check --ca, --server-name, --cert "
                 "and --key)");
        break;
    case MP_ERR_PROTOCOL:
    case MP_ERR_BROKER_GONE:
        /* A listener of another format drops us, or answers in it. */
        snprintf(hint, sizeof hint, " (is -f %s the format of the listener "
                 "at %s?)", c->format, mp_client_address(a->client));
        break;
    case MP_ERR_FORMAT:
        snprintf(hint, sizeof hint, " (-f %s)", c->format);
        break;
    case MP_ERR_CONNECT:
    case MP_ERR_ADDRESS:
    case MP_ERR_TIMEOUT:
        snprintf(hint, sizeof hint, " (is mpbroker running and listening "
                 "there? the address is from %s)", c->address_from);
        break;
    default:
        break;
    }
    if (status == MP_ERR_AUTH || status == MP_ERR_NAME_TAKEN)
        fail(a, ST_AUTH, "authentication as %s failed: %s%s", c->name,
             has_reason ? reason : "no reason given", hint);
    else
        fail(a, status == MP_ERR_PROTOCOL ? ST_ERROR : status_of(status),
             "cannot log in at %s: %s%s%s%s", mp_client_address(a->client),
             mp_strerror(status), has_reason ? ": " : "",
             has_reason ? reason : "", hint);
}

static void on_ready(struct mp_client *client, int status, const char *reason,
                     void *arg)
{
    struct app *a = arg;

    if (status != MP_OK) {
        login_failed(a, status, reason);
        return;
    }
    if (a->cfg.verbose)
        note("logged in at %s as %s", mp_client_address(client),
             mp_client_name(client));
    if (a->cfg.mode == MODE_LISTEN)
        return;
    if (a->cfg.mode == MODE_WATCH || a->cfg.mode == MODE_LIST) {
        presence_start(a);
        return;
    }
    if (a->cfg.mode == MODE_REQUEST) {
        ask_start(a);
        return;
    }
    open_peer(a);
}

/* ------------------------------------------------------------------------
 * Setting up and tearing down
 */

/* Level 2: the broker shuts down within ms. A listener or watcher that
 * reconnects serves on until the close, then logs in again (the next -a
 * first); with --no-reconnect it leaves now (so that the broker need not
 * wait for it). Connect goes on with its input, request waits for its
 * replies, and the close, if it
 * comes first, exits 9. */
static void on_going_away(struct mp_client *c, unsigned ms, void *arg)
{
    struct app *a = arg;

    if (a->cfg.reconnect) {
        if (a->cfg.verbose)
            note("the broker at %s is shutting down: it closes within %u "
                 "ms; reconnecting then", mp_client_address(c), ms);
        return;
    }
    note("the broker at %s is shutting down: it closes within %u ms",
         mp_client_address(c), ms);
    if (a->cfg.mode != MODE_CONNECT && a->cfg.mode != MODE_REQUEST)
        leave(a, ST_GOING_AWAY);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *a = arg;

    (void)sig;
    (void)what;
    leave(a, ST_OK);
}

static int make_client(struct app *a)
{
    struct config *c = &a->cfg;
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    int err = MP_OK;

    o.address = c->address;
    o.addresses = c->more_addresses;
    o.n_addresses = c->n_more_addresses;
    o.reconnect = c->reconnect;
    o.reconnect_initial_ms = (unsigned)(c->reconnect_delay_s * 1000 + 0.5);
    o.reconnect_max_ms = (unsigned)(c->reconnect_max_delay_s * 1000 + 0.5);
    o.reconnect_max_attempts = (unsigned)c->reconnect_attempts;
    o.format = c->format;
    o.name = c->name;
    o.secret = c->secret;
    o.secret_len = c->secret_len;
    o.max_queued = c->queue;
    /* connect has one connection: it may use the whole queue. */
    o.max_queued_per_conn = c->conn_queue       ? c->conn_queue
                            : c->mode == MODE_LISTEN ? CONN_QUEUE_MAX
                                                     : c->queue;
    o.keepalive_s = c->keepalive_s;
    o.idle_timeout_ms = (unsigned)(c->idle_timeout_s * 1000 + 0.5);
    /* At least 1 ms: 0 would mean "never". */
    if (c->idle_timeout_s > 0 && o.idle_timeout_ms == 0)
        o.idle_timeout_ms = 1;
    o.tls_ca_file = c->tls_ca;
    o.tls_cert_file = c->tls_cert;
    o.tls_key_file = c->tls_key;
    o.tls_server_name = c->tls_server_name;
    o.protocol_level = c->level;
    a->client = mp_client_new(a->base, &o, &err);
    /* libmpclient keeps its own copy: ours is of no more use. */
    explicit_bzero(c->secret, c->secret_len);
    if (a->client == NULL) {
        note("cannot create the client: %s", mp_strerror(err));
        return status_of(err);
    }
    mp_client_on_lost(a->client, on_lost, a);
    mp_client_on_drained(a->client, on_drained, a);
    mp_client_on_going_away(a->client, on_going_away, a);
    mp_client_on_interrupted(a->client, on_interrupted, a);
    mp_client_on_reconnecting(a->client, on_reconnecting, a);
    mp_client_on_reconnected(a->client, on_reconnected, a);
    return ST_OK;
}

static int setup(struct app *a)
{
    int r;

    a->base = event_base_new();
    if (a->base == NULL) {
        note("cannot create an event loop");
        return ST_ERROR;
    }
    a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
    a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
    a->idle = evtimer_new(a->base, on_idle, a);
    if (a->sig_int == NULL || a->sig_term == NULL || a->idle == NULL ||
        evsignal_add(a->sig_int, NULL) != 0 ||
        evsignal_add(a->sig_term, NULL) != 0) {
        note("cannot set up the event loop");
        return ST_ERROR;
    }
    /* Before logging in: stdin may take a while, the login may not. */
    if (a->cfg.mode == MODE_REQUEST) {
        r = ask_read_question(a);
        if (r != ST_OK)
            return r;
    }
    r = make_client(a);
    if (r != ST_OK)
        return r;
    if (a->cfg.mode == MODE_LISTEN) {
        /* Before logging in: no Syn can find us without a handler. */
        r = mp_client_handle(a->client, a->cfg.protocol, on_connection, a);
        if (r != MP_OK) {
            note("cannot handle %s: %s", a->cfg.protocol, mp_strerror(r));
            return ST_ERROR;
        }
    }
    r = mp_client_connect(a->client, on_ready, a);
    if (r == MP_ERR_ADDRESS) {
        /* The shape was checked: the host does not resolve, or a unix:
         * path is longer than a socket address holds. */
        note("cannot use the broker address %s: %s (the address is from "
             "%s)", a->cfg.address,
             strncmp(a->cfg.address, "unix:", 5) == 0
                 ? "the path is too long for a unix socket"
                 : "its host does not resolve",
             a->cfg.address_from);
        return status_of(r);
    }
    if (r != MP_OK) {
        note("cannot connect to %s: %s", a->cfg.address, mp_strerror(r));
        return status_of(r);
    }
    return ST_OK;
}

static void free_event(struct event **ev)
{
    if (*ev != NULL)
        event_free(*ev);
    *ev = NULL;
}

static void teardown(struct app *a)
{
    /* Callbacks that mp_client_free() runs (on_close with CLIENT_FREED,
     * pending opens with MP_ERR_CLOSED) must change nothing now. */
    a->finished = true;
    input_close(&a->in);
    free(a->in.pending.data);
    free_event(&a->idle);
    mp_client_free(a->client);
    echo_free_all(a);
    ask_free(a);
    free_event(&a->sig_int);
    free_event(&a->sig_term);
    if (a->base != NULL)
        event_base_free(a->base);
    libevent_global_shutdown();
    if (a->cfg.secret != NULL)
        explicit_bzero(a->cfg.secret, a->cfg.secret_len);
    free(a->cfg.secret);
}

int main(int argc, char **argv)
{
    static struct app app;
    struct app *a = &app;
    int r;

    a->in.fd = -1;
    r = parse_args(&a->cfg, argc, argv);
    if (r >= 0) {
        free(a->cfg.secret);
        return r;
    }
    /* A closed stdout, or a socket libevent writes without MSG_NOSIGNAL,
     * must give an error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    r = setup(a);
    if (r == ST_OK && !a->finished)
        event_base_dispatch(a->base);
    if (r == ST_OK)
        r = a->status;
    teardown(a);
    if (fflush(stdout) != 0 && r == ST_OK) {
        note("cannot write to stdout: %s", strerror(errno));
        r = ST_ERROR;
    }
    return r;
}
