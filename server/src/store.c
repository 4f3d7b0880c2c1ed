/* store.c — PostgreSQL from the service thread, never blocking it: the
 * connection. What is queued on it, and how, is store_pipeline.c; the
 * statements are in store_accounts.c, store_sessions.c and store_stats*.c
 * (store_internal.h says who owns what).
 *
 * The libpq socket is dup()ed and adopted as a RAW file descriptor into the lws
 * loop; the dup belongs to lws (it closes it with the wsi) and the original stays
 * libpq's. How callbacks find their store: the adopted wsi's opaque user data
 * points at the store (NULL once the store has let go of that wsi, so late
 * callbacks of a dying wsi are recognised and ignored).
 *
 * Connecting (first time and after every break) is a blocking PQconnectdb on a
 * worker thread; its done() adopts the socket on the service thread. Failures are
 * retried with back-off (0.5 s doubling to 10 s).
 *
 * No lws_sul timers: with the libev event library, lws 4.1.6 does not re-arm its
 * timer when a sul is scheduled while that timer is already running (ev_timer_set
 * on an active watcher), so a sul may fire only at the next I/O event, or never
 * on a quiet loop. Instead the back-off wait happens on the worker before the
 * connect (cancelled by store_destroy), and "answer this look-up later on the
 * service thread" is a no-op worker job whose done() runs the callbacks; both
 * come back through the pool's lws_cancel_service wake-up. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libwebsockets.h>

#include "log.h"
#include "mem.h"
#include "store_nodes.h"
#include "workers.h"

#define STORE_PROTOCOL_NAME    "lotse-store"
#define STORE_BACKOFF_FIRST_MS 500
#define STORE_BACKOFF_MAX_MS   10000
#define STORE_CONNECT_TIMEOUT  "3"
#define STORE_WAIT_SLICE_MS    100

/* Tasks whose store was destroyed while they were queued or running: kept
 * reachable here until their done() frees them (service thread only). */
static struct task *orphans;

/* ---- worker tasks ---- */

static void task_free(struct task *t)
{
    if (t->conninfo)
        mem_free_secret(t->conninfo, strlen(t->conninfo));
    PQfinish(t->conn);
    mem_free(t);
}

/* For a task whose done() runs: its store, which no longer points at it; or
 * NULL when that store is gone, and the task is then off the orphans and freed. */
static struct store *task_done(struct task *t)
{
    struct store *s = t->s;
    if (s && t->kind == TASK_KICK)
        s->kick = NULL;
    else if (s)
        s->job = NULL;
    if (s)
        return s;
    for (struct task **pp = &orphans; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    task_free(t);
    return NULL;
}

void store__answer_failed(struct store *s)
{
    /* Take the list first: a callback may queue another look-up that fails. */
    struct req_list done = s->failed;
    memset(&s->failed, 0, sizeof(s->failed));
    struct req *r;
    while ((r = store__list_pop_head(&done)))
        store__answer(r, r->status);
}

static void kick_work(void *arg)
{
    (void)arg; /* finishing is the point: the pool then wakes the service thread */
}

static void kick_done(void *arg)
{
    struct task *t = arg;
    struct store *s = task_done(t);
    if (!s)
        return;
    task_free(t);
    store__answer_failed(s);
}

/* Should the pool refuse the kick, the answer comes with the store's next
 * database event or connect attempt instead. */
void store__fail_later(struct store *s, struct req *r, int status)
{
    r->status = status;
    store__list_push_tail(&s->failed, r);
    if (s->kick)
        return;
    struct task *t = mem_calloc(1, sizeof(*t));
    if (!t)
        return;
    t->kind = TASK_KICK;
    t->s = s;
    if (workers_submit(s->w, kick_work, kick_done, t) < 0) {
        mem_free(t);
        return;
    }
    s->kick = t;
}

void store__copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- connection ---- */

static void schedule_retry(struct store *s)
{
    int ms = s->backoff_ms;
    s->backoff_ms = ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : ms * 2;
    store__start_connect(s, ms);
}

/* The connection is unusable: give back the wsi and the PGconn, answer every
 * in-flight look-up with -ENOTCONN, put in-flight writes back at the front of
 * the queue in their order, and schedule a reconnect. */
void store__conn_broken(struct store *s, const char *why)
{
    if (!s->conn)
        return;
    s->errors++;
    if (s->wsi) {
        /* Late callbacks of this wsi find no store and close it. */
        lws_set_opaque_user_data(s->wsi, NULL);
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        s->wsi = NULL;
    }
    PQfinish(s->conn);
    s->conn = NULL;
    struct req *r;
    while ((r = store__list_last(&s->inflight))) {
        store__list_remove(&s->inflight, r);
        if (store__req_kept(r)) {
            store__list_push_head(&s->waiting, r);
            if (store__row_write(r))
                s->waiting_writes++;
        } else {
            store__fail_later(s, r, -ENOTCONN);
        }
    }
    /* Look-ups still waiting would only fail later; answer them now. */
    for (r = store__list_first(&s->waiting); r;) {
        struct req *next = store__list_next(r);
        if (!store__req_kept(r)) {
            store__list_remove(&s->waiting, r);
            store__fail_later(s, r, -ENOTCONN);
        }
        r = next;
    }
    log_warn("store: database connection lost (%s); %zu session rows kept for retry", why,
             s->waiting_writes);
    schedule_retry(s);
}

static void connect_work(void *arg)
{
    struct task *t = arg;
    /* The back-off wait, in slices so that store_destroy need not wait for it. */
    for (int waited = 0; waited < t->delay_ms && !atomic_load(&t->cancelled);) {
        int slice =
            t->delay_ms - waited < STORE_WAIT_SLICE_MS ? t->delay_ms - waited : STORE_WAIT_SLICE_MS;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        waited += slice;
    }
    if (atomic_load(&t->cancelled))
        return;
    /* The operator's conninfo is expanded from "dbname"; the later
     * connect_timeout overrides one given there, so a dead host costs 3 s. */
    const char *keys[] = {"application_name", "dbname", "connect_timeout", NULL};
    const char *values[] = {"lotsed", t->conninfo, STORE_CONNECT_TIMEOUT, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        store__copy_text(t->err, sizeof(t->err) - 1, conn ? PQerrorMessage(conn) : "out of memory");
        t->err[strcspn(t->err, "\n")] = '\0';
        PQfinish(conn);
        return;
    }
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
        store__copy_text(t->err, sizeof(t->err) - 1, "cannot enter non-blocking pipeline mode");
        PQfinish(conn);
        return;
    }
    t->conn = conn;
}

static void connect_done(void *arg)
{
    struct task *t = arg;
    struct store *s = task_done(t);
    if (!s)
        return;
    PGconn *conn = t->conn;
    t->conn = NULL;
    if (!conn) {
        /* The libpq message names the cause (auth, missing database, refused);
         * it goes through the log scrubber like every line. */
        s->errors++;
        log_warn("store: cannot connect to the database: %s; retrying in %d ms", t->err,
                 s->backoff_ms);
        task_free(t);
        store__answer_failed(s);
        schedule_retry(s);
        return;
    }
    task_free(t);
    int fd = fcntl(PQsocket(conn), F_DUPFD_CLOEXEC, 0);
    struct lws *wsi = NULL;
    if (fd >= 0)
        wsi = lws_adopt_descriptor_vhost(s->vh, LWS_ADOPT_RAW_FILE_DESC,
                                         (lws_sock_file_fd_type){.filefd = fd}, STORE_PROTOCOL_NAME,
                                         NULL);
    if (!wsi) {
        /* lws 4.1 closes only sockets on a failed adoption, not file descriptors */
        if (fd >= 0)
            close(fd);
        log_error("store: cannot add the database socket to the event loop");
        PQfinish(conn);
        s->errors++;
        store__answer_failed(s);
        schedule_retry(s);
        return;
    }
    lws_set_opaque_user_data(wsi, s);
    s->wsi = wsi;
    s->conn = conn;
    s->backoff_ms = STORE_BACKOFF_FIRST_MS;
    log_info("store: connected to the database; %zu session rows waiting", s->waiting_writes);
    store__answer_failed(s);
    /* A new backend listens to nothing: LISTEN again before anything else. */
    store__listen_queue(s);
    store__pump(s);
}

/* Queues a connect attempt after delay_ms on a worker, unless one is pending. */
void store__start_connect(struct store *s, int delay_ms)
{
    if (s->conn || s->job)
        return;
    s->connect_wanted = false;
    struct task *t = mem_calloc(1, sizeof(*t));
    if (t) {
        /* Everything the worker reads is set before the task is handed over:
         * it may run connect_work before workers_submit returns. */
        t->conninfo = mem_strdup(s->conninfo);
        t->kind = TASK_CONNECT;
        t->delay_ms = delay_ms;
    }
    if (!t || !t->conninfo || workers_submit(s->w, connect_work, connect_done, t) < 0) {
        /* Tried again on the store's next request. */
        if (t)
            task_free(t);
        s->connect_wanted = true;
        log_warn("store: worker pool busy; database connect postponed");
        return;
    }
    t->s = s;
    s->job = t;
}

/* ---- the lws protocol ---- */

static int store_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct store *s;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE: {
        s = lws_get_opaque_user_data(wsi);
        if (!s || s->wsi != wsi)
            return -1; /* a wsi the store has already let go of */
        if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK) {
            store__conn_broken(s, "read failed");
            store__answer_failed(s);
            return 0;
        }
        struct req_list done = {0};
        store__read_results(s, &done);
        store__pump(s);
        store__finish(s, &done);
        store__notifies(s);
        return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        s = lws_get_opaque_user_data(wsi);
        if (!s || s->wsi != wsi)
            return -1;
        store__flush_out(s);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        s = lws_get_opaque_user_data(wsi);
        if (s && s->wsi == wsi) {
            /* lws closed it (hang-up): the descriptor is gone, the PGconn too */
            lws_set_opaque_user_data(wsi, NULL);
            s->wsi = NULL;
            store__conn_broken(s, "socket closed");
        }
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols store_lws_protocol = {
    STORE_PROTOCOL_NAME, store_callback, 0, 0, 0, NULL, 0};

/* ---- create and destroy ---- */

int store_create(struct store **out, struct lws_vhost *vh, struct workers *w, const char *conninfo,
                 size_t max_queued)
{
    if (!out || !vh || !w || !conninfo || max_queued == 0)
        return -EINVAL;
    if (!lws_vhost_name_to_protocol(vh, STORE_PROTOCOL_NAME)) {
        log_error("store: the vhost does not list store_lws_protocol");
        return -EINVAL;
    }
    struct store *s = mem_calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->conninfo = mem_strdup(conninfo);
    if (!s->conninfo) {
        mem_free(s);
        return -ENOMEM;
    }
    s->vh = vh;
    s->w = w;
    s->max_queued = max_queued;
    s->backoff_ms = STORE_BACKOFF_FIRST_MS;
    /* First in the FIFO, so before any row of this run (and before today's
     * counts are read): rows an earlier run left open are closed as crashed. */
    store__session_close_crashed(s);
    store__start_connect(s, 0);
    *out = s;
    return 0;
}

/* In node mode the start-up close is the lease's (store_lease_acquire): the
 * other node may be serving sessions whose rows are open. The close was queued
 * by store_create and waits for the connection, so it is taken back here. */
void store_set_node_mode(struct store *s, bool on)
{
    if (!s || s->node_mode == on)
        return;
    s->node_mode = on;
    if (!on)
        return;
    for (struct req *r = store__list_first(&s->waiting); r; r = store__list_next(r)) {
        if (r->kind == REQ_SESSION && !store__row_write(r)) {
            store__list_remove(&s->waiting, r);
            mem_free(r);
            s->crash_close_pending = false;
            return;
        }
    }
    if (s->crash_close_pending)
        log_warn("store: node mode set after the start-up close of crashed rows was sent");
}

/* A task of a store being destroyed: its done() will free it. */
static void orphan(struct task *t)
{
    if (!t)
        return;
    atomic_store(&t->cancelled, true);
    t->s = NULL;
    t->next = orphans;
    orphans = t;
}

void store_destroy(struct store *s)
{
    if (!s)
        return;
    if (s->wsi) {
        lws_set_opaque_user_data(s->wsi, NULL);
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        s->wsi = NULL;
    }
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    orphan(s->job);
    orphan(s->kick);
    size_t lost = 0;
    struct req_list *lists[] = {&s->failed, &s->inflight, &s->waiting};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct req *r;
        while ((r = store__list_pop_head(lists[i]))) {
            if (!store__req_kept(r)) {
                store__answer(r, -ECANCELED);
                continue;
            }
            if (store__row_write(r)) {
                s->writes_dropped++;
                lost++;
            }
            mem_free_secret(r, sizeof(*r));
        }
    }
    if (lost)
        log_warn("store: %zu session rows not written at shutdown", lost);
    mem_free_secret(s->conninfo, strlen(s->conninfo));
    mem_free(s);
}
