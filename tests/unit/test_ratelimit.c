/* Tests for server/src/ratelimit.c: token buckets, per-source limits and
 * failed-login backoff. */
#include <errno.h>
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
    assert_false(bucket_take(&b, 2, 4, 400));  /* 0.8 tokens */
    assert_true(bucket_take(&b, 2, 4, 500));   /* 1.0 token */
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

/* Issue 11: no lock, a backoff. After the free failures the wait doubles from
 * 2 s up to the maximum, counted from the last failure; a refused attempt does
 * not lengthen it. */
static void test_failed_logins_back_off_doubling_up_to_the_maximum(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {0};
    assert_int_equal(ratelimit_create(&rl, 2, 100, 900), 0);
    ratelimit_set_backoff_max(rl, 10);
    int64_t t = 0;
    ratelimit_login_failed(rl, "anna", src, t);
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t), 0); /* 1 of 2 free */
    ratelimit_login_failed(rl, "anna", src, t);
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t), 2000);
    assert_false(ratelimit_login_allowed(rl, "anna", src, t + 1999));
    assert_true(ratelimit_login_allowed(rl, "anna", src, t + 2000));
    t += 2000;
    ratelimit_login_failed(rl, "anna", src, t);
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t), 4000);
    t += 4000;
    ratelimit_login_failed(rl, "anna", src, t);
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t), 8000);
    t += 8000;
    ratelimit_login_failed(rl, "anna", src, t);
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t), 10000); /* capped */
    for (int i = 0; i < 50; i++) /* refused attempts change nothing */
        assert_false(ratelimit_login_allowed(rl, "anna", src, t + 100));
    assert_true(ratelimit_login_allowed(rl, "anna", src, t + 10000));
    /* forgotten login_fail_window after the last failure */
    assert_int_equal(ratelimit_login_wait_ms(rl, "anna", src, t + 900000), 0);
    ratelimit_destroy(rl);
}

/* A certified device that proved its key is counted on its own: the handle's
 * failures (anyone's) do not slow it, and its own failures do. */
static void test_device_backoff_is_separate_from_the_handle(void **state)
{
    struct ratelimit *rl;
    uint8_t src[RATELIMIT_SOURCE_BYTES] = {5};
    uint8_t dev[32] = {1, 2, 3}, other[32] = {4};
    assert_int_equal(ratelimit_create(&rl, 1, 1, 900), 0);
    ratelimit_login_failed(rl, "anna", src, 0);
    ratelimit_login_failed(rl, "anna", src, 0);
    assert_false(ratelimit_login_allowed(rl, "anna", src, 0));
    assert_int_equal(ratelimit_device_wait_ms(rl, dev, 0), 0);
    ratelimit_device_failed(rl, dev, 0);
    ratelimit_device_failed(rl, dev, 0);
    assert_int_equal(ratelimit_device_wait_ms(rl, dev, 0), 4000);
    assert_int_equal(ratelimit_device_wait_ms(rl, other, 0), 0);
    ratelimit_device_succeeded(rl, dev);
    assert_int_equal(ratelimit_device_wait_ms(rl, dev, 0), 0);
    ratelimit_destroy(rl);
}

static void test_source_limit_per_minute_per_source_and_kind_table(void **state)
{
    struct ratelimit *rl;
    uint8_t a[RATELIMIT_SOURCE_BYTES] = {1}, b[RATELIMIT_SOURCE_BYTES] = {2};
    assert_int_equal(ratelimit_create(&rl, 3, 3, 60), 0);
    int64_t t = 1000000;
    for (int i = 0; i < 10; i++)
        assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t));
    assert_false(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t));
    assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, b, 10, t)); /* per source */
    assert_false(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t + 5999));
    assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t + 6000)); /* 1 per 6 s */
    assert_false(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t + 6000));
    for (int i = 0; i < 10; i++) /* a minute refills a minute's worth, no more */
        assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t + 600000));
    assert_false(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, a, 10, t + 600000));
    /* the unknown source is one source, not exempt */
    uint8_t unknown[RATELIMIT_SOURCE_BYTES] = {0};
    for (int i = 0; i < 10; i++)
        assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, unknown, 10, t));
    assert_false(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, unknown, 10, t));
    assert_false(ratelimit_take(rl, RATELIMIT_KINDS, a, 10, t));
    /* many sources: the table stays bounded and keeps working */
    for (uint32_t i = 0; i < 100000; i++) {
        uint8_t s[RATELIMIT_SOURCE_BYTES] = {0};
        memcpy(s, &i, sizeof(i));
        s[15] = 0xee;
        assert_true(ratelimit_take(rl, RATELIMIT_MAIL_LOOKUP, s, 10, t + 700000));
    }
    ratelimit_destroy(rl);
}

static void test_trusted_proxy_list_is_checked(void **state)
{
    struct ratelimit *rl;
    assert_int_equal(ratelimit_create(&rl, 5, 20, 900), 0);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, ""), 0);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, "127.0.0.1"), 0);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, "127.0.0.1, ::1,10.0.0.2"), 0);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, "localhost"), -EINVAL);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, "10.0.0.0/8"), -EINVAL);
    assert_int_equal(ratelimit_set_trusted_proxies(rl, "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,"
                                                       "6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9"),
                     -EINVAL);
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
        cmocka_unit_test(test_failed_logins_back_off_doubling_up_to_the_maximum),
        cmocka_unit_test(test_device_backoff_is_separate_from_the_handle),
        cmocka_unit_test(test_source_limit_per_minute_per_source_and_kind_table),
        cmocka_unit_test(test_trusted_proxy_list_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
