/* it_shutdown.c — SIGTERM with a running chat (PROTOCOL.md §5.2 Shutdown).
 *
 * The server announces `shutdown` with the drain time, refuses new work with
 * `shutting_down`, lets the running chat go on until the drain is over, then
 * ends it with reason shutdown, writes its row, closes with 1001 and exits 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T 5000
#define DRAIN 3

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_sigterm_drains_running_chat_then_ends_it_as_shutdown_closes_1001_exits_0(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "shutdown_drain", "3");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    struct client_session *ys = client_young_session(young);
    char got[LOTSE_MAX_MESSAGE + 1];

    int64_t t0 = mono_ms();
    assert_int_equal(kill(harness_pid(h), SIGTERM), 0);
    assert_int_equal(client_wait_shutdown(young, T), 0);
    assert_int_equal(client_wait_shutdown(anna, T), 0);
    assert_int_equal(young->shutdown_in, DRAIN);
    assert_int_equal(anna->shutdown_in, DRAIN);

    /* The chat still works during the drain. */
    assert_int_equal(client_send_text(young, ys, "are you still there?", 20), 0);
    assert_int_equal(client_recv_text(anna, NULL, got, sizeof got, T), 20);
    assert_int_equal(client_send_text(anna, cs, "yes, a moment more", 18), 0);
    assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), 18);
    assert_string_equal(got, "yes, a moment more");

    /* New work is refused. */
    struct client *late;
    assert_int_equal(client_connect(&late, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    int rc = client_young_hello(late, "family", T);
    if (rc != -EPROTO)
        fprintf(stderr, "hello during the drain: %d (close code %d, error \"%s\")\n", rc,
                late->ws->close_code, late->err_code);
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(late->err_code, "shutting_down");
    assert_int_equal(client_wait_close(late, T), 1001);
    client_free(late);
    struct client *staff;
    assert_int_equal(client_connect(&staff, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, NULL, T), 0);
    rc = client_login(staff, "ben", harness_account(h, "ben")->password, T);
    if (rc != -EPROTO)
        fprintf(stderr, "login during the drain: %d (close code %d, error \"%s\")\n", rc,
                staff->ws->close_code, staff->err_code);
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(staff->err_code, "shutting_down");
    client_free(staff);
    assert_true(mono_ms() - t0 < DRAIN * 1000);

    /* After the drain: ended (shutdown) on both sides, then close 1001. */
    assert_int_equal(client_expect(young, "ended", NULL, DRAIN * 1000 + T), 0);
    int64_t ended_after = mono_ms() - t0;
    assert_true(ended_after >= DRAIN * 1000 - 300);
    assert_string_equal(ys->ended_reason, "shutdown");
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_string_equal(cs->ended_reason, "shutdown");
    assert_int_equal(client_wait_close(young, T), 1001);
    assert_int_equal(client_wait_close(anna, T), 1001);
    printf("drain: ended after %lld ms of %d s\n", (long long)ended_after, DRAIN);

    assert_int_equal(harness_wait_exit(h, T), 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                         "'shutdown' AND topic = 'family'"), 1);
    client_free(young);
    client_free(anna);
    harness_pass(h);
}

static void test_sigterm_with_nothing_running_exits_before_the_drain_is_over(void **state)
{
    struct harness *h = *state;
    harness_set(h, "shutdown_drain", "30");
    assert_int_equal(harness_start(h), 0);
    int64_t t0 = mono_ms();
    assert_int_equal(kill(harness_pid(h), SIGTERM), 0);
    /* "until the drain time is over (or all have ended)": nothing runs. */
    assert_int_equal(harness_wait_exit(h, T), 0);
    assert_true(mono_ms() - t0 < T);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_sigterm_drains_running_chat_then_ends_it_as_shutdown_closes_1001_exits_0,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_sigterm_with_nothing_running_exits_before_the_drain_is_over, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
