/* rawclient.c - raw socket clients for the integration tests (see
 * rawclient.h). Deliberately independent of common/codec_*.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <yajl/yajl_tree.h>

#include "harness.h"
#define RC_NO_SITE_MACROS /* call the functions themselves in here */
#include "rawclient.h"

#define READ_CHUNK 65536
#define SEND_TIMEOUT_MS 10000
#define MAX_FRAME (64u * 1024u * 1024u)

struct rc_buf {
    unsigned char *p;
    size_t len, cap;
};

struct rc_client {
    int fd;
    enum rc_format fmt;
    struct rc_buf in;
    bool eof;
    char name[RC_STR_MAX + 1];
    char error[256];
};

/* Assertion messages live here so that a failing assert leaks nothing. */
static char describe_buf[2][1024];

/* The test's line that called the current assertion helper (rc_at). */
static char call_site[256];

void rc_at(const char *file, int line)
{
    const char *base = strrchr(file, '/');

    snprintf(call_site, sizeof call_site, "%s:%d: ", base ? base + 1 : file,
             line);
}

static const char *site(void)
{
    return call_site;
}

/* ----------------------------------------------------------------------
 * Buffers, blobs, time
 */

static bool buf_reserve(struct rc_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + extra + 1)
        ncap *= 2;
    unsigned char *np = realloc(b->p, ncap);
    if (np == NULL)
        return false;
    b->p = np;
    b->cap = ncap;
    return true;
}

static bool buf_add(struct rc_buf *b, const void *bytes, size_t n)
{
    if (!buf_reserve(b, n))
        return false;
    if (n > 0)
        memcpy(b->p + b->len, bytes, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool buf_adds(struct rc_buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

static void buf_consume(struct rc_buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

struct rc_blob rc_str(const char *s)
{
    return (struct rc_blob){ s, strlen(s), true };
}

struct rc_blob rc_bytes(const void *bytes, size_t len)
{
    return (struct rc_blob){ bytes, len, true };
}

void rc_msg_free(struct rc_msg *m)
{
    free(m->data);
    free(m->raw);
    memset(m, 0, sizeof *m);
}

const char *rc_status_name(int status)
{
    switch (status) {
    case RC_OK: return "a message";
    case RC_TIMEOUT: return "a timeout";
    case RC_EOF: return "EOF";
    case RC_ERROR: return "a socket error";
    case RC_BAD: return "undecodable bytes";
    default: return "an unknown status";
    }
}

static void set_error(struct rc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct rc_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

/* ----------------------------------------------------------------------
 * Base64
 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rc_base64(const void *bytes, size_t len)
{
    const unsigned char *s = bytes;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)s[i] << 16;
        if (i + 1 < len)
            v |= (unsigned long)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char ch)
{
    const char *p = ch ? strchr(b64_alphabet, ch) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

/* Strict padded decoding; NULL if `s` is not canonical base64. */
static unsigned char *base64_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out;
    size_t o = 0;

    if (n % 4 != 0)
        return NULL;
    out = malloc(n / 4 * 3 + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value(s[i + k])) < 0) {
                free(out);
                return NULL;
            }
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
                          ((unsigned long)v[2] << 6) | (unsigned long)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ----------------------------------------------------------------------
 * Encoders
 */

/* A JSON string the way Go's encoding/json writes it. */
static bool json_string(struct rc_buf *b, const char *s)
{
    bool ok = buf_adds(b, "\"");

    for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            esc[2] = '\0';
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            snprintf(esc, sizeof esc, "\\%c",
                     *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
        } else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            snprintf(esc, sizeof esc, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
            p += 2;
        } else {
            esc[0] = (char)*p;
            esc[1] = '\0';
        }
        ok = buf_adds(b, esc);
    }
    return ok && buf_adds(b, "\"");
}

char *rc_json_line(unsigned meta, const char *other, const char *id,
                   struct rc_blob data)
{
    struct rc_buf b = { 0 };
    char num[32];
    bool ok;

    snprintf(num, sizeof num, "{\"Meta\":%u,\"OtherClient\":", meta);
    ok = buf_adds(&b, num) && json_string(&b, other) &&
         buf_adds(&b, ",\"ConnectionID\":") && json_string(&b, id) &&
         buf_adds(&b, ",\"Data\":");
    if (ok && data.present) {
        char *enc = rc_base64(data.bytes, data.len);
        ok = enc != NULL && buf_adds(&b, "\"") && buf_adds(&b, enc) &&
             buf_adds(&b, "\"");
        free(enc);
    } else if (ok) {
        ok = buf_adds(&b, "null");
    }
    ok = ok && buf_adds(&b, "}");
    if (!ok) {
        free(b.p);
        return NULL;
    }
    return (char *)b.p;
}

unsigned char *rc_binary_frame(unsigned meta, const char *name,
                               const char *id, struct rc_blob data,
                               int level, size_t *len)
{
    size_t nl = strlen(name), il = strlen(id);
    size_t rest = 4 + (level >= 0 ? 1 : 0) + nl + il + data.len;
    unsigned char *f;
    size_t o = 0;

    if (nl > 255 || il > 255 || rest > 0xffffffffu)
        return NULL;
    f = malloc(4 + rest);
    if (f == NULL)
        return NULL;
    f[o++] = (unsigned char)(rest >> 24);
    f[o++] = (unsigned char)(rest >> 16);
    f[o++] = (unsigned char)(rest >> 8);
    f[o++] = (unsigned char)rest;
    f[o++] = (unsigned char)meta;
    f[o++] = (unsigned char)((data.present ? RC_FLAG_HAS_DATA : 0) |
                             (level >= 0 ? RC_FLAG_HAS_LEVEL : 0));
    f[o++] = (unsigned char)nl;
    f[o++] = (unsigned char)il;
    if (level >= 0)
        f[o++] = (unsigned char)level;
    memcpy(f + o, name, nl);
    o += nl;
    memcpy(f + o, id, il);
    o += il;
    if (data.len > 0)
        memcpy(f + o, data.bytes, data.len);
    *len = 4 + rest;
    return f;
}


/* Protobuf (proto/mp.proto), written from the wire-format specification:
 * a key is field << 3 | wire type; 0 is a varint, 2 length-delimited. */
size_t rc_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char)(v & 0x7f) | 0x80;
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static bool pb_len_field(struct rc_buf *b, unsigned field, const void *bytes,
                         size_t len)
{
    unsigned char head[11];
    size_t n = 0;

    head[n++] = (unsigned char)(field << 3 | 2);
    n += rc_varint(head + n, len);
    return buf_add(b, head, n) && buf_add(b, bytes, len);
}

static bool pb_varint_field(struct rc_buf *b, unsigned field, uint64_t v)
{
    unsigned char head[11];
    size_t n = 0;

    head[n++] = (unsigned char)(field << 3);
    n += rc_varint(head + n, v);
    return buf_add(b, head, n);
}

unsigned char *rc_protobuf_frame(unsigned meta, const char *name,
                                 const char *id, struct rc_blob data,
                                 int level, size_t *len)
{
    struct rc_buf body = { 0 };
    unsigned char prefix[10];
    bool ok = true;

    if (meta != 0)
        ok = pb_varint_field(&body, 1, meta);
    if (ok && name[0] != '\0')
        ok = pb_len_field(&body, 2, name, strlen(name));
    if (ok && id[0] != '\0')
        ok = pb_len_field(&body, 3, id, strlen(id));
    if (ok && data.present)
        ok = pb_len_field(&body, 4, data.bytes, data.len);
    if (ok && level > 0)
        ok = pb_varint_field(&body, 5, (uint64_t)level);
    ok = ok && buf_reserve(&body, 0);
    size_t n = rc_varint(prefix, body.len);
    unsigned char *f = ok ? malloc(n + body.len) : NULL;
    if (f != NULL) {
        memcpy(f, prefix, n);
        memcpy(f + n, body.p, body.len);
        *len = n + body.len;
    }
    free(body.p);
    return f;
}

/* ----------------------------------------------------------------------
 * Connecting
 */

static struct rc_client *client_new(int fd, enum rc_format fmt)
{
    struct rc_client *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->fmt = fmt;
    return c;
}

static int connect_fd(int family, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

struct rc_client *rc_adopt(int fd, enum rc_format fmt)
{
    return client_new(fd, fmt);
}

struct rc_client *rc_connect_tcp(const char *host, int port,
                                 enum rc_format fmt)
{
    struct sockaddr_in in4 = { .sin_family = AF_INET };
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    int fd, one = 1;

    if (inet_pton(AF_INET, host, &in4.sin_addr) == 1) {
        in4.sin_port = htons((uint16_t)port);
        fd = connect_fd(AF_INET, (struct sockaddr *)&in4, sizeof in4);
    } else if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
        in6.sin6_port = htons((uint16_t)port);
        fd = connect_fd(AF_INET6, (struct sockaddr *)&in6, sizeof in6);
    } else {
        errno = EINVAL;
        return NULL;
    }
    if (fd < 0)
        return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return client_new(fd, fmt);
}

struct rc_client *rc_connect_unix(const char *path, enum rc_format fmt)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(un.sun_path, path);
    fd = connect_fd(AF_UNIX, (struct sockaddr *)&un, sizeof un);
    return fd < 0 ? NULL : client_new(fd, fmt);
}

struct rc_client *rc_connect(struct harness *h, size_t listener,
                             enum rc_format fmt)
{
    struct harness_listener l = harness_listener(h, listener);
    struct rc_client *c;

    if (l.is_unix)
        c = rc_connect_unix(l.path, fmt);
    else
        c = rc_connect_tcp(l.host, l.port, fmt);
    cr_assert_not_null(c, "%scannot connect to listener %zu (%s:%d%s): %s",
                       site(), listener, l.host, l.port, l.path, strerror(errno));
    return c;
}

void rc_close(struct rc_client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    free(c->in.p);
    free(c);
}

enum rc_format rc_format(const struct rc_client *c)
{
    return c->fmt;
}

int rc_fd(const struct rc_client *c)
{
    return c->fd;
}

const char *rc_error(const struct rc_client *c)
{
    return c->error;
}

const char *rc_name(const struct rc_client *c)
{
    return c->name;
}

/* ----------------------------------------------------------------------
 * Sending
 */

bool rc_send_raw(struct rc_client *c, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    long long deadline = mpt_now_ms() + mpt_ms(SEND_TIMEOUT_MS);

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            set_error(c, "send: %s", strerror(errno));
            return false;
        }
        struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
        long long left = deadline - mpt_now_ms();
        if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
            set_error(c, "send: %s", "timed out");
            return false;
        }
    }
    return true;
}

bool rc_send_json(struct rc_client *c, const char *line)
{
    size_t n = strlen(line);

    if (!rc_send_raw(c, line, n))
        return false;
    return (n > 0 && line[n - 1] == '\n') || rc_send_raw(c, "\n", 1);
}

bool rc_send_binary(struct rc_client *c, unsigned meta, const char *name,
                    const char *id, struct rc_blob data, int level)
{
    size_t len;
    unsigned char *f = rc_binary_frame(meta, name, id, data, level, &len);
    bool ok;

    if (f == NULL) {
        set_error(c, "%s", "cannot encode the frame");
        return false;
    }
    ok = rc_send_raw(c, f, len);
    free(f);
    return ok;
}

bool rc_send_protobuf(struct rc_client *c, unsigned meta, const char *name,
                      const char *id, struct rc_blob data, int level)
{
    size_t len;
    unsigned char *f = rc_protobuf_frame(meta, name, id, data, level, &len);
    bool ok;

    if (f == NULL) {
        set_error(c, "%s", "cannot encode the message");
        return false;
    }
    ok = rc_send_raw(c, f, len);
    free(f);
    return ok;
}

bool rc_send(struct rc_client *c, unsigned meta, const char *other,
             const char *id, struct rc_blob data)
{
    if (c->fmt == RC_BINARY)
        return rc_send_binary(c, meta, other, id, data, -1);
    if (c->fmt == RC_PROTOBUF)
        return rc_send_protobuf(c, meta, other, id, data, -1);

    char *line = rc_json_line(meta, other, id, data);
    bool ok = line != NULL && rc_send_json(c, line);
    free(line);
    return ok;
}

/* ----------------------------------------------------------------------
 * Decoding what the broker sends
 */

static bool copy_str(char *dst, size_t *dst_len, const char *src, size_t n)
{
    if (n > RC_STR_MAX)
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    *dst_len = n;
    return true;
}

static bool keep_raw(struct rc_msg *m, const unsigned char *bytes, size_t n)
{
    m->raw = malloc(n + 1);
    if (m->raw == NULL)
        return false;
    memcpy(m->raw, bytes, n);
    m->raw[n] = '\0';
    m->raw_len = n;
    return true;
}

static const char *json_field(struct rc_msg *m, const char *key, yajl_val v,
                              unsigned *seen)
{
    if (strcmp(key, "Meta") == 0) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
            YAJL_GET_INTEGER(v) > 255)
            return "Meta is not an integer 0-255";
        m->meta = (int)YAJL_GET_INTEGER(v);
        *seen |= 1;
    } else if (strcmp(key, "OtherClient") == 0 || strcmp(key, "ConnectionID") == 0) {
        bool oc = key[0] == 'O';
        const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
        if (s == NULL)
            return "OtherClient/ConnectionID is not a string";
        if (!copy_str(oc ? m->other_client : m->connection_id,
                      oc ? &m->other_client_len : &m->connection_id_len, s,
                      strlen(s)))
            return "string too long";
        *seen |= oc ? 2u : 4u;
    } else if (strcmp(key, "Data") == 0) {
        if (YAJL_IS_NULL(v)) {
            m->has_data = false;
        } else if (YAJL_IS_STRING(v)) {
            const char *s = YAJL_GET_STRING(v);
            m->data = base64_decode(s, strlen(s), &m->data_len);
            if (m->data == NULL)
                return "Data is not padded base64";
            m->has_data = true;
        } else {
            return "Data is neither null nor a string";
        }
        *seen |= 8;
    } else if (strcmp(key, "Level") == 0) {
        /* What a client announces at Auth (a fake broker reads it). */
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
            YAJL_GET_INTEGER(v) > 255)
            return "Level is not an integer 0-255";
        m->has_level = true;
        m->level = (unsigned)YAJL_GET_INTEGER(v);
    } else {
        return "unexpected key";
    }
    return NULL;
}

/* Decode one JSON line (NUL-terminated, with its '\n'). */
static const char *decode_json(char *line, struct rc_msg *m)
{
    char err[128];
    yajl_val root = yajl_tree_parse(line, err, sizeof err);
    const char *why = NULL;
    unsigned seen = 0;

    if (root == NULL)
        return "invalid JSON";
    if (!YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return "not a JSON object";
    }
    for (size_t i = 0; why == NULL && i < root->u.object.len; i++)
        why = json_field(m, root->u.object.keys[i], root->u.object.values[i],
                         &seen);
    yajl_tree_free(root);
    if (why == NULL && seen != 15)
        why = "missing one of Meta, OtherClient, ConnectionID, Data";
    return why;
}

/* Try to take one JSON message from the buffer: 1 done, 0 need more. */
static int take_json(struct rc_client *c, struct rc_msg *m)
{
    unsigned char *nl = memchr(c->in.p, '\n', c->in.len);

    if (nl == NULL)
        return 0;
    size_t n = (size_t)(nl - c->in.p) + 1;
    if (!keep_raw(m, c->in.p, n))
        return RC_ERROR;
    buf_consume(&c->in, n);
    const char *why = decode_json(m->raw, m);
    if (why != NULL) {
        set_error(c, "broker sent bad JSON: %s", why);
        return RC_BAD;
    }
    return 1;
}

static const char *decode_binary(const unsigned char *f, size_t rest,
                                 struct rc_msg *m)
{
    unsigned flags = f[1];
    size_t hdr = 4, nl = f[2], il = f[3];

    m->meta = f[0];
    if (flags & ~(RC_FLAG_HAS_DATA | RC_FLAG_HAS_LEVEL))
        return "reserved flag bits set";
    if (flags & RC_FLAG_HAS_LEVEL) {
        m->has_level = true;
        m->level = f[hdr++];
    }
    if (hdr > rest || hdr + nl + il > rest)
        return "name/id lengths exceed the frame";
    copy_str(m->other_client, &m->other_client_len, (const char *)f + hdr, nl);
    copy_str(m->connection_id, &m->connection_id_len,
             (const char *)f + hdr + nl, il);
    m->has_data = (flags & RC_FLAG_HAS_DATA) != 0;
    m->data_len = rest - hdr - nl - il;
    if (!m->has_data && m->data_len > 0)
        return "data bytes without HAS_DATA";
    m->data = malloc(m->data_len + 1);
    if (m->data == NULL)
        return "out of memory";
    memcpy(m->data, f + hdr + nl + il, m->data_len);
    m->data[m->data_len] = '\0';
    return NULL;
}

static int take_binary(struct rc_client *c, struct rc_msg *m)
{
    const unsigned char *p = c->in.p;

    if (c->in.len < 4)
        return 0;
    size_t rest = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
                  ((size_t)p[2] << 8) | p[3];
    if (rest < 4 || rest > MAX_FRAME) {
        set_error(c, "broker sent a frame length of %s", rest < 4 ? "< 4" : "> 64 MiB");
        return RC_BAD;
    }
    if (c->in.len < 4 + rest)
        return 0;
    if (!keep_raw(m, p, 4 + rest))
        return RC_ERROR;
    const char *why = decode_binary(p + 4, rest, m);
    buf_consume(&c->in, 4 + rest);
    if (why != NULL) {
        set_error(c, "broker sent a bad frame: %s", why);
        return RC_BAD;
    }
    return 1;
}

/* Read a varint at p[*off..len): 1 done, 0 not all there, -1 malformed
 * (more than 10 bytes or above 2^64 - 1). */
static int pb_read_varint(const unsigned char *p, size_t len, size_t *off,
                          uint64_t *v)
{
    uint64_t x = 0;

    for (size_t i = 0; i < 10; i++) {
        if (*off + i >= len)
            return 0;
        unsigned char b = p[*off + i];
        if (i == 9 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *off += i + 1;
            *v = x;
            return 1;
        }
    }
    return -1;
}

/* The body of a message the broker sent: only mp.proto's fields, each
 * with its own wire type (the broker writes nothing else). */
static const char *decode_protobuf(const unsigned char *p, size_t len,
                                   struct rc_msg *m)
{
    size_t off = 0;

    while (off < len) {
        uint64_t key, v;
        if (pb_read_varint(p, len, &off, &key) != 1)
            return "malformed key";
        unsigned field = (unsigned)(key >> 3), type = (unsigned)(key & 7);
        if (field < 1 || field > 5)
            return "unknown field";
        if (type != (field == 1 || field == 5 ? 0u : 2u))
            return "field with the wrong wire type";
        if (pb_read_varint(p, len, &off, &v) != 1)
            return "malformed varint";
        if (type == 0) {
            if (v > 255)
                return "meta or level above 255";
            if (field == 1)
                m->meta = (int)v;
            else {
                m->has_level = true;
                m->level = (unsigned)v;
            }
            continue;
        }
        if (v > len - off)
            return "field runs past the end of the message";
        const char *bytes = (const char *)p + off;
        off += (size_t)v;
        if (field == 2 && !copy_str(m->other_client, &m->other_client_len,
                                    bytes, (size_t)v))
            return "other_client too long";
        if (field == 3 && !copy_str(m->connection_id, &m->connection_id_len,
                                    bytes, (size_t)v))
            return "connection_id too long";
        if (field == 4) {
            free(m->data);
            m->data = malloc((size_t)v + 1);
            if (m->data == NULL)
                return "out of memory";
            memcpy(m->data, bytes, (size_t)v);
            m->data[v] = '\0';
            m->data_len = (size_t)v;
            m->has_data = true;
        }
    }
    return NULL;
}

static int take_protobuf(struct rc_client *c, struct rc_msg *m)
{
    size_t off = 0;
    uint64_t rest;
    int r = pb_read_varint(c->in.p, c->in.len, &off, &rest);

    if (r == 0)
        return 0;
    if (r < 0 || rest > MAX_FRAME) {
        set_error(c, "broker sent a %s", r < 0 ? "malformed length prefix"
                                               : "length > 64 MiB");
        return RC_BAD;
    }
    if (c->in.len < off + rest)
        return 0;
    if (!keep_raw(m, c->in.p, off + (size_t)rest))
        return RC_ERROR;
    const char *why = decode_protobuf(c->in.p + off, (size_t)rest, m);
    buf_consume(&c->in, off + (size_t)rest);
    if (why != NULL) {
        set_error(c, "broker sent a bad protobuf message: %s", why);
        return RC_BAD;
    }
    return 1;
}

/* Read once from the socket, waiting up to `left` ms. */
static int fill(struct rc_client *c, long long left)
{
    struct pollfd pf = { .fd = c->fd, .events = POLLIN };

    if (c->eof)
        return RC_EOF;
    if (left < 0)
        left = 0;
    int r = poll(&pf, 1, (int)left);
    if (r == 0)
        return RC_TIMEOUT;
    if (r < 0)
        return errno == EINTR ? RC_OK : RC_ERROR;
    if (!buf_reserve(&c->in, READ_CHUNK))
        return RC_ERROR;
    ssize_t n = recv(c->fd, c->in.p + c->in.len, READ_CHUNK, MSG_DONTWAIT);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.p[c->in.len] = '\0';
        return RC_OK;
    }
    if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
        c->eof = true;
        return RC_EOF;
    }
    if (errno == EAGAIN || errno == EINTR)
        return RC_OK;
    set_error(c, "recv: %s", strerror(errno));
    return RC_ERROR;
}

int rc_recv(struct rc_client *c, struct rc_msg *m, int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;

    memset(m, 0, sizeof *m);
    for (;;) {
        int r = c->in.len == 0 ? 0
                : c->fmt == RC_JSON ? take_json(c, m)
                : c->fmt == RC_PROTOBUF ? take_protobuf(c, m)
                                        : take_binary(c, m);
        if (r == 1) {
            /* Remember the name the broker says this client now owns. */
            if (m->meta == RC_AUTH_OK)
                snprintf(c->name, sizeof c->name, "%s", m->other_client);
            return RC_OK;
        }
        if (r < 0) {
            rc_msg_free(m);
            return r;
        }
        r = fill(c, deadline - mpt_now_ms());
        if (r == RC_EOF && c->in.len > 0)
            set_error(c, "%s", "EOF after a partial message");
        if (r != RC_OK) {
            rc_msg_free(m);
            return r;
        }
    }
}

int rc_wait_eof(struct rc_client *c, int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;

    if (c->in.len > 0)
        return RC_OK;
    for (;;) {
        int r = fill(c, deadline - mpt_now_ms());
        if (r != RC_OK || c->in.len > 0)
            return r;
    }
}

/* ----------------------------------------------------------------------
 * Authentication
 */

int rc_auth(struct rc_client *c, const char *name, const char *secret,
            struct rc_msg *reply)
{
    memset(reply, 0, sizeof *reply);
    if (!rc_send(c, RC_AUTH, name, "", rc_str(secret)))
        return RC_ERROR;
    return rc_recv(c, reply, mpt_ms(MPT_MSG_MS));
}

int auth_json(struct rc_client *c, const char *name, const char *secret,
              struct rc_msg *reply)
{
    cr_assert_eq(c->fmt, RC_JSON, "auth_json on a binary client");
    return rc_auth(c, name, secret, reply);
}

int auth_binary(struct rc_client *c, const char *name, const char *secret,
                struct rc_msg *reply)
{
    cr_assert_eq(c->fmt, RC_BINARY, "auth_binary on a client of another format");
    return rc_auth(c, name, secret, reply);
}

/* ----------------------------------------------------------------------
 * Assertions
 */

static void describe_bytes(struct rc_buf *b, const unsigned char *p, size_t n)
{
    char tmp[8];

    buf_adds(b, "\"");
    for (size_t i = 0; i < n && i < 64; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            snprintf(tmp, sizeof tmp, "%c", p[i]);
        else
            snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
        buf_adds(b, tmp);
    }
    buf_adds(b, n > 64 ? "\"..." : "\"");
}

/* Describe a message (or expectation) into describe_buf[slot]. */
static const char *describe(int slot, int meta, const char *other,
                            const char *id, bool has, const void *data,
                            size_t len)
{
    struct rc_buf b = { 0 };
    char head[64];

    snprintf(head, sizeof head, "{meta %d, other_client ", meta);
    buf_adds(&b, head);
    describe_bytes(&b, (const unsigned char *)other, strlen(other));
    buf_adds(&b, ", id ");
    describe_bytes(&b, (const unsigned char *)id, strlen(id));
    buf_adds(&b, ", data ");
    if (has)
        describe_bytes(&b, data, len);
    else
        buf_adds(&b, "null");
    snprintf(head, sizeof head, " (%zu bytes)}", len);
    buf_adds(&b, head);
    snprintf(describe_buf[slot], sizeof describe_buf[slot], "%s",
             b.p ? (char *)b.p : "?");
    free(b.p);
    return describe_buf[slot];
}

static const char *describe_msg(int slot, const struct rc_msg *m)
{
    return describe(slot, m->meta, m->other_client, m->connection_id,
                    m->has_data, m->data, m->data_len);
}

void rc_expect_any(struct rc_client *c, struct rc_msg *m)
{
    int r = rc_recv(c, m, mpt_ms(MPT_MSG_MS));

    cr_assert_eq(r, RC_OK, "%sexpected a message from the broker, got %s %s",
                 site(), rc_status_name(r), c->error);
}

static bool plain(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || strchr("\"\\<>&", *s) != NULL)
            return false;
    return true;
}

/* For protobuf clients: the bytes must be what a protobuf library writes
 * for the message (field order, defaults left out, data when present). */
static void check_canonical_protobuf(const struct rc_msg *m)
{
    size_t len = 0;
    unsigned char *want = rc_protobuf_frame(
        (unsigned)m->meta, m->other_client, m->connection_id,
        m->has_data ? rc_bytes(m->data, m->data_len) : RC_NULL,
        m->has_level ? (int)m->level : -1, &len);
    bool same = want != NULL && m->raw_len == len &&
                memcmp(m->raw, want, len) == 0 &&
                strlen(m->other_client) == m->other_client_len &&
                strlen(m->connection_id) == m->connection_id_len &&
                (!m->has_level || m->level > 0);
    free(want);
    if (!same) {
        struct rc_buf b = { 0 };
        describe_bytes(&b, (const unsigned char *)m->raw, m->raw_len);
        snprintf(describe_buf[0], sizeof describe_buf[0], "%s",
                 b.p ? (char *)b.p : "?");
        free(b.p);
        cr_assert_fail("%sprotobuf message not in canonical form (fields in "
                       "order, zero and empty ones left out): %s", site(),
                       describe_buf[0]);
    }
}

/* For JSON clients: the raw line must be the canonical encoding. */
static void check_canonical(struct rc_client *c, const struct rc_msg *m)
{
    if (c->fmt == RC_PROTOBUF) {
        check_canonical_protobuf(m);
        return;
    }
    if (c->fmt != RC_JSON || !plain(m->other_client) ||
        !plain(m->connection_id))
        return;
    char *want = rc_json_line((unsigned)m->meta, m->other_client,
                              m->connection_id,
                              m->has_data ? rc_bytes(m->data, m->data_len)
                                          : RC_NULL);
    bool same = want != NULL && m->raw_len == strlen(want) + 1 &&
                memcmp(m->raw, want, m->raw_len - 1) == 0;
    free(want);
    if (!same) {
        snprintf(describe_buf[0], sizeof describe_buf[0], "%.1000s", m->raw);
        cr_assert_fail("%sJSON line not in the wire format "
                       "{\"Meta\":N,\"OtherClient\":..,\"ConnectionID\":..,"
                       "\"Data\":..}\\n: %s", site(), describe_buf[0]);
    }
}

void rc_expect(struct rc_client *c, unsigned meta, const char *other,
               const char *id, struct rc_blob data)
{
    struct rc_msg m;
    const char *want = describe(1, (int)meta, other, id, data.present,
                                data.bytes, data.len);

    rc_expect_any(c, &m);
    bool same = m.meta == (int)meta && m.other_client_len == strlen(other) &&
                memcmp(m.other_client, other, m.other_client_len) == 0 &&
                m.connection_id_len == strlen(id) &&
                memcmp(m.connection_id, id, m.connection_id_len) == 0 &&
                m.has_data == data.present && m.data_len == data.len &&
                (data.len == 0 || memcmp(m.data, data.bytes, data.len) == 0);
    const char *got = describe_msg(0, &m);
    if (!same) {
        rc_msg_free(&m);
        cr_assert_fail("%sexpected %s\n     got %s", site(), want, got);
    }
    check_canonical(c, &m);
    rc_msg_free(&m);
}

void rc_expect_meta(struct rc_client *c, unsigned meta, struct rc_msg *m)
{
    rc_expect_any(c, m);
    if (m->meta != (int)meta) {
        const char *got = describe_msg(0, m);
        rc_msg_free(m);
        cr_assert_fail("%sexpected a message with meta %u, got %s", site(),
                       meta, got);
    }
}

void rc_expect_line(struct rc_client *c, const char *line)
{
    struct rc_msg m;
    size_t n = strlen(line);

    rc_expect_any(c, &m);
    bool same = m.raw_len == n + 1 && memcmp(m.raw, line, n) == 0 &&
                m.raw[n] == '\n';
    snprintf(describe_buf[0], sizeof describe_buf[0], "%.1000s", m.raw);
    rc_msg_free(&m);
    cr_assert(same, "%sexpected the line\n  %s\\n\ngot\n  %s", site(), line,
              describe_buf[0]);
}

void rc_expect_eof(struct rc_client *c)
{
    struct rc_msg m;
    int r = rc_recv(c, &m, mpt_ms(MPT_MSG_MS));

    if (r == RC_OK) {
        const char *got = describe_msg(0, &m);
        rc_msg_free(&m);
        cr_assert_fail("%sexpected the broker to close the socket, got %s",
                       site(), got);
    }
    cr_assert_eq(r, RC_EOF, "%sexpected the broker to close the socket, got %s %s",
                 site(), rc_status_name(r), c->error);
}

void rc_expect_text_then_eof(struct rc_client *c, const char *text)
{
    long long deadline = mpt_now_ms() + mpt_ms(MPT_MSG_MS);
    int r = RC_OK;

    while (r == RC_OK)
        r = fill(c, deadline - mpt_now_ms());
    struct rc_buf b = { 0 };
    describe_bytes(&b, c->in.p, c->in.len);
    snprintf(describe_buf[0], sizeof describe_buf[0], "%s",
             b.p ? (char *)b.p : "?");
    free(b.p);
    cr_assert_eq(r, RC_EOF, "%sexpected \"%s\" and the broker to close the "
                 "socket, got %s %s after %s", site(), text,
                 rc_status_name(r), c->error, describe_buf[0]);
    cr_assert(c->in.len == strlen(text) &&
                  memcmp(c->in.p, text, c->in.len) == 0,
              "%sexpected \"%s\", got %s", site(), text, describe_buf[0]);
    c->in.len = 0;
}

void rc_expect_closed(struct rc_client *c, int allowed)
{
    struct rc_msg m;
    int r = rc_recv(c, &m, mpt_ms(MPT_MSG_MS));

    if (r == RC_OK) {
        bool ok = allowed >= 0 && m.meta == allowed;
        const char *got = describe_msg(0, &m);
        rc_msg_free(&m);
        cr_assert(ok, "%sexpected EOF, optionally after meta %d; got %s",
                  site(), allowed, got);
        rc_expect_eof(c);
        return;
    }
    cr_assert_eq(r, RC_EOF, "%sexpected the broker to close the socket, got %s %s",
                 site(), rc_status_name(r), c->error);
}

void rc_expect_auth_failure(struct rc_client *c, const char *reason)
{
    struct rc_msg m;
    bool ok;

    rc_expect_meta(c, RC_AUTH_FAILURE, &m);
    ok = m.has_data && m.data_len > 0 &&
         (reason == NULL || strstr((const char *)m.data, reason) != NULL);
    const char *got = describe_msg(0, &m);
    rc_msg_free(&m);
    cr_assert(ok, "%sexpected an AuthFailure whose reason contains \"%s\", got %s",
              site(), reason ? reason : "", got);
    rc_expect_eof(c);
}

struct rc_client *rc_login(struct harness *h, size_t listener,
                           enum rc_format fmt, const char *name,
                           const char *secret)
{
    struct rc_client *c = rc_connect(h, listener, fmt);

    cr_assert(rc_send(c, RC_AUTH, name, "", rc_str(secret)),
              "%scannot send Auth: %s", site(), c->error);
    rc_expect(c, RC_AUTH_OK, name, "", RC_NULL);
    return c;
}

struct rc_client *rc_login_any(struct harness *h, size_t listener,
                               enum rc_format fmt, const char *name)
{
    return rc_login(h, listener, fmt, name, MPT_SECRET_ALLOW_ALL);
}

struct rc_client *rc_login_level(struct harness *h, size_t listener,
                                 enum rc_format fmt, const char *name,
                                 unsigned level)
{
    struct rc_client *c = rc_connect(h, listener, fmt);
    bool sent;

    if (fmt == RC_BINARY) {
        sent = rc_send_binary(c, RC_AUTH, name, "",
                              rc_str(MPT_SECRET_ALLOW_ALL), (int)level);
    } else if (fmt == RC_PROTOBUF) {
        sent = rc_send_protobuf(c, RC_AUTH, name, "",
                                rc_str(MPT_SECRET_ALLOW_ALL), (int)level);
    } else {
        char *line = rc_json_line(RC_AUTH, name, "",
                                  rc_str(MPT_SECRET_ALLOW_ALL));
        char *with_level = NULL;
        size_t n = strlen(line);

        cr_assert(n > 0 && line[n - 1] == '}');
        cr_assert(asprintf(&with_level, "%.*s,\"Level\":%u}", (int)(n - 1),
                           line, level) > 0);
        sent = rc_send_json(c, with_level);
        free(with_level);
        free(line);
    }
    cr_assert(sent, "%scannot send Auth: %s", site(), c->error);
    return c;
}

void rc_open_conn(struct rc_client *a, struct rc_client *b, const char *id,
                  const char *proto)
{
    cr_assert(rc_send(a, RC_SYN, b->name, id, rc_str(proto)), "%ssend Syn: %s",
              site(), a->error);
    rc_expect(b, RC_SYN, a->name, id, rc_str(proto));
    cr_assert(rc_send(b, RC_ACK, a->name, id, RC_NULL), "%ssend Ack: %s",
              site(), b->error);
    rc_expect(a, RC_ACK, b->name, id, RC_NULL);
}

/* ----------------------------------------------------------------------
 * The pump (see rawclient.h)
 */

#include <pthread.h>

#define PUMP_WINDOW 4

struct rc_pump {
    struct rc_client *c[2]; /* direction d: from c[d] to c[1 - d] */
    char name[2][RC_STR_MAX + 1];
    char id[RC_STR_MAX + 1];
    int interval_ms;
    pthread_t thread;

    pthread_mutex_t mu;     /* guards what follows */
    pthread_cond_t cv;      /* CLOCK_MONOTONIC */
    bool stop, done;
    long long drain_ms;     /* how long to wait for the last messages */
    unsigned sent[2], got[2];
    bool failed;
    char why[512];
};

static void pump_fail(struct rc_pump *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pump_fail(struct rc_pump *p, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        va_start(ap, fmt);
        vsnprintf(p->why, sizeof p->why, fmt, ap);
        va_end(ap);
        p->failed = true;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void pump_text(char *buf, size_t len, int d, unsigned seq)
{
    snprintf(buf, len, "pump %d #%u", d, seq);
}

/* Take every message already readable on c[r]; each must be the next. */
static bool pump_receive(struct rc_pump *p, int r)
{
    int d = 1 - r;
    struct rc_msg m;
    char want[64];
    int st;

    while ((st = rc_recv(p->c[r], &m, 0)) == RC_OK) {
        pump_text(want, sizeof want, d, p->got[d]);
        bool ok = m.meta == RC_DATA && strcmp(m.other_client, p->name[d]) == 0 &&
                  strcmp(m.connection_id, p->id) == 0 && m.has_data &&
                  m.data_len == strlen(want) &&
                  memcmp(m.data, want, m.data_len) == 0;
        if (!ok) {
            pump_fail(p, "%s expected Data \"%s\" from %s on %s, got meta %d "
                      "from \"%.64s\" on \"%.64s\" with \"%.*s\"", p->name[r],
                      want, p->name[d], p->id, m.meta, m.other_client,
                      m.connection_id,
                      m.has_data ? (int)(m.data_len > 64 ? 64 : m.data_len) : 4,
                      m.has_data ? (const char *)m.data : "null");
            rc_msg_free(&m);
            return false;
        }
        rc_msg_free(&m);
        pthread_mutex_lock(&p->mu);
        p->got[d]++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    if (st != RC_TIMEOUT) {
        pump_fail(p, "%s: %s %s (after %u messages in)", p->name[r],
                  rc_status_name(st), p->c[r]->error, p->got[d]);
        return false;
    }
    return true;
}

static void *pump_main(void *arg)
{
    struct rc_pump *p = arg;
    long long last[2] = { 0, 0 }, drain_deadline = 0;
    char text[64];

    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        bool drained = p->got[0] == p->sent[0] && p->got[1] == p->sent[1];
        pthread_mutex_unlock(&p->mu);
        if (stop && drained)
            break;
        if (stop && drain_deadline == 0)
            drain_deadline = mpt_now_ms() + p->drain_ms;
        if (stop && mpt_now_ms() > drain_deadline) {
            pump_fail(p, "messages lost: %u of %u arrived at %s, %u of %u at %s",
                      p->got[0], p->sent[0], p->name[1], p->got[1],
                      p->sent[1], p->name[0]);
            break;
        }
        long long t = mpt_now_ms();
        int wait = p->interval_ms;
        for (int d = 0; d < 2 && !stop; d++) {
            if (p->sent[d] - p->got[d] >= PUMP_WINDOW)
                continue;
            if (t - last[d] < p->interval_ms) {
                int left = (int)(p->interval_ms - (t - last[d]));
                wait = left < wait ? left : wait;
                continue;
            }
            pump_text(text, sizeof text, d, p->sent[d]);
            if (!rc_send(p->c[d], RC_DATA, p->name[1 - d], p->id, rc_str(text))) {
                pump_fail(p, "%s cannot send: %s", p->name[d], p->c[d]->error);
                goto out;
            }
            last[d] = t;
            pthread_mutex_lock(&p->mu);
            p->sent[d]++;
            pthread_mutex_unlock(&p->mu);
        }
        struct pollfd pf[2] = { { .fd = p->c[0]->fd, .events = POLLIN },
                                { .fd = p->c[1]->fd, .events = POLLIN } };
        poll(pf, 2, wait > 0 ? wait : 1);
        if (!pump_receive(p, 0) || !pump_receive(p, 1))
            break;
    }
out:
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait for the counts; false on failure, end or timeout. */
static bool pump_wait(struct rc_pump *p, unsigned want0, unsigned want1,
                      int timeout_ms)
{
    long long deadline = mpt_now_ms() + timeout_ms;
    struct timespec ts = { (time_t)(deadline / 1000),
                           (long)(deadline % 1000) * 1000000L };
    bool ok;

    pthread_mutex_lock(&p->mu);
    while (!p->failed && !p->done &&
           (p->got[0] < want0 || p->got[1] < want1))
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
            break;
    ok = !p->failed && p->got[0] >= want0 && p->got[1] >= want1;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

struct rc_pump *rc_pump_start(struct rc_client *a, struct rc_client *b,
                              const char *id, int interval_ms,
                              unsigned warmup)
{
    struct rc_pump *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;

    cr_assert_not_null(p, "out of memory");
    p->c[0] = a;
    p->c[1] = b;
    snprintf(p->name[0], sizeof p->name[0], "%s", a->name);
    snprintf(p->name[1], sizeof p->name[1], "%s", b->name);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->interval_ms = interval_ms > 0 ? interval_ms : 1;
    p->drain_ms = mpt_ms(MPT_MSG_MS);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    cr_assert_eq(pthread_create(&p->thread, NULL, pump_main, p), 0,
                 "pthread_create failed");
    rc_pump_progress(p, warmup, mpt_ms(MPT_MSG_MS));
    return p;
}

void rc_pump_counts(struct rc_pump *p, unsigned *a_to_b, unsigned *b_to_a)
{
    pthread_mutex_lock(&p->mu);
    *a_to_b = p->got[0];
    *b_to_a = p->got[1];
    pthread_mutex_unlock(&p->mu);
}

void rc_pump_progress(struct rc_pump *p, unsigned count, int timeout_ms)
{
    unsigned g0, g1;

    rc_pump_counts(p, &g0, &g1);
    if (pump_wait(p, g0 + count, g1 + count, timeout_ms))
        return;
    unsigned n0, n1;
    rc_pump_counts(p, &n0, &n1);
    snprintf(describe_buf[0], sizeof describe_buf[0], "%s",
             p->failed ? p->why : "no error, too slow");
    cr_assert_fail("%sthe pump %s <-> %s stalled: %u and %u messages "
                   "delivered, %u more each way wanted within %d ms: %s",
                   site(), p->name[0], p->name[1], n0, n1, count, timeout_ms,
                   describe_buf[0]);
}

void rc_pump_finish(struct rc_pump *p, int timeout_ms)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    p->drain_ms = timeout_ms;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);

    bool failed = p->failed;
    unsigned got0 = p->got[0], got1 = p->got[1];
    unsigned sent0 = p->sent[0], sent1 = p->sent[1];
    int st[2];
    snprintf(describe_buf[0], sizeof describe_buf[0], "%s", p->why);
    snprintf(describe_buf[1], sizeof describe_buf[1], "%.400s and %.400s",
             p->name[0], p->name[1]);
    for (int i = 0; i < 2; i++)
        st[i] = failed ? RC_TIMEOUT : rc_wait_eof(p->c[i], 0);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    cr_assert(!failed, "%spump %s: %s", site(), describe_buf[1],
              describe_buf[0]);
    cr_assert(got0 == sent0 && got1 == sent1,
              "%spump %s: %u of %u and %u of %u messages arrived", site(),
              describe_buf[1], got0, sent0, got1, sent1);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(st[i], RC_TIMEOUT, "%spump %s: client %d: expected a "
                     "quiet open socket, got %s", site(), describe_buf[1], i,
                     st[i] == RC_OK ? "unexpected bytes"
                                    : rc_status_name(st[i]));
}
