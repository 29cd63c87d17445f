/* Unit tests: blocking jobs on worker threads (broker/work_pool.c). */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "work_pool.h"

/* A job that records when it ran and how it ended. A job with a gate
 * blocks its worker until the test opens the gate. */
struct job {
    const char *label;
    bool gated;
    bool ran;
    int done_calls;
    int cancelled;
    struct work_job *handle;
};

static struct event_base *base;
static struct work_pool *pool;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static bool gate_open, gated_job_running;
static char order[64]; /* labels of the jobs in the order they ran */
static int done_total;

static void job_work(void *arg)
{
    struct job *j = arg;

    pthread_mutex_lock(&lock);
    j->ran = true;
    strncat(order, j->label, sizeof order - strlen(order) - 1);
    if (j->gated) {
        gated_job_running = true;
        pthread_cond_broadcast(&changed);
        while (!gate_open)
            pthread_cond_wait(&changed, &lock);
    }
    pthread_mutex_unlock(&lock);
}

static void job_done(void *arg, int cancelled)
{
    struct job *j = arg;

    j->done_calls++;
    j->cancelled = cancelled;
    done_total++;
    cr_assert(j->handle == NULL || cancelled,
              "the handle of %s was not cleared before done()", j->label);
}

static void setup(void)
{
    char err[256];

    base = event_base_new();
    cr_assert_not_null(base);
    pool = work_pool_new(base, 1, 4, 2, err, sizeof err);
    cr_assert_not_null(pool, "%s", err);
    order[0] = '\0';
    gate_open = gated_job_running = false;
    done_total = 0;
}

static void teardown(void)
{
    work_pool_free(pool);
    event_base_free(base);
}

TestSuite(work_pool, .init = setup, .fini = teardown);

static enum work_submit_result submit(const char *source, struct job *j)
{
    return work_pool_submit(pool, source, job_work, job_done, j, &j->handle);
}

/* Run the loop until `n` done() calls have happened in all. */
static void run_until_done(int n)
{
    while (done_total < n)
        cr_assert_geq(event_base_loop(base, EVLOOP_ONCE), 0);
}

/* Occupy the one worker with a gated job and wait until it runs. */
static void block_worker(struct job *gate)
{
    *gate = (struct job){.label = "G", .gated = true};
    cr_assert_eq(submit("gate", gate), WORK_QUEUED);
    pthread_mutex_lock(&lock);
    while (!gated_job_running)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&lock);
    gate_open = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

Test(work_pool, runs_the_job_then_done_on_the_loop)
{
    struct job j = {.label = "A"};

    cr_assert_eq(submit("192.0.2.1", &j), WORK_QUEUED);
    cr_assert_not_null(j.handle);
    run_until_done(1);
    cr_assert(j.ran);
    cr_assert_eq(j.done_calls, 1);
    cr_assert_eq(j.cancelled, 0);
    cr_assert_null(j.handle, "the pool must clear the handle");
}

/* A source with many waiting logins does not get ahead of another. */
Test(work_pool, sources_take_turns)
{
    struct job gate, a1 = {.label = "a"}, a2 = {.label = "a"},
                     b1 = {.label = "b"};

    block_worker(&gate);
    cr_assert_eq(submit("A", &a1), WORK_QUEUED);
    cr_assert_eq(submit("A", &a2), WORK_QUEUED);
    cr_assert_eq(submit("B", &b1), WORK_QUEUED);
    cr_assert_eq(work_pool_queued(pool), 3);
    open_gate();
    run_until_done(4);
    cr_assert_str_eq(order, "Gaba");
}

/* Past queue_max (4) in all, or per_source_max (2) from one source:
 * WORK_BUSY, and nothing is queued. */
Test(work_pool, a_full_queue_answers_busy)
{
    struct job gate, j[6];

    block_worker(&gate);
    for (int i = 0; i < 6; i++)
        j[i] = (struct job){.label = "x"};
    cr_assert_eq(submit("A", &j[0]), WORK_QUEUED);
    cr_assert_eq(submit("A", &j[1]), WORK_QUEUED);
    cr_assert_eq(submit("A", &j[2]), WORK_BUSY, "per-source cap");
    cr_assert_null(j[2].handle);
    cr_assert_eq(submit("B", &j[3]), WORK_QUEUED);
    cr_assert_eq(submit("C", &j[4]), WORK_QUEUED);
    cr_assert_eq(submit("D", &j[5]), WORK_BUSY, "global cap");
    /* A reload may raise the caps. */
    work_pool_configure(pool, 5, 2);
    cr_assert_eq(submit("D", &j[5]), WORK_QUEUED);
    open_gate();
    run_until_done(6);
    cr_assert_eq(j[2].done_calls, 0);
}

Test(work_pool, a_cancelled_queued_job_never_runs)
{
    struct job gate, j = {.label = "j"};

    block_worker(&gate);
    cr_assert_eq(submit("A", &j), WORK_QUEUED);
    work_pool_cancel(j.handle);
    cr_assert_eq(j.done_calls, 0, "done() must come from the loop");
    run_until_done(1);
    cr_assert_eq(j.done_calls, 1);
    cr_assert_neq(j.cancelled, 0);
    open_gate();
    run_until_done(2);
    cr_assert_not(j.ran);
    cr_assert_str_eq(order, "G");
}

/* The client left while its hash was running: the job finishes, and its
 * done() says cancelled. */
Test(work_pool, a_cancelled_running_job_finishes_as_cancelled)
{
    struct job gate;

    block_worker(&gate);
    work_pool_cancel(gate.handle);
    open_gate();
    run_until_done(1);
    cr_assert(gate.ran);
    cr_assert_eq(gate.done_calls, 1);
    cr_assert_neq(gate.cancelled, 0);
}

/* Opens the gate once drain has dropped the queued job: the one worker is
 * held by the gated job until then, so it cannot take that job first. */
static void *open_gate_when_queue_empty(void *arg)
{
    (void)arg;
    while (work_pool_queued(pool) > 0)
        sched_yield();
    open_gate();
    return NULL;
}

/* Reload and exit: everything is finished before drain returns. */
Test(work_pool, drain_finishes_everything)
{
    struct job gate, j = {.label = "j"};
    pthread_t opener;

    block_worker(&gate);
    cr_assert_eq(submit("A", &j), WORK_QUEUED);
    work_pool_cancel(gate.handle);
    cr_assert_eq(pthread_create(&opener, NULL, open_gate_when_queue_empty,
                                NULL), 0);
    work_pool_drain(pool);
    pthread_join(opener, NULL);
    cr_assert_eq(done_total, 2);
    cr_assert_eq(gate.done_calls, 1);
    cr_assert_eq(j.done_calls, 1);
    cr_assert_neq(j.cancelled, 0, "a dropped job is reported cancelled");
    cr_assert_not(j.ran);
    cr_assert_eq(work_pool_queued(pool), 0);
}
