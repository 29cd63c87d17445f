/* httpclient.c - a small HTTP/1.x client for tests (see httpclient.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httpclient.h"

#define METRICS_LINE "metrics on http://127.0.0.1:"

int http_metrics_port(struct harness *h)
{
    char *log = harness_log_text(h);
    const char *p = log, *last = NULL;
    int port;

    while ((p = strstr(p, METRICS_LINE)) != NULL)
        last = p++;
    cr_assert_not_null(last, "no metrics line in the log:\n%s", log);
    port = atoi(last + strlen(METRICS_LINE));
    free(log);
    cr_assert_gt(port, 0);
    return port;
}

int http_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0,
              "connect to port %d: %s", port, strerror(errno));
    return fd;
}

void http_send(int fd, const char *text)
{
    size_t len = strlen(text);

    cr_assert_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len,
                 "send: %s", strerror(errno));
}

bool http_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, timeout_ms) == 1;
}

struct http_response http_read_response(int fd, int timeout_ms)
{
    struct http_response r = {0};
    char *all = NULL, *split;
    size_t len = 0;

    for (;;) {
        char chunk[4096];
        ssize_t n;
        cr_assert(http_readable(fd, timeout_ms), "the answer did not end "
                  "within %d ms", timeout_ms);
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == ECONNRESET)
            break;
        cr_assert(n >= 0, "read: %s", strerror(errno));
        if (n == 0)
            break;
        all = realloc(all, len + (size_t)n + 1);
        cr_assert_not_null(all);
        memcpy(all + len, chunk, (size_t)n);
        len += (size_t)n;
        all[len] = '\0';
    }
    close(fd);
    if (all == NULL)
        all = strdup("");
    cr_assert_not_null(all);
    if (sscanf(all, "HTTP/1.%*d %d", &r.status) != 1)
        r.status = 0;
    split = strstr(all, "\r\n\r\n");
    r.headers = all;
    if (split != NULL) {
        *split = '\0';
        r.body = split + 4;
    } else {
        r.body = all + len;
    }
    return r;
}

struct http_response http_exchange(int port, const char *request)
{
    int fd = http_connect(port);

    http_send(fd, request);
    return http_read_response(fd, mpt_ms(MPT_MSG_MS));
}

void http_response_free(struct http_response *r)
{
    free(r->headers);
    r->headers = r->body = NULL;
}

size_t http_send_until_closed(int port, const char *prefix,
                              const char *filler, size_t cap, bool *closed)
{
    int fd = http_connect(port);
    char chunk[65536];
    size_t fill = strlen(filler), used = 0, sent = 0;

    http_send(fd, prefix);
    sent = strlen(prefix);
    while (used + fill <= sizeof chunk) {
        memcpy(chunk + used, filler, fill);
        used += fill;
    }
    *closed = false;
    while (sent < cap) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        ssize_t n;
        /* A broker that neither reads nor closes ends the test too. */
        if (poll(&p, 1, mpt_ms(MPT_MSG_MS)) != 1)
            break;
        n = send(fd, chunk, used, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0) {
            cr_assert(errno == EPIPE || errno == ECONNRESET, "send: %s",
                      strerror(errno));
            *closed = true;
            break;
        }
        sent += (size_t)n;
    }
    close(fd);
    return sent;
}
