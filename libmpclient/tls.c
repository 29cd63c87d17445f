/*
 * tls.c - libmpclient over TLS ("tls:HOST:PORT"): TLS 1.2 or later, the
 * broker's certificate verified against a CA file (or the system's CAs)
 * and checked to name the host, and an optional client certificate.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client-internal.h"
#include "tls_reason.h"

/* The newest OpenSSL error as "what: reason", and clear the queue. */
static int tls_fail(char *err, size_t errlen, const char *what,
                    const char *file)
{
    char why[200];
    unsigned long e = ERR_peek_last_error();

    if (e != 0)
        ERR_error_string_n(e, why, sizeof why);
    else
        snprintf(why, sizeof why, "unknown error");
    ERR_clear_error();
    snprintf(err, errlen, "%s \"%s\": %s", what, file, why);
    return MP_ERR_TLS;
}

static int load_trust(SSL_CTX *ctx, const char *ca_file, char *err,
                      size_t errlen)
{
    if (ca_file == NULL) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            return tls_fail(err, errlen, "cannot load the system's CAs", "");
        return MP_OK;
    }
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
        return tls_fail(err, errlen, "cannot load CA file", ca_file);
    return MP_OK;
}

static int load_client_cert(SSL_CTX *ctx, const char *cert, const char *key,
                            char *err, size_t errlen)
{
    if (cert == NULL)
        return MP_OK;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return tls_fail(err, errlen, "cannot load certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert,
                                    SSL_FILETYPE_PEM) != 1)
        return tls_fail(err, errlen, "cannot load private key",
                        key ? key : cert);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_fail(err, errlen, "private key does not match", cert);
    return MP_OK;
}

int mp_tls_context_new(struct mp_client *c, const struct mp_client_options *o,
                       char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int rc;

    if (ctx == NULL)
        return MP_ERR_NOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Moving buffers: a partial write may be retried from wherever the
     * evbuffer now holds the same bytes. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    rc = load_trust(ctx, o->tls_ca_file, err, errlen);
    if (rc == MP_OK)
        rc = load_client_cert(ctx, o->tls_cert_file, o->tls_key_file, err,
                              errlen);
    if (rc != MP_OK) {
        SSL_CTX_free(ctx);
        return rc;
    }
    c->tls_ctx = ctx;
    return MP_OK;
}

void mp_tls_context_free(struct mp_client *c)
{
    SSL_CTX_free(c->tls_ctx);
    c->tls_ctx = NULL;
}

static bool is_ip_address(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* Verify that the certificate names `host`: a DNS name (also sent as SNI)
 * or an IP address, which must then be in its subjectAltName. */
static int expect_name(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    if (is_ip_address(host))
        return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host) != 1 ||
        SSL_set_tlsext_host_name(ssl, host) != 1)
        return -1;
    return 0;
}

struct bufferevent *mp_tls_bufferevent_new(struct mp_client *c,
                                           const char *host, int fd)
{
    SSL *ssl = SSL_new(c->tls_ctx);
    struct bufferevent *bev;

    if (ssl == NULL)
        return NULL;
    /* The name, never the address the dialer connected to: a name that
     * resolves to several addresses is verified the same on each. */
    if (expect_name(ssl, c->tls_server_name ? c->tls_server_name : host) != 0) {
        SSL_free(ssl);
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(c->base, fd, ssl,
                                         BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* The broker closes sockets without close_notify (a refused login, a
     * shutdown); the protocol says when a conversation is complete. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

bool mp_tls_error(struct bufferevent *bev, char *buf, size_t len)
{
    return mp_tls_reason(bev, buf, len);
}

void mp_tls_flush(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    struct evbuffer *out = bufferevent_get_output(bev);

    while (ssl != NULL && evbuffer_get_length(out) > 0) {
        size_t chunk = evbuffer_get_contiguous_space(out);
        const unsigned char *p = evbuffer_pullup(out, (ev_ssize_t)chunk);
        int n;

        if (p == NULL || chunk > INT_MAX)
            break;
        n = SSL_write(ssl, p, (int)chunk);
        if (n <= 0)
            break; /* the kernel is full, or the link is gone */
        evbuffer_drain(out, (size_t)n);
    }
    mp_tls_close_notify(bev);
}

void mp_tls_close_notify(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);

    if (ssl != NULL && SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    ERR_clear_error();
}
