/* it_hours.c — opening hours (PROTOCOL.md §4.1): outside them a young person
 * gets `closed` with the next opening time and the connection closes with 4003;
 * inside them (or with "always") the young person is queued. */
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

#define T 5000
#define ZONE "Europe/Berlin"

static const char *const DAYS[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Local broken-down time in ZONE. */
static void zone_time(time_t t, struct tm *out)
{
    setenv("TZ", ZONE, 1);
    tzset();
    localtime_r(&t, out);
}

/* Parses "YYYY-MM-DDTHH:MM:SS+hh:mm" into Unix time; -1 if malformed. */
static time_t parse_iso(const char *s)
{
    int y, mo, d, hh, mm, ss, oh, om;
    char sign;
    if (strlen(s) != 25 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d:%2d", &y, &mo, &d, &hh, &mm, &ss,
                                  &sign, &oh, &om) != 9 || (sign != '+' && sign != '-'))
        return (time_t)-1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = hh,
                    .tm_min = mm, .tm_sec = ss};
    time_t utc = timegm(&tm);
    int off = (oh * 60 + om) * 60;
    return sign == '+' ? utc - off : utc + off;
}

static void test_outside_opening_hours_gets_closed_with_next_open_and_4003(void **state)
{
    struct harness *h = *state;
    /* Open one hour on the weekday two days from now: certainly closed now. */
    time_t now = time(NULL);
    struct tm later;
    zone_time(now + 2 * 86400, &later);
    char hours[64];
    snprintf(hours, sizeof hours, "%s 10:00-11:00", DAYS[later.tm_wday]);
    later.tm_hour = 10;
    later.tm_min = 0;
    later.tm_sec = 0;
    later.tm_isdst = -1;
    time_t expect = mktime(&later);
    harness_set(h, "opening_hours", hours);
    harness_set(h, "timezone", ZONE);
    assert_int_equal(harness_start(h), 0);

    struct client *y;
    assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y, "family", T), -EHOSTDOWN);
    fprintf(stderr, "closed: next_open %s, hours \"%s\"\n", y->next_open, y->hours);
    assert_int_equal(parse_iso(y->next_open), expect);
    /* The offset is the zone's at that moment (+01:00 or +02:00 in Berlin). */
    assert_true(strcmp(y->next_open + 19, "+01:00") == 0 || strcmp(y->next_open + 19, "+02:00") == 0);
    assert_true(y->hours[0] != 0);
    assert_int_equal(client_wait_close(y, T), 4003);
    assert_null(client_young_session(y));
    client_free(y);
    /* Counsellors can still log in outside the hours (to prepare). */
    struct client *anna;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_inside_opening_hours_queues(void **state)
{
    struct harness *h = *state;
    time_t now = time(NULL);
    struct tm tm;
    zone_time(now, &tm);
    int m = tm.tm_hour * 60 + tm.tm_min;
    int from = m >= 60 ? m - 60 : 0, to = m + 60 <= 1440 ? m + 60 : 1440; /* 24:00 = midnight */
    char hours[64];
    snprintf(hours, sizeof hours, "%s %02d:%02d-%02d:%02d", DAYS[tm.tm_wday], from / 60, from % 60,
             to / 60, to % 60);
    harness_set(h, "opening_hours", hours);
    harness_set(h, "timezone", ZONE);
    assert_int_equal(harness_start(h), 0);
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(y->pos, 1);
    client_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_always_open_queues(void **state)
{
    struct harness *h = *state;
    harness_set(h, "opening_hours", "always");
    assert_int_equal(harness_start(h), 0);
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(y->pos, 1);
    assert_true(y->grace > 0);
    client_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outside_opening_hours_gets_closed_with_next_open_and_4003,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_inside_opening_hours_queues, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_always_open_queues, harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
