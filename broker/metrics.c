/* metrics.c - Prometheus metrics and a health check over HTTP (see
 * metrics.h). */
#include "config.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "broker.h"
#include "conn_table.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "work_pool.h"

/* ------------------------------------------------------------------------
 * The exposition format
 */

/* A label value with \, " and newline escaped, as the format requires. */
static void add_label_value(struct evbuffer *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, p, 1);
    }
}

static void family(struct evbuffer *out, const char *name, const char *type,
                   const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type);
}

static void sample_u64(struct evbuffer *out, const char *name, uint64_t v)
{
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* name{listener="...",KEY="VALUE"} v */
static void sample_labeled(struct evbuffer *out, const char *name,
                           const char *listener, const char *key,
                           const char *value, uint64_t v)
{
    evbuffer_add_printf(out, "%s{listener=\"", name);
    add_label_value(out, listener);
    evbuffer_add_printf(out, "\",%s=\"", key);
    add_label_value(out, value);
    evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)v);
}

/* ------------------------------------------------------------------------
 * The metrics
 */

static void write_clients(struct evbuffer *out, const struct broker *b)
{
    family(out, "mpbroker_clients", "gauge",
           "Client sockets by listener and state.");
    for (const struct listener *l = b->listeners; l != NULL; l = l->next) {
        uint64_t authenticating = 0, ready = 0, closing = 0;
        for (const struct session *s = b->sessions; s != NULL; s = s->next) {
            if (s->listener != l)
                continue;
            if (s->state == SESSION_AUTHENTICATING)
                authenticating++;
            else if (s->state == SESSION_READY)
                ready++;
            else
                closing++;
        }
        sample_labeled(out, "mpbroker_clients", l->label, "state",
                       "authenticating", authenticating);
        sample_labeled(out, "mpbroker_clients", l->label, "state", "ready",
                       ready);
        sample_labeled(out, "mpbroker_clients", l->label, "state", "closing",
                       closing);
    }
}

typedef uint64_t (*traffic_get)(const struct traffic_stats *t);

static uint64_t get_messages_in(const struct traffic_stats *t) { return t->messages_in; }
static uint64_t get_bytes_in(const struct traffic_stats *t) { return t->bytes_in; }
static uint64_t get_messages_out(const struct traffic_stats *t) { return t->messages_out; }
static uint64_t get_bytes_out(const struct traffic_stats *t) { return t->bytes_out; }

/* One traffic counter family, by listener and format. */
static void write_traffic(struct evbuffer *out, const struct broker *b,
                          const char *name, const char *help, traffic_get get)
{
    family(out, name, "counter", help);
    for (const struct listener *l = b->listeners; l != NULL; l = l->next) {
        for (size_t i = 0; i < b->plugins.n_translators; i++)
            sample_labeled(out, name, l->label, "format",
                           b->plugins.translators[i].name,
                           get(&l->traffic[i]));
    }
}

static void write_counter(struct evbuffer *out, const char *name,
                          const char *help, uint64_t v)
{
    family(out, name, "counter", help);
    sample_u64(out, name, v);
}

/* A counter family with one label: a sample per reason. */
struct reason_count {
    const char *reason;
    uint64_t value;
};

static void write_reasons(struct evbuffer *out, const char *name,
                          const char *help, const struct reason_count *rows,
                          size_t n)
{
    family(out, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        evbuffer_add_printf(out, "%s{reason=\"%s\"} %llu\n", name,
                            rows[i].reason,
                            (unsigned long long)rows[i].value);
}

/* What the limits against hostile clients refused (doc/security.md). */
static void write_refusals(struct evbuffer *out, const struct broker_stats *st)
{
    const struct reason_count sockets[] = {
        {"max_clients", st->refused_max_clients},
        {"max_clients_per_address", st->refused_per_address},
        {"max_unauthenticated", st->refused_unauthenticated},
        {"max_unauthenticated_per_address",
         st->refused_unauthenticated_per_address},
    };
    const struct reason_count syns[] = {
        {"max_connections_per_client", st->syns_refused_per_client},
        {"max_connections_per_pair", st->syns_refused_per_pair},
    };

    write_reasons(out, "mpbroker_sockets_refused_total",
                  "Sockets closed at accept, by the limit that refused them.",
                  sockets, sizeof sockets / sizeof sockets[0]);
    write_reasons(out, "mpbroker_syns_refused_total",
                  "Syns refused by a connection-table limit.", syns,
                  sizeof syns / sizeof syns[0]);
    write_counter(out, "mpbroker_slow_consumer_deadline_disconnects_total",
                  "Of the slow-consumer disconnects: clients above "
                  "output_high_water for slow_consumer_timeout_ms.",
                  st->slow_deadline_disconnects);
    write_counter(out, "mpbroker_bad_message_disconnects_total",
                  "Clients disconnected past bad_messages_max.",
                  st->bad_message_disconnects);
    write_counter(out, "mpbroker_log_lines_suppressed_total",
                  "Client-caused log lines not written (log rate limits).",
                  st->log_lines_suppressed);
}

static void write_metrics(struct evbuffer *out, const struct broker *b)
{
    const struct broker_stats *st = &b->stats;

    family(out, "mpbroker_build_info", "gauge",
           "The running version, always 1.");
    evbuffer_add_printf(out, "mpbroker_build_info{version=\"%s\"} 1\n",
                        PACKAGE_VERSION);
    family(out, "mpbroker_uptime_seconds", "gauge",
           "Seconds since the broker started.");
    sample_u64(out, "mpbroker_uptime_seconds",
               (uint64_t)(time(NULL) - st->started));
    write_clients(out, b);
    family(out, "mpbroker_connections", "gauge",
           "Open or opening client-to-client connections.");
    sample_u64(out, "mpbroker_connections", conn_table_count(b->conns));
    write_traffic(out, b, "mpbroker_messages_received_total",
                  "Messages decoded from clients.", get_messages_in);
    write_traffic(out, b, "mpbroker_received_bytes_total",
                  "Bytes of the messages decoded from clients.", get_bytes_in);
    write_traffic(out, b, "mpbroker_messages_sent_total",
                  "Messages encoded for clients.", get_messages_out);
    write_traffic(out, b, "mpbroker_sent_bytes_total",
                  "Bytes of the messages encoded for clients.", get_bytes_out);
    write_counter(out, "mpbroker_auth_successes_total", "Logins allowed.",
                  st->auth_successes);
    write_counter(out, "mpbroker_auth_failures_total",
                  "Logins refused, blocked addresses included.",
                  st->auth_failures);
    write_counter(out, "mpbroker_auth_busy_total",
                  "Logins refused because the hashing queue was full.",
                  st->auth_busy);
    family(out, "mpbroker_auth_queued", "gauge",
           "Logins waiting for a hashing worker.");
    sample_u64(out, "mpbroker_auth_queued",
               b->work_pool != NULL ? work_pool_queued(b->work_pool) : 0);
    write_counter(out, "mpbroker_connections_opened_total",
                  "Connection requests (Syn) accepted.",
                  st->connections_opened);
    write_counter(out, "mpbroker_bounced_messages_total",
                  "Messages answered with NoSuchConnection.", st->bounced);
    write_counter(out, "mpbroker_slow_consumer_disconnects_total",
                  "Clients disconnected as too slow (output_hard_limit or "
                  "slow_consumer_timeout_ms).",
                  st->slow_disconnects);
    write_counter(out, "mpbroker_backpressure_stalls_total",
                  "Times a client was paused for a slow recipient.",
                  st->backpressure_stalls);
    write_refusals(out, st);
}

/* ------------------------------------------------------------------------
 * HTTP
 */

static bool is_get(struct evhttp_request *req)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

    return cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
}

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, struct evbuffer *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      type);
    evhttp_send_reply(req, code, reason, body);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *body;

    if (!is_get(req)) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    body = evbuffer_new();
    if (body == NULL) {
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    write_metrics(body, arg);
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    evbuffer_free(body);
}

static void healthz_cb(struct evhttp_request *req, void *arg)
{
    struct broker *b = arg;
    struct evbuffer *body = evbuffer_new();

    if (body == NULL) {
        evhttp_send_error(req, 500, "Out of memory");
        return;
    }
    /* Serving this at all means the event loop runs; shutting down is
     * not healthy any more, so that a balancer stops sending clients. */
    evbuffer_add_printf(body, b->shutting_down ? "shutting down\n" : "ok\n");
    reply(req, b->shutting_down ? 503 : 200,
          b->shutting_down ? "Service Unavailable" : "OK",
          "text/plain; charset=utf-8", body);
    evbuffer_free(body);
}

static void other_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 404, "Not Found");
}

static void log_bound(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[64] = "?";
    int port = 0;

    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss,
                    &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            host[0] = '[';
            evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host + 1,
                             sizeof host - 2);
            strcat(host, "]");
            port = ntohs(in6->sin6_port);
        } else {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        }
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
}

int metrics_open(struct broker *b, struct errors *errs)
{
    const struct broker_conf *c = &b->conf;
    struct evhttp_bound_socket *bound;

    if (c->metrics.entry == NULL)
        return 0;
    b->metrics = evhttp_new(b->base);
    if (b->metrics == NULL) {
        errors_add(errs, NULL, 0, "out of memory");
        return -1;
    }
    evhttp_set_allowed_methods(b->metrics, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(b->metrics, "/metrics", metrics_cb, b);
    evhttp_set_cb(b->metrics, "/healthz", healthz_cb, b);
    evhttp_set_gencb(b->metrics, other_cb, b);
    bound = evhttp_bind_socket_with_handle(b->metrics, c->metrics.address,
                                           (ev_uint16_t)c->metrics.port);
    if (bound == NULL) {
        conf_setting_error(errs, c->metrics.entry,
                           "cannot serve metrics on %s port %d: %s",
                           c->metrics.address, c->metrics.port,
                           evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    log_bound(bound);
    return 0;
}

void metrics_close(struct broker *b)
{
    if (b->metrics != NULL)
        evhttp_free(b->metrics);
    b->metrics = NULL;
}
