/*
 * http_server.h - the HTTP front of the metrics listener: libevent's
 * evhttp behind the limits a port open to a network needs.
 *
 * - The request line and headers may take max_header_size bytes, a
 *   request no body at all: past that, 413 and the connection is closed.
 * - One request a connection (every answer says "Connection: close"), and
 *   a connection lives at most timeout_ms from its accept, whatever it
 *   does: an idle one, a slow-loris one trickling header lines and one
 *   that does not read its answer all end there.
 * - At most max_connections are open; the listener then stops accepting,
 *   so further ones wait in the kernel's backlog (holding no descriptor
 *   of the broker) until one closes - what Prometheus's own
 *   --web.max-connections does (Go's netutil.LimitListener).
 * - GET and HEAD only: other methods HTTP defines get 405 with
 *   "Allow: GET, HEAD", unknown ones 501 (RFC 9110).
 * - accept() failing (out of descriptors) pauses the listener, as it does
 *   a client listener (accept_pause.h).
 *
 * Counted in broker_stats: http_connections, http_unanswered (closed
 * before a request reached a handler), http_timeouts (closed at
 * timeout_ms) and http_connection_limit (max_connections reached).
 *
 * Ownership: the caller owns the server (http_server_free); the server
 * owns its socket, evhttp and connections; `stats` must outlive it.
 */
#ifndef MP_BROKER_HTTP_SERVER_H
#define MP_BROKER_HTTP_SERVER_H

struct broker_stats;
struct errors;
struct event_base;
struct evhttp_request;
struct metrics_conf;

struct http_server;

typedef void (*http_handler)(struct evhttp_request *req, void *arg);

/* Bind mc's address and port and apply its limits, not accepting yet.
 * NULL with an error about the setting (file, line) if it cannot. */
struct http_server *http_server_new(struct event_base *base,
                                    const struct metrics_conf *mc,
                                    struct broker_stats *stats,
                                    struct errors *errs);

/* Answer GET/HEAD `path` with `handler`; any other path with the one
 * given for NULL. At most HTTP_SERVER_MAX_ROUTES in all, the NULL one
 * included; returns 0 or -1. */
enum { HTTP_SERVER_MAX_ROUTES = 4 };
int http_server_route(struct http_server *s, const char *path,
                      http_handler handler, void *arg);

/* Start accepting; logs "metrics on http://ADDR:PORT/metrics". */
void http_server_start(struct http_server *s);

/* Take mc's limits (address and port aside): for connections accepted
 * from now on. */
void http_server_set_limits(struct http_server *s,
                            const struct metrics_conf *mc);

/* "ADDR:PORT" as bound, e.g. "127.0.0.1:9330". */
const char *http_server_address(const struct http_server *s);
/* Connections open now (those new_connection() could count). */
unsigned http_server_connections(const struct http_server *s);

/* Close the socket and every connection. NULL is fine. */
void http_server_free(struct http_server *s);

#endif
