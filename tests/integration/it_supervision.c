/* it_supervision.c — the supervisor's view beyond the feed (PROTOCOL.md §4.3):
 * the live list of counsellors (online or away, chats now, the longest running
 * chat; gone after resume_grace; sent on change only, to supervisors only) and
 * the history of GET /stats read from the hourly rows in the database, today's
 * and the week's days in the service's time zone, mail counts included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

/* Waits for a `counsellors` list that contains every needle and none of the
 * unwanted (NULL-terminated, may be NULL); returns it (free it) or NULL. */
static char *wait_list(struct client *sup, const char *const *needles, const char *const *unwanted)
{
    char *last = NULL;
    for (int waited = 0; waited <= 3 * T; waited += 100) {
        char *m = harness_next_raw(sup, "counsellors", 100);
        if (!m)
            continue;
        free(last);
        last = m;
        bool ok = true;
        for (int i = 0; needles[i]; i++)
            ok = ok && strstr(m, needles[i]);
        for (int i = 0; unwanted && unwanted[i]; i++)
            ok = ok && !strstr(m, unwanted[i]);
        if (ok)
            return m;
    }
    fprintf(stderr, "no list of counsellors as expected; the last one:\n%s\n",
            last ? last : "(none)");
    free(last);
    return NULL;
}

static void
test_counsellor_list_shows_online_away_chats_and_longest_then_drops_after_grace(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "3");
    assert_int_equal(harness_start(h), 0);
    struct client *sue, *anna, *ben, *y[3];
    struct client_session *cs[3];
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, anna, "family", &y[0], &cs[0]), 0);
    assert_int_equal(harness_pair(h, anna, "school", &y[1], &cs[1]), 0);
    assert_int_equal(harness_pair(h, ben, "prison", &y[2], &cs[2]), 0);

    char anna_e[160], ben_e[160];
    snprintf(anna_e, sizeof anna_e,
             "{\"id\":%lld,\"handle\":\"anna\",\"state\":\"online\",\"available\":true,"
             "\"chats\":2,\"capacity\":2,\"longest\":",
             (long long)harness_account(h, "anna")->id);
    snprintf(ben_e, sizeof ben_e,
             "{\"id\":%lld,\"handle\":\"ben\",\"state\":\"online\",\"available\":true,"
             "\"chats\":1,\"capacity\":1,\"longest\":",
             (long long)harness_account(h, "ben")->id);
    const char *both[] = {"{\"t\":\"counsellors\",\"total\":2,\"list\":[", anna_e, ben_e, NULL};
    char *m = wait_list(sue, both, NULL);
    assert_non_null(m);
    printf("two counsellors with chats: %s\n", m);
    assert_true(strstr(m, anna_e) < strstr(m, ben_e)); /* by handle */
    assert_true(harness_json_int(m, anna_e, "longest") >= 0);
    assert_non_null(strstr(m, "\"away\":null}"));
    assert_null(strstr(m, "sid")); /* nothing about a session or a young person */
    assert_null(strstr(m, "family"));
    free(m);

    /* Durations grow on the page, not by messages: nothing changed, none sent. */
    assert_null(harness_next_raw(sue, "counsellors", 1500));
    /* Counsellors never get the list. */
    assert_int_equal(client_pump(anna, 200), 0);
    for (size_t i = 0; i < anna->inbox_len; i++)
        assert_null(strstr(anna->inbox[i], "\"t\":\"counsellors\""));

    /* ben's connection drops: away, his chat still his, for resume_grace */
    client_drop(ben);
    const char *away[] = {"\"total\":2,", "\"handle\":\"ben\",\"state\":\"away\",", NULL};
    m = wait_list(sue, away, NULL);
    assert_non_null(m);
    printf("ben away: %s\n", m);
    assert_int_equal(harness_json_int(m, "\"handle\":\"ben\"", "chats"), 1);
    assert_true(harness_json_int(m, "\"handle\":\"ben\"", "longest") >= 1);
    long long ben_away = harness_json_int(m, "\"handle\":\"ben\"", "away");
    assert_true(ben_away >= 0 && ben_away <= 3);
    assert_true(harness_json_int(m, "\"handle\":\"anna\"", "longest") >= 1);
    assert_non_null(strstr(m, "\"handle\":\"anna\",\"state\":\"online\","));
    free(m);

    /* past the grace ben is gone from the list */
    const char *gone[] = {"\"total\":1,", "\"handle\":\"anna\",", NULL};
    const char *no_ben[] = {"\"handle\":\"ben\"", NULL};
    m = wait_list(sue, gone, no_ben);
    assert_non_null(m);
    printf("after the grace: %s\n", m);
    free(m);

    /* anna ends a chat: one chat now */
    assert_int_equal(client_end(anna, cs[0]), 0);
    const char *one[] = {"\"handle\":\"anna\",\"state\":\"online\",\"available\":true,\"chats\":1,",
                         NULL};
    m = wait_list(sue, one, NULL);
    assert_non_null(m);
    free(m);

    for (int i = 0; i < 3; i++)
        client_free(y[i]);
    client_free(ben);
    client_free(anna);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Inserts an hourly row of organisation 1 ('main', sue's) hours_after local
 * midnight of day_offset days ago. */
static void hour_row(struct harness *h, int day_offset, int hour, const char *topic, int sessions,
                     int abandoned, int p50, int p90, int mean, int mail_opened, int mail_in_time)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH i AS (INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, escalated,"
             " wait_p50, wait_p90, mean_duration, mail_opened, mail_answered_within_target)"
             " VALUES ((date_trunc('day', now() AT TIME ZONE 'Europe/Berlin')"
             " - interval '%d days' + interval '%d hours') AT TIME ZONE 'Europe/Berlin',"
             " '%s', 1, %d, %d, %d, %d, %d, %d, %d, %d) RETURNING 1) SELECT count(*) FROM i",
             day_offset, hour, topic, sessions, abandoned, abandoned ? 1 : 0, p50, p90, mean,
             mail_opened, mail_in_time);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

static void test_history_gives_today_and_the_week_from_the_hourly_rows(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    /* today: 01:00 and 02:00 local; yesterday; and 9 days ago (not in 7 days) */
    hour_row(h, 0, 1, "family", 4, 1, 30, 90, 600, 2, 1);
    hour_row(h, 0, 2, "school", 2, 0, 60, 120, 300, 0, 0);
    hour_row(h, 1, 10, "family", 3, 1, 20, 40, 200, 1, 1);
    hour_row(h, 9, 10, "family", 99, 0, 20, 40, 200, 0, 0);
    char day_sql[] = "SELECT to_char(now() AT TIME ZONE 'Europe/Berlin', 'YYYYMMDD')::bigint";
    long today = harness_sql_long(h, day_sql);

    struct client *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    char token[64];
    assert_int_equal(harness_stats_token(sue, token, sizeof token), 0);
    char *body = malloc(65536);
    int status;
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=7", token, &status, body, 65536), 0);
    assert_int_equal(status, 200);
    printf("GET /stats?days=7: %s\n", body);
    assert_non_null(strstr(body, "{\"days\":7,\"timezone\":\"Europe/Berlin\",\"org\":null,\"daily\":["));
    char today_s[48];
    snprintf(today_s, sizeof today_s, "{\"day\":\"%04ld-%02ld-%02ld\",", today / 10000,
             today / 100 % 100, today % 100);
    /* today: weighted by sessions (p50 (30*4+60*2)/6 = 40, p90 100), the mean
     * duration by sessions taken ((600*3+300*2)/5 = 480) */
    char want[320];
    snprintf(want, sizeof want,
             "%s\"sessions\":6,\"abandoned\":1,\"escalated\":1,\"wait_p50\":40,\"wait_p90\":100,"
             "\"mean_duration\":480,\"mail_opened\":2,\"mail_answered_within_target\":1,"
             "\"feedback_yes\":0,\"feedback_some\":0,\"feedback_no\":0}]}",
             today_s);
    assert_non_null(strstr(body, want)); /* the last day */
    /* yesterday comes before it; 9 days ago is not in the week */
    assert_non_null(strstr(body, "\"sessions\":3,\"abandoned\":1,\"escalated\":1,\"wait_p50\":20,"
                                 "\"wait_p90\":40,\"mean_duration\":200,\"mail_opened\":1,"
                                 "\"mail_answered_within_target\":1,\"feedback_yes\":0,"
                                 "\"feedback_some\":0,\"feedback_no\":0},"));
    assert_null(strstr(body, "\"sessions\":99"));
    assert_int_equal(harness_http_get_auth(h, 0, "/stats?days=10", token, &status, body, 65536), 0);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"sessions\":99"));
    free(body);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_counsellor_list_shows_online_away_chats_and_longest_then_drops_after_grace,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_history_gives_today_and_the_week_from_the_hourly_rows,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
