/* store_nodes.c — the lease that makes one node the serving one, the directory
 * of its live sessions and counsellors, and the wake-up of the other node
 * (store_nodes.h, deploy/sql/010_nodes.sql).
 *
 * The lease statements are look-ups (answered -ENOTCONN while the database is
 * away). Directory writes are write-behind like the session rows (REQ_WRITE:
 * kept through an outage, the oldest gives way when the FIFO is full), and each
 * is fenced in SQL: it is applied only while node_lease.node is the writing
 * node, expired or not (after an outage the FIFO's writes may arrive before the
 * renewal). The fence locks the lease row FOR SHARE, so a write and a take
 * never interleave: a write that waited for a take sees the new holder.
 *
 * Whether a statement takes or renews is this store's belief (lease_held): a
 * node that restarts under the same name takes (sweep, NOTIFY) even though the
 * row still names it. */
#include "store_internal.h"
#include "store_nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

/* ---- the lease ---- */

/* Every lease statement returns one row: took (1: this node holds it now),
 * notified, closed (sessions rows closed as crashed), holder (NULL: nobody
 * holds a valid lease, or the statement's snapshot did not see who). The main
 * SELECT sees node_lease as it was before the statement: what the statement
 * itself set comes from t's RETURNING. */

/* $1 node, $2 ttl in seconds. Taking: the rows become ours, the open sessions
 * rows no live session names are closed (their node died with them), and the
 * other node is woken. The CTEs that depend on t see only whether t updated. */
static const char lease_take_sql[] =
    "WITH t AS (UPDATE node_lease SET node = $1::text,"
    " until = now() + $2::int * interval '1 second'"
    " WHERE id = 1 AND (node IS NULL OR node = $1::text OR until IS NULL OR until < now())"
    " RETURNING node),"
    " ls AS (UPDATE live_sessions SET node = $1::text WHERE EXISTS (SELECT 1 FROM t)"
    " AND node <> $1::text RETURNING 1),"
    " lc AS (UPDATE live_counsellors SET node = $1::text WHERE EXISTS (SELECT 1 FROM t)"
    " AND node <> $1::text RETURNING 1),"
    " c AS (UPDATE sessions SET end_reason = 'crashed' WHERE EXISTS (SELECT 1 FROM t)"
    " AND end_reason IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM live_sessions l WHERE l.row_id = sessions.id) RETURNING 1),"
    " n AS MATERIALIZED (SELECT pg_notify('lotse_nodes', '') FROM t)"
    " SELECT (SELECT count(*) FROM t)::int, (SELECT count(*) FROM n)::int,"
    " (SELECT count(*) FROM c)::int,"
    " coalesce((SELECT node FROM t), (SELECT node FROM node_lease WHERE id = 1 AND until > now()))";

/* Renewing: only while the row names this node (expired or not). */
static const char lease_renew_sql[] =
    "WITH t AS (UPDATE node_lease SET until = now() + $2::int * interval '1 second'"
    " WHERE id = 1 AND node = $1::text RETURNING node)"
    " SELECT (SELECT count(*) FROM t)::int, 0, 0,"
    " coalesce((SELECT node FROM t), (SELECT node FROM node_lease WHERE id = 1 AND until > now()))";

static const char lease_read_sql[] =
    "SELECT (node IS NOT DISTINCT FROM $1::text AND until > now())::int, 0, 0,"
    " CASE WHEN until > now() THEN node END FROM node_lease WHERE id = 1";

/* Giving up: only while this node holds it; the wake-up goes with the commit. */
static const char lease_release_sql[] =
    "WITH t AS (UPDATE node_lease SET node = NULL, until = NULL"
    " WHERE id = 1 AND node = $1::text RETURNING 1),"
    " n AS MATERIALIZED (SELECT pg_notify('lotse_nodes', '') FROM t)"
    " SELECT 0, (SELECT count(*) FROM n)::int, 0,"
    " (SELECT node FROM node_lease WHERE id = 1 AND until > now() AND node <> $1::text)";

enum lease_op { LEASE_ACQUIRE, LEASE_READ, LEASE_RELEASE };

struct lease_ctx {
    struct store *s;
    enum lease_op op;
    store_lease_cb cb;
    void *arg;
};

static bool node_name_ok(const char *node)
{
    size_t n = node ? strlen(node) : 0;
    if (n < 1 || n > STORE_NODE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((node[i] >= 'a' && node[i] <= 'z') || (node[i] >= '0' && node[i] <= '9')))
            return false;
    return true;
}

static void on_lease(void *arg, int status, const struct pg_result *res)
{
    struct lease_ctx *c = arg;
    bool held = false;
    char holder[STORE_NODE_NAME_MAX + 1] = "";
    if (status == 0 && store_result_rows(res) != 1)
        status = -EIO;
    if (status == 0) {
        /* The store is alive: a destroyed one answers -ECANCELED. */
        held = store_result_int(res, 0, 0) == 1;
        store__copy_text(holder, STORE_NODE_NAME_MAX, store_result_text(res, 0, 3));
        if (c->op == LEASE_ACQUIRE) {
            if (held && !c->s->lease_held) {
                int64_t closed = store_result_int(res, 0, 2);
                log_info("store: lease taken; %lld open session rows no live session names "
                         "closed as crashed",
                         (long long)closed);
            }
            c->s->lease_held = held;
        }
    }
    if (c->cb)
        c->cb(c->arg, status, held, holder);
    mem_free(c);
}

static int lease_query(struct store *s, enum lease_op op, const char *sql, const char *what,
                       const char *node, int ttl_s, store_lease_cb cb, void *arg)
{
    if (!s || !node_name_ok(node) || (op == LEASE_ACQUIRE && ttl_s <= 0))
        return -EINVAL;
    struct lease_ctx *c = mem_calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->s = s;
    c->op = op;
    c->cb = cb;
    c->arg = arg;
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *params[2] = {node, ttl};
    int rc = store__query(s, sql, what, on_lease, c, op == LEASE_ACQUIRE ? 2 : 1, params);
    if (rc < 0)
        mem_free(c);
    return rc;
}

int store_lease_acquire(struct store *s, const char *node, int ttl_s, store_lease_cb cb, void *arg)
{
    bool take = s && !s->lease_held;
    return lease_query(s, LEASE_ACQUIRE, take ? lease_take_sql : lease_renew_sql,
                       take ? "lease take" : "lease renewal", node, ttl_s, cb, arg);
}

int store_lease_read(struct store *s, const char *node, store_lease_cb cb, void *arg)
{
    return lease_query(s, LEASE_READ, lease_read_sql, "lease read", node, 0, cb, arg);
}

int store_lease_release(struct store *s, const char *node, store_lease_cb cb, void *arg)
{
    int rc = lease_query(s, LEASE_RELEASE, lease_release_sql, "lease release", node, 0, cb, arg);
    if (rc == 0)
        s->lease_held = false; /* the next acquire takes (sweep, NOTIFY) */
    return rc;
}

/* ---- LISTEN/NOTIFY ---- */

void store_nodes_listen(struct store *s, void (*cb)(void *arg), void *arg)
{
    if (!s)
        return;
    bool first = !s->listen_cb;
    s->listen_cb = cb;
    s->listen_arg = arg;
    /* Up already: listen now; otherwise the connect does. */
    if (first && cb)
        store__listen_queue(s);
}

/* ---- directory writes ---- */

/* The lease row, locked against a concurrent take; $2 is the writing node. */
#define FENCE "EXISTS (SELECT 1 FROM node_lease WHERE id = 1 AND node = $2::text FOR SHARE)"

static const char session_put_sql[] =
    "INSERT INTO live_sessions (sid, node, state, topic, enqueued_wall_ms, seq, picked_wall_ms,"
    " started_wall, resume_hash, young_pk, counsellor_token_hash, keys_pk, keys_sig, keys_cert,"
    " keys_orgcert, row_id, transfers, rekey_pending, transfer_to_id, counsellor_left, same,"
    " route_kind, route_any, route_ids, lang, org_id, updated_at)"
    " SELECT $1::bytea, $2::text, $3::smallint, $4::int, $5::bigint, $6::bigint, $7::bigint,"
    " $8::bigint, $9::bytea, $10::bytea, $11::bytea, $12::bytea, $13::bytea, $14::bytea,"
    " $15::bytea, NULLIF($16::text, '')::uuid, $17::int, $18::boolean, $19::bigint,"
    " $20::boolean, $21::boolean, $22::smallint, $23::boolean, $24::int[], $25::int, $26::int,"
    " now() WHERE " FENCE
    " ON CONFLICT (sid) DO UPDATE SET node = EXCLUDED.node, state = EXCLUDED.state,"
    " topic = EXCLUDED.topic, enqueued_wall_ms = EXCLUDED.enqueued_wall_ms, seq = EXCLUDED.seq,"
    " picked_wall_ms = EXCLUDED.picked_wall_ms, started_wall = EXCLUDED.started_wall,"
    " resume_hash = EXCLUDED.resume_hash, young_pk = EXCLUDED.young_pk,"
    " counsellor_token_hash = EXCLUDED.counsellor_token_hash, keys_pk = EXCLUDED.keys_pk,"
    " keys_sig = EXCLUDED.keys_sig, keys_cert = EXCLUDED.keys_cert,"
    " keys_orgcert = EXCLUDED.keys_orgcert, row_id = EXCLUDED.row_id,"
    " transfers = EXCLUDED.transfers, rekey_pending = EXCLUDED.rekey_pending,"
    " transfer_to_id = EXCLUDED.transfer_to_id, counsellor_left = EXCLUDED.counsellor_left,"
    " same = EXCLUDED.same, route_kind = EXCLUDED.route_kind, route_any = EXCLUDED.route_any,"
    " route_ids = EXCLUDED.route_ids, lang = EXCLUDED.lang, org_id = EXCLUDED.org_id,"
    " updated_at = EXCLUDED.updated_at";

static const char session_del_sql[] = "DELETE FROM live_sessions WHERE sid = $1::bytea AND " FENCE;

static const char counsellor_put_sql[] =
    "INSERT INTO live_counsellors (token_hash, node, account_id, handle, name, topic_mask, org_id,"
    " languages, max_capacity, capacity, available, has_cert, cert, orgcert, updated_at)"
    " SELECT $1::bytea, $2::text, $3::bigint, $4::text, $5::text, $6::bigint, $7::int,"
    " $8::smallint, $9::int, $10::int, $11::boolean, $12::boolean, $13::bytea, $14::bytea, now()"
    " WHERE " FENCE " ON CONFLICT (token_hash) DO UPDATE SET node = EXCLUDED.node,"
    " account_id = EXCLUDED.account_id, handle = EXCLUDED.handle, name = EXCLUDED.name,"
    " topic_mask = EXCLUDED.topic_mask, org_id = EXCLUDED.org_id,"
    " languages = EXCLUDED.languages, max_capacity = EXCLUDED.max_capacity,"
    " capacity = EXCLUDED.capacity, available = EXCLUDED.available,"
    " has_cert = EXCLUDED.has_cert, cert = EXCLUDED.cert, orgcert = EXCLUDED.orgcert,"
    " updated_at = EXCLUDED.updated_at";

static const char counsellor_del_sql[] =
    "DELETE FROM live_counsellors WHERE token_hash = $1::bytea AND " FENCE;

/* The parameters of one write, numbers formatted in place; store__write
 * copies them. */
struct params {
    int n;
    const char *v[STORE_WRITE_PARAMS];
    int len[STORE_WRITE_PARAMS];
    int fmt[STORE_WRITE_PARAMS];
    char num[STORE_WRITE_PARAMS][24];
};

static void p_text(struct params *p, const char *t)
{
    p->v[p->n] = t;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void p_int(struct params *p, long long x)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", x);
    p_text(p, p->num[p->n]);
}

static void p_bool(struct params *p, bool b)
{
    p_text(p, b ? "true" : "false");
}

static void p_bytes(struct params *p, const uint8_t *b, size_t len)
{
    p->v[p->n] = (const char *)b;
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

static void p_null(struct params *p)
{
    p_text(p, NULL);
}

static int write_params(struct store *s, const char *sql, const char *what, const struct params *p)
{
    return store__write(s, sql, what, p->n, p->v, p->len, p->fmt);
}

int store_dir_session_put(struct store *s, const char *node, const struct store_dir_session *row)
{
    if (!s || !row || !node_name_ok(node))
        return -EINVAL;
    struct params p = {0};
    char row_id[STORE_ROW_ID_LEN + 1];
    memcpy(row_id, row->row_id, STORE_ROW_ID_LEN);
    row_id[STORE_ROW_ID_LEN] = '\0';
    char ids[STORE_DIR_ROUTE_MAX * 12 + 3];
    size_t used = 0;
    int count = row->route_count < 0                     ? 0
                : row->route_count > STORE_DIR_ROUTE_MAX ? STORE_DIR_ROUTE_MAX
                                                         : row->route_count;
    ids[used++] = '{';
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%d", i ? "," : "",
                                 row->route_ids[i]);
    snprintf(ids + used, sizeof(ids) - used, "}");

    p_bytes(&p, row->sid, LOTSE_SID_BYTES);
    p_text(&p, node);
    p_int(&p, row->state);
    p_int(&p, row->topic);
    p_int(&p, row->enqueued_wall_ms);
    p_int(&p, (long long)(int64_t)row->seq); /* bigint: the bits come back unchanged */
    p_int(&p, row->picked_wall_ms);
    p_int(&p, row->started_wall);
    p_bytes(&p, row->resume_hash, sizeof(row->resume_hash));
    p_bytes(&p, row->young_pk, sizeof(row->young_pk));
    if (row->has_counsellor)
        p_bytes(&p, row->counsellor_token_hash, sizeof(row->counsellor_token_hash));
    else
        p_null(&p);
    if (row->has_keys) {
        p_bytes(&p, row->keys_pk, sizeof(row->keys_pk));
        p_bytes(&p, row->keys_sig, sizeof(row->keys_sig));
        p_bytes(&p, row->keys_cert, sizeof(row->keys_cert));
        size_t olen = row->keys_orgcert_len > LOTSE_ORGCERT_MAX_BYTES ? LOTSE_ORGCERT_MAX_BYTES
                                                                      : row->keys_orgcert_len;
        if (olen)
            p_bytes(&p, row->keys_orgcert, olen);
        else
            p_null(&p);
    } else {
        for (int i = 0; i < 4; i++)
            p_null(&p);
    }
    p_text(&p, row_id);
    p_int(&p, row->transfers);
    p_bool(&p, row->rekey_pending);
    p_int(&p, row->transfer_to_id);
    p_bool(&p, row->counsellor_left);
    p_bool(&p, row->same);
    p_int(&p, row->route_kind);
    p_bool(&p, row->route_any);
    p_text(&p, ids);
    p_int(&p, row->lang);
    p_int(&p, row->org_id);
    return write_params(s, session_put_sql, "live session write", &p);
}

int store_dir_session_del(struct store *s, const char *node, const uint8_t sid[LOTSE_SID_BYTES])
{
    if (!s || !sid || !node_name_ok(node))
        return -EINVAL;
    struct params p = {0};
    p_bytes(&p, sid, LOTSE_SID_BYTES);
    p_text(&p, node);
    return write_params(s, session_del_sql, "live session delete", &p);
}

int store_dir_counsellor_put(struct store *s, const char *node,
                             const struct store_dir_counsellor *k)
{
    if (!s || !k || !node_name_ok(node))
        return -EINVAL;
    struct params p = {0};
    char handle[STORE_MAX_HANDLE + 1], name[STORE_MAX_HANDLE + 1];
    memcpy(handle, k->handle, STORE_MAX_HANDLE);
    handle[STORE_MAX_HANDLE] = '\0';
    memcpy(name, k->name, STORE_MAX_HANDLE);
    name[STORE_MAX_HANDLE] = '\0';
    p_bytes(&p, k->token_hash, sizeof(k->token_hash));
    p_text(&p, node);
    p_int(&p, k->account_id);
    p_text(&p, handle);
    p_text(&p, name);
    p_int(&p, k->topic_mask);
    p_int(&p, k->org_id);
    p_int(&p, k->languages);
    p_int(&p, k->max_capacity);
    p_int(&p, k->capacity);
    p_bool(&p, k->available);
    p_bool(&p, k->has_cert);
    if (k->has_cert)
        p_bytes(&p, k->cert, sizeof(k->cert));
    else
        p_null(&p);
    size_t olen =
        k->orgcert_len > LOTSE_ORGCERT_MAX_BYTES ? LOTSE_ORGCERT_MAX_BYTES : k->orgcert_len;
    if (olen)
        p_bytes(&p, k->orgcert, olen);
    else
        p_null(&p);
    return write_params(s, counsellor_put_sql, "live counsellor write", &p);
}

int store_dir_counsellor_del(struct store *s, const char *node, const uint8_t token_hash[32])
{
    if (!s || !token_hash || !node_name_ok(node))
        return -EINVAL;
    struct params p = {0};
    p_bytes(&p, token_hash, 32);
    p_text(&p, node);
    return write_params(s, counsellor_del_sql, "live counsellor delete", &p);
}

/* ---- loading the directory ---- */

static const char load_counsellors_sql[] =
    "SELECT token_hash, account_id, handle, name, topic_mask, org_id, languages, max_capacity,"
    " capacity, available, has_cert, cert, orgcert FROM live_counsellors ORDER BY account_id,"
    " token_hash";

/* In queue order: adoption puts the waiting ones back at their places. */
static const char load_sessions_sql[] =
    "SELECT sid, state, topic, enqueued_wall_ms, seq, picked_wall_ms, started_wall, resume_hash,"
    " young_pk, counsellor_token_hash, keys_pk, keys_sig, keys_cert, keys_orgcert,"
    " coalesce(row_id::text, ''), transfers, rekey_pending, transfer_to_id, counsellor_left,"
    " same, route_kind, route_any, route_ids, lang, org_id FROM live_sessions"
    " ORDER BY enqueued_wall_ms, seq, sid";

struct load_ctx {
    struct store *s;
    store_dir_load_cb cb;
    void *arg;
    struct store_dir_counsellor *ks;
    size_t nk;
};

static bool col_bool(const struct pg_result *res, int row, int col)
{
    return strcmp(store_result_text(res, row, col), "t") == 0;
}

/* A bytea column of exactly len bytes into out; false when NULL or otherwise. */
static bool col_exact(const struct pg_result *res, int row, int col, uint8_t *out, size_t len)
{
    return store_result_bytea(res, row, col, out, len) == (int)len;
}

/* "{1,2,3}" into ids; the count, at most STORE_DIR_ROUTE_MAX. */
static int parse_ids(const char *text, int *ids)
{
    int n = 0;
    const char *p = text;
    while (*p && n < STORE_DIR_ROUTE_MAX) {
        while (*p && (*p == '{' || *p == ',' || *p == ' '))
            p++;
        if (!*p || *p == '}')
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        ids[n++] = (int)v;
        p = end;
    }
    return n;
}

static int parse_counsellors(const struct pg_result *res, struct store_dir_counsellor **out,
                             size_t *n)
{
    int rows = store_result_rows(res);
    *out = NULL;
    *n = 0;
    if (rows <= 0)
        return 0;
    struct store_dir_counsellor *ks = mem_calloc((size_t)rows, sizeof(*ks));
    if (!ks)
        return -ENOMEM;
    size_t m = 0;
    for (int i = 0; i < rows; i++) {
        struct store_dir_counsellor *k = &ks[m];
        if (!col_exact(res, i, 0, k->token_hash, sizeof(k->token_hash)))
            continue; /* the table's check keeps this from happening */
        k->account_id = store_result_int(res, i, 1);
        store__copy_text(k->handle, STORE_MAX_HANDLE, store_result_text(res, i, 2));
        store__copy_text(k->name, STORE_MAX_HANDLE, store_result_text(res, i, 3));
        k->topic_mask = (uint32_t)store_result_int(res, i, 4);
        k->org_id = (int)store_result_int(res, i, 5);
        k->languages = (uint8_t)store_result_int(res, i, 6);
        k->max_capacity = (int)store_result_int(res, i, 7);
        k->capacity = (int)store_result_int(res, i, 8);
        k->available = col_bool(res, i, 9);
        k->has_cert = col_bool(res, i, 10) && col_exact(res, i, 11, k->cert, sizeof(k->cert));
        int olen = store_result_bytea(res, i, 12, k->orgcert, sizeof(k->orgcert));
        k->orgcert_len = (uint8_t)(olen > 0 ? olen : 0);
        m++;
    }
    *out = ks;
    *n = m;
    return 0;
}

static int parse_sessions(const struct pg_result *res, struct store_dir_session **out, size_t *n)
{
    int rows = store_result_rows(res);
    *out = NULL;
    *n = 0;
    if (rows <= 0)
        return 0;
    struct store_dir_session *ss = mem_calloc((size_t)rows, sizeof(*ss));
    if (!ss)
        return -ENOMEM;
    size_t m = 0;
    for (int i = 0; i < rows; i++) {
        struct store_dir_session *r = &ss[m];
        if (!col_exact(res, i, 0, r->sid, sizeof(r->sid)) ||
            !col_exact(res, i, 7, r->resume_hash, sizeof(r->resume_hash)) ||
            !col_exact(res, i, 8, r->young_pk, sizeof(r->young_pk)))
            continue; /* the table's checks keep this from happening */
        r->state = (int)store_result_int(res, i, 1);
        r->topic = (int)store_result_int(res, i, 2);
        r->enqueued_wall_ms = store_result_int(res, i, 3);
        r->seq = (uint64_t)store_result_int(res, i, 4);
        r->picked_wall_ms = store_result_int(res, i, 5);
        r->started_wall = store_result_int(res, i, 6);
        r->has_counsellor =
            col_exact(res, i, 9, r->counsellor_token_hash, sizeof(r->counsellor_token_hash));
        r->has_keys = col_exact(res, i, 10, r->keys_pk, sizeof(r->keys_pk)) &&
                      col_exact(res, i, 11, r->keys_sig, sizeof(r->keys_sig)) &&
                      col_exact(res, i, 12, r->keys_cert, sizeof(r->keys_cert));
        int olen = r->has_keys
                       ? store_result_bytea(res, i, 13, r->keys_orgcert, sizeof(r->keys_orgcert))
                       : -1;
        r->keys_orgcert_len = (uint8_t)(olen > 0 ? olen : 0);
        store__copy_text(r->row_id, STORE_ROW_ID_LEN, store_result_text(res, i, 14));
        r->transfers = (int)store_result_int(res, i, 15);
        r->rekey_pending = col_bool(res, i, 16);
        r->transfer_to_id = store_result_int(res, i, 17);
        r->counsellor_left = col_bool(res, i, 18);
        r->same = col_bool(res, i, 19);
        r->route_kind = (int)store_result_int(res, i, 20);
        r->route_any = col_bool(res, i, 21);
        r->route_count = parse_ids(store_result_text(res, i, 22), r->route_ids);
        r->lang = (int)store_result_int(res, i, 23);
        r->org_id = (int)store_result_int(res, i, 24);
        m++;
    }
    *out = ss;
    *n = m;
    return 0;
}

static void load_done(struct load_ctx *c, int status, const struct store_dir_session *ss, size_t ns)
{
    if (status != 0)
        c->cb(c->arg, status, NULL, 0, NULL, 0);
    else
        c->cb(c->arg, 0, c->ks, c->nk, ss, ns);
    /* The rows hold public keys and hashes only, but no reason to leave them. */
    if (c->ks)
        mem_free_secret(c->ks, c->nk * sizeof(*c->ks));
    mem_free(c);
}

static void on_sessions(void *arg, int status, const struct pg_result *res)
{
    struct load_ctx *c = arg;
    struct store_dir_session *ss = NULL;
    size_t ns = 0;
    if (status == 0)
        status = parse_sessions(res, &ss, &ns);
    load_done(c, status, ss, ns);
    if (ss)
        mem_free_secret(ss, ns * sizeof(*ss));
}

static void on_counsellors(void *arg, int status, const struct pg_result *res)
{
    struct load_ctx *c = arg;
    if (status == 0)
        status = parse_counsellors(res, &c->ks, &c->nk);
    if (status == 0) {
        /* Sessions second: the FIFO keeps the order, and nobody else writes
         * once the lease is ours. */
        status =
            store__query(c->s, load_sessions_sql, "live sessions read", on_sessions, c, 0, NULL);
        if (status == 0)
            return;
    }
    load_done(c, status, NULL, 0);
}

int store_dir_load(struct store *s, store_dir_load_cb cb, void *arg)
{
    if (!s || !cb)
        return -EINVAL;
    struct load_ctx *c = mem_calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->s = s;
    c->cb = cb;
    c->arg = arg;
    int rc =
        store__query(s, load_counsellors_sql, "live counsellors read", on_counsellors, c, 0, NULL);
    if (rc < 0)
        mem_free(c);
    return rc;
}
