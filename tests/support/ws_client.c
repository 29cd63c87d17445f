/* ws_client.c - a small blocking WebSocket client for the tests (see
 * ws_client.h). Frames through broker/ws_frame.c; the handshake is its
 * own. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "broker/ws_frame.h"
#include "ws_client.h"

/* Larger than any message a test sends through the broker. */
#define MAX_MESSAGE (64u * 1024u * 1024u)
#define MAX_ANSWER_HEAD 16384
#define SEND_TIMEOUT_MS 10000
#define READ_CHUNK 65536

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct ws_client {
    int fd;
    struct buf in;              /* bytes read, not yet taken */
    struct buf message;         /* the data message being joined */
    struct ws_message m;
    char subprotocol[128];
    char error[256];
};

const char *ws_client_status_name(int status)
{
    switch (status) {
    case WSC_OK: return "ok";
    case WSC_TIMEOUT: return "timeout";
    case WSC_EOF: return "eof";
    case WSC_ERROR: return "socket error";
    case WSC_BAD: return "protocol error";
    case WSC_REFUSED: return "refused";
    case WSC_TOO_BIG: return "too big";
    default: return "?";
    }
}

static int fail(struct ws_client *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ws_client *c, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return status;
}

/* ----------------------------------------------------------------------
 * Buffers and time
 */

static bool buf_add(struct buf *b, const void *bytes, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *p;

        while (cap < b->len + n)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, bytes, n);
    b->len += n;
    return true;
}

static void buf_consume(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t left = deadline - now_ms();

    return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

/* Wait for `events` on fd until the deadline: WSC_OK or WSC_TIMEOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int n = poll(&p, 1, left_ms(deadline));

        if (n > 0)
            return WSC_OK;
        if (n == 0)
            return WSC_TIMEOUT;
        if (errno != EINTR)
            return WSC_ERROR;
    }
}

/* Read what is there (waiting until the deadline) into c->in. */
static int fill(struct ws_client *c, int64_t deadline)
{
    uint8_t chunk[READ_CHUNK];
    int st = wait_fd(c->fd, POLLIN, deadline);
    ssize_t n;

    if (st != WSC_OK)
        return fail(c, st, "%s while reading", ws_client_status_name(st));
    do
        n = read(c->fd, chunk, sizeof chunk);
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        return fail(c, WSC_EOF, "the server closed the connection");
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return WSC_OK;
    if (n < 0)
        return fail(c, WSC_ERROR, "read: %s", strerror(errno));
    if (!buf_add(&c->in, chunk, (size_t)n))
        return fail(c, WSC_ERROR, "out of memory");
    return WSC_OK;
}

static int write_all(struct ws_client *c, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;

    while (len > 0) {
        int st = wait_fd(c->fd, POLLOUT, now_ms() + SEND_TIMEOUT_MS);
        ssize_t n;

        if (st != WSC_OK)
            return fail(c, st, "%s while writing", ws_client_status_name(st));
        n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN ||
                      errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return fail(c, WSC_ERROR, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return WSC_OK;
}

/* ----------------------------------------------------------------------
 * Connecting
 */

/* A non-blocking TCP socket connected to host:port before the deadline;
 * -1 with errno set otherwise. */
static int connect_tcp(const char *host, int port, int64_t deadline)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    socklen_t sslen;
    int fd, err = 0, one = 1;
    socklen_t errlen = sizeof err;

    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sslen = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *in6;
    } else {
        errno = EINVAL;
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sslen) == 0)
        return fd;
    if (errno != EINPROGRESS ||
        wait_fd(fd, POLLOUT, deadline) != WSC_OK ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err) {
        int saved = err ? err : errno == EINPROGRESS ? ETIMEDOUT : errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* ----------------------------------------------------------------------
 * The opening handshake, written from RFC 6455 section 4.1 (not from
 * broker/ws_handshake.c)
 */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Padded base64 of n bytes into out (room for 4 * ceil(n / 3) + 1). */
static void base64(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 |
                     (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);

        *out++ = b64[v >> 18 & 63];
        *out++ = b64[v >> 12 & 63];
        *out++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *out = '\0';
}

static bool random_bytes(uint8_t *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1;
}

/* Sec-WebSocket-Accept for key: base64(SHA-1(key || GUID)). */
static bool expected_accept(const char *key, char out[29])
{
    char in[128];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int n = snprintf(in, sizeof in, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                     key);

    if (n < 0 || (size_t)n >= sizeof in ||
        !EVP_Digest(in, (size_t)n, md, &md_len, EVP_sha1(), NULL) ||
        md_len != 20)
        return false;
    base64(md, 20, out);
    return true;
}

static bool name_is(const char *line, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(line, name, n) == 0;
}

/* The length of an extra header's name ("Name: value" or "Name"). */
static size_t header_name_len(const char *h)
{
    const char *colon = strchr(h, ':');

    return colon ? (size_t)(colon - h) : strlen(h);
}

/* Is `name` replaced or removed by one of the extras? */
static bool overridden(const char *name, const char *const *extra)
{
    for (size_t i = 0; extra && extra[i]; i++)
        if (name_is(extra[i], header_name_len(extra[i]), name))
            return true;
    return false;
}

static bool build_request(struct buf *req, const char *host, int port,
                          const char *path, const char *key,
                          const char *const *extra)
{
    char line[512];
    struct {
        const char *name;
        const char *value;
    } defaults[] = {
        {"Host", NULL}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
        {"Sec-WebSocket-Key", key}, {"Sec-WebSocket-Version", "13"},
    };
    char hostport[128];
    bool ok = true;

    snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, port);
    defaults[0].value = hostport;
    snprintf(line, sizeof line, "GET %s HTTP/1.1\r\n", path);
    ok = buf_add(req, line, strlen(line));
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (overridden(defaults[i].name, extra))
            continue;
        snprintf(line, sizeof line, "%s: %s\r\n", defaults[i].name,
                 defaults[i].value);
        ok = ok && buf_add(req, line, strlen(line));
    }
    for (size_t i = 0; extra && extra[i]; i++)
        if (strchr(extra[i], ':'))
            ok = ok && buf_add(req, extra[i], strlen(extra[i])) &&
                 buf_add(req, "\r\n", 2);
    return ok && buf_add(req, "\r\n", 2);
}

/* The value of header `name` in a NUL-terminated head (the first one),
 * trimmed, into out; false if absent. */
static bool header_value(const char *head, const char *name, char *out,
                         size_t size)
{
    size_t nlen = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *end = strstr(line, "\r\n");

        if (!end || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
            continue;
        line += nlen + 1;
        while (line < end && (*line == ' ' || *line == '\t'))
            line++;
        while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        snprintf(out, size, "%.*s", (int)(end - line), line);
        return true;
    }
    return false;
}

/* Is `token` (case-insensitive) in the comma-separated list? */
static bool has_token(const char *list, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;

        while (*e && *e != ',')
            e++;
        const char *t = e;

        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && strncasecmp(p, token, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static void copy_answer(char *answer, size_t size, const void *bytes,
                        size_t n)
{
    if (answer == NULL || size == 0)
        return;
    if (n >= size)
        n = size - 1;
    memcpy(answer, bytes, n);
    answer[n] = '\0';
}

/* Read until the head's blank line; its length (through it) in *head. */
static int read_head(struct ws_client *c, int64_t deadline, size_t *head)
{
    for (;;) {
        for (size_t i = 0; i + 4 <= c->in.len; i++)
            if (memcmp(c->in.p + i, "\r\n\r\n", 4) == 0) {
                *head = i + 4;
                return WSC_OK;
            }
        if (c->in.len > MAX_ANSWER_HEAD)
            return fail(c, WSC_BAD, "an answer head over %d bytes",
                        MAX_ANSWER_HEAD);
        int st = fill(c, deadline);

        if (st != WSC_OK)
            return st;
    }
}

/* A refusal: its body, as much as comes before the server closes. */
static void read_body(struct ws_client *c, int64_t deadline, size_t limit)
{
    while (c->in.len < limit && fill(c, deadline) == WSC_OK)
        ;
}

/* Check a 101's headers; the answer's head is NUL-terminated. */
static int check_101(struct ws_client *c, const char *head, const char *key)
{
    char value[256], accept[29];

    if (!header_value(head, "Upgrade", value, sizeof value) ||
        !has_token(value, "websocket"))
        return fail(c, WSC_BAD, "101 without Upgrade: websocket");
    if (!header_value(head, "Connection", value, sizeof value) ||
        !has_token(value, "upgrade"))
        return fail(c, WSC_BAD, "101 without Connection: upgrade");
    if (!expected_accept(key, accept))
        return fail(c, WSC_ERROR, "SHA-1 failed");
    if (!header_value(head, "Sec-WebSocket-Accept", value, sizeof value) ||
        strcmp(value, accept) != 0)
        return fail(c, WSC_BAD, "Sec-WebSocket-Accept '%s', expected '%s'",
                    value, accept);
    if (!header_value(head, "Sec-WebSocket-Protocol", c->subprotocol,
                      sizeof c->subprotocol))
        c->subprotocol[0] = '\0';
    return WSC_OK;
}

/* Parse the status line ("HTTP/1.1 101 ..."); 0 if malformed. */
static int status_of(const char *head)
{
    int status = 0;

    if (strncmp(head, "HTTP/1.", 7) != 0 || sscanf(head + 8, " %3d", &status) != 1)
        return 0;
    return status;
}

static int handshake(struct ws_client *c, const char *host, int port,
                     const char *path, const char *const *extra,
                     int64_t deadline, int *http_status, char *answer,
                     size_t answer_size)
{
    uint8_t nonce[16];
    char key[25];
    struct buf req = {0};
    size_t head_len = 0;
    int st;

    if (!random_bytes(nonce, sizeof nonce))
        return fail(c, WSC_ERROR, "no random bytes");
    base64(nonce, sizeof nonce, key);
    if (!build_request(&req, host, port, path, key, extra)) {
        free(req.p);
        return fail(c, WSC_ERROR, "out of memory");
    }
    st = write_all(c, req.p, req.len);
    free(req.p);
    if (st == WSC_OK)
        st = read_head(c, deadline, &head_len);
    if (st != WSC_OK) {
        copy_answer(answer, answer_size, c->in.p, c->in.len);
        return st;
    }

    char *head = malloc(head_len + 1);

    if (head == NULL)
        return fail(c, WSC_ERROR, "out of memory");
    memcpy(head, c->in.p, head_len);
    head[head_len] = '\0';
    *http_status = status_of(head);
    if (*http_status == 101) {
        copy_answer(answer, answer_size, head, head_len);
        st = check_101(c, head, key);
        buf_consume(&c->in, head_len);  /* frames may follow at once */
    } else {
        read_body(c, deadline, head_len + answer_size);
        copy_answer(answer, answer_size, c->in.p, c->in.len);
        st = *http_status ? fail(c, WSC_REFUSED, "refused: %d", *http_status)
                          : fail(c, WSC_BAD, "no status line");
    }
    free(head);
    return st;
}

int ws_client_open(const char *host, int port, const char *path,
                   const char *const *extra_headers, int timeout_ms,
                   struct ws_client **out, int *http_status, char *answer,
                   size_t answer_size)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct ws_client *c = calloc(1, sizeof *c);
    int status = 0, st;

    *out = NULL;
    if (http_status)
        *http_status = 0;
    copy_answer(answer, answer_size, "", 0);
    if (c == NULL)
        return WSC_ERROR;
    c->fd = connect_tcp(host, port, deadline);
    if (c->fd < 0) {
        st = errno == ETIMEDOUT ? WSC_TIMEOUT : WSC_ERROR;
        free(c);
        return st;
    }
    st = handshake(c, host, port, path, extra_headers, deadline, &status,
                   answer, answer_size);
    if (http_status)
        *http_status = status;
    if (st != WSC_OK) {
        ws_client_close(c);
        return st;
    }
    *out = c;
    return WSC_OK;
}

const char *ws_client_subprotocol(const struct ws_client *c)
{
    return c->subprotocol;
}

/* ----------------------------------------------------------------------
 * Sending
 */

int ws_client_send_frame(struct ws_client *c, uint8_t opcode, bool fin,
                         const void *payload, size_t len)
{
    uint8_t mask[4];
    struct buf frame = {0};
    uint8_t header[WS_MAX_HEADER];
    size_t hlen;
    int st;

    /* A fresh mask per frame, as section 5.3 asks; never all zero, which
     * would let a server that forgets to unmask pass. */
    do
        if (!random_bytes(mask, sizeof mask))
            return fail(c, WSC_ERROR, "no random bytes");
    while (!(mask[0] | mask[1] | mask[2] | mask[3]));
    hlen = ws_write_header(header, opcode, fin, len, mask);
    if (!buf_add(&frame, header, hlen) || !buf_add(&frame, payload, len)) {
        free(frame.p);
        return fail(c, WSC_ERROR, "out of memory");
    }
    ws_unmask(frame.p + hlen, len, mask, 0);
    st = write_all(c, frame.p, frame.len);
    free(frame.p);
    return st;
}

int ws_client_send(struct ws_client *c, uint8_t opcode, const void *payload,
                   size_t len)
{
    return ws_client_send_frame(c, opcode, true, payload, len);
}

int ws_client_send_raw(struct ws_client *c, const void *bytes, size_t len)
{
    return write_all(c, bytes, len);
}

/* ----------------------------------------------------------------------
 * Receiving
 */

static int deliver(uint8_t opcode, const uint8_t *payload, size_t n,
                   uint8_t *op_out, void *buf, size_t size, size_t *len)
{
    *op_out = opcode;
    *len = n;
    if (n > size)
        return WSC_TOO_BIG;
    if (n > 0)
        memcpy(buf, payload, n);
    if (opcode == WS_OP_TEXT && n < size)
        ((char *)buf)[n] = '\0';
    return WSC_OK;
}

/* One whole frame in c->in (read until it is): its header in *h. */
static int next_frame(struct ws_client *c, int64_t deadline,
                      struct ws_frame_header *h)
{
    for (;;) {
        uint16_t code;
        const char *why;
        enum ws_parse_status ps = ws_parse_header(c->in.p, c->in.len, false,
                                                  MAX_MESSAGE, h, &code, &why);
        int st;

        if (ps == WS_PARSE_ERROR)
            return fail(c, WSC_BAD, "frame from the server: %s (%u)", why,
                        code);
        if (ps == WS_PARSE_OK && c->in.len - h->header_len >= h->payload_len)
            return WSC_OK;
        if ((st = fill(c, deadline)) != WSC_OK)
            return st;
    }
}

/* A data frame's payload joins the message; true when it is whole. */
static int take_data(struct ws_client *c, const struct ws_frame_header *h,
                     const uint8_t *payload, bool *whole)
{
    uint16_t code;
    const char *why;

    *whole = false;
    if (ws_message_frame(&c->m, h, MAX_MESSAGE, &code, &why) != WS_PARSE_OK ||
        !ws_message_payload(&c->m, payload, (size_t)h->payload_len, &code,
                            &why))
        return fail(c, WSC_BAD, "message from the server: %s (%u)", why,
                    code);
    if (!buf_add(&c->message, payload, (size_t)h->payload_len))
        return fail(c, WSC_ERROR, "out of memory");
    if (h->fin) {
        if (!ws_message_end(&c->m, &code, &why))
            return fail(c, WSC_BAD, "message from the server: %s (%u)", why,
                        code);
        *whole = true;
    }
    return WSC_OK;
}

int ws_client_recv(struct ws_client *c, int timeout_ms, uint8_t *opcode,
                   void *buf, size_t size, size_t *len)
{
    int64_t deadline = now_ms() + timeout_ms;

    c->error[0] = '\0';
    for (;;) {
        struct ws_frame_header h;
        uint8_t message_opcode = c->m.opcode;
        bool whole;
        int st = next_frame(c, deadline, &h);

        if (st != WSC_OK)
            return st;
        const uint8_t *payload = c->in.p + h.header_len;
        size_t frame_len = h.header_len + (size_t)h.payload_len;

        if (h.opcode & 0x8) {
            st = deliver(h.opcode, payload, (size_t)h.payload_len, opcode,
                         buf, size, len);
            buf_consume(&c->in, frame_len);
            return st;
        }
        if (h.opcode != WS_OP_CONTINUATION)
            message_opcode = h.opcode;
        st = take_data(c, &h, payload, &whole);
        buf_consume(&c->in, frame_len);
        if (st != WSC_OK)
            return st;
        if (!whole)
            continue;           /* more fragments to come */
        st = deliver(message_opcode, c->message.p, c->message.len, opcode,
                     buf, size, len);
        c->message.len = 0;
        return st;
    }
}

int ws_client_wait_close(struct ws_client *c, int timeout_ms,
                         uint16_t *close_code, char *reason,
                         size_t reason_size)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD + 1];

    for (;;) {
        uint8_t op;
        size_t len;
        int st = ws_client_recv(c, left_ms(deadline), &op, payload,
                                sizeof payload, &len);

        if (st == WSC_TOO_BIG)
            continue;           /* a data message: dropped */
        if (st != WSC_OK)
            return st;
        if (op != WS_OP_CLOSE)
            continue;

        const uint8_t *r;
        size_t rlen;
        uint16_t code;
        const char *why;

        if (!ws_parse_close(payload, len, close_code, &r, &rlen, &code,
                            &why))
            return fail(c, WSC_BAD, "close frame from the server: %s", why);
        copy_answer(reason, reason_size, r, rlen);
        return WSC_OK;
    }
}

int ws_client_wait_eof(struct ws_client *c, int timeout_ms)
{
    if (c->in.len > 0)
        return WSC_OK;
    return fill(c, now_ms() + timeout_ms);
}

const char *ws_client_error(const struct ws_client *c)
{
    return c->error;
}

int ws_client_fd(const struct ws_client *c)
{
    return c->fd;
}

void ws_client_close(struct ws_client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    free(c->in.p);
    free(c->message.p);
    free(c);
}
