/* it_roles.c — deploy/sql/roles.sql: least privilege in PostgreSQL. lotse_stats
 * reads sessions and stats_hourly but not accounts, device certificates or the
 * audit log; lotse_server can do exactly what lotsed does (a real lotsed runs
 * as it here) and cannot change accounts or the schema; the script can be run
 * again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"
#include "store.h"

#define T 5000

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void apply_roles(struct harness *h)
{
    char *sql = read_file(LOTSE_SOURCE_DIR "/deploy/sql/roles.sql");
    PGresult *r = harness_exec(h, sql);
    assert_non_null(r);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "roles.sql: %s\n", PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    free(sql);
}

static PGconn *connect_as(struct harness *h, const char *role)
{
    char ci[1200];
    snprintf(ci, sizeof ci, "%s user=%s", harness_db_conninfo(h), role);
    PGconn *db = PQconnectdb(ci);
    if (PQstatus(db) != CONNECTION_OK)
        fprintf(stderr, "connect as %s: %s\n", role, PQerrorMessage(db));
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    return db;
}

/* Runs sql with up to two text parameters; returns the SQLSTATE ("" on success). */
static const char *run(PGconn *db, const char *sql, int n, const char *a, const char *b)
{
    static char state[8];
    const char *v[2] = {a, b};
    PGresult *r = PQexecParams(db, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s",
             st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : (s ? s : "?"));
    PQclear(r);
    return state;
}

#define DENIED "42501"

static void test_stats_role_reads_statistics_but_not_accounts(void **state)
{
    struct harness *h = *state;
    apply_roles(h);
    apply_roles(h); /* idempotent */
    PGconn *db = connect_as(h, "lotse_stats");
    assert_string_equal(run(db, "SELECT count(*) FROM stats_hourly", 0, NULL, NULL), "");
    assert_string_equal(run(db, "SELECT count(*) FROM sessions", 0, NULL, NULL), "");
    assert_string_equal(run(db, "SELECT handle FROM accounts", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "SELECT pw_hash FROM accounts", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "SELECT * FROM device_certs", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "SELECT * FROM audit_log", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "DELETE FROM sessions", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "INSERT INTO stats_hourly (hour, topic, sessions, abandoned,"
                                " wait_p50, wait_p90, mean_duration) VALUES (now(), 'x', 1, 0, 0, 0, 0)",
                            0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "CREATE TABLE evil (x int)", 0, NULL, NULL), DENIED);
    PQfinish(db);
    harness_pass(h);
}

static void test_server_role_does_what_lotsed_does_and_no_more(void **state)
{
    struct harness *h = *state;
    apply_roles(h);
    PGconn *db = connect_as(h, "lotse_server");
    assert_string_equal(run(db, "SELECT handle, pw_hash FROM accounts", 0, NULL, NULL), "");
    assert_string_equal(run(db, "SELECT cert FROM device_certs", 0, NULL, NULL), "");
    assert_string_equal(run(db, store_sql_aggregate, 2, "48", "90"), "");
    assert_string_equal(run(db, store_sql_purge, 2, "90", "730"), "");
    assert_string_equal(run(db, "UPDATE accounts SET disabled = true", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "INSERT INTO accounts (handle, display_name, role, pw_hash)"
                                " VALUES ('x', 'x', 'supervisor', 'x')", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "DELETE FROM device_certs", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "INSERT INTO audit_log (actor, action) VALUES ('x', 'y')", 0, NULL, NULL),
                        DENIED);
    assert_string_equal(run(db, "SELECT detail FROM audit_log", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "UPDATE sessions SET topic = 'x'", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "CREATE TABLE evil (x int)", 0, NULL, NULL), DENIED);
    assert_string_equal(run(db, "DROP TABLE sessions", 0, NULL, NULL), DENIED);
    PQfinish(db);
    db = connect_as(h, "lotse_owner");
    assert_string_equal(run(db, "CREATE TABLE owner_may (x int)", 0, NULL, NULL), "");
    PQfinish(db);

    /* a real lotsed as lotse_server: logins, session rows, today's counts */
    char ci[1200];
    snprintf(ci, sizeof ci, "%s user=lotse_server", harness_db_conninfo(h));
    harness_set(h, "db", ci);
    assert_int_equal(harness_start(h), 0);
    struct client *sue, *y;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(client_end(y, client_young_session(y)), 0);
    assert_int_equal(client_expect(y, "ended", NULL, T), 0);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 1, T), 1);
    client_free(y);
    client_free(sue);
    assert_int_equal(harness_log_count(h, "SQLSTATE"), 0);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_role_reads_statistics_but_not_accounts,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_server_role_does_what_lotsed_does_and_no_more,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
