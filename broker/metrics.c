/* metrics.c - Prometheus metrics and a health check over HTTP (see
 * metrics.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "broker.h"
#include "cluster.h"
#include "conn_table.h"
#include "http_server.h"
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
        uint64_t authenticating = l->n_by_state[SESSION_AUTHENTICATING];
        uint64_t ready = l->n_by_state[SESSION_READY];
        uint64_t closing = l->n_by_state[SESSION_CLOSING];
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

/* The cluster's figures (doc/cluster.md, "Metrics"), when in one. */
static void write_cluster(struct evbuffer *out, const struct cluster *c)
{
    struct cluster_figures f;

    cluster_figures(c, &f);
    family(out, "mpbroker_cluster_live", "gauge",
           "1 while registered with a lease renewed in time, else 0.");
    sample_u64(out, "mpbroker_cluster_live", f.live);
    family(out, "mpbroker_cluster_brokers_alive", "gauge",
           "Brokers with a live lease at the last renewal.");
    sample_u64(out, "mpbroker_cluster_brokers_alive", f.brokers_alive);
    family(out, "mpbroker_cluster_links_up", "gauge",
           "Links to other brokers that are up.");
    sample_u64(out, "mpbroker_cluster_links_up", f.links_up);
    family(out, "mpbroker_cluster_remote_clients", "gauge",
           "Clients of other brokers known here (with connections, or "
           "cached from a look-up).");
    sample_u64(out, "mpbroker_cluster_remote_clients", f.remotes);
    write_counter(out, "mpbroker_cluster_messages_out_total",
                  "Messages sent to other brokers.", f.own.forwarded_out);
    write_counter(out, "mpbroker_cluster_messages_in_total",
                  "Messages received from other brokers.",
                  f.own.forwarded_in);
    write_counter(out, "mpbroker_cluster_data_bytes_out_total",
                  "Bytes of message data sent to other brokers.",
                  f.own.bytes_out);
    write_counter(out, "mpbroker_cluster_data_bytes_in_total",
                  "Bytes of message data received from other brokers.",
                  f.own.bytes_in);
    write_counter(out, "mpbroker_cluster_link_bytes_out_total",
                  "Bytes written on links.", f.link_bytes_out);
    write_counter(out, "mpbroker_cluster_link_bytes_in_total",
                  "Bytes read from links.", f.link_bytes_in);
    write_counter(out, "mpbroker_cluster_links_refused_total",
                  "Link handshakes refused (wrong secret or id).",
                  f.links_refused);
    write_counter(out, "mpbroker_cluster_links_down_total",
                  "Links that went down.", f.links_down);
    write_counter(out, "mpbroker_cluster_lookups_total",
                  "Names looked up in the registry.", f.own.lookups);
    write_counter(out, "mpbroker_cluster_stale_targets_total",
                  "Syns refused because their target session had gone.",
                  f.own.stale_targets);
    write_counter(out, "mpbroker_cluster_kicks_total",
                  "Sessions on other brokers told to close by a newer "
                  "login here.", f.own.kicks_sent);
    write_counter(out, "mpbroker_cluster_logins_unavailable_total",
                  "Logins refused because the registry did not answer.",
                  f.own.logins_refused_unavailable);
    write_counter(out, "mpbroker_cluster_redis_renewals_total",
                  "Lease renewals answered by Redis.", f.redis_renewals);
    family(out, "mpbroker_cluster_redis_rtt_seconds", "gauge",
           "Round trip of the last lease renewal.");
    evbuffer_add_printf(out, "mpbroker_cluster_redis_rtt_seconds %.6f\n",
                        (double)f.redis_rtt_us_last / 1e6);
    write_counter(out, "mpbroker_cluster_redis_failures_total",
                  "Registry calls that Redis did not answer in time.",
                  f.redis_calls_failed);
    write_counter(out, "mpbroker_cluster_fencings_total",
                  "Times this broker fenced itself (lease not renewed).",
                  f.fencings);
    write_counter(out, "mpbroker_cluster_reaped_total",
                  "Expired brokers this broker reaped.", f.reaped);
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
    write_counter(out, "mpbroker_auth_blocked_total",
                  "Logins refused unasked: their source, or their name from "
                  "that source, had too many failed logins.",
                  st->auth_blocked);
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
    write_counter(out, "mpbroker_credit_stalls_total",
                  "Times a level-1 client was paused: no credit left on "
                  "a connection.", st->credit_stalls);
    write_counter(out, "mpbroker_credit_refusals_total",
                  "Data from level-2 clients beyond their credit (WAT, "
                  "dropped).", st->credit_refusals);
    write_counter(out, "mpbroker_credit_grants_total",
                  "Credit messages sent to level-2 clients.",
                  st->credit_grants);
    write_counter(out, "mpbroker_presence_notices_total",
                  "Presence notices sent to watchers.",
                  st->presence_notices);
    write_counter(out, "mpbroker_list_requests_total",
                  "List requests answered.", st->lists);
    write_counter(out, "mpbroker_going_away_notices_total",
                  "GoingAway notices sent at shutdown.", st->going_away);
    write_refusals(out, st);
    write_counter(out, "mpbroker_websocket_upgrades_total",
                  "WebSocket opening handshakes completed.", st->ws_upgrades);
    write_counter(out, "mpbroker_websocket_refused_total",
                  "WebSocket opening handshakes refused with an HTTP error "
                  "(400, 403, 404, 405, 426, 431).", st->ws_refused);
    write_counter(out, "mpbroker_websocket_protocol_errors_total",
                  "WebSocket clients closed for breaking RFC 6455 (framing, "
                  "masking, sizes, UTF-8, close codes).",
                  st->ws_protocol_errors);
    write_counter(out, "mpbroker_websocket_idle_closes_total",
                  "WebSocket clients closed for not answering a Ping.",
                  st->ws_idle_closes);
    write_counter(out, "mpbroker_http_connections_total",
                  "Connections accepted on the metrics listener.",
                  st->http_connections);
    write_counter(out, "mpbroker_http_unanswered_total",
                  "Metrics connections closed before their request was "
                  "served: too large, malformed, timed out or abandoned.",
                  st->http_unanswered);
    write_counter(out, "mpbroker_http_timeouts_total",
                  "Metrics connections closed at metrics.timeout_ms.",
                  st->http_timeouts);
    write_counter(out, "mpbroker_http_connection_limit_total",
                  "Times metrics.max_connections was reached.",
                  st->http_connection_limit);
    if (b->cluster != NULL)
        write_cluster(out, b->cluster);
}

/* ------------------------------------------------------------------------
 * HTTP (the methods and limits are http_server.c's)
 */

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, struct evbuffer *body)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char length[24];

    evhttp_add_header(out, "Content-Type", type);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evhttp_send_reply(req, code, reason, body);
        return;
    }
    /* HEAD: GET's headers without its body (evhttp 2.1 would send it). */
    snprintf(length, sizeof length, "%zu", evbuffer_get_length(body));
    evhttp_add_header(out, "Content-Length", length);
    evhttp_send_reply(req, code, reason, NULL);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *body = evbuffer_new();

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

bool metrics_moves(const struct broker_conf *old, const struct broker_conf *new)
{
    if ((old->metrics.entry == NULL) != (new->metrics.entry == NULL))
        return true;
    return new->metrics.entry != NULL &&
           (strcmp(old->metrics.address, new->metrics.address) != 0 ||
            old->metrics.port != new->metrics.port);
}

int metrics_prepare(struct broker *b, const struct broker_conf *conf,
                    struct http_server **out, struct errors *errs)
{
    struct http_server *s;

    *out = NULL;
    if (conf->metrics.entry == NULL)
        return 0;
    s = http_server_new(b->base, &conf->metrics, &b->stats, errs);
    if (s == NULL)
        return -1;
    if (http_server_route(s, "/metrics", metrics_cb, b) != 0 ||
        http_server_route(s, "/healthz", healthz_cb, b) != 0 ||
        http_server_route(s, NULL, other_cb, b) != 0) {
        errors_add(errs, NULL, 0, "out of memory");
        http_server_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void metrics_replace(struct broker *b, struct http_server *fresh)
{
    http_server_free(b->metrics);
    b->metrics = fresh;
    if (fresh != NULL)
        http_server_start(fresh);
}

void metrics_update(struct broker *b)
{
    if (b->metrics != NULL)
        http_server_set_limits(b->metrics, &b->conf.metrics);
}

int metrics_open(struct broker *b, struct errors *errs)
{
    struct http_server *s;

    if (metrics_prepare(b, &b->conf, &s, errs) != 0)
        return -1;
    metrics_replace(b, s);
    return 0;
}

void metrics_close(struct broker *b)
{
    metrics_replace(b, NULL);
}

unsigned metrics_descriptors(const struct broker_conf *conf)
{
    return conf->metrics.entry != NULL ? conf->metrics.max_connections + 1 : 0;
}
