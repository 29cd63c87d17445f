/* work_pool.c - blocking jobs on worker threads (see work_pool.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "hashmap.h"
#include "work_pool.h"
#include "xalloc.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct source_queue;

struct work_job {
    TAILQ_ENTRY(work_job) link;  /* in its source's queue, or `finished` */
    struct work_pool *pool;
    struct source_queue *source; /* while queued */
    void (*work)(void *arg);
    void (*done)(void *arg, int cancelled);
    void *arg;
    struct work_job **handle;    /* the caller's pointer to us, or NULL */
    enum job_state state;        /* under pool->lock */
    bool cancelled;              /* loop thread only */
};

TAILQ_HEAD(job_list, work_job);

/* The waiting jobs of one source; exists only while it has some. */
struct source_queue {
    TAILQ_ENTRY(source_queue) turn; /* in pool->ring */
    struct job_list jobs;
    unsigned count;
    size_t key_len;
    char key[];                      /* the hashmap key */
};

struct work_pool {
    pthread_mutex_t lock;
    pthread_cond_t work_ready;  /* a job was queued, or stop */
    pthread_cond_t job_ended;   /* `running` went down */
    /* Under lock: */
    TAILQ_HEAD(, source_queue) ring; /* sources with waiting jobs, in turn */
    struct hashmap *sources;         /* key -> source_queue */
    size_t queued;
    unsigned running;
    struct job_list finished;        /* waiting for done() on the loop */
    bool poked;                      /* a byte is in the pipe */
    bool stop;
    unsigned queue_max, per_source_max;
    /* Fixed after work_pool_new: */
    pthread_t threads[WORK_POOL_WORKERS_MAX];
    unsigned n_threads;
    int pipe_fds[2];                 /* workers -> loop: "jobs finished" */
    struct event *wakeup;
};

/* ------------------------------------------------------------------------
 * Queues (pool->lock held)
 */

static void source_free(struct work_pool *pool, struct source_queue *q)
{
    TAILQ_REMOVE(&pool->ring, q, turn);
    hashmap_remove(pool->sources, q->key, q->key_len);
    free(q);
}

static struct source_queue *source_get(struct work_pool *pool,
                                       const char *key)
{
    size_t len = strlen(key);
    struct source_queue *q = hashmap_get(pool->sources, key, len);

    if (q != NULL)
        return q;
    q = mp_xcalloc(1, sizeof *q + len + 1);
    memcpy(q->key, key, len + 1);
    q->key_len = len;
    TAILQ_INIT(&q->jobs);
    mp_xhashmap_put(pool->sources, q->key, len, q);
    TAILQ_INSERT_TAIL(&pool->ring, q, turn);
    return q;
}

static void unqueue(struct work_pool *pool, struct work_job *job)
{
    struct source_queue *q = job->source;

    TAILQ_REMOVE(&q->jobs, job, link);
    job->source = NULL;
    pool->queued--;
    if (--q->count == 0)
        source_free(pool, q);
}

/* The next job in turn: the first of the source at the head of the ring,
 * which then goes to the back. */
static struct work_job *take_next(struct work_pool *pool)
{
    struct source_queue *q = TAILQ_FIRST(&pool->ring);
    struct work_job *job = TAILQ_FIRST(&q->jobs);

    if (q->count > 1) { /* else unqueue() frees q */
        TAILQ_REMOVE(&pool->ring, q, turn);
        TAILQ_INSERT_TAIL(&pool->ring, q, turn);
    }
    unqueue(pool, job);
    return job;
}

/* Hand a job to the loop thread, waking it if it is not awake already. */
static void finish_job(struct work_pool *pool, struct work_job *job)
{
    static const char byte = 1;

    job->state = JOB_FINISHED;
    TAILQ_INSERT_TAIL(&pool->finished, job, link);
    if (!pool->poked) {
        pool->poked = true;
        /* The pipe holds at most one byte: this cannot block or fail but
         * by a bug, and then the next drain still delivers the job. */
        (void)!write(pool->pipe_fds[1], &byte, 1);
    }
}

/* ------------------------------------------------------------------------
 * Workers
 */

static void *worker_main(void *arg)
{
    struct work_pool *pool = arg;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stop && TAILQ_EMPTY(&pool->ring))
            pthread_cond_wait(&pool->work_ready, &pool->lock);
        if (TAILQ_EMPTY(&pool->ring))
            break; /* stop, and nothing left */
        struct work_job *job = take_next(pool);

        job->state = JOB_RUNNING;
        pool->running++;
        pthread_mutex_unlock(&pool->lock);
        job->work(job->arg);
        pthread_mutex_lock(&pool->lock);
        pool->running--;
        finish_job(pool, job);
        pthread_cond_broadcast(&pool->job_ended);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* ------------------------------------------------------------------------
 * The loop side
 */

/* Run done() of every finished job. done() may submit or cancel jobs. */
static void deliver_finished(struct work_pool *pool)
{
    struct job_list ready;
    struct work_job *job;
    char buf[16];

    pthread_mutex_lock(&pool->lock);
    TAILQ_INIT(&ready);
    TAILQ_CONCAT(&ready, &pool->finished, link);
    if (pool->poked) {
        while (read(pool->pipe_fds[0], buf, sizeof buf) > 0)
            ;
        pool->poked = false;
    }
    pthread_mutex_unlock(&pool->lock);
    while ((job = TAILQ_FIRST(&ready)) != NULL) {
        TAILQ_REMOVE(&ready, job, link);
        if (job->handle != NULL)
            *job->handle = NULL;
        job->done(job->arg, job->cancelled ? 1 : 0);
        free(job);
    }
}

static void wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    deliver_finished(arg);
}

enum work_submit_result work_pool_submit(struct work_pool *pool,
                                         const char *source,
                                         void (*work)(void *arg),
                                         void (*done)(void *arg,
                                                      int cancelled),
                                         void *arg,
                                         struct work_job **handle)
{
    struct work_job *job;
    struct source_queue *q;
    enum work_submit_result rc = WORK_QUEUED;

    pthread_mutex_lock(&pool->lock);
    q = hashmap_get(pool->sources, source, strlen(source));
    if (pool->queued >= pool->queue_max ||
        (q != NULL && q->count >= pool->per_source_max)) {
        rc = WORK_BUSY;
        goto out;
    }
    job = mp_xcalloc(1, sizeof *job);
    q = source_get(pool, source);
    *job = (struct work_job){.pool = pool, .source = q, .work = work,
                             .done = done, .arg = arg, .handle = handle,
                             .state = JOB_QUEUED};
    TAILQ_INSERT_TAIL(&q->jobs, job, link);
    q->count++;
    pool->queued++;
    *handle = job;
    pthread_cond_signal(&pool->work_ready);
out:
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void work_pool_cancel(struct work_job *job)
{
    struct work_pool *pool = job->pool;

    job->cancelled = true;
    job->handle = NULL;
    pthread_mutex_lock(&pool->lock);
    if (job->state == JOB_QUEUED) {
        unqueue(pool, job);
        finish_job(pool, job); /* done(arg, 1) from the loop */
    }
    /* Running: its worker hands it over when work() returns. Finished:
     * it is in a list that deliver_finished() will get to. */
    pthread_mutex_unlock(&pool->lock);
}

void work_pool_drain(struct work_pool *pool)
{
    for (;;) {
        struct source_queue *q;
        bool idle;

        pthread_mutex_lock(&pool->lock);
        while ((q = TAILQ_FIRST(&pool->ring)) != NULL) {
            struct work_job *job = TAILQ_FIRST(&q->jobs);

            job->cancelled = true;
            unqueue(pool, job);
            finish_job(pool, job);
        }
        while (pool->running > 0)
            pthread_cond_wait(&pool->job_ended, &pool->lock);
        idle = TAILQ_EMPTY(&pool->finished);
        pthread_mutex_unlock(&pool->lock);
        if (idle)
            return;
        /* done() callbacks may queue more (the next authenticator). */
        deliver_finished(pool);
    }
}

size_t work_pool_queued(struct work_pool *pool)
{
    size_t n;

    pthread_mutex_lock(&pool->lock);
    n = pool->queued;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void work_pool_configure(struct work_pool *pool, unsigned queue_max,
                         unsigned per_source_max)
{
    pthread_mutex_lock(&pool->lock);
    pool->queue_max = queue_max;
    pool->per_source_max = per_source_max;
    pthread_mutex_unlock(&pool->lock);
}

/* ------------------------------------------------------------------------
 * Life cycle
 */

static void stop_threads(struct work_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pool->n_threads = 0;
}

/* Workers never take signals: the loop thread handles them all. */
static int start_threads(struct work_pool *pool, unsigned workers)
{
    sigset_t all, old;
    int rc = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool->n_threads < workers && rc == 0) {
        rc = pthread_create(&pool->threads[pool->n_threads], NULL,
                            worker_main, pool);
        if (rc == 0)
            pool->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int open_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    }
    return 0;
}

struct work_pool *work_pool_new(struct event_base *base, unsigned workers,
                                unsigned queue_max, unsigned per_source_max,
                                char *err, size_t errlen)
{
    struct work_pool *pool = calloc(1, sizeof *pool);
    int rc;

    if (pool == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (workers < 1 || workers > WORK_POOL_WORKERS_MAX)
        workers = workers < 1 ? 1 : WORK_POOL_WORKERS_MAX;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->job_ended, NULL);
    TAILQ_INIT(&pool->ring);
    TAILQ_INIT(&pool->finished);
    pool->queue_max = queue_max;
    pool->per_source_max = per_source_max;
    pool->pipe_fds[0] = pool->pipe_fds[1] = -1;
    if ((pool->sources = hashmap_new()) == NULL ||
        open_pipe(pool->pipe_fds) != 0) {
        snprintf(err, errlen, "cannot set up the hashing workers: %s",
                 pool->sources == NULL ? "out of memory" : strerror(errno));
        goto fail;
    }
    pool->wakeup = event_new(base, pool->pipe_fds[0], EV_READ | EV_PERSIST,
                             wakeup_cb, pool);
    if (pool->wakeup == NULL || event_add(pool->wakeup, NULL) != 0) {
        snprintf(err, errlen, "cannot set up the hashing workers: "
                              "out of memory");
        goto fail;
    }
    rc = start_threads(pool, workers);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %u hashing worker threads: %s",
                 workers, strerror(rc));
        goto fail;
    }
    return pool;
fail:
    work_pool_free(pool);
    return NULL;
}

void work_pool_free(struct work_pool *pool)
{
    if (pool == NULL)
        return;
    work_pool_drain(pool);
    stop_threads(pool);
    if (pool->wakeup != NULL)
        event_free(pool->wakeup);
    for (int i = 0; i < 2; i++)
        if (pool->pipe_fds[i] >= 0)
            close(pool->pipe_fds[i]);
    hashmap_free(pool->sources);
    pthread_cond_destroy(&pool->job_ended);
    pthread_cond_destroy(&pool->work_ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}
