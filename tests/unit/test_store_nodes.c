/* test_store_nodes.c — two stores (nodes "a" and "b") on one lws context against
 * a real PostgreSQL (store_nodes.h): the lease taken, refused while valid,
 * renewed, released and taken over with a NOTIFY that reaches the listening
 * node; fencing of directory writes of a node that lost the lease; a directory
 * round trip of every field; the crash sweep on taking the lease sparing the
 * rows live sessions name (and no start-up sweep in node mode); expiry; LISTEN
 * and queued directory writes after a reconnect; one bounded FIFO for directory
 * writes and session rows, the oldest of either kind dropped when full. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <ev.h>
#include <libpq-fe.h>
#include <libwebsockets.h>

#include "log.h"
#include "migrations.h"
#include "store.h"
#include "store_nodes.h"
#include "testdb.h"
#include "workers.h"

static char db_conninfo[512];

/* ---- one lws context on a foreign libev loop, a pool and two stores ---- */

struct env {
    struct ev_loop *loop;
    ev_timer tick;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct workers *w;
    struct store *a, *b;
};

static struct env *current; /* for the wake-up callback */

static int dummy_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && current && current->w)
        workers_drain(current->w);
    return 0;
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    ev_break(loop, EVBREAK_ONE);
}

static void env_start(struct env *e)
{
    static struct lws_protocols protocols[3];
    protocols[0] = (struct lws_protocols){"lotse-test", dummy_callback, 0, 0, 0, NULL, 0};
    protocols[1] = store_lws_protocol;
    memset(&protocols[2], 0, sizeof(protocols[2]));
    memset(e, 0, sizeof(*e));
    current = e;
    e->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(e->loop);
    void *loops[] = {e->loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    e->ctx = lws_create_context(&info);
    assert_non_null(e->ctx);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = "test";
    e->vh = lws_create_vhost(e->ctx, &info);
    assert_non_null(e->vh);
    assert_int_equal(workers_create(&e->w, 2, 16, e->ctx), 0);
    assert_int_equal(store_create(&e->a, e->vh, e->w, db_conninfo, 64), 0);
    store_set_node_mode(e->a, true);
    assert_int_equal(store_create(&e->b, e->vh, e->w, db_conninfo, 64), 0);
    store_set_node_mode(e->b, true);
}

/* Runs the loop in slices of 10 ms until cond(arg) or timeout_ms. */
static bool run_until(struct env *e, bool (*cond)(void *), void *arg, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (cond && cond(arg))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            return cond == NULL;
        ev_timer_init(&e->tick, tick_cb, 0.01, 0.);
        ev_timer_start(e->loop, &e->tick);
        ev_run(e->loop, EVRUN_ONCE);
        ev_timer_stop(e->loop, &e->tick);
    }
}

static bool store_is_up(void *arg)
{
    struct store_stats st;
    store_get_stats(arg, &st);
    return st.up;
}

/* Nothing waiting or in flight (a LISTEN, the writes). */
static bool store_is_idle(void *arg)
{
    struct store_stats st;
    store_get_stats(arg, &st);
    return st.up && st.depth == 0;
}

static void env_up(struct env *e)
{
    assert_true(run_until(e, store_is_up, e->a, 10000));
    assert_true(run_until(e, store_is_up, e->b, 10000));
}

static void env_stop(struct env *e)
{
    store_destroy(e->a);
    store_destroy(e->b);
    workers_destroy(e->w);
    e->w = NULL;
    run_until(e, NULL, NULL, 30);
    lws_context_destroy(e->ctx);
    ev_loop_destroy(e->loop);
    current = NULL;
}

/* ---- database fixtures ---- */

static PGconn *db_open(void)
{
    PGconn *db = PQconnectdb(db_conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    return db;
}

static void db_run(const char *sql)
{
    PGconn *db = db_open();
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(db);
}

static long db_count(const char *sql)
{
    PGconn *db = db_open();
    PGresult *r = PQexec(db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(db);
    return n;
}

/* Every test starts with nobody holding the lease and an empty directory. */
static int reset(void **state)
{
    db_run("UPDATE node_lease SET node = NULL, until = NULL;"
           " DELETE FROM live_sessions; DELETE FROM live_counsellors; DELETE FROM sessions");
    return 0;
}

/* The holder's lease runs out now (as if its node had died ttl seconds ago). */
static void expire_lease(void)
{
    db_run("UPDATE node_lease SET until = now() - interval '1 second'");
}

/* ---- lease answers ---- */

struct lease_answer {
    int calls;
    int status;
    bool held;
    char holder[STORE_NODE_NAME_MAX + 1];
};

static void on_lease(void *arg, int status, bool held, const char *holder)
{
    struct lease_answer *a = arg;
    a->calls++;
    a->status = status;
    a->held = held;
    snprintf(a->holder, sizeof(a->holder), "%s", holder ? holder : "(null)");
}

static bool lease_answered(void *arg)
{
    return ((struct lease_answer *)arg)->calls > 0;
}

/* One acquire (op 0), read (1) or release (2) of node on s, answered. */
static struct lease_answer lease(struct env *e, struct store *s, int op, const char *node, int ttl)
{
    struct lease_answer a = {0};
    int rc = op == 0   ? store_lease_acquire(s, node, ttl, on_lease, &a)
             : op == 1 ? store_lease_read(s, node, on_lease, &a)
                       : store_lease_release(s, node, on_lease, &a);
    assert_int_equal(rc, 0);
    assert_int_equal(a.calls, 0); /* never from inside the call */
    assert_true(run_until(e, lease_answered, &a, 5000));
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 0);
    return a;
}

static struct lease_answer acquire(struct env *e, struct store *s, const char *node, int ttl)
{
    return lease(e, s, 0, node, ttl);
}

static int wakeups_a, wakeups_b;

static void on_wake(void *arg)
{
    (*(int *)arg)++;
}

static bool woken(void *arg)
{
    return *(int *)arg > 0;
}

/* ---- directory rows ---- */

static struct store_dir_session full_session(uint8_t tag)
{
    struct store_dir_session r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < sizeof(r.sid); i++)
        r.sid[i] = (uint8_t)(tag + i);
    r.state = STORE_DIR_ACTIVE;
    r.topic = 3;
    r.enqueued_wall_ms = 1765100000123LL + tag;
    r.seq = 0xF000000000000007ULL; /* above INT64_MAX: stored as the same bits */
    r.picked_wall_ms = 1765100004567LL;
    r.started_wall = 1765100000;
    for (size_t i = 0; i < 32; i++) {
        r.resume_hash[i] = (uint8_t)(0x10 + i + tag);
        r.young_pk[i] = (uint8_t)(0x40 + i);
        r.counsellor_token_hash[i] = (uint8_t)(0x70 + i);
        r.keys_pk[i] = (uint8_t)(0x90 + i);
    }
    r.has_counsellor = true;
    r.has_keys = true;
    for (size_t i = 0; i < sizeof(r.keys_sig); i++)
        r.keys_sig[i] = (uint8_t)(0xB0 + i);
    for (size_t i = 0; i < sizeof(r.keys_cert); i++)
        r.keys_cert[i] = (uint8_t)(i * 3);
    r.keys_orgcert_len = LOTSE_ORGCERT_MIN_BYTES + 5;
    for (size_t i = 0; i < r.keys_orgcert_len; i++)
        r.keys_orgcert[i] = (uint8_t)(0xFF - i);
    store_row_id(r.row_id);
    r.transfers = 2;
    r.rekey_pending = true;
    r.transfer_to_id = 77;
    r.counsellor_left = true;
    r.same = true;
    r.route_kind = 2;
    r.route_any = true;
    r.route_count = 3;
    r.route_ids[0] = 4;
    r.route_ids[1] = 9;
    r.route_ids[2] = 12;
    r.lang = 5;
    r.org_id = 6;
    return r;
}

/* A waiting one: no counsellor, no keys, no route, no row. */
static struct store_dir_session bare_session(uint8_t tag)
{
    struct store_dir_session r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < sizeof(r.sid); i++)
        r.sid[i] = (uint8_t)(tag ^ i);
    r.state = STORE_DIR_WAITING;
    r.enqueued_wall_ms = 1765100000000LL;
    r.seq = 1;
    r.started_wall = 1765100000;
    for (size_t i = 0; i < 32; i++) {
        r.resume_hash[i] = (uint8_t)(tag + i);
        r.young_pk[i] = (uint8_t)(tag * 3 + i);
    }
    r.lang = -1;
    return r;
}

static struct store_dir_counsellor full_counsellor(uint8_t tag)
{
    struct store_dir_counsellor k;
    memset(&k, 0, sizeof(k));
    for (size_t i = 0; i < 32; i++)
        k.token_hash[i] = (uint8_t)(0x70 + i + tag);
    k.account_id = 4200000000LL + tag;
    snprintf(k.handle, sizeof(k.handle), "anna-%u", tag);
    snprintf(k.name, sizeof(k.name), "Anna Kühn %u", tag);
    k.topic_mask = 0x80000005u;
    k.org_id = 6;
    k.languages = 0x23;
    k.max_capacity = 3;
    k.capacity = 1;
    k.available = true;
    k.has_cert = true;
    for (size_t i = 0; i < sizeof(k.cert); i++)
        k.cert[i] = (uint8_t)(i * 7 + tag);
    k.orgcert_len = LOTSE_ORGCERT_MAX_BYTES;
    for (size_t i = 0; i < k.orgcert_len; i++)
        k.orgcert[i] = (uint8_t)(i + 1);
    return k;
}

struct load_answer {
    int calls;
    int status;
    size_t nk, ns;
    struct store_dir_counsellor ks[4];
    struct store_dir_session ss[4];
};

static void on_load(void *arg, int status, const struct store_dir_counsellor *ks, size_t nk,
                    const struct store_dir_session *ss, size_t ns)
{
    struct load_answer *a = arg;
    a->calls++;
    a->status = status;
    a->nk = nk;
    a->ns = ns;
    for (size_t i = 0; i < nk && i < 4; i++)
        a->ks[i] = ks[i];
    for (size_t i = 0; i < ns && i < 4; i++)
        a->ss[i] = ss[i];
}

static bool load_answered(void *arg)
{
    return ((struct load_answer *)arg)->calls > 0;
}

static void load(struct env *e, struct store *s, struct load_answer *a)
{
    memset(a, 0, sizeof(*a));
    assert_int_equal(store_dir_load(s, on_load, a), 0);
    assert_true(run_until(e, load_answered, a, 5000));
    assert_int_equal(a->calls, 1);
    assert_int_equal(a->status, 0);
}

/* ---- tests ---- */

static void test_lease_take_refuse_renew_release_and_take_over_with_notify(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    wakeups_a = wakeups_b = 0;
    store_nodes_listen(e.a, on_wake, &wakeups_a);
    store_nodes_listen(e.b, on_wake, &wakeups_b);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    assert_true(run_until(&e, store_is_idle, e.b, 5000));

    struct lease_answer r = acquire(&e, e.a, "a", 8);
    assert_true(r.held);
    assert_string_equal(r.holder, "a");
    /* a's take woke b (its own NOTIFY does not wake a) */
    assert_true(run_until(&e, woken, &wakeups_b, 5000));
    wakeups_b = 0;

    r = acquire(&e, e.b, "b", 8);
    assert_false(r.held);
    assert_string_equal(r.holder, "a");

    r = acquire(&e, e.a, "a", 8); /* a renewal */
    assert_true(r.held);
    assert_string_equal(r.holder, "a");
    r = lease(&e, e.b, 1, "b", 0);
    assert_false(r.held);
    assert_string_equal(r.holder, "a");

    r = lease(&e, e.a, 2, "a", 0); /* release */
    assert_false(r.held);
    assert_string_equal(r.holder, "");
    assert_true(run_until(&e, woken, &wakeups_b, 5000));
    r = lease(&e, e.a, 1, "a", 0);
    assert_false(r.held);
    assert_string_equal(r.holder, "");

    r = acquire(&e, e.b, "b", 8);
    assert_true(r.held);
    assert_string_equal(r.holder, "b");
    assert_true(run_until(&e, woken, &wakeups_a, 5000));
    assert_int_equal(wakeups_a, 1);
    r = lease(&e, e.a, 1, "a", 0);
    assert_false(r.held);
    assert_string_equal(r.holder, "b");
    /* a release by a node that does not hold it changes nothing */
    r = lease(&e, e.a, 2, "a", 0);
    assert_string_equal(r.holder, "b");
    r = acquire(&e, e.b, "b", 8);
    assert_true(r.held);
    assert_int_equal(db_count("SELECT count(*) FROM node_lease WHERE node = 'b'"), 1);

    /* bad names are refused before anything is queued */
    struct lease_answer none = {0};
    assert_int_equal(store_lease_acquire(e.a, "A", 8, on_lease, &none), -EINVAL);
    assert_int_equal(store_lease_acquire(e.a, "", 8, on_lease, &none), -EINVAL);
    assert_int_equal(store_lease_read(e.a, "abcdefghijklmnopq", on_lease, &none), -EINVAL);
    env_stop(&e);
}

static bool writes_done_at_least(void *arg)
{
    const uint64_t *want = arg;
    struct store_stats st;
    store_get_stats(current->a, &st);
    return st.writes_done >= *want;
}

static void test_writes_of_a_node_that_lost_the_lease_are_not_applied(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    assert_true(acquire(&e, e.a, "a", 8).held);
    struct store_dir_session x = full_session(1), y = full_session(2);
    struct store_dir_counsellor k = full_counsellor(1);
    assert_int_equal(store_dir_session_put(e.a, "a", &x), 0);
    assert_int_equal(store_dir_counsellor_put(e.a, "a", &k), 0);
    uint64_t want = 2;
    assert_true(run_until(&e, writes_done_at_least, &want, 5000));
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE node = 'a'"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM live_counsellors WHERE node = 'a'"), 1);

    /* a is presumed dead; b takes over: the rows become b's */
    expire_lease();
    struct lease_answer r = acquire(&e, e.b, "b", 8);
    assert_true(r.held);
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE node = 'b'"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM live_counsellors WHERE node = 'b'"), 1);

    /* a was alive after all (an outage): its queued writes arrive late */
    x.state = STORE_DIR_WAITING;
    assert_int_equal(store_dir_session_put(e.a, "a", &x), 0);
    assert_int_equal(store_dir_session_put(e.a, "a", &y), 0);
    assert_int_equal(store_dir_counsellor_del(e.a, "a", k.token_hash), 0);
    assert_int_equal(store_dir_session_del(e.a, "a", x.sid), 0);
    want = 6;
    assert_true(run_until(&e, writes_done_at_least, &want, 5000));
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE node = 'b' AND state = 2"),
                     1);
    assert_int_equal(db_count("SELECT count(*) FROM live_counsellors WHERE node = 'b'"), 1);
    /* and its renewal tells it who holds the lease now */
    r = acquire(&e, e.a, "a", 8);
    assert_false(r.held);
    assert_string_equal(r.holder, "b");
    /* b's own writes go through */
    assert_int_equal(store_dir_session_del(e.b, "b", x.sid), 0);
    assert_true(run_until(&e, store_is_idle, e.b, 5000));
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions"), 0);
    env_stop(&e);
}

static void test_directory_put_load_del_round_trip_of_every_field(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    assert_true(acquire(&e, e.a, "a", 8).held);
    struct store_dir_session s1 = full_session(1), s2 = bare_session(9);
    struct store_dir_counsellor k1 = full_counsellor(1), k2 = full_counsellor(2);
    k2.has_cert = false;
    memset(k2.cert, 0, sizeof(k2.cert));
    k2.orgcert_len = 0;
    memset(k2.orgcert, 0, sizeof(k2.orgcert));
    k2.available = false;
    s2.enqueued_wall_ms = s1.enqueued_wall_ms - 1000; /* loaded first: queue order */
    assert_int_equal(store_dir_session_put(e.a, "a", &s1), 0);
    assert_int_equal(store_dir_session_put(e.a, "a", &s2), 0);
    assert_int_equal(store_dir_counsellor_put(e.a, "a", &k1), 0);
    assert_int_equal(store_dir_counsellor_put(e.a, "a", &k2), 0);

    /* b loads what a wrote (the FIFO of a is before b's look-up: wait) */
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    struct load_answer l;
    load(&e, e.b, &l);
    assert_int_equal(l.nk, 2);
    assert_int_equal(l.ns, 2);
    /* every field, padding included: both sides start zeroed */
    assert_memory_equal(&l.ks[0], &k1, sizeof(k1));
    assert_memory_equal(&l.ks[1], &k2, sizeof(k2));
    assert_memory_equal(&l.ss[0], &s2, sizeof(s2));
    assert_memory_equal(&l.ss[1], &s1, sizeof(s1));

    /* an update replaces the row */
    s1.state = STORE_DIR_ASSIGNED;
    s1.has_keys = false;
    memset(s1.keys_pk, 0, sizeof(s1.keys_pk));
    memset(s1.keys_sig, 0, sizeof(s1.keys_sig));
    memset(s1.keys_cert, 0, sizeof(s1.keys_cert));
    memset(s1.keys_orgcert, 0, sizeof(s1.keys_orgcert));
    s1.keys_orgcert_len = 0;
    s1.route_count = 0;
    memset(s1.route_ids, 0, sizeof(s1.route_ids));
    assert_int_equal(store_dir_session_put(e.a, "a", &s1), 0);
    assert_int_equal(store_dir_counsellor_del(e.a, "a", k1.token_hash), 0);
    assert_int_equal(store_dir_session_del(e.a, "a", s2.sid), 0);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    load(&e, e.a, &l);
    assert_int_equal(l.nk, 1);
    assert_int_equal(l.ns, 1);
    assert_memory_equal(&l.ks[0], &k2, sizeof(k2));
    assert_memory_equal(&l.ss[0], &s1, sizeof(s1));

    /* empty directory */
    assert_int_equal(store_dir_counsellor_del(e.a, "a", k2.token_hash), 0);
    assert_int_equal(store_dir_session_del(e.a, "a", s1.sid), 0);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    load(&e, e.a, &l);
    assert_int_equal(l.nk, 0);
    assert_int_equal(l.ns, 0);
    struct store_stats st;
    store_get_stats(e.a, &st);
    assert_int_equal(st.writes_dropped, 0);
    assert_int_equal(st.writes_done, st.writes_queued);
    env_stop(&e);
}

static void insert_open_row(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sessions (id, topic, started_bucket, wait_seconds, duration_seconds,"
             " end_reason) VALUES ('%s', 'family', now(), 0, 0, NULL)",
             id);
    db_run(sql);
}

static long open_rows(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sessions WHERE id = '%s' AND end_reason IS NULL", id);
    return db_count(sql);
}

static void test_taking_the_lease_closes_open_rows_no_live_session_names(void **state)
{
    char before[STORE_ROW_ID_LEN + 1], live[STORE_ROW_ID_LEN + 1], orphan[STORE_ROW_ID_LEN + 1];
    store_row_id(before);
    insert_open_row(before);
    struct env e;
    env_start(&e);
    env_up(&e);
    /* node mode: no start-up sweep (a look-up after it would have run) */
    struct lease_answer r = lease(&e, e.a, 1, "a", 0);
    assert_false(r.held);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    assert_int_equal(open_rows(before), 1);

    /* a takes: the row of a run that died is closed */
    assert_true(acquire(&e, e.a, "a", 8).held);
    assert_int_equal(open_rows(before), 0);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE end_reason = 'crashed'"), 1);

    /* a serves two sessions; only one of them is in the directory yet */
    store_row_id(live);
    store_row_id(orphan);
    insert_open_row(live);
    insert_open_row(orphan);
    struct store_dir_session s = full_session(3);
    memcpy(s.row_id, live, sizeof(live));
    assert_int_equal(store_dir_session_put(e.a, "a", &s), 0);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    /* a renewal sweeps nothing */
    assert_true(acquire(&e, e.a, "a", 8).held);
    assert_int_equal(open_rows(live), 1);
    assert_int_equal(open_rows(orphan), 1);

    /* a dies; b takes over: the row b can continue stays open */
    expire_lease();
    assert_true(acquire(&e, e.b, "b", 8).held);
    assert_int_equal(open_rows(live), 1);
    assert_int_equal(open_rows(orphan), 0);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE end_reason = 'crashed'"), 2);
    env_stop(&e);
}

static void sleep_ms(struct env *e, int ms)
{
    run_until(e, NULL, NULL, ms);
}

static void test_an_expired_lease_is_taken_by_the_other_node(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    assert_true(acquire(&e, e.a, "a", 1).held);
    struct lease_answer r = acquire(&e, e.b, "b", 1);
    assert_false(r.held);
    assert_string_equal(r.holder, "a");
    sleep_ms(&e, 1300);
    /* ran out: nobody holds a valid lease, and b may take it */
    r = lease(&e, e.b, 1, "b", 0);
    assert_false(r.held);
    assert_string_equal(r.holder, "");
    r = acquire(&e, e.b, "b", 8);
    assert_true(r.held);
    assert_string_equal(r.holder, "b");
    r = acquire(&e, e.a, "a", 8);
    assert_false(r.held);
    assert_string_equal(r.holder, "b");
    /* a expired lease of the same node is renewed (an outage, nobody took it) */
    db_run("UPDATE node_lease SET until = now() - interval '5 seconds'");
    r = acquire(&e, e.b, "b", 8);
    assert_true(r.held);
    env_stop(&e);
}

static bool both_down(void *arg)
{
    struct env *e = arg;
    return !store_is_up(e->a) && !store_is_up(e->b);
}

static void test_listen_and_directory_writes_survive_a_reconnect(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    wakeups_a = wakeups_b = 0;
    store_nodes_listen(e.a, on_wake, &wakeups_a);
    store_nodes_listen(e.b, on_wake, &wakeups_b);
    assert_true(acquire(&e, e.a, "a", 8).held);
    db_run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
           " WHERE application_name = 'lotsed' AND datname = current_database()");
    assert_true(run_until(&e, both_down, &e, 5000));
    /* written while the database is away: kept in the FIFO */
    struct store_dir_session s = full_session(5);
    struct store_dir_counsellor k = full_counsellor(5);
    assert_int_equal(store_dir_session_put(e.a, "a", &s), 0);
    assert_int_equal(store_dir_counsellor_put(e.a, "a", &k), 0);
    struct lease_answer away = {0};
    assert_int_equal(store_lease_acquire(e.a, "a", 8, on_lease, &away), 0);
    assert_true(run_until(&e, lease_answered, &away, 5000));
    assert_int_equal(away.status, -ENOTCONN);
    env_up(&e);
    assert_true(run_until(&e, store_is_idle, e.a, 5000));
    assert_true(run_until(&e, store_is_idle, e.b, 5000));
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE node = 'a'"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM live_counsellors WHERE node = 'a'"), 1);
    /* both listen again on their new connections */
    assert_int_equal(lease(&e, e.a, 2, "a", 0).status, 0);
    assert_true(run_until(&e, woken, &wakeups_b, 5000));
    assert_true(acquire(&e, e.b, "b", 8).held);
    assert_true(run_until(&e, woken, &wakeups_a, 5000));
    env_stop(&e);
}

static bool store_is_down(void *arg)
{
    return !store_is_up(arg);
}

/* Directory writes and session rows share one bounded FIFO: when it is full the
 * oldest unsent write gives way, whichever kind it is, and the rest arrive. */
static void test_a_full_fifo_drops_the_oldest_write_of_either_kind(void **state)
{
    struct env e;
    env_start(&e);
    env_up(&e);
    struct store *c = NULL;
    assert_int_equal(store_create(&c, e.vh, e.w, db_conninfo, 3), 0);
    store_set_node_mode(c, true);
    assert_true(run_until(&e, store_is_up, c, 10000));
    assert_true(acquire(&e, c, "c", 30).held);
    db_run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
           " WHERE application_name = 'lotsed' AND datname = current_database()");
    assert_true(run_until(&e, store_is_down, c, 5000));
    struct store_dir_session s1 = bare_session(1), s2 = bare_session(2), s3 = bare_session(3);
    struct store_session_row first, second;
    memset(&first, 0, sizeof(first));
    store_row_id(first.id);
    snprintf(first.topic, sizeof(first.topic), "%s", "fifo-first");
    snprintf(first.end_reason, sizeof(first.end_reason), "%s", "abandoned");
    first.started = 1765100000 - 1765100000 % 3600;
    second = first;
    store_row_id(second.id);
    snprintf(second.topic, sizeof(second.topic), "%s", "fifo-second");
    assert_int_equal(store_dir_session_put(c, "c", &s1), 0);
    assert_int_equal(store_session_ended(c, &first), 0);
    assert_int_equal(store_dir_session_put(c, "c", &s2), 0);
    /* full: the directory row of s1 gives way, then the session row "first" */
    assert_int_equal(store_dir_session_put(c, "c", &s3), -EAGAIN);
    assert_int_equal(store_session_ended(c, &second), -EAGAIN);
    assert_true(run_until(&e, store_is_idle, c, 10000));
    struct store_stats st;
    store_get_stats(c, &st);
    assert_int_equal(st.writes_dropped, 2);
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE get_byte(sid, 0) = 1"), 0);
    assert_int_equal(db_count("SELECT count(*) FROM live_sessions WHERE get_byte(sid, 0) IN (2, 3)"
                              " AND node = 'c'"),
                     2);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'fifo-first'"), 0);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'fifo-second'"), 1);
    store_destroy(c);
    env_stop(&e);
}

static int group_setup(void **state)
{
    log_set_level(LOG_WARN);
    lws_set_log_level(LLL_ERR, NULL);
    if (testdb_create(db_conninfo, sizeof(db_conninfo), "store_nodes") != 0)
        return -1;
    PGconn *db = db_open();
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    int rc = migrations_apply(db);
    PQfinish(db);
    return rc < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    testdb_drop(db_conninfo);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lease_take_refuse_renew_release_and_take_over_with_notify,
                               reset),
        cmocka_unit_test_setup(test_writes_of_a_node_that_lost_the_lease_are_not_applied, reset),
        cmocka_unit_test_setup(test_directory_put_load_del_round_trip_of_every_field, reset),
        cmocka_unit_test_setup(test_taking_the_lease_closes_open_rows_no_live_session_names, reset),
        cmocka_unit_test_setup(test_an_expired_lease_is_taken_by_the_other_node, reset),
        cmocka_unit_test_setup(test_listen_and_directory_writes_survive_a_reconnect, reset),
        cmocka_unit_test_setup(test_a_full_fifo_drops_the_oldest_write_of_either_kind, reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
