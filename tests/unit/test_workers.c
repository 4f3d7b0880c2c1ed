/* test_workers.c — the worker pool: work off-thread, done() on the draining
 * thread, the queue bound, shutdown, and the wake-up through lws. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libwebsockets.h>

#include "workers.h"

struct job_state {
    pthread_t work_thread;
    pthread_t done_thread;
    atomic_int worked;
    int done_calls;
};

static void record_work(void *arg)
{
    struct job_state *j = arg;
    j->work_thread = pthread_self();
    atomic_store(&j->worked, 1);
}

static void record_done(void *arg)
{
    struct job_state *j = arg;
    j->done_thread = pthread_self();
    j->done_calls++;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Drains until n done() calls have run or 5 s passed; returns the total. */
static int drain_until(struct workers *w, int n)
{
    int total = 0;
    for (int i = 0; i < 500 && total < n; i++) {
        total += workers_drain(w);
        if (total < n)
            sleep_ms(10);
    }
    return total;
}

static void test_workers_run_work_on_pool_and_done_on_draining_thread(void **state)
{
    struct workers *w = NULL;
    assert_int_equal(workers_create(&w, 3, 64, NULL), 0);
    struct job_state jobs[20];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 20; i++)
        assert_int_equal(workers_submit(w, record_work, record_done, &jobs[i]), 0);
    assert_int_equal(drain_until(w, 20), 20);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(atomic_load(&jobs[i].worked), 1);
        assert_false(pthread_equal(jobs[i].work_thread, pthread_self()));
        assert_true(pthread_equal(jobs[i].done_thread, pthread_self()));
        assert_int_equal(jobs[i].done_calls, 1);
    }
    assert_int_equal(workers_pending(w), 0);
    assert_int_equal(workers_drain(w), 0);
    workers_destroy(w);
}

/* Argon2id must never take the CPU from the service thread: the pool's
 * threads run at SCHED_IDLE, the service thread keeps its own policy. */
static atomic_int work_policy;

static void record_policy(void *arg)
{
    atomic_store(&work_policy, sched_getscheduler(0));
}

static void ignore_done(void *arg)
{
}

static void test_workers_run_at_idle_priority(void **state)
{
    struct workers *w = NULL;
    int own = sched_getscheduler(0);
    atomic_store(&work_policy, -1);
    assert_int_equal(workers_create(&w, 1, 4, NULL), 0);
    assert_int_equal(workers_submit(w, record_policy, ignore_done, NULL), 0);
    for (int i = 0; i < 500 && atomic_load(&work_policy) == -1; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&work_policy), SCHED_IDLE);
    assert_int_equal(sched_getscheduler(0), own);
    workers_destroy(w);
}

/* A job that holds its thread until the test opens the gate. */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static atomic_int gate_entered;

static void gated_work(void *arg)
{
    atomic_fetch_add(&gate_entered, 1);
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
    record_work(arg);
}

static void test_workers_submit_refuses_past_max_queued(void **state)
{
    struct workers *w = NULL;
    assert_int_equal(workers_create(&w, 1, 2, NULL), 0);
    struct job_state jobs[4];
    memset(jobs, 0, sizeof(jobs));
    atomic_store(&gate_entered, 0);
    pthread_mutex_lock(&gate);
    assert_int_equal(workers_submit(w, gated_work, record_done, &jobs[0]), 0);
    while (atomic_load(&gate_entered) == 0)
        sleep_ms(1);
    /* One running, so two may wait; the third is refused. */
    assert_int_equal(workers_submit(w, record_work, record_done, &jobs[1]), 0);
    assert_int_equal(workers_submit(w, record_work, record_done, &jobs[2]), 0);
    assert_int_equal(workers_submit(w, record_work, record_done, &jobs[3]), -EAGAIN);
    assert_int_equal(workers_pending(w), 3);
    pthread_mutex_unlock(&gate);
    assert_int_equal(drain_until(w, 3), 3);
    assert_int_equal(jobs[3].done_calls, 0);
    workers_destroy(w);
}

static void test_workers_destroy_finishes_queued_work_without_done(void **state)
{
    struct workers *w = NULL;
    assert_int_equal(workers_create(&w, 1, 16, NULL), 0);
    struct job_state jobs[8];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 8; i++)
        assert_int_equal(workers_submit(w, record_work, record_done, &jobs[i]), 0);
    workers_destroy(w);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(atomic_load(&jobs[i].worked), 1);
        assert_int_equal(jobs[i].done_calls, 0);
    }
}

static void test_workers_create_rejects_bad_arguments(void **state)
{
    struct workers *w = NULL;
    assert_int_equal(workers_create(&w, 0, 8, NULL), -EINVAL);
    assert_int_equal(workers_create(&w, 17, 8, NULL), -EINVAL);
    assert_int_equal(workers_create(&w, 1, 0, NULL), -EINVAL);
    assert_null(w);
    workers_destroy(NULL);
    assert_int_equal(workers_drain(NULL), 0);
}

/* done() submits another job: drain must not deadlock, and the new job runs. */
static struct workers *chain_pool;
static struct job_state chain_second;

static void chain_done(void *arg)
{
    record_done(arg);
    assert_int_equal(workers_submit(chain_pool, record_work, record_done, &chain_second), 0);
}

static void test_workers_done_may_submit_more_work(void **state)
{
    assert_int_equal(workers_create(&chain_pool, 2, 8, NULL), 0);
    struct job_state first = {0};
    memset(&chain_second, 0, sizeof(chain_second));
    assert_int_equal(workers_submit(chain_pool, record_work, chain_done, &first), 0);
    assert_int_equal(drain_until(chain_pool, 2), 2);
    assert_int_equal(first.done_calls, 1);
    assert_int_equal(chain_second.done_calls, 1);
    workers_destroy(chain_pool);
}

/* With an lws context, a finished job wakes the service loop
 * (LWS_CALLBACK_EVENT_WAIT_CANCELLED), where the drain happens. */
static struct workers *lws_pool;
static int lws_drained;

static int wake_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && lws_pool)
        lws_drained += workers_drain(lws_pool);
    return 0;
}

static void test_workers_finished_job_wakes_lws_service_loop(void **state)
{
    static const struct lws_protocols protocols[] = {
        {"wake", wake_callback, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context *ctx = lws_create_context(&info);
    assert_non_null(ctx);
    assert_int_equal(workers_create(&lws_pool, 2, 8, ctx), 0);
    struct job_state jobs[5];
    memset(jobs, 0, sizeof(jobs));
    lws_drained = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(workers_submit(lws_pool, record_work, record_done, &jobs[i]), 0);
    /* lws_service with a long timeout: only the wake-up can return it early. */
    time_t start = time(NULL);
    while (lws_drained < 5 && time(NULL) - start < 10)
        lws_service(ctx, 1000);
    assert_int_equal(lws_drained, 5);
    for (int i = 0; i < 5; i++)
        assert_true(pthread_equal(jobs[i].done_thread, pthread_self()));
    workers_destroy(lws_pool);
    lws_pool = NULL;
    lws_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_run_work_on_pool_and_done_on_draining_thread),
        cmocka_unit_test(test_workers_run_at_idle_priority),
        cmocka_unit_test(test_workers_submit_refuses_past_max_queued),
        cmocka_unit_test(test_workers_destroy_finishes_queued_work_without_done),
        cmocka_unit_test(test_workers_create_rejects_bad_arguments),
        cmocka_unit_test(test_workers_done_may_submit_more_work),
        cmocka_unit_test(test_workers_finished_job_wakes_lws_service_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
