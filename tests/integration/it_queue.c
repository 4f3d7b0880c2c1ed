/* it_queue.c — queue order, topic routing, priority, position/eta updates,
 * capacity, abandonment, and offer mode (PROTOCOL.md §4.2, §5, §5.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T 5000

/* Waits until pushed `queue` updates bring the position to want. */
static int wait_pos(struct client *c, int64_t want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (c->pos == want)
            return 0;
        if (client_pump(c, 100) < 0)
            return -ESHUTDOWN;
    }
    fprintf(stderr, "position is %lld, wanted %lld\n", (long long)c->pos, (long long)want);
    return -ETIMEDOUT;
}

static void test_fifo_order_within_a_topic(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "carl", "counsellor", "Carl", "family", 5, true), 0);
    assert_int_equal(harness_start(h), 0);
    struct client *y[4], *carl;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
        assert_int_equal(y[i]->pos, i + 1);
        harness_sleep_ms(20);
    }
    assert_int_equal(harness_counsellor(h, "carl", &carl), 0);
    for (int i = 0; i < 4; i++) {
        struct client_session *s;
        assert_int_equal(client_take(carl, &s, T), 0);
        assert_string_equal(s->sid_hex, client_young_session(y[i])->sid_hex);
        assert_string_equal(s->topic, "family");
        assert_memory_equal(s->peer_pk, client_young_session(y[i])->pk, 32);
    }
    assert_int_equal(client_send_json(carl, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(carl, "queue_empty", T), 0);
    for (int i = 0; i < 4; i++)
        client_free(y[i]);
    client_free(carl);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_sessions_go_only_to_counsellors_of_their_topic(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *school, *prison, *prison2, *anna, *ben;
    assert_int_equal(harness_young(h, "school", &school), 0);
    harness_sleep_ms(20);
    assert_int_equal(harness_young(h, "prison", &prison), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    struct client_session *s;
    /* ben (prison, family) skips the older school session. */
    assert_int_equal(client_take(ben, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(prison)->sid_hex);
    assert_string_equal(s->topic, "prison");
    /* anna (family, school) never gets prison. */
    assert_int_equal(harness_young(h, "prison", &prison2), 0);
    assert_int_equal(client_take(anna, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(school)->sid_hex);
    assert_int_equal(client_send_json(anna, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(anna, "queue_empty", T), 0);
    client_free(school);
    client_free(prison);
    client_free(prison2);
    client_free(anna);
    client_free(ben);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_priority_topic_is_served_first(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "cora", "counsellor", "Cora", "family,crisis", 3, true),
                     0);
    assert_int_equal(harness_start(h), 0);
    struct client *family, *crisis, *cora;
    assert_int_equal(harness_young(h, "family", &family), 0);
    harness_sleep_ms(50);
    assert_int_equal(harness_young(h, "crisis", &crisis), 0);
    assert_int_equal(crisis->pos, 1);
    assert_int_equal(harness_counsellor(h, "cora", &cora), 0);
    struct client_session *s;
    assert_int_equal(client_take(cora, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(crisis)->sid_hex);
    assert_int_equal(client_take(cora, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(family)->sid_hex);
    client_free(family);
    client_free(crisis);
    client_free(cora);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_higher_priority_arrival_moves_waiting_position_back(void **state)
{
    /* §5.1: pos counts whom the counsellors serving the topic take first:
     * cora serves crisis (priority) and family */
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "cora", "counsellor", "Cora", "crisis,family", 1, true),
                     0);
    assert_int_equal(harness_start(h), 0);
    struct client *family, *crisis, *cora;
    assert_int_equal(harness_counsellor(h, "cora", &cora), 0);
    assert_int_equal(harness_young(h, "family", &family), 0);
    assert_int_equal(family->pos, 1);
    assert_false(family->unstaffed);
    assert_int_equal(harness_young(h, "crisis", &crisis), 0);
    assert_int_equal(crisis->pos, 1);
    assert_int_equal(wait_pos(family, 2, 3000), 0);
    client_free(family);
    client_free(crisis);
    client_free(cora);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Waits until c was told (by welcome or queue) that nobody serves its topic, or
 * that someone does. */
static int wait_unstaffed(struct client *c, bool want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (c->unstaffed == want)
            return 0;
        if (client_pump(c, 100) < 0)
            return -ESHUTDOWN;
    }
    return -ETIMEDOUT;
}

static void test_positions_are_what_the_counsellors_will_take_and_nobody_is_said(void **state)
{
    /* #14: three people in three topics, one counsellor (anna: family,
     * school): not all three "next". */
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *nobody, *family, *school, *prison, *anna;
    /* nobody online: the newcomer is told so, with no estimate */
    assert_int_equal(harness_young(h, "family", &nobody), 0);
    assert_true(nobody->unstaffed);
    assert_int_equal(nobody->eta, 0);
    client_free(nobody);
    harness_sleep_ms(300);

    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &family), 0);
    harness_sleep_ms(20);
    assert_int_equal(harness_young(h, "school", &school), 0);
    harness_sleep_ms(20);
    assert_int_equal(harness_young(h, "prison", &prison), 0);
    assert_int_equal(family->pos, 1);
    assert_false(family->unstaffed);
    assert_int_equal(school->pos, 2); /* anna takes the older family one first */
    assert_false(school->unstaffed);
    assert_true(school->eta > family->eta);
    assert_true(prison->unstaffed); /* nobody serves prison now */
    assert_int_equal(prison->eta, 0);

    /* anna takes a break: both are told; back: estimates again */
    int64_t active;
    assert_int_equal(client_status(anna, false, 2, &active, T), 0);
    assert_int_equal(wait_unstaffed(family, true, 3000), 0);
    assert_int_equal(wait_unstaffed(school, true, 3000), 0);
    assert_int_equal(school->pos, 1); /* only its own list counts then */
    assert_int_equal(client_status(anna, true, 2, &active, T), 0);
    assert_int_equal(wait_unstaffed(school, false, 3000), 0);
    assert_int_equal(wait_pos(school, 2, 3000), 0);
    /* ben comes (prison, family): prison has someone now */
    struct client *ben;
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(wait_unstaffed(prison, false, 3000), 0);
    printf("positions: family %lld, school %lld, prison %lld (ben takes family first)\n",
           (long long)family->pos, (long long)school->pos, (long long)prison->pos);
    assert_int_equal(wait_pos(prison, 2, 3000), 0); /* ben: family (older) first */
    client_free(ben);
    client_free(prison);
    client_free(school);
    client_free(family);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_position_and_eta_are_pushed_and_decrease(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *y[3], *anna;
    int64_t eta0[3];
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
        assert_int_equal(y[i]->pos, i + 1);
        /* 60 s per place before the first pickup, rounded up to 30 s. */
        assert_int_equal(y[i]->eta, 60 * (i + 1));
        eta0[i] = y[i]->eta;
    }
    struct client_session *s;
    assert_int_equal(client_take(anna, &s, T), 0);
    assert_int_equal(wait_pos(y[1], 1, 3000), 0);
    assert_true(y[1]->eta <= eta0[1] && y[1]->eta % 30 == 0 && y[1]->eta > 0);
    assert_int_equal(wait_pos(y[2], 2, 3000), 0);
    assert_true(y[2]->eta <= eta0[2] && y[2]->eta % 30 == 0);
    /* A person ahead leaving moves the last one up too. */
    assert_int_equal(client_end(y[1], client_young_session(y[1])), 0);
    client_free(y[1]);
    assert_int_equal(wait_pos(y[2], 1, 3000), 0);
    client_free(y[0]);
    client_free(y[2]);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* With the organisations read (one: every account's), a chat is routed to
 * that organisation, and a counsellor of it counts the chat as one it could
 * take: the summary said "waiting":0 here (its scope is "everything", whose
 * organisation number is 0) and the console showed nobody waiting. */
static void test_summary_counts_a_routed_chat_for_its_counsellor(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct timespec read = {.tv_sec = 2}; /* lotsed reads the organisations at start */
    nanosleep(&read, NULL);
    struct client *anna, *y;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &y), 0);
    bool seen = false;
    for (char *m; !seen && (m = harness_next_raw(anna, "queue_summary", 3000));) {
        seen = strstr(m, "\"waiting\":1,") != NULL;
        free(m);
    }
    assert_true(seen);
    client_free(y);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Queue positions and summaries go out as a paced fan-out (conn_send_bulk, a
 * slice a millisecond): every one of many waiting people still gets the new
 * position after a pickup, and the counsellor the new summary. */
static void test_fan_out_reaches_every_waiting_person_and_counsellor(void **state)
{
    struct harness *h = *state;
    enum { N = 150 };
    char n[16];
    snprintf(n, sizeof n, "%d", N + 10);
    harness_set(h, "max_connections_per_source", n);
    harness_set(h, "pow_threshold", n);
    assert_int_equal(harness_start(h), 0);
    struct client *y[N], *anna;
    for (int i = 0; i < N; i++) {
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
        assert_int_equal(y[i]->pos, i + 1);
    }
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    struct client_session *s;
    assert_int_equal(client_take(anna, &s, T), 0);
    for (int i = 1; i < N; i++)
        assert_int_equal(wait_pos(y[i], i, 5000), 0);
    char want[64];
    snprintf(want, sizeof want, "\"waiting\":%d,", N - 1);
    bool seen = false;
    for (char *m; !seen && (m = harness_next_raw(anna, "queue_summary", 3000));) {
        seen = strstr(m, want) != NULL;
        free(m);
    }
    assert_true(seen);
    for (int i = 0; i < N; i++)
        client_free(y[i]);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_capacity_is_respected_and_status_lowers_it(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *y[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(anna->max_capacity, 2);
    struct client_session *s[2];
    assert_int_equal(client_take_and_key(anna, &s[0], T), 0);
    assert_int_equal(client_take_and_key(anna, &s[1], T), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(anna, "at_capacity", T), 0);
    /* Lower to 1 while 2 run; ending one still leaves her at capacity. The
     * status pushed at each of the two pickups is read first. */
    assert_int_equal(client_expect(anna, "status", NULL, T), 0);
    assert_int_equal(client_expect(anna, "status", NULL, T), 0);
    int64_t active = -1;
    assert_int_equal(client_status(anna, true, 1, &active, T), 0);
    assert_int_equal(active, 2);
    assert_int_equal(anna->capacity, 1);
    assert_int_equal(client_end(anna, s[0]), 0);
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(anna, "at_capacity", T), 0);
    assert_int_equal(client_end(anna, s[1]), 0);
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    struct client_session *x;
    assert_int_equal(client_take(anna, &x, T), 0);
    /* Beyond the account's maximum is refused. */
    assert_int_equal(client_send_json(anna, "{\"t\":\"status\",\"available\":true,\"capacity\":3}"),
                     0);
    assert_int_equal(client_expect_error(anna, "bad_field", T), 0);
    assert_string_equal(anna->err_field, "capacity");
    for (int i = 0; i < 4; i++)
        client_free(y[i]);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_leaving_before_pickup_is_abandoned_without_counsellor(void **state)
{
    struct harness *h = *state;
    /* a dropped connection counts as leaving once its resume grace is over */
    harness_set(h, "resume_grace", "1");
    assert_int_equal(harness_start(h), 0);
    struct client *a, *b, *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(harness_young(h, "family", &a), 0);
    assert_int_equal(harness_young(h, "school", &b), 0);
    harness_sleep_ms(1100);
    assert_int_equal(client_end(a, client_young_session(a)), 0);
    assert_int_equal(client_expect(a, "ended", NULL, T), 0);
    assert_string_equal(client_young_session(a)->ended_reason, "abandoned");
    ws_abort(b->ws); /* a dropped connection, not a goodbye */
    assert_int_equal(
        harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL", 2, T),
        2);
    assert_int_equal(
        harness_sql_long(
            h,
            "SELECT count(*) FROM sessions WHERE end_reason = 'abandoned' AND counsellor_id IS NULL"
            " AND duration_seconds = 0 AND wait_seconds BETWEEN 1 AND 10"),
        2);
    /* A counsellor logging in now finds nothing. */
    struct client *anna;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(anna, "queue_empty", T), 0);
    /* The supervisor saw the queue change. */
    assert_true(sue->summaries > 0 || client_expect(sue, "queue_summary", NULL, 2000) == 0);
    client_free(a);
    client_free(b);
    client_free(anna);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_offer_goes_to_least_loaded_and_moves_on_after_decline_or_timeout(void **state)
{
    struct harness *h = *state;
    harness_set(h, "assign_mode", "offer");
    harness_set(h, "offer_timeout", "5"); /* the smallest allowed */
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *school, *family;
    char sid[33];
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    /* Only anna serves school: she gets that one, so she is more loaded. */
    assert_int_equal(harness_young(h, "school", &school), 0);
    assert_int_equal(client_wait_offer(anna, sid, T), 0);
    assert_string_equal(sid, client_young_session(school)->sid_hex);
    struct client_session *s;
    assert_int_equal(client_accept(anna, sid, &s, T), 0);
    assert_int_equal(client_send_keys(anna, s), 0);
    assert_int_equal(client_young_wait_keys(school, T), 0);

    /* family: ben (0 active) is less loaded than anna (1). */
    assert_int_equal(harness_young(h, "family", &family), 0);
    const char *fsid = client_young_session(family)->sid_hex;
    assert_int_equal(client_wait_offer(ben, sid, T), 0);
    assert_string_equal(sid, fsid);
    assert_int_equal(client_wait_offer(anna, sid, 300), -ETIMEDOUT); /* one at a time */
    assert_int_equal(client_decline(ben, sid), 0);
    /* The next counsellor gets it; let that offer time out. */
    assert_int_equal(client_wait_offer(anna, sid, T), 0);
    assert_string_equal(sid, fsid);
    assert_int_equal(client_expect(anna, "offer_withdrawn", NULL, 8000), 0);
    /* Still queued in place meanwhile. */
    assert_int_equal(family->pos, 1);
    /* It is offered again; whoever gets it accepts. */
    struct client *who = ben;
    if (client_wait_offer(ben, sid, 3000) != 0) {
        who = anna;
        assert_int_equal(client_wait_offer(anna, sid, 8000), 0);
    }
    assert_string_equal(sid, fsid);
    assert_int_equal(client_accept(who, sid, &s, T), 0);
    assert_int_equal(client_send_keys(who, s), 0);
    assert_int_equal(client_young_wait_keys(family, T), 0);
    client_free(school);
    client_free(family);
    client_free(anna);
    client_free(ben);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_offer_is_withdrawn_when_the_young_person_leaves(void **state)
{
    struct harness *h = *state;
    harness_set(h, "assign_mode", "offer");
    harness_set(h, "offer_timeout", "30");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *y;
    char sid[33];
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "school", &y), 0);
    assert_int_equal(client_wait_offer(anna, sid, T), 0);
    assert_int_equal(client_end(y, client_young_session(y)), 0);
    client_free(y);
    struct lotse_json_msg *m = malloc(sizeof *m);
    assert_int_equal(client_expect(anna, "offer_withdrawn", m, T), 0);
    const char *ws;
    size_t wl;
    assert_int_equal(lotse_json_get_str(m, "sid", 64, &ws, &wl), 0);
    assert_string_equal(ws, sid);
    free(m);
    /* Accepting it now is too late. */
    assert_int_equal(
        client_send_json(anna, "{\"t\":\"accept\",\"sid\":\"00000000000000000000000000000000\"}"),
        0);
    assert_int_equal(client_expect_error(anna, "no_such_session", T), 0);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason = "
                                        "'abandoned' AND counsellor_id IS NULL",
                                        1, T),
                     1);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo_order_within_a_topic, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_sessions_go_only_to_counsellors_of_their_topic,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_priority_topic_is_served_first, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_higher_priority_arrival_moves_waiting_position_back,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_positions_are_what_the_counsellors_will_take_and_nobody_is_said, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_position_and_eta_are_pushed_and_decrease,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_fan_out_reaches_every_waiting_person_and_counsellor,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_summary_counts_a_routed_chat_for_its_counsellor,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_capacity_is_respected_and_status_lowers_it,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_leaving_before_pickup_is_abandoned_without_counsellor,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_offer_goes_to_least_loaded_and_moves_on_after_decline_or_timeout, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_offer_is_withdrawn_when_the_young_person_leaves,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
