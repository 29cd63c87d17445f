/*
 * cluster.c - joining the cluster, leaving it, and what the registry and
 * the links tell this broker (see cluster.h; doc/cluster.md).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "broker.h"
#include "cluster-internal.h"
#include "conf_schema.h"
#include "errors.h"
#include "flow.h"
#include "hashmap.h"
#include "log.h"
#include "plugin_loader.h"
#include "router.h"
#include "session.h"
#include "xalloc.h"

/* Shorter secrets are guessable offline from one recorded handshake. */
#define SECRET_MIN 16
#define SECRET_MAX 4096
#define SWEEP_MS 1000

/* ------------------------------------------------------------------------
 * The secret
 */

/* The file's bytes without a final newline (as `echo ... > file` or
 * `openssl rand -hex 32 > file` write them), at least `min` of them, into
 * buf (SECRET_MAX + 1 bytes). */
static int read_secret(const char *path, size_t min, unsigned char *buf,
                       size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, SECRET_MAX + 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n < min || n > SECRET_MAX) {
        snprintf(err, errlen, "%s must hold %zu to %d bytes of secret "
                 "(e.g. openssl rand -hex 32 > %s)", path, min, SECRET_MAX,
                 path);
        return -1;
    }
    *len = n;
    return 0;
}

/* The secret in `path` (the setting `name` of `group`), NUL-terminated
 * for the password's sake. */
static int load_secret(const config_setting_t *group, const char *name,
                       const char *path, size_t min, unsigned char **out,
                       size_t *out_len, struct errors *errs)
{
    unsigned char *buf = mp_xmalloc(SECRET_MAX + 1);
    char err[512];
    struct stat st;

    if (read_secret(path, min, buf, out_len, err, sizeof err) != 0) {
        conf_setting_error(errs, conf_member_or_group(group, name), "%s",
                           err);
        explicit_bzero(buf, SECRET_MAX + 1);
        free(buf);
        return -1;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        log_warn("cluster: %s is readable by others than its owner: "
                 "chmod 600 it", path);
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
}

static void wipe(unsigned char *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

/* ------------------------------------------------------------------------
 * The registry's events
 */

static void on_registered(void *arg, const char *broker_id, bool fresh)
{
    struct cluster *c = arg;

    link_set_set_id(c->links, broker_id);
    if (!fresh)
        cluster_reclaim_names(c);
}

/* Every client goes: this broker may own no name any more. */
static void on_fenced(void *arg, const char *why)
{
    struct cluster *c = arg;
    struct broker *b = c->broker;
    struct session *s;
    size_t n = 0;

    TAILQ_FOREACH(s, &b->sessions, entry) {
        if (s->state != SESSION_CLOSING) {
            session_close(s, "this broker lost its cluster lease");
            n++;
        }
    }
    (void)why; /* the registry's own line says it */
    log_warn("cluster: without a lease: closed %zu client%s and every "
             "link; registering again", n, n == 1 ? "" : "s");
    link_set_set_id(c->links, "");
}

/* A kick can overtake the answer to the claim it is about (they come
 * from different brokers): the session still waiting for it. */
static struct session *claiming(struct cluster *c, uint64_t session_id)
{
    struct session *s;

    TAILQ_FOREACH(s, &c->broker->sessions, entry) {
        if (s->ep.id == session_id && s->claim != NULL)
            return s;
    }
    return NULL;
}

void cluster_kick(struct cluster *c, const char *name, size_t len,
                  uint64_t session_id)
{
    struct endpoint *ep = hashmap_get(c->broker->names, name, len);
    struct session *s;

    if (ep == NULL || ep->id != session_id) {
        s = claiming(c, session_id);
        if (s != NULL)
            s->kicked = true;
        return;
    }
    c->stats.kicks_received++;
    log_notice("client %s logged in on another broker: closing this "
               "session: client=%s peer=%s", LOG_VALUE(ep->name),
               LOG_VALUE(ep->name), ep->peer);
    router_replace(ep, "replaced by a newer login on another broker");
}

static void on_kick(void *arg, const char *name, uint64_t session_id)
{
    cluster_kick(arg, name, strlen(name), session_id);
}

static void on_dead(void *arg, const char *broker_id)
{
    struct cluster *c = arg;
    struct link_peer *p = link_peer_find(c->links, broker_id);

    if (p != NULL)
        link_peer_drop(p, "its lease expired (reaped)");
}

static const struct registry_events registry_events = {
    .registered = on_registered,
    .fenced = on_fenced,
    .kick = on_kick,
    .dead = on_dead,
};

/* ------------------------------------------------------------------------
 * The links' events
 */

static void on_frame(void *arg, struct link_peer *peer,
                     const struct link_frame *frame)
{
    remote_frame(arg, peer, frame);
}

static void on_down(void *arg, struct link_peer *peer, const char *why)
{
    (void)why;
    remote_peer_down(arg, peer);
}

/* The link drained: the senders its queue held are read again. */
static void on_drained(void *arg, struct link_peer *peer)
{
    struct cluster *c = arg;
    struct remote *r;

    TAILQ_FOREACH(r, &c->all, entry) {
        if (r->peer == peer)
            flow_resume_senders(&r->ep);
    }
}

static const struct link_events link_events = {
    .frame = on_frame,
    .down = on_down,
    .drained = on_drained,
};

/* ------------------------------------------------------------------------
 * Life
 */

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    remotes_sweep(arg);
}

static void grant_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    remotes_grant(arg);
}

/* Where the other brokers dial us: as advertised, or as bound. */
static struct registry_conf registry_conf_of(const struct broker_conf *conf,
                                             int bound_port,
                                             const char *password)
{
    const struct cluster_conf *cc = &conf->cluster;

    return (struct registry_conf){
        .redis = cc->redis,
        .key_prefix = cc->key_prefix,
        .lease_ms = cc->lease_ms,
        .fence_ms = cc->fence_ms,
        .renew_ms = cc->renew_ms,
        .command_timeout_ms = cc->redis_timeout_ms,
        .link_host = cc->link_advertise ? cc->link_advertise
                                        : cc->link_address,
        .link_port = cc->link_advertise_port != 0
                         ? (int)cc->link_advertise_port : bound_port,
        .redis_user = cc->redis_user,
        .redis_password = password,
    };
}

static struct link_conf link_conf_of(const struct cluster *c)
{
    const struct broker_conf *conf = &c->broker->conf;
    const struct cluster_conf *cc = &conf->cluster;

    return (struct link_conf){
        .address = cc->link_address,
        .port = (int)cc->link_port,
        .advertise = cc->link_advertise,
        .advertise_port = (int)cc->link_advertise_port,
        .secret = c->secret,
        .secret_len = c->secret_len,
        .ping_ms = cc->link_ping_ms,
        .timeout_ms = cc->link_timeout_ms,
        .handshake_ms = cc->link_timeout_ms,
        /* A message of max_message_size and the largest header. */
        .max_frame = conf->max_message_size + LINK_FRAME_HEADER_MAX,
        .max_pending = conf->output_hard_limit,
    };
}

int cluster_setup(struct broker *b, struct errors *errs)
{
    struct cluster *c;
    struct registry_conf rc;
    struct link_conf lc;

    if (b->conf.cluster.entry == NULL)
        return 0;
    c = mp_xcalloc(1, sizeof *c);
    c->broker = b;
    b->cluster = c;
    c->remotes = mp_xhashmap_new();
    TAILQ_INIT(&c->all);
    LIST_INIT(&c->to_grant);
    LIST_INIT(&c->stale);
    c->sweeper = event_new(b->base, -1, EV_PERSIST, sweep_cb, c);
    c->granter = event_new(b->base, -1, 0, grant_cb, c);
    if (c->sweeper == NULL || c->granter == NULL)
        mp_out_of_memory("the cluster's events", sizeof(struct event *));
    c->link_format = plugins_translator(&b->plugins, "binary");
    /* Without a secret_file the config check has said so. */
    if (b->conf.cluster.link_secret_file == NULL ||
        load_secret(conf_member(b->conf.cluster.entry, "link", CONF_GROUP),
                    "secret_file", b->conf.cluster.link_secret_file,
                    SECRET_MIN, &c->secret, &c->secret_len, errs) != 0)
        return -1;
    if (b->conf.cluster.redis_password_file != NULL &&
        load_secret(b->conf.cluster.entry, "redis_password_file",
                    b->conf.cluster.redis_password_file, 1,
                    &c->redis_password, &c->redis_password_len, errs) != 0)
        return -1;
    /* The registry is made here with the configured port so that -t
     * checks its settings, and again once the link port is bound. */
    rc = registry_conf_of(&b->conf, (int)b->conf.cluster.link_port,
                          (const char *)c->redis_password);
    c->registry = registry_new(b->base, &rc, &registry_events, c, errs);
    lc = link_conf_of(c);
    c->links = link_set_new(b->base, &lc, &link_events, c, errs);
    return c->registry != NULL && c->links != NULL ? 0 : -1;
}

int cluster_start(struct cluster *c, struct errors *errs)
{
    struct timeval tv = {SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000};
    struct broker *b;
    struct registry_conf rc;

    if (c == NULL)
        return 0;
    b = c->broker;
    if (link_set_listen(c->links, errs) != 0)
        return -1;
    if (b->conf.cluster.link_port == 0) {
        /* An ephemeral port (tests): the registry says the bound one. */
        rc = registry_conf_of(&b->conf, link_set_port(c->links),
                              (const char *)c->redis_password);
        registry_free(c->registry);
        c->registry = registry_new(b->base, &rc, &registry_events, c, errs);
        if (c->registry == NULL)
            return -1;
    }
    evtimer_add(c->sweeper, &tv);
    log_notice("cluster: registering with Redis at %s as one of the "
               "brokers under \"%s\"", c->broker->conf.cluster.redis,
               c->broker->conf.cluster.key_prefix);
    registry_start(c->registry);
    return 0;
}

void cluster_leave(struct cluster *c, unsigned timeout_ms)
{
    if (c == NULL || c->registry == NULL)
        return;
    registry_leave(c->registry, timeout_ms);
}

void cluster_free(struct cluster *c)
{
    if (c == NULL)
        return;
    stale_syns_free(c);
    while (!TAILQ_EMPTY(&c->all))
        remote_free(TAILQ_FIRST(&c->all));
    link_set_free(c->links);
    registry_free(c->registry);
    if (c->sweeper != NULL)
        event_free(c->sweeper);
    if (c->granter != NULL)
        event_free(c->granter);
    hashmap_free(c->remotes);
    wipe(c->secret, c->secret_len);
    wipe(c->redis_password, c->redis_password_len);
    c->broker->cluster = NULL;
    free(c);
}

void cluster_figures(const struct cluster *c, struct cluster_figures *out)
{
    const struct registry_stats *rs = registry_stats(c->registry);
    const struct link_stats *ls = link_set_stats(c->links);

    *out = (struct cluster_figures){
        .own = c->stats,
        .brokers_alive = rs->brokers_alive,
        .links_up = ls->peers_up,
        .link_frames_in = ls->frames_in,
        .link_frames_out = ls->frames_out,
        .link_bytes_in = ls->bytes_in,
        .link_bytes_out = ls->bytes_out,
        .links_refused = ls->handshakes_refused,
        .links_down = ls->downs,
        .redis_rtt_us_last = rs->rtt_us_last,
        .redis_rtt_us_sum = rs->rtt_us_sum,
        .redis_renewals = rs->renewals,
        .fencings = rs->fencings,
        .reaped = rs->reaped,
        .redis_calls_failed = rs->calls_failed,
        .remotes = hashmap_count(c->remotes),
        .live = registry_is_live(c->registry),
    };
}
