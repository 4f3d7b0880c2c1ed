/* Tests for server/src/ratelimit.c: token buckets and failed-login windows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "ratelimit.h"

static void test_bucket_allows_burst_then_rate(void **state)
{
    struct bucket b = {.tokens = 4, .last_ms = 0};
    for (int i = 0; i < 4; i++)
        assert_true(bucket_take(&b, 2, 4, 0));
    assert_false(bucket_take(&b, 2, 4, 0));
    assert_false(bucket_take(&b, 2, 4, 400)); /* 0.8 tokens */
    assert_true(bucket_take(&b, 2, 4, 500));  /* 1.0 token */
    assert_true(bucket_take(&b, 2, 4, 10000)); /* refilled, capped at burst */
    for (int i = 0; i < 3; i++)
        assert_true(bucket_take(&b, 2, 4, 10000));
    assert_false(bucket_take(&b, 2, 4, 10000));
}

static void test_login_refused_after_limit_per_handle(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {1};
    uint8_t other[RATELIMIT_SOURCE_BYTES] = {2};
    assert_int_equal(ratelimit_create(&rl, 3, 100, 60), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_login_allowed(rl, "anna", src, 1000));
        ratelimit_login_failed(rl, "anna", src, 1000);
    }
    assert_false(ratelimit_login_allowed(rl, "anna", src, 2000));
    assert_false(ratelimit_login_allowed(rl, "anna", other, 2000)); /* per handle, any source */
    assert_true(ratelimit_login_allowed(rl, "ben", src, 2000));
    assert_true(ratelimit_login_allowed(rl, "anna", src, 1000 + 60000)); /* window over */
    ratelimit_destroy(rl);
}

static void test_login_refused_after_limit_per_source(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {7};
    assert_int_equal(ratelimit_create(&rl, 100, 2, 60), 0);
    ratelimit_login_failed(rl, "a", src, 0);
    ratelimit_login_failed(rl, "b", src, 0);
    assert_false(ratelimit_login_allowed(rl, "c", src, 1));
    ratelimit_destroy(rl);
}

static void test_success_clears_handle_failures(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {0}; /* unknown source: per handle only */
    assert_int_equal(ratelimit_create(&rl, 2, 2, 60), 0);
    ratelimit_login_failed(rl, "anna", src, 0);
    ratelimit_login_succeeded(rl, "anna");
    ratelimit_login_failed(rl, "anna", src, 0);
    assert_true(ratelimit_login_allowed(rl, "anna", src, 0));
    ratelimit_destroy(rl);
}

static void test_many_handles_do_not_grow_memory_or_crash(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {3};
    assert_int_equal(ratelimit_create(&rl, 5, 1000000, 60), 0);
    char handle[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(handle, sizeof(handle), "user%d", i);
        ratelimit_login_failed(rl, handle, src, i);
    }
    ratelimit_destroy(rl);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_allows_burst_then_rate),
        cmocka_unit_test(test_login_refused_after_limit_per_handle),
        cmocka_unit_test(test_login_refused_after_limit_per_source),
        cmocka_unit_test(test_success_clears_handle_failures),
        cmocka_unit_test(test_many_handles_do_not_grow_memory_or_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
