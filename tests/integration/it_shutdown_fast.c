/* it_shutdown_fast.c — SIGTERM with nobody chatting does not wait for the drain
 * (PROTOCOL.md §5.2 Shutdown): people who only wait are told (`shutdown` with
 * in 0, `ended` shutdown, close 1001) and the server exits at once, although
 * shutdown_drain is 30 s. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T        5000
#define BOUND_MS 3000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_sigterm_with_only_waiting_people_tells_them_and_exits_at_once(void **state)
{
    struct harness *h = *state;
    harness_set(h, "shutdown_drain", "30");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *y1, *y2;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0); /* logged in, not chatting */
    assert_int_equal(client_connect(&y1, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y1, "family", T), 0);
    assert_int_equal(client_connect(&y2, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y2, "prison", T), 0);

    int64_t t0 = mono_ms();
    assert_int_equal(kill(harness_pid(h), SIGTERM), 0);
    struct client *young[2] = {y1, y2};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(client_wait_shutdown(young[i], T), 0);
        assert_int_equal(young[i]->shutdown_in, 0);
        assert_int_equal(client_expect(young[i], "ended", NULL, T), 0);
        assert_string_equal(client_young_session(young[i])->ended_reason, "shutdown");
        assert_int_equal(client_wait_close(young[i], T), 1001);
    }
    assert_int_equal(client_wait_close(anna, T), 1001);
    assert_int_equal(harness_wait_exit(h, T), 0);
    int64_t took = mono_ms() - t0;
    printf("exit %lld ms after SIGTERM (drain 30 s, 2 waiting, no chat)\n", (long long)took);
    assert_true(took < BOUND_MS);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                         "'shutdown' AND duration_seconds = 0"),
                     2);
    client_free(y1);
    client_free(y2);
    client_free(anna);
    harness_pass(h);
}

/* A chat keeps the drain going; when it ends, the server stops without
 * waiting for the rest of the drain, though people still wait. */
static void test_drain_stops_when_the_last_chat_ends_though_people_wait(void **state)
{
    struct harness *h = *state;
    harness_set(h, "shutdown_drain", "30");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young, *waiting;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    assert_int_equal(client_connect(&waiting, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T),
                     0);
    assert_int_equal(client_young_hello(waiting, "prison", T), 0);

    assert_int_equal(kill(harness_pid(h), SIGTERM), 0);
    assert_int_equal(client_wait_shutdown(young, T), 0);
    assert_int_equal(young->shutdown_in, 30);
    assert_int_equal(client_wait_shutdown(waiting, T), 0);
    harness_sleep_ms(500);
    assert_int_equal(harness_wait_exit(h, 100), -ETIMEDOUT); /* the chat holds it */
    int64_t t0 = mono_ms();
    assert_int_equal(client_end(anna, cs), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    assert_int_equal(client_expect(waiting, "ended", NULL, T), 0);
    assert_string_equal(client_young_session(waiting)->ended_reason, "shutdown");
    assert_int_equal(harness_wait_exit(h, T), 0);
    int64_t took = mono_ms() - t0;
    printf("exit %lld ms after the last chat ended\n", (long long)took);
    assert_true(took < BOUND_MS);
    client_free(young);
    client_free(waiting);
    client_free(anna);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_sigterm_with_only_waiting_people_tells_them_and_exits_at_once, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_drain_stops_when_the_last_chat_ends_though_people_wait,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
