/* it_admission — admission work grows with one source's share of the queue
 * (issue 11: "the queue can be filled for free"). With the shipped defaults
 * (pow_threshold 100 = max_connections_per_source 100) one script queued 100
 * people in 0.3 s without any work. Now, alone in the queue, a source's fourth
 * young person is challenged (pow_source_free 3), with more bits than the
 * queue length alone would ask, and every further one pays twice as much. All
 * clients of this test come from 127.0.0.1: one source. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define T 30000
#define N 6

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_one_source_pays_from_its_fourth_waiting_person_more_each_time(void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_source_free", "3"); /* the default (the harness lifts it) */
    assert_int_equal(harness_start(h), 0);
    struct client *y[N];
    /* bits expected for the k-th hello: alone in the queue, mine = waiting = k - 1:
     * pow_bits 16 + (mine - 3) + 4 * mine / waiting */
    static const int want_bits[N] = {0, 0, 0, 20, 21, 22};
    uint64_t total_hashes = 0;
    int64_t t_all = mono_ms();
    for (int k = 0; k < N; k++) {
        assert_int_equal(client_connect(&y[k], HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T),
                         0);
        y[k]->auto_pow = false;
        int rc = client_young_hello(y[k], "family", T);
        fprintf(stderr, "hello %d from one source: %s, bits %lld\n", k + 1,
                rc == 0         ? "welcome"
                : rc == -EAGAIN ? "challenge"
                                : "error",
                rc == -EAGAIN ? (long long)y[k]->pow_bits : 0LL);
        if (want_bits[k] == 0) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, -EAGAIN);
        assert_int_equal(y[k]->pow_bits, want_bits[k]);
        uint8_t nonce[8];
        uint64_t hashes = 0;
        assert_int_equal(client_pow_solve(y[k]->pow_seed, (int)y[k]->pow_bits, nonce, &hashes), 0);
        total_hashes += hashes;
        assert_int_equal(client_young_hello_pow(y[k], "family", nonce, T), 0);
        assert_int_equal(y[k]->pos, k + 1);
    }
    printf("%d people queued from one source: %llu hashes of admission work, %lld ms in all "
           "(before: none below 100 waiting)\n",
           N, (unsigned long long)total_hashes, (long long)(mono_ms() - t_all));
    /* the waiting people are all there, in order */
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
    for (int k = 0; k < N; k++)
        client_free(y[k]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Per-source limits off (behind a reverse proxy without a trusted proxy every
 * client has the proxy's address): sources say nothing, only the queue length
 * asks for work, as before. */
static void test_per_source_off_only_the_queue_length_counts(void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_source_free", "3");
    harness_set(h, "max_connections_per_source", "0");
    assert_int_equal(harness_start(h), 0);
    struct client *y[N];
    for (int k = 0; k < N; k++) {
        assert_int_equal(client_connect(&y[k], HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T),
                         0);
        y[k]->auto_pow = false;
        assert_int_equal(client_young_hello(y[k], "family", T), 0);
    }
    for (int k = 0; k < N; k++)
        client_free(y[k]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_one_source_pays_from_its_fourth_waiting_person_more_each_time, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_per_source_off_only_the_queue_length_counts,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
