/*
 * ws_handshake.c - the server side of the opening handshake
 * (ws_handshake.h, RFC 6455 section 4.2).
 *
 * The head is parsed once into spans (pointers into it), header by
 * header through a table, then judged in a fixed order so that each
 * request gets the most useful refusal: a malformed request (400) or
 * another method (405) first, then the path (404: a browser that
 * visits a wrong URL), then whether it is a WebSocket upgrade at all
 * (426: a browser visiting the right URL), and only then the WebSocket
 * details (the key 400, the Origin 403, the subprotocols 400).
 *
 * Lines end with CRLF only: every WebSocket client sends CRLF, and a
 * bare CR or LF inside a line is refused rather than guessed at.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"
#include "ws_handshake.h"

/* Section 1.3: appended to the client's key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum { WS_KEY_CHARS = 24, WS_KEY_BYTES = 16, SHA1_LEN = 20 };

/* A piece of the head; not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

/* What the head says, as far as the handshake cares. */
struct request {
    struct span method, target, version;
    struct span host, key, origin;
    unsigned n_host, n_key, n_origin;
    bool upgrade_websocket;     /* "websocket" among Upgrade's tokens */
    bool connection_upgrade;    /* "upgrade" among Connection's tokens */
    unsigned n_versions;        /* Sec-WebSocket-Version's tokens */
    bool version_13;            /* ... and one of them is "13" */
    bool protocols_offered;
    int protocol;               /* index in the policy's, -1: none yet */
    bool malformed;
    const char *malformed_why;
};

/* ------------------------------------------------------------------------
 * Characters and spans (ASCII only: the C library's ctype and
 * strcasecmp depend on the locale)
 */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool span_eq_nocase(struct span s, const char *lit)
{
    size_t n = strlen(lit);

    if (s.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lower(lit[i]))
            return false;
    return true;
}

static bool span_eq(struct span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* RFC 7230 section 3.2.6: tchar. */
static bool is_tchar(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A field value's bytes (RFC 7230 field-vchar, SP, HTAB, obs-text):
 * everything but the control characters and DEL. */
static bool is_value_char(char c)
{
    unsigned char u = (unsigned char)c;

    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

static struct span trim(struct span s)
{
    while (s.n > 0 && is_ows(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && is_ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* The next element of a comma-separated list (RFC 7230 section 7:
 * empty elements are skipped), trimmed; false when there is none. */
static bool next_token(struct span *rest, struct span *tok)
{
    while (rest->n > 0) {
        const char *comma = memchr(rest->p, ',', rest->n);
        size_t n = comma ? (size_t)(comma - rest->p) : rest->n;

        *tok = trim((struct span){rest->p, n});
        rest->p += comma ? n + 1 : n;
        rest->n -= comma ? n + 1 : n;
        if (tok->n > 0)
            return true;
    }
    return false;
}

/* The next line of head[..end), without its CRLF; a last line without
 * one is taken whole. */
static struct span next_line(const char **cursor, const char *end)
{
    const char *p = *cursor;
    struct span line = {p, (size_t)(end - p)};

    for (const char *q = p; q + 1 < end; q++) {
        if (q[0] == '\r' && q[1] == '\n') {
            line.n = (size_t)(q - p);
            *cursor = q + 2;
            return line;
        }
    }
    *cursor = end;
    return line;
}

/* ------------------------------------------------------------------------
 * Headers: one handler per header the handshake reads
 */

static void on_host(struct request *q, struct span v,
                    const struct ws_policy *policy)
{
    (void)policy;
    q->host = v;
    q->n_host++;
}

static void on_upgrade(struct request *q, struct span v,
                       const struct ws_policy *policy)
{
    struct span tok;

    (void)policy;
    while (next_token(&v, &tok))
        if (span_eq_nocase(tok, "websocket"))
            q->upgrade_websocket = true;
}

static void on_connection(struct request *q, struct span v,
                          const struct ws_policy *policy)
{
    struct span tok;

    (void)policy;
    while (next_token(&v, &tok))
        if (span_eq_nocase(tok, "upgrade"))
            q->connection_upgrade = true;
}

static void on_key(struct request *q, struct span v,
                   const struct ws_policy *policy)
{
    (void)policy;
    q->key = v;
    q->n_key++;
}

static void on_version(struct request *q, struct span v,
                       const struct ws_policy *policy)
{
    struct span tok;

    (void)policy;
    while (next_token(&v, &tok)) {
        q->n_versions++;
        if (span_eq(tok, "13"))
            q->version_13 = true;
    }
}

static void on_origin(struct request *q, struct span v,
                      const struct ws_policy *policy)
{
    (void)policy;
    q->origin = v;
    q->n_origin++;
}

/* The client lists its subprotocols in its order of preference, across
 * repeated headers too: the first the policy speaks wins. Subprotocol
 * names are compared exactly (section 4.1 calls them tokens, not
 * case-insensitive ones). */
static void on_protocol(struct request *q, struct span v,
                        const struct ws_policy *policy)
{
    struct span tok;

    while (next_token(&v, &tok)) {
        q->protocols_offered = true;
        for (size_t i = 0; q->protocol < 0 && i < policy->n_subprotocols;
             i++)
            if (span_eq(tok, policy->subprotocols[i]))
                q->protocol = (int)i;
    }
}

static const struct {
    const char *name;
    void (*read)(struct request *, struct span, const struct ws_policy *);
} header_table[] = {
    {"host", on_host},
    {"upgrade", on_upgrade},
    {"connection", on_connection},
    {"sec-websocket-key", on_key},
    {"sec-websocket-version", on_version},
    {"origin", on_origin},
    {"sec-websocket-protocol", on_protocol},
};

static void malformed(struct request *q, const char *why)
{
    if (!q->malformed) {
        q->malformed = true;
        q->malformed_why = why;
    }
}

/* "name: value": no space before the colon (RFC 7230 section 3.2.4),
 * no continuation lines, no control characters. */
static void read_header(struct request *q, struct span line,
                        const struct ws_policy *policy)
{
    const char *colon = memchr(line.p, ':', line.n);
    struct span name, value;

    if (!colon || colon == line.p) {
        malformed(q, "malformed header line");
        return;
    }
    name = (struct span){line.p, (size_t)(colon - line.p)};
    for (size_t i = 0; i < name.n; i++)
        if (!is_tchar(name.p[i])) {
            malformed(q, "malformed header name");
            return;
        }
    value = (struct span){colon + 1, line.n - name.n - 1};
    for (size_t i = 0; i < value.n; i++)
        if (!is_value_char(value.p[i])) {
            malformed(q, "control character in a header");
            return;
        }
    value = trim(value);
    for (size_t i = 0; i < sizeof header_table / sizeof header_table[0]; i++)
        if (span_eq_nocase(name, header_table[i].name))
            header_table[i].read(q, value, policy);
}

/* ------------------------------------------------------------------------
 * The request line
 */

/* The next word of the request line, up to one space (or its end). */
static struct span next_word(struct span *rest)
{
    const char *sp = memchr(rest->p, ' ', rest->n);
    size_t n = sp ? (size_t)(sp - rest->p) : rest->n;
    struct span w = {rest->p, n};

    rest->p += sp ? n + 1 : n;
    rest->n -= sp ? n + 1 : n;
    return w;
}

/* "HTTP/" major "." minor, one digit each (RFC 7230 section 2.6). */
static bool version_ok(struct span v, bool *at_least_1_1)
{
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.')
        return false;
    if (v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
        return false;
    *at_least_1_1 = v.p[5] > '1' || (v.p[5] == '1' && v.p[7] >= '1');
    return true;
}

static void read_request_line(struct request *q, struct span line)
{
    struct span rest = line;

    q->method = next_word(&rest);
    q->target = next_word(&rest);
    q->version = rest;
    if (q->method.n == 0 || q->target.n == 0)
        malformed(q, "malformed request line");
    for (size_t i = 0; i < q->method.n; i++)
        if (!is_tchar(q->method.p[i]))
            malformed(q, "malformed request line");
    for (size_t i = 0; i < q->target.n; i++)
        if ((unsigned char)q->target.p[i] <= 0x20 ||
            (unsigned char)q->target.p[i] >= 0x7f)
            malformed(q, "malformed request line");
}

static void parse_head(struct request *q, const char *head, size_t len,
                       const struct ws_policy *policy)
{
    const char *cursor = head, *end = head + len;
    struct span line;

    read_request_line(q, next_line(&cursor, end));
    while (cursor < end) {
        line = next_line(&cursor, end);
        if (line.n == 0)
            break;              /* the blank line: the head's end */
        if (is_ows(line.p[0])) {
            malformed(q, "folded header line");
            continue;
        }
        read_header(q, line, policy);
    }
}

/* ------------------------------------------------------------------------
 * Judging the request
 */

/* The path, without the query string, is exactly the policy's (no
 * percent-decoding: the path is the listener's own constant). */
static bool path_matches(struct span target, const char *path)
{
    const char *query = memchr(target.p, '?', target.n);

    if (query)
        target.n = (size_t)(query - target.p);
    return span_eq(target, path);
}

/* Section 4.2.1 item 4: a 16-byte value in base64 (24 characters). */
static bool key_ok(struct span key)
{
    unsigned char raw[WS_KEY_BYTES + 2];
    size_t n;

    if (key.n != WS_KEY_CHARS)
        return false;
    return mp_base64_decode(key.p, key.n, raw, &n) == 0 &&
           n == WS_KEY_BYTES;
}

static bool origin_allowed(struct span origin, unsigned n_origin,
                           const struct ws_policy *policy)
{
    if (n_origin == 0 || policy->n_origins == 0)
        return true;
    for (size_t i = 0; i < policy->n_origins; i++)
        if (strcmp(policy->origins[i], "*") == 0 ||
            span_eq_nocase(origin, policy->origins[i]))
            return true;
    return false;
}

/* Section 4.2.2 item 5.4: base64(SHA-1(key || GUID)). */
static bool make_accept(struct span key, char accept[29])
{
    char in[WS_KEY_CHARS + sizeof ws_guid - 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    memcpy(in, key.p, WS_KEY_CHARS);
    memcpy(in + WS_KEY_CHARS, ws_guid, sizeof ws_guid - 1);
    if (!EVP_Digest(in, sizeof in, md, &md_len, EVP_sha1(), NULL) ||
        md_len != SHA1_LEN)
        return false;
    accept[mp_base64_encode(md, SHA1_LEN, accept)] = '\0';
    return true;
}

static void copy_origin(struct ws_handshake *r, struct span origin)
{
    size_t n = origin.n < sizeof r->origin - 1 ? origin.n
                                                : sizeof r->origin - 1;

    memcpy(r->origin, origin.p, n);
    r->origin[n] = '\0';
}

static int refusal(const char **why, int status, const char *text)
{
    *why = text;
    return status;
}

/* The refusals, in the order they are tried; 0 when none applies. */
static int judge(const struct request *q, const struct ws_policy *policy,
                 const char **why)
{
    bool http_1_1 = false;

    if (q->malformed)
        return refusal(why, 400, q->malformed_why);
    if (!span_eq(q->method, "GET"))
        return refusal(why, 405, "only GET can open a WebSocket");
    if (!version_ok(q->version, &http_1_1) || !http_1_1)
        return refusal(why, 400, "HTTP/1.1 or later is required");
    if (q->n_host != 1)
        return refusal(why, 400, "exactly one Host header is required");
    if (!path_matches(q->target, policy->path))
        return refusal(why, 404, "no WebSocket at this path");
    if (!q->upgrade_websocket || !q->connection_upgrade)
        return refusal(why, 426, "a WebSocket upgrade is required");
    if (q->n_versions != 1 || !q->version_13)
        return refusal(why, 426, "WebSocket version 13 is required");
    if (q->n_key != 1 || !key_ok(q->key))
        return refusal(why, 400, "bad Sec-WebSocket-Key");
    if (q->n_origin > 1)
        return refusal(why, 400, "more than one Origin header");
    if (!origin_allowed(q->origin, q->n_origin, policy))
        return refusal(why, 403, "origin not allowed");
    if (q->protocols_offered && q->protocol < 0)
        return refusal(why, 400, "no common subprotocol");
    return refusal(why, 0, NULL);
}

void ws_handshake_check(const char *head, size_t len,
                        const struct ws_policy *policy,
                        struct ws_handshake *r)
{
    struct request q = {.protocol = -1};
    const char *why;
    int status;

    memset(r, 0, sizeof *r);
    r->subprotocol = -1;
    parse_head(&q, head, len, policy);
    if (q.n_origin == 1)
        copy_origin(r, q.origin);
    status = judge(&q, policy, &why);
    if (status == 0 && !make_accept(q.key, r->accept))
        status = refusal(&why, 500, "SHA-1 failed");
    r->status = status != 0 ? status : 101;
    r->why = why;
    if (r->status == 101)
        r->subprotocol = q.protocol;
}

/* ------------------------------------------------------------------------
 * The head's end and the answer
 */

size_t ws_request_head_length(const char *buf, size_t len)
{
    /* Looking no further than the limit keeps repeated calls on a
     * growing buffer cheap, and lets the caller tell "too large" from
     * "not yet" by len alone. */
    size_t n = len < WS_MAX_REQUEST_HEAD ? len : WS_MAX_REQUEST_HEAD;

    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

/* Each refusal's reason phrase and the header RFC 7231 requires with it
 * (405 names the allowed method, 426 the protocol to upgrade to, and
 * RFC 6455 section 4.4 wants the version we speak). */
static const struct {
    int status;
    const char *phrase;
    const char *extra;
} refusals[] = {
    {400, "Bad Request", ""},
    {403, "Forbidden", ""},
    {404, "Not Found", ""},
    {405, "Method Not Allowed", "Allow: GET\r\n"},
    {426, "Upgrade Required",
     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"},
    {431, "Request Header Fields Too Large", ""},
    {500, "Internal Server Error", ""},
};

static size_t fitted(int n, size_t size)
{
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

static size_t answer_101(const struct ws_handshake *r,
                         const struct ws_policy *policy, char *out,
                         size_t size)
{
    bool chosen = r->subprotocol >= 0 &&
                  (size_t)r->subprotocol < policy->n_subprotocols;

    return fitted(snprintf(out, size,
                           "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n"
                           "%s%s%s"
                           "\r\n",
                           r->accept,
                           chosen ? "Sec-WebSocket-Protocol: " : "",
                           chosen ? policy->subprotocols[r->subprotocol]
                                  : "",
                           chosen ? "\r\n" : ""),
                  size);
}

size_t ws_handshake_answer(const struct ws_handshake *r,
                           const struct ws_policy *policy, char *out,
                           size_t size)
{
    const char *phrase = "Error", *extra = "";
    const char *why = r->why ? r->why : "";

    if (r->status == 101)
        return answer_101(r, policy, out, size);
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        if (refusals[i].status == r->status) {
            phrase = refusals[i].phrase;
            extra = refusals[i].extra;
        }
    return fitted(snprintf(out, size,
                           "HTTP/1.1 %d %s\r\n"
                           "Connection: close\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: %zu\r\n"
                           "%s"
                           "\r\n"
                           "%s\n",
                           r->status, phrase, strlen(why) + 1, extra, why),
                  size);
}
