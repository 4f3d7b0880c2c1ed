/* test_metrics.c — server/src/metrics.c without a running server: the
 * exposition's shape (HELP/TYPE per family, counters in _total, cumulative
 * histogram), values taken from the counters, the buffer bound, and the
 * metrics token check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "config.h"
#include "hub.h"
#include "metrics.h"
#include "session.h"

static struct config cfg;
static struct hub hub;
static struct session_table sessions;

static int setup(void **state)
{
    (void)state;
    char err[256];
    /* metrics_token is taken from a file only (config.c) */
    static char text[] = "topics = family,crisis\nmetrics_token = a-token-of-sixteen-plus\n";
    FILE *f = fmemopen(text, sizeof text - 1, "r");
    if (!f)
        return -1;
    int rc = config_load_stream(&cfg, f, "test", err, sizeof err);
    fclose(f);
    if (sodium_init() < 0 || rc != 0)
        return -1;
    memset(&hub, 0, sizeof hub);
    hub.cfg = &cfg;
    hub.sessions = &sessions;
    if (sessions_init(&sessions) != 0)
        return -1;
    queue_init(&hub.queue, cfg.topic_count, cfg.topic_priority);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sessions_destroy(&sessions);
    return 0;
}

static void test_metrics_exposition_has_help_type_and_the_counters(void **state)
{
    (void)state;
    hub.stats.connections_total = 7;
    hub.stats.frames_relayed = 1234;
    hub.stats.logins_failed = 3;
    hub.stats.sessions_abandoned = 2;
    hub.stats.escalations = 1;
    static char buf[65536];
    int n = metrics_render(&hub, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_int_equal(buf[n - 1], '\n');
    assert_non_null(strstr(buf, "# HELP lotse_connections_total "));
    assert_non_null(strstr(buf, "# TYPE lotse_connections_total counter\nlotse_connections_total 7\n"));
    assert_non_null(strstr(buf, "\nlotse_relayed_frames_total 1234\n"));
    assert_non_null(strstr(buf, "\nlotse_logins_total{result=\"failed\"} 3\n"));
    assert_non_null(strstr(buf, "\nlotse_sessions_abandoned_total 2\n"));
    assert_non_null(strstr(buf, "\nlotse_escalations_total 1\n"));
    assert_non_null(strstr(buf, "# TYPE lotse_queue_waiting gauge\nlotse_queue_waiting{topic=\"family\"} 0\n"
                                "lotse_queue_waiting{topic=\"crisis\"} 0\n"));
    assert_non_null(strstr(buf, "\nlotse_db_up 0\n")); /* no store */
    assert_non_null(strstr(buf, "# TYPE lotse_queue_wait_seconds histogram\n"
                                "lotse_queue_wait_seconds_bucket{le=\"10\"} 0\n"));
    assert_non_null(strstr(buf, "lotse_queue_wait_seconds_bucket{le=\"+Inf\"} 0\n"
                                "lotse_queue_wait_seconds_sum 0\nlotse_queue_wait_seconds_count 0\n"));
    /* every TYPE line follows its HELP line, every counter ends in _total */
    for (char *p = strstr(buf, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[96], type[16];
        assert_int_equal(sscanf(p, "# TYPE %95s %15s", name, type), 2);
        char help[128];
        snprintf(help, sizeof help, "# HELP %s ", name);
        assert_non_null(strstr(buf, help));
        if (!strcmp(type, "counter"))
            assert_string_equal(name + strlen(name) - 6, "_total");
    }
}

static void test_metrics_render_reports_a_buffer_too_small(void **state)
{
    (void)state;
    char small[256];
    assert_int_equal(metrics_render(&hub, small, sizeof small), -ENOSPC);
}

static void test_metrics_token_is_compared_whole(void **state)
{
    (void)state;
    const char *t = "a-token-of-sixteen-plus";
    assert_true(metrics_token_ok(&hub, t, strlen(t)));
    assert_false(metrics_token_ok(&hub, t, strlen(t) - 1));
    assert_false(metrics_token_ok(&hub, "a-token-of-sixteen-plusX", strlen(t) + 1));
    assert_false(metrics_token_ok(&hub, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_exposition_has_help_type_and_the_counters),
        cmocka_unit_test(test_metrics_render_reports_a_buffer_too_small),
        cmocka_unit_test(test_metrics_token_is_compared_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
