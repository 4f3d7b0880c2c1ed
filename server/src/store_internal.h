/* store_internal.h — what the store's files share; nothing outside server/src/store*.c
 * includes it (the public API is store.h).
 *
 *   store.c           the connection: connecting on a worker, back-off, the adopted
 *                     socket's lws protocol, breaks, create and destroy
 *   store_pipeline.c  the queue of statements: waiting -> inflight -> results in
 *                     order, callbacks, counters, the blocking flush
 *   store_accounts.c  the login look-up (accounts and device certificates)
 *   store_sessions.c  the writes of session rows, and their ids
 *   store_stats.c     today's counts, the hourly aggregate, retention, reading stats
 *   store_stats_sql.c the statements of statistics and retention (lotsectl too)
 *   store_mail.c      mail threads, messages and device mail keys (§9.4)
 *   store_nodes.c     the lease of several nodes, the directory, LISTEN/NOTIFY
 *
 * All of it runs on the service thread, except a task's work() on a worker. */
#ifndef LOTSE_STORE_INTERNAL_H
#define LOTSE_STORE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "list.h"
#include "store.h"

#define STORE_QUERY_PARAMS 8
#define STORE_WRITE_PARAMS 32

/* REQ_SESSION and REQ_WRITE are writes: kept through an outage and sent again
 * after the reconnect. REQ_LISTEN is the LISTEN of store_nodes_listen, queued
 * anew after every connect. */
enum req_kind { REQ_LOOKUP, REQ_SESSION, REQ_QUERY, REQ_WRITE, REQ_LISTEN };
/* The writes of a session row (REQ_SESSION). */
enum row_op { ROW_START, ROW_TAKEN, ROW_END, ROW_CRASHED };

struct req {
    struct list_link link; /* on waiting, inflight, failed or a local done list */
    enum req_kind kind;
    int status;      /* result so far: 0 or -errno */
    bool got_result; /* the statement's result arrived; its sync has not yet */
    union {
        struct {
            char handle[STORE_MAX_HANDLE + 1];
            bool has_pk;
            uint8_t pk[LOTSE_PK_BYTES];
            store_account_cb cb;
            void *arg;
            struct store_account acct;
        } lookup;
        struct {
            int op; /* enum row_op */
            struct store_session_row row;
        } session;
        struct {
            const char *sql;
            const char *what; /* for log lines */
            int nparams;
            char params[STORE_QUERY_PARAMS][72];
            store_result_cb cb;
            void *arg;
            PGresult *res; /* kept from the result until the callback */
            uint8_t *blob; /* own copy of a binary last parameter, or NULL */
            int blob_len;
        } query;
        struct {
            const char *sql;  /* static */
            const char *what; /* for log lines */
            int nparams;
            int off[STORE_WRITE_PARAMS]; /* into data */
            int len[STORE_WRITE_PARAMS]; /* -1: NULL */
            uint8_t binary[STORE_WRITE_PARAMS];
            uint8_t *data; /* the values, in the same allocation after the request */
        } write;
    } u;
};

/* A list of requests (list.h) with its length; a zeroed one is empty. */
struct req_list {
    struct list l;
    size_t count;
};

/* A worker job of the store: a connect attempt, or a "kick" that only brings
 * the service thread back to answer failed look-ups. */
enum task_kind { TASK_CONNECT, TASK_KICK };

struct task {
    struct task *next; /* on the orphan list only */
    enum task_kind kind;
    struct store *s;       /* NULL once the store is gone (service thread only) */
    atomic_bool cancelled; /* set by store_destroy, read by the worker */
    int delay_ms;          /* back-off before connecting */
    char *conninfo;        /* own copy: the worker must not touch the store */
    PGconn *conn;          /* result, or NULL */
    char err[200];
};

struct store {
    struct lws_vhost *vh;
    struct workers *w;
    char *conninfo;
    size_t max_queued;

    PGconn *conn; /* non-NULL exactly while up */
    struct lws *wsi;
    struct task *job;    /* connect attempt queued or running on a worker */
    struct task *kick;   /* kick queued or running */
    bool connect_wanted; /* the pool was full when a connect was due */

    struct req_list waiting;  /* not sent yet, oldest first */
    struct req_list inflight; /* sent, results pending, oldest first */
    struct req_list failed;   /* look-ups answered with an error, callbacks pending */
    size_t waiting_writes;
    bool crash_close_pending; /* the start-up close of crashed rows has not run yet */
    bool node_mode;           /* store_set_node_mode: no start-up close of crashed rows */
    bool lease_held;          /* the last lease statement left this store's node holding it */

    void (*listen_cb)(void *arg); /* store_nodes_listen; NULL: no LISTEN */
    void *listen_arg;

    int backoff_ms;

    uint64_t writes_queued;
    uint64_t writes_done;
    uint64_t writes_dropped;
    uint64_t errors;
};

/* ---- the connection (store.c) ---- */

/* Queues a connect attempt after delay_ms on a worker, unless one is pending. */
void store__start_connect(struct store *s, int delay_ms);

/* The connection is unusable: gives back the wsi and the PGconn, answers every
 * look-up with -ENOTCONN (later), puts in-flight writes back at the front of
 * the queue in their order, and schedules a reconnect. why goes to the log. */
void store__conn_broken(struct store *s, const char *why);

/* Answers r (a look-up or query, now owned by the store) with status later on
 * the service thread, never from the caller's stack. */
void store__fail_later(struct store *s, struct req *r, int status);

/* Runs the callbacks of look-ups answered with an error. */
void store__answer_failed(struct store *s);

/* Copies at most cap bytes of src into dst (cap + 1 bytes), not splitting a
 * UTF-8 sequence. */
void store__copy_text(char *dst, size_t cap, const char *src);

/* ---- the queue of statements (store_pipeline.c) ---- */

/* The request of a link, or NULL for none. */
static inline struct req *store__req(struct list_link *n)
{
    return n ? LIST_ENTRY(n, struct req, link) : NULL;
}

/* The first (oldest) and the last request of l, or NULL when l is empty. */
static inline struct req *store__list_first(const struct req_list *l)
{
    return store__req(l->l.head);
}

static inline struct req *store__list_last(const struct req_list *l)
{
    return store__req(l->l.tail);
}

/* The request after r on its list, or NULL. */
static inline struct req *store__list_next(const struct req *r)
{
    return store__req(r->link.next);
}

/* Puts r (on no list) last, or first, on l. */
static inline void store__list_push_tail(struct req_list *l, struct req *r)
{
    list_insert_tail(&l->l, &r->link);
    l->count++;
}

static inline void store__list_push_head(struct req_list *l, struct req *r)
{
    list_insert_head(&l->l, &r->link);
    l->count++;
}

/* Takes r, which is on l, off l. */
static inline void store__list_remove(struct req_list *l, struct req *r)
{
    list_unlink(&l->l, &r->link);
    l->count--;
}

/* Takes the first request off l and returns it, or NULL when l is empty. */
static inline struct req *store__list_pop_head(struct req_list *l)
{
    struct req *r = store__list_first(l);
    if (r)
        store__list_remove(l, r);
    return r;
}

/* A session row or directory write, counted in waiting_writes, depth and the
 * write counters; the start-up close of crashed rows retries like one but is
 * not counted. */
bool store__row_write(const struct req *r);

/* The write-behind FIFO is full: the oldest unsent write (a session row or a
 * directory row) gives way, so the newest data survives. Counted as dropped. */
void store__drop_oldest_write(struct store *s);

/* Kept through a broken connection and sent again (writes, the crash close). */
static inline bool store__req_kept(const struct req *r)
{
    return r->kind == REQ_SESSION || r->kind == REQ_WRITE;
}

/* Runs the callback of a look-up or query with status and frees the request. */
void store__answer(struct req *r, int status);

/* Sends waiting requests while there is room in the pipeline. */
void store__pump(struct store *s);

/* Flushes libpq's output; asks for a writable callback while some is left. */
void store__flush_out(struct store *s);

/* Reads every complete result; finished requests move to *done in order. */
void store__read_results(struct store *s, struct req_list *done);

/* Runs the callbacks of finished requests (from store__read_results); frees them. */
void store__finish(struct store *s, struct req_list *done);

/* A new look-up or query of kind in *out (zeroed but for kind; the caller owns
 * it until store__submit). Retries a postponed connect first. Returns 0,
 * -EAGAIN when the queue is full, or -ENOMEM. */
int store__req_new(struct store *s, enum req_kind kind, struct req **out);

/* Queues a look-up or query (the store owns r from here): answered -ENOTCONN
 * later while the database is down. Returns 0. */
int store__submit(struct store *s, struct req *r);

/* Queues a query with up to STORE_QUERY_PARAMS text parameters (store.h,
 * "supervision, statistics and retention"); sql must outlive the request. */
int store__query(struct store *s, const char *sql, const char *what, store_result_cb cb, void *arg,
                 int nparams, const char *const *params);

/* store__query with one more parameter, a bytea sent in binary (copied; wiped
 * when the request is freed). */
int store__query_blob(struct store *s, const char *sql, const char *what, store_result_cb cb,
                      void *arg, int nparams, const char *const *params, const uint8_t *blob,
                      size_t blob_len);

/* Queues a write-behind statement (REQ_WRITE) with up to STORE_WRITE_PARAMS
 * parameters, copied: values[i] NULL is SQL NULL; formats[i] 1 is binary of
 * lengths[i] bytes, 0 text (lengths ignored). Like a session row write it waits
 * through an outage; when the FIFO is full the oldest write gives way and
 * -EAGAIN is returned (this one is queued). 0, -EINVAL or -ENOMEM. */
int store__write(struct store *s, const char *sql, const char *what, int nparams,
                 const char *const *values, const int *lengths, const int *formats);

/* Queues LISTEN lotse_nodes first in the FIFO (after a connect). */
void store__listen_queue(struct store *s);

/* Hands every notification libpq has read to the listener (service thread). */
void store__notifies(struct store *s);

/* ---- statements of one concern each ---- */

/* Sends the account look-up r on conn; PQsendQueryParams' result. */
int store__lookup_send(PGconn *conn, const struct req *r);
/* Reads a look-up's rows into r->u.lookup.acct; 0, -ENOENT or -EIO. */
int store__lookup_take(struct req *r, const PGresult *res);

/* Sends the session row write r on conn; PQsendQueryParams' result. */
int store__session_send(PGconn *conn, const struct req *r);
/* Notes a session row write's command result; 0. */
int store__session_take(const struct req *r, PGresult *res);
/* Queues the close, as 'crashed', of the rows an earlier run left open. */
void store__session_close_crashed(struct store *s);

/* Today's counts (store_stats_sql.c). */
extern const char store__sql_today[];
extern const char store__sql_feedback[]; /* $1 topic, $2 yes | some | no */

#endif
