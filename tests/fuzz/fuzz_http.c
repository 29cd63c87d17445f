/*
 * fuzz_http.c - libFuzzer harness for the metrics listener's HTTP front
 * (broker/http_server.c over libevent's evhttp, broker/metrics.c's
 * handlers): the input is what one client sends on its connection.
 *
 * Set up once: a struct broker with its event base, config, tables and
 * stats, and the real metrics server (metrics_open) on 127.0.0.1, port
 * picked by the kernel, with small limits (max_header_size 1024).
 *
 * Per input, one TCP connection over loopback: the input's bytes after
 * the first are written in pieces with the event loop run in between
 * (EVLOOP_NONBLOCK, bounded), then the harness closes its end (after a
 * half-close, if the scene says so). Checks:
 *  - whatever came back is at most one well-formed HTTP/1.x response:
 *    status line, headers, a Content-Length the body matches exactly
 *    and nothing after it, and the server closed the connection after
 *    it (one request a connection) - except after CONNECT, see below;
 *  - once the client is gone, the server holds no connection any more;
 *  - a well-formed GET /healthz on a new connection is then answered
 *    200 "ok" - no input may break the server for the next client.
 * The client closes with a reset (SO_LINGER 0), so that no TIME_WAIT
 * socket is left per input.
 *
 * The first input byte sets the scene:
 *   bits 0-2  write pieces: 0 all at once, k: 4^(k-1) bytes (1 .. 4096)
 *   bit 3     half-close (shutdown SHUT_WR) after the input, and wait
 *             for the server's answer before closing
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "broker.h"
#include "conn_table.h"
#include "errors.h"
#include "fuzz_util.h"
#include "hashmap.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds on the loop: far above what any input needs. */
enum { IDLE_PUMPS = 4, MAX_PUMPS = 100000, MAX_ANSWER = 1 << 20 };

static struct broker broker;
static int port;

/* ------------------------------------------------------------------------
 * Set-up, once
 */

static void write_config(char *path, size_t len)
{
    FILE *f = fuzz_temp_config("mpbroker-fuzz-http", path, len);

    /* No timer may fire within a run (it would depend on the clock):
     * timeout_ms is an hour. */
    fprintf(f,
            "translators = ( { name = \"json\"; module = \"translator_json.so\"; } );\n"
            "authenticators = ( { module = \"auth_allow_all.so\"; } );\n"
            "listeners = ( { unix = \"/nonexistent/fuzz.sock\"; } );\n"
            "metrics = { address = \"127.0.0.1\"; port = 0; max_connections = 2;\n"
            "            timeout_ms = 3600000; max_header_size = 1024; };\n"
            "log = { level = \"error\"; };\n");
    FUZZ_CHECK(fclose(f) == 0, "writing %s failed", path);
}

static void teardown(void)
{
    metrics_close(&broker);
    conn_table_free(broker.conns);
    hashmap_free(broker.names);
    conf_free(&broker.conf);
    event_base_free(broker.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct errors errs;
    char path[300];
    const char *address, *colon;

    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    mp_log_set_level(MP_LOG_ERROR);
    if (getenv("MP_FUZZ_LOG") != NULL) {
        enum mp_log_level level;
        if (mp_log_level_parse(getenv("MP_FUZZ_LOG"), &level) == 0)
            mp_log_set_level(level);
    }
    write_config(path, sizeof path);
    errors_init(&errs);
    broker.base = event_base_new();
    broker.names = hashmap_new();
    broker.conns = conn_table_new(NULL);
    FUZZ_CHECK(broker.base && broker.names && broker.conns, "out of memory");
    if (conf_load(&broker.conf, path, "/nonexistent", &errs) != 0 ||
        metrics_open(&broker, &errs) != 0) {
        errors_print(&errs, stderr);
        FUZZ_CHECK(0, "set-up failed");
    }
    unlink(path);
    errors_free(&errs);
    address = http_server_address(broker.metrics);
    colon = strrchr(address, ':');
    FUZZ_CHECK(colon != NULL, "no port in %s", address);
    port = atoi(colon + 1);
    atexit(teardown);
    return 0;
}

/* ------------------------------------------------------------------------
 * The client
 */

struct client {
    int fd;
    struct fuzz_buf in;
    bool eof; /* the server closed (or reset) the connection */
};

static void client_connect(struct client *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    struct linger reset = {.l_onoff = 1, .l_linger = 0};

    memset(c, 0, sizeof *c);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(c->fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset,
                          sizeof reset) == 0,
               "SO_LINGER: %s", strerror(errno));
    FUZZ_CHECK(evutil_make_socket_nonblocking(c->fd) == 0, "O_NONBLOCK: %s",
               strerror(errno));
    /* On loopback the handshake is done at once, or nearly. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        FUZZ_CHECK(errno == EINPROGRESS || errno == EINTR, "connect: %s",
                   strerror(errno));
        /* libFuzzer's timer signals may interrupt the wait. */
        while (poll(&p, 1, 5000) < 0)
            FUZZ_CHECK(errno == EINTR, "poll: %s", strerror(errno));
        FUZZ_CHECK(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
                       err == 0,
                   "connect: %s", strerror(err));
    }
}

/* Read what the server sent; returns the bytes (or EOF) seen. */
static size_t client_read(struct client *c)
{
    unsigned char buf[16384];
    size_t moved = 0;

    while (!c->eof) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            FUZZ_CHECK(n == 0 || errno == ECONNRESET, "read: %s",
                       strerror(errno));
            c->eof = true;
            return moved + 1;
        }
        FUZZ_CHECK(c->in.len + (size_t)n <= MAX_ANSWER,
                   "more than %d bytes of answer", MAX_ANSWER);
        fuzz_buf_add(&c->in, buf, (size_t)n);
        moved += (size_t)n;
    }
    return moved;
}

static void client_free(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    fuzz_buf_free(&c->in);
}

/* One pass of the loop, then the client's reads. */
static bool pump(struct client *c)
{
    event_base_loop(broker.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    return (c != NULL && c->fd >= 0 && client_read(c) > 0) ||
           event_base_get_num_events(broker.base, EVENT_BASE_COUNT_ACTIVE) > 0;
}

static void settle(struct client *c, const char *phase)
{
    unsigned idle = 0;

    for (unsigned i = 0; i < MAX_PUMPS; i++) {
        idle = pump(c) ? 0 : idle + 1;
        if (idle == IDLE_PUMPS)
            return;
    }
    FUZZ_CHECK(0, "%s: the server never went idle", phase);
}

/* Write the input, `piece` bytes at a time, the loop running between. */
static void feed(struct client *c, const uint8_t *data, size_t size,
                 size_t piece)
{
    size_t off = 0;
    unsigned stuck = 0;

    while (off < size && !c->eof) {
        size_t want = size - off < piece ? size - off : piece;
        ssize_t n = send(c->fd, data + off, want, MSG_NOSIGNAL);

        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server closed: the rest is unread */
        if (n > 0)
            off += (size_t)n;
        if (pump(c) || n > 0) {
            stuck = 0;
            continue;
        }
        /* The server stops reading once it has a request; the rest
         * waits in the socket. */
        if (++stuck == 1000)
            return;
    }
}

/* ------------------------------------------------------------------------
 * The checks
 */

/* The value of header `name` in [headers, end), or NULL. */
static const char *header(const char *headers, const char *end,
                          const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (const char *p = headers; p < end;) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > n + 1 && strncasecmp(p, name, n) == 0 &&
            p[n] == ':') {
            const char *v = p + n + 1;
            while (v < eol && *v == ' ')
                v++;
            *len = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* At most one whole response, with a body of exactly its Content-Length, or none (HEAD), or (HTTP/1.0, CONNECT: no
 * Content-Length) up to the end; "100 Continue" may come first. Returns the status, or 0 for no response at all. */
static int check_response(const struct fuzz_buf *in)
{
    static const char cont[] = " 100 Continue\r\n\r\n";
    const char *text = (const char *)in->bytes;
    const char *end_of_headers, *v;
    size_t len = in->len, vlen, body, cl;
    int status = 0, consumed = 0;
    char number[24], line[41];

    if (len > 8 + sizeof cont - 1 && memcmp(text, "HTTP/", 5) == 0 &&
        memcmp(text + 8, cont, sizeof cont - 1) == 0) {
        text += 8 + sizeof cont - 1;
        len -= 8 + sizeof cont - 1;
    }
    if (len == 0)
        return 0;
    /* evhttp answers in the request's version, as it parsed it:
     * "HTTP/0.1", "HTTP/1.11" and "HTTP/-1.1" too. */
    snprintf(line, sizeof line, "%.*s", (int)(len < 40 ? len : 40), text);
    FUZZ_CHECK(sscanf(line, "HTTP/%*[^ ] %3d%n", &status,
                      &consumed) == 1 &&
                   line[consumed] == ' ' && status >= 200 && status <= 599,
               "not a status line: %s", line);
    end_of_headers = memmem(text, len, "\r\n\r\n", 4);
    FUZZ_CHECK(end_of_headers != NULL, "a response without the end of "
               "its headers (%zu bytes)", len);
    v = header(text, end_of_headers, "Content-Length", &vlen);
    if (v == NULL) {
        /* HTTP/1.0 without keep-alive, or an answer to CONNECT: the body
         * ends with the connection, and holds no second response. */
        FUZZ_CHECK(memmem(end_of_headers, len - (size_t)(end_of_headers - text),
                          "HTTP/", 5) == NULL,
                   "status %d without Content-Length, then a second "
                   "response", status);
        return status;
    }
    FUZZ_CHECK(vlen < sizeof number, "Content-Length: %.*s", (int)vlen, v);
    memcpy(number, v, vlen);
    number[vlen] = '\0';
    body = len - (size_t)(end_of_headers + 4 - text);
    cl = strtoul(number, NULL, 10);
    FUZZ_CHECK(body == cl || body == 0,
               "status %d: Content-Length %s but %zu bytes after the "
               "headers (a second response?)", status, number, body);
    return status;
}

/* Does the first request line say CONNECT? */
static bool is_connect(const uint8_t *data, size_t size)
{
    while (size > 0 && (*data == '\r' || *data == '\n'))
        data++, size--;
    return size >= 8 && memcmp(data, "CONNECT ", 8) == 0;
}

/* After any input, the next client is served. */
static void check_healthz(void)
{
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct client c;

    client_connect(&c);
    FUZZ_CHECK(send(c.fd, request, sizeof request - 1, MSG_NOSIGNAL) ==
                   (ssize_t)(sizeof request - 1),
               "send: %s", strerror(errno));
    for (unsigned i = 0; i < MAX_PUMPS && !c.eof; i++)
        pump(&c);
    FUZZ_CHECK(c.eof, "GET /healthz got no whole answer");
    FUZZ_CHECK(check_response(&c.in) == 200 && c.in.len >= 3 &&
                   memcmp(c.in.bytes + c.in.len - 3, "ok\n", 3) == 0,
               "GET /healthz after the input: %.*s", (int)c.in.len,
               (const char *)c.in.bytes);
    client_free(&c);
    settle(NULL, "after GET /healthz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct client c;
    unsigned piece_sel;
    size_t piece;

    if (size == 0)
        return 0;
    piece_sel = data[0] & 7;
    piece = piece_sel == 0 ? size : (size_t)1 << (2 * (piece_sel - 1));

    client_connect(&c);
    feed(&c, data + 1, size - 1, piece);
    if (data[0] & 8) {
        shutdown(c.fd, SHUT_WR);
        settle(&c, "after the half-close");
    } else {
        settle(&c, "after the input");
    }
    if (is_connect(data + 1, size - 1)) {
        /* evhttp keeps a connection open after answering CONNECT (a
         * tunnel), whatever the headers say: the server closes it after
         * its own answers (405), but evhttp's (400, 413) may be followed
         * by more on the same connection until timeout_ms. */
        FUZZ_CHECK(c.in.len == 0 || memcmp(c.in.bytes, "HTTP/", 5) == 0,
                   "not a status line: %.*s",
                   (int)(c.in.len < 20 ? c.in.len : 20),
                   (const char *)c.in.bytes);
    } else {
        /* One request a connection: after an answer, the server closes. */
        FUZZ_CHECK(check_response(&c.in) == 0 || c.eof,
                   "the connection stayed open after an answer");
    }
    client_free(&c);
    settle(NULL, "after the client left");
    FUZZ_CHECK(http_server_connections(broker.metrics) == 0,
               "%u connections left after the client left",
               http_server_connections(broker.metrics));
    check_healthz();
    return 0;
}
