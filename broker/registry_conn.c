/*
 * registry_conn.c - the registry's connection to Redis: sending scripts,
 * dispatching answers, reconnecting, and the watchdog (registry.h).
 *
 * hiredis 0.14's asynchronous API has no timeouts, and two habits shape
 * this file: freeing a context (redisAsyncFree, or hiredis itself on EOF
 * or a failed connect) calls every waiting callback with a NULL reply,
 * and a context must not be freed from inside one of its own callbacks.
 * So a NULL reply never calls the caller back directly (the caller might
 * call us again while the context is half gone): the call goes to
 * r->failed, delivered REGISTRY_UNAVAILABLE by a zero-timeout event
 * (registry_calls.c); and a drop wanted inside a reply is deferred the
 * same way.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include <openssl/sha.h>

#include "log.h"
#include "registry-internal.h"
#include "registry_scripts.h"
#include "xalloc.h"

static void drop_context(struct registry *r, const char *why);

uint64_t registry_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t registry_now_ms(void)
{
    return registry_now_us() / 1000;
}

/* ----------------------------------------------------------------------
 * Sending and answers
 */

static void redis_answered(struct registry *r)
{
    r->backoff_ms = REGISTRY_BACKOFF_MIN_MS;
    if (r->outage)
        log_notice("cluster: Redis answers again");
    r->outage = false;
}

/* One warning a second at most: a Redis out of memory refuses every
 * login, and the log must not get a line per login. */
static void refused(struct registry *r, const char *error)
{
    uint64_t now = registry_now_ms();

    if (r->refused_logged_ms == 0 || now - r->refused_logged_ms >= 1000) {
        log_warn("cluster: Redis refused a command: %s", LOG_VALUE(error));
        r->refused_logged_ms = now;
    } else {
        log_debug("cluster: Redis refused a command: %s", LOG_VALUE(error));
    }
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
        registry_call_free_if_unused(call);
        return;
    }
    r->in_reply++;
    if (reply == NULL) {
        registry_call_lost(r, call);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        /* A script error (OOM, a read-only replica, ...): Redis is up
         * but will not do it; for the caller that is "unavailable". */
        refused(r, reply->str);
        redis_answered(r);
        registry_call_lost(r, call);
        /* Its scripts were flushed (SCRIPT FLUSH): a new connection
         * loads them again. */
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
            drop_context(r, "the scripts were flushed");
    } else {
        redis_answered(r);
        registry_call_answered(r, call, reply);
    }
    r->in_reply--;
    registry_call_free_if_unused(call);
}

/* The scripts, loaded on every new connection (SCRIPT LOAD) and then run
 * by their SHA1 (EVALSHA): a login sends 40 bytes of script name, not
 * the whole text for Redis to hash again. */
static const char *const scripts[] = {
    registry_script_register, registry_script_renew, registry_script_claim,
    registry_script_release, registry_script_lookup, registry_script_leave,
};
static char script_sha[sizeof scripts / sizeof scripts[0]][41];

static const char *sha_of(const char *text)
{
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        if (scripts[i] != text)
            continue;
        if (script_sha[i][0] == '\0') {
            unsigned char md[SHA_DIGEST_LENGTH];
            SHA1((const unsigned char *)text, strlen(text), md);
            for (size_t j = 0; j < SHA_DIGEST_LENGTH; j++)
                snprintf(script_sha[i] + 2 * j, 3, "%02x", md[j]);
        }
        return script_sha[i];
    }
    return NULL;
}

/* SCRIPT LOAD's answer: nothing to do, but a refusal is told. */
static void on_loaded(redisAsyncContext *ac, void *reply_, void *privdata)
{
    redisReply *reply = reply_;

    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        refused(privdata, reply->str);
}

static void load_scripts(struct registry *r)
{
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        const char *args[3] = {"SCRIPT", "LOAD", scripts[i]};
        redisAsyncCommandArgv(r->ac, on_loaded, r, 3, args, NULL);
    }
}

bool registry_send(struct registry *r, struct registry_call *call,
                   const char *text, int nkeys, const char *const *argv)
{
    const char *args[16];
    const char *sha = sha_of(text);
    char nkeys_text[8];
    int argc = 0;

    if (r->ac == NULL)
        return false;
    snprintf(nkeys_text, sizeof nkeys_text, "%d", nkeys);
    args[argc++] = sha != NULL ? "EVALSHA" : "EVAL";
    args[argc++] = sha != NULL ? sha : text;
    args[argc++] = nkeys_text;
    for (size_t i = 0; argv[i] != NULL && argc < 16; i++)
        args[argc++] = argv[i];
    if (redisAsyncCommandArgv(r->ac, on_reply, call, argc, args, NULL) !=
        REDIS_OK)
        return false;
    call->sent_us = registry_now_us();
    call->sent_ms = call->sent_us / 1000;
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
        snprintf(r->drop_why, sizeof r->drop_why, "%s", why);
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

void registry_drop_deferred(evutil_socket_t fd, short what, void *arg)
{
    struct registry *r = arg;
    char why[sizeof r->drop_why];

    (void)fd;
    (void)what;
    memcpy(why, r->drop_why, sizeof why);
    drop_context(r, why);
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

/* AUTH's answer: on a refusal the commands queued behind it fail too
 * (NOAUTH); the context is dropped (from the loop, not from inside this
 * callback) and made again with the backoff. */
static void on_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
    static const struct timeval now = {0, 0};
    struct registry *r = privdata;
    redisReply *reply = reply_;

    if (reply == NULL || ac->data == NULL || r->freeing ||
        reply->type != REDIS_REPLY_ERROR)
        return;
    log_error("cluster: Redis refused our credentials "
              "(cluster.redis_user, cluster.redis_password_file): %s",
              LOG_VALUE(reply->str));
    snprintf(r->drop_why, sizeof r->drop_why, "authentication refused");
    evtimer_add(r->drop_ev, &now);
}

/* AUTH [user] password, first on a new connection. */
static void send_auth(struct registry *r)
{
    const char *args[3] = {"AUTH"};
    int argc = 1;

    if (r->conf.redis_password == NULL)
        return;
    if (r->conf.redis_user != NULL)
        args[argc++] = r->conf.redis_user;
    args[argc++] = r->conf.redis_password;
    redisAsyncCommandArgv(r->ac, on_auth, r, argc, args, NULL);
}

void registry_connect(struct registry *r)
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
    /* Queued in hiredis until the connection is up: AUTH; then the
     * releases, so that names of a fenced id are free by the time we
     * register. */
    send_auth(r);
    load_scripts(r);
    registry_flush_releases(r);
    registry_send_register(r);
}

void registry_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    registry_connect(arg);
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

void registry_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct registry *r = arg;
    uint64_t now = registry_now_ms();

    (void)fd;
    (void)what;
    watchdog(r, now);
    registry_check_fence(r, now);
}

void registry_renew_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    registry_renew_tick(arg);
}
