/* store.c — PostgreSQL from the service thread, never blocking it.
 *
 * One libpq connection in non-blocking pipeline mode. Every request is one
 * PQsendQueryParams followed by its own PQpipelineSync, so a failing statement
 * aborts only itself. Requests wait in `waiting` (FIFO), move to `inflight` when
 * sent, and results are matched to `inflight` in order: libpq returns them in
 * the order the statements were sent.
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
 * come back through the pool's lws_cancel_service wake-up.
 *
 * Session rows carry a uuid made here (store_row_id). A row is inserted when
 * the session starts, updated when it is taken and completed at its end; the
 * start insert ignores a conflict on the id and the end write is an upsert: a
 * write whose connection broke before its result arrived is sent again after
 * the reconnect, and may already have been committed, and an end write whose
 * start row was dropped (queue full) still leaves a whole row. The first write
 * of a run closes the rows an earlier run left open (a crash) as 'crashed'. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "log.h"
#include "mem.h"
#include "workers.h"

#define STORE_PROTOCOL_NAME "lotse-store"
/* Statements sent ahead of their results; the rest wait in `waiting`. Bounds
 * libpq's buffers and what must be re-sent after a break. */
#define STORE_MAX_INFLIGHT 32
#define STORE_BACKOFF_FIRST_MS 500
#define STORE_BACKOFF_MAX_MS 10000
#define STORE_CONNECT_TIMEOUT "3"
#define STORE_WAIT_SLICE_MS 100
#define OID_TEXT 25
#define OID_BYTEA 17

static const char lookup_sql[] =
    "SELECT a.id, a.handle, a.display_name, a.role, a.pw_hash, array_to_string(a.topics, ','),"
    " a.capacity, a.disabled, c.cert FROM accounts a LEFT JOIN device_certs c"
    " ON c.account_id = a.id AND c.device_pk = $2 AND c.revoked_at IS NULL"
    " AND c.expires_at > now() WHERE a.handle = $1";

static const char session_start_sql[] =
    "INSERT INTO sessions (id, topic, started_bucket, wait_seconds, duration_seconds,"
    " end_reason, transfer_count, escalated, taken)"
    " VALUES ($1::uuid, $2, to_timestamp($3), 0, 0, NULL, 0, false, false)"
    " ON CONFLICT (id) DO NOTHING";

static const char session_taken_sql[] =
    "UPDATE sessions SET wait_seconds = $2, counsellor_id = NULLIF($3, 0), taken = true,"
    " transfer_count = $4 WHERE id = $1::uuid AND end_reason IS NULL";

static const char session_end_sql[] =
    "INSERT INTO sessions (id, topic, started_bucket, wait_seconds, duration_seconds,"
    " counsellor_id, end_reason, transfer_count, escalated, taken)"
    " VALUES ($1::uuid, $2, to_timestamp($3), $4, $5, NULLIF($6, 0), $7, $8, $9::boolean,"
    " $10::boolean)"
    " ON CONFLICT (id) DO UPDATE SET wait_seconds = EXCLUDED.wait_seconds,"
    " duration_seconds = EXCLUDED.duration_seconds, counsellor_id = EXCLUDED.counsellor_id,"
    " end_reason = EXCLUDED.end_reason, transfer_count = EXCLUDED.transfer_count,"
    " escalated = EXCLUDED.escalated, taken = EXCLUDED.taken";

/* Rows that an earlier run left open: it died without ending them. */
static const char session_crashed_sql[] =
    "UPDATE sessions SET end_reason = 'crashed' WHERE end_reason IS NULL";

/* Supervision and statistics (store.h). Time zones and intervals are
 * parameters, never spliced into the text. The hour a session belongs to is the
 * hour of its rounded start. "Abandoned" means that no counsellor took it (the
 * young person left, or the server ended it first): NOT taken. Rows of running
 * sessions (end_reason NULL) count as started, not yet as ended or abandoned;
 * rows closed as 'crashed' count as ended or abandoned like any other. */
static const char today_sql[] =
    "SELECT count(*) FILTER (WHERE started_bucket >= to_timestamp($1::bigint)),"
    " count(*) FILTER (WHERE taken AND end_reason IS NOT NULL AND started_bucket"
    "   + make_interval(secs => wait_seconds + duration_seconds) >= to_timestamp($1::bigint)),"
    " count(*) FILTER (WHERE NOT taken AND end_reason IS NOT NULL AND started_bucket"
    "   + make_interval(secs => wait_seconds) >= to_timestamp($1::bigint))"
    " FROM sessions WHERE started_bucket >= to_timestamp($1::bigint) - interval '2 days'";

/* Ended rows only (a running session is counted when it ends). A crashed row
 * counts as a session; its wait is unknown when nobody had taken it, and its
 * duration always, so those stay out of the percentiles and the mean. */
#define STATS_KNOWN_WAIT "(taken OR end_reason <> 'crashed')"
#define STATS_SELECT                                                                               \
    " SELECT date_trunc('hour', started_bucket), topic, count(*),"                                 \
    " count(*) FILTER (WHERE NOT taken), count(*) FILTER (WHERE escalated),"                       \
    " coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY wait_seconds)"                          \
    "   FILTER (WHERE " STATS_KNOWN_WAIT "), 0),"                                                   \
    " coalesce(percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_seconds)"                          \
    "   FILTER (WHERE " STATS_KNOWN_WAIT "), 0),"                                                   \
    " coalesce(round(avg(duration_seconds) FILTER (WHERE taken AND end_reason <> 'crashed')),"    \
    "   0)::integer"
#define STATS_INSERT                                                                               \
    "INSERT INTO stats_hourly (hour, topic, sessions, abandoned, escalated, wait_p50, wait_p90,"   \
    " mean_duration)"

/* Hours already cut by the purge (older than the retention's whole hours) are
 * left alone: recomputing them from the remaining rows would shrink them.
 * Every ended row of a completed hour has now been counted, so the same
 * statement (one snapshot) clears its counsellor_id: the aggregate keeps no
 * per-person figure, and the row no longer says who talked with whom. */
const char store_sql_aggregate[] =
    "WITH w AS (SELECT greatest(date_trunc('hour', now()) - make_interval(hours => $1::integer),"
    "  date_trunc('hour', now() - make_interval(days => $2::integer))) AS since),"
    " up AS (" STATS_INSERT STATS_SELECT
    " FROM sessions, w WHERE started_bucket >= w.since AND started_bucket < date_trunc('hour', now())"
    " AND end_reason IS NOT NULL GROUP BY 1, 2"
    " ON CONFLICT (hour, topic) DO UPDATE SET sessions = EXCLUDED.sessions,"
    " abandoned = EXCLUDED.abandoned, escalated = EXCLUDED.escalated,"
    " wait_p50 = EXCLUDED.wait_p50, wait_p90 = EXCLUDED.wait_p90,"
    " mean_duration = EXCLUDED.mean_duration, updated_at = now() RETURNING 1),"
    " cleared AS (UPDATE sessions SET counsellor_id = NULL WHERE counsellor_id IS NOT NULL"
    "  AND end_reason IS NOT NULL AND started_bucket < date_trunc('hour', now()) RETURNING 1)"
    " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM cleared)";

/* One statement, so the aggregates and the deletion see the same rows. An hour
 * aggregated before keeps its row (DO NOTHING): it was computed while all its
 * sessions were there. */
const char store_sql_purge[] =
    "WITH c AS (SELECT date_trunc('hour', now() - make_interval(days => $1::integer)) AS t),"
    " agg AS (" STATS_INSERT STATS_SELECT
    " FROM sessions, c WHERE started_bucket < c.t AND end_reason IS NOT NULL GROUP BY 1, 2"
    " ON CONFLICT (hour, topic) DO NOTHING RETURNING 1),"
    " gone AS (DELETE FROM sessions USING c WHERE started_bucket < c.t RETURNING 1),"
    " audit AS (DELETE FROM audit_log WHERE at < now() - make_interval(days => $2::integer)"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM audit), (SELECT count(*) FROM agg)";

const char store_sql_purge_count[] =
    "SELECT (SELECT count(*) FROM sessions WHERE started_bucket <"
    "  date_trunc('hour', now() - make_interval(days => $1::integer))),"
    " (SELECT count(*) FROM audit_log WHERE at < now() - make_interval(days => $2::integer))";

const char store_sql_stats_daily[] =
    "SELECT to_char((hour AT TIME ZONE $2::text)::date, 'YYYY-MM-DD'), sum(sessions),"
    " sum(abandoned), sum(escalated),"
    " coalesce(round(sum(wait_p50::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0),"
    " coalesce(round(sum(wait_p90::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0),"
    " coalesce(round(sum(mean_duration::bigint * (sessions - abandoned))::numeric"
    "  / nullif(sum(sessions - abandoned), 0)), 0)"
    " FROM stats_hourly WHERE hour >= (date_trunc('day', now() AT TIME ZONE $2::text)"
    "  - make_interval(days => $1::integer - 1)) AT TIME ZONE $2::text"
    " GROUP BY 1 ORDER BY 1";

const char store_sql_stats_hourly[] =
    "SELECT extract(epoch FROM hour)::bigint, topic, sessions, abandoned, escalated, wait_p50,"
    " wait_p90, mean_duration FROM stats_hourly"
    " WHERE hour >= date_trunc('hour', now()) - make_interval(days => $1::integer)"
    " ORDER BY hour, topic";

#define STORE_QUERY_PARAMS 4

enum req_kind { REQ_LOOKUP, REQ_SESSION, REQ_QUERY };
/* The writes of a session row (REQ_SESSION). */
enum row_op { ROW_START, ROW_TAKEN, ROW_END, ROW_CRASHED };

struct req {
    struct req *next;
    struct req *prev;
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
            PGresult *res; /* kept from take_result until the callback */
        } query;
    } u;
};

struct req_list {
    struct req *head;
    struct req *tail;
    size_t count;
};

/* A worker job of the store: a connect attempt, or a "kick" that only brings
 * the service thread back to answer failed look-ups. */
enum task_kind { TASK_CONNECT, TASK_KICK };

struct task {
    struct task *next;     /* on the orphan list only */
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

    int backoff_ms;

    uint64_t writes_queued;
    uint64_t writes_done;
    uint64_t writes_dropped;
    uint64_t errors;
};

/* Tasks whose store was destroyed while they were queued or running: kept
 * reachable here until their done() frees them (service thread only). */
static struct task *orphans;

static void start_connect(struct store *s, int delay_ms);
static void conn_broken(struct store *s, const char *why);
static int queue_row_write(struct store *s, const struct store_session_row *row, int op);

/* A session row write, counted in waiting_writes, depth and the write counters;
 * the start-up close of crashed rows retries like one but is not counted. */
static bool row_write(const struct req *r)
{
    return r->kind == REQ_SESSION && r->u.session.op != ROW_CRASHED;
}

/* ---- request lists ---- */

static void list_push_tail(struct req_list *l, struct req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->count++;
}

static void list_push_head(struct req_list *l, struct req *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->count++;
}

static void list_remove(struct req_list *l, struct req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->next = r->prev = NULL;
    l->count--;
}

static struct req *list_pop_head(struct req_list *l)
{
    struct req *r = l->head;
    if (r)
        list_remove(l, r);
    return r;
}

/* ---- completion ---- */

static void task_free(struct task *t)
{
    if (t->conninfo)
        mem_free_secret(t->conninfo, strlen(t->conninfo));
    PQfinish(t->conn);
    mem_free(t);
}

/* done() of a task whose store is gone: unlink and free. */
static void orphan_done(struct task *t)
{
    for (struct task **pp = &orphans; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    task_free(t);
}

/* Runs the callback of a look-up or query with status and frees the request. */
static void answer(struct req *r, int status)
{
    if (r->kind == REQ_LOOKUP) {
        r->u.lookup.cb(r->u.lookup.arg, status, status == 0 ? &r->u.lookup.acct : NULL);
        /* The result held a password hash. */
        mem_free_secret(r, sizeof(*r));
        return;
    }
    if (r->u.query.cb)
        r->u.query.cb(r->u.query.arg, status, status == 0 ? r->u.query.res : NULL);
    PQclear(r->u.query.res);
    mem_free(r);
}

/* Runs the callbacks of look-ups answered with an error (service thread). */
static void answer_failed(struct store *s)
{
    /* Take the list first: a callback may queue another look-up that fails. */
    struct req_list done = s->failed;
    memset(&s->failed, 0, sizeof(s->failed));
    struct req *r;
    while ((r = list_pop_head(&done)))
        answer(r, r->status);
}

/* Answers a look-up later on the service thread, never from the caller's stack. */
static void kick_work(void *arg)
{
    (void)arg; /* finishing is the point: the pool then wakes the service thread */
}

static void kick_done(void *arg)
{
    struct task *t = arg;
    struct store *s = t->s;
    if (!s) {
        orphan_done(t);
        return;
    }
    s->kick = NULL;
    task_free(t);
    answer_failed(s);
}

/* Answers a look-up later on the service thread, never from the caller's stack.
 * Should the pool refuse the kick, the answer comes with the store's next
 * database event or connect attempt instead. */
static void fail_later(struct store *s, struct req *r, int status)
{
    r->status = status;
    list_push_tail(&s->failed, r);
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

/* ---- sending ---- */

static int send_lookup(struct store *s, struct req *r)
{
    const char *values[2] = {r->u.lookup.handle,
                             r->u.lookup.has_pk ? (const char *)r->u.lookup.pk : NULL};
    const int lengths[2] = {0, r->u.lookup.has_pk ? LOTSE_PK_BYTES : 0};
    const int formats[2] = {0, 1};
    const Oid types[2] = {OID_TEXT, OID_BYTEA};
    return PQsendQueryParams(s->conn, lookup_sql, 2, types, values, lengths, formats, 0);
}

static int send_session(struct store *s, struct req *r)
{
    const struct store_session_row *row = &r->u.session.row;
    char started[24], wait[16], duration[16], counsellor[24], transfers[16];
    snprintf(started, sizeof(started), "%lld", (long long)row->started);
    snprintf(wait, sizeof(wait), "%d", (int)row->wait_seconds);
    snprintf(duration, sizeof(duration), "%d", (int)row->duration_seconds);
    snprintf(counsellor, sizeof(counsellor), "%lld", (long long)row->counsellor_id);
    snprintf(transfers, sizeof(transfers), "%d", (int)row->transfer_count);
    switch (r->u.session.op) {
    case ROW_START: {
        const char *values[3] = {row->id, row->topic, started};
        return PQsendQueryParams(s->conn, session_start_sql, 3, NULL, values, NULL, NULL, 0);
    }
    case ROW_TAKEN: {
        const char *values[4] = {row->id, wait, counsellor, transfers};
        return PQsendQueryParams(s->conn, session_taken_sql, 4, NULL, values, NULL, NULL, 0);
    }
    case ROW_CRASHED:
        return PQsendQueryParams(s->conn, session_crashed_sql, 0, NULL, NULL, NULL, NULL, 0);
    default: {
        const char *values[10] = {row->id,         row->topic,
                                  started,         wait,
                                  duration,        counsellor,
                                  row->end_reason, transfers,
                                  row->escalated ? "true" : "false",
                                  row->taken ? "true" : "false"};
        return PQsendQueryParams(s->conn, session_end_sql, 10, NULL, values, NULL, NULL, 0);
    }
    }
}

static int send_query(struct store *s, struct req *r)
{
    const char *values[STORE_QUERY_PARAMS];
    for (int i = 0; i < r->u.query.nparams; i++)
        values[i] = r->u.query.params[i];
    return PQsendQueryParams(s->conn, r->u.query.sql, r->u.query.nparams, NULL, values, NULL, NULL,
                             0);
}

static void flush_out(struct store *s)
{
    if (!s->conn)
        return;
    int rc = PQflush(s->conn);
    if (rc < 0)
        conn_broken(s, "send failed");
    else if (rc == 1 && s->wsi)
        lws_callback_on_writable(s->wsi);
}

/* Sends waiting requests while there is room in the pipeline. */
static void pump(struct store *s)
{
    bool sent = false;
    while (s->conn && s->waiting.head && s->inflight.count < STORE_MAX_INFLIGHT) {
        struct req *r = list_pop_head(&s->waiting);
        if (row_write(r))
            s->waiting_writes--;
        r->status = 0;
        r->got_result = false;
        list_push_tail(&s->inflight, r);
        int ok = r->kind == REQ_LOOKUP    ? send_lookup(s, r)
                 : r->kind == REQ_SESSION ? send_session(s, r)
                                          : send_query(s, r);
        if (ok)
            ok = PQpipelineSync(s->conn);
        if (!ok) {
            conn_broken(s, "queueing a statement failed");
            return;
        }
        sent = true;
    }
    if (sent)
        flush_out(s);
}

/* ---- results ---- */

/* Copies at most cap bytes of src into dst, not splitting a UTF-8 sequence. */
static void copy_text(char *dst, size_t cap, const char *src)
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

static int parse_account(const PGresult *res, struct store_account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    copy_text(a->handle, STORE_MAX_HANDLE, PQgetvalue(res, 0, 1));
    copy_text(a->display_name, STORE_MAX_HANDLE, PQgetvalue(res, 0, 2));
    const char *role = PQgetvalue(res, 0, 3);
    if (strcmp(role, "counsellor") == 0)
        a->role = STORE_ROLE_COUNSELLOR;
    else if (strcmp(role, "supervisor") == 0)
        a->role = STORE_ROLE_SUPERVISOR;
    else
        return -EIO;
    const char *hash = PQgetvalue(res, 0, 4);
    if (strlen(hash) > STORE_PWHASH_MAX)
        return -EIO;
    memcpy(a->pw_hash, hash, strlen(hash) + 1);

    /* Topics come as "a,b,c"; names are short identifiers (lotsectl checks), so an
     * overlong one is skipped rather than truncated into another name. */
    const char *p = PQgetvalue(res, 0, 5);
    while (*p && a->topic_count < STORE_MAX_TOPICS) {
        size_t n = strcspn(p, ",");
        if (n > 0 && n <= STORE_MAX_TOPIC_LEN) {
            memcpy(a->topics[a->topic_count], p, n);
            a->topics[a->topic_count][n] = '\0';
            a->topic_count++;
        } else if (n > STORE_MAX_TOPIC_LEN) {
            log_warn("store: account %lld has a topic longer than %d bytes; ignored",
                     (long long)a->id, STORE_MAX_TOPIC_LEN);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    a->capacity = atoi(PQgetvalue(res, 0, 6));
    a->disabled = PQgetvalue(res, 0, 7)[0] == 't';
    if (!PQgetisnull(res, 0, 8)) {
        size_t len = 0;
        unsigned char *cert = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 8), &len);
        if (!cert)
            return -ENOMEM;
        if (len == LOTSE_CERT_BYTES) {
            memcpy(a->cert, cert, LOTSE_CERT_BYTES);
            a->has_cert = true;
        }
        PQfreemem(cert);
    }
    return 0;
}

/* Returns true when the request keeps res (a query's rows for its callback). */
static bool take_result(struct store *s, struct req *r, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    r->got_result = true;
    if (r->kind == REQ_QUERY) {
        if (st == PGRES_TUPLES_OK) {
            r->status = 0;
            r->u.query.res = res;
            return true;
        }
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        log_warn("store: %s failed (SQLSTATE %s)", r->u.query.what, state ? state : "none");
        s->errors++;
        r->status = -EIO;
        return false;
    }
    if (st == PGRES_TUPLES_OK && r->kind == REQ_LOOKUP) {
        if (PQntuples(res) == 0)
            r->status = -ENOENT;
        else if (PQnfields(res) != 9)
            r->status = -EIO;
        else
            r->status = parse_account(res, &r->u.lookup.acct);
        return false;
    }
    if (st == PGRES_COMMAND_OK && r->kind == REQ_SESSION) {
        r->status = 0;
        const char *n = PQcmdTuples(res);
        if (r->u.session.op == ROW_CRASHED && n[0] && strcmp(n, "0") != 0)
            log_warn("store: %s session rows left open by an earlier run (a crash) closed as "
                     "crashed",
                     n);
        return false;
    }
    /* Only the SQLSTATE: a message may quote the values, and a look-up's value is
     * a handle. */
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    log_warn("store: %s failed (SQLSTATE %s)", r->kind == REQ_LOOKUP ? "account look-up" : "session row write",
             state ? state : "none");
    s->errors++;
    r->status = -EIO;
    return false;
}

/* Reads every complete result; finished requests move to *done in order. */
static void read_results(struct store *s, struct req_list *done)
{
    int nulls = 0;
    while (s->conn && s->inflight.head && !PQisBusy(s->conn)) {
        struct req *r = s->inflight.head;
        PGresult *res = PQgetResult(s->conn);
        if (!res) {
            /* The end of one statement's results; a second NULL in a row means
             * libpq has nothing more for now. */
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            list_remove(&s->inflight, r);
            if (!r->got_result)
                r->status = -EIO;
            list_push_tail(done, r);
        } else if (!r->got_result && take_result(s, r, res)) {
            continue; /* kept for the callback */
        }
        PQclear(res);
    }
}

/* Runs the callbacks of finished requests; frees them. */
static void finish(struct store *s, struct req_list *done)
{
    struct req *r;
    while ((r = list_pop_head(done))) {
        if (r->kind != REQ_SESSION) {
            answer(r, r->status);
            continue;
        }
        if (!row_write(r))
            s->crash_close_pending = false;
        else if (r->status == 0)
            s->writes_done++;
        else
            s->writes_dropped++; /* a statement the database refuses is not retried */
        mem_free(r);
    }
}

/* ---- connection ---- */

static void schedule_retry(struct store *s)
{
    int ms = s->backoff_ms;
    s->backoff_ms = ms * 2 > STORE_BACKOFF_MAX_MS ? STORE_BACKOFF_MAX_MS : ms * 2;
    start_connect(s, ms);
}

/* The connection is unusable: give back the wsi and the PGconn, answer every
 * in-flight look-up with -ENOTCONN, put in-flight writes back at the front of
 * the queue in their order, and schedule a reconnect. */
static void conn_broken(struct store *s, const char *why)
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
    while ((r = s->inflight.tail)) {
        list_remove(&s->inflight, r);
        if (r->kind == REQ_SESSION) {
            list_push_head(&s->waiting, r);
            if (row_write(r))
                s->waiting_writes++;
        } else {
            fail_later(s, r, -ENOTCONN);
        }
    }
    /* Look-ups still waiting would only fail later; answer them now. */
    for (r = s->waiting.head; r;) {
        struct req *next = r->next;
        if (r->kind != REQ_SESSION) {
            list_remove(&s->waiting, r);
            fail_later(s, r, -ENOTCONN);
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
        int slice = t->delay_ms - waited < STORE_WAIT_SLICE_MS ? t->delay_ms - waited
                                                               : STORE_WAIT_SLICE_MS;
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
        copy_text(t->err, sizeof(t->err) - 1, conn ? PQerrorMessage(conn) : "out of memory");
        t->err[strcspn(t->err, "\n")] = '\0';
        PQfinish(conn);
        return;
    }
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
        copy_text(t->err, sizeof(t->err) - 1, "cannot enter non-blocking pipeline mode");
        PQfinish(conn);
        return;
    }
    t->conn = conn;
}

static void connect_done(void *arg)
{
    struct task *t = arg;
    struct store *s = t->s;
    if (!s) {
        orphan_done(t);
        return;
    }
    s->job = NULL;
    PGconn *conn = t->conn;
    t->conn = NULL;
    if (!conn) {
        /* The libpq message names the cause (auth, missing database, refused);
         * it goes through the log scrubber like every line. */
        s->errors++;
        log_warn("store: cannot connect to the database: %s; retrying in %d ms", t->err,
                 s->backoff_ms);
        task_free(t);
        answer_failed(s);
        schedule_retry(s);
        return;
    }
    task_free(t);
    int fd = fcntl(PQsocket(conn), F_DUPFD_CLOEXEC, 0);
    struct lws *wsi = NULL;
    if (fd >= 0)
        wsi = lws_adopt_descriptor_vhost(s->vh, LWS_ADOPT_RAW_FILE_DESC,
                                         (lws_sock_file_fd_type){.filefd = fd},
                                         STORE_PROTOCOL_NAME, NULL);
    if (!wsi) {
        /* lws 4.1 closes only sockets on a failed adoption, not file descriptors */
        if (fd >= 0)
            close(fd);
        log_error("store: cannot add the database socket to the event loop");
        PQfinish(conn);
        s->errors++;
        answer_failed(s);
        schedule_retry(s);
        return;
    }
    lws_set_opaque_user_data(wsi, s);
    s->wsi = wsi;
    s->conn = conn;
    s->backoff_ms = STORE_BACKOFF_FIRST_MS;
    log_info("store: connected to the database; %zu session rows waiting", s->waiting_writes);
    answer_failed(s);
    pump(s);
}

/* Queues a connect attempt after delay_ms on a worker, unless one is pending. */
static void start_connect(struct store *s, int delay_ms)
{
    if (s->conn || s->job)
        return;
    s->connect_wanted = false;
    struct task *t = mem_calloc(1, sizeof(*t));
    if (t)
        t->conninfo = mem_strdup(s->conninfo);
    if (!t || !t->conninfo || workers_submit(s->w, connect_work, connect_done, t) < 0) {
        /* Tried again on the store's next request. */
        if (t)
            task_free(t);
        s->connect_wanted = true;
        log_warn("store: worker pool busy; database connect postponed");
        return;
    }
    t->kind = TASK_CONNECT;
    t->s = s;
    t->delay_ms = delay_ms;
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
            conn_broken(s, "read failed");
            answer_failed(s);
            return 0;
        }
        struct req_list done = {0};
        read_results(s, &done);
        pump(s);
        finish(s, &done);
        return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        s = lws_get_opaque_user_data(wsi);
        if (!s || s->wsi != wsi)
            return -1;
        flush_out(s);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        s = lws_get_opaque_user_data(wsi);
        if (s && s->wsi == wsi) {
            /* lws closed it (hang-up): the descriptor is gone, the PGconn too */
            lws_set_opaque_user_data(wsi, NULL);
            s->wsi = NULL;
            conn_broken(s, "socket closed");
        }
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols store_lws_protocol = {STORE_PROTOCOL_NAME, store_callback, 0, 0, 0, NULL,
                                                 0};

/* ---- public ---- */

int store_create(struct store **out, struct lws_vhost *vh, struct workers *w,
                 const char *conninfo, size_t max_queued)
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
    struct store_session_row none;
    memset(&none, 0, sizeof(none));
    queue_row_write(s, &none, ROW_CRASHED);
    start_connect(s, 0);
    *out = s;
    return 0;
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
        while ((r = list_pop_head(lists[i]))) {
            if (r->kind != REQ_SESSION) {
                answer(r, -ECANCELED);
                continue;
            }
            if (row_write(r)) {
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

static size_t unsent_writes(const struct store *s)
{
    size_t n = s->waiting_writes;
    for (const struct req *r = s->inflight.head; r; r = r->next)
        if (row_write(r))
            n++;
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t store_flush_blocking(struct store *s, int timeout_ms)
{
    if (!s)
        return 0;
    int64_t deadline = now_ms() + timeout_ms;
    /* Drives libpq directly on its own socket; lws is not serving meanwhile. */
    while (s->conn && unsent_writes(s) > 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        pump(s);
        if (!s->conn)
            break;
        int fl = PQflush(s->conn);
        if (fl < 0) {
            conn_broken(s, "send failed");
            break;
        }
        struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN | (fl ? POLLOUT : 0)};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK) {
            conn_broken(s, "read failed");
            break;
        }
        struct req_list done = {0};
        read_results(s, &done);
        finish(s, &done);
    }
    return unsent_writes(s);
}

int store_account_lookup(struct store *s, const char *handle, const uint8_t *device_pk,
                         store_account_cb cb, void *arg)
{
    if (!s || !handle || !cb)
        return -EINVAL;
    if (s->connect_wanted)
        start_connect(s, 0);
    if (s->conn && s->waiting.count + s->inflight.count >= s->max_queued)
        return -EAGAIN;
    struct req *r = mem_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->kind = REQ_LOOKUP;
    r->u.lookup.cb = cb;
    r->u.lookup.arg = arg;
    if (!s->conn) {
        fail_later(s, r, -ENOTCONN);
        return 0;
    }
    if (strlen(handle) > STORE_MAX_HANDLE) {
        fail_later(s, r, -ENOENT); /* no handle is that long */
        return 0;
    }
    memcpy(r->u.lookup.handle, handle, strlen(handle) + 1);
    if (device_pk) {
        r->u.lookup.has_pk = true;
        memcpy(r->u.lookup.pk, device_pk, LOTSE_PK_BYTES);
    }
    list_push_tail(&s->waiting, r);
    pump(s);
    return 0;
}

/* A random (version 4) uuid in text form; unrelated to anything on the wire. */
void store_row_id(char out[STORE_ROW_ID_LEN + 1])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static int queue_row_write(struct store *s, const struct store_session_row *row, int op)
{
    if (!s || !row)
        return -EINVAL;
    if (s->connect_wanted)
        start_connect(s, 0);
    int rc = 0;
    if (op != ROW_CRASHED && s->waiting_writes >= s->max_queued) {
        /* Full: the oldest unsent row gives way, so the newest data survives. */
        for (struct req *r = s->waiting.head; r; r = r->next) {
            if (row_write(r)) {
                list_remove(&s->waiting, r);
                s->waiting_writes--;
                s->writes_dropped++;
                mem_free(r);
                break;
            }
        }
        rc = -EAGAIN;
    }
    struct req *r = mem_calloc(1, sizeof(*r));
    if (!r) {
        s->writes_dropped++;
        return -ENOMEM;
    }
    r->kind = REQ_SESSION;
    r->u.session.op = op;
    r->u.session.row = *row;
    /* Strings come from our own code, but a missing terminator must not reach libpq. */
    r->u.session.row.id[STORE_ROW_ID_LEN] = '\0';
    r->u.session.row.topic[STORE_MAX_TOPIC_LEN] = '\0';
    r->u.session.row.end_reason[sizeof(row->end_reason) - 1] = '\0';
    list_push_tail(&s->waiting, r);
    if (op == ROW_CRASHED) {
        s->crash_close_pending = true;
    } else {
        s->waiting_writes++;
        s->writes_queued++;
    }
    pump(s);
    return rc;
}

int store_session_started(struct store *s, const struct store_session_row *row)
{
    return queue_row_write(s, row, ROW_START);
}

int store_session_taken(struct store *s, const struct store_session_row *row)
{
    return queue_row_write(s, row, ROW_TAKEN);
}

int store_session_ended(struct store *s, const struct store_session_row *row)
{
    return queue_row_write(s, row, ROW_END);
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return;
    out->writes_queued = s->writes_queued;
    out->writes_done = s->writes_done;
    out->writes_dropped = s->writes_dropped;
    out->errors = s->errors;
    out->depth = s->waiting.count + s->inflight.count - (s->crash_close_pending ? 1 : 0);
    out->up = s->conn != NULL;
}

/* ---- supervision, statistics and retention ---- */

int store_result_rows(const struct pg_result *res)
{
    return res ? PQntuples(res) : 0;
}

int64_t store_result_int(const struct pg_result *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *store_result_text(const struct pg_result *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res))
        return "";
    return PQgetvalue(res, row, col);
}

/* Queues a query with up to STORE_QUERY_PARAMS text parameters. */
static int query(struct store *s, const char *sql, const char *what, store_result_cb cb, void *arg,
                 int nparams, const char *const *params)
{
    if (!s || nparams > STORE_QUERY_PARAMS)
        return -EINVAL;
    if (s->connect_wanted)
        start_connect(s, 0);
    if (s->conn && s->waiting.count + s->inflight.count >= s->max_queued)
        return -EAGAIN;
    struct req *r = mem_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->kind = REQ_QUERY;
    r->u.query.sql = sql;
    r->u.query.what = what;
    r->u.query.cb = cb;
    r->u.query.arg = arg;
    r->u.query.nparams = nparams;
    for (int i = 0; i < nparams; i++) {
        if (strlen(params[i]) >= sizeof(r->u.query.params[i])) {
            mem_free(r);
            return -EINVAL;
        }
        strcpy(r->u.query.params[i], params[i]);
    }
    if (!s->conn) {
        fail_later(s, r, -ENOTCONN);
        return 0;
    }
    list_push_tail(&s->waiting, r);
    pump(s);
    return 0;
}

int store_today_counts(struct store *s, time_t midnight, store_result_cb cb, void *arg)
{
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)midnight);
    const char *p[1] = {t};
    return query(s, today_sql, "today's counts", cb, arg, 1, p);
}

int store_stats_aggregate(struct store *s, int window_hours, int retention_days,
                          store_result_cb cb, void *arg)
{
    char h[16], d[16];
    snprintf(h, sizeof(h), "%d", window_hours);
    snprintf(d, sizeof(d), "%d", retention_days);
    const char *p[2] = {h, d};
    return query(s, store_sql_aggregate, "hourly statistics", cb, arg, 2, p);
}

int store_purge(struct store *s, int retention_days, int audit_retention_days,
                store_result_cb cb, void *arg)
{
    char d[16], a[16];
    snprintf(d, sizeof(d), "%d", retention_days);
    snprintf(a, sizeof(a), "%d", audit_retention_days);
    const char *p[2] = {d, a};
    return query(s, store_sql_purge, "retention purge", cb, arg, 2, p);
}

int store_stats_read(struct store *s, int days, const char *tz, store_result_cb cb, void *arg)
{
    char d[16];
    snprintf(d, sizeof(d), "%d", days);
    const char *p[2] = {d, tz};
    return query(s, store_sql_stats_daily, "statistics read", cb, arg, 2, p);
}
