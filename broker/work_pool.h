/*
 * work_pool.h - run blocking functions (password hashing) on a few worker
 * threads, and deliver their completion back on the event loop thread.
 *
 * Why: one crypt(3) costs 10-700 ms; on the loop thread every client waits
 * for it (four guessers took a bystander's round trip from 0.3 ms to
 * 200-850 ms). Here the loop only queues the job and later runs its done()
 * callback.
 *
 * Policy (OpenSSH's MaxStartups idea, applied to the hashing itself):
 *  - at most `workers` jobs run at once: a global cap on CPU spent hashing;
 *  - waiting jobs are queued per source (an address, a /64, a uid) and the
 *    workers take one job from each source in turn, so a guesser with many
 *    connections waits behind its own jobs, not in front of others';
 *  - the queue is bounded: `queue_max` waiting jobs in all and
 *    `per_source_max` waiting jobs per source; past either, submit answers
 *    WORK_BUSY and the caller refuses the login ("busy, try later").
 *
 * Threads: work() runs on a worker thread and must touch nothing the loop
 * thread changes meanwhile. Everything else here, done() included, runs on
 * the loop thread, and every function must be called from it.
 *
 * Ownership: the pool owns its jobs. done(arg, cancelled) is called exactly
 * once for every accepted job, on the loop thread, from the event loop or
 * from work_pool_drain(); arg belongs to the caller throughout.
 */
#ifndef MP_BROKER_WORK_POOL_H
#define MP_BROKER_WORK_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct work_pool;
struct work_job;

#define WORK_POOL_WORKERS_MAX 64

enum work_submit_result {
    WORK_QUEUED = 0,
    WORK_BUSY = 1,   /* the queue (or this source's share) is full */
};

/* Start `workers` threads (1..WORK_POOL_WORKERS_MAX). NULL on failure
 * (out of memory, threads or descriptors), with the reason in err. */
struct work_pool *work_pool_new(struct event_base *base, unsigned workers,
                                unsigned queue_max, unsigned per_source_max,
                                char *err, size_t errlen);

/* Stop the threads and free the pool. Jobs still queued or running are
 * finished first (work_pool_drain). */
void work_pool_free(struct work_pool *pool);

/* New queue limits (a reload); jobs already queued stay. */
void work_pool_configure(struct work_pool *pool, unsigned queue_max,
                         unsigned per_source_max);

/*
 * Queue work(arg) for `source` (any text; copied). On WORK_QUEUED, *handle
 * is set to the job, and set back to NULL by the pool just before done()
 * runs with cancelled == 0; the caller may use it with
 * work_pool_cancel() until then. On the other results nothing is queued
 * and done() will never be called.
 */
enum work_submit_result work_pool_submit(struct work_pool *pool,
                                         const char *source,
                                         void (*work)(void *arg),
                                         void (*done)(void *arg,
                                                      int cancelled),
                                         void *arg,
                                         struct work_job **handle);

/*
 * The result of `job` is no longer wanted. A queued job is dropped without
 * running; a running one finishes on its thread. Either way done(arg,
 * 1) follows later from the event loop (never from inside this call),
 * and the pool no longer touches the caller's handle.
 */
void work_pool_cancel(struct work_job *job);

/*
 * Finish every job now: drop the queued ones, wait for the running ones,
 * and run all their done() callbacks (cancelled and dropped ones with 1), before
 * returning. For reloads and exit, before the plugins whose functions the
 * jobs call are unloaded. Blocks the loop for at most one job's run time.
 */
void work_pool_drain(struct work_pool *pool);

/* Jobs waiting for a worker now (for /metrics). */
size_t work_pool_queued(struct work_pool *pool);

#endif
