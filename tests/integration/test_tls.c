/*
 * Integration tests: TLS listeners (limits of the handshake, client
 * certificates), libmpclient's tls: addresses, and the auth_cert plugin.
 *
 * Every test makes fresh certificates (tests/support/make-certs.sh) in its
 * harness directory: a CA, a server certificate for localhost/127.0.0.1,
 * client certificates for alice and bob, an expired one and one signed by
 * a CA the broker does not know.
 *
 * Listener 0 speaks TLS, listener 1 is plain TCP; both binary.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <mp/client.h>

#include "certs.h"
#include "harness.h"
#include "rawclient.h"

TestSuite(tls, .fini = harness_reap_all, .timeout = 120);

#define TLS_LISTENER 0
#define PLAIN_LISTENER 1
#define SECRET MPT_SECRET_ALLOW_ALL

/* The two listeners, with verify_client = VERIFY. */
#define LISTENERS(VERIFY)                                                    \
    "listeners = ( { address = \"127.0.0.1\"; port = 0; translator = \"binary\";\n" \
    "                tls = { cert = \"@DIR@/server.pem\"; key = \"@DIR@/server.key\";\n" \
    "                        ca = \"@DIR@/ca.pem\"; verify_client = \"" VERIFY "\"; }; },\n" \
    "              { address = \"127.0.0.1\"; port = 0; translator = \"binary\"; } );\n"

#define AUTH_CERT_THEN_PASSWD                                                \
    "authenticators = ( { module = \"auth_cert.so\"; },\n"                    \
    "                   { module = \"auth_passwd.so\";\n"                     \
    "                     options = { file = \"@DIR@/passwd\"; }; } );\n"

/* A broker with fresh certificates and `body`. */
static struct harness *start(const char *body)
{
    struct harness *h = harness_new();

    mpt_make_certs(h);
    harness_boot(h, body);
    cr_assert(harness_listener(h, TLS_LISTENER).is_tls,
              "listener 0 was not announced as tls:");
    return h;
}

/* What a TLS login needs besides the name. */
struct tls_login {
    const char *host;        /* "localhost" (default) or an address */
    const char *ca;          /* file in the harness dir; NULL: ca.pem */
    const char *cert;        /* client certificate basename, or NULL */
    const char *server_name;
    const char *secret;      /* NULL: the allow-all secret */
};

struct outcome {
    int status;
    char reason[256];
    struct mp_client *client; /* logged in (own loop), or NULL */
};

static char *dir_file(struct harness *h, const char *name, const char *ext)
{
    char *p;

    cr_assert(asprintf(&p, "%s/%s%s", harness_dir(h), name, ext) > 0);
    return p;
}

/* Log in as `name` over TLS with mp_client_connect_wait(). */
static struct outcome login_tls(struct harness *h, const char *name,
                                struct tls_login t)
{
    struct harness_listener l = harness_listener(h, TLS_LISTENER);
    struct mp_client_options o = MP_CLIENT_OPTIONS_INIT;
    struct outcome out = {0};
    char address[128];
    char *ca = dir_file(h, t.ca ? t.ca : "ca", ".pem");
    char *cert = t.cert ? dir_file(h, t.cert, ".pem") : NULL;
    char *key = t.cert ? dir_file(h, t.cert, ".key") : NULL;
    int err = 0;

    snprintf(address, sizeof address, "tls:%s:%d",
             t.host ? t.host : "localhost", l.port);
    o.address = address;
    o.name = name;
    o.secret = t.secret ? t.secret : SECRET;
    o.secret_len = strlen(o.secret);
    o.connect_timeout_ms = (unsigned)mpt_ms(MPT_MSG_MS);
    o.tls_ca_file = ca;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.tls_server_name = t.server_name;
    out.client = mp_client_new(NULL, &o, &err);
    cr_assert_not_null(out.client, "mp_client_new: %s", mp_strerror(err));
    out.status = mp_client_connect_wait(out.client, out.reason,
                                        sizeof out.reason);
    if (out.status != MP_OK) {
        /* connect_wait copies only the broker's reason: keep ours too. */
        mp_client_free(out.client);
        out.client = NULL;
    }
    free(ca);
    free(cert);
    free(key);
    return out;
}

static void expect_login(struct harness *h, const char *name,
                         struct tls_login t)
{
    struct outcome o = login_tls(h, name, t);

    cr_assert_eq(o.status, MP_OK, "login as %s: %s (%s)", name,
                 mp_strerror(o.status), o.reason);
    mp_client_free(o.client);
}

/* The broker refused our certificate. Under TLS 1.3 the client finishes
 * its side of the handshake first and learns of the refusal only with
 * its first read; if the broker's close wins the race with the alert, it
 * sees a lost connection instead of the alert. Either way it is not in,
 * and the broker logs why. */
static void expect_cert_refused(struct harness *h, struct tls_login t,
                                const char *broker_reason)
{
    struct outcome o = login_tls(h, "alice", t);

    cr_assert(o.status == MP_ERR_TLS || o.status == MP_ERR_BROKER_GONE,
              "login: got %s (%s)", mp_strerror(o.status), o.reason);
    cr_assert(harness_wait_log(h, broker_reason, mpt_ms(MPT_MSG_MS)),
              "the broker did not log \"%s\"", broker_reason);
    mp_client_free(o.client);
}

static void expect_refused(struct harness *h, const char *name,
                           struct tls_login t, int status, const char *reason)
{
    struct outcome o = login_tls(h, name, t);

    cr_assert_eq(o.status, status, "login as %s: got %s (%s), want %s", name,
                 mp_strerror(o.status), o.reason, mp_strerror(status));
    if (reason != NULL)
        cr_assert(strstr(o.reason, reason) != NULL,
                  "reason \"%s\" lacks \"%s\"", o.reason, reason);
    mp_client_free(o.client);
}

/* The broker still serves a plain client: log one in and out. */
static void plain_client_still_served(struct harness *h)
{
    struct rc_client *c = rc_login_any(h, PLAIN_LISTENER, RC_BINARY, "plain");

    rc_close(c);
}

/* ------------------------------------------------------------------------
 * Handshakes
 */

Test(tls, login_and_talk_to_a_plain_client)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));
    struct outcome alice = login_tls(h, "alice", (struct tls_login){0});
    struct rc_client *bob = rc_login_any(h, PLAIN_LISTENER, RC_BINARY, "bob");
    struct rc_msg m;

    cr_assert_eq(alice.status, MP_OK, "%s (%s)", mp_strerror(alice.status),
                 alice.reason);
    /* bob (plain) opens a connection to alice (TLS): alice's library has
     * no handler for "x" and refuses it, which proves the round trip. */
    rc_send(bob, RC_SYN, "alice", "bob:1", rc_str("x"));
    for (int i = 0; i < mpt_ms(MPT_MSG_MS) / 10; i++) {
        event_base_loop(mp_client_base(alice.client), EVLOOP_NONBLOCK);
        if (rc_recv(bob, &m, 10) == RC_OK)
            break;
    }
    cr_assert_eq(m.meta, RC_UNKNOWN_PROTO, "bob got meta %d", m.meta);
    cr_assert_str_eq(m.connection_id, "bob:1");
    rc_msg_free(&m);
    cr_assert(harness_wait_log(h, "client alice logged in", mpt_ms(MPT_MSG_MS)));
    mp_client_free(alice.client);
    rc_close(bob);
    harness_stop(h);
}

Test(tls, the_broker_certificate_is_checked_by_ip_address_too)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));

    expect_login(h, "alice", (struct tls_login){.host = "127.0.0.1"});
    harness_stop(h);
}

Test(tls, an_unknown_broker_ca_fails_the_handshake)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));

    expect_refused(h, "alice", (struct tls_login){.ca = "rogue-ca"},
                   MP_ERR_TLS, "certificate verify failed");
    plain_client_still_served(h);
    harness_stop(h);
}

Test(tls, a_wrong_server_name_fails_the_handshake)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));

    expect_refused(h, "alice",
                   (struct tls_login){.server_name = "other.example"},
                   MP_ERR_TLS, "(hostname mismatch)");
    harness_stop(h);
}

Test(tls, a_missing_ca_file_is_reported_with_its_name)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));

    expect_refused(h, "alice", (struct tls_login){.ca = "nonexistent"},
                   MP_ERR_TLS, "nonexistent.pem");
    harness_stop(h);
}

Test(tls, a_plain_client_on_the_tls_port_is_closed_alone)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));
    struct harness_listener l = harness_listener(h, TLS_LISTENER);
    struct rc_client *c = rc_connect_tcp(l.host, l.port, RC_BINARY);
    int st;

    cr_assert_not_null(c);
    cr_assert(rc_send(c, RC_AUTH, "mallory", "", rc_str(SECRET)));
    st = rc_wait_eof(c, mpt_ms(MPT_MSG_MS));
    cr_assert(st == RC_EOF || st == RC_BAD, "the broker kept the socket: %s",
              rc_status_name(st));
    cr_assert(harness_wait_log(h, "closed before authentication",
                               mpt_ms(MPT_MSG_MS)));
    rc_close(c);
    expect_login(h, "alice", (struct tls_login){0});
    harness_stop(h);
}

/* A raw handshake limited to [min, max]; 1 if it succeeded. */
static int raw_handshake(struct harness *h, int min, int max)
{
    struct harness_listener l = harness_listener(h, TLS_LISTENER);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)l.port)};
    struct timeval tv = {.tv_sec = mpt_ms(MPT_MSG_MS) / 1000 + 1};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;
    int fd, ok;

    cr_assert_not_null(ctx);
    /* Let OpenSSL itself offer old versions: the broker must refuse. */
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ok = SSL_connect(ssl) == 1;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    close(fd);
    return ok;
}

Test(tls, tls_1_1_and_older_are_refused)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("none"));

    cr_assert_not(raw_handshake(h, TLS1_VERSION, TLS1_1_VERSION),
                  "a TLS 1.1 handshake succeeded");
    cr_assert(raw_handshake(h, TLS1_2_VERSION, TLS1_2_VERSION),
              "a TLS 1.2 handshake failed");
    cr_assert(raw_handshake(h, TLS1_3_VERSION, TLS1_3_VERSION),
              "a TLS 1.3 handshake failed");
    plain_client_still_served(h);
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Client certificates
 */

Test(tls, required_client_certificate_missing)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("required"));

    expect_cert_refused(h, (struct tls_login){0},
                        "peer did not return a certificate");
    plain_client_still_served(h);
    harness_stop(h);
}

Test(tls, required_client_certificate_valid)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("required"));

    expect_login(h, "alice", (struct tls_login){.cert = "alice"});
    harness_stop(h);
}

Test(tls, an_expired_client_certificate_is_refused)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("required"));

    expect_cert_refused(h, (struct tls_login){.cert = "expired"},
                        "(certificate has expired)");
    harness_stop(h);
}

Test(tls, a_client_certificate_of_another_ca_is_refused)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("optional"));

    expect_cert_refused(h, (struct tls_login){.cert = "rogue"},
                        "(unable to get local issuer certificate)");
    harness_stop(h);
}

Test(tls, optional_client_certificate_may_be_absent)
{
    struct harness *h = start(MPT_AUTH_ALLOW_ALL LISTENERS("optional"));

    expect_login(h, "alice", (struct tls_login){0});
    expect_login(h, "bob", (struct tls_login){.cert = "bob"});
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * auth_cert
 */

static struct harness *start_cert_then_passwd(const char *verify_body)
{
    struct harness *h = harness_new();
    char *entry = harness_passwd_entry("carol", "carol-secret");

    mpt_make_certs(h);
    harness_write_file(h, "passwd", entry);
    free(entry);
    harness_boot(h, verify_body);
    return h;
}

Test(tls, auth_cert_lets_in_the_name_of_the_certificate)
{
    struct harness *h =
        start_cert_then_passwd(AUTH_CERT_THEN_PASSWD LISTENERS("optional"));

    /* No secret at all: the certificate is the credential. */
    expect_login(h, "alice", (struct tls_login){.cert = "alice", .secret = ""});
    expect_login(h, "bob", (struct tls_login){.cert = "bob", .secret = ""});
    harness_stop(h);
}

Test(tls, auth_cert_refuses_another_name)
{
    struct harness *h =
        start_cert_then_passwd(AUTH_CERT_THEN_PASSWD LISTENERS("optional"));

    expect_refused(h, "bob", (struct tls_login){.cert = "alice"}, MP_ERR_AUTH,
                   "certificate does not match the name");
    cr_assert(harness_wait_log(h, "CN=alice", mpt_ms(MPT_MSG_MS)),
              "the subject did not reach the log");
    harness_stop(h);
}

Test(tls, auth_cert_defers_without_a_certificate)
{
    struct harness *h =
        start_cert_then_passwd(AUTH_CERT_THEN_PASSWD LISTENERS("optional"));

    expect_login(h, "carol", (struct tls_login){.secret = "carol-secret"});
    expect_refused(h, "carol", (struct tls_login){.secret = "wrong"},
                   MP_ERR_AUTH, "invalid name or secret");
    harness_stop(h);
}

Test(tls, auth_cert_required_refuses_logins_without_a_certificate)
{
    struct harness *h = start(
        "authenticators = ( { module = \"auth_cert.so\";\n"
        "                     options = { required = true; }; },\n"
        "                   { module = \"auth_allow_all.so\"; } );\n"
        LISTENERS("optional"));
    struct rc_client *c;

    expect_refused(h, "alice", (struct tls_login){0}, MP_ERR_AUTH,
                   "a client certificate is required");
    /* The plain listener has no certificate either. */
    c = rc_connect(h, PLAIN_LISTENER, RC_BINARY);
    cr_assert(rc_send(c, RC_AUTH, "alice", "", rc_str(SECRET)));
    rc_expect_auth_failure(c, "a client certificate is required");
    rc_close(c);
    expect_login(h, "alice", (struct tls_login){.cert = "alice"});
    harness_stop(h);
}

/* ------------------------------------------------------------------------
 * Configuration
 */

static struct run_result check_config(struct harness *h, const char *body)
{
    const char *conf = harness_write_config(h, body);
    const char *args[] = {"-t", "-c", conf, NULL};
    struct run_result r;

    cr_assert(harness_run(args, mpt_ms(MPT_EXIT_MS), &r));
    return r;
}

static void expect_config_error(const char *body, const char *error)
{
    struct harness *h = harness_new();
    struct run_result r;

    mpt_make_certs(h);
    r = check_config(h, body);
    cr_assert_eq(r.exit_code, 1, "mpbroker -t exited %d: %s", r.exit_code,
                 r.err);
    cr_assert(strstr(r.err, error) != NULL, "stderr lacks \"%s\":\n%s", error,
              r.err);
    run_result_free(&r);
    harness_free(h);
}

#define TLS_LISTENER_WITH(TLS)                                               \
    MPT_AUTH_ALLOW_ALL                                                        \
    "listeners = ( { address = \"127.0.0.1\"; port = 0;\n"                    \
    "                tls = { " TLS " }; } );\n"

Test(tls, config_missing_certificate_file)
{
    /* Line 7: the prologue's lines, the authenticator, "listeners = (". */
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"@DIR@/none.pem\"; key = \"@DIR@/server.key\";"),
        "listeners[0].tls.cert: cannot load certificate");
}

Test(tls, config_key_of_another_certificate)
{
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"@DIR@/server.pem\"; key = \"@DIR@/alice.key\";"),
        "listeners[0].tls.key: cannot load private key");
}

Test(tls, config_verify_client_needs_a_ca)
{
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"@DIR@/server.pem\"; key = \"@DIR@/server.key\";"
                          " verify_client = \"required\";"),
        "listeners[0].tls: verify_client \"required\" needs 'ca'");
}

Test(tls, config_bad_verify_client_value)
{
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"@DIR@/server.pem\"; key = \"@DIR@/server.key\";"
                          " ca = \"@DIR@/ca.pem\"; verify_client = \"maybe\";"),
        "listeners[0].tls.verify_client: must be \"none\", \"optional\" or "
        "\"required\"");
}

Test(tls, config_unknown_tls_setting_and_relative_path)
{
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"server.pem\"; key = \"@DIR@/server.key\";"
                          " ciphers = \"ALL\";"),
        "listeners[0].tls.ciphers: unknown setting 'ciphers'");
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"server.pem\"; key = \"@DIR@/server.key\";"),
        "listeners[0].tls.cert: must be an absolute path");
}

Test(tls, config_tls_on_a_unix_socket)
{
    expect_config_error(
        MPT_AUTH_ALLOW_ALL
        "listeners = ( { unix = \"@DIR@/s\"; tls = { cert = \"@DIR@/server.pem\";"
        " key = \"@DIR@/server.key\"; }; } );\n",
        "listeners[0].tls: TLS is for TCP listeners");
}

Test(tls, config_errors_name_the_file_and_line)
{
    char want[64];

    /* The tls group opens on line HARNESS_PROLOGUE_LINES + 3. */
    snprintf(want, sizeof want, "mpbroker.conf:%d: listeners[0].tls.cert",
             HARNESS_PROLOGUE_LINES + 3);
    expect_config_error(
        TLS_LISTENER_WITH("cert = \"@DIR@/none.pem\"; key = \"@DIR@/server.key\";"),
        want);
}
