/* test_store.c — the non-blocking store on a real lws context (libev, as the
 * server runs it) against a real PostgreSQL: look-ups with and without a
 * certified device, unknown handles, session rows, the unreachable database,
 * the bounded write queue, a broken connection that is re-established without
 * losing writes, and the blocking flush for shutdown. */
#include <errno.h>
#include <fcntl.h>
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
#include "testdb.h"
#include "workers.h"

static char db_conninfo[512];
static uint8_t cert_bytes[LOTSE_CERT_BYTES];
static uint8_t device_pk[LOTSE_PK_BYTES];
static const char unreachable[] = "host=/tmp/lotse-no-such-dir port=1 user=lotse dbname=none";

/* ---- one lws context on a foreign libev loop, a pool and a store ---- */

struct env {
    struct ev_loop *loop;
    ev_timer tick;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct workers *w;
    struct store *s;
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

static void env_start(struct env *e, const char *conninfo, size_t max_queued)
{
    /* Filled at run time: store_lws_protocol is not a constant expression. The
     * table must outlive the vhost, hence static; the zero entry ends it. */
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
    assert_int_equal(store_create(&e->s, e->vh, e->w, conninfo, max_queued), 0);
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

static bool store_is_down(void *arg)
{
    return !store_is_up(arg);
}

static void env_stop(struct env *e)
{
    store_destroy(e->s);
    workers_destroy(e->w);
    e->w = NULL; /* the wake-up callback must not drain a destroyed pool */
    /* Let lws finish closing the store's socket before the context goes. */
    run_until(e, NULL, NULL, 30);
    lws_context_destroy(e->ctx);
    ev_loop_destroy(e->loop);
    current = NULL;
}

/* ---- look-up results ---- */

struct answer {
    bool called;
    int calls;
    int status;
    struct store_account acct;
};

static void on_account(void *arg, int status, const struct store_account *acct)
{
    struct answer *a = arg;
    a->called = true;
    a->calls++;
    a->status = status;
    if (acct)
        a->acct = *acct;
}

static bool answered(void *arg)
{
    return ((struct answer *)arg)->called;
}

/* ---- database fixtures ---- */

static PGconn *db_open(void)
{
    PGconn *db = PQconnectdb(db_conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    return db;
}

static void db_exec(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
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

static int group_setup(void **state)
{
    log_set_level(LOG_WARN);
    lws_set_log_level(LLL_ERR, NULL);
    if (testdb_create(db_conninfo, sizeof(db_conninfo), "store") != 0)
        return -1;
    PGconn *db = db_open();
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    if (migrations_apply(db) < 0)
        return -1;
    db_exec(db, "INSERT INTO accounts (handle, display_name, role, pw_hash, topics, capacity)"
                " VALUES ('anna', 'Anna K.', 'counsellor', '$argon2id$v=19$m=8,t=1,p=1$x$y',"
                " '{family,school}', 3),"
                " ('sam', 'Sam', 'supervisor', '$argon2id$fake', '{}', 1)");
    for (int i = 0; i < LOTSE_CERT_BYTES; i++)
        cert_bytes[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < LOTSE_PK_BYTES; i++)
        device_pk[i] = (uint8_t)(0xA0 + i);
    const char *values[2] = {(const char *)device_pk, (const char *)cert_bytes};
    const int lengths[2] = {LOTSE_PK_BYTES, LOTSE_CERT_BYTES};
    const int formats[2] = {1, 1};
    PGresult *r = PQexecParams(db,
                               "INSERT INTO device_certs (account_id, device_pk, cert, expires_at)"
                               " SELECT id, $1::bytea, $2::bytea, now() + interval '1 day'"
                               " FROM accounts WHERE handle = 'anna'",
                               2, NULL, values, lengths, formats, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(db);
    return 0;
}

static int group_teardown(void **state)
{
    testdb_drop(db_conninfo);
    return 0;
}

/* ---- tests ---- */

static void test_store_lookup_returns_account_with_certificate_of_certified_device(void **state)
{
    struct env e;
    env_start(&e, db_conninfo, 64);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    struct answer a = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", device_pk, on_account, &a), 0);
    assert_true(run_until(&e, answered, &a, 5000));
    assert_int_equal(a.status, 0);
    assert_true(a.acct.id > 0);
    assert_string_equal(a.acct.handle, "anna");
    assert_string_equal(a.acct.display_name, "Anna K.");
    assert_int_equal(a.acct.role, STORE_ROLE_COUNSELLOR);
    assert_string_equal(a.acct.pw_hash, "$argon2id$v=19$m=8,t=1,p=1$x$y");
    assert_int_equal(a.acct.topic_count, 2);
    assert_string_equal(a.acct.topics[0], "family");
    assert_string_equal(a.acct.topics[1], "school");
    assert_int_equal(a.acct.capacity, 3);
    assert_false(a.acct.disabled);
    assert_true(a.acct.has_cert);
    assert_memory_equal(a.acct.cert, cert_bytes, LOTSE_CERT_BYTES);
    env_stop(&e);
}

static void test_store_lookup_without_or_with_other_device_has_no_certificate(void **state)
{
    struct env e;
    env_start(&e, db_conninfo, 64);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    uint8_t other[LOTSE_PK_BYTES] = {1, 2, 3};
    struct answer none = {0}, wrong = {0}, sam = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", NULL, on_account, &none), 0);
    assert_int_equal(store_account_lookup(e.s, "anna", other, on_account, &wrong), 0);
    assert_int_equal(store_account_lookup(e.s, "sam", NULL, on_account, &sam), 0);
    assert_true(run_until(&e, answered, &sam, 5000));
    /* answered in the order asked */
    assert_true(none.called && wrong.called);
    assert_int_equal(none.status, 0);
    assert_false(none.acct.has_cert);
    assert_int_equal(wrong.status, 0);
    assert_false(wrong.acct.has_cert);
    assert_int_equal(sam.status, 0);
    assert_int_equal(sam.acct.role, STORE_ROLE_SUPERVISOR);
    assert_int_equal(sam.acct.topic_count, 0);
    env_stop(&e);
}

static void test_store_lookup_of_unknown_handle_is_enoent(void **state)
{
    struct env e;
    env_start(&e, db_conninfo, 64);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    struct answer a = {0}, longer = {0};
    assert_int_equal(store_account_lookup(e.s, "nobody", NULL, on_account, &a), 0);
    char huge[200];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(store_account_lookup(e.s, huge, NULL, on_account, &longer), 0);
    assert_false(longer.called); /* never from inside store_account_lookup */
    assert_true(run_until(&e, answered, &a, 5000));
    assert_true(run_until(&e, answered, &longer, 5000));
    assert_int_equal(a.status, -ENOENT);
    assert_int_equal(longer.status, -ENOENT);
    env_stop(&e);
}

static struct store_session_row make_row(const char *topic, int64_t counsellor)
{
    struct store_session_row row;
    memset(&row, 0, sizeof(row));
    store_row_id(row.id);
    row.taken = counsellor != 0;
    snprintf(row.topic, sizeof(row.topic), "%s", topic);
    row.started = 1700000000 - 1700000000 % 3600;
    row.wait_seconds = 42;
    row.duration_seconds = counsellor ? 600 : 0;
    row.counsellor_id = counsellor;
    snprintf(row.end_reason, sizeof(row.end_reason), "%s", counsellor ? "ended_by_young" : "abandoned");
    row.transfer_count = counsellor ? 1 : 0;
    return row;
}

static bool writes_done_at_least(void *arg)
{
    struct env *e = current;
    struct store_stats st;
    store_get_stats(e->s, &st);
    return st.writes_done >= *(uint64_t *)arg;
}

static void test_store_session_rows_are_inserted(void **state)
{
    struct env e;
    env_start(&e, db_conninfo, 64);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    struct answer a = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", NULL, on_account, &a), 0);
    assert_true(run_until(&e, answered, &a, 5000));
    struct store_session_row taken = make_row("inserted-taken", a.acct.id);
    struct store_session_row abandoned = make_row("inserted-abandoned", 0);
    assert_int_equal(store_session_ended(e.s, &taken), 0);
    assert_int_equal(store_session_ended(e.s, &abandoned), 0);
    uint64_t want = 2;
    assert_true(run_until(&e, writes_done_at_least, &want, 5000));
    struct store_stats st;
    store_get_stats(e.s, &st);
    assert_int_equal(st.writes_queued, 2);
    assert_int_equal(st.writes_dropped, 0);
    assert_int_equal(st.depth, 0);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'inserted-taken'"
                              " AND wait_seconds = 42 AND duration_seconds = 600"
                              " AND counsellor_id IS NOT NULL AND end_reason = 'ended_by_young'"
                              " AND transfer_count = 1"
                              " AND started_bucket = to_timestamp(1699999200)"),
                     1);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'inserted-abandoned'"
                              " AND counsellor_id IS NULL AND duration_seconds = 0"),
                     1);
    env_stop(&e);
}

static void test_store_unreachable_lookup_fails_enotconn_through_callback(void **state)
{
    struct env e;
    env_start(&e, unreachable, 8);
    struct answer a = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", NULL, on_account, &a), 0);
    assert_false(a.called); /* later, on the service thread */
    assert_true(run_until(&e, answered, &a, 5000));
    assert_int_equal(a.status, -ENOTCONN);
    assert_int_equal(a.calls, 1);
    /* let a connect attempt fail and be counted */
    struct store_stats st;
    run_until(&e, NULL, NULL, 300);
    store_get_stats(e.s, &st);
    assert_false(st.up);
    assert_true(st.errors >= 1);
    env_stop(&e);
}

static void test_store_unreachable_writes_queue_drop_oldest_and_reconnect_retries(void **state)
{
    struct env e;
    env_start(&e, unreachable, 3);
    struct store_session_row row = make_row("never", 0);
    assert_int_equal(store_session_ended(e.s, &row), 0);
    assert_int_equal(store_session_ended(e.s, &row), 0);
    assert_int_equal(store_session_ended(e.s, &row), 0);
    assert_int_equal(store_session_ended(e.s, &row), -EAGAIN);
    assert_int_equal(store_session_ended(e.s, &row), -EAGAIN);
    /* attempts at about 0, 0.5 and 1.5 s: the back-off retries on its own */
    run_until(&e, NULL, NULL, 1800);
    struct store_stats st;
    store_get_stats(e.s, &st);
    assert_false(st.up);
    assert_true(st.errors >= 3);
    assert_int_equal(st.writes_queued, 5);
    assert_int_equal(st.writes_dropped, 2);
    assert_int_equal(st.writes_done, 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(store_flush_blocking(e.s, 100), 3);
    env_stop(&e);
}

static void test_store_destroy_cancels_pending_lookups(void **state)
{
    struct env e;
    env_start(&e, unreachable, 8);
    struct answer a = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", NULL, on_account, &a), 0);
    store_destroy(e.s);
    e.s = NULL;
    assert_true(a.called);
    assert_int_equal(a.status, -ECANCELED);
    assert_int_equal(a.calls, 1);
    env_stop(&e);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

/* The server ends the connection: writes queued meanwhile survive, the store
 * reconnects by itself, and no descriptor is left behind. */
static void test_store_reconnects_after_connection_loss_without_losing_writes(void **state)
{
    int fds_before = open_fds();
    struct env e;
    env_start(&e, db_conninfo, 64);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    PGconn *db = db_open();
    db_exec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'lotsed' AND datname = current_database()");
    PQfinish(db);
    assert_true(run_until(&e, store_is_down, e.s, 5000));
    struct answer a = {0};
    assert_int_equal(store_account_lookup(e.s, "anna", NULL, on_account, &a), 0);
    struct store_session_row row = make_row("after-loss", 0);
    for (int i = 0; i < 3; i++) {
        store_row_id(row.id); /* three sessions, three rows */
        assert_int_equal(store_session_ended(e.s, &row), 0);
    }
    assert_true(run_until(&e, answered, &a, 5000));
    assert_int_equal(a.status, -ENOTCONN);
    uint64_t want = 3;
    assert_true(run_until(&e, writes_done_at_least, &want, 15000));
    assert_true(store_is_up(e.s));
    struct store_stats st;
    store_get_stats(e.s, &st);
    assert_int_equal(st.writes_dropped, 0);
    assert_true(st.errors >= 1);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'after-loss'"), 3);
    env_stop(&e);
    assert_int_equal(open_fds(), fds_before);
}

static void test_store_flush_blocking_writes_everything_queued(void **state)
{
    struct env e;
    env_start(&e, db_conninfo, 256);
    assert_true(run_until(&e, store_is_up, e.s, 10000));
    struct store_session_row row = make_row("flushed", 0);
    for (int i = 0; i < 100; i++) {
        store_row_id(row.id);
        assert_int_equal(store_session_ended(e.s, &row), 0);
    }
    assert_int_equal(store_flush_blocking(e.s, 10000), 0);
    struct store_stats st;
    store_get_stats(e.s, &st);
    assert_int_equal(st.writes_done, 100);
    assert_int_equal(db_count("SELECT count(*) FROM sessions WHERE topic = 'flushed'"), 100);
    env_stop(&e);
}

static void test_store_create_needs_the_protocol_on_the_vhost(void **state)
{
    static const struct lws_protocols only_dummy[] = {
        {"lotse-test", dummy_callback, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = only_dummy;
    struct lws_context *ctx = lws_create_context(&info);
    assert_non_null(ctx);
    struct workers *w = NULL;
    assert_int_equal(workers_create(&w, 1, 4, ctx), 0);
    struct store *s = NULL;
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    assert_non_null(vh);
    assert_int_equal(store_create(&s, vh, w, db_conninfo, 4), -EINVAL);
    assert_null(s);
    workers_destroy(w);
    lws_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_lookup_returns_account_with_certificate_of_certified_device),
        cmocka_unit_test(test_store_lookup_without_or_with_other_device_has_no_certificate),
        cmocka_unit_test(test_store_lookup_of_unknown_handle_is_enoent),
        cmocka_unit_test(test_store_session_rows_are_inserted),
        cmocka_unit_test(test_store_unreachable_lookup_fails_enotconn_through_callback),
        cmocka_unit_test(test_store_unreachable_writes_queue_drop_oldest_and_reconnect_retries),
        cmocka_unit_test(test_store_destroy_cancels_pending_lookups),
        cmocka_unit_test(test_store_reconnects_after_connection_loss_without_losing_writes),
        cmocka_unit_test(test_store_flush_blocking_writes_everything_queued),
        cmocka_unit_test(test_store_create_needs_the_protocol_on_the_vhost),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
