/*
 * registry.c - the registry's life cycle (registry.h): the configuration,
 * its timers, start, stop and free. The connection and watchdog are in
 * registry_conn.c, the calls in registry_calls.c, registration, renewal,
 * fencing and reaping in registry_lease.c, the Lua texts in
 * registry_scripts.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "errors.h"
#include "registry-internal.h"
#include "xalloc.h"

const char *registry_key(const struct registry *r, char *buf, size_t len,
                         const char *what, const char *arg)
{
    snprintf(buf, len, "%s%s%s", r->prefix, what, arg ? arg : "");
    return buf;
}
/* ----------------------------------------------------------------------
 * Life cycle
 */

static void unbracket(char *host)
{
    size_t len = strlen(host);

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
    }
}

static bool parse_redis(struct registry *r, const char *redis,
                        struct errors *errs)
{
    const char *colon;
    char *end;
    long port;

    if (strncmp(redis, "unix:", 5) == 0 && redis[5] != '\0') {
        r->redis_path = mp_xstrdup(redis + 5);
        return true;
    }
    colon = strrchr(redis, ':');
    if (strncmp(redis, "tcp:", 4) != 0 || colon == redis + 3 ||
        colon == redis + 4) {
        errors_add(errs, NULL, 0, "cluster: redis \"%s\": expected "
                   "\"tcp:HOST:PORT\" or \"unix:PATH\"", redis);
        return false;
    }
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
        errors_add(errs, NULL, 0, "cluster: redis \"%s\": bad port", redis);
        return false;
    }
    r->redis_host = mp_xstrdup(redis + 4);
    r->redis_host[colon - (redis + 4)] = '\0';
    unbracket(r->redis_host); /* "[::1]" -> "::1" */
    r->redis_port = (int)port;
    return true;
}

static unsigned or_default(unsigned v, unsigned dflt)
{
    return v != 0 ? v : dflt;
}

static void copy_conf(struct registry *r, const struct registry_conf *conf)
{
    const char *prefix = conf->key_prefix ? conf->key_prefix : "mpbroker";
    size_t len = strlen(prefix) + 4;

    r->conf = *conf;
    r->conf.redis = mp_xstrdup(conf->redis);
    r->conf.key_prefix = mp_xstrdup(prefix);
    r->conf.link_host = mp_xstrdup(conf->link_host ? conf->link_host : "");
    r->conf.redis_user = conf->redis_user ? mp_xstrdup(conf->redis_user)
                                          : NULL;
    r->conf.redis_password = conf->redis_password
                                 ? mp_xstrdup(conf->redis_password) : NULL;
    r->conf.lease_ms = or_default(conf->lease_ms, 10000);
    r->conf.fence_ms = or_default(conf->fence_ms, r->conf.lease_ms * 4 / 5);
    r->conf.renew_ms = or_default(conf->renew_ms, 1000);
    r->conf.command_timeout_ms = or_default(conf->command_timeout_ms, 2000);
    r->prefix = mp_xmalloc(len);
    snprintf(r->prefix, len, "{%s}:", prefix);
}

/* Keys must fit their buffers; fencing is only safe before the lease
 * can expire, and renewing only helps if renewals fit in the fence
 * bound. */
static bool conf_fits(const struct registry_conf *conf,
                        struct errors *errs)
{
    bool ok = true;

    if (strlen(conf->key_prefix) > REGISTRY_PREFIX_MAX) {
        errors_add(errs, NULL, 0, "cluster: the key prefix is longer than "
                   "%d bytes", REGISTRY_PREFIX_MAX);
        ok = false;
    }
    if (conf->fence_ms >= conf->lease_ms) {
        errors_add(errs, NULL, 0, "cluster: the fence bound (%u ms) must "
                   "be shorter than the lease (%u ms)", conf->fence_ms,
                   conf->lease_ms);
        ok = false;
    }
    if (conf->renew_ms >= conf->fence_ms) {
        errors_add(errs, NULL, 0, "cluster: the renewal period (%u ms) "
                   "must be shorter than the fence bound (%u ms)",
                   conf->renew_ms, conf->fence_ms);
        ok = false;
    }
    return ok;
}

static void free_conf(struct registry *r)
{
    free((char *)r->conf.redis);
    free((char *)r->conf.key_prefix);
    free((char *)r->conf.link_host);
    free((char *)r->conf.redis_user);
    if (r->conf.redis_password != NULL) {
        explicit_bzero((char *)r->conf.redis_password,
                       strlen(r->conf.redis_password));
        free((char *)r->conf.redis_password);
    }
    free(r->redis_host);
    free(r->redis_path);
    free(r->prefix);
}

static void make_events(struct registry *r)
{
    r->renew_ev = event_new(r->base, -1, EV_PERSIST, registry_renew_cb, r);
    r->check_ev = event_new(r->base, -1, EV_PERSIST, registry_check_cb, r);
    r->reconnect_ev = evtimer_new(r->base, registry_reconnect_cb, r);
    r->deliver_ev = evtimer_new(r->base, registry_deliver_failed, r);
    r->drop_ev = evtimer_new(r->base, registry_drop_deferred, r);
    if (r->renew_ev == NULL || r->check_ev == NULL ||
        r->reconnect_ev == NULL || r->deliver_ev == NULL ||
        r->drop_ev == NULL)
        mp_out_of_memory("the registry's events", sizeof(struct event *));
}

struct registry *registry_new(struct event_base *base,
                              const struct registry_conf *conf,
                              const struct registry_events *events,
                              void *arg, struct errors *errs)
{
    struct registry *r = mp_xcalloc(1, sizeof *r);

    if (conf->redis == NULL || !parse_redis(r, conf->redis, errs)) {
        if (conf->redis == NULL)
            errors_add(errs, NULL, 0, "cluster: no redis address");
        free(r);
        return NULL;
    }
    r->base = base;
    copy_conf(r, conf);
    if (!conf_fits(&r->conf, errs)) {
        free_conf(r);
        free(r);
        return NULL;
    }
    r->events = *events;
    r->arg = arg;
    r->backoff_ms = REGISTRY_BACKOFF_MIN_MS;
    TAILQ_INIT(&r->pending);
    TAILQ_INIT(&r->failed);
    TAILQ_INIT(&r->releases);
    make_events(r);
    return r;
}

void registry_start(struct registry *r)
{
    struct timeval tv;
    unsigned bound = r->conf.command_timeout_ms < r->conf.fence_ms
                         ? r->conf.command_timeout_ms
                         : r->conf.fence_ms;

    if (r->state != STATE_IDLE)
        return;
    r->state = STATE_REGISTERING;
    r->fresh = true;
    registry_new_id(r->next_id);
    ms_timeval(r->conf.renew_ms, &tv);
    event_add(r->renew_ev, &tv);
    /* The watchdog and the fence bound are checked to 1/20 of their
     * length: late by at most 5 %. */
    ms_timeval(bound / 20 > 5 ? bound / 20 : 5, &tv);
    event_add(r->check_ev, &tv);
    registry_connect(r);
}

/* Stop sending: no timers, no context (registry_leave). */
void registry_stop(struct registry *r)
{
    evtimer_del(r->reconnect_ev);
    event_del(r->renew_ev);
    event_del(r->check_ev);
    r->state = STATE_LEFT;
    if (r->ac != NULL) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        r->connecting = false;
        ac->data = NULL;
        redisAsyncFree(ac); /* waiting calls: UNAVAILABLE, from the loop */
    }
}

static void free_failed(struct registry *r)
{
    struct registry_call *call;

    while ((call = TAILQ_FIRST(&r->failed)) != NULL) {
        TAILQ_REMOVE(&r->failed, call, failed_link);
        call->in_failed = false;
        registry_call_free_if_unused(call);
    }
}

static void free_releases(struct registry *r)
{
    struct registry_call *call;

    while ((call = TAILQ_FIRST(&r->releases)) != NULL) {
        TAILQ_REMOVE(&r->releases, call, queue_link);
        call->in_queue = false;
        registry_call_free_if_unused(call);
    }
}

void registry_free(struct registry *r)
{
    redisAsyncContext *ac;

    if (r == NULL)
        return;
    r->freeing = true;
    ac = r->ac;
    r->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac); /* on_reply frees each waiting call */
    }
    free_failed(r);
    free_releases(r);
    event_free(r->renew_ev);
    event_free(r->check_ev);
    event_free(r->reconnect_ev);
    event_free(r->deliver_ev);
    event_free(r->drop_ev);
    free_conf(r);
    free(r->epoch);
    free(r);
}

const char *registry_broker_id(const struct registry *r)
{
    return r->id;
}

bool registry_is_live(const struct registry *r)
{
    return r->state == STATE_REGISTERED && r->id[0] != '\0' &&
           registry_now_ms() - r->last_ok_sent_ms < r->conf.fence_ms;
}

const struct registry_stats *registry_stats(const struct registry *r)
{
    return &r->stats;
}
