/*
 * httpclient.h - a small HTTP/1.x client for the tests of the metrics
 * listener: raw requests (so that a test can send what no real client
 * would), answers read to the end, and a sender that pushes bytes until
 * the broker closes the connection.
 *
 * Every function asserts with criterion, so they must be called from a
 * test body. Ownership: a struct http_response owns one allocation,
 * freed by http_response_free().
 */
#ifndef MP_TEST_HTTPCLIENT_H
#define MP_TEST_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct harness;

struct http_response {
    int status;    /* 0: the connection ended without a status line */
    char *headers; /* the status line and headers, NUL-terminated */
    char *body;    /* points into the same allocation */
};

/* The port of the broker's newest "metrics on http://127.0.0.1:PORT"
 * log line. */
int http_metrics_port(struct harness *h);

/* A connected TCP socket to 127.0.0.1:port. */
int http_connect(int port);

/* Write all of `text` (the connection must take it). */
void http_send(int fd, const char *text);

/* Wait at most timeout_ms for the first byte of an answer: true if one
 * (or the end of the connection) came. */
bool http_readable(int fd, int timeout_ms);

/* Read until the broker closes the connection (at most timeout_ms) and
 * parse what came; the socket is closed. */
struct http_response http_read_response(int fd, int timeout_ms);

/* Connect, send `request`, read the whole answer. */
struct http_response http_exchange(int port, const char *request);

void http_response_free(struct http_response *r);

/* Send `prefix`, then `filler` again and again until the broker closes the
 * connection (a write fails) or `cap` bytes went out, whichever comes
 * first; the socket is closed. Returns the bytes written; *closed says
 * whether the broker closed it. */
size_t http_send_until_closed(int port, const char *prefix,
                              const char *filler, size_t cap, bool *closed);

#endif
