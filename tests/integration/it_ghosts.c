/* it_ghosts.c — nobody waits in the queue who is not there (PROTOCOL.md §5,
 * §5.2).
 *
 * A young person who closes cleanly while waiting (close 1000 as "Warten
 * beenden" does) has left: the wait ends at once as abandoned, long before
 * resume_grace. A browser closes with 1001 both when the tab closes and when the
 * page reloads: the place is kept for unload_grace only, so a reload resumes it.
 * One whose connection drops without a close frame keeps the place for
 * resume_grace. Whoever is away is handed to no counsellor (take, offers) and
 * counted in nobody's position; after a resume the place is theirs again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T 5000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until c's last `queue` update says pos. */
static int wait_pos(struct client *c, int64_t pos, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    while (c->pos != pos) {
        int64_t left = end - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = client_expect(c, "queue", NULL, (int)left);
        if (rc < 0 && rc != -ETIMEDOUT)
            return rc;
    }
    return 0;
}

static struct client *young(struct harness *h, const char *topic)
{
    struct client *c;
    assert_int_equal(harness_young(h, topic, &c), 0);
    return c;
}

static void test_clean_close_while_waiting_ends_the_wait_at_once(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "120");
    harness_set(h, "unload_grace", "2");
    assert_int_equal(harness_start(h), 0);
    struct client *y1 = young(h, "family"), *y2 = young(h, "family"), *y3 = young(h, "family");
    assert_int_equal(y3->pos, 3);

    /* "Warten beenden": close 1000 ends the wait at once */
    int64_t t0 = mono_ms();
    assert_true(ws_close(y1->ws, 1000, T) >= 0);
    assert_int_equal(wait_pos(y3, 2, T), 0);
    assert_int_equal(wait_pos(y2, 1, T), 0);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason = "
                                        "'abandoned'",
                                        1, T),
                     1);
    int64_t took = mono_ms() - t0;
    printf("close 1000 while waiting: abandoned after %lld ms (resume_grace 120 s)\n",
           (long long)took);
    assert_true(took < 3000); /* the queue push comes with the next tick (1 s) */

    /* the tab closed (close 1001, also a reload): not counted at once, the
     * place kept only for unload_grace (2 s), then abandoned */
    t0 = mono_ms();
    assert_true(ws_close(y2->ws, 1001, T) >= 0);
    assert_int_equal(wait_pos(y3, 1, T), 0);
    struct client *anna;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_take(anna, &cs, T), 0); /* the one who is there */
    assert_string_equal(cs->sid_hex, client_young_session(y3)->sid_hex);
    assert_int_equal(client_take(anna, &cs, T), -EPROTO);
    assert_string_equal(anna->err_code, "queue_empty");
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM sessions WHERE end_reason = "
                                        "'abandoned'",
                                        2, 2000 + T),
                     2);
    took = mono_ms() - t0;
    printf("close 1001 while waiting: abandoned after %lld ms (unload_grace 2 s)\n",
           (long long)took);
    assert_true(took >= 1500 && took < 2000 + T);

    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A reload while waiting: the browser closes with 1001 and resumes at once. */
static void test_reload_while_waiting_keeps_the_place(void **state)
{
    struct harness *h = *state;
    harness_set(h, "unload_grace", "5");
    assert_int_equal(harness_start(h), 0);
    struct client *y1 = young(h, "family"), *y2 = young(h, "family");
    assert_true(ws_close(y1->ws, 1001, T) >= 0);
    assert_int_equal(wait_pos(y2, 1, T), 0);
    assert_int_equal(client_reconnect(y1, T), 0);
    assert_int_equal(client_resume(y1, true, T), 0);
    assert_string_equal(y1->resumed_state, "waiting");
    assert_int_equal(y1->pos, 1);
    assert_int_equal(wait_pos(y2, 2, T), 0);
    client_free(y1);
    client_free(y2);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void
test_dropped_waiting_person_keeps_the_place_but_is_not_counted_or_handed_out(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "120");
    assert_int_equal(harness_start(h), 0);
    struct client *y1 = young(h, "family"), *y2 = young(h, "family"), *y3 = young(h, "family");
    assert_int_equal(y3->pos, 3);

    /* y1's line drops (no close frame): positions count only people present */
    client_drop(y1);
    assert_int_equal(wait_pos(y2, 1, T), 0);
    assert_int_equal(wait_pos(y3, 2, T), 0);

    /* take hands out y2, not the absent y1 */
    struct client *anna;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_take(anna, &cs, T), 0);
    assert_string_equal(cs->sid_hex, client_young_session(y2)->sid_hex);
    assert_int_equal(wait_pos(y3, 1, T), 0);

    /* y1 comes back within the grace: the place it held, ahead of y3 */
    assert_int_equal(client_reconnect(y1, T), 0);
    assert_int_equal(client_resume(y1, false, T), 0);
    assert_string_equal(y1->resumed_state, "waiting");
    assert_int_equal(y1->pos, 1);
    assert_int_equal(wait_pos(y3, 2, T), 0);
    struct client_session *cs2;
    assert_int_equal(client_take(anna, &cs2, T), 0);
    assert_string_equal(cs2->sid_hex, client_young_session(y1)->sid_hex);
    /* nothing was ended on the way */
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL"), 0);

    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_offer_mode_offers_nobody_who_is_away(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "120");
    harness_set(h, "assign_mode", "offer");
    assert_int_equal(harness_start(h), 0);
    struct client *anna;
    char sid[33];
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    struct client *y1 = young(h, "family");
    assert_int_equal(client_wait_offer(anna, sid, T), 0);
    assert_string_equal(sid, client_young_session(y1)->sid_hex);

    /* the line drops while the offer is open: the offer is taken back and not
     * made again while y1 is away */
    client_drop(y1);
    assert_int_equal(client_expect(anna, "offer_withdrawn", NULL, T), 0);
    assert_int_equal(client_wait_offer(anna, sid, 1500), -ETIMEDOUT);

    /* back: offered again */
    assert_int_equal(client_reconnect(y1, T), 0);
    assert_int_equal(client_resume(y1, false, T), 0);
    assert_int_equal(client_wait_offer(anna, sid, T), 0);
    assert_string_equal(sid, client_young_session(y1)->sid_hex);

    client_free(y1);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_close_while_waiting_ends_the_wait_at_once,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_reload_while_waiting_keeps_the_place, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_dropped_waiting_person_keeps_the_place_but_is_not_counted_or_handed_out,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_offer_mode_offers_nobody_who_is_away, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
