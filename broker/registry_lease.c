/*
 * registry_lease.c - this broker's place in the registry: registration,
 * the lease's renewal (which also reaps expired brokers and drains our
 * mailbox), self-fencing and leaving (registry.h).
 *
 * The fence bound is measured on our monotonic clock from the *send*
 * time of the last renewal Redis answered OK: Redis set the deadline
 * (its TIME + lease_ms) no earlier than that, so as long as fence_ms <
 * lease_ms (with room for the clocks' rates) we stop acting as an owner
 * before any other broker may take our names.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include "log.h"
#include "registry-internal.h"
#include "registry_scripts.h"
#include "xalloc.h"

void registry_new_id(char out[REGISTRY_ID_LEN + 1])
{
    unsigned char bytes[REGISTRY_ID_LEN / 2];
    size_t got = 0;

    /* Random, never INCR: an id must stay unique across Redis losing
     * its data. */
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (errno != EINTR) {
            log_error("cluster: getrandom: %s", strerror(errno));
            abort(); /* no id is better than a guessable one */
        }
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* ----------------------------------------------------------------------
 * Registration
 */

void registry_send_register(struct registry *r)
{
    struct registry_call *call;
    char brokers[KEY_MAX], epoch_key[KEY_MAX], hash[KEY_MAX];
    char epoch[REGISTRY_ID_LEN + 1];
    char lease[16], port[16];
    const char *argv[9];

    if (r->state != STATE_REGISTERING || r->register_in_flight ||
        r->ac == NULL)
        return;
    registry_new_id(epoch);
    snprintf(lease, sizeof lease, "%u", r->conf.lease_ms);
    snprintf(port, sizeof port, "%d", r->conf.link_port);
    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, epoch_key, sizeof epoch_key, "epoch", NULL);
    argv[2] = registry_key(r, hash, sizeof hash, "broker:", r->next_id);
    argv[3] = epoch;
    argv[4] = r->next_id;
    argv[5] = lease;
    argv[6] = r->conf.link_host;
    argv[7] = port;
    argv[8] = NULL;
    call = registry_call_new(r, CALL_REGISTER);
    call->generation = r->generation;
    if (!registry_send(r, call, registry_script_register, 3, argv)) {
        free(call);
        return;
    }
    r->register_in_flight = true;
}

void registry_on_register(struct registry *r, struct registry_call *call,
                          const redisReply *reply)
{
    if (call->generation != r->generation)
        return; /* sent before a fence: that id is abandoned */
    r->register_in_flight = false;
    if (reply->type != REDIS_REPLY_STRING) {
        log_warn("cluster: unexpected answer to registering");
        return; /* the next renewal tick tries again */
    }
    free(r->epoch);
    r->epoch = mp_xstrdup(reply->str);
    memcpy(r->id, r->next_id, sizeof r->id);
    r->state = STATE_REGISTERED;
    r->generation++;
    r->renew_in_flight = false;
    r->last_ok_sent_ms = call->sent_ms;
    log_notice("cluster: registered as %s (epoch %s)%s", r->id, r->epoch,
               r->fresh ? "" : " again: Redis had lost its data");
    if (r->events.registered != NULL)
        r->events.registered(r->arg, r->id, r->fresh);
}

/* Redis lost its data (the epoch is gone or another): register the same
 * id again; our clients keep their names, re-claimed by the caller. */
static void register_again(struct registry *r)
{
    log_warn("cluster: Redis lost its data (epoch %s gone): registering "
             "%s again", r->epoch, r->id);
    r->state = STATE_REGISTERING;
    r->fresh = false;
    memcpy(r->next_id, r->id, sizeof r->next_id);
    r->generation++;
    r->register_in_flight = r->renew_in_flight = false;
    registry_send_register(r);
}

/* ----------------------------------------------------------------------
 * Renewal
 */

static void send_renew(struct registry *r)
{
    struct registry_call *call;
    char brokers[KEY_MAX], epoch_key[KEY_MAX], hash[KEY_MAX], mbox[KEY_MAX];
    char lease[16], budget[16];
    const char *argv[10];

    snprintf(lease, sizeof lease, "%u", r->conf.lease_ms);
    snprintf(budget, sizeof budget, "%d", REGISTRY_REAP_BUDGET);
    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, epoch_key, sizeof epoch_key, "epoch", NULL);
    argv[2] = registry_key(r, hash, sizeof hash, "broker:", r->id);
    argv[3] = registry_key(r, mbox, sizeof mbox, "mbox:", r->id);
    argv[4] = r->epoch;
    argv[5] = r->id;
    argv[6] = lease;
    argv[7] = r->prefix;
    argv[8] = budget;
    argv[9] = NULL;
    call = registry_call_new(r, CALL_RENEW);
    call->generation = r->generation;
    if (!registry_send(r, call, registry_script_renew, 4, argv)) {
        free(call);
        return;
    }
    r->renew_in_flight = true;
}

void registry_renew_tick(struct registry *r)
{
    if (r->ac == NULL)
        return; /* the reconnection registers or renews */
    if (r->state == STATE_REGISTERING)
        registry_send_register(r);
    /* One renewal at a time: a slow Redis gets no pile of them, and the
     * watchdog bounds the one outstanding. */
    else if (r->state == STATE_REGISTERED && !r->renew_in_flight)
        send_renew(r);
}

void registry_lease_call_lost(struct registry *r, struct registry_call *call)
{
    if (call->generation != r->generation)
        return;
    if (call->kind == CALL_REGISTER)
        r->register_in_flight = false;
    else
        r->renew_in_flight = false;
}

/* "kick <sid> <name>" and "dead <broker id>". */
static void read_notice(struct registry *r, const char *notice)
{
    char *end;

    if (strncmp(notice, "kick ", 5) == 0) {
        uint64_t sid = strtoull(notice + 5, &end, 10);
        if (*end == ' ' && r->events.kick != NULL)
            r->events.kick(r->arg, end + 1, sid);
    } else if (strncmp(notice, "dead ", 5) == 0) {
        log_info("cluster: broker %s is dead", notice + 5);
        if (r->events.dead != NULL)
            r->events.dead(r->arg, notice + 5);
    } else {
        log_warn("cluster: unknown notice in our mailbox: %s",
                 LOG_VALUE(notice));
    }
}

static void read_reaped(struct registry *r, const redisReply *list)
{
    for (size_t i = 0; i + 1 < list->elements; i += 2) {
        const redisReply *id = list->element[i];
        const redisReply *n = list->element[i + 1];
        if (id->type != REDIS_REPLY_STRING)
            continue;
        log_notice("cluster: reaped broker %s (%lld names)", id->str,
                   n->type == REDIS_REPLY_INTEGER ? n->integer : 0LL);
        r->stats.reaped++;
    }
}

static void renewed(struct registry *r, struct registry_call *call,
                    const redisReply *reply)
{
    const redisReply *mail = reply->element[2];
    uint64_t rtt_us = registry_now_us() - call->sent_us;

    r->last_ok_sent_ms = call->sent_ms;
    r->stats.renewals++;
    r->stats.rtt_us_last = rtt_us;
    r->stats.rtt_us_sum += rtt_us;
    if (reply->element[1]->type == REDIS_REPLY_INTEGER)
        r->stats.brokers_alive = (uint64_t)reply->element[1]->integer;
    if (reply->element[3]->type == REDIS_REPLY_ARRAY)
        read_reaped(r, reply->element[3]);
    if (mail->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < mail->elements; i++)
        if (mail->element[i]->type == REDIS_REPLY_STRING)
            read_notice(r, mail->element[i]->str);
}

void registry_on_renew(struct registry *r, struct registry_call *call,
                       const redisReply *reply)
{
    const char *v = "";

    if (call->generation != r->generation)
        return; /* of an id fenced or registered again since */
    r->renew_in_flight = false;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_STRING)
        v = reply->element[0]->str;
    if (strcmp(v, "ok") == 0 && reply->elements == 4)
        renewed(r, call, reply);
    else if (strcmp(v, "epoch") == 0)
        register_again(r);
    else if (strcmp(v, "expired") == 0)
        registry_fence(r, "our lease had expired in Redis");
    else
        log_warn("cluster: unexpected answer to a renewal");
}

/* ----------------------------------------------------------------------
 * Fencing
 */

void registry_check_fence(struct registry *r, uint64_t now)
{
    char why[80];

    if (r->id[0] == '\0' || r->state == STATE_LEFT ||
        now - r->last_ok_sent_ms < r->conf.fence_ms)
        return;
    snprintf(why, sizeof why, "no renewal answered within %u ms",
             r->conf.fence_ms);
    registry_fence(r, why);
}

void registry_fence(struct registry *r, const char *why)
{
    log_warn("cluster: fenced: %s (was %s)", why, r->id);
    r->stats.fencings++;
    memcpy(r->fenced_id, r->id, sizeof r->fenced_id);
    r->id[0] = '\0';
    r->generation++;
    r->register_in_flight = r->renew_in_flight = false;
    r->state = STATE_REGISTERING;
    r->fresh = true;
    registry_new_id(r->next_id);
    registry_fail_pending_claims(r);
    if (r->events.fenced != NULL)
        r->events.fenced(r->arg, why);
    registry_send_register(r);
}

/* ----------------------------------------------------------------------
 * Leaving
 */

static bool send_leave(struct registry *r)
{
    struct registry_call *call = registry_call_new(r, CALL_LEAVE);
    char brokers[KEY_MAX], set[KEY_MAX], hash[KEY_MAX], mbox[KEY_MAX];
    const char *argv[7];

    argv[0] = registry_key(r, brokers, sizeof brokers, "brokers", NULL);
    argv[1] = registry_key(r, set, sizeof set, "names:", r->id);
    argv[2] = registry_key(r, hash, sizeof hash, "broker:", r->id);
    argv[3] = registry_key(r, mbox, sizeof mbox, "mbox:", r->id);
    argv[4] = r->id;
    argv[5] = r->prefix;
    argv[6] = NULL;
    if (!registry_send(r, call, registry_script_leave, 4, argv)) {
        free(call);
        return false;
    }
    return true;
}

/*
 * Wait for the leave script's answer by driving the context ourselves
 * (poll on its socket, hiredis's own read and write handlers) rather
 * than the event loop: registry_leave is called at shutdown, often from
 * inside a callback of that very loop, which libevent does not re-enter.
 */
static void wait_for_leave(struct registry *r, unsigned timeout_ms)
{
    uint64_t deadline = registry_now_ms() + timeout_ms;
    uint64_t now;

    while (!r->leave_done && r->ac != NULL &&
           (now = registry_now_ms()) < deadline) {
        redisAsyncContext *ac = r->ac;
        struct pollfd pfd = {.fd = ac->c.fd, .events = POLLIN};

        if (r->connecting || sdslen(ac->c.obuf) > 0)
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
            continue;
        /* Either may free the context (EOF): on_disconnect clears r->ac. */
        if (pfd.revents & POLLOUT)
            redisAsyncHandleWrite(ac);
        if (r->ac == ac && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
            redisAsyncHandleRead(ac);
    }
}

void registry_leave(struct registry *r, unsigned timeout_ms)
{
    if (r->state == STATE_IDLE || r->state == STATE_LEFT)
        return;
    r->leave_done = false;
    if (r->id[0] != '\0' && r->ac != NULL && send_leave(r)) {
        r->state = STATE_LEFT; /* no renewal or registration meanwhile */
        wait_for_leave(r, timeout_ms);
        if (!r->leave_done)
            log_warn("cluster: Redis did not answer our leaving within "
                     "%u ms: our names go by reaping", timeout_ms);
    }
    registry_stop(r);
    r->id[0] = '\0';
}
