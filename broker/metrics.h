/*
 * metrics.h - the `metrics` listener: an HTTP server (libevent's evhttp)
 * answering GET /metrics in the Prometheus text exposition format 0.0.4
 * and GET /healthz with "ok".
 *
 * Ownership: the broker owns the server (broker->metrics); metrics_close()
 * frees it.
 */
#ifndef MP_BROKER_METRICS_H
#define MP_BROKER_METRICS_H

struct broker;
struct errors;

/* Start serving if the config has a `metrics` group. Returns 0, or -1
 * with an error (file, line) added. Logs "metrics on http://ADDR:PORT". */
int metrics_open(struct broker *broker, struct errors *errs);
void metrics_close(struct broker *broker);

#endif
