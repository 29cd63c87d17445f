/*
 * test_registry.c - the cluster's registry (broker/registry.h) in
 * process, against a real redis-server: two registry instances on one
 * event base play two brokers. Timings are short (a 600 ms lease) and
 * scaled by mpt_ms() like every deadline, so the tests stay fast and
 * still hold under valgrind. Waiting is always "run the loop once until
 * a condition or a deadline", never a sleep.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "errors.h"
#include "harness.h"
#include "log.h"
#include "redis_server.h"
#include "registry.h"

static struct redis_server *redis;
static struct event_base *base;

static void setup(void)
{
    const char *wrapper = getenv("MP_BROKER_WRAPPER");

    /* No broker process here for the wrapper to run: under it this would
     * only be the plain run again, twenty times slower. */
    if (wrapper != NULL && *wrapper != '\0')
        cr_skip_test("the registry runs in this process, not under %s",
                     wrapper);
    mp_log_set_level(getenv("MP_TEST_VERBOSE") ? MP_LOG_DEBUG
                                               : MP_LOG_ERROR);
    redis = redis_server_start();
    cr_assert_not_null(redis, "redis-server did not start");
    base = event_base_new();
    cr_assert_not_null(base);
}

static void teardown(void)
{
    redis_server_reap_all();
    if (base != NULL)
        event_base_free(base);
    base = NULL;
}

TestSuite(registry, .init = setup, .fini = teardown, .timeout = 90);

/* ----------------------------------------------------------------------
 * A broker: one registry and what its events said
 */

struct broker {
    struct registry *r;
    int port;
    int registered;
    bool fresh;
    char id[REGISTRY_ID_LEN + 1];
    int fenced;
    int kicks;
    char kick_name[64];
    uint64_t kick_sid;
    int deads;
    char dead_id[REGISTRY_ID_LEN + 1];
};

static void on_registered(void *arg, const char *id, bool fresh)
{
    struct broker *b = arg;

    b->registered++;
    b->fresh = fresh;
    snprintf(b->id, sizeof b->id, "%s", id);
}

static void on_fenced(void *arg, const char *why)
{
    struct broker *b = arg;

    (void)why;
    b->fenced++;
}

static void on_kick(void *arg, const char *name, uint64_t sid)
{
    struct broker *b = arg;

    b->kicks++;
    snprintf(b->kick_name, sizeof b->kick_name, "%s", name);
    b->kick_sid = sid;
}

static void on_dead(void *arg, const char *id)
{
    struct broker *b = arg;

    b->deads++;
    snprintf(b->dead_id, sizeof b->dead_id, "%s", id);
}

static const struct registry_events events = {
    .registered = on_registered,
    .fenced = on_fenced,
    .kick = on_kick,
    .dead = on_dead,
};

/* Timings in ms before scaling. */
struct timings {
    unsigned lease, fence, renew, timeout;
};
static const struct timings fast = {600, 480, 100, 200};

static bool deadline_passed;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    deadline_passed = true;
}

/* Run the loop until pred(arg) holds or ms (scaled) passed. */
static bool run_until(bool (*pred)(void *), void *arg, int ms)
{
    struct event *timer = evtimer_new(base, on_deadline, NULL);
    struct timeval tv = {mpt_ms(ms) / 1000, (mpt_ms(ms) % 1000) * 1000};
    bool ok;

    deadline_passed = false;
    evtimer_add(timer, &tv);
    while (!(ok = pred(arg)) && !deadline_passed)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(timer);
    return ok;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* Let the loop run for ms (scaled): a fault's duration, not a wait. */
static void run_for(int ms)
{
    run_until(never, NULL, ms);
}

static bool int_positive(void *arg)
{
    return *(int *)arg > 0;
}

static struct broker *broker_new(const struct timings *t, int port)
{
    struct broker *b = calloc(1, sizeof *b);
    struct registry_conf conf = {
        .redis = redis_server_address(redis),
        .key_prefix = "test",
        .lease_ms = (unsigned)mpt_ms((int)t->lease),
        .fence_ms = (unsigned)mpt_ms((int)t->fence),
        .renew_ms = (unsigned)mpt_ms((int)t->renew),
        .command_timeout_ms = (unsigned)mpt_ms((int)t->timeout),
        .link_host = "127.0.0.1",
        .link_port = port,
    };
    struct errors errs;

    cr_assert_not_null(b);
    errors_init(&errs);
    b->port = port;
    b->r = registry_new(base, &conf, &events, b, &errs);
    cr_assert_not_null(b->r);
    errors_free(&errs);
    registry_start(b->r);
    cr_assert(run_until(int_positive, &b->registered, 3000),
              "not registered");
    cr_assert(b->fresh);
    cr_assert_str_eq(registry_broker_id(b->r), b->id);
    return b;
}

static void broker_free(struct broker *b)
{
    registry_free(b->r);
    free(b);
}

/* ----------------------------------------------------------------------
 * Synchronous claims and look-ups
 */

struct answer {
    bool done;
    enum registry_status status;
    bool have_owner;
    struct registry_owner owner;
};

static void on_answer(void *arg, enum registry_status status,
                      const struct registry_owner *owner)
{
    struct answer *a = arg;

    a->done = true;
    a->status = status;
    a->have_owner = owner != NULL;
    if (owner != NULL)
        a->owner = *owner;
}

static bool answered(void *arg)
{
    return ((struct answer *)arg)->done;
}

static struct answer claim(struct broker *b, const char *name, uint64_t sid,
                           bool replace)
{
    struct answer a = {0};

    registry_claim(b->r, name, sid, replace, on_answer, &a);
    cr_assert(!a.done, "a claim answered from inside registry_claim");
    cr_assert(run_until(answered, &a, 3000), "claim not answered");
    return a;
}

static struct answer reclaim(struct broker *b, const char *name,
                             uint64_t sid)
{
    struct answer a = {0};

    registry_reclaim(b->r, name, sid, on_answer, &a);
    cr_assert(run_until(answered, &a, 3000), "reclaim not answered");
    return a;
}

static struct answer lookup(struct broker *b, const char *name)
{
    struct answer a = {0};

    registry_lookup(b->r, name, on_answer, &a);
    cr_assert(!a.done, "a lookup answered from inside registry_lookup");
    cr_assert(run_until(answered, &a, 3000), "lookup not answered");
    return a;
}

/* ----------------------------------------------------------------------
 * Redis as seen by a test
 */

/* GET {test}:<what><arg> as a string ("" when missing); the caller
 * frees. */
static char *get(const char *what, const char *arg)
{
    char key[256];
    redisReply *reply;
    char *value;

    snprintf(key, sizeof key, "{test}:%s%s", what, arg);
    reply = redis_server_command(redis, "GET %s", key);
    cr_assert_not_null(reply);
    value = strdup(reply->type == REDIS_REPLY_STRING ? reply->str : "");
    freeReplyObject(reply);
    return value;
}

static void assert_name(const char *name, const char *expected)
{
    char *value = get("name:", name);

    cr_assert_str_eq(value, expected, "name %s: \"%s\", not \"%s\"", name,
                     value, expected);
    free(value);
}

static long long integer_reply(redisReply *reply)
{
    long long v;

    cr_assert_not_null(reply);
    cr_assert_eq(reply->type, REDIS_REPLY_INTEGER);
    v = reply->integer;
    freeReplyObject(reply);
    return v;
}

/* Is name in broker id's set of names? */
static bool owns(const char *id, const char *name)
{
    return integer_reply(redis_server_command(
               redis, "SISMEMBER {test}:names:%s %s", id, name)) == 1;
}

static bool key_exists(const char *what, const char *id)
{
    char key[256];

    snprintf(key, sizeof key, "{test}:%s%s", what, id);
    return integer_reply(redis_server_command(redis, "EXISTS %s", key)) == 1;
}

static bool in_brokers(const char *id)
{
    redisReply *reply =
        redis_server_command(redis, "ZSCORE {test}:brokers %s", id);
    bool in;

    cr_assert_not_null(reply);
    in = reply->type == REDIS_REPLY_STRING;
    freeReplyObject(reply);
    return in;
}

static void owner_value(char *buf, size_t len, const struct broker *b,
                        uint64_t sid)
{
    snprintf(buf, len, "%s %" PRIu64, b->id, sid);
}

/* ----------------------------------------------------------------------
 * The tests
 */

Test(registry, registers_with_a_random_id_and_its_link_address)
{
    struct broker *a = broker_new(&fast, 7340);
    char *epoch = get("epoch", "");
    char key[64];
    redisReply *reply;

    cr_assert_eq(strlen(a->id), REGISTRY_ID_LEN);
    cr_assert_eq(strspn(a->id, "0123456789abcdef"), REGISTRY_ID_LEN);
    cr_assert_neq(epoch[0], '\0');
    free(epoch);
    cr_assert(in_brokers(a->id));
    snprintf(key, sizeof key, "{test}:broker:%s", a->id);
    reply = redis_server_command(redis, "HMGET %s host port", key);
    cr_assert_not_null(reply);
    cr_assert_str_eq(reply->element[0]->str, "127.0.0.1");
    cr_assert_str_eq(reply->element[1]->str, "7340");
    freeReplyObject(reply);
    cr_assert(registry_is_live(a->r));
    run_for(300);
    cr_assert_gt(registry_stats(a->r)->renewals, 0);
    cr_assert_eq(registry_stats(a->r)->brokers_alive, 1);
    broker_free(a);
}

Test(registry, claims_a_free_name)
{
    struct broker *a = broker_new(&fast, 1);
    struct answer ans = claim(a, "alice", 1, false);
    char value[64];

    cr_assert_eq(ans.status, REGISTRY_OK);
    owner_value(value, sizeof value, a, 1);
    assert_name("alice", value);
    cr_assert(owns(a->id, "alice"));
    /* The same session again: still ours. */
    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    broker_free(a);
}

Test(registry, rejects_a_name_with_a_live_owner)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    struct answer ans;
    char value[64];

    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    ans = claim(b, "alice", 2, false);
    cr_assert_eq(ans.status, REGISTRY_TAKEN);
    cr_assert(ans.have_owner);
    cr_assert_str_eq(ans.owner.broker_id, a->id);
    cr_assert_eq(ans.owner.session_id, 1);
    cr_assert_str_eq(ans.owner.host, "127.0.0.1");
    cr_assert_eq(ans.owner.port, 1001);
    /* Another session of the owner's own broker is refused too. */
    cr_assert_eq(claim(a, "alice", 3, false).status, REGISTRY_TAKEN);
    owner_value(value, sizeof value, a, 1);
    assert_name("alice", value);
    cr_assert_eq(b->kicks + a->kicks, 0);
    broker_free(b);
    broker_free(a);
}

Test(registry, replace_takes_over_and_kicks_the_old_owner)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    struct answer ans;
    char value[64];

    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    ans = claim(b, "alice", 2, true);
    cr_assert_eq(ans.status, REGISTRY_REPLACED);
    cr_assert_str_eq(ans.owner.broker_id, a->id);
    cr_assert_eq(ans.owner.session_id, 1);
    cr_assert_eq(ans.owner.port, 1001);
    owner_value(value, sizeof value, b, 2);
    assert_name("alice", value);
    cr_assert_not(owns(a->id, "alice"));
    cr_assert(owns(b->id, "alice"));
    /* A's next renewal drains its mailbox. */
    cr_assert(run_until(int_positive, &a->kicks, 2000), "no kick");
    cr_assert_eq(a->kicks, 1);
    cr_assert_str_eq(a->kick_name, "alice");
    cr_assert_eq(a->kick_sid, 1);
    cr_assert_eq(b->kicks, 0);
    broker_free(b);
    broker_free(a);
}

Test(registry, release_deletes_only_what_is_still_ours)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    char value[64];

    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    cr_assert_eq(claim(b, "alice", 2, true).status, REGISTRY_REPLACED);
    /* A's session logs out late: a stale release after the takeover.
     * A look-up on the same connection answers after it ran. */
    registry_release(a->r, "alice", 1);
    cr_assert_eq(lookup(a, "alice").status, REGISTRY_OK);
    owner_value(value, sizeof value, b, 2);
    assert_name("alice", value);
    /* The owner's release deletes. */
    registry_release(b->r, "alice", 2);
    cr_assert_eq(lookup(b, "alice").status, REGISTRY_NOT_FOUND);
    assert_name("alice", "");
    cr_assert_not(owns(b->id, "alice"));
    broker_free(b);
    broker_free(a);
}

Test(registry, lookup_finds_a_live_owner_or_nobody)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    struct answer ans;

    cr_assert_eq(claim(a, "alice", 42, false).status, REGISTRY_OK);
    ans = lookup(b, "alice");
    cr_assert_eq(ans.status, REGISTRY_OK);
    cr_assert_str_eq(ans.owner.broker_id, a->id);
    cr_assert_eq(ans.owner.session_id, 42);
    cr_assert_str_eq(ans.owner.host, "127.0.0.1");
    cr_assert_eq(ans.owner.port, 1001);
    ans = lookup(b, "nobody");
    cr_assert_eq(ans.status, REGISTRY_NOT_FOUND);
    cr_assert_not(ans.have_owner);
    broker_free(b);
    broker_free(a);
}

struct reaped {
    const char *id;
};

static bool broker_gone(void *arg)
{
    return !in_brokers(((struct reaped *)arg)->id);
}

Test(registry, an_expired_broker_is_reaped_and_the_survivor_told)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    char b_id[REGISTRY_ID_LEN + 1], value[64], key[64];
    struct reaped gone = {b_id};

    memcpy(b_id, b->id, sizeof b_id);
    cr_assert_eq(claim(b, "bob", 1, false).status, REGISTRY_OK);
    cr_assert_eq(claim(b, "carol", 2, false).status, REGISTRY_OK);
    /* carol was taken over meanwhile (as the claim script would after
     * B's lease expired): reaping B must not delete it. */
    owner_value(value, sizeof value, a, 7);
    snprintf(key, sizeof key, "{test}:name:carol");
    freeReplyObject(redis_server_command(redis, "SET %s %s", key, value));
    /* B dies without leaving. */
    broker_free(b);
    cr_assert_eq(lookup(a, "bob").status, REGISTRY_OK);
    cr_assert(run_until(broker_gone, &gone, 3000), "B not reaped");
    cr_assert(run_until(int_positive, &a->deads, 2000), "no dead notice");
    cr_assert_str_eq(a->dead_id, b_id);
    assert_name("bob", "");
    assert_name("carol", value);
    cr_assert_not(key_exists("names:", b_id));
    cr_assert_not(key_exists("broker:", b_id));
    cr_assert_not(key_exists("mbox:", b_id));
    cr_assert_eq(lookup(a, "bob").status, REGISTRY_NOT_FOUND);
    cr_assert_eq(registry_stats(a->r)->reaped, 1);
    cr_assert_eq(a->fenced, 0);
    broker_free(a);
}

Test(registry, a_broker_younger_than_a_lease_reaps_nobody)
{
    struct broker *a = broker_new(&fast, 1001);
    char dead[] = "00000000000000aa";

    /* An expired broker planted by hand. */
    freeReplyObject(redis_server_command(
        redis, "ZADD {test}:brokers 1 %s", dead));
    run_for(300); /* three renewals, all within A's first lease */
    cr_assert(in_brokers(dead));
    cr_assert(run_until(int_positive, &a->deads, 3000), "never reaped");
    cr_assert_str_eq(a->dead_id, dead);
    broker_free(a);
}

struct name_check {
    const char *name;
};

static bool name_free(void *arg)
{
    char *value = get("name:", ((struct name_check *)arg)->name);
    bool free_ = value[0] == '\0';

    free(value);
    return free_;
}

static bool int_ge2(void *arg)
{
    return *(int *)arg >= 2;
}

Test(registry, fences_when_redis_stops_longer_than_the_bound)
{
    struct broker *a = broker_new(&fast, 1001);
    char old_id[REGISTRY_ID_LEN + 1];
    struct answer pending = {0};
    struct answer ans;

    struct name_check alice = {"alice"};

    memcpy(old_id, a->id, sizeof old_id);
    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    redis_server_pause(redis);
    /* A call waiting in the stuck context is answered by the watchdog. */
    registry_lookup(a->r, "alice", on_answer, &pending);
    cr_assert(run_until(answered, &pending, 2000), "watchdog silent");
    cr_assert_eq(pending.status, REGISTRY_UNAVAILABLE);
    cr_assert(run_until(int_positive, &a->fenced, 3000), "not fenced");
    cr_assert_eq(a->fenced, 1);
    cr_assert_not(registry_is_live(a->r));
    cr_assert_str_eq(registry_broker_id(a->r), "");
    /* A fenced broker's claims are refused without asking Redis. */
    ans = claim(a, "bob", 2, false);
    cr_assert_eq(ans.status, REGISTRY_UNAVAILABLE);
    /* The broker closes its clients: their releases, under the old id,
     * wait for Redis. */
    registry_release(a->r, "alice", 1);
    redis_server_resume(redis);
    cr_assert(run_until(int_ge2, &a->registered, 5000), "no new id");
    /* Released before the new id could reap anything (a lease). */
    cr_assert(name_free(&alice), "alice not released");
    cr_assert(a->fresh);
    cr_assert_str_neq(a->id, old_id);
    cr_assert(registry_is_live(a->r));
    cr_assert_eq(registry_stats(a->r)->fencings, 1);
    cr_assert_eq(claim(a, "bob", 2, false).status, REGISTRY_OK);
    broker_free(a);
}

Test(registry, a_stop_shorter_than_the_bound_fences_nobody)
{
    /* Long enough a fence bound that the watchdog (300 ms) drops and
     * reconnects within it. */
    static const struct timings t = {1500, 1200, 100, 300};
    struct broker *a = broker_new(&t, 1001);
    char old_id[REGISTRY_ID_LEN + 1];
    struct answer pending = {0};
    uint64_t renewals;

    memcpy(old_id, a->id, sizeof old_id);
    redis_server_pause(redis);
    registry_lookup(a->r, "alice", on_answer, &pending);
    run_for(500);
    redis_server_resume(redis);
    cr_assert(pending.done);
    cr_assert_eq(pending.status, REGISTRY_UNAVAILABLE);
    renewals = registry_stats(a->r)->renewals;
    run_for(1000);
    cr_assert_gt(registry_stats(a->r)->renewals, renewals);
    cr_assert_eq(a->fenced, 0);
    cr_assert_eq(a->registered, 1);
    cr_assert_str_eq(a->id, old_id);
    cr_assert(registry_is_live(a->r));
    cr_assert_eq(lookup(a, "alice").status, REGISTRY_NOT_FOUND);
    broker_free(a);
}

Test(registry, an_empty_redis_after_kill9_registers_the_same_id_again)
{
    static const struct timings t = {3000, 2400, 100, 300};
    struct broker *a = broker_new(&t, 1001);
    char old_id[REGISTRY_ID_LEN + 1], value[64];
    struct answer ans;

    memcpy(old_id, a->id, sizeof old_id);
    cr_assert_eq(claim(a, "dora", 5, false).status, REGISTRY_OK);
    redis_server_kill9(redis);
    cr_assert(redis_server_restart(redis));
    assert_name("dora", "");
    cr_assert(run_until(int_ge2, &a->registered, 3000), "not registered");
    cr_assert_not(a->fresh);
    cr_assert_str_eq(a->id, old_id);
    cr_assert_eq(a->fenced, 0);
    ans = reclaim(a, "dora", 5);
    cr_assert_eq(ans.status, REGISTRY_OK);
    owner_value(value, sizeof value, a, 5);
    assert_name("dora", value);
    broker_free(a);
}

Test(registry, a_reaped_broker_is_refused_and_fences)
{
    struct broker *a = broker_new(&fast, 1001);

    /* Another broker reaped us (say after a long pause of ours). */
    freeReplyObject(redis_server_command(redis, "ZREM {test}:brokers %s",
                                         a->id));
    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_UNAVAILABLE);
    assert_name("alice", "");
    cr_assert(run_until(int_positive, &a->fenced, 2000), "not fenced");
    cr_assert(run_until(int_ge2, &a->registered, 2000), "no new id");
    cr_assert(a->fresh);
    broker_free(a);
}

Test(registry, a_claim_cancelled_after_sending_is_released)
{
    struct broker *a = broker_new(&fast, 1001);
    struct answer ans = {0};
    struct registry_call *call;
    struct name_check alice = {"alice"};

    call = registry_claim(a->r, "alice", 1, false, on_answer, &ans);
    registry_cancel(a->r, call);
    /* Answered OK in Redis, then given back. */
    run_for(200);
    cr_assert(run_until(name_free, &alice, 2000), "never released");
    cr_assert_not(ans.done);
    broker_free(a);
}

Test(registry, leaving_removes_everything_and_tells_the_others)
{
    struct broker *a = broker_new(&fast, 1001);
    struct broker *b = broker_new(&fast, 1002);
    char b_id[REGISTRY_ID_LEN + 1];

    memcpy(b_id, b->id, sizeof b_id);
    cr_assert_eq(claim(b, "erin", 1, false).status, REGISTRY_OK);
    registry_leave(b->r, (unsigned)mpt_ms(1000));
    cr_assert_str_eq(registry_broker_id(b->r), "");
    cr_assert_not(registry_is_live(b->r));
    assert_name("erin", "");
    cr_assert_not(in_brokers(b_id));
    cr_assert_not(key_exists("broker:", b_id));
    cr_assert_not(key_exists("names:", b_id));
    cr_assert(run_until(int_positive, &a->deads, 2000), "no dead notice");
    cr_assert_str_eq(a->dead_id, b_id);
    /* After leaving: calls are refused, releases dropped. */
    cr_assert_eq(lookup(b, "erin").status, REGISTRY_UNAVAILABLE);
    registry_release(b->r, "erin", 1);
    broker_free(b);
    broker_free(a);
}

Test(registry, releases_made_while_redis_is_down_are_sent_after)
{
    static const struct timings t = {3000, 2400, 100, 300};
    struct broker *a = broker_new(&t, 1001);
    struct name_check alice = {"alice"};
    char value[64];

    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    redis_server_pause(redis);
    run_for(400); /* the watchdog drops the context */
    registry_release(a->r, "alice", 1);
    redis_server_resume(redis);
    cr_assert(run_until(name_free, &alice, 3000), "release lost");
    owner_value(value, sizeof value, a, 1);
    cr_assert_eq(a->fenced, 0);
    broker_free(a);
}

struct leaver {
    struct broker *b;
    bool done;
};

static void leave_now(evutil_socket_t fd, short what, void *arg)
{
    struct leaver *l = arg;

    (void)fd;
    (void)what;
    registry_leave(l->b->r, (unsigned)mpt_ms(1000));
    l->done = true;
}

static bool left(void *arg)
{
    return ((struct leaver *)arg)->done;
}

Test(registry, leaving_works_from_inside_the_event_loop)
{
    struct broker *b = broker_new(&fast, 1002);
    char b_id[REGISTRY_ID_LEN + 1];
    struct leaver l = {b, false};
    struct timeval now = {0, 0};
    struct event *ev = evtimer_new(base, leave_now, &l);

    memcpy(b_id, b->id, sizeof b_id);
    cr_assert_eq(claim(b, "erin", 1, false).status, REGISTRY_OK);
    evtimer_add(ev, &now);
    cr_assert(run_until(left, &l, 2000));
    event_free(ev);
    assert_name("erin", "");
    cr_assert_not(in_brokers(b_id));
    broker_free(b);
}

Test(registry, a_refusing_redis_answers_unavailable)
{
    struct broker *a = broker_new(&fast, 1001);

    /* Out of memory: Redis refuses every script that writes. */
    freeReplyObject(redis_server_command(redis, "CONFIG SET maxmemory 1"));
    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_UNAVAILABLE);
    freeReplyObject(redis_server_command(redis, "CONFIG SET maxmemory 0"));
    cr_assert_eq(claim(a, "alice", 1, false).status, REGISTRY_OK);
    cr_assert_eq(a->fenced, 0);
    broker_free(a);
}

static bool refused_conf(const char *redis_address, unsigned lease,
                         unsigned fence)
{
    struct registry_conf conf = {
        .redis = redis_address, .lease_ms = lease, .fence_ms = fence,
    };
    struct errors errs;
    struct registry *r;
    bool refused;

    errors_init(&errs);
    r = registry_new(base, &conf, &events, NULL, &errs);
    refused = r == NULL && errors_any(&errs);
    registry_free(r);
    errors_free(&errs);
    return refused;
}

Test(registry, a_bad_configuration_is_refused)
{
    cr_assert(refused_conf("127.0.0.1:6379", 0, 0));
    cr_assert(refused_conf("tcp:127.0.0.1", 0, 0));
    cr_assert(refused_conf("tcp:127.0.0.1:0", 0, 0));
    cr_assert(refused_conf("tcp:127.0.0.1:6379", 1000, 1000));
    cr_assert(refused_conf("tcp:127.0.0.1:6379", 2000, 900));
    cr_assert_not(refused_conf("tcp:127.0.0.1:6379", 0, 0));
    cr_assert_not(refused_conf("unix:/run/redis.sock", 3000, 2000));
}

Test(registry, a_broker_with_many_names_is_reaped_over_several_renewals)
{
    struct broker *a = broker_new(&fast, 1001);
    char dead[] = "00000000000000bb";
    redisReply *reply;

    /* An expired broker with 2500 names (the budget is 1000 a renewal),
     * one of them taken over since. */
    reply = redis_server_command(
        redis, "EVAL %s 0 %s",
        "for i = 1, 2500 do "
        "redis.call('SET', '{test}:name:n' .. i, ARGV[1] .. ' ' .. i) "
        "redis.call('SADD', '{test}:names:' .. ARGV[1], 'n' .. i) end "
        "redis.call('SET', '{test}:name:n7', 'aaaaaaaaaaaaaaaa 1') "
        "redis.call('ZADD', '{test}:brokers', 1, ARGV[1]) return 0",
        dead);
    cr_assert_not_null(reply);
    cr_assert_eq(reply->type, REDIS_REPLY_INTEGER, "%s", reply->str);
    freeReplyObject(reply);
    cr_assert(run_until(int_positive, &a->deads, 4000), "never reaped");
    cr_assert_str_eq(a->dead_id, dead);
    reply = redis_server_command(redis, "DBSIZE");
    cr_assert_not_null(reply);
    /* epoch, brokers, A's hash, n7 (A's mailbox was drained). */
    cr_assert_eq(reply->integer, 4, "%lld keys left", reply->integer);
    freeReplyObject(reply);
    assert_name("n7", "aaaaaaaaaaaaaaaa 1");
    broker_free(a);
}
