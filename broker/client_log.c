/* client_log.c - rate limits on client-caused log lines (see
 * client_log.h). */
#include "config.h"

#include <time.h>

#include "broker.h"
#include "client_log.h"
#include "log.h"
#include "endpoint.h"

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_limit_take(struct log_limit *l, unsigned rate, uint64_t now_ms)
{
    /* A burst of one second's worth, and at least one line. */
    uint64_t cap = (uint64_t)(rate > 0 ? rate : 1) * 1000;
    uint64_t tokens;

    if (rate == 0)
        return true;
    if (l->refilled_ms == 0)
        tokens = cap;
    else
        tokens = l->milli_tokens + (now_ms - l->refilled_ms) * rate;
    l->refilled_ms = now_ms;
    if (tokens > cap)
        tokens = cap;
    if (tokens < 1000) {
        l->milli_tokens = (uint32_t)tokens;
        l->suppressed++;
        return false;
    }
    l->milli_tokens = (uint32_t)(tokens - 1000);
    return true;
}

static void say_suppressed_for(struct endpoint *s)
{
    /* A warning: the suppression itself is news, whatever the level of
     * the lines it hid. */
    log_warn("%u similar log lines about %s suppressed "
             "(log.client_lines_per_s): client=%s peer=%s",
             s->log_limit.suppressed,
             s->registered ? LOG_VALUE(s->name) : "an unauthenticated client",
             s->registered ? LOG_VALUE(s->name) : "-", s->peer);
    s->log_limit.suppressed = 0;
}

bool client_log_allowed(struct broker *b, struct endpoint *s)
{
    uint64_t now = monotonic_ms();

    if (s != NULL &&
        !log_limit_take(&s->log_limit, b->conf.log_client_lines_per_s, now)) {
        b->stats.log_lines_suppressed++;
        return false;
    }
    if (!log_limit_take(&b->log_limit, b->conf.log_lines_per_s, now)) {
        b->stats.log_lines_suppressed++;
        return false;
    }
    if (b->log_limit.suppressed > 0) {
        log_warn("%u log lines about clients suppressed (log.lines_per_s)",
                 b->log_limit.suppressed);
        b->log_limit.suppressed = 0;
    }
    if (s != NULL && s->log_limit.suppressed > 0)
        say_suppressed_for(s);
    return true;
}

void client_log_flush(struct endpoint *s)
{
    if (s->log_limit.suppressed > 0)
        say_suppressed_for(s);
}
