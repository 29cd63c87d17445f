/*
 * link_frame.c - encoding and decoding of the link frames (link_frame.h).
 *
 * The decoder is strict: every field must fit in the frame, a frame
 * must hold exactly its fields (a FORWARD's data is the rest), and the
 * LENGTH is checked against the caller's maximum as soon as its four
 * bytes are in, so that a peer cannot make the reader buffer a huge
 * frame. The reserved bits of a FORWARD's flags are passed through: the
 * receiver decides what they mean.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mp/protocol.h>

#include "link_frame.h"

_Static_assert(MP_NAME_MAX <= 255, "a link string's length is one byte");

/* ------------------------------------------------------------------------
 * Decoding: a cursor over one frame's fields
 */

struct reader {
    const unsigned char *p;
    size_t left;
    bool failed;
    const char *what; /* the first field that did not fit */
};

static bool take(struct reader *r, size_t n, const char *what)
{
    if (r->failed)
        return false;
    if (n > r->left) {
        r->failed = true;
        r->what = what;
        return false;
    }
    return true;
}

static uint8_t get_u8(struct reader *r, const char *what)
{
    uint8_t v;

    if (!take(r, 1, what))
        return 0;
    v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

static uint64_t get_uint(struct reader *r, size_t n, const char *what)
{
    uint64_t v = 0;

    if (!take(r, n, what))
        return 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | r->p[i];
    r->p += n;
    r->left -= n;
    return v;
}

static void get_bytes(struct reader *r, unsigned char *out, size_t n,
                      const char *what)
{
    if (!take(r, n, what))
        return;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
}

static struct link_str get_str(struct reader *r, const char *what)
{
    struct link_str s = {"", 0};
    size_t n = get_u8(r, what);

    if (!take(r, n, what))
        return s;
    s.ptr = (const char *)r->p;
    s.len = n;
    r->p += n;
    r->left -= n;
    return s;
}

static void decode_challenge(struct reader *r, struct link_frame *f)
{
    f->u.challenge.version = get_u8(r, "version");
    f->u.challenge.acceptor_id = get_str(r, "acceptor id");
    get_bytes(r, f->u.challenge.nonce, LINK_NONCE_LEN, "nonce");
}

static void decode_hello(struct reader *r, struct link_frame *f)
{
    f->u.hello.dialer_id = get_str(r, "dialer id");
    f->u.hello.acceptor_id = get_str(r, "acceptor id");
    f->u.hello.host = get_str(r, "host");
    f->u.hello.port = (uint16_t)get_uint(r, 2, "port");
    get_bytes(r, f->u.hello.nonce, LINK_NONCE_LEN, "nonce");
    get_bytes(r, f->u.hello.mac, LINK_MAC_LEN, "mac");
}

static void decode_hello_ok(struct reader *r, struct link_frame *f)
{
    get_bytes(r, f->u.hello_ok.mac, LINK_MAC_LEN, "mac");
}

static void decode_refused(struct reader *r, struct link_frame *f)
{
    f->u.refused.reason = get_str(r, "reason");
}

static void decode_forward(struct reader *r, struct link_frame *f)
{
    f->u.forward.meta = get_u8(r, "meta");
    f->u.forward.flags = get_u8(r, "flags");
    f->u.forward.from_session = get_uint(r, 8, "from session");
    f->u.forward.to_session = get_uint(r, 8, "to session");
    f->u.forward.from = get_str(r, "from");
    f->u.forward.to = get_str(r, "to");
    f->u.forward.connection_id = get_str(r, "connection id");
    f->u.forward.data = NULL;
    f->u.forward.data_len = 0;
    if (r->failed || !(f->u.forward.flags & LINK_FORWARD_HAS_DATA))
        return;
    f->u.forward.data = r->p;
    f->u.forward.data_len = r->left;
    r->p += r->left;
    r->left = 0;
}

static void decode_credit(struct reader *r, struct link_frame *f)
{
    f->u.credit.bytes = (uint32_t)get_uint(r, 4, "bytes");
    f->u.credit.connection_id = get_str(r, "connection id");
}

static void decode_kick(struct reader *r, struct link_frame *f)
{
    f->u.kick.session = get_uint(r, 8, "session");
    f->u.kick.name = get_str(r, "name");
}

static void decode_ping(struct reader *r, struct link_frame *f)
{
    (void)r;
    (void)f;
}

/* Indexed by type: behaviour in data, not in a switch. */
static void (*const decoders[])(struct reader *, struct link_frame *) = {
    [LINK_HELLO_CHALLENGE] = decode_challenge,
    [LINK_HELLO] = decode_hello,
    [LINK_HELLO_OK] = decode_hello_ok,
    [LINK_REFUSED] = decode_refused,
    [LINK_FORWARD] = decode_forward,
    [LINK_CREDIT] = decode_credit,
    [LINK_KICK] = decode_kick,
    [LINK_PING] = decode_ping,
};

enum { N_DECODERS = sizeof decoders / sizeof decoders[0] };

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static enum link_decode_result malformed(char *err, size_t errlen,
                                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum link_decode_result malformed(char *err, size_t errlen,
                                         const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LINK_DECODE_MALFORMED;
}

enum link_decode_result link_frame_decode(const unsigned char *bytes,
                                          size_t len, size_t max,
                                          struct link_frame *frame,
                                          size_t *used, char *err,
                                          size_t errlen)
{
    struct reader r;
    size_t length;
    unsigned type;

    if (len < LINK_FRAME_PREFIX)
        return LINK_DECODE_MORE;
    length = get_be32(bytes);
    if (length > max)
        return malformed(err, errlen, "a frame of %zu bytes (limit %zu)",
                         length, max);
    if (length == 0)
        return malformed(err, errlen, "an empty frame (no type)");
    if (len - LINK_FRAME_PREFIX < length)
        return LINK_DECODE_MORE;
    *used = LINK_FRAME_PREFIX + length;
    type = bytes[LINK_FRAME_PREFIX];
    if (type >= N_DECODERS || decoders[type] == NULL)
        return LINK_DECODE_SKIP;
    memset(frame, 0, sizeof *frame);
    frame->type = (enum link_frame_type)type;
    r = (struct reader){bytes + LINK_FRAME_PREFIX + 1, length - 1, false, NULL};
    decoders[type](&r, frame);
    if (r.failed)
        return malformed(err, errlen, "frame type %u: %s does not fit",
                         type, r.what);
    if (r.left > 0)
        return malformed(err, errlen,
                         "frame type %u: %zu bytes after its fields", type,
                         r.left);
    return LINK_DECODE_OK;
}

/* ------------------------------------------------------------------------
 * Encoding
 */

struct writer {
    unsigned char *p;
    size_t left;
    bool failed;
};

static void put_bytes(struct writer *w, const void *bytes, size_t n)
{
    if (w->failed || n > w->left) {
        w->failed = true;
        return;
    }
    memcpy(w->p, bytes, n);
    w->p += n;
    w->left -= n;
}

static void put_uint(struct writer *w, uint64_t v, size_t n)
{
    unsigned char b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    put_bytes(w, b, n);
}

static void put_str(struct writer *w, struct link_str s)
{
    if (s.len > MP_NAME_MAX) {
        w->failed = true;
        return;
    }
    put_uint(w, s.len, 1);
    put_bytes(w, s.ptr, s.len);
}

static bool has_data(const struct link_frame *f)
{
    return f->type == LINK_FORWARD &&
           (f->u.forward.flags & LINK_FORWARD_HAS_DATA);
}

/* The fields after TYPE, but the data; header_size() must agree (the
 * encoder checks that it does). */
static void put_fields(struct writer *w, const struct link_frame *f)
{
    switch (f->type) {
    case LINK_HELLO_CHALLENGE:
        put_uint(w, f->u.challenge.version, 1);
        put_str(w, f->u.challenge.acceptor_id);
        put_bytes(w, f->u.challenge.nonce, LINK_NONCE_LEN);
        return;
    case LINK_HELLO:
        put_str(w, f->u.hello.dialer_id);
        put_str(w, f->u.hello.acceptor_id);
        put_str(w, f->u.hello.host);
        put_uint(w, f->u.hello.port, 2);
        put_bytes(w, f->u.hello.nonce, LINK_NONCE_LEN);
        put_bytes(w, f->u.hello.mac, LINK_MAC_LEN);
        return;
    case LINK_HELLO_OK:
        put_bytes(w, f->u.hello_ok.mac, LINK_MAC_LEN);
        return;
    case LINK_REFUSED:
        put_str(w, f->u.refused.reason);
        return;
    case LINK_FORWARD:
        put_uint(w, f->u.forward.meta, 1);
        put_uint(w, f->u.forward.flags, 1);
        put_uint(w, f->u.forward.from_session, 8);
        put_uint(w, f->u.forward.to_session, 8);
        put_str(w, f->u.forward.from);
        put_str(w, f->u.forward.to);
        put_str(w, f->u.forward.connection_id);
        return;
    case LINK_CREDIT:
        put_uint(w, f->u.credit.bytes, 4);
        put_str(w, f->u.credit.connection_id);
        return;
    case LINK_KICK:
        put_uint(w, f->u.kick.session, 8);
        put_str(w, f->u.kick.name);
        return;
    case LINK_PING:
        return;
    }
    w->failed = true; /* not a type of ours */
}

static size_t str_size(struct link_str s)
{
    return 1 + s.len;
}

/* The header's size (everything but a FORWARD's data). */
static size_t header_size(const struct link_frame *f)
{
    size_t n = LINK_FRAME_PREFIX + 1;

    switch (f->type) {
    case LINK_HELLO_CHALLENGE:
        return n + 1 + str_size(f->u.challenge.acceptor_id) + LINK_NONCE_LEN;
    case LINK_HELLO:
        return n + str_size(f->u.hello.dialer_id) +
               str_size(f->u.hello.acceptor_id) + str_size(f->u.hello.host) +
               2 + LINK_NONCE_LEN + LINK_MAC_LEN;
    case LINK_HELLO_OK:
        return n + LINK_MAC_LEN;
    case LINK_REFUSED:
        return n + str_size(f->u.refused.reason);
    case LINK_FORWARD:
        return n + 2 + 16 + str_size(f->u.forward.from) +
               str_size(f->u.forward.to) +
               str_size(f->u.forward.connection_id);
    case LINK_CREDIT:
        return n + 4 + str_size(f->u.credit.connection_id);
    case LINK_KICK:
        return n + 8 + str_size(f->u.kick.name);
    case LINK_PING:
        return n;
    }
    return n;
}

size_t link_frame_size(const struct link_frame *frame)
{
    return header_size(frame) + (has_data(frame) ? frame->u.forward.data_len : 0);
}

size_t link_frame_encode_header(const struct link_frame *frame,
                                unsigned char *out, size_t outlen)
{
    size_t total = link_frame_size(frame);
    size_t header = header_size(frame);
    struct writer w = {out, outlen, false};

    if (total - LINK_FRAME_PREFIX > UINT32_MAX || total < header)
        return 0;
    put_uint(&w, total - LINK_FRAME_PREFIX, 4);
    put_uint(&w, (uint64_t)frame->type, 1);
    put_fields(&w, frame);
    if (w.failed || (size_t)(w.p - out) != header)
        return 0;
    return header;
}
