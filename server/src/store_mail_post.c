/* store_mail_post.c — the counsellor's side of mail counselling in the store
 * (store_mail_post.h). Every statement is parameterised; bytea goes in as hex
 * text ($n decoded by the database) or, for an envelope, as one binary
 * parameter. */
#include "store_mail_post.h"

#include <stdio.h>

#include "lotse/proto.h"
#include "store_internal.h"

static const char key_put_sql[] =
    "INSERT INTO mail_keys (device_pk, mail_pk, sig)"
    " SELECT d.device_pk, decode($2, 'hex'), $3 FROM device_certs d"
    " WHERE d.device_pk = decode($1, 'hex') AND d.revoked_at IS NULL AND d.expires_at > now()"
    " ON CONFLICT (device_pk) DO UPDATE SET mail_pk = EXCLUDED.mail_pk, sig = EXCLUDED.sig"
    " RETURNING 1";

static const char board_sql[] =
    "SELECT encode(tid, 'hex'), topic, n,"
    " extract(epoch FROM coalesce(waiting_since, created_hour))::bigint,"
    " waiting_since IS NOT NULL, coalesce(claimed_by, 0), count(*) OVER (), coalesce(org_id, 0)"
    " FROM mail_threads WHERE state = 'open'"
    " ORDER BY waiting_since IS NULL, coalesce(waiting_since, created_hour), tid LIMIT $1::integer";

/* Threads that count: answered, or unanswered past the target. */
#define SHARE(since)                                                                               \
    "(SELECT CASE WHEN count(*) = 0 THEN NULL ELSE (100 * count(*) FILTER"                         \
    " (WHERE first_answer_hours < $1::integer) / count(*))::integer END FROM mail_threads"         \
    " WHERE created_hour >= " since " AND (first_answer_hours IS NOT NULL"                        \
    " OR waiting_since < now() - make_interval(hours => $1::integer)))"

static const char shares_sql[] =
    "SELECT " SHARE("(date_trunc('day', now() AT TIME ZONE $2::text) AT TIME ZONE $2::text)") ", "
    SHARE("(date_trunc('day', now() AT TIME ZONE $2::text) AT TIME ZONE $2::text"
          " - interval '6 days')");

/* Whether account `who` sees the thread (issue 15): a thread of their
 * organisation, or of the pool (org_id NULL) when their organisation takes
 * mail from the pool. The board shows the same (mail_board_visible). */
#define SEES(who)                                                                                  \
    " (org_id = (SELECT org_id FROM accounts WHERE id = " who ") OR (org_id IS NULL AND EXISTS"   \
    " (SELECT FROM accounts a JOIN organisations o ON o.id = a.org_id WHERE a.id = " who          \
    " AND o.takes_pool AND o.takes_mail AND o.revoked_at IS NULL)))"

/* The claim: one UPDATE decides (row locks serialise two claims of one thread);
 * the plain SELECT, of the statement's snapshot, answers a refused one. A
 * thread the counsellor does not see is no thread for them. */
static const char claim_sql[] =
    "WITH c AS (UPDATE mail_threads SET claimed_by = $2::integer WHERE tid = decode($1, 'hex')"
    " AND state = 'open' AND (claimed_by IS NULL OR claimed_by = $2::integer) AND"
    SEES("$2::integer") " RETURNING topic, box_pk, sign_pk, n, claimed_by, state)"
    " SELECT 1, topic, encode(box_pk, 'hex'), encode(sign_pk, 'hex'), n, claimed_by, state FROM c"
    " UNION ALL SELECT 0, topic, encode(box_pk, 'hex'), encode(sign_pk, 'hex'), n,"
    " coalesce(claimed_by, 0), state FROM mail_threads"
    " WHERE tid = decode($1, 'hex') AND NOT EXISTS (SELECT FROM c) AND" SEES("$2::integer");

/* $1 tid, $2 who, $3 n, $4 bytes, $5 max messages, $6 max bytes, $7 target
 * hours, $8 envelope. The first answer's hours count from the hour bucket of
 * the oldest unanswered message, so they never undercount. */
static const char answer_sql[] =
    "WITH t AS (SELECT * FROM mail_threads WHERE tid = decode($1, 'hex')),"
    " u AS (UPDATE mail_threads m SET n = m.n + 1, bytes = m.bytes + $4::integer,"
    " waiting_since = NULL, answered_by = $2::integer, last_day = current_date,"
    " first_answer_hours = coalesce(m.first_answer_hours, greatest(0, floor(extract(epoch FROM"
    " now() - coalesce(m.waiting_since, m.created_hour)) / 3600))::integer)"
    " WHERE m.tid = decode($1, 'hex') AND m.claimed_by = $2::integer AND m.state = 'open'"
    " AND m.n = $3::integer - 1 AND m.n < $5::integer AND m.bytes + $4::integer <= $6::integer"
    " RETURNING m.n, m.first_answer_hours, m.topic, coalesce(m.org_id, 0) AS org_id),"
    " i AS (INSERT INTO mail_messages (tid, n, sender, envelope)"
    " SELECT decode($1, 'hex'), n, 2, $8 FROM u RETURNING n),"
    " s AS (INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, wait_p50,"
    " wait_p90, mean_duration, mail_answered_within_target) SELECT date_trunc('hour', now()),"
    " u.topic, u.org_id, 0, 0, 0, 0, 0, 1 FROM u, t WHERE t.first_answer_hours IS NULL"
    " AND u.first_answer_hours < $7::integer ON CONFLICT (hour, topic, org_id) DO UPDATE SET"
    " mail_answered_within_target = stats_hourly.mail_answered_within_target + 1)"
    " SELECT (SELECT n FROM i), coalesce(t.claimed_by, 0), t.state, t.n, t.bytes,"
    " t.first_answer_hours IS NULL AND EXISTS (SELECT FROM i), (SELECT first_answer_hours FROM u),"
    " t.topic FROM t";

static const char release_sql[] = "UPDATE mail_threads SET claimed_by = NULL"
                                  " WHERE tid = decode($1, 'hex') AND claimed_by = $2::integer"
                                  " RETURNING 1";

static const char handover_sql[] =
    "UPDATE mail_threads SET claimed_by = $3::integer WHERE tid = decode($1, 'hex')"
    " AND claimed_by = $2::integer AND state = 'open' AND EXISTS (SELECT FROM accounts"
    " WHERE id = $3::integer AND role = 'counsellor' AND NOT disabled) AND" SEES("$3::integer")
    " RETURNING 1";

static const char close_sql[] =
    "UPDATE mail_threads SET state = 'closed', claimed_by = NULL, waiting_since = NULL"
    " WHERE tid = decode($1, 'hex') AND claimed_by = $2::integer RETURNING 1";

/* Look-ups must return rows: hence the count. */
static const char release_all_sql[] =
    "WITH u AS (UPDATE mail_threads SET claimed_by = NULL WHERE claimed_by IS NOT NULL"
    " AND ($1::integer = 0 OR claimed_by = $1::integer) RETURNING 1) SELECT count(*) FROM u";

static const char opened_sql[] =
    "INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, wait_p50, wait_p90,"
    " mean_duration, mail_opened) SELECT date_trunc('hour', now()), topic, coalesce(org_id, 0),"
    " 0, 0, 0, 0, 0, 1 FROM mail_threads WHERE tid = decode($1, 'hex')"
    " ON CONFLICT (hour, topic, org_id) DO UPDATE SET mail_opened = stats_hourly.mail_opened + 1"
    " RETURNING 1";

const char store_sql_mail_key_revoke[] = "DELETE FROM mail_keys WHERE device_pk = $1::bytea";

/* Lower-case hex of n bytes into out (2n + 1). */
static void to_hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int store_mail_key_put(struct store *s, const uint8_t device_pk[32], const uint8_t mail_pk[32],
                       const uint8_t sig[64], store_result_cb cb, void *arg)
{
    char d[65], k[65];
    to_hex(d, device_pk, 32);
    to_hex(k, mail_pk, 32);
    const char *p[2] = {d, k};
    return store__query_blob(s, key_put_sql, "mail key", cb, arg, 2, p, sig, 64);
}

int store_mail_board_load(struct store *s, int max, store_result_cb cb, void *arg)
{
    char m[16];
    snprintf(m, sizeof(m), "%d", max);
    const char *p[1] = {m};
    return store__query(s, board_sql, "mail board", cb, arg, 1, p);
}

int store_mail_shares(struct store *s, int target_hours, const char *tz, store_result_cb cb,
                      void *arg)
{
    char h[16];
    snprintf(h, sizeof(h), "%d", target_hours);
    const char *p[2] = {h, tz};
    return store__query(s, shares_sql, "mail shares", cb, arg, 2, p);
}

/* A statement of a thread and a counsellor ($1 tid, $2 who[, $3 to]). */
static int query_tid(struct store *s, const char *sql, const char *what, const char *tid,
                     int64_t who, int64_t to, int n, store_result_cb cb, void *arg)
{
    char w[24], t[24];
    snprintf(w, sizeof(w), "%lld", (long long)who);
    snprintf(t, sizeof(t), "%lld", (long long)to);
    const char *p[3] = {tid, w, t};
    return store__query(s, sql, what, cb, arg, n, p);
}

int store_mail_claim(struct store *s, const char *tid, int64_t who, store_result_cb cb, void *arg)
{
    return query_tid(s, claim_sql, "mail claim", tid, who, 0, 2, cb, arg);
}

int store_mail_answer(struct store *s, const struct store_mail_answer *a, const uint8_t *env,
                      size_t len, store_result_cb cb, void *arg)
{
    char v[6][24];
    long long nums[6] = {a->who, a->n, (long long)len, a->max_messages, a->max_bytes,
                         a->target_hours};
    const char *p[7] = {a->tid};
    for (int i = 0; i < 6; i++) {
        snprintf(v[i], sizeof(v[i]), "%lld", nums[i]);
        p[i + 1] = v[i];
    }
    return store__query_blob(s, answer_sql, "mail answer", cb, arg, 7, p, env, len);
}

int store_mail_release(struct store *s, const char *tid, int64_t who, store_result_cb cb,
                       void *arg)
{
    return query_tid(s, release_sql, "mail release", tid, who, 0, 2, cb, arg);
}

int store_mail_handover(struct store *s, const char *tid, int64_t who, int64_t to,
                        store_result_cb cb, void *arg)
{
    return query_tid(s, handover_sql, "mail handover", tid, who, to, 3, cb, arg);
}

int store_mail_close(struct store *s, const char *tid, int64_t who, store_result_cb cb, void *arg)
{
    return query_tid(s, close_sql, "mail close", tid, who, 0, 2, cb, arg);
}

int store_mail_release_all(struct store *s, int64_t who, store_result_cb cb, void *arg)
{
    char w[24];
    snprintf(w, sizeof(w), "%lld", (long long)who);
    const char *p[1] = {w};
    return store__query(s, release_all_sql, "mail claims released", cb, arg, 1, p);
}

int store_mail_count_opened(struct store *s, const char *tid)
{
    const char *p[1] = {tid};
    return store__query(s, opened_sql, "mail opened", NULL, NULL, 1, p);
}
