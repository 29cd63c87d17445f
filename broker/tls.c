/* tls.c - TLS listeners (see tls.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "errors.h"
#include "tls.h"
#include "tls_reason.h"

/* The newest error of OpenSSL's queue as text, and clear the queue. */
static void openssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

static const config_setting_t *tls_member(const struct tls_conf *tc,
                                          const char *name)
{
    return conf_member_or_group(tc->entry, name);
}

static int load_identity(SSL_CTX *ctx, const struct tls_conf *tc,
                         struct errors *errs)
{
    char why[256];

    if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert) != 1) {
        openssl_error(why, sizeof why);
        conf_setting_error(errs, tls_member(tc, "cert"),
                           "cannot load certificate \"%s\": %s", tc->cert, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tc->key, SSL_FILETYPE_PEM) != 1) {
        openssl_error(why, sizeof why);
        conf_setting_error(errs, tls_member(tc, "key"),
                           "cannot load private key \"%s\": %s", tc->key, why);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        openssl_error(why, sizeof why);
        conf_setting_error(errs, tls_member(tc, "key"),
                           "does not match the certificate: %s", why);
        return -1;
    }
    return 0;
}

static int load_client_ca(SSL_CTX *ctx, const struct tls_conf *tc,
                          struct errors *errs)
{
    STACK_OF(X509_NAME) *names;
    char why[256];

    if (SSL_CTX_load_verify_locations(ctx, tc->ca, NULL) != 1 ||
        (names = SSL_load_client_CA_file(tc->ca)) == NULL) {
        openssl_error(why, sizeof why);
        conf_setting_error(errs, tls_member(tc, "ca"),
                           "cannot load CA file \"%s\": %s", tc->ca, why);
        return -1;
    }
    /* Tells clients which CAs we accept, so they pick the right cert. */
    SSL_CTX_set_client_CA_list(ctx, names);
    return 0;
}

SSL_CTX *tls_server_new(const struct tls_conf *tc, struct errors *errs)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int verify = SSL_VERIFY_NONE;

    if (ctx == NULL) {
        errors_add(errs, NULL, 0, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation only ever served attacks on servers like this one;
     * released buffers keep an idle TLS client small. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Moving buffers: a partial write may be retried from wherever the
     * evbuffer now holds the same bytes. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (load_identity(ctx, tc, errs) != 0 ||
        (tc->ca != NULL && load_client_ca(ctx, tc, errs) != 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (tc->verify_client == TLS_VERIFY_OPTIONAL)
        verify = SSL_VERIFY_PEER;
    else if (tc->verify_client == TLS_VERIFY_REQUIRED)
        verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, verify, NULL);
    return ctx;
}

void tls_server_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

struct bufferevent *tls_bufferevent_new(struct event_base *base,
                                        evutil_socket_t fd, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    struct bufferevent *bev;

    if (ssl == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, fd, ssl,
                                         BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        evutil_closesocket(fd);
        return NULL;
    }
    /* A client that just closes its socket has left, like on plain TCP;
     * the protocol's own messages say when a conversation is complete. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* The one CN of `name` as a NUL-terminated UTF-8 string, or NULL. */
static char *common_name(X509_NAME *name)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    char *cn = NULL;
    int len;

    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return NULL; /* none, or ambiguous */
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                         X509_NAME_get_entry(name, i)));
    if (len < 0)
        return NULL;
    /* A NUL inside would let "alice\0.evil" pass as "alice". */
    if (memchr(utf8, '\0', (size_t)len) == NULL)
        cn = strndup((const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    return cn;
}

static char *subject_string(X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL, *data;
    long len;

    if (bio == NULL)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        text = strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return text;
}

int tls_peer_identity(struct bufferevent *bev, char **subject,
                      char **common_name_out)
{
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert;
    X509_NAME *name;

    *subject = NULL;
    *common_name_out = NULL;
    if (ssl == NULL || (cert = SSL_get_peer_certificate(ssl)) == NULL)
        return 0;
    /* With SSL_VERIFY_PEER a failed check has already ended the
     * handshake; this guards against a future verify callback. */
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        X509_free(cert);
        return 0;
    }
    name = X509_get_subject_name(cert);
    *subject = subject_string(name);
    *common_name_out = common_name(name);
    X509_free(cert);
    return *subject != NULL ? 0 : -1;
}

void tls_error_string(struct bufferevent *bev, char *buf, size_t len)
{
    int sock_err = EVUTIL_SOCKET_ERROR();

    if (mp_tls_reason(bev, buf, len))
        return;
    if (sock_err != 0)
        snprintf(buf, len, "%s", evutil_socket_error_to_string(sock_err));
    else
        snprintf(buf, len, "TLS connection closed uncleanly");
}
