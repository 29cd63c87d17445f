/*
 * tls_reason.h - why a TLS bufferevent failed, as one line for a log or a
 * client: OpenSSL's error, and for a certificate that did not verify,
 * what was wrong with it ("certificate verify failed (certificate has
 * expired)"). Shared by the broker and libmpclient.
 *
 * Header-only so that libmpcommon needs no OpenSSL; callers link it.
 */
#ifndef MP_COMMON_TLS_REASON_H
#define MP_COMMON_TLS_REASON_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* OpenSSL's reason for `bev` into buf[0..len), draining its error queue;
 * false when it has none (or bev is not TLS). */
static inline bool mp_tls_reason(struct bufferevent *bev, char *buf,
                                 size_t len)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    unsigned long e;
    long verify;
    size_t used;

    if (ssl == NULL || (e = bufferevent_get_openssl_error(bev)) == 0)
        return false;
    ERR_error_string_n(e, buf, len);
    /* "certificate verify failed" alone does not say what was wrong. */
    verify = SSL_get_verify_result(ssl);
    used = strlen(buf);
    if (verify != X509_V_OK && used < len)
        snprintf(buf + used, len - used, " (%s)",
                 X509_verify_cert_error_string(verify));
    /* Drain the rest so that the next failure starts clean. */
    while (bufferevent_get_openssl_error(bev) != 0)
        continue;
    return true;
}

#endif
