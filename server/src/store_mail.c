/* store_mail.c — mail threads, their messages and the devices' mail keys
 * (PROTOCOL.md §9.4). Ids and keys go as hex text parameters, an envelope as a
 * binary one; every statement returns rows (the pipeline's queries expect
 * tuples). Times are hour buckets, expiry days; nothing is exact. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "lotse/mail.h"
#include "lotse/proto.h"

static const char mail_keys_sql[] =
    "SELECT c.cert, k.mail_pk, k.sig, o.org_cert FROM mail_keys k JOIN device_certs c"
    " ON c.device_pk = k.device_pk JOIN accounts a ON a.id = c.account_id"
    " JOIN organisations o ON o.id = a.org_id WHERE c.revoked_at IS NULL"
    " AND c.expires_at > now() AND o.revoked_at IS NULL ORDER BY c.id LIMIT 63";

static const char thread_create_sql[] =
    "INSERT INTO mail_threads (tid, lookup_hash, box_pk, sign_pk, topic, created_hour, last_day,"
    " org_id) VALUES (decode($1, 'hex'), decode($2, 'hex'), decode($3, 'hex'), decode($4, 'hex'),"
    " $5, date_trunc('hour', now()), current_date, nullif($6::integer, 0))"
    " ON CONFLICT DO NOTHING RETURNING 1";

#define THREAD_COLUMNS                                                                             \
    "SELECT tid, topic, state, n, bytes, box_pk, sign_pk, coalesce(answered_by, 0),"               \
    " coalesce(claimed_by, 0) FROM mail_threads"

static const char thread_by_lookup_sql[] = THREAD_COLUMNS " WHERE lookup_hash = decode($1, 'hex')";
static const char thread_by_tid_sql[] = THREAD_COLUMNS " WHERE tid = decode($1, 'hex')";

static const char messages_sql[] =
    "SELECT n, sender, envelope FROM mail_messages WHERE tid = decode($1, 'hex') ORDER BY n";

/* $1 tid, $2 n, $3 sender, $4 counsellor ('' for none), $5 thread messages,
 * $6 thread bytes, $7 store bytes, $8 envelope. mail_append (006_mail_store_cap.sql)
 * checks and writes in one transaction; the store total is a counter row it
 * updates only while the cap holds, so concurrent appends never pass it. */
static const char append_sql[] =
    "SELECT status, n FROM mail_append(decode($1, 'hex'), $2::int, $3::smallint,"
    " NULLIF($4, '')::int, $5::int, $6::int, $7::bigint, $8::bytea)";

static const char delete_sql[] =
    "WITH d AS (DELETE FROM mail_threads WHERE tid = decode($1, 'hex') RETURNING 1)"
    " SELECT count(*) FROM d";

static const char expire_sql[] =
    "WITH d AS (DELETE FROM mail_threads WHERE last_day < current_date - $1::int RETURNING 1)"
    " SELECT count(*) FROM d";

/* Lower hex of len bytes (len ≤ 32) into out (65 bytes). */
static const char *hex(char out[65], const uint8_t *bytes, size_t len)
{
    lotse_hex_encode(out, 65, bytes, len);
    return out;
}

int store_mail_keys(struct store *s, store_result_cb cb, void *arg)
{
    return store__query(s, mail_keys_sql, "mail keys", cb, arg, 0, NULL);
}

int store_mail_thread_create(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES],
                             const uint8_t lookup_hash[32], const uint8_t box_pk[32],
                             const uint8_t sign_pk[32], const char *topic, int org_id,
                             store_result_cb cb, void *arg)
{
    char t[65], l[65], b[65], g[65], o[16];
    snprintf(o, sizeof(o), "%d", org_id);
    const char *params[6] = {hex(t, tid, STORE_MAIL_TID_BYTES), hex(l, lookup_hash, 32),
                             hex(b, box_pk, 32), hex(g, sign_pk, 32), topic, o};
    int rc = store__query(s, thread_create_sql, "mail thread insert", cb, arg, 6, params);
    sodium_memzero(l, sizeof(l));
    return rc;
}

int store_mail_thread_by_lookup(struct store *s, const uint8_t lookup_hash[32], store_result_cb cb,
                                void *arg)
{
    char l[65];
    const char *params[1] = {hex(l, lookup_hash, 32)};
    int rc = store__query(s, thread_by_lookup_sql, "mail thread look-up", cb, arg, 1, params);
    sodium_memzero(l, sizeof(l));
    return rc;
}

int store_mail_thread_by_tid(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES],
                             store_result_cb cb, void *arg)
{
    char t[65];
    const char *params[1] = {hex(t, tid, STORE_MAIL_TID_BYTES)};
    return store__query(s, thread_by_tid_sql, "mail thread read", cb, arg, 1, params);
}

int store_mail_messages(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES],
                        store_result_cb cb, void *arg)
{
    char t[65];
    const char *params[1] = {hex(t, tid, STORE_MAIL_TID_BYTES)};
    return store__query(s, messages_sql, "mail messages read", cb, arg, 1, params);
}

int store_mail_append(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES], int n, int sender,
                      int64_t counsellor_id, const struct store_mail_limits *lim,
                      const uint8_t *envelope, size_t len, store_result_cb cb, void *arg)
{
    char t[65], ns[16], sd[8], cid[24] = "", mm[16], mb[16], sm[24];
    snprintf(ns, sizeof(ns), "%d", n);
    snprintf(sd, sizeof(sd), "%d", sender);
    if (sender == LOTSE_MAIL_FROM_COUNSELLOR)
        snprintf(cid, sizeof(cid), "%lld", (long long)counsellor_id);
    snprintf(mm, sizeof(mm), "%d", lim->thread_max_messages);
    snprintf(mb, sizeof(mb), "%d", lim->thread_max_bytes);
    snprintf(sm, sizeof(sm), "%lld", (long long)lim->store_max_bytes);
    const char *params[7] = {hex(t, tid, STORE_MAIL_TID_BYTES), ns, sd, cid, mm, mb, sm};
    return store__query_blob(s, append_sql, "mail message insert", cb, arg, 7, params, envelope,
                             len);
}

int store_mail_delete(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES], store_result_cb cb,
                      void *arg)
{
    char t[65];
    const char *params[1] = {hex(t, tid, STORE_MAIL_TID_BYTES)};
    return store__query(s, delete_sql, "mail thread delete", cb, arg, 1, params);
}

int store_mail_expire(struct store *s, int retention_days, store_result_cb cb, void *arg)
{
    char d[16];
    snprintf(d, sizeof(d), "%d", retention_days);
    const char *params[1] = {d};
    return store__query(s, expire_sql, "mail expiry", cb, arg, 1, params);
}

int store_result_bytea(const struct pg_result *res, int row, int col, uint8_t *out, size_t cap)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return -1;
    size_t len = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &len);
    if (!raw)
        return -1;
    int rc = -1;
    if (len <= cap && len <= INT32_MAX) {
        memcpy(out, raw, len);
        rc = (int)len;
    }
    sodium_memzero(raw, len);
    PQfreemem(raw);
    return rc;
}
