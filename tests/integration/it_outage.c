/* it_outage.c — a PostgreSQL outage must not stop running chats (DESIGN.md:
 * "A database outage must not stop chats that are running: metadata writes
 * wait in a bounded queue and are retried after reconnect").
 *
 * The shared test cluster is stopped for OUTAGE_S seconds while two chats run:
 * messages flow both ways, a new young person queues and is taken by a
 * counsellor already logged in, a login fails with db_unavailable, /healthz says
 * the database is down; rows of sessions that ended meanwhile reach the
 * database once it is back; the server never falls over and exits 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"
#include "wsclient.h"

#define T 5000
#define OUTAGE_S 60

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool healthz_db(struct harness *h, const char *want)
{
    int status = 0;
    char body[256], needle[32];
    snprintf(needle, sizeof needle, "\"db\":\"%s\"", want);
    return http_get(HARNESS_HOST, h->port, "/healthz", &status, body, sizeof body) == 0 &&
           status == 200 && strstr(body, needle) != NULL;
}

static void exchange(struct client *c, struct client_session *cs, struct client *y, int i)
{
    char msg[64], got[LOTSE_MAX_MESSAGE + 1];
    struct client_session *ys = client_young_session(y);
    int l = snprintf(msg, sizeof msg, "during outage y %d", i);
    assert_int_equal(client_send_text(y, ys, msg, (size_t)l), 0);
    assert_int_equal(client_recv_text(c, NULL, got, sizeof got, T), l);
    assert_string_equal(got, msg);
    l = snprintf(msg, sizeof msg, "during outage c %d", i);
    assert_int_equal(client_send_text(c, cs, msg, (size_t)l), 0);
    assert_int_equal(client_recv_text(y, NULL, got, sizeof got, T), l);
    assert_string_equal(got, msg);
}

static void test_chats_survive_a_60s_database_outage_and_rows_arrive_afterwards(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *y1, *y2, *y3, *y4 = NULL;
    struct client_session *s1, *s2, *s3, *s4 = NULL;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, anna, "family", &y1, &s1), 0);
    assert_int_equal(harness_pair(h, ben, "prison", &y2, &s2), 0);
    assert_int_equal(harness_pair(h, anna, "school", &y3, &s3), 0);

    int64_t t0 = mono_ms();
    assert_int_equal(harness_pg_stop(), 0);
    bool down = false;
    for (int i = 0; i < 150 && !down; i++) {
        down = healthz_db(h, "down");
        if (!down)
            harness_sleep_ms(100);
    }
    assert_true(down);

    int round = 0;
    bool login_checked = false, ended_one = false, new_chat = false;
    while (mono_ms() - t0 < OUTAGE_S * 1000) {
        exchange(anna, s1, y1, round);
        exchange(ben, s2, y2, round);
        int64_t el = mono_ms() - t0;
        if (!login_checked && el > 3000) {
            struct client *sue;
            assert_int_equal(client_connect(&sue, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, NULL, T),
                             0);
            assert_int_equal(client_login(sue, "sue", harness_account(h, "sue")->password, T),
                             -EPROTO);
            assert_string_equal(sue->err_code, "db_unavailable");
            client_free(sue);
            login_checked = true;
        }
        if (!ended_one && el > 6000) {
            /* Ends during the outage: its row must wait and arrive later. */
            assert_int_equal(client_end(y3, client_young_session(y3)), 0);
            assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
            assert_true(s3->ended);
            ended_one = true;
        }
        if (ended_one && !new_chat && el > 9000) {
            /* A newcomer queues; anna, logged in before, takes the session. */
            assert_int_equal(harness_young(h, "family", &y4), 0);
            assert_int_equal(client_take_and_key(anna, &s4, T), 0);
            assert_int_equal(client_young_wait_keys(y4, T), 0);
            exchange(anna, s4, y4, 0);
            assert_int_equal(client_end(anna, s4), 0);
            assert_int_equal(client_expect(y4, "ended", NULL, T), 0);
            new_chat = true;
        }
        assert_true(healthz_db(h, "down"));
        round++;
        harness_sleep_ms(500);
    }
    assert_true(login_checked && ended_one && new_chat);
    int outage_ms = (int)(mono_ms() - t0);
    assert_int_equal(harness_pg_start(), 0);

    /* Back: the two rows written during the outage arrive within ~15 s. */
    int64_t t1 = mono_ms();
    long rows = harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL",
                                   2, 15000);
    int catch_up_ms = (int)(mono_ms() - t1);
    assert_int_equal(rows, 2);
    /* every session has its row: the two still running are open (written at
     * their start, updated when taken), the newcomer's start row waited too */
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 4, T), 4);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NULL"
                                         " AND taken"), 2);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                         "'ended_by_young' AND topic = 'school'"), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                         "'ended_by_counsellor' AND topic = 'family'"), 1);
    bool up = false;
    for (int i = 0; i < 150 && !up; i++) {
        up = healthz_db(h, "up");
        if (!up)
            harness_sleep_ms(100);
    }
    assert_true(up);
    /* Logins work again, and the chats that ran all along still do. */
    struct client *sue;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    exchange(anna, s1, y1, round);
    exchange(ben, s2, y2, round);
    printf("database outage survived: %d ms with %d message rounds on 2 chats; rows "
           "caught up %d ms after restart\n",
           outage_ms, round, catch_up_ms);

    client_free(sue);
    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(y4);
    client_free(anna);
    client_free(ben);
    assert_int_equal(harness_stop(h), 0);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 4, T), 4);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_chats_survive_a_60s_database_outage_and_rows_arrive_afterwards, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
