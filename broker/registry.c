/*
 * registry.c - the registry's connection to Redis, its watchdog and its
 * calls (registry.h). Registration, renewal, fencing and reaping are in
 * registry_lease.c, the scripts in registry_scripts.c.
 *
 * hiredis 0.14's asynchronous API has no timeouts, and two habits shape
 * this file: freeing a context (redisAsyncFree, or hiredis itself on EOF
 * or a failed connect) calls every waiting callback with a NULL reply,
 * and a context must not be freed from inside one of its own callbacks.
 * So a NULL reply never calls the caller back directly (the caller might
 * call us again while the context is half gone): the call goes to
 * r->failed, delivered REGISTRY_UNAVAILABLE by a zero-timeout event; and
 * a drop wanted inside a reply is deferred the same way.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "errors.h"
#include "log.h"
#include "registry-internal.h"
#include "registry_scripts.h"
#include "xalloc.h"

uint64_t registry_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ms_timeval(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

const char *registry_key(const struct registry *r, char *buf, size_t len,
                         const char *what, const char *arg)
{
    snprintf(buf, len, "%s%s%s", r->prefix, what, arg ? arg : "");
    return buf;
}

/* ----------------------------------------------------------------------
 * Calls
 */

struct registry_call *registry_call_new(struct registry *r,
                                        enum registry_call_kind kind)
{
    struct registry_call *call = mp_xcalloc(1, sizeof *call);

    call->r = r;
    call->kind = kind;
    return call;
}

static void call_free_if_unused(struct registry_call *call)
{
    if (call->in_pending || call->in_failed || call->in_queue)
        return;
    free(call->name);
    free(call);
}

/* Answer the caller REGISTRY_UNAVAILABLE from the loop. */
static void fail_later(struct registry *r, struct registry_call *call)
{
    static const struct timeval now = {0, 0};

    if (call->done || call->in_failed)
        return;
    if (call->in_pending)
        call->abandoned = true;
    call->in_failed = true;
    TAILQ_INSERT_TAIL(&r->failed, call, failed_link);
    evtimer_add(r->deliver_ev, &now);
}

static void deliver_failed(evutil_socket_t fd, short what, void *arg)
{
    struct registry *r = arg;
    struct registry_call *call;

    (void)fd;
    (void)what;
    while ((call = TAILQ_FIRST(&r->failed)) != NULL) {
        TAILQ_REMOVE(&r->failed, call, failed_link);
        call->in_failed = false;
        if (!call->done) {
            call->done = true;
            r->stats.calls_failed++;
            if (call->claim_cb != NULL)
                call->claim_cb(call->arg, REGISTRY_UNAVAILABLE, NULL);
            else if (call->lookup_cb != NULL)
                call->lookup_cb(call->arg, REGISTRY_UNAVAILABLE, NULL);
        }
        call_free_if_unused(call);
    }
}

void registry_fail_pending_claims(struct registry *r)
{
    struct registry_call *call;

    TAILQ_FOREACH(call, &r->pending, pending_link)
        if (call->kind == CALL_CLAIM)
            fail_later(r, call);
}

/* ----------------------------------------------------------------------
 * Releases: sent at once, or queued while Redis is unavailable
 */

static void queue_release(struct registry *r, struct registry_call *call)
{
    struct registry_call *oldest;

    if (r->nreleases >= REGISTRY_RELEASE_QUEUE_MAX) {
        oldest = TAILQ_FIRST(&r->releases);
        TAILQ_REMOVE(&r->releases, oldest, queue_link);
        oldest->in_queue = false;
        r->nreleases--;
        if (!r->releases_dropped)
            log_warn("cluster: more than %d releases wait for Redis: "
                     "dropping the oldest (reaping frees their names)",
                     REGISTRY_RELEASE_QUEUE_MAX);
        r->releases_dropped = true;
        call_free_if_unused(oldest);
    }
    call->in_queue = true;
    TAILQ_INSERT_TAIL(&r->releases, call, queue_link);
    r->nreleases++;
}

static bool send_release(struct registry *r, struct registry_call *call)
{
    char key[512], set[64], value[64];
    const char *argv[5];

    snprintf(value, sizeof value, "%s %" PRIu64, call->broker_id,
             call->session_id);
    argv[0] = registry_key(r, key, sizeof key, "name:", call->name);
    argv[1] = registry_key(r, set, sizeof set, "names:", call->broker_id);
    argv[2] = value;
    argv[3] = call->name;
    argv[4] = NULL;
    return registry_send(r, call, registry_script_release, 2, argv);
}

void registry_release_as(struct registry *r, const char *broker_id,
                         const char *name, uint64_t session_id)
{
    struct registry_call *call = registry_call_new(r, CALL_RELEASE);

    snprintf(call->broker_id, sizeof call->broker_id, "%s", broker_id);
    call->name = mp_xstrdup(name);
    call->session_id = session_id;
    if (r->ac == NULL || !send_release(r, call))
        queue_release(r, call);
}

void registry_flush_releases(struct registry *r)
{
    struct registry_call *call;

    while (r->ac != NULL && (call = TAILQ_FIRST(&r->releases)) != NULL) {
        TAILQ_REMOVE(&r->releases, call, queue_link);
        call->in_queue = false;
        r->nreleases--;
        if (!send_release(r, call)) {
            queue_release(r, call);
            break;
        }
    }
    if (r->nreleases == 0)
        r->releases_dropped = false;
}

/* ----------------------------------------------------------------------
 * Answers
 */

static bool parse_owner(const redisReply *reply, size_t first,
                        struct registry_owner *owner)
{
    const redisReply *const *e = (const redisReply *const *)reply->element;

    memset(owner, 0, sizeof *owner);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < first + 4)
        return false;
    for (size_t i = first; i < first + 4; i++)
        if (e[i]->type != REDIS_REPLY_STRING)
            return false;
    snprintf(owner->broker_id, sizeof owner->broker_id, "%s", e[first]->str);
    owner->session_id = strtoull(e[first + 1]->str, NULL, 10);
    snprintf(owner->host, sizeof owner->host, "%s", e[first + 2]->str);
    owner->port = atoi(e[first + 3]->str);
    return true;
}

/* The first element of an array reply, the script's verdict. */
static const char *verdict(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return "";
    return reply->element[0]->str;
}

static void on_claim(struct registry *r, struct registry_call *call,
                     const redisReply *reply)
{
    const char *v = verdict(reply);
    struct registry_owner owner;
    enum registry_status status = REGISTRY_UNAVAILABLE;
    bool have_owner = false;

    if (strcmp(v, "ok") == 0) {
        status = REGISTRY_OK;
    } else if (strcmp(v, "taken") == 0) {
        status = REGISTRY_TAKEN;
        have_owner = parse_owner(reply, 1, &owner);
    } else if (strcmp(v, "replaced") == 0) {
        status = REGISTRY_REPLACED;
        have_owner = parse_owner(reply, 1, &owner);
    } else if (strcmp(v, "unavailable") != 0) {
        log_warn("cluster: unexpected answer to a claim of %s",
                 LOG_VALUE(call->name));
    }
    if (call->done || call->abandoned) {
        /* Nobody wants the name any more: give it back. */
        if (status == REGISTRY_OK || status == REGISTRY_REPLACED)
            registry_release_as(r, call->broker_id, call->name,
                                call->session_id);
        return;
    }
    call->done = true;
    if (status == REGISTRY_UNAVAILABLE)
        r->stats.calls_failed++;
    call->claim_cb(call->arg, status, have_owner ? &owner : NULL);
}

static void on_lookup(struct registry *r, struct registry_call *call,
                      const redisReply *reply)
{
    struct registry_owner owner;
    enum registry_status status = REGISTRY_NOT_FOUND;

    (void)r;
    if (parse_owner(reply, 0, &owner))
        status = REGISTRY_OK;
    if (call->done || call->abandoned)
        return;
    call->done = true;
    call->lookup_cb(call->arg, status,
                    status == REGISTRY_OK ? &owner : NULL);
}

static void on_leave(struct registry *r, const redisReply *reply)
{
    r->leave_done = true;
    if (reply->type == REDIS_REPLY_INTEGER)
        log_notice("cluster: left the cluster as %s (%lld names released)",
                   r->id, reply->integer);
}

/* The context went away before `call` was answered. */
static void on_lost(struct registry *r, struct registry_call *call)
{
    switch (call->kind) {
    case CALL_REGISTER:
    case CALL_RENEW:
        registry_lease_call_lost(r, call);
        break;
    case CALL_CLAIM:
        /* Redis may still run what it had read: undo it once back
         * (compare-and-delete makes that harmless if it did not). */
        registry_release_as(r, call->broker_id, call->name,
                            call->session_id);
        fail_later(r, call);
        break;
    case CALL_LOOKUP:
        fail_later(r, call);
        break;
    case CALL_RELEASE:
        queue_release(r, call);
        break;
    case CALL_LEAVE:
        r->leave_done = true;
        break;
    }
}

static void on_answer(struct registry *r, struct registry_call *call,
                      const redisReply *reply)
{
    switch (call->kind) {
    case CALL_REGISTER:
        registry_on_register(r, call, reply);
        break;
    case CALL_RENEW:
        registry_on_renew(r, call, reply);
        break;
    case CALL_CLAIM:
        on_claim(r, call, reply);
        break;
    case CALL_LOOKUP:
        on_lookup(r, call, reply);
        break;
    case CALL_RELEASE:
        break;
    case CALL_LEAVE:
        on_leave(r, reply);
        break;
    }
}

static void redis_answered(struct registry *r)
{
    r->backoff_ms = REGISTRY_BACKOFF_MIN_MS;
    if (r->outage)
        log_notice("cluster: Redis answers again");
    r->outage = false;
}

/* hiredis's callback for every command. */
static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct registry_call *call = privdata;
    struct registry *r = call->r;
    redisReply *reply = reply_;

    (void)ac;
    if (call->in_pending) {
        TAILQ_REMOVE(&r->pending, call, pending_link);
        call->in_pending = false;
    }
    if (r->freeing) {
        call_free_if_unused(call);
        return;
    }
    r->in_reply++;
    if (reply == NULL) {
        on_lost(r, call);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        /* A script error (OOM, a read-only replica, ...): Redis is up
         * but will not do it; for the caller that is "unavailable". */
        log_warn("cluster: Redis refused a command: %s",
                 LOG_VALUE(reply->str));
        redis_answered(r);
        on_lost(r, call);
    } else {
        redis_answered(r);
        on_answer(r, call, reply);
    }
    r->in_reply--;
    call_free_if_unused(call);
}

bool registry_send(struct registry *r, struct registry_call *call,
                   const char *text, int nkeys, const char *const *argv)
{
    const char *args[16];
    char nkeys_text[8];
    int argc = 0;

    if (r->ac == NULL)
        return false;
    snprintf(nkeys_text, sizeof nkeys_text, "%d", nkeys);
    args[argc++] = "EVAL";
    args[argc++] = text;
    args[argc++] = nkeys_text;
    for (size_t i = 0; argv[i] != NULL && argc < 16; i++)
        args[argc++] = argv[i];
    if (redisAsyncCommandArgv(r->ac, on_reply, call, argc, args, NULL) !=
        REDIS_OK)
        return false;
    call->sent_ms = registry_now_ms();
    call->in_pending = true;
    TAILQ_INSERT_TAIL(&r->pending, call, pending_link);
    return true;
}

/* ----------------------------------------------------------------------
 * The connection
 */

static void unavailable(struct registry *r, const char *why)
{
    if (!r->outage)
        log_warn("cluster: Redis unavailable: %s", why);
    else
        log_debug("cluster: Redis still unavailable: %s", why);
    r->outage = true;
}

static void schedule_reconnect(struct registry *r)
{
    struct timeval tv;

    if (r->state == STATE_LEFT || r->freeing)
        return;
    ms_timeval(r->backoff_ms, &tv);
    evtimer_add(r->reconnect_ev, &tv);
    r->backoff_ms *= 2;
    if (r->backoff_ms > REGISTRY_BACKOFF_MAX_MS)
        r->backoff_ms = REGISTRY_BACKOFF_MAX_MS;
}

/* Free the context: every call waiting gets its NULL reply now. */
static void drop_context(struct registry *r, const char *why)
{
    static const struct timeval now = {0, 0};
    redisAsyncContext *ac = r->ac;

    if (ac == NULL)
        return;
    if (r->in_reply > 0) {
        evtimer_add(r->drop_ev, &now);
        return;
    }
    unavailable(r, why);
    r->ac = NULL;
    r->connecting = false;
    ac->data = NULL; /* on_disconnect: not ours to handle */
    redisAsyncFree(ac);
    schedule_reconnect(r);
}

static void drop_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drop_context(arg, "dropped after an error");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct registry *r = ac->data;

    if (r == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        r->ac = NULL;
        r->connecting = false;
        unavailable(r, ac->errstr);
        schedule_reconnect(r);
        return;
    }
    r->connecting = false;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct registry *r = ac->data;

    (void)status;
    if (r == NULL)
        return;
    r->ac = NULL;
    r->connecting = false;
    unavailable(r, ac->err ? ac->errstr : "connection closed");
    schedule_reconnect(r);
}

static void connect_now(struct registry *r)
{
    redisAsyncContext *ac;

    if (r->ac != NULL || r->state == STATE_LEFT)
        return;
    if (r->redis_path != NULL)
        ac = redisAsyncConnectUnix(r->redis_path);
    else
        ac = redisAsyncConnect(r->redis_host, r->redis_port);
    if (ac == NULL)
        mp_out_of_memory("a Redis context", sizeof *ac);
    if (ac->err) {
        unavailable(r, ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->connecting = true;
    r->connect_started_ms = registry_now_ms();
    /* Queued in hiredis until the connection is up. */
    registry_send_register(r);
    registry_flush_releases(r);
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

/* The watchdog: hiredis waits forever for a Redis that accepted the
 * connection (the kernel does that for a stopped process) but never
 * answers; a bound on the oldest call frees the context. */
static void watchdog(struct registry *r, uint64_t now)
{
    struct registry_call *oldest = TAILQ_FIRST(&r->pending);
    uint64_t since = UINT64_MAX;
    char why[80];

    if (r->ac == NULL)
        return;
    if (r->connecting)
        since = r->connect_started_ms;
    if (oldest != NULL && oldest->sent_ms < since)
        since = oldest->sent_ms;
    if (since == UINT64_MAX || now - since < r->conf.command_timeout_ms)
        return;
    snprintf(why, sizeof why, "no answer within %u ms",
             r->conf.command_timeout_ms);
    drop_context(r, why);
}

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct registry *r = arg;
    uint64_t now = registry_now_ms();

    (void)fd;
    (void)what;
    watchdog(r, now);
    registry_check_fence(r, now);
}

static void renew_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    registry_renew_tick(arg);
}

/* ----------------------------------------------------------------------
 * Life cycle
 */

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
    r->conf.lease_ms = or_default(conf->lease_ms, 10000);
    r->conf.fence_ms = or_default(conf->fence_ms, r->conf.lease_ms * 4 / 5);
    r->conf.renew_ms = or_default(conf->renew_ms, 1000);
    r->conf.command_timeout_ms = or_default(conf->command_timeout_ms, 2000);
    r->prefix = mp_xmalloc(len);
    snprintf(r->prefix, len, "{%s}:", prefix);
}

static void make_events(struct registry *r)
{
    r->renew_ev = event_new(r->base, -1, EV_PERSIST, renew_cb, r);
    r->check_ev = event_new(r->base, -1, EV_PERSIST, check_cb, r);
    r->reconnect_ev = evtimer_new(r->base, reconnect_cb, r);
    r->deliver_ev = evtimer_new(r->base, deliver_failed, r);
    r->drop_ev = evtimer_new(r->base, drop_deferred, r);
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
    connect_now(r);
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
        call_free_if_unused(call);
    }
}

static void free_releases(struct registry *r)
{
    struct registry_call *call;

    while ((call = TAILQ_FIRST(&r->releases)) != NULL) {
        TAILQ_REMOVE(&r->releases, call, queue_link);
        call->in_queue = false;
        call_free_if_unused(call);
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
    free((char *)r->conf.redis);
    free((char *)r->conf.key_prefix);
    free((char *)r->conf.link_host);
    free(r->redis_host);
    free(r->redis_path);
    free(r->prefix);
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

/* ----------------------------------------------------------------------
 * Claims, look-ups, releases
 */

static bool send_claim(struct registry *r, struct registry_call *call)
{
    char brokers[64], key[512], set[64], sid[24];
    const char *argv[9];

    snprintf(sid, sizeof sid, "%" PRIu64, call->session_id);
    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, key, sizeof key, "name:", call->name);
    argv[2] = registry_key(r, set, sizeof set, "names:", call->broker_id);
    argv[3] = call->broker_id;
    argv[4] = sid;
    argv[5] = call->replace ? "1" : "0";
    argv[6] = call->name;
    argv[7] = r->prefix;
    argv[8] = NULL;
    return registry_send(r, call, registry_script_claim, 3, argv);
}

static struct registry_call *claim(struct registry *r, const char *name,
                                   uint64_t session_id, bool replace,
                                   registry_claim_cb cb, void *arg)
{
    struct registry_call *call = registry_call_new(r, CALL_CLAIM);

    call->name = mp_xstrdup(name);
    call->session_id = session_id;
    call->replace = replace;
    call->claim_cb = cb;
    call->arg = arg;
    snprintf(call->broker_id, sizeof call->broker_id, "%s", r->id);
    if (!registry_is_live(r) || r->ac == NULL || !send_claim(r, call))
        fail_later(r, call);
    return call;
}

struct registry_call *registry_claim(struct registry *r, const char *name,
                                     uint64_t session_id, bool replace,
                                     registry_claim_cb cb, void *arg)
{
    return claim(r, name, session_id, replace, cb, arg);
}

struct registry_call *registry_reclaim(struct registry *r, const char *name,
                                       uint64_t session_id,
                                       registry_claim_cb cb, void *arg)
{
    return claim(r, name, session_id, false, cb, arg);
}

struct registry_call *registry_lookup(struct registry *r, const char *name,
                                      registry_lookup_cb cb, void *arg)
{
    struct registry_call *call = registry_call_new(r, CALL_LOOKUP);
    char brokers[64], key[512];
    const char *argv[4];

    call->name = mp_xstrdup(name);
    call->lookup_cb = cb;
    call->arg = arg;
    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, key, sizeof key, "name:", name);
    argv[2] = r->prefix;
    argv[3] = NULL;
    if (r->state == STATE_LEFT ||
        !registry_send(r, call, registry_script_lookup, 2, argv))
        fail_later(r, call);
    return call;
}

void registry_cancel(struct registry *r, struct registry_call *call)
{
    if (call == NULL)
        return;
    call->done = true;
    if (call->in_failed) {
        TAILQ_REMOVE(&r->failed, call, failed_link);
        call->in_failed = false;
    }
    call_free_if_unused(call);
}

void registry_release(struct registry *r, const char *name,
                      uint64_t session_id)
{
    /* Not registered (fenced, left): what we owned goes with our old id,
     * by reaping. */
    if (r->id[0] == '\0' || r->state == STATE_LEFT)
        return;
    registry_release_as(r, r->id, name, session_id);
}
