/* Tests for server/src/hours.c: parsing, open/closed, next opening across days
 * and a daylight-saving change, ISO formatting with offset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hours.h"

static time_t local(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_isdst = -1};
    return mktime(&tm);
}

static int setup(void **state)
{
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    return 0;
}

static void test_parse_accepts_always_and_lists(void **state)
{
    struct hours h;
    assert_int_equal(hours_parse(&h, "always"), 0);
    assert_true(h.always);
    assert_int_equal(hours_parse(&h, "mon-fri 14:00-20:00, sat 10:00-14:00"), 0);
    assert_int_equal(h.count, 6);
    assert_int_equal(hours_parse(&h, "sun 00:00-24:00"), 0);
}

static void test_parse_rejects_bad_text(void **state)
{
    struct hours h;
    const char *bad[] = {"", "never", "mon 14:00", "mon 20:00-14:00", "fri-mon 10:00-12:00",
                         "mon 25:00-26:00", "mon 10:60-11:00", "mon 10:00-11:00,", "mon 10:00-11:00 x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(hours_parse(&h, bad[i]), 0);
}

static void test_open_inside_and_closed_outside(void **state)
{
    struct hours h;
    hours_parse(&h, "mon-fri 14:00-20:00");
    /* 2026-11-25 is a Wednesday */
    assert_true(hours_is_open(&h, local(2026, 11, 25, 14, 0)));
    assert_true(hours_is_open(&h, local(2026, 11, 25, 19, 59)));
    assert_false(hours_is_open(&h, local(2026, 11, 25, 20, 0)));
    assert_false(hours_is_open(&h, local(2026, 11, 25, 13, 59)));
    assert_false(hours_is_open(&h, local(2026, 11, 28, 15, 0))); /* Saturday */
}

static void test_next_open_same_day_next_day_and_after_weekend(void **state)
{
    struct hours h;
    hours_parse(&h, "mon-fri 14:00-20:00");
    assert_int_equal(hours_next_open(&h, local(2026, 11, 25, 9, 30)), local(2026, 11, 25, 14, 0));
    assert_int_equal(hours_next_open(&h, local(2026, 11, 25, 21, 0)), local(2026, 11, 26, 14, 0));
    assert_int_equal(hours_next_open(&h, local(2026, 11, 27, 20, 30)), local(2026, 11, 30, 14, 0));
    time_t open = local(2026, 11, 25, 15, 0);
    assert_int_equal(hours_next_open(&h, open), open);
}

static void test_next_open_across_daylight_saving_change(void **state)
{
    struct hours h;
    hours_parse(&h, "sun 10:00-12:00");
    /* 2026-03-29 clocks go forward at 02:00 in Berlin */
    time_t next = hours_next_open(&h, local(2026, 3, 28, 12, 0));
    assert_int_equal(next, local(2026, 3, 29, 10, 0));
    char iso[40];
    hours_format_iso(next, iso, sizeof(iso));
    assert_string_equal(iso, "2026-03-29T10:00:00+02:00");
}

static void test_format_iso_has_colon_offset(void **state)
{
    char iso[40];
    hours_format_iso(local(2026, 11, 26, 14, 0), iso, sizeof(iso));
    assert_string_equal(iso, "2026-11-26T14:00:00+01:00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_always_and_lists),
        cmocka_unit_test(test_parse_rejects_bad_text),
        cmocka_unit_test(test_open_inside_and_closed_outside),
        cmocka_unit_test(test_next_open_same_day_next_day_and_after_weekend),
        cmocka_unit_test(test_next_open_across_daylight_saving_change),
        cmocka_unit_test(test_format_iso_has_colon_offset),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
