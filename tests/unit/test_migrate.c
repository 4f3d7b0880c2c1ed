/* test_migrate.c — migrations on a fresh database: all applied, a second run
 * applies nothing, concurrent migrators apply each migration once, and the
 * sessions table holds only the columns DESIGN.md allows. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "migrations.h"
#include "testdb.h"

static PGconn *connect_fresh(char *conninfo, size_t cap)
{
    assert_int_equal(testdb_create(conninfo, cap, "migrate"), 0);
    PGconn *db = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    return db;
}

static int latest_version(void)
{
    return migrations[migrations_count - 1].version;
}

static void test_migrate_applies_every_migration_to_a_fresh_database(void **state)
{
    char conninfo[512];
    PGconn *db = connect_fresh(conninfo, sizeof(conninfo));
    assert_true(migrations_count >= 1);
    assert_int_equal(migrations_current(db), 0);
    assert_int_equal(migrations_apply(db), migrations_count);
    assert_int_equal(migrations_current(db), latest_version());
    PGresult *r = PQexec(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema ="
                             " 'public' AND table_name IN ('accounts', 'device_certs', 'sessions',"
                             " 'audit_log', 'schema_migrations')");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "5");
    PQclear(r);
    PQfinish(db);
    testdb_drop(conninfo);
}

static void test_migrate_second_run_applies_nothing(void **state)
{
    char conninfo[512];
    PGconn *db = connect_fresh(conninfo, sizeof(conninfo));
    assert_int_equal(migrations_apply(db), migrations_count);
    assert_int_equal(migrations_apply(db), 0);
    assert_int_equal(migrations_current(db), latest_version());
    PGresult *r = PQexec(db, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(atoi(PQgetvalue(r, 0, 0)), migrations_count);
    PQclear(r);
    PQfinish(db);
    testdb_drop(conninfo);
}

struct racer {
    const char *conninfo;
    int applied;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    PGconn *db = PQconnectdb(r->conninfo);
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    r->applied = PQstatus(db) == CONNECTION_OK ? migrations_apply(db) : -2;
    PQfinish(db);
    return NULL;
}

static void test_migrate_concurrent_migrators_apply_each_migration_once(void **state)
{
    char conninfo[512];
    PGconn *db = connect_fresh(conninfo, sizeof(conninfo));
    struct racer racers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        racers[i].conninfo = conninfo;
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_true(racers[i].applied >= 0);
        total += racers[i].applied;
    }
    assert_int_equal(total, migrations_count);
    assert_int_equal(migrations_current(db), latest_version());
    PQfinish(db);
    testdb_drop(conninfo);
}

/* DESIGN.md: no IP, no content, no user agent, nothing linking two sessions. */
static void test_migrate_sessions_table_has_only_the_allowed_columns(void **state)
{
    char conninfo[512];
    PGconn *db = connect_fresh(conninfo, sizeof(conninfo));
    assert_int_equal(migrations_apply(db), migrations_count);
    PGresult *r = PQexec(db, "SELECT string_agg(column_name, ',' ORDER BY column_name)"
                             " FROM information_schema.columns WHERE table_schema = 'public'"
                             " AND table_name = 'sessions'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0),
                        "counsellor_id,duration_seconds,end_reason,escalated,id,org_id,started_bucket,"
                        "taken,topic,transfer_count,wait_seconds");
    PQclear(r);
    PQfinish(db);
    testdb_drop(conninfo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_applies_every_migration_to_a_fresh_database),
        cmocka_unit_test(test_migrate_second_run_applies_nothing),
        cmocka_unit_test(test_migrate_concurrent_migrators_apply_each_migration_once),
        cmocka_unit_test(test_migrate_sessions_table_has_only_the_allowed_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
