/*
 * test_formats.c - the wire formats: exact bytes across formats, the auto
 * listener, the JSON reader's leniency, Unix sockets, IPv6.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rawclient.h"

TestSuite(formats, .fini = harness_reap_all, .timeout = 60);

static void send_ok(struct rc_client *c, unsigned meta, const char *to,
                    const char *id, struct rc_blob data)
{
    cr_assert(rc_send(c, meta, to, id, data), "send failed: %s", rc_error(c));
}

static void send_json_ok(struct rc_client *c, const char *line)
{
    cr_assert(rc_send_json(c, line), "send failed: %s", rc_error(c));
}

static void expect_frame(struct rc_client *c, const unsigned char *want,
                         size_t len)
{
    struct rc_msg m;

    rc_expect_any(c, &m);
    bool same = m.raw_len == len && memcmp(m.raw, want, len) == 0;
    size_t got = m.raw_len;
    rc_msg_free(&m);
    cr_assert(same, "binary frame differs (got %zu bytes, want %zu)", got, len);
}

/* ---------------------------------------------------------------------- */
/* JSON in, binary out and back, byte for byte */

Test(formats, json_to_binary_exact)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_login_any(h, 0, RC_JSON, "jo");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "bi");
    /* Syn "jo:0", data "echo" */
    static const unsigned char syn[] = {
        0, 0, 0, 14, RC_SYN, RC_FLAG_HAS_DATA, 2, 4,
        'j', 'o', 'j', 'o', ':', '0', 'e', 'c', 'h', 'o' };
    /* Data, empty: HAS_DATA set, no bytes */
    static const unsigned char empty[] = {
        0, 0, 0, 10, RC_DATA, RC_FLAG_HAS_DATA, 2, 4,
        'j', 'o', 'j', 'o', ':', '0' };
    /* Data, null: no flag */
    static const unsigned char null[] = {
        0, 0, 0, 10, RC_DATA, 0, 2, 4, 'j', 'o', 'j', 'o', ':', '0' };

    send_json_ok(j, "{\"Meta\":5,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:0\",\"Data\":\"ZWNobw==\"}");
    expect_frame(b, syn, sizeof syn);
    send_ok(b, RC_ACK, "jo", "jo:0", RC_NULL);
    rc_expect_line(j, "{\"Meta\":6,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:0\",\"Data\":null}");
    send_json_ok(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:0\",\"Data\":\"\"}");
    expect_frame(b, empty, sizeof empty);
    send_json_ok(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:0\",\"Data\":null}");
    expect_frame(b, null, sizeof null);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

Test(formats, binary_to_json_exact)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_login_any(h, 0, RC_JSON, "jo");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "bi");
    static const unsigned char bytes[] = { 0, 1, 2, 0xff, '\n', 0x22 };

    send_ok(b, RC_SYN, "jo", "bi:0", rc_str("echo"));
    rc_expect_line(j, "{\"Meta\":5,\"OtherClient\":\"bi\",\"ConnectionID\":\"bi:0\",\"Data\":\"ZWNobw==\"}");
    send_json_ok(j, "{\"Meta\":6,\"OtherClient\":\"bi\",\"ConnectionID\":\"bi:0\",\"Data\":null}");
    rc_expect(b, RC_ACK, "jo", "bi:0", RC_NULL);
    send_ok(b, RC_DATA, "jo", "bi:0", rc_bytes(bytes, sizeof bytes));
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"bi:0\",\"Data\":\"AAEC/woi\"}");
    send_ok(b, RC_DATA, "jo", "bi:0", RC_EMPTY);
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"bi:0\",\"Data\":\"\"}");
    send_ok(b, RC_DATA, "jo", "bi:0", RC_NULL);
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"bi:0\",\"Data\":null}");
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* What the JSON reader accepts */

Test(formats, json_reader_is_lenient)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_login_any(h, 0, RC_JSON, "jo");
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "bi");

    /* Keys in any case and order, unknown keys ignored, escapes. */
    send_json_ok(j, "{\"connectionid\":\"jo:1\",\"Extra\":[1,{\"a\":null}],"
                    "\"DATA\":\"ZWNobw==\",\"otherclient\":\"\\u0062i\",\"meta\":5}");
    rc_expect(b, RC_SYN, "jo", "jo:1", rc_str("echo"));
    send_ok(b, RC_ACK, "jo", "jo:1", RC_NULL);
    rc_expect(j, RC_ACK, "bi", "jo:1", RC_NULL);
    /* A missing Data is null; objects separated by any whitespace. */
    send_json_ok(j, " \t{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:1\"}"
                    "  {\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:1\",\"Data\":\"YQ==\"}\r\n"
                    "\n\n{\"Meta\":0, \"OtherClient\":\"bi\",\"ConnectionID\":\"jo:1\","
                    "\"Data\":\"Yg==\"}");
    rc_expect(b, RC_DATA, "jo", "jo:1", RC_NULL);
    rc_expect(b, RC_DATA, "jo", "jo:1", rc_str("a"));
    rc_expect(b, RC_DATA, "jo", "jo:1", rc_str("b"));
    /* A missing ConnectionID is "", a missing Meta is 0 (Data): here an
     * unknown connection, bounced with the values as read. */
    send_json_ok(j, "{\"OtherClient\":\"bi\",\"Data\":\"eg==\"}");
    rc_expect(j, RC_NO_SUCH_CONN, "bi", "", rc_str("z"));
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* Go's encoder escapes <, > and &; both spellings are accepted. */
Test(formats, json_html_escapes_accepted)
{
    struct harness *h = harness_start(MPT_LISTEN_JSON_BINARY MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_connect(h, 0, RC_JSON);
    struct rc_client *b = rc_login_any(h, 1, RC_BINARY, "b&b");
    struct rc_msg m;

    send_json_ok(j, "{\"Meta\":8,\"OtherClient\":\"\\u003cjo\\u003e\",\"ConnectionID\":\"\",\"Data\":\"eA==\"}");
    rc_expect_meta(j, RC_AUTH_OK, &m);
    cr_assert_str_eq(m.other_client, "<jo>");
    rc_msg_free(&m);
    send_json_ok(j, "{\"Meta\":5,\"OtherClient\":\"b\\u0026b\",\"ConnectionID\":\"<jo>:1\",\"Data\":null}");
    rc_expect(b, RC_SYN, "<jo>", "<jo>:1", RC_NULL);
    send_ok(b, RC_ACK, "<jo>", "<jo>:1", RC_NULL);
    rc_expect_meta(j, RC_ACK, &m);
    cr_assert_str_eq(m.other_client, "b&b");
    cr_assert_str_eq(m.connection_id, "<jo>:1");
    rc_msg_free(&m);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* The auto listener */

Test(formats, auto_listener_sniffs)
{
    struct harness *h = harness_start(
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_login_any(h, 0, RC_JSON, "jo");
    struct rc_client *b = rc_login_any(h, 0, RC_BINARY, "bi");
    struct rc_client *w = rc_connect(h, 0, RC_JSON);
    struct rc_client *t = rc_connect(h, 0, RC_JSON);

    /* Leading whitespace means JSON too. */
    send_json_ok(w, "\n  {\"Meta\":8,\"OtherClient\":\"ws\",\"ConnectionID\":\"\",\"Data\":\"eA==\"}");
    rc_expect_line(w, "{\"Meta\":9,\"OtherClient\":\"ws\",\"ConnectionID\":\"\",\"Data\":null}");
    send_json_ok(t, "\t{\"Meta\":8,\"OtherClient\":\"tab\",\"ConnectionID\":\"\",\"Data\":\"eA==\"}");
    rc_expect_line(t, "{\"Meta\":9,\"OtherClient\":\"tab\",\"ConnectionID\":\"\",\"Data\":null}");
    /* Each is answered in its own format. */
    rc_open_conn(j, b, "jo:1", "echo");
    send_ok(b, RC_DATA, "jo", "jo:1", rc_str("hi"));
    rc_expect_line(j, "{\"Meta\":0,\"OtherClient\":\"bi\",\"ConnectionID\":\"jo:1\",\"Data\":\"aGk=\"}");
    rc_open_conn(w, b, "ws:1", "echo");
    rc_open_conn(b, t, "bi:1", "echo");
    rc_close(j);
    rc_close(b);
    rc_close(w);
    rc_close(t);
    harness_stop(h);
}

/* The first byte is sniffed even when it arrives alone. */
Test(formats, auto_listener_split_first_bytes)
{
    struct harness *h = harness_start(
        "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"auto\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    struct rc_client *j = rc_connect(h, 0, RC_JSON);
    struct rc_client *b = rc_connect(h, 0, RC_BINARY);
    size_t len;
    unsigned char *f = rc_binary_frame(RC_AUTH, "bi", "", rc_str("x"), -1, &len);

    cr_assert(rc_send_raw(j, "{", 1));
    cr_assert(rc_send_raw(b, f, 1));
    /* Give the broker a chance to read the lone bytes first: a third
     * client's login round trip (the test holds either way). */
    rc_close(rc_login_any(h, 0, RC_JSON, "sync"));
    send_json_ok(j, "\"Meta\":8,\"OtherClient\":\"jo\",\"ConnectionID\":\"\",\"Data\":\"eA==\"}");
    cr_assert(rc_send_raw(b, f + 1, len - 1));
    free(f);
    rc_expect(j, RC_AUTH_OK, "jo", "", RC_NULL);
    rc_expect(b, RC_AUTH_OK, "bi", "", RC_NULL);
    rc_close(j);
    rc_close(b);
    harness_stop(h);
}

/* ---------------------------------------------------------------------- */
/* Transports */

Test(formats, unix_socket_to_tcp)
{
    struct harness *h = harness_start(
        "listeners = ( { unix = \"@DIR@/mpbroker.sock\"; translator = \"binary\"; },\n"
        "              { address = \"127.0.0.1\"; port = 0; translator = \"json\"; },\n"
        "              { unix = \"@DIR@/auto.sock\"; translator = \"auto\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    struct harness_listener l = harness_listener(h, 0);

    cr_assert(l.is_unix, "listener 0 should be a Unix socket");
    cr_assert_str_eq(l.path, harness_path(h, "mpbroker.sock"));
    cr_assert_str_eq(l.translator, "binary");
    struct rc_client *u = rc_login_any(h, 0, RC_BINARY, "unix");
    struct rc_client *t = rc_login_any(h, 1, RC_JSON, "tcp");
    struct rc_client *a = rc_login_any(h, 2, RC_JSON, "unixjson");

    rc_open_conn(u, t, "unix:1", "echo");
    send_ok(t, RC_DATA, "unix", "unix:1", rc_str("over tcp"));
    rc_expect(u, RC_DATA, "tcp", "unix:1", rc_str("over tcp"));
    send_ok(u, RC_DATA, "tcp", "unix:1", rc_str("over unix"));
    rc_expect(t, RC_DATA, "unix", "unix:1", rc_str("over unix"));
    rc_open_conn(a, u, "unixjson:1", "echo");
    rc_close(u);
    rc_expect(t, RC_CLIENT_CLOSED, "unix", "", RC_NULL);
    rc_expect(a, RC_CLIENT_CLOSED, "unix", "", RC_NULL);
    rc_close(t);
    rc_close(a);
    harness_stop(h);
}

static bool ipv6_loopback_available(void)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    inet_pton(AF_INET6, "::1", &sa.sin6_addr);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

Test(formats, ipv6_listener)
{
    if (!ipv6_loopback_available())
        cr_skip_test("::1 is not available here");
    struct harness *h = harness_start(
        "listeners = ( { address = \"::1\"; port = 0; translator = \"auto\"; },\n"
        "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    struct harness_listener l = harness_listener(h, 0);

    cr_assert_str_eq(l.host, "::1");
    cr_assert(harness_log_contains(h, "listening on tcp:[::1]:"),
              "the IPv6 listener is not logged as tcp:[::1]:PORT");
    struct rc_client *six = rc_login_any(h, 0, RC_JSON, "six");
    struct rc_client *four = rc_login_any(h, 1, RC_BINARY, "four");
    struct rc_client *sixb = rc_login_any(h, 0, RC_BINARY, "sixb");

    rc_open_conn(six, four, "six:1", "echo");
    rc_open_conn(sixb, six, "sixb:1", "echo");
    send_ok(four, RC_DATA, "six", "six:1", rc_str("v4 to v6"));
    rc_expect(six, RC_DATA, "four", "six:1", rc_str("v4 to v6"));
    rc_close(six);
    rc_close(four);
    rc_close(sixb);
    harness_stop(h);
}

/* The socket's directory is created, parents included (/run/NAME is gone
 * after a reboot), and the socket file is removed at exit. */
Test(formats, unix_socket_directory_created_and_socket_removed)
{
    struct harness *h = harness_start(
        "listeners = ( { unix = \"@DIR@/run/mpbroker/mp.sock\"; translator = \"json\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    char path[512];

    snprintf(path, sizeof path, "%s", harness_path(h, "run/mpbroker/mp.sock"));
    struct rc_client *c = rc_login_any(h, 0, RC_JSON, "inrun");
    rc_close(c);
    cr_assert_eq(access(path, F_OK), 0, "socket file missing while running");
    harness_stop(h);
    cr_assert_neq(access(path, F_OK), 0, "socket file left behind at exit");
}

/* A socket file left by a broker that died is replaced; one that a live
 * process listens on is not stolen. */
Test(formats, unix_socket_stale_file_replaced)
{
    struct harness *h = harness_new();
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
             harness_path(h, "stale.sock"));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    close(fd); /* the file stays, nobody listens */
    harness_boot(h,
        "listeners = ( { unix = \"@DIR@/stale.sock\"; translator = \"json\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    struct rc_client *c = rc_login_any(h, 0, RC_JSON, "afterstale");
    rc_close(c);
    harness_stop(h);
}

Test(formats, unix_socket_in_use_is_an_error)
{
    struct harness *h = harness_new();
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    const char *conf;
    struct run_result r;

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s",
             harness_path(h, "busy.sock"));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    cr_assert_eq(listen(fd, 1), 0);
    conf = harness_write_config(h,
        "listeners = ( { unix = \"@DIR@/busy.sock\"; translator = \"json\"; } );\n"
        MPT_AUTH_ALLOW_ALL);
    const char *args[] = { "-c", conf, NULL };
    harness_run(args, mpt_ms(MPT_EXIT_MS), &r);
    close(fd);
    cr_assert_eq(r.exit_code, 1, "exit %d, stderr:\n%s", r.exit_code, r.err);
    cr_assert_not_null(strstr(r.err, "in use"), "stderr:\n%s", r.err);
    cr_assert_eq(access(sun.sun_path, F_OK), 0, "the live socket was removed");
    run_result_free(&r);
    harness_free(h);
}
