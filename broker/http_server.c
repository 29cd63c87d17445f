/* http_server.c - evhttp with limits, for the metrics listener (see
 * http_server.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "accept_pause.h"
#include "conf.h"
#include "http_server.h"
#include "listener.h"
#include "log.h"
#include "stats.h"

/* Reaching max_connections is logged at most once per interval: a client
 * that keeps the server at its limit cannot flood the log. */
enum { LIMIT_LOG_INTERVAL_S = 60 };

/* Every method HTTP/1.1 defines that evhttp knows: all reach route_cb,
 * which answers 405 to those it does not serve; evhttp itself answers
 * 501 to the ones it does not know. */
#define KNOWN_METHODS                                                        \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |   \
     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |             \
     EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

struct http_conn;

struct http_route {
    struct http_server *server;
    http_handler handler;
    void *arg;
};

struct http_server {
    struct evhttp *http;
    struct evconnlistener *evl;   /* owned by http once bound */
    struct accept_pause pause;
    struct broker_stats *stats;
    char address[80];             /* "127.0.0.1:9330", as bound */
    char label[100];              /* "metrics http://127.0.0.1:9330" */
    unsigned max_connections;
    struct timeval timeout;
    unsigned n_conns;             /* open, counted ones */
    struct http_conn *conns;
    time_t last_limit_log;
    bool closing;                 /* in http_server_free */
    struct http_route routes[HTTP_SERVER_MAX_ROUTES];
    size_t n_routes;
    struct http_server *next;     /* in `servers` */
};

/* One accepted connection, from its accept to evhttp's freeing it. */
struct http_conn {
    struct http_server *server;
    struct bufferevent *bev;      /* what evhttp reads and writes */
    struct event *setup;          /* finish_setup(), right after the accept */
    struct event *deadline;       /* timeout_ms after the accept */
    bool set_up;                  /* finish_setup() ran */
    bool answered;                /* a request reached a handler */
    bool done;                    /* ... and its answer went out */
    struct http_conn *prev, *next;
};

/* Every server alive. evhttp_bind_listener() makes its own struct evhttp
 * the listener's callback argument, so the accept error callback gets
 * that and finds its server here (one, or two during a reload). */
static struct http_server *servers;

static struct http_server *server_of(const struct evhttp *http)
{
    struct http_server *s = servers;

    while (s != NULL && s->http != http)
        s = s->next;
    return s;
}

/* ------------------------------------------------------------------------
 * Connections
 *
 * libevent 2.1's evhttp shows a server neither its connections' accepts
 * nor their ends. What it offers: it asks for each accepted connection's
 * bufferevent (new_connection), sets that bufferevent's callbacks with the
 * connection as their argument (bufferevent_getcb finds it), and calls a
 * connection's close callback when it frees it (connection_closed).
 */

static void unlink_conn(struct http_conn *c)
{
    struct http_server *s = c->server;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

/* The connection is gone: forget it, and accept again if the limit had
 * stopped it. */
static void conn_free(struct http_conn *c)
{
    struct http_server *s = c->server;

    if (!c->answered)
        s->stats->http_unanswered++;
    unlink_conn(c);
    event_free(c->setup);
    event_free(c->deadline);
    free(c);
    if (--s->n_conns < s->max_connections && s->pause.held && !s->closing)
        accept_pause_hold(&s->pause, false);
}

static void connection_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn_free(arg);
}

/* evhttp has set the bufferevent's callbacks by now: their argument is
 * the connection, whose close callback is then ours. No callback means
 * evhttp already gave the connection up (out of memory). Either way the
 * reference new_connection() took on the bufferevent is dropped. */
static void finish_setup(struct http_conn *c)
{
    struct bufferevent *bev = c->bev;
    bufferevent_data_cb readcb = NULL;
    void *evcon = NULL;

    event_del(c->setup);
    c->set_up = true;
    bufferevent_getcb(bev, &readcb, NULL, NULL, &evcon);
    if (readcb != NULL)
        evhttp_connection_set_closecb(evcon, connection_closed, c);
    else
        conn_free(c);
    bufferevent_decref(bev);
}

static void setup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish_setup(arg);
}

/* timeout_ms since the accept, or an answer sent on a connection evhttp
 * would keep open (answer_sent): end the connection as evhttp ends one on
 * its own timeout (which frees it, and `c` with it). */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;

    (void)fd;
    (void)what;
    if (!c->done)
        c->server->stats->http_timeouts++;
    bufferevent_trigger_event(c->bev, BEV_EVENT_TIMEOUT | BEV_EVENT_READING,
                              0);
}

static void count_connection(struct http_server *s, struct http_conn *c)
{
    time_t now = time(NULL);

    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    if (++s->n_conns < s->max_connections)
        return;
    /* Full: the next ones wait in the backlog until one closes. */
    s->stats->http_connection_limit++;
    accept_pause_hold(&s->pause, true);
    if (now - s->last_limit_log >= LIMIT_LOG_INTERVAL_S) {
        log_warn("%s: %u connections open (max_connections); accepting "
                 "more when one closes", s->label, s->n_conns);
        s->last_limit_log = now;
    }
}

/* evhttp asks for an accepted connection's bufferevent. Out of memory,
 * NULL: evhttp makes one of its own, and that connection is neither
 * counted nor given a deadline (evhttp's idle timeout still holds). */
static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
    struct http_server *s = arg;
    struct http_conn *c = calloc(1, sizeof *c);

    accept_pause_accepted(&s->pause);
    s->stats->http_connections++;
    if (c == NULL ||
        (c->setup = event_new(base, -1, 0, setup_cb, c)) == NULL ||
        (c->deadline = evtimer_new(base, deadline_cb, c)) == NULL ||
        (c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        if (c != NULL && c->setup != NULL)
            event_free(c->setup);
        if (c != NULL && c->deadline != NULL)
            event_free(c->deadline);
        free(c);
        return NULL;
    }
    c->server = s;
    /* Kept alive until finish_setup() has looked at it. */
    bufferevent_incref(c->bev);
    event_active(c->setup, EV_TIMEOUT, 0);
    evtimer_add(c->deadline, &s->timeout);
    count_connection(s, c);
    return c->bev;
}

static void accept_error_cb(struct evconnlistener *evl, void *http)
{
    struct http_server *s = server_of(http);

    if (s != NULL)
        accept_pause_failed(&s->pause);
    else
        evconnlistener_disable(evl); /* cannot happen; never spin */
}

/* ------------------------------------------------------------------------
 * Requests
 */

static struct http_conn *conn_of(struct http_server *s,
                                 struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon)
                                    : NULL;
    struct http_conn *c = s->conns;

    while (c != NULL && c->bev != bev)
        c = c->next;
    return c;
}

/* The answer is out. "Connection: close" makes evhttp close the
 * connection right after this, except after CONNECT (it keeps a tunnel
 * open, whatever the headers say): close it then from the loop. */
static void answer_sent(struct evhttp_request *req, void *arg)
{
    struct http_conn *c = arg;
    struct timeval now = {0, 0};

    (void)req;
    c->done = true;
    evtimer_add(c->deadline, &now);
}

/* 405 with the methods allowed (evhttp_send_error() would drop the
 * Allow header: it clears the output headers). */
static void method_not_allowed(struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *body = evbuffer_new();

    evhttp_add_header(out, "Allow", "GET, HEAD");
    evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
    if (body != NULL)
        evbuffer_add_printf(body, "only GET and HEAD\n");
    evhttp_send_reply(req, 405, "Method Not Allowed", body);
    if (body != NULL)
        evbuffer_free(body);
}

static void route_cb(struct evhttp_request *req, void *arg)
{
    struct http_route *r = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct http_conn *c = conn_of(r->server, req);

    if (c != NULL && c->done) {
        /* A request pipelined after the answer to CONNECT: one request a
         * connection, so close it unanswered. evhttp's error path frees
         * the connection (and `c`) and leaves this request, detached, to
         * us; evhttp 2.1 touches neither after this callback. */
        bufferevent_trigger_event(c->bev, BEV_EVENT_EOF | BEV_EVENT_READING,
                                  0);
        evhttp_request_free(req);
        return;
    }
    if (c != NULL) {
        c->answered = true;
        evhttp_request_set_on_complete_cb(req, answer_sent, c);
    }
    /* One request a connection: nothing for a slow client to keep open
     * past its answer, and timeout_ms bounds a connection's whole life. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
                      "close");
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
        method_not_allowed(req);
    else
        r->handler(req, r->arg);
}

int http_server_route(struct http_server *s, const char *path,
                      http_handler handler, void *arg)
{
    struct http_route *r;

    if (s->n_routes == HTTP_SERVER_MAX_ROUTES)
        return -1;
    r = &s->routes[s->n_routes++];
    r->server = s;
    r->handler = handler;
    r->arg = arg;
    if (path == NULL) {
        evhttp_set_gencb(s->http, route_cb, r);
        return 0;
    }
    return evhttp_set_cb(s->http, path, route_cb, r) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * The server
 */

void http_server_set_limits(struct http_server *s,
                            const struct metrics_conf *mc)
{
    unsigned was = s->max_connections;

    s->max_connections = mc->max_connections;
    s->timeout.tv_sec = mc->timeout_ms / 1000;
    s->timeout.tv_usec = (mc->timeout_ms % 1000) * 1000;
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)mc->max_header_size);
    /* GET and HEAD carry no body: any body is refused (413). */
    evhttp_set_max_body_size(s->http, 0);
    /* Idle time, for connections new_connection() could not count. */
    evhttp_set_timeout_tv(s->http, &s->timeout);
    if (was != 0 && s->evl != NULL)
        accept_pause_hold(&s->pause, s->n_conns >= s->max_connections);
}

static void link_server(struct http_server *s)
{
    s->next = servers;
    servers = s;
}

static void unlink_server(struct http_server *s)
{
    for (struct http_server **p = &servers; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

/* The bound socket, paused, in evhttp's hands; -1 out of memory. */
static int bind_listener(struct http_server *s, struct event_base *base,
                         int fd)
{
    s->evl = evconnlistener_new(base, NULL, NULL,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
                                    LEV_OPT_DISABLED,
                                -1, fd);
    if (s->evl == NULL) {
        close(fd);
        return -1;
    }
    if (evhttp_bind_listener(s->http, s->evl) == NULL) {
        evconnlistener_free(s->evl);
        s->evl = NULL;
        return -1;
    }
    evconnlistener_set_error_cb(s->evl, accept_error_cb);
    return accept_pause_init(&s->pause, base, s->evl, s->label);
}

struct http_server *http_server_new(struct event_base *base,
                                    const struct metrics_conf *mc,
                                    struct broker_stats *stats,
                                    struct errors *errs)
{
    struct http_server *s = calloc(1, sizeof *s);
    int fd;

    if (s == NULL || (s->http = evhttp_new(base)) == NULL) {
        free(s);
        errors_add(errs, NULL, 0, "out of memory");
        return NULL;
    }
    s->stats = stats;
    link_server(s);
    evhttp_set_allowed_methods(s->http, KNOWN_METHODS);
    evhttp_set_bevcb(s->http, new_connection, s);
    http_server_set_limits(s, mc);
    fd = listen_tcp(conf_member_or_group(mc->entry, "port"), mc->address,
                    mc->port, s->address, sizeof s->address, errs);
    if (fd < 0) {
        http_server_free(s);
        return NULL;
    }
    snprintf(s->label, sizeof s->label, "metrics http://%s", s->address);
    if (bind_listener(s, base, fd) != 0) {
        errors_add(errs, NULL, 0, "out of memory");
        http_server_free(s);
        return NULL;
    }
    return s;
}

void http_server_start(struct http_server *s)
{
    accept_pause_hold(&s->pause, false);
    log_info("metrics on http://%s/metrics", s->address);
}

const char *http_server_address(const struct http_server *s)
{
    return s->address;
}

unsigned http_server_connections(const struct http_server *s)
{
    return s->n_conns;
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    s->closing = true;
    accept_pause_clear(&s->pause);
    /* Accepted in this very pass of the loop: set up now, so that
     * evhttp_free() tells us about them too. */
    for (struct http_conn *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!c->set_up)
            finish_setup(c);
    }
    evhttp_free(s->http); /* its connections (connection_closed) and evl */
    unlink_server(s);
    free(s);
}
