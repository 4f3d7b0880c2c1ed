/* it_scope.c — who sees what in a network of organisations (issue 15): a
 * supervisor sees their organisation only, through every endpoint and
 * message; a coordinator sees all of them side by side and the network total;
 * lotsectl stats --org … --format csv|json reports per organisation. Three
 * organisations besides 'main', with the real lotsed and database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define T 5000

/* The three organisations: nord (Berlin 10…), sued (Bavaria), ost (pool). */
static void add_orgs(struct harness *h)
{
    PGresult *r =
        harness_exec(h, "INSERT INTO organisations (slug, name, regions, takes_pool) VALUES"
                        " ('nord', 'Familienhilfe Nord', '{10}', false),"
                        " ('sued', 'Jugendhilfe Süd', '{DE-BY}', false),"
                        " ('ost', 'Netz Ost', '{}', true)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static long org_id(struct harness *h, const char *slug)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM organisations WHERE slug = '%s'", slug);
    return harness_sql_long(h, sql);
}

/* An account of role in organisation slug. */
static void staff(struct harness *h, const char *handle, const char *role, const char *slug)
{
    bool counsellor = strcmp(role, "counsellor") == 0;
    assert_int_equal(harness_add_account(h, handle, role, handle, "family,school", 2, counsellor),
                     0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH u AS (UPDATE accounts SET org_id = (SELECT id FROM organisations"
             " WHERE slug = '%s') WHERE handle = '%s' RETURNING 1) SELECT count(*) FROM u",
             slug, handle);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

/* An hourly row of organisation slug ("" = none) at local hour of today
 * (Europe/Berlin) minus day_offset days. */
static void row(struct harness *h, const char *slug, int day_offset, int hour, const char *topic,
                int sessions, int abandoned, int p50, int p90, int mean, int mail_opened,
                int mail_in_time, int yes)
{
    char org[96] = "0";
    if (*slug)
        snprintf(org, sizeof org, "(SELECT id FROM organisations WHERE slug = '%s')", slug);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH i AS (INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned,"
             " escalated, wait_p50, wait_p90, mean_duration, mail_opened,"
             " mail_answered_within_target, feedback_yes)"
             " VALUES ((date_trunc('day', now() AT TIME ZONE 'Europe/Berlin')"
             " - interval '%d days' + interval '%d hours') AT TIME ZONE 'Europe/Berlin',"
             " '%s', %s, %d, %d, 0, %d, %d, %d, %d, %d, %d) RETURNING 1) SELECT count(*) FROM i",
             day_offset, hour, topic, org, sessions, abandoned, p50, p90, mean, mail_opened,
             mail_in_time, yes);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

/* Today's and yesterday's figures of every organisation. nord has two topics
 * today; the numbers of sessions tell the organisations apart. */
static void rows(struct harness *h)
{
    row(h, "nord", 0, 1, "family", 11, 1, 30, 90, 600, 2, 1, 4);
    row(h, "nord", 0, 2, "school", 5, 0, 60, 120, 300, 1, 1, 0);
    row(h, "nord", 1, 10, "family", 13, 0, 10, 20, 100, 0, 0, 0);
    row(h, "sued", 0, 1, "family", 77, 7, 100, 300, 900, 9, 3, 2);
    row(h, "ost", 0, 3, "school", 3, 0, 20, 40, 200, 0, 0, 0);
    row(h, "", 0, 4, "family", 2, 2, 50, 50, 0, 0, 0, 0);
}

static void day(struct harness *h, int offset, char out[16])
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT to_char((now() AT TIME ZONE 'Europe/Berlin')::date - %d, 'YYYYMMDD')::bigint",
             offset);
    long d = harness_sql_long(h, sql);
    snprintf(out, 16, "%04d-%02d-%02d", (int)(d / 10000 % 10000), (int)(d / 100 % 100),
             (int)(d % 100));
}

static int stats(struct harness *h, char *out, size_t cap, const char *a1, const char *a2,
                 const char *a3, const char *a4, const char *a5, const char *a6, const char *a7,
                 const char *a8)
{
    const char *args[] = {"stats", "--timezone", "Europe/Berlin", a1, a2, a3, a4, a5, a6, a7,
                          a8,      NULL};
    out[0] = '\0';
    return harness_ctl(h, true, NULL, out, cap, args);
}

static void test_ctl_stats_per_organisation_csv_and_json(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    rows(h);
    char today[16], yday[16], line[400];
    day(h, 0, today);
    day(h, 1, yday);
    char *out = malloc(65536);
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--from", yday, "--to", today, "--format", "csv"), 0);
    printf("stats --org nord csv:\n%s", out);
    assert_non_null(strstr(out, "org,day,topic,sessions,abandoned,escalated,wait_p50,wait_p90,"
                                "mean_duration,mail_opened,mail_answered_within_target,"
                                "feedback_yes,feedback_some,feedback_no\n"));
    snprintf(line, sizeof line, "nord,%s,family,13,0,0,10,20,100,0,0,0,0,0\n", yday);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof line, "nord,%s,family,11,1,0,30,90,600,2,1,4,0,0\n", today);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof line, "nord,%s,school,5,0,0,60,120,300,1,1,0,0,0\n", today);
    assert_non_null(strstr(out, line));
    /* the period: 29 sessions; p50 (30*11+60*5+10*13)/29 = 26.2; p90
     * (990+600+260)/29 = 63.8; duration by taken (600*10+300*5+100*13)/28 = 314.3 */
    assert_non_null(strstr(out, "nord,total,*,29,1,0,26,64,314,3,2,4,0,0\n"));
    assert_null(strstr(out, "sued"));
    assert_null(strstr(out, ",77,"));
    assert_null(strstr(out, "\n*,"));

    /* the same as JSON */
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--from", yday, "--to", today, "--format", "json"),
        0);
    printf("stats --org nord json:\n%s", out);
    snprintf(line, sizeof line, "\"from\": \"%s\",\n  \"to\": \"%s\"", yday, today);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\"org\": \"nord\""));
    snprintf(
        line, sizeof line,
        "{\"org\":\"nord\",\"name\":\"Familienhilfe Nord\",\"day\":\"%s\",\"topic\":\"school\","
        "\"sessions\":5,\"abandoned\":0,\"escalated\":0,\"wait_p50\":60,\"wait_p90\":120,"
        "\"mean_duration\":300,\"mail_opened\":1,\"mail_answered_within_target\":1,"
        "\"feedback_yes\":0,\"feedback_some\":0,\"feedback_no\":0}",
        today);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\"totals\": [\n    {\"org\":\"nord\",\"name\":\"Familienhilfe "
                                "Nord\",\"sessions\":29,\"abandoned\":1"));
    assert_null(strstr(out, "\"network\""));
    assert_null(strstr(out, "sued"));

    /* every organisation: one total each, "no organisation" (empty) and the
     * network's, which is the sum: 29 + 77 + 3 + 2 = 111 */
    assert_int_equal(
        stats(h, out, 65536, "--from", yday, "--to", today, "--format", "csv", NULL, NULL), 0);
    printf("stats csv (all):\n%s", out);
    assert_non_null(strstr(out, "nord,total,*,29,"));
    assert_non_null(strstr(out, "sued,total,*,77,7,0,100,300,900,9,3,2,0,0\n"));
    assert_non_null(strstr(out, "ost,total,*,3,"));
    assert_non_null(strstr(out, "\n,total,*,2,2,"));
    assert_non_null(strstr(out, "\n*,total,*,111,10,0,"));
    assert_int_equal(
        stats(h, out, 65536, "--from", yday, "--to", today, "--format", "json", NULL, NULL), 0);
    assert_non_null(strstr(out, "{\"org\":null,\"name\":null,\"sessions\":2,"));
    assert_non_null(strstr(out, "\"network\": [\n    {\"sessions\":111,\"abandoned\":10,"));
    /* one day only: yesterday has nord's 13 */
    assert_int_equal(stats(h, out, 65536, "--from", yday, "--to", yday, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "\n*,total,*,13,0,"));

    /* misuse: unknown organisation, bad dates, bad format, mixing forms */
    assert_int_equal(stats(h, out, 65536, "--org", "west", NULL, NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(
        stats(h, out, 65536, "--from", "2026-13-01", NULL, NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(stats(h, out, 65536, "--from", "1.2.2026", NULL, NULL, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(stats(h, out, 65536, "--from", today, "--to", yday, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(stats(h, out, 65536, "--format", "xml", NULL, NULL, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--hourly", NULL, NULL, NULL, NULL, NULL), 2);
    /* the existing forms still work */
    assert_int_equal(stats(h, out, 65536, "--days", "2", NULL, NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "day        sessions"));
    free(out);
    harness_pass(h);
}

/* GET /stats with the token of who, and optional query; the body into out. */
static int get_stats(struct harness *h, struct client *who, const char *path, char *out, size_t cap)
{
    char token[64];
    assert_int_equal(harness_stats_token(who, token, sizeof token), 0);
    int status = 0;
    assert_int_equal(harness_http_get_auth(h, 0, path, token, &status, out, cap), 0);
    return status;
}

static void test_stats_endpoint_is_scoped_by_role(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    staff(h, "sup_nord", "supervisor", "nord");
    staff(h, "sup_sued", "supervisor", "sued");
    staff(h, "coord", "coordinator", "main");
    rows(h);
    assert_int_equal(harness_start(h), 0);
    struct client *nord, *sued, *coord;
    assert_int_equal(harness_counsellor(h, "sup_nord", &nord), 0);
    assert_int_equal(harness_counsellor(h, "sup_sued", &sued), 0);
    assert_int_equal(harness_counsellor(h, "coord", &coord), 0);
    assert_int_equal(coord->role, CLIENT_SUPERVISOR);
    char *body = malloc(65536), want[64];

    /* a supervisor: their organisation's figures only (today 16, nothing of sued's 77) */
    assert_int_equal(get_stats(h, nord, "/stats?days=2", body, 65536), 200);
    printf("nord's /stats: %s\n", body);
    snprintf(want, sizeof want, "\"org\":%ld,", org_id(h, "nord"));
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "\"sessions\":16,"));
    assert_non_null(strstr(body, "\"sessions\":13,"));
    assert_null(strstr(body, "\"sessions\":77"));
    assert_null(strstr(body, "\"sessions\":98")); /* today's of the network */
    assert_int_equal(get_stats(h, sued, "/stats?days=2", body, 65536), 200);
    assert_non_null(strstr(body, "\"sessions\":77,"));
    assert_null(strstr(body, "\"sessions\":16"));

    /* the coordinator: the network (today 16 + 77 + 3 + 2 = 98) */
    assert_int_equal(get_stats(h, coord, "/stats?days=2", body, 65536), 200);
    printf("coordinator's /stats: %s\n", body);
    assert_non_null(strstr(body, "\"org\":null,"));
    assert_non_null(strstr(body, "\"sessions\":98,"));

    free(body);
    client_free(coord);
    client_free(sued);
    client_free(nord);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_stats_per_organisation_csv_and_json, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_stats_endpoint_is_scoped_by_role, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
