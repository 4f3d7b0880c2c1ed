/* it_feedback.c — the one anonymous question after a chat (PROTOCOL.md §5
 * "After the end", issue #14 point 3) through the real lotsed: after the
 * counsellor ends, the young person's connection stays open and one answer is
 * counted in this hour's stats_hourly row of the topic and nowhere else; a
 * second answer, an answer without an ended chat and a bad value are refused;
 * a wait that nobody took ends without the question, closed as before. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "harness.h"
#include "lotse/json.h"

#define T 5000

#define THIS_HOUR(col, topic)                                                                      \
    "SELECT coalesce(sum(" col "), 0) FROM stats_hourly WHERE hour = date_trunc('hour', now())"   \
    " AND topic = '" topic "'"

/* The counsellor ends a running chat; the young person's `ended` offers the
 * question. */
static void ended_by_counsellor(struct harness *h, struct client **anna, struct client **young)
{
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", anna), 0);
    assert_int_equal(harness_pair(h, *anna, "school", young, &cs), 0);
    assert_int_equal(client_end(*anna, cs), 0);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(*young, "ended", &m, T), 0);
    const char *reason;
    size_t len;
    assert_int_equal(lotse_json_get_str(&m, "reason", 32, &reason, &len), 0);
    assert_int_equal(strncmp(reason, "ended_by_counsellor", len), 0);
    bool offered = false;
    assert_int_equal(lotse_json_get_bool(&m, "feedback", &offered), 0);
    assert_true(offered);
}

static void test_one_answer_counted_in_the_hour_then_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    ended_by_counsellor(h, &anna, &young);
    long yes = harness_sql_long(h, THIS_HOUR("feedback_yes", "school"));
    long some = harness_sql_long(h, THIS_HOUR("feedback_some", "school"));
    long no = harness_sql_long(h, THIS_HOUR("feedback_no", "school"));

    /* a bad value first: refused, the question stays open */
    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\",\"answer\":\"maybe\"}"), 0);
    assert_int_equal(client_expect_error(young, "bad_field", T), 0);
    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\",\"answer\":1}"), 0);
    assert_int_equal(client_expect_error(young, "bad_field", T), 0);
    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\"}"), 0);
    assert_int_equal(client_expect_error(young, "bad_field", T), 0);

    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\",\"answer\":\"some\"}"), 0);
    assert_int_equal(client_expect(young, "feedback_ok", NULL, T), 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM stats_hourly WHERE hour = date_trunc('hour',"
                              " now()) AND topic = 'school' AND feedback_some >= %ld",
             some + 1);
    assert_int_equal(harness_wait_count(h, sql, 1, T), 1);
    assert_int_equal(harness_sql_long(h, THIS_HOUR("feedback_some", "school")), some + 1);
    assert_int_equal(harness_sql_long(h, THIS_HOUR("feedback_yes", "school")), yes);
    assert_int_equal(harness_sql_long(h, THIS_HOUR("feedback_no", "school")), no);
    /* lotsectl stats --hourly shows the hour's answers at the end of the row */
    char out[16384], want[64];
    const char *hourly[] = {"stats", "--days", "1", "--hourly", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, hourly), 0);
    assert_non_null(strstr(out, "helped_yes helped_some helped_no"));
    snprintf(want, sizeof want, " %10ld %11ld %9ld\n", yes, some + 1, no);
    assert_non_null(strstr(out, want));

    /* answered once: a second answer is refused and counts nothing */
    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\",\"answer\":\"yes\"}"), 0);
    assert_int_equal(client_expect_error(young, "feedback_given", T), 0);
    harness_sleep_ms(300);
    assert_int_equal(harness_sql_long(h, THIS_HOUR("feedback_yes", "school")), yes);
    /* the young person leaves: a polite close */
    assert_int_equal(client_send_json(young, "{\"t\":\"end\"}"), 0);
    assert_int_equal(client_wait_close(young, T), 1000);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_no_answer_without_an_ended_chat(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    long before = harness_sql_long(h, "SELECT coalesce(sum(feedback_yes), 0) FROM stats_hourly");
    /* a connection that said nothing yet */
    struct client *raw;
    assert_int_equal(client_connect(&raw, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_send_json(raw, "{\"t\":\"feedback\",\"answer\":\"yes\"}"), 0);
    assert_int_equal(client_expect_error(raw, "no_feedback", T), 0);
    client_free(raw);
    /* a young person still waiting */
    struct client *young;
    assert_int_equal(harness_young(h, "family", &young), 0);
    assert_int_equal(client_send_json(young, "{\"t\":\"feedback\",\"answer\":\"yes\"}"), 0);
    assert_int_equal(client_expect_error(young, "no_feedback", T), 0);
    /* leaving the queue is no chat: `ended` without the question, closed as before */
    assert_int_equal(client_end(young, NULL), 0);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(young, "ended", &m, T), 0);
    bool offered = false;
    assert_int_not_equal(lotse_json_get_bool(&m, "feedback", &offered), 0);
    assert_int_equal(client_wait_close(young, T), 1000);
    client_free(young);
    /* a counsellor cannot answer */
    struct client *anna;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"feedback\",\"answer\":\"yes\"}"), 0);
    assert_int_equal(client_expect_error(anna, "not_allowed", T), 0);
    client_free(anna);
    harness_sleep_ms(300);
    assert_int_equal(harness_sql_long(h, "SELECT coalesce(sum(feedback_yes), 0) FROM stats_hourly"),
                     before);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_answer_counted_in_the_hour_then_refused,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_no_answer_without_an_ended_chat, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
