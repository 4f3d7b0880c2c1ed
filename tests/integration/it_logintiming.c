/* it_logintiming.c — a login for a handle that does not exist takes as long as
 * a wrong password for one that does (issue 11, low): the dummy hash that
 * unknown handles are checked against has the accounts' Argon2id cost (setting
 * pwhash_cost, the same name as lotsectl --pwhash-cost). */
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

#define T      5000
#define ROUNDS 15

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds from sending login to its auth_failed, on an open connection. */
static int64_t time_failed_login(struct harness *h, const char *handle)
{
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, h->org_pk, T), 0);
    int64_t t0 = now_us();
    int rc = client_login(c, handle, "not the password", T);
    int64_t dt = now_us() - t0;
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(c->err_code, "auth_failed");
    client_free(c);
    return dt;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_unknown_handle_costs_as_long_as_a_wrong_password(void **state)
{
    struct harness *h = *state;
    /* every attempt is a failure: no backoff may answer early */
    harness_set(h, "login_fail_per_handle", "1000");
    harness_set(h, "login_fail_per_source", "100000");
    assert_int_equal(harness_start(h), 0);
    int64_t known[ROUNDS], unknown[ROUNDS];
    (void)time_failed_login(h, "anna"); /* warm up both paths */
    (void)time_failed_login(h, "nobody.here");
    for (int i = 0; i < ROUNDS; i++) { /* interleaved, so drift hits both alike */
        char name[32];
        snprintf(name, sizeof name, "nobody%d", i);
        known[i] = time_failed_login(h, "anna");
        unknown[i] = time_failed_login(h, name);
    }
    qsort(known, ROUNDS, sizeof known[0], cmp64);
    qsort(unknown, ROUNDS, sizeof unknown[0], cmp64);
    int64_t mk = known[ROUNDS / 2], mu = unknown[ROUNDS / 2];
    printf("# median failed login: existing handle %lld us, unknown handle %lld us (ratio %.2f)\n",
           (long long)mk, (long long)mu, (double)mu / (double)mk);
    /* Same Argon2id parameters: the medians differ by noise only. A dummy hash
     * of another cost (interactive, 64 MiB, against accounts at the minimum)
     * takes tens of times as long. */
    assert_true(mu * 2 >= mk && mk * 2 >= mu);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_handle_costs_as_long_as_a_wrong_password,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
