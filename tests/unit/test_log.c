/* Tests for server/src/log.c: the address scrubber. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libwebsockets.h>

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

/* Runs fn with stderr sent to a temporary file; returns what it wrote. */
static char *capture_stderr(void (*fn)(int), int arg)
{
    static char out[8192];
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return out;
}

/* An address placed so that it straddles the 1,024-byte cut, at every offset. */
static void write_long_line(int offset)
{
    char pad[1100];
    memset(pad, 'x', sizeof(pad));
    pad[offset] = ' ';
    pad[offset + 1] = '\0';
    log_write(LOG_ERROR, "%s203.0.113.254 and fe80::1ff:fe23:4567:890a end", pad);
}

static void test_long_line_is_scrubbed_before_it_is_cut(void **state)
{
    log_set_level(LOG_DEBUG);
    /* the line text starts after "<stamp> error " in the output; sweep the cut
     * over both addresses */
    for (int off = 960; off < 1040; off++) {
        const char *out = capture_stderr(write_long_line, off);
        assert_non_null(strchr(out, '\n'));
        assert_null(strstr(out, "203"));
        assert_null(strstr(out, "113"));
        assert_null(strstr(out, "fe80"));
        assert_null(strstr(out, "fe23"));
        assert_true(strlen(out) < 1024 + 64); /* still cut */
    }
}

static void lws_long_line(int offset)
{
    char pad[400];
    memset(pad, 'y', sizeof(pad));
    pad[offset] = '\0';
    lwsl_err("%s 198.51.100.77\n", pad);
}

static void test_lws_line_cut_inside_lws_leaves_no_partial_address(void **state)
{
    log_set_level(LOG_DEBUG);
    log_hook_lws(LOG_DEBUG);
    for (int off = 200; off < 300; off++) {
        const char *out = capture_stderr(lws_long_line, off);
        assert_null(strstr(out, "198.51"));
        assert_null(strstr(out, "51.100"));
        assert_null(strstr(out, "100.77"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_removes_ipv4),
        cmocka_unit_test(test_scrub_removes_ipv6),
        cmocka_unit_test(test_scrub_keeps_times_and_ordinary_text),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_long_line_is_scrubbed_before_it_is_cut),
        cmocka_unit_test(test_lws_line_cut_inside_lws_leaves_no_partial_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
