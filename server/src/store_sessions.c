/* store_sessions.c — the writes of session rows (DESIGN.md "What is stored").
 *
 * Session rows carry a uuid made here (store_row_id). A row is inserted when
 * the session starts, updated when it is taken and completed at its end; the
 * start insert ignores a conflict on the id and the end write is an upsert: a
 * write whose connection broke before its result arrived is sent again after
 * the reconnect, and may already have been committed, and an end write whose
 * start row was dropped (queue full) still leaves a whole row. The first write
 * of a run closes the rows an earlier run left open (a crash) as 'crashed'.
 * Writes wait through an outage in the bounded FIFO; the oldest gives way. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "log.h"
#include "mem.h"

static const char session_start_sql[] =
    "INSERT INTO sessions (id, topic, started_bucket, wait_seconds, duration_seconds,"
    " end_reason, transfer_count, escalated, taken, org_id)"
    " VALUES ($1::uuid, $2, to_timestamp($3), 0, 0, NULL, 0, false, false, NULLIF($4, 0))"
    " ON CONFLICT (id) DO NOTHING";

static const char session_taken_sql[] =
    "UPDATE sessions SET wait_seconds = $2, counsellor_id = NULLIF($3, 0), taken = true,"
    " transfer_count = $4, org_id = NULLIF($5, 0) WHERE id = $1::uuid AND end_reason IS NULL";

static const char session_end_sql[] =
    "INSERT INTO sessions (id, topic, started_bucket, wait_seconds, duration_seconds,"
    " counsellor_id, end_reason, transfer_count, escalated, taken, org_id)"
    " VALUES ($1::uuid, $2, to_timestamp($3), $4, $5, NULLIF($6, 0), $7, $8, $9::boolean,"
    " $10::boolean, NULLIF($11, 0))"
    " ON CONFLICT (id) DO UPDATE SET wait_seconds = EXCLUDED.wait_seconds,"
    " duration_seconds = EXCLUDED.duration_seconds, counsellor_id = EXCLUDED.counsellor_id,"
    " end_reason = EXCLUDED.end_reason, transfer_count = EXCLUDED.transfer_count,"
    " escalated = EXCLUDED.escalated, taken = EXCLUDED.taken, org_id = EXCLUDED.org_id";

/* Rows that an earlier run left open: it died without ending them. */
static const char session_crashed_sql[] =
    "UPDATE sessions SET end_reason = 'crashed' WHERE end_reason IS NULL";

int store__session_send(PGconn *conn, const struct req *r)
{
    const struct store_session_row *row = &r->u.session.row;
    char started[24], wait[16], duration[16], counsellor[24], transfers[16], org[16];
    snprintf(started, sizeof(started), "%lld", (long long)row->started);
    snprintf(wait, sizeof(wait), "%d", (int)row->wait_seconds);
    snprintf(duration, sizeof(duration), "%d", (int)row->duration_seconds);
    snprintf(counsellor, sizeof(counsellor), "%lld", (long long)row->counsellor_id);
    snprintf(transfers, sizeof(transfers), "%d", (int)row->transfer_count);
    snprintf(org, sizeof(org), "%d", (int)row->org_id);
    switch (r->u.session.op) {
    case ROW_START: {
        const char *values[4] = {row->id, row->topic, started, org};
        return PQsendQueryParams(conn, session_start_sql, 4, NULL, values, NULL, NULL, 0);
    }
    case ROW_TAKEN: {
        const char *values[5] = {row->id, wait, counsellor, transfers, org};
        return PQsendQueryParams(conn, session_taken_sql, 5, NULL, values, NULL, NULL, 0);
    }
    case ROW_CRASHED:
        return PQsendQueryParams(conn, session_crashed_sql, 0, NULL, NULL, NULL, NULL, 0);
    default: {
        const char *values[11] = {row->id,
                                  row->topic,
                                  started,
                                  wait,
                                  duration,
                                  counsellor,
                                  row->end_reason,
                                  transfers,
                                  row->escalated ? "true" : "false",
                                  row->taken ? "true" : "false",
                                  org};
        return PQsendQueryParams(conn, session_end_sql, 11, NULL, values, NULL, NULL, 0);
    }
    }
}

int store__session_take(const struct req *r, PGresult *res)
{
    const char *n = PQcmdTuples(res);
    if (r->u.session.op == ROW_CRASHED && n[0] && strcmp(n, "0") != 0)
        log_warn("store: %s session rows left open by an earlier run (a crash) closed as "
                 "crashed",
                 n);
    return 0;
}

/* A random (version 4) uuid in text form; unrelated to anything on the wire. */
void store_row_id(char out[STORE_ROW_ID_LEN + 1])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int queue_row_write(struct store *s, const struct store_session_row *row, int op)
{
    if (!s || !row)
        return -EINVAL;
    if (s->connect_wanted)
        store__start_connect(s, 0);
    int rc = 0;
    if (op != ROW_CRASHED && s->waiting_writes >= s->max_queued) {
        store__drop_oldest_write(s);
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
    store__list_push_tail(&s->waiting, r);
    if (op == ROW_CRASHED) {
        s->crash_close_pending = true;
    } else {
        s->waiting_writes++;
        s->writes_queued++;
    }
    store__pump(s);
    return rc;
}

void store__session_close_crashed(struct store *s)
{
    struct store_session_row none;
    memset(&none, 0, sizeof(none));
    queue_row_write(s, &none, ROW_CRASHED);
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
