/* store_pipeline.c — the store's queue of statements on its one connection.
 *
 * Every request is one PQsendQueryParams followed by its own PQpipelineSync, so
 * a failing statement aborts only itself. Requests wait in `waiting` (FIFO),
 * move to `inflight` when sent, and results are matched to `inflight` in order:
 * libpq returns them in the order the statements were sent. What a request
 * sends and how its rows are read is its concern's file (store_internal.h). */
#include "store_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libwebsockets.h>

#include "log.h"
#include "mem.h"

/* Statements sent ahead of their results; the rest wait in `waiting`. Bounds
 * libpq's buffers and what must be re-sent after a break. */
#define STORE_MAX_INFLIGHT 32

bool store__row_write(const struct req *r)
{
    return r->kind == REQ_WRITE || (r->kind == REQ_SESSION && r->u.session.op != ROW_CRASHED);
}

void store__answer(struct req *r, int status)
{
    if (r->kind == REQ_LOOKUP) {
        r->u.lookup.cb(r->u.lookup.arg, status, status == 0 ? &r->u.lookup.acct : NULL);
        /* The result held a password hash. */
        mem_free_secret(r, sizeof(*r));
        return;
    }
    if (r->kind == REQ_LISTEN || r->kind == REQ_WRITE) {
        mem_free(r); /* nobody waits for them */
        return;
    }
    if (r->u.query.cb)
        r->u.query.cb(r->u.query.arg, status, status == 0 ? r->u.query.res : NULL);
    PQclear(r->u.query.res);
    if (r->u.query.blob)
        mem_free_secret(r->u.query.blob, (size_t)r->u.query.blob_len);
    mem_free(r);
}

/* ---- sending ---- */

static int send_query(PGconn *conn, const struct req *r)
{
    const char *values[STORE_QUERY_PARAMS + 1];
    int lengths[STORE_QUERY_PARAMS + 1] = {0};
    int formats[STORE_QUERY_PARAMS + 1] = {0};
    int n = r->u.query.nparams;
    for (int i = 0; i < n; i++)
        values[i] = r->u.query.params[i];
    if (r->u.query.blob) {
        /* a bytea as the last parameter, sent binary (mail envelopes) */
        values[n] = (const char *)r->u.query.blob;
        lengths[n] = r->u.query.blob_len;
        formats[n] = 1;
        n++;
    }
    return PQsendQueryParams(conn, r->u.query.sql, n, NULL, values, lengths, formats, 0);
}

static int send_write(PGconn *conn, const struct req *r)
{
    const char *values[STORE_WRITE_PARAMS];
    int lengths[STORE_WRITE_PARAMS];
    int formats[STORE_WRITE_PARAMS];
    for (int i = 0; i < r->u.write.nparams; i++) {
        values[i] =
            r->u.write.len[i] < 0 ? NULL : (const char *)r->u.write.data + r->u.write.off[i];
        lengths[i] = r->u.write.len[i] < 0 ? 0 : r->u.write.len[i];
        formats[i] = r->u.write.binary[i];
    }
    return PQsendQueryParams(conn, r->u.write.sql, r->u.write.nparams, NULL, values, lengths,
                             formats, 0);
}

static const char listen_sql[] = "LISTEN lotse_nodes";

static int send_one(PGconn *conn, const struct req *r)
{
    switch (r->kind) {
    case REQ_LOOKUP:
        return store__lookup_send(conn, r);
    case REQ_SESSION:
        return store__session_send(conn, r);
    case REQ_WRITE:
        return send_write(conn, r);
    case REQ_LISTEN:
        return PQsendQueryParams(conn, listen_sql, 0, NULL, NULL, NULL, NULL, 0);
    default:
        return send_query(conn, r);
    }
}

void store__flush_out(struct store *s)
{
    if (!s->conn)
        return;
    int rc = PQflush(s->conn);
    if (rc < 0)
        store__conn_broken(s, "send failed");
    else if (rc == 1 && s->wsi)
        lws_callback_on_writable(s->wsi);
}

void store__pump(struct store *s)
{
    bool sent = false;
    while (s->conn && store__list_first(&s->waiting) && s->inflight.count < STORE_MAX_INFLIGHT) {
        struct req *r = store__list_pop_head(&s->waiting);
        if (store__row_write(r))
            s->waiting_writes--;
        r->status = 0;
        r->got_result = false;
        store__list_push_tail(&s->inflight, r);
        int ok = send_one(s->conn, r);
        if (ok)
            ok = PQpipelineSync(s->conn);
        if (!ok) {
            store__conn_broken(s, "queueing a statement failed");
            return;
        }
        sent = true;
    }
    if (sent)
        store__flush_out(s);
}

/* ---- results ---- */

/* Returns true when the request keeps res (a query's rows for its callback). */
static bool take_result(struct store *s, struct req *r, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    const char *what;
    r->got_result = true;
    switch (r->kind) {
    case REQ_QUERY:
        if (st == PGRES_TUPLES_OK) {
            r->status = 0;
            r->u.query.res = res;
            return true;
        }
        what = r->u.query.what;
        break;
    case REQ_LOOKUP:
        if (st == PGRES_TUPLES_OK) {
            r->status = store__lookup_take(r, res);
            return false;
        }
        what = "account look-up";
        break;
    case REQ_WRITE:
    case REQ_LISTEN:
        if (st == PGRES_COMMAND_OK) {
            r->status = 0;
            return false;
        }
        what = r->kind == REQ_WRITE ? r->u.write.what : "LISTEN";
        break;
    default:
        if (st == PGRES_COMMAND_OK) {
            r->status = store__session_take(r, res);
            return false;
        }
        what = "session row write";
        break;
    }
    /* Only the SQLSTATE: a message may quote the values, and a look-up's value is
     * a handle. */
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    log_warn("store: %s failed (SQLSTATE %s)", what, state ? state : "none");
    s->errors++;
    r->status = -EIO;
    return false;
}

void store__read_results(struct store *s, struct req_list *done)
{
    int nulls = 0;
    struct req *r;
    while (s->conn && (r = store__list_first(&s->inflight)) && !PQisBusy(s->conn)) {
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
            store__list_remove(&s->inflight, r);
            if (!r->got_result)
                r->status = -EIO;
            store__list_push_tail(done, r);
        } else if (!r->got_result && take_result(s, r, res)) {
            continue; /* kept for the callback */
        }
        PQclear(res);
    }
}

void store__finish(struct store *s, struct req_list *done)
{
    struct req *r;
    while ((r = store__list_pop_head(done))) {
        if (!store__req_kept(r)) {
            store__answer(r, r->status);
            continue;
        }
        if (!store__row_write(r))
            s->crash_close_pending = false;
        else if (r->status == 0)
            s->writes_done++;
        else
            s->writes_dropped++; /* a statement the database refuses is not retried */
        mem_free(r);
    }
}

/* ---- queueing ---- */

int store__req_new(struct store *s, enum req_kind kind, struct req **out)
{
    if (s->connect_wanted)
        store__start_connect(s, 0);
    if (s->conn && s->waiting.count + s->inflight.count >= s->max_queued)
        return -EAGAIN;
    struct req *r = mem_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->kind = kind;
    *out = r;
    return 0;
}

int store__submit(struct store *s, struct req *r)
{
    if (!s->conn) {
        store__fail_later(s, r, -ENOTCONN);
        return 0;
    }
    store__list_push_tail(&s->waiting, r);
    store__pump(s);
    return 0;
}

int store__query(struct store *s, const char *sql, const char *what, store_result_cb cb, void *arg,
                 int nparams, const char *const *params)
{
    return store__query_blob(s, sql, what, cb, arg, nparams, params, NULL, 0);
}

int store__query_blob(struct store *s, const char *sql, const char *what, store_result_cb cb,
                      void *arg, int nparams, const char *const *params, const uint8_t *blob,
                      size_t blob_len)
{
    if (!s || nparams > STORE_QUERY_PARAMS || blob_len > INT32_MAX)
        return -EINVAL;
    struct req *r;
    int rc = store__req_new(s, REQ_QUERY, &r);
    if (rc < 0)
        return rc;
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
    if (blob) {
        r->u.query.blob = mem_calloc(1, blob_len ? blob_len : 1);
        if (!r->u.query.blob) {
            mem_free(r);
            return -ENOMEM;
        }
        memcpy(r->u.query.blob, blob, blob_len);
        r->u.query.blob_len = (int)blob_len;
    }
    return store__submit(s, r);
}

void store__drop_oldest_write(struct store *s)
{
    for (struct req *r = store__list_first(&s->waiting); r; r = store__list_next(r)) {
        if (store__row_write(r)) {
            store__list_remove(&s->waiting, r);
            s->waiting_writes--;
            s->writes_dropped++;
            mem_free(r);
            return;
        }
    }
}

int store__write(struct store *s, const char *sql, const char *what, int nparams,
                 const char *const *values, const int *lengths, const int *formats)
{
    if (!s || !sql || nparams < 0 || nparams > STORE_WRITE_PARAMS)
        return -EINVAL;
    size_t total = 0;
    int len[STORE_WRITE_PARAMS];
    for (int i = 0; i < nparams; i++) {
        if (!values[i])
            len[i] = -1;
        else if (formats && formats[i])
            len[i] = lengths[i];
        else
            len[i] = (int)strlen(values[i]) + 1; /* with its terminator */
        if (len[i] > 0)
            total += (size_t)len[i];
    }
    if (s->connect_wanted)
        store__start_connect(s, 0);
    int rc = 0;
    if (s->waiting_writes >= s->max_queued) {
        store__drop_oldest_write(s);
        rc = -EAGAIN;
    }
    /* The values live after the request, so one mem_free releases both. */
    struct req *r = mem_calloc(1, sizeof(*r) + total);
    if (!r) {
        s->writes_dropped++;
        return -ENOMEM;
    }
    r->kind = REQ_WRITE;
    r->u.write.sql = sql;
    r->u.write.what = what;
    r->u.write.nparams = nparams;
    r->u.write.data = (uint8_t *)(r + 1);
    size_t off = 0;
    for (int i = 0; i < nparams; i++) {
        r->u.write.len[i] = len[i];
        r->u.write.off[i] = (int)off;
        r->u.write.binary[i] = (uint8_t)(formats && formats[i] ? 1 : 0);
        if (len[i] > 0) {
            memcpy(r->u.write.data + off, values[i], (size_t)len[i]);
            off += (size_t)len[i];
        }
        if (!r->u.write.binary[i] && len[i] > 0)
            r->u.write.len[i]--; /* libpq reads text to its terminator */
    }
    store__list_push_tail(&s->waiting, r);
    s->waiting_writes++;
    s->writes_queued++;
    store__pump(s);
    return rc;
}

void store__listen_queue(struct store *s)
{
    if (!s->listen_cb || !s->conn)
        return;
    struct req *r = mem_calloc(1, sizeof(*r));
    if (!r) {
        log_warn("store: out of memory for LISTEN; the other node's wake-ups are missed");
        return;
    }
    r->kind = REQ_LISTEN;
    store__list_push_head(&s->waiting, r);
    store__pump(s);
}

void store__notifies(struct store *s)
{
    PGnotify *n;
    while (s->conn && (n = PQnotifies(s->conn))) {
        /* Our own NOTIFY (taking or giving up the lease) wakes nobody here. */
        bool own = n->be_pid == PQbackendPID(s->conn);
        PQfreemem(n);
        if (!own && s->listen_cb)
            s->listen_cb(s->listen_arg);
    }
}

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

/* ---- counters and the blocking flush ---- */

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

static size_t unsent_writes(const struct store *s)
{
    size_t n = s->waiting_writes;
    for (const struct req *r = store__list_first(&s->inflight); r; r = store__list_next(r))
        if (store__row_write(r))
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
        store__pump(s);
        if (!s->conn)
            break;
        int fl = PQflush(s->conn);
        if (fl < 0) {
            store__conn_broken(s, "send failed");
            break;
        }
        struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN | (fl ? POLLOUT : 0)};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK) {
            store__conn_broken(s, "read failed");
            break;
        }
        struct req_list done = {0};
        store__read_results(s, &done);
        store__finish(s, &done);
    }
    return unsent_writes(s);
}
