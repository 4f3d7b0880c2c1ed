/* it_metrics.c — Prometheus /metrics: where it answers (metrics port, or main
 * port with the Bearer token, else 404), a strict parse of the exposition with
 * the values a scripted scenario must show, and promtool's verdict when
 * promtool is installed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define T 5000
#define TOKEN "metrics-token-for-the-test-0123456789"
#define BODY_CAP (128 * 1024)

#define MAX_SERIES 256
struct series {
    char name[96];   /* metric name */
    char labels[96]; /* "" or the text between the braces */
    double value;
};
struct exposition {
    struct series s[MAX_SERIES];
    int n;
};

static bool name_ok(const char *n)
{
    if (strncmp(n, "lotse_", 6) != 0)
        return false;
    for (const char *p = n; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

/* Parses the text strictly: every sample belongs to a family announced by one
 * HELP and one TYPE line before it; counters end in _total; histogram samples
 * are _bucket/_sum/_count; no series twice; the text ends with a newline. */
static void parse(const char *text, struct exposition *e)
{
    char family[96] = "", type[16] = "";
    e->n = 0;
    size_t len = strlen(text);
    assert_true(len > 0 && text[len - 1] == '\n');
    char *copy = strdup(text), *save = NULL;
    bool help_seen = false;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "# HELP ", 7)) {
            assert_int_equal(sscanf(line + 7, "%95s", family), 1);
            assert_true(name_ok(family));
            assert_true(strlen(line) > 8 + strlen(family)); /* a help text follows */
            help_seen = true;
            type[0] = 0;
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            char n[96];
            assert_int_equal(sscanf(line + 7, "%95s %15s", n, type), 2);
            assert_true(help_seen);
            assert_string_equal(n, family);
            assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram"));
            if (!strcmp(type, "counter"))
                assert_true(strlen(n) > 6 && !strcmp(n + strlen(n) - 6, "_total"));
            else
                assert_false(strlen(n) > 6 && !strcmp(n + strlen(n) - 6, "_total"));
            continue;
        }
        assert_true(line[0] != '#');
        assert_true(type[0]);
        struct series *s = &e->s[e->n];
        assert_true(e->n < MAX_SERIES);
        size_t nl = strcspn(line, "{ ");
        assert_true(nl < sizeof s->name);
        memcpy(s->name, line, nl);
        s->name[nl] = 0;
        const char *p = line + nl;
        s->labels[0] = 0;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            assert_non_null(close);
            assert_true((size_t)(close - p - 1) < sizeof s->labels);
            memcpy(s->labels, p + 1, (size_t)(close - p - 1));
            s->labels[close - p - 1] = 0;
            p = close + 1;
        }
        assert_true(*p == ' ');
        char *end;
        s->value = strtod(p + 1, &end);
        assert_true(end != p + 1 && *end == 0);
        if (!strcmp(type, "histogram")) {
            char b[128];
            snprintf(b, sizeof b, "%s_bucket", family);
            bool ok = !strcmp(s->name, b);
            snprintf(b, sizeof b, "%s_sum", family);
            ok = ok || !strcmp(s->name, b);
            snprintf(b, sizeof b, "%s_count", family);
            ok = ok || !strcmp(s->name, b);
            assert_true(ok);
        } else {
            assert_string_equal(s->name, family);
        }
        for (int i = 0; i < e->n; i++)
            assert_false(!strcmp(e->s[i].name, s->name) && !strcmp(e->s[i].labels, s->labels));
        e->n++;
    }
    free(copy);
}

/* The value of one series; fails the test when it is missing. */
static double value(const struct exposition *e, const char *name, const char *labels)
{
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->s[i].name, name) && !strcmp(e->s[i].labels, labels ? labels : ""))
            return e->s[i].value;
    fail_msg("no series %s{%s}", name, labels ? labels : "");
    return -1;
}

/* promtool check metrics < body: 0 valid, 3 lint warnings only. -1 when
 * promtool is not installed (the strict parse above still ran). */
static int promtool(struct harness *h, const char *body)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: skipping its check\n");
        return -1;
    }
    char path[512];
    snprintf(path, sizeof path, "/tmp/lotse-metrics-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int st = system(cmd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void test_metrics_on_main_port_need_the_token_and_show_the_scenario(void **state)
{
    struct harness *h = *state;
    harness_set(h, "metrics_token", TOKEN);
    assert_int_equal(harness_start(h), 0);
    char *body = malloc(BODY_CAP);
    int status;
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", NULL, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 401);
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", "metrics-token-for-the-test-0123456788",
                                           &status, body, BODY_CAP), 0);
    assert_int_equal(status, 401);
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", "short", &status, body, BODY_CAP), 0);
    assert_int_equal(status, 401);

    /* one failed login, one waiting, one abandoned, one running session with an
     * escalation, one ended */
    struct client *bad;
    assert_int_equal(client_connect(&bad, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, NULL, T), 0);
    assert_int_equal(client_login(bad, "anna", "wrong-password-123", T), -EPROTO);
    client_free(bad);
    struct client *anna, *y1, *y2, *gone, *waiting;
    struct client_session *s1, *s2;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &y1, &s1), 0);
    assert_int_equal(harness_pair(h, anna, "school", &y2, &s2), 0);
    assert_int_equal(client_send_text(y1, client_young_session(y1), "hello", 5), 0);
    char text[64];
    assert_int_equal(client_recv_text(anna, NULL, text, sizeof text, T), 5);
    char msg[128];
    snprintf(msg, sizeof msg, "{\"t\":\"escalate\",\"sid\":\"%s\"}", s1->sid_hex);
    assert_int_equal(client_send_json(anna, msg), 0);
    assert_int_equal(client_expect(anna, "escalated", NULL, T), 0);
    assert_int_equal(client_end(anna, s2), 0);
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_int_equal(harness_young(h, "prison", &gone), 0);
    assert_int_equal(client_end(gone, client_young_session(gone)), 0);
    assert_int_equal(client_expect(gone, "ended", NULL, T), 0);
    assert_int_equal(harness_young(h, "family", &waiting), 0);
    /* rows are written at the start, at take and at the end (it_crash.c): y1
     * 2, y2 3, gone 2, waiting 1 */
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL",
                                        2, T), 2);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 4, T), 4);
    harness_sleep_ms(300); /* the last results reach lotsed just after the commit */

    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", TOKEN, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 200);
    struct exposition *e = calloc(1, sizeof *e);
    parse(body, e);
    /* anna, y1, waiting, and y2, whose ended chat keeps its connection open for
     * the one question after the end (PROTOCOL.md §5 "After the end") */
    assert_true(value(e, "lotse_connections_open", NULL) == 4);
    assert_true(value(e, "lotse_connections_total", NULL) >= 6);
    assert_true(value(e, "lotse_relayed_frames_total", NULL) >= 1);
    assert_true(value(e, "lotse_relayed_bytes_total", NULL) >= 28 + 272);
    assert_true(value(e, "lotse_rejected_frames_total", NULL) == 0);
    assert_true(value(e, "lotse_slow_reader_kills_total", NULL) == 0);
    assert_true(value(e, "lotse_logins_total", "result=\"ok\"") == 1);
    assert_true(value(e, "lotse_logins_total", "result=\"failed\"") == 1);
    assert_true(value(e, "lotse_rate_limited_total", NULL) == 0);
    assert_true(value(e, "lotse_db_up", NULL) == 1);
    assert_true(value(e, "lotse_db_queue_depth", NULL) >= 0);
    assert_true(value(e, "lotse_db_writes_queued_total", NULL) == 8);
    assert_true(value(e, "lotse_db_writes_done_total", NULL) == 8);
    assert_true(value(e, "lotse_db_writes_dropped_total", NULL) == 0);
    assert_true(value(e, "lotse_db_errors_total", NULL) == 0);
    assert_true(value(e, "lotse_queue_waiting", "topic=\"family\"") == 1);
    assert_true(value(e, "lotse_queue_waiting", "topic=\"school\"") == 0);
    assert_true(value(e, "lotse_queue_waiting", "topic=\"prison\"") == 0);
    assert_true(value(e, "lotse_queue_waiting", "topic=\"crisis\"") == 0);
    assert_true(value(e, "lotse_counsellors_online", NULL) == 1);
    assert_true(value(e, "lotse_counsellors_available", NULL) == 1);
    assert_true(value(e, "lotse_counsellors_at_capacity", NULL) == 0);
    assert_true(value(e, "lotse_sessions_active", NULL) == 1);
    assert_true(value(e, "lotse_sessions_started_total", NULL) == 4);
    assert_true(value(e, "lotse_sessions_ended_total", NULL) == 1);
    assert_true(value(e, "lotse_sessions_abandoned_total", NULL) == 1);
    assert_true(value(e, "lotse_escalations_total", NULL) == 1);
    assert_true(value(e, "lotse_escalations_open", NULL) == 1);
    /* two pickups and one abandonment, all within seconds */
    static const char *const les[] = {"10", "30", "60", "120", "300", "600", "1200", "1800", "3600", "+Inf"};
    for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
        char l[32];
        snprintf(l, sizeof l, "le=\"%s\"", les[i]);
        assert_true(value(e, "lotse_queue_wait_seconds_bucket", l) == 3);
    }
    assert_true(value(e, "lotse_queue_wait_seconds_count", NULL) == 3);
    assert_true(value(e, "lotse_queue_wait_seconds_sum", NULL) <= 30);
    int pt = promtool(h, body);
    assert_true(pt == -1 || pt == 0 || pt == 3);
    printf("/metrics excerpt:\n%.*s\n", 1600, body);
    free(e);
    free(body);
    client_free(y1);
    client_free(y2);
    client_free(gone);
    client_free(waiting);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_metrics_port_serves_only_metrics_and_main_port_is_404_without_token(void **state)
{
    struct harness *h = *state;
    int mport = harness_free_port();
    assert_true(mport > 0);
    char p[16];
    snprintf(p, sizeof p, "%d", mport);
    harness_set(h, "metrics_listen_port", p);
    assert_int_equal(harness_start(h), 0);
    char *body = malloc(BODY_CAP);
    int status;
    assert_int_equal(harness_http_get_auth(h, mport, "/metrics", NULL, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 200);
    struct exposition *e = calloc(1, sizeof *e);
    parse(body, e);
    assert_true(value(e, "lotse_db_up", NULL) == 1);
    int pt = promtool(h, body);
    assert_true(pt == -1 || pt == 0 || pt == 3);
    assert_int_equal(harness_http_get_auth(h, mport, "/healthz", NULL, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 404);
    assert_int_equal(harness_http_get_auth(h, mport, "/index.html", NULL, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 404);
    /* no token configured: the main port does not have /metrics at all */
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", NULL, &status, body, BODY_CAP), 0);
    assert_int_equal(status, 404);
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", "anything-at-all-0123", &status, body,
                                           BODY_CAP), 0);
    assert_int_equal(status, 404);
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
    free(e);
    free(body);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_on_main_port_need_the_token_and_show_the_scenario,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_metrics_port_serves_only_metrics_and_main_port_is_404_without_token, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
