/*
 * tls.h - TLS listeners: one OpenSSL server context per listener with a
 * `tls` group, and the bufferevents that speak TLS over accepted sockets.
 *
 * TLS 1.2 is the oldest version offered. The client certificate is
 * requested when verify_client is "optional" or "required" and checked
 * against the listener's CA file during the handshake; a presented
 * certificate that does not verify fails the handshake either way.
 *
 * Ownership: the SSL_CTX belongs to the listener (tls_server_free() at
 * close); each SSL belongs to its bufferevent (freed with it).
 */
#ifndef MP_BROKER_TLS_H
#define MP_BROKER_TLS_H

#include <stddef.h>

#include <event2/util.h>

struct bufferevent;
struct event_base;
struct errors;
struct tls_conf;
struct ssl_ctx_st;

/* A server context for `tc`, or NULL with an error added to errs (naming
 * the config file, line and setting). */
struct ssl_ctx_st *tls_server_new(const struct tls_conf *tc,
                                  struct errors *errs);
void tls_server_free(struct ssl_ctx_st *ctx);

/* A bufferevent that accepts a TLS session on `fd` (which it then owns,
 * also on failure). NULL if out of memory. */
struct bufferevent *tls_bufferevent_new(struct event_base *base,
                                        evutil_socket_t fd,
                                        struct ssl_ctx_st *ctx);

/*
 * The verified client certificate of a TLS bufferevent: *subject (RFC 2253)
 * and *common_name (UTF-8; NULL when the subject has no CN, several CNs,
 * or one with a NUL byte), both malloc'd for the caller. Both are NULL
 * when no certificate was presented or bev does not speak TLS. Returns 0,
 * or -1 if out of memory.
 */
int tls_peer_identity(struct bufferevent *bev, char **subject,
                      char **common_name);

/* The reason a TLS bufferevent failed, for the log: the OpenSSL error
 * queue of that bufferevent, or the socket error. */
void tls_error_string(struct bufferevent *bev, char *buf, size_t len);

#endif
