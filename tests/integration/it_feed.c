/* it_feed.c — the supervisors' live feed against a scripted scenario (young
 * people waiting, counsellors online, sessions ended and abandoned), alarms,
 * escalations reaching supervisors and the session row, today's counts
 * surviving a restart, and what counsellors do not get (PROTOCOL.md §4.3). */
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

/* Waits for a feed that contains every needle; returns it (free it) or NULL
 * and prints the last feed seen. */
static char *wait_feed(struct client *sup, int timeout_ms, const char *const *needles)
{
    char *last = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        char *f = harness_next_raw(sup, "feed", 100);
        if (!f)
            continue;
        free(last);
        last = f;
        bool all = true;
        for (int i = 0; needles[i]; i++)
            if (!strstr(f, needles[i]))
                all = false;
        if (all)
            return f;
    }
    fprintf(stderr, "no feed with the expected values; the last one:\n%s\n", last ? last : "(none)");
    for (int i = 0; needles[i]; i++)
        if (!last || !strstr(last, needles[i]))
            fprintf(stderr, "  missing: %s\n", needles[i]);
    free(last);
    return NULL;
}

static struct client *supervisor(struct harness *h)
{
    struct client *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(sue->role, CLIENT_SUPERVISOR);
    char *tok = harness_next_raw(sue, "stats_token", T);
    assert_non_null(tok);
    assert_non_null(strstr(tok, "\"token\":\""));
    free(tok);
    return sue;
}

static void test_feed_counts_match_a_scripted_scenario_and_survive_restart(void **state)
{
    struct harness *h = *state;
    harness_set(h, "alarm_longest_wait", "1");
    assert_int_equal(harness_start(h), 0);
    struct client *sue = supervisor(h);

    /* J = 2 abandoned before pickup */
    for (int i = 0; i < 2; i++) {
        struct client *y;
        assert_int_equal(harness_young(h, "family", &y), 0);
        assert_int_equal(client_end(y, client_young_session(y)), 0);
        assert_int_equal(client_expect(y, "ended", NULL, T), 0);
        client_free(y);
    }
    /* K = 2 ended after a conversation */
    struct client *anna, *ben;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    for (int i = 0; i < 2; i++) {
        struct client *y;
        struct client_session *cs;
        assert_int_equal(harness_pair(h, anna, "school", &y, &cs), 0);
        assert_int_equal(client_end(anna, cs), 0);
        assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
        client_free(y);
    }
    /* one running session: ben (capacity 1) is at capacity */
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    struct client *yb;
    struct client_session *bs;
    assert_int_equal(harness_pair(h, ben, "prison", &yb, &bs), 0);
    /* N = 3 waiting: two family, one crisis (priority, nobody serves it) */
    struct client *w[3];
    assert_int_equal(harness_young(h, "family", &w[0]), 0);
    assert_int_equal(harness_young(h, "family", &w[1]), 0);
    assert_int_equal(harness_young(h, "crisis", &w[2]), 0);

    const char *const want[] = {
        "\"waiting\":3,",
        "{\"topic\":\"family\",\"priority\":0,\"waiting\":2,",
        "{\"topic\":\"school\",\"priority\":0,\"waiting\":0,\"longest\":0}",
        "{\"topic\":\"prison\",\"priority\":0,\"waiting\":0,\"longest\":0}",
        "{\"topic\":\"crisis\",\"priority\":1,\"waiting\":1,",
        "\"priorities\":[{\"priority\":1,\"waiting\":1,",
        "{\"priority\":0,\"waiting\":2,",
        "\"wait_samples\":5,",
        "\"counsellors_online\":2,\"counsellors_available\":1,\"counsellors_at_capacity\":1,",
        "\"active\":1,",
        "\"today\":{\"started\":8,\"ended\":2,\"abandoned\":2}",
        "\"escalations_open\":0,\"escalations\":[]",
        "\"alarms\":[\"longest_wait\",\"no_counsellor\"]",
        NULL};
    char *f = wait_feed(sue, 8000, want);
    assert_non_null(f);
    printf("feed snapshot: %s\n", f);
    assert_true(harness_json_int(f, NULL, "longest") >= 1);
    assert_true(harness_json_int(f, NULL, "wait_p50") >= 0 &&
                harness_json_int(f, NULL, "wait_p90") >= 0);
    free(f);

    /* Counsellors get queue_summary, never the feed, an escalation or a token. */
    assert_int_equal(client_pump(anna, 700), 0);
    for (size_t i = 0; i < anna->inbox_len; i++) {
        assert_null(strstr(anna->inbox[i], "\"t\":\"feed\""));
        assert_null(strstr(anna->inbox[i], "\"t\":\"stats_token\""));
    }
    assert_true(anna->summaries > 0);

    /* ben escalates his session: sue hears at once, the feed lists it. */
    char msg[128];
    snprintf(msg, sizeof msg, "{\"t\":\"escalate\",\"sid\":\"%s\"}", bs->sid_hex);
    assert_int_equal(client_send_json(ben, msg), 0);
    assert_int_equal(client_expect(ben, "escalated", NULL, T), 0);
    char *e = harness_next_raw(sue, "escalation", T);
    assert_non_null(e);
    char expect_e[256];
    snprintf(expect_e, sizeof expect_e,
             "{\"t\":\"escalation\",\"sid\":\"%s\",\"counsellor\":%lld,\"topic\":\"prison\",\"at\":",
             bs->sid_hex, (long long)harness_account(h, "ben")->id);
    assert_int_equal(strncmp(e, expect_e, strlen(expect_e)), 0);
    free(e);
    char listed[128];
    snprintf(listed, sizeof listed, "\"escalations_open\":1,\"escalations\":[{\"sid\":\"%s\"",
             bs->sid_hex);
    const char *const want_esc[] = {listed, NULL};
    f = wait_feed(sue, 3000, want_esc);
    assert_non_null(f);
    free(f);
    /* anna cannot escalate ben's session; a supervisor cannot escalate at all */
    assert_int_equal(client_send_json(anna, msg), 0);
    assert_int_equal(client_expect_error(anna, "not_your_session", T), 0);
    assert_int_equal(client_send_json(sue, msg), 0);
    assert_int_equal(client_expect_error(sue, "not_allowed", T), 0);

    /* The session ends: the escalation closes, the row says it was escalated. */
    assert_int_equal(client_end(ben, bs), 0);
    assert_int_equal(client_expect(ben, "ended", NULL, T), 0);
    const char *const want_closed[] = {"\"escalations_open\":0,\"escalations\":[]",
                                       "\"today\":{\"started\":8,\"ended\":3,\"abandoned\":2}",
                                       NULL};
    f = wait_feed(sue, 3000, want_closed);
    assert_non_null(f);
    free(f);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE escalated", 1, T), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE escalated AND topic = 'prison'"), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE NOT escalated"
                                         " AND end_reason IS NOT NULL"), 4);

    /* A restart does not zero today: the three still waiting end as abandoned
     * at shutdown, so 8 started, 3 ended, 5 abandoned. */
    for (int i = 0; i < 3; i++)
        client_free(w[i]);
    client_free(yb);
    client_free(anna);
    client_free(ben);
    client_free(sue);
    /* (a dropped young person may resume for a while: shutdown ends them all) */
    assert_int_equal(harness_stop(h), 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 8);
    assert_int_equal(harness_start(h), 0);
    sue = supervisor(h);
    const char *const want_again[] = {"\"today\":{\"started\":8,\"ended\":3,\"abandoned\":5}",
                                      "\"waiting\":0,", "\"wait_samples\":0,", NULL};
    f = wait_feed(sue, 8000, want_again);
    assert_non_null(f);
    free(f);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_feed_is_pushed_on_change_at_most_twice_a_second(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *sue = supervisor(h);
    char *f = harness_next_raw(sue, "feed", T);
    assert_non_null(f);
    free(f);
    /* Nothing changes: no more feeds (nobody waits, so no wait ticks either). */
    assert_null(harness_next_raw(sue, "feed", 1500));
    /* Ten changes in a burst arrive as at most a few snapshots. */
    struct client *y[10];
    for (int i = 0; i < 10; i++)
        assert_int_equal(harness_young(h, "school", &y[i]), 0);
    int n = 0;
    int64_t last_waiting = -1;
    for (;;) {
        f = harness_next_raw(sue, "feed", 1200);
        if (!f)
            break;
        n++;
        last_waiting = harness_json_int(f, NULL, "waiting");
        free(f);
        if (last_waiting == 10)
            break;
    }
    assert_int_equal(last_waiting, 10);
    assert_true(n >= 1 && n <= 4);
    for (int i = 0; i < 10; i++)
        client_free(y[i]);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_counts_match_a_scripted_scenario_and_survive_restart,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_feed_is_pushed_on_change_at_most_twice_a_second,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
