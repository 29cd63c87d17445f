/*
 * metrics.h - the `metrics` listener: an HTTP server (http_server.h, with
 * its limits) answering GET /metrics in the Prometheus text exposition
 * format 0.0.4 and GET /healthz with "ok".
 *
 * Ownership: the broker owns the server (broker->metrics); metrics_close()
 * frees it. A server from metrics_prepare() is the caller's until handed
 * to metrics_replace().
 */
#ifndef MP_BROKER_METRICS_H
#define MP_BROKER_METRICS_H

#include <stdbool.h>

struct broker;
struct broker_conf;
struct errors;
struct http_server;

/* Start serving if the config has a `metrics` group. Returns 0, or -1
 * with an error (file, line) added. Logs "metrics on http://ADDR:PORT". */
int metrics_open(struct broker *broker, struct errors *errs);
void metrics_close(struct broker *broker);

/* Reloads (reload.c): */
/* Does `new` serve metrics elsewhere than `old` (or start, or stop)? */
bool metrics_moves(const struct broker_conf *old,
                   const struct broker_conf *new);
/* Bind conf's metrics listener, not accepting yet: *out, or NULL when
 * conf has none. -1 with an error (file, line) if it cannot be bound. */
int metrics_prepare(struct broker *broker, const struct broker_conf *conf,
                    struct http_server **out, struct errors *errs);
/* Close the running server (its connections too) and start `fresh`
 * (NULL: none). */
void metrics_replace(struct broker *broker, struct http_server *fresh);
/* broker->conf's metrics limits, for connections accepted from now on. */
void metrics_update(struct broker *broker);

/* Descriptors the metrics listener may hold at once (its socket and
 * max_connections), for descriptor planning; 0 without one. */
unsigned metrics_descriptors(const struct broker_conf *conf);

#endif
