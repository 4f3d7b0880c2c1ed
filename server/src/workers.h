/* workers.h — a small thread pool for blocking work (Argon2id, PostgreSQL
 * reconnects) that hands results back to the service thread.
 *
 * work() runs on a pool thread; done() runs later on the service thread, from
 * workers_drain(), which the service thread calls when libwebsockets reports
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED (a finished job calls lws_cancel_service;
 * the protocol that drains is handover.c's). */
#ifndef LOTSE_WORKERS_H
#define LOTSE_WORKERS_H

#include <stddef.h>

struct lws_context;
struct workers;

typedef void (*workers_fn)(void *arg);

/* Starts n threads (1..16). ctx may be NULL (done() is then only run by an
 * explicit workers_drain, e.g. in tests). Returns 0 or -errno. */
int workers_create(struct workers **out, unsigned n, size_t max_queued, struct lws_context *ctx);

/* Joins the threads after finishing queued work; runs no done(). NULL is ignored. */
void workers_destroy(struct workers *w);

/* Queues a job; arg is owned by the caller until done(arg) has run. Returns 0, or
 * -EAGAIN when max_queued jobs are waiting (the caller answers "busy"). */
int workers_submit(struct workers *w, workers_fn work, workers_fn done, void *arg);

/* Runs done() of every finished job on the calling (service) thread; returns how many. */
int workers_drain(struct workers *w);

/* Jobs queued or running (for metrics). */
size_t workers_pending(struct workers *w);

#endif
