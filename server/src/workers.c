/* workers.c — a fixed pthread pool with a bounded job queue and a locked
 * done-list that the service thread empties.
 *
 * A job moves: submit -> queue (waiting) -> a pool thread runs work() -> done-list
 * -> workers_drain() on the service thread runs done(). Only the queue is
 * bounded: a job already running always finds room on the done-list, so a slow
 * service thread never makes a worker block. */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdbool.h>
#include <libwebsockets.h>

#include "log.h"
#include "mem.h"

#define WORKERS_MAX_THREADS 16

struct job {
    struct job *next;
    workers_fn work;
    workers_fn done;
    void *arg;
};

/* A singly linked FIFO with a tail pointer. */
struct job_list {
    struct job *head;
    struct job *tail;
    size_t count;
};

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled when a job is queued or on shutdown */
    struct job_list queue;
    struct job_list done;
    size_t running; /* jobs taken by a thread whose work() has not returned yet */
    size_t max_queued;
    bool stopping;
    struct lws_context *ctx;
    unsigned nthreads;
    pthread_t threads[WORKERS_MAX_THREADS];
};

static void list_push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->count++;
}

static struct job *list_pop(struct job_list *l)
{
    struct job *j = l->head;
    if (!j)
        return NULL;
    l->head = j->next;
    if (!l->head)
        l->tail = NULL;
    l->count--;
    j->next = NULL;
    return j;
}

static void *worker_main(void *p)
{
    struct workers *w = p;
    /* Argon2id is meant to be slow; it must not take the CPU from the service
     * thread, which relays every running chat. SCHED_IDLE runs the worker only
     * on CPU time nothing else wants, and any other thread that wakes up takes
     * the CPU from it at once (a nice value only shortens its turns: at nice 10
     * relay p99 rose to 3.6 ms with the workers on another core, 0.8 ms at
     * SCHED_IDLE; tests/bench/README.md). On a saturated machine a login then
     * waits, a chat does not. Linux sets the policy per thread. */
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0 &&
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0)
        log_debug("workers: could not lower the worker's priority");
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->queue.head && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        /* Queued work is finished even when stopping (workers_destroy promises it). */
        struct job *j = list_pop(&w->queue);
        if (!j)
            break;
        w->running++;
        pthread_mutex_unlock(&w->lock);

        j->work(j->arg);

        pthread_mutex_lock(&w->lock);
        w->running--;
        list_push(&w->done, j);
        /* Wake the service thread; lws_cancel_service is safe from any thread.
         * Called under the lock so workers_destroy cannot race with it. */
        if (w->ctx && !w->stopping)
            lws_cancel_service(w->ctx);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int workers_create(struct workers **out, unsigned n, size_t max_queued, struct lws_context *ctx)
{
    if (!out || n < 1 || n > WORKERS_MAX_THREADS || max_queued == 0)
        return -EINVAL;
    struct workers *w = mem_calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->max_queued = max_queued;
    w->ctx = ctx;
    int rc = pthread_mutex_init(&w->lock, NULL);
    if (rc) {
        mem_free(w);
        return -rc;
    }
    rc = pthread_cond_init(&w->wake, NULL);
    if (rc) {
        pthread_mutex_destroy(&w->lock);
        mem_free(w);
        return -rc;
    }
    for (unsigned i = 0; i < n; i++) {
        rc = pthread_create(&w->threads[i], NULL, worker_main, w);
        if (rc) {
            log_error("workers: cannot start thread %u of %u (error %d)", i + 1, n, rc);
            workers_destroy(w);
            return -rc;
        }
        w->nthreads++;
    }
    *out = w;
    return 0;
}

void workers_destroy(struct workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    /* done() is not run here (the service loop may be gone); the args of these
     * jobs return to their submitters, who know they were never drained. */
    struct job *j;
    while ((j = list_pop(&w->done)))
        mem_free(j);
    while ((j = list_pop(&w->queue)))
        mem_free(j);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    mem_free(w);
}

int workers_submit(struct workers *w, workers_fn work, workers_fn done, void *arg)
{
    if (!w || !work || !done)
        return -EINVAL;
    struct job *j = mem_calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->queue.count >= w->max_queued) {
        int rc = w->stopping ? -ESHUTDOWN : -EAGAIN;
        pthread_mutex_unlock(&w->lock);
        mem_free(j);
        return rc;
    }
    list_push(&w->queue, j);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int workers_drain(struct workers *w)
{
    if (!w)
        return 0;
    /* Take the whole list at once, then run done() unlocked: a done() may submit
     * new work, and new results are picked up by the next wake-up. */
    pthread_mutex_lock(&w->lock);
    struct job *j = w->done.head;
    w->done.head = w->done.tail = NULL;
    w->done.count = 0;
    pthread_mutex_unlock(&w->lock);
    int n = 0;
    while (j) {
        struct job *next = j->next;
        j->done(j->arg);
        mem_free(j);
        j = next;
        n++;
    }
    return n;
}

size_t workers_pending(struct workers *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = w->queue.count + w->running;
    pthread_mutex_unlock(&w->lock);
    return n;
}
