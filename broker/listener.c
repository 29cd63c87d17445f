/* listener.c - TCP and Unix listeners (see listener.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "accept_pause.h"
#include "auth_throttle.h"
#include "broker.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "sources.h"
#include "tls.h"
#include "ws_session.h"
#include "xalloc.h"

enum { LISTEN_BACKLOG = 512 };

/* A Unix peer by its uid ("unix(uid=1000)"), which the login throttle
 * counts under (auth_throttle.h); "unix" where the kernel does not say. */
static void format_unix_peer(evutil_socket_t fd, char *buf, size_t len)
{
#ifdef SO_PEERCRED
    struct ucred cred;
    socklen_t cred_len = sizeof cred;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 &&
        cred_len == sizeof cred) {
        snprintf(buf, len, "unix(uid=%lu)", (unsigned long)cred.uid);
        return;
    }
#else
    (void)fd;
#endif
    snprintf(buf, len, "unix");
}

/* "192.0.2.1:4242" or "[2001:db8::1]:4242" for a TCP peer, "unix(uid=N)"
 * for a Unix one. */
static void format_address(evutil_socket_t fd, const struct sockaddr *sa,
                           char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        format_unix_peer(fd, buf, len);
    }
}

/* setsockopt() of an int option on a client socket. A failure costs a
 * feature (keepalive, no Nagle delay), not the client: log it, rate
 * limited as every line a client can cause, and go on. */
static int set_option(evutil_socket_t fd, int level, int name, int value,
                      const char *what, const char *peer)
{
    if (setsockopt(fd, level, name, &value, sizeof value) == 0)
        return 0;
    log_warn("cannot set %s on the socket of %s: %s", what, peer,
             strerror(errno));
    return -1;
}

/* TCP keepalive finds peers that vanished without a FIN (a host that lost
 * power, a NAT that forgot the flow), so their peers are told: probes
 * start after idle_s seconds of silence, every idle_s/6 (at least 1 s),
 * and 6 unanswered ones close the socket - about 2 x idle_s in all. */
static void set_keepalive(evutil_socket_t fd, unsigned idle_s,
                          const char *peer)
{
    int on = idle_s > 0;
    int idle = (int)idle_s, interval = idle_s >= 6 ? (int)idle_s / 6 : 1;
    int count = 6;

    set_option(fd, SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE", peer);
    if (!on)
        return;
    set_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, "TCP_KEEPIDLE", peer);
    set_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval, "TCP_KEEPINTVL",
               peer);
    set_option(fd, IPPROTO_TCP, TCP_KEEPCNT, count, "TCP_KEEPCNT", peer);
}

/*
 * Which limit, if any, refuses one more socket from `src` (NULL: none
 * from there yet)? The limits on sockets not logged in yet answer a
 * flood of idle connections (OpenSSH's MaxStartups and
 * PerSourceMaxStartups); the one per address keeps a single host from
 * taking every slot of max_clients.
 */
_Static_assert(SOURCE_KEY_MAX == AUTH_SOURCE_MAX, "one key for both tables");

static const char *admission_refusal(struct broker *b, const struct source *src,
                                     unsigned *limit)
{
    const struct broker_conf *c = &b->conf;

    if (b->n_sessions >= c->max_clients) {
        b->stats.refused_max_clients++;
        *limit = c->max_clients;
        return "max_clients";
    }
    if (b->n_unauthenticated >= c->max_unauthenticated) {
        b->stats.refused_unauthenticated++;
        *limit = c->max_unauthenticated;
        return "max_unauthenticated";
    }
    if (src == NULL)
        return NULL;
    if (c->max_clients_per_address > 0 &&
        src->sockets >= c->max_clients_per_address) {
        b->stats.refused_per_address++;
        *limit = c->max_clients_per_address;
        return "max_clients_per_address";
    }
    if (c->max_unauthenticated_per_address > 0 &&
        src->unauthenticated >= c->max_unauthenticated_per_address) {
        b->stats.refused_unauthenticated_per_address++;
        *limit = c->max_unauthenticated_per_address;
        return "max_unauthenticated_per_address";
    }
    return NULL;
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
                      struct sockaddr *sa, int socklen, void *arg)
{
    struct listener *l = arg;
    struct broker *b = l->broker;
    char peer[64], key[AUTH_SOURCE_MAX];
    const char *refusal;
    struct source *src;
    unsigned limit = 0;

    (void)evl;
    (void)socklen;
    format_address(fd, sa, peer, sizeof peer);
    accept_pause_accepted(&l->pause);
    auth_throttle_source(peer, key, sizeof key);
    refusal = admission_refusal(b, source_find(b->sources, key), &limit);
    if (refusal != NULL) {
        if (client_log_allowed(b, NULL))
            log_warn("refusing connection from %s: peer=%s source=%s "
                     "listener=%s reason=%s %s=%u", peer, peer, key,
                     LOG_VALUE(l->label), refusal, refusal, limit);
        evutil_closesocket(fd);
        return;
    }
    src = source_acquire(b->sources, key);
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        /* Messages are small and latency matters: no Nagle delay. */
        set_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", peer);
        set_keepalive(fd, b->conf.tcp_keepalive_s, peer);
    }
    session_new(b, l, fd, peer, src);
}

/* accept() failed (e.g. out of file descriptors): pause this listener for
 * a while instead of spinning on a socket that stays readable. */
static void accept_error_cb(struct evconnlistener *evl, void *arg)
{
    struct listener *l = arg;

    (void)evl;
    accept_pause_failed(&l->pause);
}

int listen_tcp(const config_setting_t *entry, const char *address, int port,
               char *label, size_t len, struct errors *errs)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    char service[8];
    int fd = -1, one = 1, rc;

    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(address, service, &hints, &res);
    if (rc != 0) {
        conf_setting_error(errs, entry, "address \"%s\": %s", address,
                           gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    /* Without SO_REUSEADDR a restart may fail to bind for a while; and
     * "::" means IPv6 only, so that "0.0.0.0" can be listed beside it:
     * without IPV6_V6ONLY it would take the IPv4 port too. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (res->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0))
        goto fail;
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0)
        goto fail;
    freeaddrinfo(res);
    format_address(fd, (struct sockaddr *)&bound, label, len);
    return fd;
fail:
    conf_setting_error(errs, entry, "cannot listen on %s port %d: %s",
                       address, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

/* A socket file left by a broker that died: remove it, but never steal
 * the path from one that is running. */
static int clear_stale_socket(const char *path, const struct listener_conf *lc,
                              struct errors *errs)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, in_use;

    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        conf_setting_error(errs, lc->entry, "\"%s\" exists and is not a "
                                            "socket", path);
        return -1;
    }
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    in_use = fd >= 0 &&
             connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    if (fd >= 0)
        close(fd);
    if (in_use) {
        conf_setting_error(errs, lc->entry, "\"%s\" is in use by a running "
                                            "process", path);
        return -1;
    }
    unlink(path);
    return 0;
}

/* Create the socket's directory and any missing parent (mode 0755), as
 * /run/NAME is wiped at boot: a fresh boot needs no extra step. */
static void make_parent_dirs(const char *path)
{
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
    char *slash;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0755); /* EEXIST is the usual answer */
        *p = '/';
    }
    if (mkdir(dir, 0755) == 0)
        log_info("created directory %s", dir);
}

static int bind_unix(const struct listener_conf *lc, char *label, size_t len,
                     struct errors *errs)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(lc->unix_path) >= sizeof sun.sun_path) {
        conf_setting_error(errs, lc->entry, "socket path is longer than %zu "
                                            "bytes", sizeof sun.sun_path - 1);
        return -1;
    }
    memcpy(sun.sun_path, lc->unix_path, strlen(lc->unix_path) + 1);
    make_parent_dirs(lc->unix_path);
    if (clear_stale_socket(lc->unix_path, lc, errs) != 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        conf_setting_error(errs, lc->entry, "cannot listen on %s: %s",
                           lc->unix_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* Connecting needs write permission on the socket; whatever umask
     * the broker runs under, the listener's mode decides (logging in is
     * the access control; a stricter mode narrows who may try). */
    if (chmod(lc->unix_path, lc->unix_mode) != 0) {
        conf_setting_error(errs, conf_member_or_group(lc->entry, "mode"),
                           "cannot set mode %04o on %s: %s", lc->unix_mode,
                           lc->unix_path, strerror(errno));
        close(fd);
        unlink(lc->unix_path);
        return -1;
    }
    snprintf(label, len, "unix:%s", lc->unix_path);
    return fd;
}

static void listener_free(struct listener *l)
{
    accept_pause_clear(&l->pause);
    if (l->evl != NULL)
        evconnlistener_free(l->evl);
    if (l->tls != NULL)
        tls_server_free(l->tls);
    ws_listener_free(l->ws);
    free(l->traffic);
    if (l->unix_path != NULL) {
        if (!l->retired)
            unlink(l->unix_path); /* a retired one was unlinked then */
        free(l->unix_path);
    }
    free(l->address);
    free(l);
}

/* "tcp:ADDR:PORT", "tls:ADDR:PORT", "ws:ADDR:PORT", "wss:ADDR:PORT" or
 * "unix:PATH". */
static void set_label(struct listener *l)
{
    const char *scheme = l->ws != NULL ? (l->tls != NULL ? "wss" : "ws")
                                       : (l->tls != NULL ? "tls" : "tcp");

    if (l->unix_path != NULL)
        snprintf(l->label, sizeof l->label, "%s", l->where);
    else
        snprintf(l->label, sizeof l->label, "%s:%s", scheme, l->where);
}

/* The WebSocket policy of lc (none without a websocket group). */
static void apply_ws(struct listener *l, const struct listener_conf *lc)
{
    ws_listener_free(l->ws);
    l->ws = ws_listener_new(lc, &l->broker->plugins, l->translator);
}

/* The TLS context and label of `l` from lc's tls group. */
static int apply_tls(struct listener *l, const struct listener_conf *lc,
                     struct errors *errs)
{
    struct ssl_ctx_st *ctx = NULL;

    if (lc->tls.entry != NULL && (ctx = tls_server_new(&lc->tls, errs)) == NULL)
        return -1;
    if (l->tls != NULL)
        tls_server_free(l->tls); /* sessions keep their own reference */
    l->tls = ctx;
    set_label(l);
    return 0;
}

static const struct loaded_plugin *translator_of(struct broker *b,
                                                 const struct listener_conf *lc)
{
    if (strcmp(lc->translator, "auto") == 0)
        return NULL;
    return plugins_translator(&b->plugins, lc->translator);
}

struct listener *listener_open(struct broker *b, const struct listener_conf *lc,
                               struct errors *errs)
{
    struct listener *l = listener_new(b, translator_of(b, lc), NULL);
    int fd;

    l->port = lc->port;
    if (lc->address != NULL)
        l->address = mp_xstrdup(lc->address);
    if (lc->unix_path != NULL) {
        l->unix_path = mp_xstrdup(lc->unix_path);
        fd = bind_unix(lc, l->where, sizeof l->where, errs);
    } else {
        fd = listen_tcp(lc->entry, lc->address, lc->port, l->where,
                        sizeof l->where, errs);
    }
    set_label(l);
    if (fd < 0) {
        free(l->unix_path); /* not ours to unlink: it may be in use */
        l->unix_path = NULL;
        listener_free(l);
        return NULL;
    }
    l->evl = evconnlistener_new(b->base, accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, fd);
    if (l->evl == NULL)
        close(fd);
    if (l->evl == NULL) {
        errors_add(errs, NULL, 0, "cannot listen on %s: %s", l->label,
                   strerror(errno));
        listener_free(l);
        return NULL;
    }
    if (accept_pause_init(&l->pause, b->base, l->evl, l->label) != 0)
        mp_out_of_memory("an event", 0);
    apply_ws(l, lc);
    if (apply_tls(l, lc, errs) != 0) {
        listener_free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->evl, accept_error_cb);
    log_info("listening on %s translator=%s", l->label, lc->translator);
    return l;
}

struct listener *listener_new(struct broker *b,
                              const struct loaded_plugin *translator,
                              const char *label)
{
    struct listener *l = mp_xcalloc(1, sizeof *l);

    l->broker = b;
    l->translator = translator;
    l->traffic = mp_xcalloc(b->plugins.n_translators, sizeof *l->traffic);
    if (label != NULL)
        snprintf(l->label, sizeof l->label, "%s", label);
    return l;
}

void listener_link(struct broker *b, struct listener *l)
{
    l->next = b->listeners;
    b->listeners = l;
}

void listener_discard(struct listener *l)
{
    listener_free(l);
}

int listeners_open(struct broker *b, struct errors *errs)
{
    int rc = 0;

    for (size_t i = 0; i < b->conf.n_listeners; i++) {
        struct listener *l = listener_open(b, &b->conf.listeners[i], errs);
        if (l != NULL)
            listener_link(b, l);
        else
            rc = -1;
    }
    return rc;
}

bool listener_is(const struct listener *l, const struct listener_conf *lc)
{
    if (l->retired)
        return false;
    if (lc->unix_path != NULL || l->unix_path != NULL)
        return lc->unix_path != NULL && l->unix_path != NULL &&
               strcmp(lc->unix_path, l->unix_path) == 0;
    if (lc->address == NULL || l->address == NULL ||
        strcmp(lc->address, l->address) != 0 || lc->port != l->port)
        return false;
    /* Several listeners on port 0 (any port) of one address differ only
     * by what they speak. */
    return lc->port != 0 ||
           (translator_of(l->broker, lc) == l->translator &&
            (lc->tls.entry != NULL) == (l->tls != NULL) &&
            (lc->ws.entry != NULL) == (l->ws != NULL));
}

int listener_update(struct listener *l, const struct listener_conf *lc,
                    struct errors *errs)
{
    l->translator = translator_of(l->broker, lc);
    apply_ws(l, lc);
    return apply_tls(l, lc, errs); /* and the label */
}

static void unlink_listener(struct broker *b, struct listener *l)
{
    for (struct listener **p = &b->listeners; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            return;
        }
    }
}

void listener_retire(struct listener *l)
{
    log_info("no longer listening on %s", l->label);
    accept_pause_clear(&l->pause);
    if (l->evl != NULL)
        evconnlistener_free(l->evl);
    l->evl = NULL;
    if (l->unix_path != NULL)
        unlink(l->unix_path);
    l->retired = true;
    if (l->n_sessions == 0) {
        unlink_listener(l->broker, l);
        listener_free(l);
    }
}

void listener_session_gone(struct listener *l)
{
    if (--l->n_sessions == 0 && l->retired) {
        unlink_listener(l->broker, l);
        listener_free(l);
    }
}

void listeners_stop_accepting(struct broker *b)
{
    for (struct listener *l = b->listeners; l != NULL; l = l->next) {
        accept_pause_clear(&l->pause);
        if (l->evl != NULL)
            evconnlistener_free(l->evl);
        l->evl = NULL;
    }
}

void listeners_close(struct broker *b)
{
    while (b->listeners != NULL) {
        struct listener *l = b->listeners;
        b->listeners = l->next;
        listener_free(l);
    }
}
