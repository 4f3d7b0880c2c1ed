/* Tests for server/src/log.c: the address scrubber. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static void check(const char *in, const char *must_not_contain)
{
    char buf[256];
    strcpy(buf, in);
    log_scrub(buf);
    assert_null(strstr(buf, must_not_contain));
}

static void test_scrub_removes_ipv4(void **state)
{
    check("peer 192.168.17.4 connected", "192.168");
    check("10.0.0.1:443", "10.0.0.1");
    check("127.0.0.1", "127.0.0");
}

static void test_scrub_removes_ipv6(void **state)
{
    check("from 2001:db8::ff00:42:8329 now", "2001:db8");
    check("[::1]:8080", "::1");
    check("fe80::1ff:fe23:4567:890a%eth0", "fe80");
    check("::ffff:192.0.2.128", "192.0.2");
}

static void test_scrub_keeps_times_and_ordinary_text(void **state)
{
    char buf[128] = "session ended at 12:30:00, waited 3 s, version 1.2";
    log_scrub(buf);
    assert_string_equal(buf, "session ended at 12:30:00, waited 3 s, version 1.2");
}

static void test_level_parse(void **state)
{
    enum log_level l;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_not_equal(log_level_parse("verbose", &l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_removes_ipv4),
        cmocka_unit_test(test_scrub_removes_ipv6),
        cmocka_unit_test(test_scrub_keeps_times_and_ordinary_text),
        cmocka_unit_test(test_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
