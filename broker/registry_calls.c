/*
 * registry_calls.c - the registry's calls (registry.h): claims, look-ups
 * and releases, their answers, cancellation, the delivery of
 * REGISTRY_UNAVAILABLE from the loop, and the queue of releases that
 * wait for Redis to answer again.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "registry-internal.h"
#include "registry_scripts.h"
#include "xalloc.h"

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

void registry_call_free_if_unused(struct registry_call *call)
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

void registry_deliver_failed(evutil_socket_t fd, short what, void *arg)
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
        registry_call_free_if_unused(call);
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
        registry_call_free_if_unused(oldest);
    }
    call->in_queue = true;
    TAILQ_INSERT_TAIL(&r->releases, call, queue_link);
    r->nreleases++;
}

static bool send_release(struct registry *r, struct registry_call *call)
{
    char key[NAME_KEY_MAX], set[KEY_MAX], value[64];
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
void registry_call_lost(struct registry *r, struct registry_call *call)
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

void registry_call_answered(struct registry *r, struct registry_call *call,
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

/* ----------------------------------------------------------------------
 * Claims, look-ups, releases
 */

static bool send_claim(struct registry *r, struct registry_call *call)
{
    char brokers[KEY_MAX], key[NAME_KEY_MAX], set[KEY_MAX], sid[24];
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
    if (strlen(name) > REGISTRY_NAME_MAX || !registry_is_live(r) ||
        r->ac == NULL || !send_claim(r, call))
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
    char brokers[KEY_MAX], key[NAME_KEY_MAX];
    const char *argv[4];

    call->name = mp_xstrdup(name);
    call->lookup_cb = cb;
    call->arg = arg;
    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, key, sizeof key, "name:", name);
    argv[2] = r->prefix;
    argv[3] = NULL;
    if (strlen(name) > REGISTRY_NAME_MAX || r->state == STATE_LEFT ||
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
    registry_call_free_if_unused(call);
}

void registry_release(struct registry *r, const char *name,
                      uint64_t session_id)
{
    /* Fenced: the session held the name under the id we had, and
     * compare-and-delete under that id frees it sooner than reaping. */
    const char *id = r->id[0] != '\0' ? r->id : r->fenced_id;

    if (id[0] == '\0' || r->state == STATE_LEFT ||
        strlen(name) > REGISTRY_NAME_MAX)
        return;
    registry_release_as(r, id, name, session_id);
}
