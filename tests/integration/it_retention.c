/* it_retention.c — retention and statistics: old session rows are purged by
 * `lotsectl purge` (with a dry run first) and by lotsed itself, the hourly
 * aggregates of the purged hours survive with the right numbers, old audit
 * rows go, and supervisors read daily statistics over GET /stats with their
 * stats token. */
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

#define T 5000

/* Inserts a session row started `ago` (an SQL interval) before now, in the
 * first quarter of that hour. taken: anna took it. */
static void insert_row(struct harness *h, const char *ago, const char *topic, int wait, int duration,
                       bool taken)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO sessions (topic, started_bucket, wait_seconds, duration_seconds,"
             " counsellor_id, end_reason, transfer_count, taken) VALUES ('%s',"
             " date_trunc('hour', now() - interval '%s') + interval '15 minutes', %d, %d, %s, '%s', 0,"
             " %s)",
             topic, ago, wait, duration,
             taken ? "(SELECT id FROM accounts WHERE handle = 'anna')" : "NULL",
             taken ? "ended_by_counsellor" : "abandoned", taken ? "true" : "false");
    PGresult *r = harness_exec(h, sql);
    assert_non_null(r);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static void exec_ok(struct harness *h, const char *sql)
{
    PGresult *r = harness_exec(h, sql);
    assert_non_null(r);
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
}

static void test_lotsectl_purge_dry_run_then_purge_keeps_the_aggregates(void **state)
{
    struct harness *h = *state;
    insert_row(h, "100 days", "family", 30, 600, true);
    insert_row(h, "100 days", "family", 90, 1200, true);
    insert_row(h, "100 days", "family", 200, 0, false);
    insert_row(h, "10 days", "family", 10, 100, true);
    insert_row(h, "10 days", "school", 20, 0, false);
    exec_ok(h, "INSERT INTO audit_log (at, actor, action, detail)"
               " VALUES (now() - interval '800 days', 'test', 'old-thing', '')");
    long audit_before = harness_sql_long(h, "SELECT count(*) FROM audit_log");

    char out[4096];
    const char *dry[] = {"purge", "--dry-run", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, dry), 0);
    assert_non_null(strstr(out, "sessions 3 audit 1"));
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 5);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM stats_hourly"), 0);

    const char *purge[] = {"purge", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, purge), 0);
    assert_non_null(strstr(out, "sessions 3 audit 1"));
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 2);
    assert_int_equal(harness_sql_long(h,
        "SELECT count(*) FROM sessions WHERE started_bucket < now() - interval '90 days'"), 0);
    /* the hour of the purged rows: 3 sessions, 1 abandoned, waits 30/90/200, 600+1200 s talked */
    assert_int_equal(harness_sql_long(h,
        "SELECT count(*) FROM stats_hourly WHERE topic = 'family' AND sessions = 3 AND abandoned = 1"
        " AND escalated = 0 AND wait_p50 = 90 AND wait_p90 = 200 AND mean_duration = 900"
        " AND hour = date_trunc('hour', now() - interval '100 days')"), 1);
    /* the old audit row went; the purge audited itself */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM audit_log WHERE action = 'old-thing'"), 0);
    assert_int_equal(harness_sql_long(h,
        "SELECT count(*) FROM audit_log WHERE action = 'purge' AND detail LIKE 'sessions=3 audit=1 %'"), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM audit_log"), audit_before);

    /* again: nothing more to do, the aggregate stays as it was */
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, purge), 0);
    assert_non_null(strstr(out, "sessions 0 audit 0"));
    assert_int_equal(harness_sql_long(h, "SELECT sum(sessions) FROM stats_hourly"), 3);

    /* lotsectl stats reads the aggregates; --refresh adds the recent hours */
    const char *hourly[] = {"stats", "--days", "120", "--hourly", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, hourly), 0);
    assert_non_null(strstr(out, "family"));
    assert_non_null(strstr(out, "       3         1         0       90      200           900"));
    const char *daily[] = {"stats", "--days", "30", "--refresh", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, daily), 0);
    assert_null(strstr(out, "       3         1"));
    const char *all[] = {"stats", "--days", "120", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, all), 0);
    assert_non_null(strstr(out, "       3         1         0       90      200           900"));
    harness_pass(h);
}

static void test_server_purges_hourly_and_serves_stats_to_supervisors(void **state)
{
    struct harness *h = *state;
    insert_row(h, "200 days", "prison", 40, 300, true);
    insert_row(h, "200 days", "prison", 60, 0, false);
    insert_row(h, "3 hours", "school", 15, 500, true);
    harness_set(h, "retention_days", "90");
    assert_int_equal(harness_start(h), 0);

    /* the first purge and aggregate run a few seconds after start */
    long old = -1;
    for (int i = 0; i < 100 && old != 0; i++) {
        old = harness_sql_long(h, "SELECT count(*) FROM sessions WHERE started_bucket < now() - interval '90 days'");
        if (old)
            harness_sleep_ms(100);
    }
    assert_int_equal(old, 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(harness_sql_long(h,
        "SELECT count(*) FROM stats_hourly WHERE topic = 'prison' AND sessions = 2 AND abandoned = 1"
        " AND wait_p50 = 40 AND wait_p90 = 60 AND mean_duration = 300"), 1);
    assert_int_equal(harness_wait_count(h,
        "SELECT count(*) FROM stats_hourly WHERE topic = 'school' AND sessions = 1", 1, T), 1);
    assert_int_equal(harness_log_wait(h, "retention: purged 2 session rows", T), 0);

    /* GET /stats: a supervisor's stats token, and nothing else, opens it */
    char *body = malloc(65536);
    int status;
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", NULL, &status, body, 65536), 0);
    assert_int_equal(status, 401);
    struct client *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    char token[64];
    assert_int_equal(harness_stats_token(sue, token, sizeof token), 0);
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                           &status, body, 65536), 0);
    assert_int_equal(status, 401);
    /* a counsellor's session token is not a stats token */
    struct client *anna;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    char anna_token[64];
    lotse_b64_encode(anna_token, sizeof anna_token, anna->token, 32);
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", anna_token, &status, body, 65536), 0);
    assert_int_equal(status, 401);
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=0", token, &status, body, 65536), 0);
    assert_int_equal(status, 400);
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", token, &status, body, 65536), 0);
    assert_int_equal(status, 200);
    printf("GET /stats?days=7: %s\n", body);
    /* one organisation: the whole service ("org":null) */
    assert_non_null(strstr(body, "{\"days\":7,\"timezone\":\"Europe/Berlin\",\"org\":null,"
                                 "\"daily\":[{\"day\":\""));
    assert_non_null(strstr(body, "\"sessions\":1,\"abandoned\":0,\"escalated\":0,\"wait_p50\":15,"
                                 "\"wait_p90\":15,\"mean_duration\":500,\"mail_opened\":0,"));
    assert_non_null(strstr(body, "\"feedback_yes\":0,\"feedback_some\":0,\"feedback_no\":0}"));
    assert_null(strstr(body, "\"sessions\":2")); /* 200 days ago is not in the last 7 */
    assert_int_equal(harness_http_get_auth(h, 0, "/stats", token, &status, body, 65536), 0);
    assert_int_equal(status, 200);
    /* the token dies with the supervisor's connection */
    client_free(sue);
    harness_sleep_ms(200);
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", token, &status, body, 65536), 0);
    assert_int_equal(status, 401);
    free(body);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lotsectl_purge_dry_run_then_purge_keeps_the_aggregates,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_server_purges_hourly_and_serves_stats_to_supervisors,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
