/* it_crash.c — a crash loses no session row (SECURITY.md "What is stored").
 *
 * A session's row is written when the session starts (hello), updated when a
 * counsellor takes it and completed at its end. After kill -9 of lotsed in the
 * middle of a chat, the rows of the running chat and of a young person who
 * waited are in the database (open); the next start closes them as `crashed`,
 * today's counts in the supervisors' feed include them, and the hourly
 * statistics count a crashed row like any other. The hourly aggregate then
 * clears counsellor_id of every row it has counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

static char *wait_feed(struct client *sup, int timeout_ms, const char *needle)
{
    char *last = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        char *f = harness_next_raw(sup, "feed", 100);
        if (!f)
            continue;
        free(last);
        last = f;
        if (strstr(f, needle))
            return f;
    }
    fprintf(stderr, "no feed with %s; the last one:\n%s\n", needle, last ? last : "(none)");
    free(last);
    return NULL;
}

static void test_kill_9_mid_chat_rows_are_closed_as_crashed_and_counted_today(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young, *waiting;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &young), 0);
    harness_sleep_ms(1100); /* a wait of at least a second */
    assert_int_equal(client_take_and_key(anna, &cs, T), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(young, client_young_session(young), "hallo", 5), 0);
    assert_int_equal(client_recv_text(anna, NULL, got, sizeof got, T), 5);
    assert_int_equal(harness_young(h, "school", &waiting), 0);

    /* both rows are in the database while the sessions run */
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason IS NULL"
                                        " AND taken AND wait_seconds >= 1 AND topic = 'family'",
                                        1, T),
                     1);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason IS NULL"
                                        " AND NOT taken AND topic = 'school'",
                                        1, T),
                     1);

    assert_int_equal(kill(harness_pid(h), SIGKILL), 0);
    assert_int_equal(harness_wait_exit(h, T), 128 + SIGKILL);
    client_free(young);
    client_free(waiting);
    client_free(anna);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 2);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NULL"),
                     2);

    /* the next start on the same database closes them */
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason = "
                                        "'crashed'",
                                        2, T),
                     2);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sessions WHERE end_reason = 'crashed' AND topic = 'family'"
             " AND taken AND counsellor_id = %lld AND wait_seconds >= 1",
             (long long)harness_account(h, "anna")->id);
    assert_int_equal(harness_sql_long(h, sql), 1);
    assert_int_equal(harness_sql_long(h,
                                      "SELECT count(*) FROM sessions WHERE end_reason = 'crashed'"
                                      " AND topic = 'school' AND NOT taken"
                                      " AND counsellor_id IS NULL"),
                     1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NULL"),
                     0);
    assert_true(harness_log_count(h, "closed as crashed") >= 1);

    /* today's counts: both started, the chat ended, the waiting one abandoned */
    struct client *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    char *f = wait_feed(sue, 8000, "\"today\":{\"started\":2,\"ended\":1,\"abandoned\":1}");
    assert_non_null(f);
    free(f);
    /* a new session in this run is its own, not a crash */
    struct client *y2;
    assert_int_equal(harness_young(h, "family", &y2), 0);
    f = wait_feed(sue, 8000, "\"today\":{\"started\":3,\"ended\":1,\"abandoned\":1}");
    assert_non_null(f);
    free(f);
    assert_int_equal(client_young_end_reason(y2, "done"), 0);
    assert_int_equal(client_expect(y2, "ended", NULL, T), 0);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason = "
                                        "'abandoned'",
                                        1, T),
                     1);
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason = 'crashed'"), 2);
    client_free(y2);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void exec_ok(struct harness *h, const char *sql)
{
    PGresult *r = harness_exec(h, sql);
    assert_non_null(r);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* A row as an earlier run left it, started `hours` ago (first quarter). */
static void insert_row(struct harness *h, int hours, const char *end_reason, bool taken, int wait,
                       int duration)
{
    char sql[1024], reason[64];
    if (end_reason)
        snprintf(reason, sizeof reason, "'%s'", end_reason);
    else
        snprintf(reason, sizeof reason, "NULL");
    snprintf(sql, sizeof sql,
             "INSERT INTO sessions (topic, started_bucket, wait_seconds, duration_seconds,"
             " counsellor_id, end_reason, transfer_count, taken) VALUES ('family',"
             " date_trunc('hour', now() - interval '%d hours') + interval '15 minutes', %d, %d, %s,"
             " %s, 0, %s)",
             hours, wait, duration,
             taken ? "(SELECT id FROM accounts WHERE handle = 'anna')" : "NULL", reason,
             taken ? "true" : "false");
    exec_ok(h, sql);
}

static void test_hourly_aggregate_counts_crashed_rows_and_clears_counsellor_id(void **state)
{
    struct harness *h = *state;
    harness_set(h, "stats_interval", "10");
    /* three hours ago: a chat of 600 s after 30 s, one abandoned after 50 s,
     * and one that a crash left open after a wait of 70 s */
    insert_row(h, 3, "ended_by_young", true, 30, 600);
    insert_row(h, 3, "abandoned", false, 50, 0);
    insert_row(h, 3, NULL, true, 70, 0);
    /* this hour: not counted yet, so it still names its counsellor */
    exec_ok(h, "INSERT INTO sessions (topic, started_bucket, wait_seconds, duration_seconds,"
               " counsellor_id, end_reason, transfer_count, taken) VALUES ('family',"
               " date_trunc('hour', now()), 5, 60,"
               " (SELECT id FROM accounts WHERE handle = 'anna'), 'ended_by_young', 0, true)");
    assert_int_equal(harness_start(h), 0);

    const char *hour_row = "SELECT count(*) FROM stats_hourly WHERE topic = 'family'"
                           " AND hour = date_trunc('hour', now() - interval '3 hours')"
                           " AND sessions = 3 AND abandoned = 1 AND wait_p50 = 50 AND wait_p90 = 70"
                           " AND mean_duration = 600";
    long got = harness_wait_count(h, hour_row, 1, 10000);
    if (got != 1) {
        PGresult *r = harness_exec(h, "SELECT hour, sessions, abandoned, wait_p50, wait_p90,"
                                      " mean_duration FROM stats_hourly");
        for (int i = 0; r && i < PQntuples(r); i++)
            fprintf(stderr, "stats_hourly: %s %s %s %s %s %s\n", PQgetvalue(r, i, 0),
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        PQclear(r);
    }
    assert_int_equal(got, 1);
    assert_int_equal(harness_sql_long(h,
                                      "SELECT count(*) FROM sessions WHERE end_reason = 'crashed'"
                                      " AND taken AND wait_seconds = 70"),
                     1);
    /* counted, so no row of that hour names a counsellor any more */
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE counsellor_id IS NULL"
                                        " AND started_bucket < date_trunc('hour', now())",
                                        3, T),
                     3);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE taken"
                                         " AND started_bucket < date_trunc('hour', now())"),
                     2);
    /* the current hour's row keeps it until its hour is aggregated */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE counsellor_id IS NOT"
                                         " NULL AND started_bucket >= date_trunc('hour', now())"),
                     1);
    /* a second run of the aggregate gives the same figures without counsellor_id */
    harness_sleep_ms(10500);
    assert_int_equal(harness_sql_long(h, hour_row), 1);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kill_9_mid_chat_rows_are_closed_as_crashed_and_counted_today, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_hourly_aggregate_counts_crashed_rows_and_clears_counsellor_id, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
