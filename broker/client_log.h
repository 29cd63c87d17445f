/*
 * client_log.h - rate limits on the log lines that clients cause.
 *
 * Every WAT, refused Syn, failed login or protocol error is worth a log
 * line, but a client that sends them in a loop must not turn the log
 * into a flood (one client made an unlimited broker write 300 000
 * lines/s). Each such line passes two token buckets first: the client's
 * own (log.client_lines_per_s) and one for all clients together
 * (log.lines_per_s), both with a burst of one second's worth, as
 * journald's RateLimitBurst. What does not pass is counted, and the
 * next line that does is preceded by "N similar lines ... suppressed"
 * (also said when the client leaves), so the log still tells how much
 * happened; /metrics counts them too.
 *
 * Ownership: a limit is a plain value embedded in its owner (a session,
 * the broker); nothing to free.
 */
#ifndef MP_BROKER_CLIENT_LOG_H
#define MP_BROKER_CLIENT_LOG_H

#include <stdbool.h>
#include <stdint.h>

struct broker;
struct endpoint;

/* A token bucket of log lines. Zeroed: full at first use. */
struct log_limit {
    uint64_t refilled_ms;   /* monotonic time of the last refill; 0: never */
    uint32_t milli_tokens;  /* lines left, in thousandths */
    uint32_t suppressed;    /* lines refused since the last summary */
};

/* May one more line go out now at `rate` lines per second (0: no limit)?
 * A refused line is counted in l->suppressed. */
bool log_limit_take(struct log_limit *l, unsigned rate, uint64_t now_ms);

/* May a line about session `s` (NULL: about no session yet, such as a
 * refused connection) be logged now? Logs the pending summaries first
 * when it may. */
bool client_log_allowed(struct broker *b, struct endpoint *ep);

/* `s` is leaving: log how many of its lines were suppressed, if any. */
void client_log_flush(struct endpoint *ep);

#endif
