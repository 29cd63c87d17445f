/*
 * test_badinput.c - a catalogue of bad input (issue 5, hardening).
 *
 * Every row of the table below is one criterion test with a broker of its
 * own. In each, an "offender" client sends one piece of bad (or odd)
 * input, in either wire format (listener 0 json, listener 1 binary, and a
 * few rows on listener 2, auto), before or after logging in, and the
 * answer must be the one doc/protocol.md documents:
 *
 *   - undecodable input, or more than limits.max_message_size: WAT (after
 *     login) or AuthFailure (before) with the reason, then that client
 *     alone is closed;
 *   - a decodable message the connection table refuses: NoSuchConnection
 *     back (the message itself with meta 2), UnknownProto for a Syn past
 *     max_connections_per_client, WAT for broker-only or unknown metas
 *     and a second Auth; the session stays usable;
 *   - stray refusals (NoSuchConnection, UnknownProto) are dropped; JSON
 *     whitespace and unknown keys are ignored;
 *   - the broker never sends a protocol level (JSON "Level", binary
 *     HAS_LEVEL), whatever a client put on a message;
 *   - an auto listener closes a socket whose first byte it does not know,
 *     after one line that names the formats it speaks.
 *   - at protocol level 2 (rows l2_*, the offender announced it): bad or
 *     overflowing Credit gets WAT, a stray one is dropped; List answers a
 *     255-byte prefix; bad Watches get WAT, and a flood past
 *     max_watches_per_client ends at bad_messages_max with the close.
 *
 * Behind a whole message that must close the session, the offender sends
 * a probe (Data to a client that does not exist): if the broker wrongly
 * takes the input and goes on, the probe's bounce shows it at once.
 *
 * Meanwhile an unrelated pair of logged-in clients ("bb" binary and "bj"
 * json, connection bb:1) keeps exchanging numbered Data messages in both
 * directions from a thread of its own; after the case each must have
 * received every message, in order, none lost or duplicated, and both
 * must still be connected. When the case needs a partner for the
 * offender, a peer "p" (in the other format) with an open connection
 * off:1 is logged in too; it must never see what the broker refused, and
 * it is told ClientClosed when the offender is closed. Nobody but the
 * offender may be closed.
 *
 * Reason strings come from common/codec_json.c, common/codec_binary.c,
 * common/name.c, broker/session.c and broker/router.c.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(badinput, .fini = harness_reap_all, .timeout = 180);

/* Small limits, so that oversize input stays cheap to send. The message
 * size still leaves room for JSON nested 10000 deep (Go's limit). */
#define MAX_MSG 32768
#define MAX_CONNS 4
#define MAX_CONNS_S "4"
#define MAX_MSG_S "32768"
/* Before login, a smaller limit holds (limits.max_auth_message_size). */
#define MAX_AUTH_MSG 2048
#define MAX_AUTH_MSG_S "2048"

/* Listener 0 speaks json, 1 binary (as MPT_LISTEN_JSON_BINARY), 2 auto. */
#define CONFIG                                                           \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n" \
    MPT_AUTH_ALLOW_ALL                                                   \
    "limits = { max_message_size = " MAX_MSG_S ";\n"                     \
    "           max_auth_message_size = " MAX_AUTH_MSG_S ";\n"          \
    "           max_connections_per_client = " MAX_CONNS_S "; };\n"

#define JSON_LISTENER 0
#define BINARY_LISTENER 1
#define AUTO_LISTENER 2

static size_t listener_of(enum rc_format f)
{
    return f == RC_JSON ? JSON_LISTENER : BINARY_LISTENER;
}

static enum rc_format other_format(enum rc_format f)
{
    return f == RC_JSON ? RC_BINARY : RC_JSON;
}

/* The bystanders' pump: one new message per direction per millisecond at
 * most, and this many each way before the case and after it. */
#define PUMP_INTERVAL_MS 1
#define PUMP_PROGRESS 10

/* ======================================================================
 * The catalogue
 */

/* AFTER_AUTH_L2: logged in at protocol level 2 (doc/protocol.md). */
enum stage { BEFORE_AUTH = 1, AFTER_AUTH, AFTER_AUTH_L2 };

/* What the auto listener writes before closing on an unknown format
 * (doc/protocol.md): the harness loads the json and binary translators. */
#define UNKNOWN_FORMAT_LINE \
    "mpbroker: unknown wire format; this listener speaks: json, binary\n"

enum expect {
    X_ERROR_CLOSE = 1, /* WAT (AuthFailure before login) with reason, EOF */
    X_EOF,             /* closed with no answer (we had stopped sending) */
    X_UNKNOWN_FORMAT,  /* the auto listener's line (UNKNOWN_FORMAT_LINE),
                          then closed */
    X_BOUNCE,          /* the message comes back with meta 2; stays */
    X_REPLY,           /* exactly `reply` comes back; stays */
    X_WAT,             /* WAT with exactly `reason`; stays */
    X_IGNORED,         /* no answer at all; stays */
    X_DELIVERED,       /* the peer receives `reply`; stays */
    X_LOGIN_OK,        /* AuthOk for msg.other; stays */
    X_CUSTOM,          /* `custom` checks it; stays unless it says so */
};

/* A message given field by field (lengths explicit: names may hold NUL). */
struct mspec {
    bool set;
    int meta;
    const char *other;
    size_t olen;
    const char *id;
    size_t ilen;
    const char *data;
    size_t dlen;
    bool has_data;
};

struct ctx;

struct bad_case {
    enum rc_format fmt;
    enum stage stage;
    bool peer;                 /* peer "p" with open connection off:1 */
    bool on_auto;              /* connect to the auto listener */
    /* What the offender sends: raw bytes, a message, or generated bytes. */
    const char *raw;
    size_t raw_len;
    struct mspec msg;
    unsigned char *(*gen)(size_t *len);
    bool shut_wr;              /* then stop sending (half close) */
    enum expect expect;
    const char *reason;        /* X_ERROR_CLOSE, X_WAT: part of the reason */
    struct mspec reply;        /* X_REPLY, X_DELIVERED */
    bool (*custom)(struct ctx *x); /* true: the offender was closed */
};

struct ctx {
    struct harness *h;
    const struct bad_case *c;
    const char *case_name;
    struct rc_client *off, *peer, *bb, *bj;
    char off_name[RC_STR_MAX + 1];
    struct rc_pump *pump;
};

/* Initializer helpers. Every string is a literal whose length is taken
 * with sizeof, so it may hold NUL bytes. */
#define RAW(s) .raw = (s), .raw_len = sizeof(s) - 1
#define M_(m, o, i) .set = true, .meta = (m), .other = (o), \
    .olen = sizeof(o) - 1, .id = (i), .ilen = sizeof(i) - 1
#define MSG(m, o, i) .msg = { M_(m, o, i) }
#define MSGD(m, o, i, d) .msg = { M_(m, o, i), .data = (d), \
    .dlen = sizeof(d) - 1, .has_data = true }
#define REPLY(m, o, i) .reply = { M_(m, o, i) }
#define REPLYD(m, o, i, d) .reply = { M_(m, o, i), .data = (d), \
    .dlen = sizeof(d) - 1, .has_data = true }

/* Names of 15, 16, 255 and 256 bytes. */
#define N15 "nnnnnnnnnnnnnnn"
#define N16 N15 "n"
#define N240 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16
#define N255 N240 N15
#define N256 N240 N16

/* JSON object prefixes used by many rows. */
#define J_DATA_P "{\"Meta\":0,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\""
#define J_AUTH "{\"Meta\":8,\"ConnectionID\":\"\",\"Data\":\"cHc=\",\"OtherClient\":"

/* ----------------------------------------------------------------------
 * Generators for the big inputs
 */

static unsigned char *gen_buf(size_t n)
{
    unsigned char *b = malloc(n + 1);

    cr_assert_not_null(b);
    return b;
}

/* prefix + n copies of `fill` + suffix. */
static unsigned char *gen_fill(const char *prefix, char fill, size_t n,
                               const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    unsigned char *b = gen_buf(pl + n + sl);

    memcpy(b, prefix, pl);
    memset(b + pl, fill, n);
    memcpy(b + pl + n, suffix, sl);
    *len = pl + n + sl;
    return b;
}

/* A Data message for off:1 whose object is exactly `size` bytes from its
 * '{' to its '}', padded with an unknown key. */
static unsigned char *gen_json_sized(size_t size, size_t *len)
{
    static const char prefix[] = J_DATA_P ",\"Data\":\"aGk=\",\"pad\":\"";
    size_t fixed = sizeof prefix - 1 + 2; /* and "} */

    cr_assert_gt(size, fixed);
    return gen_fill(prefix, 'z', size - fixed, "\"}\n", len);
}

static unsigned char *gen_json_exact_limit(size_t *len)
{
    return gen_json_sized(MAX_MSG, len);
}

static unsigned char *gen_json_limit_plus_one(size_t *len)
{
    return gen_json_sized(MAX_MSG + 1, len);
}

/* A complete Data message with 40000 bytes of base64. */
static unsigned char *gen_json_oversize(size_t *len)
{
    return gen_fill(J_DATA_P ",\"Data\":\"", 'A', 40000, "\"}\n", len);
}

/* An object that never ends: it must be refused once it passes the limit,
 * without waiting for its end. */
static unsigned char *gen_json_unterminated(size_t *len)
{
    return gen_fill(J_DATA_P ",\"Data\":\"", 'A', 40000, "", len);
}

/* An Auth with a secret that fits max_message_size but not the limit
 * before login. */
static unsigned char *gen_json_auth_over_auth_limit(size_t *len)
{
    return gen_fill("{\"Meta\":8,\"OtherClient\":\"off\",\"Data\":\"", 'A',
                    MAX_AUTH_MSG + 1000, "\"}\n", len);
}

static unsigned char *gen_whitespace_flood(size_t *len)
{
    return gen_fill("", ' ', MAX_MSG + 4096, "", len);
}

/* Whitespace does not count towards the limit: 30000 bytes of it, then
 * an object of 30000 bytes, both under the limit but not together. */
static unsigned char *gen_whitespace_then_large_object(size_t *len)
{
    size_t n;
    unsigned char *obj = gen_json_sized(30000, &n);
    unsigned char *b = gen_buf(30000 + n);

    memset(b, ' ', 30000);
    memcpy(b + 30000, obj, n);
    free(obj);
    *len = 30000 + n;
    return b;
}

/* More whitespace than the limit in a row is an error (doc/protocol.md),
 * even when an object follows it in the same write. */
static unsigned char *gen_whitespace_over_limit_then_object(size_t *len)
{
    static const char obj[] = J_DATA_P ",\"Data\":\"aGk=\"}\n";
    size_t ws = MAX_MSG + 1;
    unsigned char *b = gen_buf(ws + sizeof obj - 1);

    memset(b, '\n', ws);
    memcpy(b + ws, obj, sizeof obj - 1);
    *len = ws + sizeof obj - 1;
    return b;
}

/* 10000 arrays inside the object: depth 10001, one past Go's limit. */
static unsigned char *gen_nested_10000(size_t *len)
{
    return gen_fill(J_DATA_P ",\"Data\":\"aGk=\",\"x\":", '[', 10000, "", len);
}

/* 9999 arrays inside the object: depth 10000, the deepest allowed. */
static unsigned char *gen_nested_9999(size_t *len)
{
    static const char prefix[] = J_DATA_P ",\"Data\":\"aGk=\",\"x\":";
    size_t pl = sizeof prefix - 1, n = 9999;
    unsigned char *b = gen_buf(pl + 2 * n + 2);

    memcpy(b, prefix, pl);
    memset(b + pl, '[', n);
    memset(b + pl + n, ']', n);
    memcpy(b + pl + 2 * n, "}\n", 2);
    *len = pl + 2 * n + 2;
    return b;
}

/* A number of 20000 digits as the value of an unknown key. */
static unsigned char *gen_huge_number_unknown_key(size_t *len)
{
    return gen_fill(J_DATA_P ",\"Data\":\"aGk=\",\"x\":1", '0', 20000,
                    "}\n", len);
}

/* A Meta of 20000 digits. */
static unsigned char *gen_huge_meta(size_t *len)
{
    return gen_fill("{\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\","
                    "\"Data\":\"aGk=\",\"Meta\":1", '0', 20000, "}\n", len);
}

/* A string of 20000 bytes as the value of an unknown key. */
static unsigned char *gen_huge_string_unknown_key(size_t *len)
{
    return gen_fill(J_DATA_P ",\"Data\":\"aGk=\",\"x\":\"", 's', 20000,
                    "\"}\n", len);
}

/* A binary Data frame for off:1 to p, `total` bytes in all. */
static unsigned char *gen_binary_sized(size_t total, size_t *len)
{
    size_t head = 8 + 1 + 5; /* prefix, fixed part, "p", "off:1" */
    size_t rest = total - 4;
    unsigned char *f = gen_buf(total);

    cr_assert_gt(total, head);
    f[0] = (unsigned char)(rest >> 24);
    f[1] = (unsigned char)(rest >> 16);
    f[2] = (unsigned char)(rest >> 8);
    f[3] = (unsigned char)rest;
    f[4] = RC_DATA;
    f[5] = RC_FLAG_HAS_DATA;
    f[6] = 1;
    f[7] = 5;
    memcpy(f + 8, "poff:1", 6);
    for (size_t i = head; i < total; i++)
        f[i] = (unsigned char)(i * 131u);
    *len = total;
    return f;
}

static unsigned char *gen_binary_limit_plus_one(size_t *len)
{
    return gen_binary_sized(MAX_MSG + 1, len);
}

/* ----------------------------------------------------------------------
 * Checks shared by the rows
 */

static const char *show(const void *bytes, size_t n, char *buf, size_t len)
{
    const unsigned char *p = bytes;
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            buf[o++] = (char)p[i];
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", p[i]);
    }
    buf[o < len ? o : len - 1] = '\0';
    return buf;
}

/* Assert that m is exactly s. The broker never sends a level
 * (doc/protocol.md: "The broker never sends Level", and in binary "the
 * broker never sets" HAS_LEVEL); the raw client's decoder sets has_level
 * for a JSON "Level" key too. */
static void assert_msg(const char *who, struct rc_msg *m, const struct mspec *s)
{
    if (m->has_level) {
        unsigned level = m->level;
        rc_msg_free(m);
        cr_assert_fail("%s got a message with HAS_LEVEL set (level %u): the "
                       "broker must never set it", who, level);
    }
    static char got_o[200], got_i[200], got_d[200];
    static char want_o[200], want_i[200], want_d[200];
    bool same = m->meta == s->meta && m->other_client_len == s->olen &&
                memcmp(m->other_client, s->other, s->olen) == 0 &&
                m->connection_id_len == s->ilen &&
                memcmp(m->connection_id, s->id, s->ilen) == 0 &&
                m->has_data == s->has_data &&
                (!s->has_data || (m->data_len == s->dlen &&
                                  memcmp(m->data, s->data, s->dlen) == 0));

    if (same) {
        rc_msg_free(m);
        return;
    }
    show(m->other_client, m->other_client_len, got_o, sizeof got_o);
    show(m->connection_id, m->connection_id_len, got_i, sizeof got_i);
    if (m->has_data)
        show(m->data, m->data_len, got_d, sizeof got_d);
    else
        snprintf(got_d, sizeof got_d, "(null)");
    int meta = m->meta;
    rc_msg_free(m);
    show(s->other, s->olen, want_o, sizeof want_o);
    show(s->id, s->ilen, want_i, sizeof want_i);
    if (s->has_data)
        show(s->data, s->dlen, want_d, sizeof want_d);
    else
        snprintf(want_d, sizeof want_d, "(null)");
    cr_assert_fail("%s expected {meta %d, \"%s\", \"%s\", %s}\n"
                   "             got {meta %d, \"%s\", \"%s\", %s}", who,
                   s->meta, want_o, want_i, want_d, meta, got_o, got_i, got_d);
}

static void expect_msg(const char *who, struct rc_client *c,
                       const struct mspec *s)
{
    struct rc_msg m;
    int st = rc_recv(c, &m, mpt_ms(MPT_MSG_MS));

    cr_assert_eq(st, RC_OK, "%s expected meta %d, got %s %s%s", who, s->meta,
                 rc_status_name(st), rc_error(c),
                 st == RC_BAD ? " (the raw client accepts only the keys Meta, "
                 "OtherClient, ConnectionID and Data: a \"Level\" from the "
                 "broker ends up here)" : "");
    /* A JSON client gets the canonical line, byte for byte. */
    if (rc_format(c) == RC_JSON && strlen(s->other) == s->olen &&
        strlen(s->id) == s->ilen) {
        char *want = rc_json_line((unsigned)s->meta, s->other, s->id,
                                  s->has_data ? rc_bytes(s->data, s->dlen)
                                              : RC_NULL);
        bool same = want != NULL && m.raw_len == strlen(want) + 1 &&
                    memcmp(m.raw, want, m.raw_len - 1) == 0;
        static char got[300];
        show(m.raw, m.raw_len, got, sizeof got);
        free(want);
        if (!same) {
            rc_msg_free(&m);
            cr_assert_fail("%s got the line \"%s\", not the canonical "
                           "encoding of the expected message", who, got);
        }
    }
    assert_msg(who, &m, s);
}

/* A message to or from `other` on `id` with text data, as a spec. */
static struct mspec spec(int meta, const char *other, const char *id,
                         const char *text)
{
    return (struct mspec){ .set = true, .meta = meta, .other = other,
                           .olen = strlen(other), .id = id, .ilen = strlen(id),
                           .data = text, .dlen = text ? strlen(text) : 0,
                           .has_data = text != NULL };
}

/* Encode s in the format f; malloc'd. */
static unsigned char *encode(enum rc_format fmt, const struct mspec *s,
                             size_t *len)
{
    if (fmt == RC_JSON) {
        cr_assert(strlen(s->other) == s->olen && strlen(s->id) == s->ilen,
                  "a JSON row with NUL in a name must be given as raw bytes");
        char *line = rc_json_line((unsigned)s->meta, s->other, s->id,
                                  s->has_data ? rc_bytes(s->data, s->dlen)
                                              : RC_NULL);
        cr_assert_not_null(line);
        size_t n = strlen(line);
        unsigned char *b = gen_buf(n + 1);
        memcpy(b, line, n);
        b[n] = '\n';
        free(line);
        *len = n + 1;
        return b;
    }
    cr_assert(s->olen <= 255 && s->ilen <= 255 && s->meta >= 0 && s->meta <= 255,
              "a binary row that cannot be encoded must be given as raw bytes");
    size_t rest = 4 + s->olen + s->ilen + s->dlen;
    unsigned char *f = gen_buf(4 + rest);
    f[0] = (unsigned char)(rest >> 24);
    f[1] = (unsigned char)(rest >> 16);
    f[2] = (unsigned char)(rest >> 8);
    f[3] = (unsigned char)rest;
    f[4] = (unsigned char)s->meta;
    f[5] = s->has_data ? RC_FLAG_HAS_DATA : 0;
    f[6] = (unsigned char)s->olen;
    f[7] = (unsigned char)s->ilen;
    memcpy(f + 8, s->other, s->olen);
    memcpy(f + 8 + s->olen, s->id, s->ilen);
    if (s->dlen > 0)
        memcpy(f + 8 + s->olen + s->ilen, s->data, s->dlen);
    *len = 4 + rest;
    return f;
}

static void send_text(struct rc_client *c, int meta, const char *to,
                      const char *id, const char *text)
{
    cr_assert(rc_send(c, (unsigned)meta, to, id,
                      text ? rc_str(text) : RC_NULL),
              "send: %s", rc_error(c));
}

/* The offender's session still works: a message to an absent client comes
 * back (NoSuchConnection), and off:1 still carries Data both ways with
 * nothing the broker refused having reached the peer. */
static void check_usable(struct ctx *x)
{
    static unsigned serial;
    char id[32], text[32];

    snprintf(id, sizeof id, "probe:%u", ++serial);
    snprintf(text, sizeof text, "probe %u", serial);
    send_text(x->off, RC_DATA, "nobody", id, text);
    struct mspec back = spec(RC_NO_SUCH_CONN, "nobody", id, text);
    expect_msg("offender (probe)", x->off, &back);
    if (x->peer != NULL) {
        send_text(x->off, RC_DATA, "p", "off:1", "still there?");
        struct mspec in = spec(RC_DATA, x->off_name, "off:1", "still there?");
        expect_msg("peer", x->peer, &in);
        send_text(x->peer, RC_DATA, x->off_name, "off:1", "yes");
        struct mspec out = spec(RC_DATA, "p", "off:1", "yes");
        expect_msg("offender", x->off, &out);
    }
}

static void expect_error_close(struct ctx *x)
{
    const struct bad_case *c = x->c;
    unsigned meta = c->stage >= AFTER_AUTH ? RC_WAT : RC_AUTH_FAILURE;
    struct rc_msg m;
    char got[200];

    int st = rc_recv(x->off, &m, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(st, RC_OK, "expected %s \"%s\", got %s %s",
                 meta == RC_WAT ? "WAT" : "AuthFailure", c->reason,
                 rc_status_name(st), rc_error(x->off));
    if (m.meta == RC_NO_SUCH_CONN && strcmp(m.other_client, "nobody") == 0) {
        rc_msg_free(&m);
        cr_assert_fail("expected %s \"%s\", but the broker took the input "
                       "and went on: the probe sent behind it was answered",
                       meta == RC_WAT ? "WAT" : "AuthFailure", c->reason);
    }
    bool ok = m.meta == (int)meta && m.has_data &&
              strstr((const char *)m.data, c->reason) != NULL;
    show(m.data, m.has_data ? m.data_len : 0, got, sizeof got);
    int got_meta = m.meta;
    rc_msg_free(&m);
    cr_assert(ok, "expected %s whose reason contains \"%s\", got meta %d "
              "with \"%s\"", meta == RC_WAT ? "WAT" : "AuthFailure",
              c->reason, got_meta, got);
    rc_expect_eof(x->off);
}

static void expect_wat(struct ctx *x, const char *reason)
{
    struct rc_msg m;
    char got[200];

    rc_expect_meta(x->off, RC_WAT, &m);
    bool ok = m.has_data && strcmp((const char *)m.data, reason) == 0;
    show(m.data, m.has_data ? m.data_len : 0, got, sizeof got);
    rc_msg_free(&m);
    cr_assert(ok, "expected WAT \"%s\", got WAT \"%s\"", reason, got);
}

/* Is this a whole message (so that bytes sent after it are a message of
 * their own)? JSON: it ends with a newline; binary: LENGTH matches. */
static bool whole_message(enum rc_format f, const unsigned char *b, size_t len)
{
    if (f == RC_JSON)
        return len > 0 && b[len - 1] == '\n';
    return len >= 8 &&
           (size_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                    (uint32_t)b[2] << 8 | b[3]) + 4 == len;
}

/* Behind input that must close the session, a probe (Data to nobody): if
 * the broker wrongly takes the input and goes on, the probe's bounce
 * arrives at once instead of a timeout. Send errors are expected. */
static void probe_behind(struct rc_client *c)
{
    rc_send(c, RC_DATA, "nobody", "probe:0", rc_str("probe 0"));
}

/* Send the row's input. A close may come while we write: that is fine
 * when a close is what the row expects. */
static void send_offence(struct ctx *x)
{
    const struct bad_case *c = x->c;
    unsigned char *bytes = NULL;
    const void *p;
    size_t len;

    if (c->gen != NULL) {
        bytes = c->gen(&len);
        p = bytes;
    } else if (c->msg.set) {
        bytes = encode(c->fmt, &c->msg, &len);
        p = bytes;
    } else {
        cr_assert_not_null(c->raw, "row %s sends nothing", x->case_name);
        p = c->raw;
        len = c->raw_len;
    }
    bool ok = rc_send_raw(x->off, p, len);
    bool whole = whole_message(c->fmt, p, len);
    free(bytes);
    if (c->expect != X_ERROR_CLOSE)
        cr_assert(ok, "send: %s", rc_error(x->off));
    else if (ok && whole && !c->shut_wr)
        probe_behind(x->off);
    if (c->shut_wr)
        cr_assert_eq(shutdown(rc_fd(x->off), SHUT_WR), 0, "shutdown: %s",
                     strerror(errno));
}

/* The broker's log must not say that anyone but the offender left. */
static void check_nobody_else_left(struct ctx *x)
{
    static const char *const others[] = { "client bb left", "client bj left",
                                          "client p left" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_assert(!harness_log_contains(x->h, others[i]),
                  "the broker logged \"%s\"", others[i]);
}

static void run_case(const struct bad_case *c, const char *name)
{
    struct ctx x = { .c = c, .case_name = name };
    bool closed = false;

    cr_assert(c->expect != 0, "no row for case %s", name);
    x.h = harness_start(CONFIG);
    x.bb = rc_login_any(x.h, BINARY_LISTENER, RC_BINARY, "bb");
    x.bj = rc_login_any(x.h, JSON_LISTENER, RC_JSON, "bj");
    rc_open_conn(x.bb, x.bj, "bb:1", "chat");
    x.pump = rc_pump_start(x.bb, x.bj, "bb:1", PUMP_INTERVAL_MS, PUMP_PROGRESS);

    enum rc_format pf = other_format(c->fmt);
    if (c->peer)
        x.peer = rc_login_any(x.h, listener_of(pf), pf, "p");
    if (c->stage == AFTER_AUTH_L2) {
        struct rc_msg ok;
        x.off = rc_login_level(x.h, listener_of(c->fmt), c->fmt, "off", 2);
        rc_expect_meta(x.off, RC_AUTH_OK, &ok);
        rc_msg_free(&ok);
        snprintf(x.off_name, sizeof x.off_name, "off");
        if (x.peer != NULL)
            rc_open_conn(x.off, x.peer, "off:1", "test");
    } else if (c->stage == AFTER_AUTH) {
        x.off = rc_login_any(x.h, listener_of(c->fmt), c->fmt, "off");
        snprintf(x.off_name, sizeof x.off_name, "off");
        if (x.peer != NULL)
            rc_open_conn(x.off, x.peer, "off:1", "test");
    } else {
        x.off = rc_connect(x.h, c->on_auto ? AUTO_LISTENER : listener_of(c->fmt),
                           c->fmt);
    }

    if (c->expect == X_CUSTOM) {
        closed = c->custom(&x);
    } else {
        send_offence(&x);
        switch (c->expect) {
        case X_ERROR_CLOSE:
            expect_error_close(&x);
            closed = true;
            break;
        case X_EOF:
            rc_expect_eof(x.off);
            closed = true;
            break;
        case X_UNKNOWN_FORMAT:
            rc_expect_text_then_eof(x.off, UNKNOWN_FORMAT_LINE);
            closed = true;
            break;
        case X_BOUNCE: {
            struct mspec back = c->msg;
            back.meta = RC_NO_SUCH_CONN;
            expect_msg("offender", x.off, &back);
            break;
        }
        case X_REPLY:
            expect_msg("offender", x.off, &c->reply);
            break;
        case X_WAT:
            expect_wat(&x, c->reason);
            break;
        case X_IGNORED:
            break; /* the probe's answer must be the next message */
        case X_DELIVERED:
            cr_assert_not_null(x.peer);
            expect_msg("peer", x.peer, &c->reply);
            break;
        case X_LOGIN_OK: {
            struct mspec ok = { .set = true, .meta = RC_AUTH_OK,
                                .other = c->msg.other, .olen = c->msg.olen,
                                .id = "", .ilen = 0 };
            expect_msg("offender", x.off, &ok);
            snprintf(x.off_name, sizeof x.off_name, "%.*s", (int)c->msg.olen,
                     c->msg.other);
            break;
        }
        default:
            cr_assert_fail("bad row %s", name);
        }
    }

    if (closed) {
        if (c->stage >= AFTER_AUTH && x.peer != NULL)
            rc_expect(x.peer, RC_CLIENT_CLOSED, "off", "", RC_NULL);
    } else {
        if (x.off_name[0] == '\0') {
            /* Still before login: the ignored input must not stop it. */
            send_text(x.off, RC_AUTH, "off", "", "pw");
            rc_expect(x.off, RC_AUTH_OK, "off", "", RC_NULL);
            snprintf(x.off_name, sizeof x.off_name, "off");
        }
        check_usable(&x);
    }
    rc_pump_progress(x.pump, PUMP_PROGRESS, mpt_ms(MPT_MSG_MS));
    rc_pump_finish(x.pump, mpt_ms(MPT_MSG_MS));
    if (x.peer != NULL) {
        int st = rc_wait_eof(x.peer, 0);
        cr_assert_eq(st, RC_TIMEOUT, "peer p: expected a quiet open socket, "
                     "got %s", st == RC_OK ? "unexpected bytes"
                                           : rc_status_name(st));
    }
    check_nobody_else_left(&x);
    rc_close(x.off);
    rc_close(x.peer);
    rc_close(x.bb);
    rc_close(x.bj);
    harness_stop(x.h);
}

/* ----------------------------------------------------------------------
 * Rows that need more than one message
 */

/* Syns past limits.max_connections_per_client (4; off:1 is one) come back
 * as UnknownProto without data, and the target never sees them. */
static bool syn_flood(struct ctx *x)
{
    char id[32];

    for (int i = 2; i <= 40; i++) {
        snprintf(id, sizeof id, "off:%d", i);
        send_text(x->off, RC_SYN, "p", id, "flood");
    }
    for (int i = 2; i <= MAX_CONNS; i++) {
        snprintf(id, sizeof id, "off:%d", i);
        struct mspec syn = spec(RC_SYN, "off", id, "flood");
        expect_msg("peer", x->peer, &syn);
    }
    for (int i = MAX_CONNS + 1; i <= 40; i++) {
        snprintf(id, sizeof id, "off:%d", i);
        struct mspec refused = spec(RC_UNKNOWN_PROTO, "p", id, NULL);
        expect_msg("offender", x->off, &refused);
    }
    /* The log comes through a pipe and a reader thread: wait for it. */
    cr_assert(harness_wait_log(x->h, "max_connections_per_client",
                               mpt_ms(MPT_MSG_MS)));
    return false;
}

/* Only a Syn's target may accept it: the initiator's own Ack bounces; the
 * real Ack then opens the connection. */
static bool ack_from_initiator(struct ctx *x)
{
    send_text(x->off, RC_SYN, "p", "off:2", "test");
    struct mspec syn = spec(RC_SYN, "off", "off:2", "test");
    expect_msg("peer", x->peer, &syn);
    send_text(x->off, RC_ACK, "p", "off:2", NULL);
    struct mspec back = spec(RC_NO_SUCH_CONN, "p", "off:2", NULL);
    expect_msg("offender", x->off, &back);
    send_text(x->peer, RC_ACK, "off", "off:2", NULL);
    struct mspec ack = spec(RC_ACK, "p", "off:2", NULL);
    expect_msg("offender", x->off, &ack);
    send_text(x->off, RC_DATA, "p", "off:2", "open now");
    struct mspec data = spec(RC_DATA, "off", "off:2", "open now");
    expect_msg("peer", x->peer, &data);
    return false;
}

/* Data on a connection that is still PENDING bounces. */
static bool data_on_pending(struct ctx *x)
{
    send_text(x->off, RC_SYN, "p", "off:2", "test");
    struct mspec syn = spec(RC_SYN, "off", "off:2", "test");
    expect_msg("peer", x->peer, &syn);
    send_text(x->off, RC_DATA, "p", "off:2", "too early");
    struct mspec back = spec(RC_NO_SUCH_CONN, "p", "off:2", "too early");
    expect_msg("offender", x->off, &back);
    /* The peer's side is refused the same way until it accepts. */
    send_text(x->peer, RC_DATA, "off", "off:2", "me too");
    struct mspec back2 = spec(RC_NO_SUCH_CONN, "off", "off:2", "me too");
    expect_msg("peer", x->peer, &back2);
    return false;
}

/* A binary frame of exactly max_message_size bytes is delivered whole. */
static bool binary_exact_limit(struct ctx *x)
{
    size_t len;
    unsigned char *f = gen_binary_sized(MAX_MSG, &len);
    struct rc_msg m;

    cr_assert(rc_send_raw(x->off, f, len), "send: %s", rc_error(x->off));
    int st = rc_recv(x->peer, &m, mpt_ms(MPT_MSG_MS));
    cr_assert_eq(st, RC_OK, "peer: %s %s", rc_status_name(st),
                 rc_error(x->peer));
    bool ok = m.meta == RC_DATA && strcmp(m.other_client, "off") == 0 &&
              strcmp(m.connection_id, "off:1") == 0 && m.has_data &&
              m.data_len == len - 14 && memcmp(m.data, f + 14, len - 14) == 0;
    size_t got = m.data_len;
    rc_msg_free(&m);
    free(f);
    cr_assert(ok, "the frame at the size limit was altered (%zu data bytes)",
              got);
    return false;
}

/* Two objects with nothing between them are two messages; a line of only
 * whitespace and an object spread over several lines are fine too. */
static bool json_layout(struct ctx *x)
{
    static const char text[] =
        J_DATA_P ",\"Data\":\"b25l\"}" J_DATA_P ",\"Data\":\"dHdv\"}"
        "\r\n\t \n{\n \"Meta\" :\t0 ,\r\n\"OtherClient\":\"p\",\n"
        "\"ConnectionID\":\"off:1\",\"Data\":\"dGhyZWU=\"\n}\n";

    cr_assert(rc_send_raw(x->off, text, sizeof text - 1));
    static const char *const want[] = { "one", "two", "three" };
    for (size_t i = 0; i < 3; i++) {
        struct mspec m = spec(RC_DATA, "off", "off:1", want[i]);
        expect_msg("peer", x->peer, &m);
    }
    return false;
}

/* A connection to oneself (allowed; it counts twice) carries Data, is
 * closed, and one left open when the client leaves does not confuse the
 * departure: the peer gets exactly one ClientClosed. */
static bool syn_to_self(struct ctx *x)
{
    send_text(x->off, RC_SYN, "off", "off:2", "self");
    struct mspec syn = spec(RC_SYN, "off", "off:2", "self");
    expect_msg("offender", x->off, &syn);
    send_text(x->off, RC_ACK, "off", "off:2", NULL);
    struct mspec ack = spec(RC_ACK, "off", "off:2", NULL);
    expect_msg("offender", x->off, &ack);
    send_text(x->off, RC_DATA, "off", "off:2", "echo");
    struct mspec data = spec(RC_DATA, "off", "off:2", "echo");
    expect_msg("offender", x->off, &data);
    send_text(x->off, RC_CLOSED, "off", "off:2", NULL);
    struct mspec closed = spec(RC_CLOSED, "off", "off:2", NULL);
    expect_msg("offender", x->off, &closed);
    send_text(x->off, RC_DATA, "off", "off:2", "gone");
    struct mspec back = spec(RC_NO_SUCH_CONN, "off", "off:2", "gone");
    expect_msg("offender", x->off, &back);
    /* One left pending and one open to itself, then it leaves. */
    send_text(x->off, RC_SYN, "off", "off:3", "self");
    struct mspec syn3 = spec(RC_SYN, "off", "off:3", "self");
    expect_msg("offender", x->off, &syn3);
    cr_assert_eq(shutdown(rc_fd(x->off), SHUT_WR), 0);
    rc_expect_eof(x->off);
    return true; /* run_case expects the peer's one ClientClosed */
}

/* Closed twice: the second bounces; the id can then be used again. */
static bool closed_twice(struct ctx *x)
{
    send_text(x->off, RC_CLOSED, "p", "off:1", NULL);
    struct mspec closed = spec(RC_CLOSED, "off", "off:1", NULL);
    expect_msg("peer", x->peer, &closed);
    send_text(x->off, RC_CLOSED, "p", "off:1", NULL);
    struct mspec back = spec(RC_NO_SUCH_CONN, "p", "off:1", NULL);
    expect_msg("offender", x->off, &back);
    send_text(x->peer, RC_DATA, "off", "off:1", "late");
    struct mspec back2 = spec(RC_NO_SUCH_CONN, "off", "off:1", "late");
    expect_msg("peer", x->peer, &back2);
    rc_open_conn(x->off, x->peer, "off:1", "again");
    return false;
}

/* A complete message and then the end of the stream: the message is
 * delivered before the peer learns that the sender left. */
static bool message_then_eof(struct ctx *x)
{
    send_text(x->off, RC_DATA, "p", "off:1", "last words");
    cr_assert_eq(shutdown(rc_fd(x->off), SHUT_WR), 0);
    struct mspec m = spec(RC_DATA, "off", "off:1", "last words");
    expect_msg("peer", x->peer, &m);
    rc_expect_eof(x->off);
    return true;
}

/* Watches past limits.max_watches_per_client (64) each earn a WAT, and
 * past limits.bad_messages_max (100) of those the flooder is closed. */
static bool watch_flood(struct ctx *x)
{
    char name[16];
    struct rc_msg m;
    int wats = 0;

    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "w%d", i);
        if (!rc_send(x->off, 12, name, "", RC_NULL))
            break; /* closed meanwhile */
    }
    for (int i = 0; i < 64; i++) {
        rc_expect_meta(x->off, 14, &m);
        rc_msg_free(&m);
    }
    /* The 101st bad message is still answered, then the close is. */
    for (; wats < 101; wats++)
        expect_wat(x, "too many watches");
    expect_wat(x, "too many bad messages");
    rc_expect_eof(x->off);
    return true;
}

/* ----------------------------------------------------------------------
 * The rows
 */

#define CASES(X)                                                         \
    /* JSON, undecodable: WAT with the reason, then closed */            \
    X(json_data_invalid_base64_chars)                                    \
    X(json_data_unpadded_base64)                                         \
    X(json_data_urlsafe_base64)                                          \
    X(json_data_is_a_number)                                             \
    X(json_data_is_an_object)                                            \
    X(json_meta_is_a_string)                                             \
    X(json_meta_256)                                                     \
    X(json_meta_minus_1)                                                 \
    X(json_meta_fraction)                                                \
    X(json_meta_exponent)                                                \
    X(json_meta_is_a_bool)                                               \
    X(json_otherclient_is_a_number)                                      \
    X(json_connectionid_is_an_array)                                     \
    X(json_otherclient_256_bytes)                                        \
    X(json_connectionid_256_bytes)                                       \
    X(json_otherclient_raw_invalid_utf8)                                 \
    X(json_otherclient_overlong_utf8)                                    \
    X(json_connectionid_encoded_surrogate)                               \
    X(json_lone_surrogate_escape)                                        \
    X(json_control_char_in_string)                                       \
    X(json_nul_in_string)                                                \
    X(json_nul_between_tokens)                                           \
    X(json_nul_first)                                                    \
    X(json_top_level_array)                                              \
    X(json_top_level_number)                                             \
    X(json_top_level_string)                                             \
    X(json_stray_text)                                                   \
    X(json_invalid_escape)                                               \
    X(json_bad_unicode_escape)                                           \
    X(json_mismatched_brackets)                                          \
    X(json_trailing_comma)                                               \
    X(json_nested_10000_deep)                                            \
    X(json_huge_meta_number)                                             \
    X(json_oversize_object)                                              \
    X(json_limit_plus_one)                                               \
    X(json_oversize_unterminated)                                        \
    X(json_whitespace_flood)                                             \
    X(json_truncated_then_eof)                                           \
    X(json_whitespace_over_limit_then_object)                            \
    X(json_unknown_key_raw_invalid_utf8)                                 \
    X(json_unknown_key_overlong_utf8)                                    \
    X(json_key_overlong_utf8)                                            \
    X(json_meta_leading_zero)                                            \
    X(json_utf8_bom_first)                                               \
    /* JSON, odd but valid */                                            \
    X(json_empty_lines_and_whitespace)                                   \
    X(json_layout_variants)                                              \
    X(json_unknown_keys_ignored)                                         \
    X(json_keys_case_insensitive_escaped)                                \
    X(json_nested_9999_deep_ok)                                          \
    X(json_huge_number_unknown_key)                                      \
    X(json_huge_string_unknown_key)                                      \
    X(json_exact_limit_ok)                                               \
    X(json_empty_object)                                                 \
    X(json_whitespace_then_large_object_ok)                              \
    X(json_duplicate_keys_last_wins)                                     \
    X(json_null_meta_is_zero)                                            \
    X(json_data_base64_escaped_newlines_ok)                              \
    X(json_data_base64_nonzero_pad_bits_ok)                              \
    X(json_message_then_eof)                                             \
    /* binary, undecodable */                                            \
    X(bin_reserved_flag_bit2)                                            \
    X(bin_reserved_flag_bit7)                                            \
    X(bin_length_zero)                                                   \
    X(bin_length_below_header)                                           \
    X(bin_length_short_for_names)                                        \
    X(bin_level_flag_without_level)                                      \
    X(bin_data_without_data_flag)                                        \
    X(bin_length_over_limit_header_only)                                 \
    X(bin_length_4_gib)                                                  \
    X(bin_limit_plus_one)                                                \
    X(bin_json_on_binary_listener)                                       \
    X(bin_name_invalid_utf8)                                             \
    X(bin_id_invalid_utf8)                                               \
    X(bin_name_overlong_nul)                                             \
    X(bin_length_longer_than_sent_then_eof)                              \
    X(bin_truncated_header_then_eof)                                     \
    X(bin_exact_limit_ok)                                                \
    X(bin_name_with_nul_byte)                                            \
    X(bin_message_then_eof)                                              \
    /* a level on a message other than Auth is not passed on */          \
    X(bin_data_with_level_flag)                                          \
    X(json_data_with_level_key)                                          \
    X(json_bounce_with_level_key)                                        \
    /* metas a client must not send */                                   \
    X(json_auth_twice)                                                   \
    X(bin_auth_twice_other_name)                                         \
    X(json_meta_11)                                                      \
    X(bin_meta_11)                                                       \
    X(json_meta_255)                                                     \
    X(bin_meta_255)                                                      \
    X(json_client_sends_wat)                                             \
    X(bin_client_sends_client_closed)                                    \
    X(json_client_sends_auth_ok)                                         \
    X(bin_client_sends_auth_failure)                                     \
    /* the connection table */                                           \
    X(syn_id_of_another_client)                                          \
    X(syn_id_without_suffix)                                             \
    X(syn_id_prefix_shorter_than_name)                                   \
    X(syn_id_prefix_longer_than_name)                                    \
    X(syn_to_absent_client)                                              \
    X(syn_id_in_use)                                                     \
    X(syn_to_self_then_leave)                                            \
    X(ack_on_open_connection)                                            \
    X(closed_twice_then_id_reused)                                       \
    X(data_to_self_on_a_peer_connection)                                 \
    X(syn_flood_past_limit)                                              \
    X(ack_from_the_initiator)                                            \
    X(data_on_pending_connection)                                        \
    X(data_on_foreign_connection)                                        \
    X(data_on_foreign_connection_to_initiator)                           \
    X(closed_on_foreign_connection)                                      \
    X(ack_on_foreign_connection)                                         \
    X(nosuchconn_on_foreign_connection_dropped)                          \
    X(unknownproto_on_foreign_connection_dropped)                        \
    X(data_never_existed)                                                \
    X(ack_never_existed)                                                 \
    X(closed_never_existed)                                              \
    X(nosuchconn_never_existed_dropped)                                  \
    X(unknownproto_never_existed_dropped)                                \
    X(data_to_empty_name)                                                \
    /* before login */                                                   \
    X(pre_data_before_auth)                                              \
    X(pre_syn_before_auth)                                               \
    X(pre_auth_ok_before_auth)                                           \
    X(pre_meta_255_before_auth)                                          \
    X(pre_name_empty_json)                                               \
    X(pre_name_empty_binary)                                             \
    X(pre_name_1_byte)                                                   \
    X(pre_name_255_bytes)                                                \
    X(pre_name_256_bytes)                                                \
    X(pre_name_non_ascii_utf8)                                           \
    X(pre_name_with_colon)                                               \
    X(pre_name_only_colon)                                               \
    X(pre_name_with_tab)                                                 \
    X(pre_name_with_del)                                                 \
    X(pre_name_with_nul)                                                 \
    X(pre_name_invalid_utf8)                                             \
    X(pre_level_256)                                                     \
    X(pre_garbage_json)                                                  \
    X(pre_reserved_flags)                                                \
    X(pre_oversize_header)                                               \
    X(pre_oversize_unterminated)                                         \
    X(pre_auth_over_auth_limit)                                          \
    X(pre_whitespace_then_auth)                                          \
    X(pre_truncated_binary_then_eof)                                     \
    X(pre_truncated_json_then_eof)                                       \
    /* the auto listener's first byte */                                 \
    X(auto_unknown_first_byte)                                           \
    X(auto_high_first_byte)                                              \
    X(auto_whitespace_picks_json)                                        \
    X(auto_nul_picks_binary_then_json_text)                               \
    /* protocol level 2 (the offender announced it) */                   \
    X(l2_json_credit_overflow)                                           \
    X(l2_bin_credit_overflow)                                            \
    X(l2_json_credit_not_decimal)                                        \
    X(l2_bin_credit_zero)                                                \
    X(l2_bin_credit_absent)                                              \
    X(l2_json_credit_unknown_connection)                                 \
    X(l2_bin_credit_other_peer)                                          \
    X(l2_bin_credit_on_a_connection_never_opened)                        \
    X(l2_json_list_huge_prefix)                                          \
    X(l2_bin_list_huge_prefix)                                           \
    X(l2_bin_watch_bad_data)                                             \
    X(l2_json_watch_empty_name)                                          \
    X(l2_bin_watch_flood)                                                \
    X(l2_json_denied_from_the_initiator)                                 \
    X(l2_bin_broker_only_meta)

enum case_id {
#define X_ENUM(n) C_##n,
    CASES(X_ENUM)
#undef X_ENUM
    N_CASES
};

/* Shorthands for the rows. */
#define JA .fmt = RC_JSON, .stage = AFTER_AUTH
#define J2 .fmt = RC_JSON, .stage = AFTER_AUTH_L2
#define B2 .fmt = RC_BINARY, .stage = AFTER_AUTH_L2
#define BA .fmt = RC_BINARY, .stage = AFTER_AUTH
#define JB .fmt = RC_JSON, .stage = BEFORE_AUTH
#define BB .fmt = RC_BINARY, .stage = BEFORE_AUTH
#define CLOSE(r) .expect = X_ERROR_CLOSE, .reason = (r)
#define R_META "Meta is not an integer 0-255"
#define R_NOT_OBJECT "message is not a JSON object"
#define R_EXCEEDS "exceeds the limit of " MAX_MSG_S
#define R_AUTH_EXCEEDS "exceeds the limit of " MAX_AUTH_MSG_S
#define R_TYPE "unexpected message type from a client"

static const struct bad_case cases[N_CASES] = {
    /* --- JSON, undecodable --- */
    [C_json_data_invalid_base64_chars] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"@@@@\"}\n"),
        CLOSE("Data is not valid base64") },
    [C_json_data_unpadded_base64] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"ZWNobw\"}\n"),
        CLOSE("Data is not valid base64") },
    [C_json_data_urlsafe_base64] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"-_-_\"}\n"),
        CLOSE("Data is not valid base64") },
    [C_json_data_is_a_number] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":5}\n"),
        CLOSE("Data is not a base64 string or null") },
    [C_json_data_is_an_object] = { JA,
        RAW(J_DATA_P ",\"Data\":{\"a\":1}}\n"),
        CLOSE("Data is not a base64 string or null") },
    [C_json_meta_is_a_string] = { JA,
        RAW("{\"Meta\":\"0\",\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_meta_256] = { JA,
        RAW("{\"Meta\":256,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_meta_minus_1] = { JA, .peer = true,
        RAW("{\"Meta\":-1,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_meta_fraction] = { JA,
        RAW("{\"Meta\":0.0,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_meta_exponent] = { JA,
        RAW("{\"Meta\":0e0,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_meta_is_a_bool] = { JA,
        RAW("{\"Meta\":false,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_META) },
    [C_json_otherclient_is_a_number] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":7,\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("OtherClient is not a string") },
    [C_json_connectionid_is_an_array] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\",\"ConnectionID\":[\"off:1\"]}\n"),
        CLOSE("ConnectionID is not a string") },
    [C_json_otherclient_256_bytes] = { JA, .peer = true,
        MSGD(RC_DATA, N256, "off:1", "x"),
        CLOSE("OtherClient is longer than 255 bytes") },
    [C_json_connectionid_256_bytes] = { JA,
        MSGD(RC_DATA, "p", "off:" N240 "nnnnnnnnnnnn", "x"),
        CLOSE("ConnectionID is longer than 255 bytes") },
    [C_json_otherclient_raw_invalid_utf8] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\xff\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON") },
    [C_json_otherclient_overlong_utf8] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\xc0\xaf\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("OtherClient is not valid UTF-8") },
    [C_json_connectionid_encoded_surrogate] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\",\"ConnectionID\":\"off:\xed\xa0\x80\"}\n"),
        CLOSE("ConnectionID is not valid UTF-8") },
    [C_json_lone_surrogate_escape] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\\ud83d\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON: unpaired surrogate escape") },
    [C_json_control_char_in_string] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\x01\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON: control character in a string") },
    [C_json_nul_in_string] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\0\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON: control character in a string") },
    [C_json_nul_between_tokens] = { JA,
        RAW("{\"Meta\":0,\0\"OtherClient\":\"p\"}\n"),
        CLOSE("invalid JSON: unexpected byte 0x00") },
    [C_json_nul_first] = { JA, RAW("\0{\"Meta\":0}\n"), CLOSE(R_NOT_OBJECT) },
    [C_json_top_level_array] = { JA, RAW("[0,\"p\",\"off:1\",null]\n"),
        CLOSE(R_NOT_OBJECT) },
    [C_json_top_level_number] = { JA, RAW("5\n"), CLOSE(R_NOT_OBJECT) },
    [C_json_top_level_string] = { JA, RAW("\"Meta\"\n"), CLOSE(R_NOT_OBJECT) },
    [C_json_stray_text] = { JA, RAW("hello broker\n"), CLOSE(R_NOT_OBJECT) },
    [C_json_invalid_escape] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\\q\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON: invalid escape in a string") },
    [C_json_bad_unicode_escape] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\\u00g1\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON: bad \\u escape in a string") },
    [C_json_mismatched_brackets] = { JA, RAW("{\"Meta\":]}\n"),
        CLOSE("invalid JSON") },
    [C_json_trailing_comma] = { JA, RAW("{\"Meta\":0,}\n"),
        CLOSE("invalid JSON") },
    [C_json_nested_10000_deep] = { JA, .peer = true,
        .gen = gen_nested_10000,
        CLOSE("invalid JSON: nested deeper than 10000") },
    [C_json_huge_meta_number] = { JA, .gen = gen_huge_meta, CLOSE(R_META) },
    [C_json_oversize_object] = { JA, .peer = true, .gen = gen_json_oversize,
        CLOSE("message exceeds " MAX_MSG_S " bytes") },
    [C_json_limit_plus_one] = { JA, .gen = gen_json_limit_plus_one,
        CLOSE("message exceeds " MAX_MSG_S " bytes") },
    [C_json_oversize_unterminated] = { JA, .gen = gen_json_unterminated,
        CLOSE("message exceeds " MAX_MSG_S " bytes") },
    [C_json_whitespace_flood] = { JA, .gen = gen_whitespace_flood,
        CLOSE("more than " MAX_MSG_S " bytes of whitespace without a message") },
    [C_json_truncated_then_eof] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Da"), .shut_wr = true, .expect = X_EOF },

    [C_json_whitespace_over_limit_then_object] = { JA, .peer = true,
        .gen = gen_whitespace_over_limit_then_object,
        CLOSE("more than " MAX_MSG_S " bytes of whitespace without a message") },
    /* "Strings must be valid UTF-8": all strings, unknown keys' too. */
    [C_json_unknown_key_raw_invalid_utf8] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aGk=\",\"x\":\"\xff\"}\n"),
        CLOSE("UTF") },
    [C_json_unknown_key_overlong_utf8] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aGk=\",\"x\":\"\xc0\xaf\"}\n"),
        CLOSE("UTF") },
    [C_json_key_overlong_utf8] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aGk=\",\"\xed\xa0\x80\":1}\n"),
        CLOSE("UTF") },
    [C_json_meta_leading_zero] = { JA,
        RAW("{\"Meta\":05,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE("invalid JSON") },
    [C_json_utf8_bom_first] = { JA, RAW("\xef\xbb\xbf{\"Meta\":0}\n"),
        CLOSE(R_NOT_OBJECT) },

    /* --- JSON, odd but valid --- */
    [C_json_empty_lines_and_whitespace] = { JA, .peer = true,
        RAW("\n\n   \t\r\n\r\n \n"), .expect = X_IGNORED },
    [C_json_layout_variants] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = json_layout },
    [C_json_unknown_keys_ignored] = { JA, .peer = true,
        RAW("{\"Extra\":{\"a\":[1,{\"b\":null}],\"Meta\":9},\"Meta\":0,"
            "\"OtherClient\":\"p\",\"zz\":true,\"ConnectionID\":\"off:1\","
            "\"Data\":\"aGk=\",\"nums\":[1.5e300,-0,null]}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_keys_case_insensitive_escaped] = { JA, .peer = true,
        RAW("{\"meta\":0,\"OTHERCLIENT\":\"\\u0070\",\"Connection\\u0049d\":"
            "\"off:1\",\"dAtA\":\"aGk=\"}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_nested_9999_deep_ok] = { JA, .peer = true,
        .gen = gen_nested_9999,
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_huge_number_unknown_key] = { JA, .peer = true,
        .gen = gen_huge_number_unknown_key,
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_huge_string_unknown_key] = { JA, .peer = true,
        .gen = gen_huge_string_unknown_key,
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_exact_limit_ok] = { JA, .peer = true, .gen = gen_json_exact_limit,
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    /* Missing keys are zero values: Data on connection "" to "". */
    [C_json_empty_object] = { JA, RAW("{}\n"),
        .expect = X_REPLY, REPLY(RC_NO_SUCH_CONN, "", "") },
    [C_json_whitespace_then_large_object_ok] = { JA, .peer = true,
        .gen = gen_whitespace_then_large_object,
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_duplicate_keys_last_wins] = { JA, .peer = true,
        RAW("{\"Meta\":5,\"OtherClient\":\"x\",\"ConnectionID\":\"off:1\","
            "\"Data\":\"aGk=\",\"Meta\":0,\"OtherClient\":\"p\"}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    /* null leaves Meta alone (0, Data), as in Go. */
    [C_json_null_meta_is_zero] = { JA, .peer = true,
        RAW("{\"Meta\":null,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\","
            "\"Data\":\"aGk=\"}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    /* As in Go: \r and \n inside base64 are skipped... */
    [C_json_data_base64_escaped_newlines_ok] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aG\\r\\nk=\\n\"}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    /* ...and the unused low bits of the last character need not be 0. */
    [C_json_data_base64_nonzero_pad_bits_ok] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aGl=\"}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_message_then_eof] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = message_then_eof },

    /* --- binary, undecodable --- */
    [C_bin_reserved_flag_bit2] = { BA, .peer = true,
        RAW("\0\0\0\x0b\0\x05\x01\x05poff:1x"),
        CLOSE("reserved flag bits set (flags 0x05)") },
    [C_bin_reserved_flag_bit7] = { BA, RAW("\0\0\0\x04\x05\x80\0\0"),
        CLOSE("reserved flag bits set (flags 0x80)") },
    [C_bin_length_zero] = { BA, RAW("\0\0\0\0"),
        CLOSE("frame length 0 is too short") },
    [C_bin_length_below_header] = { BA, .peer = true, RAW("\0\0\0\x03\0\0\0"),
        CLOSE("frame length 3 is too short") },
    [C_bin_length_short_for_names] = { BA,
        RAW("\0\0\0\x06\0\0\xc8\0ab"),
        CLOSE("frame length 6 is too short for its header and names") },
    [C_bin_level_flag_without_level] = { BA, RAW("\0\0\0\x04\0\x02\0\0"),
        CLOSE("frame length 4 is too short for its header and names") },
    [C_bin_data_without_data_flag] = { BA,
        RAW("\0\0\0\x0b\0\0\x01\x05poff:1x"),
        CLOSE("1 bytes of data in a frame without the data flag") },
    /* Refused from its first four bytes: no body is ever sent. */
    [C_bin_length_over_limit_header_only] = { BA, .peer = true,
        RAW("\0\0\x9c\x40"),
        CLOSE("message of 40004 bytes " R_EXCEEDS) },
    [C_bin_length_4_gib] = { BA, RAW("\xff\xff\xff\xff"),
        CLOSE("message of 4294967299 bytes " R_EXCEEDS) },
    [C_bin_limit_plus_one] = { BA, .gen = gen_binary_limit_plus_one,
        CLOSE("message of 32769 bytes " R_EXCEEDS) },
    [C_bin_json_on_binary_listener] = { BA,
        RAW("{\"Meta\":0,\"OtherClient\":\"p\",\"ConnectionID\":\"off:1\"}\n"),
        CLOSE(R_EXCEEDS) },
    [C_bin_name_invalid_utf8] = { BA, .peer = true,
        RAW("\0\0\0\x0b\0\x01\x01\x05\xffoff:1x"),
        CLOSE("OtherClient is not valid UTF-8") },
    [C_bin_id_invalid_utf8] = { BA,
        RAW("\0\0\0\x0b\0\x01\x01\x05poff:\xc3x"),
        CLOSE("ConnectionID is not valid UTF-8") },
    [C_bin_name_overlong_nul] = { BA,
        RAW("\0\0\0\x0c\0\x01\x02\x05\xc0\x80off:1x"),
        CLOSE("OtherClient is not valid UTF-8") },
    [C_bin_length_longer_than_sent_then_eof] = { BA, .peer = true,
        RAW("\0\0\0\x64\0\x01\x01\x05poff:1only a few bytes"),
        .shut_wr = true, .expect = X_EOF },
    [C_bin_truncated_header_then_eof] = { BA, .peer = true,
        RAW("\0\0\0\x0a\0\x01"), .shut_wr = true, .expect = X_EOF },
    [C_bin_exact_limit_ok] = { BA, .peer = true, .expect = X_CUSTOM,
        .custom = binary_exact_limit },
    /* NUL is valid UTF-8: a name "p\0x" is nobody, so the Data bounces
     * with the name intact. */
    [C_bin_name_with_nul_byte] = { BA, .peer = true,
        RAW("\0\0\0\x0d\0\x01\x03\x05p\0xoff:1x"),
        .expect = X_REPLY, REPLYD(RC_NO_SUCH_CONN, "p\0x", "off:1", "x") },
    [C_bin_message_then_eof] = { BA, .peer = true, .expect = X_CUSTOM,
        .custom = message_then_eof },

    /* --- a level on a message other than Auth: the broker never sends
     * one, so the message goes on without it --- */
    [C_bin_data_with_level_flag] = { BA, .peer = true,
        RAW("\0\0\0\x0d\0\x03\x01\x05\x02poff:1hi"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_data_with_level_key] = { JA, .peer = true,
        RAW(J_DATA_P ",\"Data\":\"aGk=\",\"Level\":2}\n"),
        .expect = X_DELIVERED, REPLYD(RC_DATA, "off", "off:1", "hi") },
    [C_json_bounce_with_level_key] = { JA,
        RAW("{\"Meta\":0,\"OtherClient\":\"nobody\",\"ConnectionID\":\"off:9\","
            "\"Data\":\"aGk=\",\"Level\":2}\n"),
        .expect = X_REPLY, REPLYD(RC_NO_SUCH_CONN, "nobody", "off:9", "hi") },

    /* --- metas a client must not send: WAT, the session stays --- */
    [C_json_auth_twice] = { JA, MSGD(RC_AUTH, "off", "", "pw"),
        .expect = X_WAT, .reason = "already authenticated" },
    [C_bin_auth_twice_other_name] = { BA, .peer = true,
        MSGD(RC_AUTH, "other", "", "pw"),
        .expect = X_WAT, .reason = "already authenticated" },
    [C_json_meta_11] = { JA, .peer = true, MSG(11, "p", "off:1"),
        .expect = X_WAT, .reason = R_TYPE },
    [C_bin_meta_11] = { BA, .peer = true, MSG(11, "p", "off:1"),
        .expect = X_WAT, .reason = R_TYPE },
    [C_json_meta_255] = { JA, MSGD(255, "p", "off:1", "x"),
        .expect = X_WAT, .reason = R_TYPE },
    [C_bin_meta_255] = { BA, MSGD(255, "p", "off:1", "x"),
        .expect = X_WAT, .reason = R_TYPE },
    [C_json_client_sends_wat] = { JA, .peer = true,
        MSGD(RC_WAT, "p", "off:1", "what?"),
        .expect = X_WAT, .reason = R_TYPE },
    [C_bin_client_sends_client_closed] = { BA, .peer = true,
        MSG(RC_CLIENT_CLOSED, "p", ""),
        .expect = X_WAT, .reason = R_TYPE },
    [C_json_client_sends_auth_ok] = { JA, .peer = true,
        MSG(RC_AUTH_OK, "p", ""),
        .expect = X_WAT, .reason = R_TYPE },
    [C_bin_client_sends_auth_failure] = { BA, .peer = true,
        MSGD(RC_AUTH_FAILURE, "p", "", "go away"),
        .expect = X_WAT, .reason = R_TYPE },

    /* --- the connection table --- */
    /* A Syn under another client's name bounces; bj never sees it. */
    [C_syn_id_of_another_client] = { JA, MSGD(RC_SYN, "bj", "bb:2", "chat"),
        .expect = X_BOUNCE },
    [C_syn_id_without_suffix] = { BA, .peer = true,
        MSGD(RC_SYN, "p", "off:", "test"), .expect = X_BOUNCE },
    [C_syn_id_prefix_shorter_than_name] = { JA, .peer = true,
        MSGD(RC_SYN, "p", "of:2", "test"), .expect = X_BOUNCE },
    [C_syn_id_prefix_longer_than_name] = { BA, .peer = true,
        MSGD(RC_SYN, "p", "offx:2", "test"), .expect = X_BOUNCE },
    [C_syn_to_absent_client] = { BA, MSGD(RC_SYN, "nobody", "off:2", "echo"),
        .expect = X_BOUNCE },
    [C_syn_id_in_use] = { JA, .peer = true, MSGD(RC_SYN, "p", "off:1", "test"),
        .expect = X_WAT, .reason = "connection id already in use" },
    [C_syn_to_self_then_leave] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = syn_to_self },
    [C_ack_on_open_connection] = { BA, .peer = true, MSG(RC_ACK, "p", "off:1"),
        .expect = X_BOUNCE },
    [C_closed_twice_then_id_reused] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = closed_twice },
    [C_data_to_self_on_a_peer_connection] = { BA, .peer = true,
        MSGD(RC_DATA, "off", "off:1", "me?"), .expect = X_BOUNCE },
    [C_syn_flood_past_limit] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = syn_flood },
    [C_ack_from_the_initiator] = { BA, .peer = true, .expect = X_CUSTOM,
        .custom = ack_from_initiator },
    [C_data_on_pending_connection] = { JA, .peer = true, .expect = X_CUSTOM,
        .custom = data_on_pending },
    /* Injection into the bystanders' connection bb:1 bounces; they never
     * see it (the pump checks every message they get). */
    [C_data_on_foreign_connection] = { BA, MSGD(RC_DATA, "bj", "bb:1", "inject"),
        .expect = X_BOUNCE },
    [C_data_on_foreign_connection_to_initiator] = { JA,
        MSGD(RC_DATA, "bb", "bb:1", "inject"), .expect = X_BOUNCE },
    [C_closed_on_foreign_connection] = { JA, MSG(RC_CLOSED, "bj", "bb:1"),
        .expect = X_BOUNCE },
    [C_ack_on_foreign_connection] = { BA, MSG(RC_ACK, "bb", "bb:1"),
        .expect = X_BOUNCE },
    /* Refusals from a stranger are dropped, and end nothing. */
    [C_nosuchconn_on_foreign_connection_dropped] = { BA,
        MSG(RC_NO_SUCH_CONN, "bj", "bb:1"), .expect = X_IGNORED },
    [C_unknownproto_on_foreign_connection_dropped] = { JA,
        MSG(RC_UNKNOWN_PROTO, "bb", "bb:1"), .expect = X_IGNORED },
    [C_data_never_existed] = { JA, .peer = true,
        MSGD(RC_DATA, "p", "off:99", "hello?"), .expect = X_BOUNCE },
    [C_ack_never_existed] = { BA, .peer = true, MSG(RC_ACK, "p", "p:99"),
        .expect = X_BOUNCE },
    [C_closed_never_existed] = { JA, .peer = true, MSG(RC_CLOSED, "p", "off:99"),
        .expect = X_BOUNCE },
    [C_nosuchconn_never_existed_dropped] = { BA, .peer = true,
        MSG(RC_NO_SUCH_CONN, "p", "p:99"), .expect = X_IGNORED },
    [C_unknownproto_never_existed_dropped] = { JA, .peer = true,
        MSG(RC_UNKNOWN_PROTO, "p", "p:99"), .expect = X_IGNORED },
    [C_data_to_empty_name] = { BA, MSGD(RC_DATA, "", "", ""),
        .expect = X_BOUNCE },

    /* --- before login: AuthFailure with the reason, then closed --- */
    [C_pre_data_before_auth] = { JB, MSGD(RC_DATA, "bj", "bb:1", "x"),
        CLOSE("expected Auth") },
    [C_pre_syn_before_auth] = { BB, MSGD(RC_SYN, "bj", "x:1", "chat"),
        CLOSE("expected Auth") },
    [C_pre_auth_ok_before_auth] = { JB, MSG(RC_AUTH_OK, "off", ""),
        CLOSE("expected Auth") },
    [C_pre_meta_255_before_auth] = { BB, MSGD(255, "off", "", "pw"),
        CLOSE("expected Auth") },
    [C_pre_name_empty_json] = { JB, MSGD(RC_AUTH, "", "", "pw"),
        CLOSE("name is empty") },
    [C_pre_name_empty_binary] = { BB, MSGD(RC_AUTH, "", "", "pw"),
        CLOSE("name is empty") },
    [C_pre_name_1_byte] = { BB, MSGD(RC_AUTH, "x", "", "pw"),
        .expect = X_LOGIN_OK },
    [C_pre_name_255_bytes] = { BB, MSGD(RC_AUTH, N255, "", "pw"),
        .expect = X_LOGIN_OK },
    [C_pre_name_256_bytes] = { JB, MSGD(RC_AUTH, N256, "", "pw"),
        CLOSE("OtherClient is longer than 255 bytes") },
    [C_pre_name_non_ascii_utf8] = { JB, MSGD(RC_AUTH, "zo\xc3\xab\xe2\x82\xac", "", "pw"),
        .expect = X_LOGIN_OK },
    [C_pre_name_with_colon] = { JB, MSGD(RC_AUTH, "a:b", "", "pw"),
        CLOSE("name contains ':'") },
    [C_pre_name_only_colon] = { BB, MSGD(RC_AUTH, ":", "", "pw"),
        CLOSE("name contains ':'") },
    [C_pre_name_with_tab] = { JB, MSGD(RC_AUTH, "a\tb", "", "pw"),
        CLOSE("name contains a control character") },
    [C_pre_name_with_del] = { BB, MSGD(RC_AUTH, "a\x7f", "", "pw"),
        CLOSE("name contains a control character") },
    [C_pre_name_with_nul] = { BB, RAW("\0\0\0\x09\x08\x01\x03\0a\0bpw"),
        CLOSE("name contains a control character") },
    [C_pre_name_invalid_utf8] = { BB, MSGD(RC_AUTH, "a\xc3(", "", "pw"),
        CLOSE("OtherClient is not valid UTF-8") },
    [C_pre_level_256] = { JB, RAW(J_AUTH "\"off\",\"Level\":256}\n"),
        CLOSE("Level is not an integer 0-255") },
    [C_pre_garbage_json] = { JB, RAW("GET / HTTP/1.0\r\n\r\n"),
        CLOSE(R_NOT_OBJECT) },
    [C_pre_reserved_flags] = { BB, RAW("\0\0\0\x09\x08\x41\x03\0offpw"),
        CLOSE("reserved flag bits set (flags 0x41)") },
    [C_pre_oversize_header] = { BB, RAW("\x01\0\0\0"),
        CLOSE(R_AUTH_EXCEEDS) },
    [C_pre_oversize_unterminated] = { JB, .gen = gen_json_unterminated,
        CLOSE("message exceeds " MAX_AUTH_MSG_S " bytes") },
    [C_pre_auth_over_auth_limit] = { JB, .gen = gen_json_auth_over_auth_limit,
        CLOSE("message exceeds " MAX_AUTH_MSG_S " bytes") },
    [C_pre_whitespace_then_auth] = { JB, RAW(" \r\n\t\n\n"),
        .expect = X_IGNORED },
    [C_pre_truncated_binary_then_eof] = { BB, RAW("\0\0\0\x09\x08\x01\x03"),
        .shut_wr = true, .expect = X_EOF },
    [C_pre_truncated_json_then_eof] = { JB, RAW(J_AUTH "\"of"),
        .shut_wr = true, .expect = X_EOF },

    /* --- the auto listener: an unknown first byte closes the socket
     * after a line naming the formats it speaks; '{' or whitespace is
     * json, 0x00 binary --- */
    [C_auto_unknown_first_byte] = { JB, .on_auto = true, RAW("x"),
        .expect = X_UNKNOWN_FORMAT },
    [C_auto_high_first_byte] = { BB, .on_auto = true,
        RAW("\xff\0\0\x09\x08\x01\x03\0offpw"), .expect = X_UNKNOWN_FORMAT },
    [C_auto_whitespace_picks_json] = { JB, .on_auto = true, RAW("\r\n \t"),
        .expect = X_IGNORED },
    [C_auto_nul_picks_binary_then_json_text] = { BB, .on_auto = true,
        RAW("\0{\"Meta\":8}\n"), CLOSE(R_AUTH_EXCEEDS) },

    /* --- level 2: Credit. The credit held would pass 2^31 - 1 (the
     * window is already held): WAT, nothing changes. --- */
    [C_l2_json_credit_overflow] = { J2, .peer = true,
        MSGD(11, "p", "off:1", "2147483647"),
        .expect = X_WAT, .reason = "credit overflow" },
    [C_l2_bin_credit_overflow] = { B2, .peer = true,
        MSGD(11, "p", "off:1", "2147483647"),
        .expect = X_WAT, .reason = "credit overflow" },
    [C_l2_json_credit_not_decimal] = { J2, .peer = true,
        MSGD(11, "p", "off:1", "0x10"),
        .expect = X_WAT, .reason = "malformed credit" },
    [C_l2_bin_credit_zero] = { B2, .peer = true, MSGD(11, "p", "off:1", "0"),
        .expect = X_WAT, .reason = "malformed credit" },
    [C_l2_bin_credit_absent] = { B2, .peer = true, MSG(11, "p", "off:1"),
        .expect = X_WAT, .reason = "malformed credit" },
    /* A Credit that crossed a ConnClosed is normal: dropped quietly. */
    [C_l2_json_credit_unknown_connection] = { J2, .peer = true,
        MSGD(11, "p", "off:9", "100"), .expect = X_IGNORED },
    [C_l2_bin_credit_other_peer] = { B2, .peer = true,
        MSGD(11, "bb", "off:1", "100"), .expect = X_IGNORED },
    [C_l2_bin_credit_on_a_connection_never_opened] = { B2,
        MSGD(11, "bb", "bb:1", "100"), .expect = X_IGNORED },
    /* --- level 2: presence --- */
    [C_l2_json_list_huge_prefix] = { J2, MSG(15, N255, "q"),
        .expect = X_REPLY, REPLY(15, N255, "q") },
    [C_l2_bin_list_huge_prefix] = { B2, MSG(15, N255, "q"),
        .expect = X_REPLY, REPLY(15, N255, "q") },
    [C_l2_bin_watch_bad_data] = { B2, MSGD(12, "p", "", "all"),
        .expect = X_WAT,
        .reason = "malformed watch: data must be absent or \"prefix\"" },
    [C_l2_json_watch_empty_name] = { J2, MSG(12, "", ""),
        .expect = X_WAT, .reason = "watch of an empty name" },
    [C_l2_bin_watch_flood] = { B2, .expect = X_CUSTOM,
        .custom = watch_flood },
    /* --- level 2: what only the broker, or only a Syn's target, sends */
    [C_l2_json_denied_from_the_initiator] = { J2, .peer = true,
        MSGD(16, "p", "off:1", "no"), .expect = X_IGNORED },
    [C_l2_bin_broker_only_meta] = { B2, .peer = true,
        MSGD(18, "p", "off:1", "1"), .expect = X_WAT, .reason = R_TYPE },
};

#define X_TEST(n) \
    Test(badinput, n) { run_case(&cases[C_##n], #n); }
CASES(X_TEST)
#undef X_TEST

/* The catalogue is as large as promised, and every row is filled in. */
Test(badinput, catalogue_is_complete)
{
    cr_assert_geq(N_CASES, 45);
    for (size_t i = 0; i < N_CASES; i++)
        cr_assert(cases[i].expect != 0, "case %zu has no row", i);
}
