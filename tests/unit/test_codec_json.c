/* test_codec_json.c - common/codec_json.c: Go wire compatibility (the
 * captured transcript, byte for byte), reading rules, every split point,
 * malformed input and limits. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "codec.h"
#include "codec_check.h"
#include "message.h"

#define MAX_SIZE 1048576
#define ERRLEN 256

static const struct mp_codec_ops *const codec = &mp_codec_json;

/* ------------------------------------------------------------------------
 * Helpers
 */

/* Encode msg; the result is NUL-terminated, caller frees out.p. */
static struct codec_out encode(const struct mp_message *msg)
{
    struct codec_out o = { 0 };

    cr_assert_eq(codec->encode(NULL, msg, codec_out_write, &o), 0);
    codec_out_write(&o, "", 1);
    o.len--;
    o.writes--;
    return o;
}

/*
 * Decode from a copy of bytes[0..len) in a buffer of exactly len bytes,
 * so AddressSanitizer/valgrind catch any read past the end.
 */
static enum mp_decode_status decode_n(void *stream, const void *bytes,
                                      size_t len, size_t max_size,
                                      struct mp_message *msg,
                                      size_t *consumed, char *err)
{
    return codec_decode_exact(codec, stream, bytes, len, max_size, msg,
                              consumed, err, ERRLEN);
}

static enum mp_decode_status decode_str(const char *s, struct mp_message *msg,
                                        size_t *consumed, char *err)
{
    return decode_n(NULL, s, strlen(s), MAX_SIZE, msg, consumed, err);
}

/* Decode s, which must be exactly one object. */
static void decode_ok(const char *s, struct mp_message *msg)
{
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_str(s, msg, &consumed, err), MP_DECODE_OK,
                 "%s: %s", s, err);
    cr_assert_eq(consumed, strlen(s), "%s", s);
}

/* Decode s, which must fail with a reason containing `why`. */
static void decode_fails(const char *s, size_t len, const char *why)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(NULL, s, len, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_ERROR, "accepted %.*s", (int)len, s);
    cr_assert(strstr(err, why) != NULL, "%.*s: got \"%s\", want \"%s\"",
              (int)len, s, err, why);
}

static void make(struct mp_message *m, unsigned meta, const char *other,
                 const char *id, const void *data, size_t data_len)
{
    memset(m, 0, sizeof *m);
    m->meta = (uint8_t)meta;
    cr_assert_eq(mp_message_set_other_client(m, other, strlen(other)), 0);
    cr_assert_eq(mp_message_set_connection_id(m, id, strlen(id)), 0);
    if (data != NULL)
        cr_assert_eq(mp_message_set_data(m, data, data_len), 0);
}

static void assert_same(const struct mp_message *a,
                        const struct mp_message *b)
{
    cr_assert_eq(a->meta, b->meta);
    cr_assert_eq(a->level, b->level);
    cr_assert_eq(a->other_client_len, b->other_client_len);
    cr_assert(memcmp(a->other_client, b->other_client,
                     a->other_client_len) == 0);
    cr_assert_eq(a->other_client[a->other_client_len], '\0');
    cr_assert_eq(a->connection_id_len, b->connection_id_len);
    cr_assert(memcmp(a->connection_id, b->connection_id,
                     a->connection_id_len) == 0);
    cr_assert_eq(a->connection_id[a->connection_id_len], '\0');
    cr_assert_eq(a->has_data, b->has_data);
    cr_assert_eq(a->data_len, b->data_len);
    if (a->data_len > 0)
        cr_assert(memcmp(a->data, b->data, a->data_len) == 0);
}

static void assert_fields(const struct mp_message *m, unsigned meta,
                          const char *other, const char *id,
                          const char *data, size_t data_len)
{
    cr_assert_eq(m->meta, meta);
    cr_assert_str_eq(m->other_client, other);
    cr_assert_eq(m->other_client_len, strlen(other));
    cr_assert_str_eq(m->connection_id, id);
    cr_assert_eq(m->connection_id_len, strlen(id));
    if (data == NULL) {
        cr_assert(!m->has_data, "data should be null");
        cr_assert_null(m->data);
        cr_assert_eq(m->data_len, 0);
    } else {
        cr_assert(m->has_data, "data should be present");
        cr_assert_eq(m->data_len, data_len);
        if (data_len > 0)
            cr_assert(memcmp(m->data, data, data_len) == 0);
    }
}

/* ------------------------------------------------------------------------
 * The original Go implementation, captured (wire/go-json-transcript.txt)
 */

/* Every line the original server sent ("c1<" and "c2<"). */
static const char *const go_server_lines[] = {
    "{\"Meta\":9,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}",
    "{\"Meta\":9,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"\",\"Data\":null}",
    "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"ZWNobw==\"}",
    "{\"Meta\":6,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}",
    "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}",
    "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}",
    "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}",
    "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}",
    "{\"Meta\":7,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}",
    "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":\"bm9zdWNocHJvdG8=\"}",
    "{\"Meta\":3,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":null}",
    "{\"Meta\":2,\"OtherClient\":\"absent56782\",\"ConnectionID\":\"gocli56782:2\",\"Data\":\"ZWNobw==\"}",
    "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":\"ZWNobw==\"}",
    "{\"Meta\":6,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":null}",
    "{\"Meta\":4,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}",
};
#define N_SERVER_LINES (sizeof go_server_lines / sizeof go_server_lines[0])

#define SECRET "No password needed!"
#define BINARY "\x00\x01\x02\xff\x0a\x22"

/* Every line the original clients sent ("c1>" and "c2>"), with the fields
 * it must decode to. */
static const struct {
    const char *line;
    unsigned meta;
    const char *other, *id, *data;
    size_t data_len;
} go_client_lines[] = {
    { "{\"Meta\":8,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":\"Tm8gcGFzc3dvcmQgbmVlZGVkIQ==\"}",
      8, "goecho56782", "", SECRET, sizeof SECRET - 1 },
    { "{\"Meta\":8,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"\",\"Data\":\"Tm8gcGFzc3dvcmQgbmVlZGVkIQ==\"}",
      8, "gocli56782", "", SECRET, sizeof SECRET - 1 },
    { "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"ZWNobw==\"}",
      5, "goecho56782", "gocli56782:0", "echo", 4 },
    { "{\"Meta\":6,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}",
      6, "gocli56782", "gocli56782:0", NULL, 0 },
    { "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}",
      0, "goecho56782", "gocli56782:0", "msg 0 <&>", 9 },
    { "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}",
      0, "gocli56782", "gocli56782:0", "msg 0 <&>", 9 },
    { "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}",
      0, "goecho56782", "gocli56782:0", BINARY, 6 },
    { "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}",
      0, "gocli56782", "gocli56782:0", BINARY, 6 },
    { "{\"Meta\":7,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}",
      7, "goecho56782", "gocli56782:0", NULL, 0 },
    { "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":\"bm9zdWNocHJvdG8=\"}",
      5, "goecho56782", "gocli56782:1", "nosuchproto", 11 },
    { "{\"Meta\":3,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":null}",
      3, "gocli56782", "gocli56782:1", NULL, 0 },
    { "{\"Meta\":5,\"OtherClient\":\"absent56782\",\"ConnectionID\":\"gocli56782:2\",\"Data\":\"ZWNobw==\"}",
      5, "absent56782", "gocli56782:2", "echo", 4 },
    { "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":\"ZWNobw==\"}",
      5, "goecho56782", "gocli56782:3", "echo", 4 },
    { "{\"Meta\":6,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":null}",
      6, "gocli56782", "gocli56782:3", NULL, 0 },
};
#define N_CLIENT_LINES (sizeof go_client_lines / sizeof go_client_lines[0])

/* Decode a Go line and encode it again: the bytes must be identical,
 * newline included. */
static void assert_reencodes_exactly(const char *line)
{
    struct mp_message msg;
    struct codec_out o;

    decode_ok(line, &msg);
    o = encode(&msg);
    cr_assert_eq(o.len, strlen(line) + 1, "%s", line);
    cr_assert(memcmp(o.p, line, o.len - 1) == 0, "\nwant %s\ngot  %s", line,
              (char *)o.p);
    cr_assert_eq(o.p[o.len - 1], '\n');
    cr_assert_eq(o.writes, 1, "one write per message");
    free(o.p);
    mp_message_clear(&msg);
}

Test(json_go, server_lines_reencode_byte_exact)
{
    for (size_t i = 0; i < N_SERVER_LINES; i++)
        assert_reencodes_exactly(go_server_lines[i]);
}

Test(json_go, client_lines_decode_to_fields)
{
    for (size_t i = 0; i < N_CLIENT_LINES; i++) {
        struct mp_message msg;
        decode_ok(go_client_lines[i].line, &msg);
        assert_fields(&msg, go_client_lines[i].meta, go_client_lines[i].other,
                      go_client_lines[i].id, go_client_lines[i].data,
                      go_client_lines[i].data_len);
        cr_assert_eq(msg.level, 0);
        mp_message_clear(&msg);
    }
}

Test(json_go, client_lines_reencode_byte_exact)
{
    for (size_t i = 0; i < N_CLIENT_LINES; i++)
        assert_reencodes_exactly(go_client_lines[i].line);
}

/* What the broker builds from a client's Auth must come out as the Go
 * server's AuthOk line. */
Test(json_go, encode_auth_ok_like_go_server)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, MP_META_AUTH_OK, "goecho56782", "", NULL, 0);
    o = encode(&msg);
    cr_assert_str_eq((char *)o.p, "{\"Meta\":9,\"OtherClient\":\"goecho56782\","
                                  "\"ConnectionID\":\"\",\"Data\":null}\n");
    free(o.p);
}

/* The whole server side of the capture as one stream, newlines and all,
 * arriving one byte at a time through a stream state. */
Test(json_go, server_stream_byte_by_byte)
{
    size_t total = 0, pos = 0, k = 0;
    char *all;
    void *stream = codec->stream_new(NULL);

    cr_assert(stream != NULL);
    for (size_t i = 0; i < N_SERVER_LINES; i++)
        total += strlen(go_server_lines[i]) + 1;
    all = malloc(total + 1);
    all[0] = '\0';
    for (size_t i = 0; i < N_SERVER_LINES; i++) {
        strcat(all, go_server_lines[i]);
        strcat(all, "\n");
    }
    for (size_t p = 0; p <= total; p++) {
        struct mp_message msg;
        size_t consumed;
        char err[ERRLEN];
        enum mp_decode_status st = decode_n(stream, all + pos, p - pos,
                                            MAX_SIZE, &msg, &consumed, err);
        if (st == MP_DECODE_OK) {
            cr_assert_lt(k, N_SERVER_LINES);
            /* The newline before this object is leading whitespace. */
            size_t lead = k > 0 ? 1 : 0;
            cr_assert_eq(consumed, lead + strlen(go_server_lines[k]));
            cr_assert(memcmp(all + pos + lead, go_server_lines[k],
                             consumed - lead) == 0);
            pos += consumed;
            k++;
            mp_message_clear(&msg);
        } else {
            cr_assert_eq(st, MP_DECODE_NEED_MORE, "%s", err);
        }
    }
    cr_assert_eq(k, N_SERVER_LINES);
    cr_assert_eq(pos, total - 1, "the final newline stays unconsumed");
    codec->stream_free(stream);
    free(all);
}

/* ------------------------------------------------------------------------
 * Encoding: Go's exact bytes
 */

static void assert_encodes_name(const char *raw, size_t len,
                                const char *want_json)
{
    struct mp_message msg;
    struct codec_out o;
    char want[1024];

    memset(&msg, 0, sizeof msg);
    cr_assert_eq(mp_message_set_other_client(&msg, raw, len), 0);
    o = encode(&msg);
    snprintf(want, sizeof want,
             "{\"Meta\":0,\"OtherClient\":%s,\"ConnectionID\":\"\","
             "\"Data\":null}\n",
             want_json);
    cr_assert_str_eq((char *)o.p, want);
    free(o.p);
}

#define NAME(lit, json) assert_encodes_name(lit, sizeof(lit) - 1, json)

Test(json_encode, html_characters_escaped_like_go)
{
    NAME("<a&b>", "\"\\u003ca\\u0026b\\u003e\"");
    NAME("</script>", "\"\\u003c/script\\u003e\"");
}

Test(json_encode, quote_and_backslash)
{
    NAME("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
}

Test(json_encode, control_characters_like_go)
{
    NAME("\x01\x08\x09\x0a\x0c\x0d\x1f \x7f",
         "\"\\u0001\\u0008\\t\\n\\u000c\\r\\u001f \x7f\"");
    /* A NUL inside a name is a byte like any other. */
    NAME("a\0b", "\"a\\u0000b\"");
}

Test(json_encode, line_separators_escaped)
{
    NAME("x\xe2\x80\xa8y\xe2\x80\xa9z", "\"x\\u2028y\\u2029z\"");
    /* Their neighbours are not. */
    NAME("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");
}

Test(json_encode, valid_utf8_passes_through)
{
    NAME("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd",
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd\"");
    NAME("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
}

/* Each byte Go's utf8.DecodeRune refuses becomes one \ufffd. */
Test(json_encode, invalid_utf8_becomes_replacement_like_go)
{
    NAME("a\xff" "b", "\"a\\ufffdb\"");
    NAME("\x80", "\"\\ufffd\"");                       /* lone continuation */
    NAME("a\xc3", "\"a\\ufffd\"");                     /* truncated at end */
    NAME("\xe2\x82" "A", "\"\\ufffd\\ufffdA\"");       /* bad continuation */
    NAME("\xc0\x80", "\"\\ufffd\\ufffd\"");            /* overlong NUL */
    NAME("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong '/' */
    NAME("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    NAME("\xf4\x90\x80\x80",
         "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");          /* past U+10FFFF */
    NAME("\xf8\x88\x80\x80\x80",
         "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");   /* 5-byte form */
}

Test(json_encode, data_null_empty_and_bytes)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, 0, "a", "a:1", NULL, 0);
    o = encode(&msg);
    cr_assert_str_eq((char *)o.p, "{\"Meta\":0,\"OtherClient\":\"a\","
                                  "\"ConnectionID\":\"a:1\",\"Data\":null}\n");
    free(o.p);

    mp_message_set_data(&msg, "", 0);
    o = encode(&msg);
    cr_assert_str_eq((char *)o.p, "{\"Meta\":0,\"OtherClient\":\"a\","
                                  "\"ConnectionID\":\"a:1\",\"Data\":\"\"}\n");
    free(o.p);

    mp_message_set_data(&msg, BINARY, 6);
    o = encode(&msg);
    cr_assert_str_eq((char *)o.p,
                     "{\"Meta\":0,\"OtherClient\":\"a\","
                     "\"ConnectionID\":\"a:1\",\"Data\":\"AAEC/woi\"}\n");
    free(o.p);
    mp_message_clear(&msg);
}

Test(json_encode, meta_digits)
{
    static const struct {
        unsigned meta;
        const char *text;
    } cases[] = { { 0, "0" }, { 9, "9" }, { 10, "10" }, { 99, "99" },
                  { 100, "100" }, { 205, "205" }, { 255, "255" } };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mp_message msg;
        char want[128];
        struct codec_out o;
        make(&msg, cases[i].meta, "", "", NULL, 0);
        o = encode(&msg);
        snprintf(want, sizeof want,
                 "{\"Meta\":%s,\"OtherClient\":\"\",\"ConnectionID\":\"\","
                 "\"Data\":null}\n",
                 cases[i].text);
        cr_assert_str_eq((char *)o.p, want);
        free(o.p);
    }
}

Test(json_encode, level_after_data_only_when_set)
{
    struct mp_message msg;
    struct codec_out o;

    make(&msg, MP_META_AUTH, "alice", "", "pw", 2);
    msg.level = 2;
    o = encode(&msg);
    cr_assert_str_eq((char *)o.p,
                     "{\"Meta\":8,\"OtherClient\":\"alice\","
                     "\"ConnectionID\":\"\",\"Data\":\"cHc=\",\"Level\":2}\n");
    free(o.p);
    msg.level = 255;
    o = encode(&msg);
    cr_assert(strstr((char *)o.p, ",\"Level\":255}\n") != NULL);
    free(o.p);
    mp_message_clear(&msg);
}

/* Names of 255 bytes that all need 6-byte escapes: far beyond the stack
 * buffer, so the heap path runs. */
Test(json_encode, worst_case_names)
{
    struct mp_message msg, back;
    char name[255];
    struct codec_out o;

    memset(name, '<', sizeof name);
    memset(&msg, 0, sizeof msg);
    mp_message_set_other_client(&msg, name, sizeof name);
    memset(name, 0x01, sizeof name);
    mp_message_set_connection_id(&msg, name, sizeof name);
    o = encode(&msg);
    cr_assert_eq(o.writes, 1);
    cr_assert_eq(o.len, strlen("{\"Meta\":0,\"OtherClient\":\"\","
                               "\"ConnectionID\":\"\",\"Data\":null}\n") +
                            2 * 255 * 6);
    o.p[o.len - 1] = '\0'; /* drop the newline */
    decode_ok((char *)o.p, &back);
    assert_same(&back, &msg);
    free(o.p);
}

Test(json_encode, write_failure_is_reported)
{
    struct mp_message msg;
    struct codec_out o = { .fail_from = 1 };

    make(&msg, 0, "a", "a:1", "x", 1);
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    mp_message_clear(&msg);

    /* The heap path too. */
    unsigned char *big = calloc(1, 100000);
    make(&msg, 0, "a", "a:1", big, 100000);
    o = (struct codec_out){ .fail_from = 1 };
    cr_assert_eq(codec->encode(NULL, &msg, codec_out_write, &o), -1);
    free(big);
    mp_message_clear(&msg);
}

/* ------------------------------------------------------------------------
 * Round trips
 */

static void round_trip(const struct mp_message *msg)
{
    struct mp_message back;
    struct codec_out o = encode(msg);
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_n(NULL, o.p, o.len, MAX_SIZE, &back, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, o.len - 1, "everything but the newline");
    assert_same(&back, msg);
    mp_message_clear(&back);
    /* The newline alone is not a message yet. */
    cr_assert_eq(decode_n(NULL, o.p + consumed, 1, MAX_SIZE, &back,
                          &consumed, err),
                 MP_DECODE_NEED_MORE);
    free(o.p);
}

Test(json_roundtrip, every_meta_with_null_empty_and_binary_data)
{
    for (unsigned meta = 0; meta <= 255; meta++) {
        struct mp_message msg;
        make(&msg, meta, "alice", "alice:ff", NULL, 0);
        round_trip(&msg);
        mp_message_set_data(&msg, "", 0);
        round_trip(&msg);
        mp_message_set_data(&msg, BINARY, 6);
        round_trip(&msg);
        msg.level = (uint8_t)meta;
        round_trip(&msg);
        mp_message_clear(&msg);
    }
}

Test(json_roundtrip, every_data_length_to_64_and_all_byte_values)
{
    unsigned char bytes[256];

    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)i;
    for (size_t n = 0; n <= 64; n++) {
        struct mp_message msg;
        make(&msg, 0, "b", "a:1", bytes + 256 - n, n);
        round_trip(&msg);
        mp_message_clear(&msg);
    }
    struct mp_message msg;
    make(&msg, 0, "b", "a:1", bytes, sizeof bytes);
    round_trip(&msg);
    mp_message_clear(&msg);
}

Test(json_roundtrip, longest_names_and_large_data)
{
    char name[MP_NAME_MAX];
    unsigned char *data = malloc(300000);
    struct mp_message msg;

    for (size_t i = 0; i < sizeof name; i++)
        name[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < 300000; i++)
        data[i] = (unsigned char)(i * 7);
    memset(&msg, 0, sizeof msg);
    mp_message_set_other_client(&msg, name, sizeof name);
    mp_message_set_connection_id(&msg, name, sizeof name);
    mp_message_set_data(&msg, data, 300000);
    round_trip(&msg);
    mp_message_clear(&msg);
    free(data);
}

Test(json_roundtrip, escaped_names)
{
    static const char *const names[] = {
        "<>&", "\"\\", "tab\there", "\xe2\x80\xa8", "caf\xc3\xa9",
        "\xf0\x9f\x98\x80", "\x01\x1f",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct mp_message msg;
        make(&msg, 0, names[i], names[i], NULL, 0);
        round_trip(&msg);
    }
}

/* ------------------------------------------------------------------------
 * Reading rules
 */

Test(json_decode, keys_are_case_insensitive)
{
    struct mp_message msg;

    decode_ok("{\"meta\":5,\"OTHERCLIENT\":\"b\",\"connectionid\":\"a:1\","
              "\"dAtA\":\"ZWNobw==\",\"LEVEL\":3}",
              &msg);
    assert_fields(&msg, 5, "b", "a:1", "echo", 4);
    cr_assert_eq(msg.level, 3);
    mp_message_clear(&msg);
}

/* Go unescapes a key before matching it. */
Test(json_decode, escaped_keys_match)
{
    struct mp_message msg;

    decode_ok("{\"M\\u0065ta\":7,\"\\u004ftherClient\":\"x\"}", &msg);
    assert_fields(&msg, 7, "x", "", NULL, 0);
}

Test(json_decode, keys_must_match_whole)
{
    struct mp_message msg;

    decode_ok("{\"Met\":1,\"Metaa\":2,\"Meta \":3,\"Data2\":5,"
              "\"OtherClientX\":7}",
              &msg);
    assert_fields(&msg, 0, "", "", NULL, 0);
}

Test(json_decode, unknown_keys_ignored_whatever_their_value)
{
    struct mp_message msg;

    decode_ok("{\"x\":{\"Meta\":9,\"y\":[1,{\"Data\":5}],\"z\":{}},"
              "\"Meta\":4,\"a\":[],\"b\":true,\"c\":false,\"d\":null,"
              "\"e\":-1.5e300,\"f\":123456789012345678901234567890,"
              "\"g\":\"}]\\\"{\",\"h\":[[[[]]]],\"OtherClient\":\"o\"}",
              &msg);
    assert_fields(&msg, 4, "o", "", NULL, 0);
}

Test(json_decode, missing_keys_are_zero_values)
{
    struct mp_message msg;

    decode_ok("{}", &msg);
    assert_fields(&msg, 0, "", "", NULL, 0);
    cr_assert_eq(msg.level, 0);
    decode_ok("{\"Meta\":6}", &msg);
    assert_fields(&msg, 6, "", "", NULL, 0);
}

Test(json_decode, null_values)
{
    struct mp_message msg;

    decode_ok("{\"Meta\":null,\"OtherClient\":null,\"ConnectionID\":null,"
              "\"Data\":null,\"Level\":null}",
              &msg);
    assert_fields(&msg, 0, "", "", NULL, 0);
    cr_assert_eq(msg.level, 0);
}

Test(json_decode, empty_data_is_not_null)
{
    struct mp_message msg;

    decode_ok("{\"Data\":\"\"}", &msg);
    assert_fields(&msg, 0, "", "", "", 0);
}

/* Last one wins, except that null leaves a string or number alone (Go
 * only zeroes slices, maps, pointers and interfaces on null). */
Test(json_decode, duplicate_keys_like_go)
{
    struct mp_message msg;

    decode_ok("{\"Meta\":1,\"meta\":2,\"Data\":\"QQ==\",\"Data\":\"Qg==\","
              "\"OtherClient\":\"a\",\"OtherClient\":\"bc\"}",
              &msg);
    assert_fields(&msg, 2, "bc", "", "B", 1);
    mp_message_clear(&msg);

    decode_ok("{\"Data\":\"QQ==\",\"Data\":null}", &msg);
    assert_fields(&msg, 0, "", "", NULL, 0);

    decode_ok("{\"OtherClient\":\"a\",\"OtherClient\":null,\"Meta\":3,"
              "\"Meta\":null}",
              &msg);
    assert_fields(&msg, 3, "a", "", NULL, 0);
}

Test(json_decode, go_escapes_and_plain_forms_both_accepted)
{
    struct mp_message msg;

    decode_ok("{\"OtherClient\":\"\\u003ca\\u0026b\\u003e\","
              "\"ConnectionID\":\"<a&b>\"}",
              &msg);
    assert_fields(&msg, 0, "<a&b>", "<a&b>", NULL, 0);
    decode_ok("{\"OtherClient\":\"\\u2028\\t\\n\\/\\b\\f\\r\\\"\\\\\"}", &msg);
    assert_fields(&msg, 0, "\xe2\x80\xa8\t\n/\b\f\r\"\\", "", NULL, 0);
    /* A surrogate pair is one character. */
    decode_ok("{\"OtherClient\":\"\\ud83d\\ude00\\uD83D\\uDE00\"}", &msg);
    assert_fields(&msg, 0, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "", NULL, 0);
}

Test(json_decode, base64_may_contain_newlines)
{
    struct mp_message msg;

    decode_ok("{\"Data\":\"ZW\\nNo\\r\\nbw==\"}", &msg);
    assert_fields(&msg, 0, "", "", "echo", 4);
    mp_message_clear(&msg);
}

Test(json_decode, base64_unused_bits_accepted)
{
    struct mp_message msg;

    decode_ok("{\"Data\":\"QR==\"}", &msg);
    assert_fields(&msg, 0, "", "", "A", 1);
    mp_message_clear(&msg);
}

Test(json_decode, whitespace_inside_and_between_objects)
{
    const char *in = " \t\r\n{ \"Meta\" :\t1 ,\r\n\"Data\" : null }\n\n \t"
                     "{\"Meta\":2}{\"Meta\":3}\r\n";
    const char *p = in;
    size_t left = strlen(in);

    for (unsigned want = 1; want <= 3; want++) {
        struct mp_message msg;
        size_t consumed;
        char err[ERRLEN];
        cr_assert_eq(decode_n(NULL, p, left, MAX_SIZE, &msg, &consumed, err),
                     MP_DECODE_OK, "%s", err);
        cr_assert_eq(msg.meta, want);
        cr_assert_eq(p[consumed - 1], '}', "consumed ends at the brace");
        p += consumed;
        left -= consumed;
    }
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];
    cr_assert_eq(left, 2);
    cr_assert_eq(decode_n(NULL, p, left, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_NEED_MORE);
}

Test(json_decode, trailing_bytes_are_left_for_the_next_call)
{
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];

    cr_assert_eq(decode_str("{\"Meta\":1}xyz", &msg, &consumed, err),
                 MP_DECODE_OK);
    cr_assert_eq(consumed, 10);
    cr_assert_eq(decode_str("xyz", &msg, &consumed, err), MP_DECODE_ERROR);
}

Test(json_decode, whitespace_only_needs_more)
{
    static const char *const inputs[] = { "", " ", "\n\n", " \t\r\n " };
    void *stream = codec->stream_new(NULL);

    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct mp_message msg;
        size_t consumed;
        char err[ERRLEN];
        cr_assert_eq(decode_str(inputs[i], &msg, &consumed, err),
                     MP_DECODE_NEED_MORE);
        cr_assert_eq(decode_n(stream, inputs[i], strlen(inputs[i]), MAX_SIZE,
                              &msg, &consumed, err),
                     MP_DECODE_NEED_MORE);
    }
    codec->stream_free(stream);
}

Test(json_decode, level_field)
{
    struct mp_message msg;

    decode_ok("{\"Meta\":8,\"OtherClient\":\"alice\",\"Data\":\"cHc=\","
              "\"Level\":2}",
              &msg);
    assert_fields(&msg, 8, "alice", "", "pw", 2);
    cr_assert_eq(msg.level, 2);
    mp_message_clear(&msg);
    decode_ok("{\"Level\":0}", &msg);
    cr_assert_eq(msg.level, 0);
    decode_ok("{\"Level\":255}", &msg);
    cr_assert_eq(msg.level, 255);
}

Test(json_decode, names_up_to_255_bytes)
{
    char in[600], name[256];

    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(in, sizeof in, "{\"OtherClient\":\"%s\",\"ConnectionID\":\"%s\"}",
             name, name);
    struct mp_message msg;
    decode_ok(in, &msg);
    assert_fields(&msg, 0, name, name, NULL, 0);

    /* 255 bytes after unescaping counts, not the escaped length. */
    char esc[2000] = "{\"OtherClient\":\"";
    for (int i = 0; i < 255; i++)
        strcat(esc, "\\u003c");
    strcat(esc, "\"}");
    decode_ok(esc, &msg);
    cr_assert_eq(msg.other_client_len, 255);
}

/* ------------------------------------------------------------------------
 * Malformed input
 */

#define FAILS(lit, why) decode_fails(lit, sizeof(lit) - 1, why)

Test(json_malformed, not_an_object)
{
    FAILS("[1]", "not a JSON object");
    FAILS("5", "not a JSON object");
    FAILS("\"x\"", "not a JSON object");
    FAILS("null", "not a JSON object");
    FAILS("  \n[", "not a JSON object");
    FAILS("\x00\x00\x00\x05", "not a JSON object");
    FAILS("}", "not a JSON object");
}

Test(json_malformed, meta_must_be_uint8)
{
    FAILS("{\"Meta\":256}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":1000}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":-1}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":-0}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":1.5}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":1.0}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":1e2}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":99999999999999999999999}", "Meta is not an integer");
    FAILS("{\"Meta\":\"5\"}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":true}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":{}}", "Meta is not an integer 0-255");
    FAILS("{\"Meta\":[5]}", "Meta is not an integer 0-255");
    FAILS("{\"meta\":300}", "Meta is not an integer 0-255");
}

Test(json_malformed, level_must_be_uint8)
{
    FAILS("{\"Level\":256}", "Level is not an integer 0-255");
    FAILS("{\"Level\":-1}", "Level is not an integer 0-255");
    FAILS("{\"Level\":\"2\"}", "Level is not an integer 0-255");
    FAILS("{\"Level\":2.5}", "Level is not an integer 0-255");
}

Test(json_malformed, names_must_be_strings)
{
    FAILS("{\"OtherClient\":5}", "OtherClient is not a string");
    FAILS("{\"OtherClient\":true}", "OtherClient is not a string");
    FAILS("{\"OtherClient\":[\"a\"]}", "OtherClient is not a string");
    FAILS("{\"ConnectionID\":{}}", "ConnectionID is not a string");
    FAILS("{\"connectionID\":1}", "ConnectionID is not a string");
}

Test(json_malformed, names_longer_than_255_bytes)
{
    char in[600];

    snprintf(in, sizeof in, "{\"OtherClient\":\"%0256d\"}", 0);
    decode_fails(in, strlen(in), "OtherClient is longer than 255 bytes");
    snprintf(in, sizeof in, "{\"ConnectionID\":\"%0256d\"}", 0);
    decode_fails(in, strlen(in), "ConnectionID is longer than 255 bytes");
    /* 128 two-byte characters: 256 bytes. */
    char esc[1200] = "{\"OtherClient\":\"";
    for (int i = 0; i < 128; i++)
        strcat(esc, "\\u00e9");
    strcat(esc, "\"}");
    decode_fails(esc, strlen(esc), "OtherClient is longer than 255 bytes");
}

Test(json_malformed, data_must_be_base64_or_null)
{
    FAILS("{\"Data\":\"ZWNobw=\"}", "Data is not valid base64");
    FAILS("{\"Data\":\"ZWNobw\"}", "Data is not valid base64");
    FAILS("{\"Data\":\"ZWNobw===\"}", "Data is not valid base64");
    FAILS("{\"Data\":\"ZW Nobw==\"}", "Data is not valid base64");
    FAILS("{\"Data\":\"-_8=\"}", "Data is not valid base64");
    FAILS("{\"Data\":\"\\u00e9AAA\"}", "Data is not valid base64");
    FAILS("{\"Data\":5}", "Data is not a base64 string or null");
    FAILS("{\"Data\":true}", "Data is not a base64 string or null");
    FAILS("{\"Data\":[1,2]}", "Data is not a base64 string or null");
    FAILS("{\"Data\":{}}", "Data is not a base64 string or null");
    /* The error frees data an earlier Data key left. */
    FAILS("{\"Data\":\"ZWNobw==\",\"Meta\":-1}", "Meta is not");
}

Test(json_malformed, invalid_utf8)
{
    FAILS("{\"OtherClient\":\"\xff\"}", "invalid JSON");
    FAILS("{\"OtherClient\":\"a\xc3\"}", "invalid JSON");
    FAILS("{\"unknown\":\"\x80\"}", "invalid JSON");
    FAILS("{\"\xfe\":1}", "invalid JSON");
    /* Forms yajl lets through; a name must still be real UTF-8. */
    FAILS("{\"OtherClient\":\"\xc0\x80\"}", "OtherClient is not valid UTF-8");
    FAILS("{\"ConnectionID\":\"\xed\xa0\x80\"}",
          "ConnectionID is not valid UTF-8");
    FAILS("{\"OtherClient\":\"\xf5\x80\x80\x80\"}", "not valid UTF-8");
}

Test(json_malformed, unpaired_surrogate_escapes)
{
    FAILS("{\"OtherClient\":\"\\ud800\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\udc00\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\ud800x\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\ud800\\n\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\ud800\\u0041\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\ud800\\ud800\"}", "unpaired surrogate");
    FAILS("{\"OtherClient\":\"\\ude00\\ud83d\"}", "unpaired surrogate");
    FAILS("{\"x\":\"\\uDBFF\"}", "unpaired surrogate");
}

Test(json_malformed, string_syntax)
{
    FAILS("{\"OtherClient\":\"a\nb\"}", "control character");
    FAILS("{\"OtherClient\":\"a\tb\"}", "control character");
    FAILS("{\"OtherClient\":\"a\0b\"}", "control character");
    FAILS("{\"OtherClient\":\"\\x41\"}", "invalid escape");
    FAILS("{\"OtherClient\":\"\\'\"}", "invalid escape");
    FAILS("{\"OtherClient\":\"\\u12g4\"}", "bad \\u escape");
    FAILS("{\"OtherClient\":\"\\u12\"}", "bad \\u escape");
}

Test(json_malformed, object_syntax)
{
    FAILS("{\"Meta\" 5}", "invalid JSON");
    FAILS("{\"Meta\":5,}", "invalid JSON");
    FAILS("{\"Meta\":5 \"Data\":null}", "invalid JSON");
    FAILS("{,}", "invalid JSON");
    FAILS("{]", "invalid JSON");
    FAILS("{\"a\":[}]", "invalid JSON");
    FAILS("{\"a\":1]", "invalid JSON");
    FAILS("{5:1}", "invalid JSON");
    FAILS("{\"Meta\":tru}", "invalid JSON");
    FAILS("{\"Meta\":nul}", "invalid JSON");
    FAILS("{\"Meta\":01}", "invalid JSON");
    FAILS("{\"Meta\":+1}", "invalid JSON");
    FAILS("{\"Meta\"::1}", "invalid JSON");
    FAILS("{\"Meta\":1 @}", "unexpected '@'");
    FAILS("{'Meta':1}", "unexpected '''");
    FAILS("{/* comment */}", "unexpected '/'");
    FAILS("{\x01}", "unexpected byte 0x01");
    FAILS("{\xc3\xa9}", "unexpected byte 0xc3");
}

Test(json_malformed, nesting_limit)
{
    size_t depth = 10001, len = 2 + 5 * depth, n = 0;
    char *in = malloc(len + 1);

    /* {"x":[[[...]]]} with 10001 arrays inside the object. */
    n += (size_t)sprintf(in, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        in[n++] = '[';
    cr_assert_lt(n, len);
    decode_fails(in, n, "nested deeper than 10000");

    /* 9999 arrays plus the object: fine. */
    n = (size_t)sprintf(in, "{\"x\":");
    for (size_t i = 0; i < 9999; i++)
        in[n++] = '[';
    for (size_t i = 0; i < 9999; i++)
        in[n++] = ']';
    in[n++] = '}';
    struct mp_message msg;
    size_t consumed;
    char err[ERRLEN];
    cr_assert_eq(decode_n(NULL, in, n, MAX_SIZE, &msg, &consumed, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, n);
    free(in);
}

/* Whatever the bytes after a malformed prefix, the error must already be
 * reported for the prefix (no waiting for a closing brace). */
Test(json_malformed, detected_before_the_object_ends)
{
    static const char *const prefixes[] = {
        "{\"Meta\":1 @", "{\"x\":\"\\q", "{\"x\":\"\\ud800x", "{\"x\":\"\x01",
        "[", "x",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        decode_fails(prefixes[i], strlen(prefixes[i]), "");
}

/* ------------------------------------------------------------------------
 * Limits
 */

static enum mp_decode_status decode_max(void *stream, const char *s,
                                        size_t len, size_t max, char *err)
{
    struct mp_message msg;
    size_t consumed;
    enum mp_decode_status st =
        decode_n(stream, s, len, max, &msg, &consumed, err);
    mp_message_clear(&msg);
    return st;
}

Test(json_limits, object_of_exactly_max_size_is_accepted)
{
    const char *in = "{\"OtherClient\":\"abc\"}"; /* 21 bytes */
    char err[ERRLEN];

    cr_assert_eq(decode_max(NULL, in, 21, 21, err), MP_DECODE_OK, "%s", err);
    cr_assert_eq(decode_max(NULL, in, 21, 20, err), MP_DECODE_ERROR);
    cr_assert_str_eq(err, "message exceeds 20 bytes");
}

Test(json_limits, leading_whitespace_does_not_count)
{
    const char *in = "\n\n\n{\"OtherClient\":\"abc\"}";
    char err[ERRLEN];

    cr_assert_eq(decode_max(NULL, in, strlen(in), 21, err), MP_DECODE_OK,
                 "%s", err);
}

/* An endless object is refused as soon as it passes the limit, long
 * before it ends. */
Test(json_limits, oversize_detected_from_a_prefix)
{
    char in[200];
    char err[ERRLEN];

    memset(in, 'a', sizeof in);
    memcpy(in, "  {\"Data\":\"", 11);
    /* The object starts at offset 2; 100 bytes of it may be buffered. */
    cr_assert_eq(decode_max(NULL, in, 102, 100, err), MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_max(NULL, in, 103, 100, err), MP_DECODE_ERROR);
    cr_assert_str_eq(err, "message exceeds 100 bytes");
    cr_assert_eq(decode_max(NULL, in, sizeof in, 100, err), MP_DECODE_ERROR);

    /* The same, one byte at a time through a stream. */
    void *stream = codec->stream_new(NULL);
    for (size_t n = 1; n <= 102; n++)
        cr_assert_eq(decode_max(stream, in, n, 100, err),
                     MP_DECODE_NEED_MORE, "n=%zu", n);
    cr_assert_eq(decode_max(stream, in, 103, 100, err), MP_DECODE_ERROR);
    codec->stream_free(stream);
}

Test(json_limits, endless_whitespace_is_refused)
{
    char in[64];
    char err[ERRLEN];

    memset(in, ' ', sizeof in);
    cr_assert_eq(decode_max(NULL, in, 32, 32, err), MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_max(NULL, in, 33, 32, err), MP_DECODE_ERROR);
    cr_assert(strstr(err, "whitespace") != NULL, "%s", err);
}

Test(json_limits, error_reason_is_truncated_safely)
{
    struct mp_message msg;
    size_t consumed;
    char err[8];
    unsigned char in[] = "{\"Meta\":300}";

    memset(&msg, 0, sizeof msg);
    cr_assert_eq(codec->decode(NULL, in, sizeof in - 1, MAX_SIZE, &msg,
                               &consumed, err, sizeof err),
                 MP_DECODE_ERROR);
    cr_assert_eq(strlen(err), sizeof err - 1);
    /* No room for a reason at all is fine too. */
    cr_assert_eq(codec->decode(NULL, in, sizeof in - 1, MAX_SIZE, &msg,
                               &consumed, NULL, 0),
                 MP_DECODE_ERROR);
}

/* ------------------------------------------------------------------------
 * Every split point
 */

/* Three messages, chosen to put every scanner state at some split: escapes,
 * a surrogate pair, nested unknown values with brackets inside strings,
 * whitespace before each. */
static const char *const split_parts[] = {
    "\r\n {\"Meta\":5,\"x\":{\"a\":[1,{\"b\":\"}]\\\"{[\"}],\"c\":null},"
    "\"OtherClient\":\"b\\u00e9\\ud83d\\ude00\\\\\",\"ConnectionID\":\"a:1\","
    "\"Data\":\"ZWNobw==\"}",
    "\n\t{\"meta\":0,\"Level\":2,\"DATA\":\"\"}",
    "{\"Meta\":255,\"OtherClient\":\"\\u003c\\u003e\",\"Data\":\"AAEC/woi\"}",
};

static void check_split_message(size_t k, const struct mp_message *msg)
{
    switch (k) {
    case 0:
        assert_fields(msg, 5, "b\xc3\xa9\xf0\x9f\x98\x80\\", "a:1", "echo", 4);
        break;
    case 1:
        assert_fields(msg, 0, "", "", "", 0);
        cr_assert_eq(msg->level, 2);
        break;
    default:
        assert_fields(msg, 255, "<>", "", BINARY, 6);
        break;
    }
}

/*
 * Feed the parts (with "\n" after the last one) so that the first `step`
 * bytes arrive, then the rest in pieces of `step2` bytes; decode after
 * each arrival as a host would, with or without a stream.
 */
static void feed(size_t first, size_t step, bool use_stream)
{
    char buf[512];
    size_t ends[3], total = 0, pos = 0, avail = 0, k = 0;
    bool started = false;
    void *stream = use_stream ? codec->stream_new(NULL) : NULL;

    buf[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        strcat(buf, split_parts[i]);
        ends[i] = strlen(buf);
    }
    strcat(buf, "\n");
    total = strlen(buf);

    while (avail < total) {
        avail = started ? avail + step : first;
        started = true;
        if (avail > total)
            avail = total;
        for (;;) {
            struct mp_message msg;
            size_t consumed;
            char err[ERRLEN];
            enum mp_decode_status st = decode_n(stream, buf + pos,
                                                avail - pos, MAX_SIZE, &msg,
                                                &consumed, err);
            if (st == MP_DECODE_NEED_MORE) {
                cr_assert(k == 3 || avail < ends[k],
                          "need more at %zu with message %zu ending at %zu",
                          avail, k, ends[k]);
                break;
            }
            cr_assert_eq(st, MP_DECODE_OK, "first=%zu step=%zu: %s", first,
                         step, err);
            cr_assert_lt(k, 3);
            cr_assert_eq(pos + consumed, ends[k],
                         "first=%zu step=%zu message %zu", first, step, k);
            check_split_message(k, &msg);
            mp_message_clear(&msg);
            pos += consumed;
            k++;
        }
    }
    cr_assert_eq(k, 3);
    cr_assert_eq(pos, total - 1);
    if (stream != NULL)
        codec->stream_free(stream);
}

Test(json_split, every_prefix_one_byte_at_a_time)
{
    feed(0, 1, true);
    feed(0, 1, false);
}

Test(json_split, every_split_into_two_pieces)
{
    size_t total = strlen(split_parts[0]) + strlen(split_parts[1]) +
                   strlen(split_parts[2]) + 1;
    for (size_t s = 0; s <= total; s++) {
        feed(s, total, true);
        feed(s, total, false);
    }
}

Test(json_split, assorted_piece_sizes)
{
    for (size_t step = 2; step <= 17; step++) {
        feed(step, step, true);
        feed(1, step, true);
    }
}

/* A large message in small pieces through a stream decodes, and splitting
 * it never changes the result. */
Test(json_split, large_message_in_small_pieces)
{
    size_t n = 200000;
    unsigned char *data = malloc(n);
    struct mp_message msg, back;
    void *stream = codec->stream_new(NULL);

    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i ^ (i >> 8));
    make(&msg, 0, "peer", "me:1", data, n);
    struct codec_out o = encode(&msg);
    size_t avail = 0, consumed = 0;
    char err[ERRLEN];
    enum mp_decode_status st = MP_DECODE_NEED_MORE;
    while (st == MP_DECODE_NEED_MORE) {
        cr_assert_lt(avail, o.len);
        avail += 1000;
        if (avail > o.len)
            avail = o.len;
        /* No copy here: 270 calls on a 270 KB buffer. */
        memset(&back, 0, sizeof back);
        st = codec->decode(stream, o.p, avail, MAX_SIZE, &back, &consumed,
                           err, ERRLEN);
    }
    cr_assert_eq(st, MP_DECODE_OK, "%s", err);
    cr_assert_eq(consumed, o.len - 1);
    assert_same(&back, &msg);
    mp_message_clear(&back);
    mp_message_clear(&msg);
    codec->stream_free(stream);
    free(o.p);
    free(data);
}

/* A host that breaks its promise and shows fewer bytes than before must
 * not make the decoder read past the end. */
Test(json_split, shrinking_buffer_is_survived)
{
    const char *in = "{\"Meta\":1,\"OtherClient\":\"abc\"}";
    void *stream = codec->stream_new(NULL);
    char err[ERRLEN];

    cr_assert_eq(decode_max(stream, in, 20, MAX_SIZE, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_max(stream, in, 5, MAX_SIZE, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(decode_max(stream, in, strlen(in), MAX_SIZE, err),
                 MP_DECODE_OK, "%s", err);
    codec->stream_free(stream);
}

/* After an error the stream starts afresh. */
Test(json_split, stream_reusable_after_error)
{
    void *stream = codec->stream_new(NULL);
    char err[ERRLEN];

    cr_assert_eq(decode_max(stream, "{\"Meta\":-1}", 11, MAX_SIZE, err),
                 MP_DECODE_ERROR);
    cr_assert_eq(decode_max(stream, "{\"Meta\":1}", 10, MAX_SIZE, err),
                 MP_DECODE_OK, "%s", err);
    codec->stream_free(stream);
}

/* ------------------------------------------------------------------------
 * The fast path (the canonical form, read without yajl) against the
 * general path: "meta" for "Meta" is the same object to the decoder (keys
 * are case-insensitive) and as long, but only the general path reads it.
 * Both must give the same verdict, the same message and the same reason.
 */

static void assert_paths_agree(const char *canonical, size_t max_size)
{
    size_t len = strlen(canonical);
    char *general = strdup(canonical);
    struct mp_message fast, slow;
    size_t fast_used = 0, slow_used = 0;
    char fast_err[ERRLEN] = "", slow_err[ERRLEN] = "";

    cr_assert(strncmp(canonical, "{\"Meta\":", 8) == 0, "%s", canonical);
    general[2] = 'm';
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    enum mp_decode_status a = decode_n(NULL, canonical, len, max_size, &fast,
                                       &fast_used, fast_err);
    enum mp_decode_status b = decode_n(NULL, general, len, max_size, &slow,
                                       &slow_used, slow_err);
    cr_assert_eq(a, b, "%s: %d (%s), general path %d (%s)", canonical, a,
                 fast_err, b, slow_err);
    if (a == MP_DECODE_OK) {
        assert_same(&fast, &slow);
        cr_assert_eq(fast_used, slow_used, "%s", canonical);
    } else if (a == MP_DECODE_ERROR) {
        cr_assert_str_eq(fast_err, slow_err, "%s", canonical);
    }
    mp_message_clear(&fast);
    mp_message_clear(&slow);
    free(general);
}

/* {"Meta":M,"OtherClient":"<name>","ConnectionID":"x:1","Data":DATA} */
static char *canonical_with(const char *meta, const char *name, const char *data)
{
    size_t n = strlen(meta) + strlen(name) + strlen(data) + 80;
    char *s = malloc(n);
    snprintf(s, n, "{\"Meta\":%s,\"OtherClient\":\"%s\",\"ConnectionID\":\"x:1\","
             "\"Data\":%s}", meta, name, data);
    return s;
}

Test(json_fast_path, agrees_with_general_path)
{
    static const char *const metas[] = {"0", "5", "255", "256", "01", "00", "-1", "1.0", "1e0", ""};
    static const char *const names[] = {"bob", "", "caf\xc3\xa9", "\xc0\xaf", "\xed\xa0\x80",
                                        "a<b>&", "tab\there", "q\\\"x", "\x7f"};
    static const char *const datas[] = {"null", "\"\"", "\"AA==\"", "\"AAE=\"", "\"AAEC\"",
                                        "\"QR==\"", "\"A\"", "\"A===\"", "\"QQ\"", "\"QQ=\"",
                                        "\"QQ==QQ==\"", "\"Q\\u0051==\"", "\"\xc3\xa9\"", "5",
                                        "true", "[]", "{}", "nul", "\"AA==\"x"};

    for (size_t m = 0; m < sizeof metas / sizeof *metas; m++)
        for (size_t n = 0; n < sizeof names / sizeof *names; n++)
            for (size_t d = 0; d < sizeof datas / sizeof *datas; d++) {
                char *s = canonical_with(metas[m], names[n], datas[d]);
                assert_paths_agree(s, MAX_SIZE);
                free(s);
            }
    for (size_t i = 0; i < N_CLIENT_LINES; i++)
        assert_paths_agree(go_client_lines[i].line, MAX_SIZE);
    for (size_t i = 0; i < sizeof go_server_lines / sizeof *go_server_lines; i++)
        assert_paths_agree(go_server_lines[i], MAX_SIZE);
}

Test(json_fast_path, agrees_on_name_lengths_and_size_limits)
{
    char name[300];

    for (size_t len = 250; len < 260; len++) {
        memset(name, 'n', len);
        name[len] = '\0';
        char *s = canonical_with("0", name, "\"AAEC\"");
        assert_paths_agree(s, MAX_SIZE);
        /* Around the size limit: the message is strlen(s) bytes. */
        for (size_t max = strlen(s) - 2; max <= strlen(s) + 2; max++)
            assert_paths_agree(s, max);
        free(s);
    }
}

Test(json_fast_path, truncated_canonical_needs_more)
{
    const char *line = go_client_lines[0].line;

    for (size_t len = 1; len < strlen(line); len++) {
        struct mp_message msg;
        size_t used;
        char err[ERRLEN];
        memset(&msg, 0, sizeof msg);
        cr_assert_eq(decode_n(NULL, line, len, MAX_SIZE, &msg, &used, err),
                     MP_DECODE_NEED_MORE, "%zu bytes: %s", len, err);
    }
}

/* ------------------------------------------------------------------------
 * The fast lane: decode_wire and encode_wire against decode and encode
 */

Test(json_wire, agrees_with_decode_and_encode)
{
    static const char *const metas[] = {"0", "5", "255", "256", "01"};
    static const char *const names[] = {"bob", "", "caf\xc3\xa9", "\xc0\xaf", "a<b>&",
                                        "q\\\"x"};
    static const char *const datas[] = {"null", "\"\"", "\"AA==\"", "\"AAE=\"", "\"AAEC\"",
                                        "\"QR==\"", "\"QUI=\"", "\"QUJ=\"", "\"A\"", "\"A===\"",
                                        "\"QQ\"", "\"Q\\u0051==\"", "5", "\"AA==\"x"};

    for (size_t m = 0; m < sizeof metas / sizeof *metas; m++)
        for (size_t n = 0; n < sizeof names / sizeof *names; n++)
            for (size_t d = 0; d < sizeof datas / sizeof *datas; d++) {
                char *line = canonical_with(metas[m], names[n], datas[d]);
                codec_check_wire(codec, line, strlen(line), MAX_SIZE);
                for (size_t cut = 0; cut < strlen(line); cut += 7)
                    cr_assert(!codec_check_wire(codec, line, cut, MAX_SIZE));
                free(line);
            }
    /* Everything the original and this encoder write is passed on. */
    for (size_t i = 0; i < N_CLIENT_LINES; i++)
        cr_assert(codec_check_wire(codec, go_client_lines[i].line,
                                   strlen(go_client_lines[i].line), MAX_SIZE));
    for (size_t i = 0; i < sizeof go_server_lines / sizeof *go_server_lines; i++)
        cr_assert(codec_check_wire(codec, go_server_lines[i],
                                   strlen(go_server_lines[i]), MAX_SIZE));
}

Test(json_wire, only_canonical_base64_is_passed_on)
{
    char *canonical = canonical_with("0", "bob", "\"QQ==\"");
    char *unused_bits = canonical_with("0", "bob", "\"QR==\"");
    char *other_form = canonical_with("0", "bob", "\"QQ==\"");
    other_form[2] = 'm';

    cr_assert(codec_check_wire(codec, canonical, strlen(canonical), MAX_SIZE));
    cr_assert(!codec_check_wire(codec, unused_bits, strlen(unused_bits), MAX_SIZE));
    cr_assert(!codec_check_wire(codec, other_form, strlen(other_form), MAX_SIZE));
    free(canonical);
    free(unused_bits);
    free(other_form);
}

/* A stream: a message in two pieces is taken when whole (the scanner,
 * shared with decode, found its end); one decode_wire does not take is
 * then read by decode from the same scanner. */
Test(json_wire, pieces_share_the_scanner_with_decode)
{
    void *stream = codec->stream_new(NULL);
    char *taken = canonical_with("0", "bob", "\"AAEC\"");
    char *left = canonical_with("0", "bob", "\"AAEC\"");
    left[2] = 'm';
    struct mp_message msg;
    size_t used, off, wlen, half = strlen(taken) / 2;
    char err[ERRLEN];

    memset(&msg, 0, sizeof msg);
    cr_assert_eq(codec->decode_wire(stream, (unsigned char *)taken, half, MAX_SIZE,
                                    &msg, &used, &off, &wlen), 0);
    cr_assert_eq(codec->decode_wire(stream, (unsigned char *)taken, strlen(taken),
                                    MAX_SIZE, &msg, &used, &off, &wlen), 1);
    cr_assert_eq(used, strlen(taken));
    cr_assert_eq(wlen, 4);
    cr_assert(memcmp(taken + off, "AAEC", 4) == 0);
    cr_assert_str_eq(msg.other_client, "bob");
    mp_message_clear(&msg);

    cr_assert_eq(codec->decode_wire(stream, (unsigned char *)left, half, MAX_SIZE,
                                    &msg, &used, &off, &wlen), 0);
    cr_assert_eq(decode_n(stream, left, half, MAX_SIZE, &msg, &used, err),
                 MP_DECODE_NEED_MORE);
    cr_assert_eq(codec->decode_wire(stream, (unsigned char *)left, strlen(left),
                                    MAX_SIZE, &msg, &used, &off, &wlen), 0);
    cr_assert_eq(decode_n(stream, left, strlen(left), MAX_SIZE, &msg, &used, err),
                 MP_DECODE_OK, "%s", err);
    cr_assert_eq(used, strlen(left));
    cr_assert_eq(msg.data_len, 3);
    mp_message_clear(&msg);
    codec->stream_free(stream);
    free(taken);
    free(left);
}

/* ------------------------------------------------------------------------
 * Sniffing and the ops table
 */

Test(json_ops, sniff)
{
    static const unsigned char yes[] = { '{', ' ', '\t', '\n', '\r' };
    static const unsigned char no[] = { 0x00, '[', 'x', '"', 0xff, 0x0b };

    for (size_t i = 0; i < sizeof yes; i++) {
        const unsigned char text[] = { yes[i], '"' };
        /* One byte could still be a protobuf length: wait for two. */
        cr_assert_eq(codec->sniff(text, 1), -1, "0x%02x", yes[i]);
        cr_assert_eq(codec->sniff(text, 2), 1, "0x%02x", yes[i]);
    }
    for (size_t i = 0; i < sizeof no; i++)
        cr_assert_eq(codec->sniff(&no[i], 1), 0, "0x%02x", no[i]);
}

/* A protobuf Auth of 123 or 32 bytes starts with '{' or ' ', then the
 * meta key 0x08, which JSON never has there: it is not JSON. */
Test(json_ops, sniff_leaves_protobuf_alone)
{
    static const unsigned char brace[] = { '{', 0x08, 0x08 };
    static const unsigned char space[] = { ' ', 0x08, 0x08 };

    cr_assert_eq(codec->sniff(brace, sizeof brace), 0);
    cr_assert_eq(codec->sniff(space, sizeof space), 0);
}

Test(json_ops, table_is_complete)
{
    cr_assert_eq(codec->size, sizeof(struct mp_codec_ops));
    cr_assert_not_null(codec->decode);
    cr_assert_not_null(codec->encode);
    cr_assert_not_null(codec->stream_new);
    cr_assert_not_null(codec->stream_free);
    cr_assert_not_null(codec->decode_wire);
    cr_assert_not_null(codec->encode_wire);
    for (size_t i = 0; i < sizeof codec->reserved / sizeof codec->reserved[0];
         i++)
        cr_assert_null(codec->reserved[i]);
}
