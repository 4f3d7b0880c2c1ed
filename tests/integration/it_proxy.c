/* it_proxy.c — lotsed behind a real nginx (issue 11 M1). nginx (Debian's
 * package) is started on loopback with its own prefix in a temporary folder,
 * with the shipped deploy/nginx/lotse-http.conf and lotse-locations.conf in
 * front of lotsed (trusted_proxy = 127.0.0.1). Clients act as different
 * addresses by binding to 127.0.0.x. Proven here: 300 honest connections from
 * ten addresses get through, where before everyone was 127.0.0.1 and the 101st
 * was refused; per-source limits count the forwarded address; a brute forcer is
 * slowed without locking out the real counsellor; a client cannot choose its
 * own source by sending X-Forwarded-For. Everything started is stopped and the
 * folder removed in teardown. Skipped where nginx is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define T      5000
#define HONEST 300

struct proxy_test {
    struct harness *h;
    char dir[64];
    pid_t nginx;
    int port; /* nginx's */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    if (access("/usr/sbin/nginx", X_OK) != 0) {
        fprintf(stderr, "nginx not installed: skipped\n");
        return -1;
    }
    struct proxy_test *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    void *hs = NULL;
    if (harness_setup(&hs) != 0) {
        free(t);
        return -1;
    }
    t->h = hs;
    snprintf(t->dir, sizeof t->dir, "/tmp/lotse-nginx.XXXXXX");
    if (!mkdtemp(t->dir)) {
        harness_teardown(&hs);
        free(t);
        return -1;
    }
    /* lotsed trusts the nginx on loopback */
    harness_set(t->h, "trusted_proxy", "127.0.0.1");
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct proxy_test *t = *state;
    ws_set_source_address(NULL);
    if (t->nginx > 0) {
        kill(t->nginx, SIGTERM);
        int st;
        for (int i = 0; i < 50 && waitpid(t->nginx, &st, WNOHANG) == 0; i++)
            usleep(100000);
        kill(t->nginx, SIGKILL);
        waitpid(t->nginx, &st, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    void *hs = t->h;
    harness_teardown(&hs);
    free(t);
    return rc == 0 ? 0 : -1;
}

/* Starts nginx in the foreground (one process, as this user) on a free port of
 * 127.0.0.1, proxying to the running lotsed. */
static void nginx_start(struct proxy_test *t)
{
    t->port = harness_free_port();
    assert_true(t->port > 0);
    char path[128];
    snprintf(path, sizeof path, "%s/nginx.conf", t->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\nevents { worker_connections 4096; }\n"
            "http {\n  access_log off;\n"
            "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n"
            "  fastcgi_temp_path %s/tmp;\n  uwsgi_temp_path %s/tmp;\n  scgi_temp_path %s/tmp;\n"
            "  include %s/deploy/nginx/lotse-http.conf;\n"
            "  upstream lotsed { server 127.0.0.1:%d; }\n"
            "  server {\n    listen 127.0.0.1:%d;\n    include "
            "%s/deploy/nginx/lotse-locations.conf;\n  }\n"
            "}\n",
            t->dir, t->dir, t->dir, t->dir, t->dir, t->dir, t->dir, LOTSE_SOURCE_DIR, t->h->port,
            t->port, LOTSE_SOURCE_DIR);
    fclose(f);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", t->dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s/", t->dir);
        execl("/usr/sbin/nginx", "nginx", "-p", prefix, "-c", path, "-e", "stderr", (char *)NULL);
        _exit(127);
    }
    t->nginx = pid;
    for (int i = 0; i < 100; i++) { /* until it answers */
        int status = 0;
        char body[256];
        if (harness_http_get_auth(t->h, t->port, "/healthz", NULL, &status, body, sizeof body) ==
                0 &&
            status == 200)
            return;
        usleep(50000);
    }
    fail_msg("nginx did not come up (see %s/error.log)", t->dir);
}

static void from(int last_octet)
{
    char a[32];
    snprintf(a, sizeof a, "127.0.0.%d", last_octet);
    assert_int_equal(ws_set_source_address(a), 0);
}

/* A connection through nginx that lotsed serves: it answers a message. Returns
 * 0, or what refused it (-ECONNREFUSED: nginx; -ESHUTDOWN: lotsed closed it). */
static int served(struct proxy_test *t, struct client **out)
{
    struct client *c;
    int rc = client_connect(&c, HARNESS_HOST, t->port, CLIENT_COUNSELLOR, t->h->org_pk, T);
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    assert_int_equal(client_send_json(c, "{\"t\":\"take\"}"), 0);
    rc = client_expect_error(c, "not_allowed", T);
    *out = c;
    return rc;
}

static void test_300_honest_connections_from_ten_addresses_get_through_nginx(void **state)
{
    struct proxy_test *t = *state;
    harness_set(t->h, "max_connections_per_source", "100");
    assert_int_equal(harness_start(t->h), 0);
    nginx_start(t);
    struct client **c = calloc(HONEST, sizeof *c);
    assert_non_null(c);
    int ok = 0;
    for (int i = 0; i < HONEST; i++) {
        from(10 + i / 30); /* 30 people at each of 10 addresses */
        if (served(t, &c[i]) == 0)
            ok++;
    }
    printf("# %d of %d connections through nginx served\n", ok, HONEST);
    assert_int_equal(ok, HONEST);
    for (int i = 0; i < HONEST; i++)
        client_free(c[i]);
    free(c);
    assert_int_equal(harness_stop(t->h), 0);
    harness_pass(t->h);
}

/* Per-source limits count the address nginx forwards: one address is held to
 * max_connections_per_source, another is not affected by it. */
static void test_per_source_limit_counts_the_forwarded_address(void **state)
{
    struct proxy_test *t = *state;
    harness_set(t->h, "max_connections_per_source", "20");
    assert_int_equal(harness_start(t->h), 0);
    nginx_start(t);
    struct client *c[22] = {0};
    from(40);
    for (int i = 0; i < 20; i++)
        assert_int_equal(served(t, &c[i]), 0);
    assert_int_equal(served(t, &c[20]), -ESHUTDOWN);
    assert_int_equal(c[20]->ws->close_code, 4029);
    from(41);
    assert_int_equal(served(t, &c[21]), 0);
    for (int i = 0; i < 22; i++)
        client_free(c[i]);
    assert_int_equal(harness_stop(t->h), 0);
    harness_pass(t->h);
}

/* One login attempt on a new connection through nginx; the result code. */
static const char *attempt(struct proxy_test *t, const char *handle, const char *password)
{
    struct client *c;
    if (client_connect(&c, HARNESS_HOST, t->port, CLIENT_COUNSELLOR, t->h->org_pk, T) < 0)
        return "proxy_refused"; /* nginx's limit_req / limit_conn: 429 */
    int rc = client_login(c, handle, password, T);
    static char code[48];
    snprintf(code, sizeof code, "%s", rc == 0 ? "ok" : c->err_code[0] ? c->err_code : "closed");
    client_free(c);
    return code;
}

static void test_brute_forcer_is_slowed_and_the_counsellor_still_logs_in(void **state)
{
    struct proxy_test *t = *state;
    assert_int_equal(harness_start(t->h), 0);
    nginx_start(t);
    /* the attacker, from one address, first tries 25 handles once each: the
     * source has 20 free failures (login_fail_per_source), then it waits */
    from(60);
    int checked = 0, slowed = 0, attempts = 0;
    for (int i = 0; i < 25; i++) {
        char handle[32];
        snprintf(handle, sizeof handle, "guess%d", i);
        const char *r = attempt(t, handle, "guess");
        if (!strcmp(r, "auth_failed"))
            checked++;
        else if (!strcmp(r, "rate_limited"))
            slowed++;
        else
            fail_msg("attacker got %s", r);
    }
    printf("# brute forcer, 25 handles: %d passwords checked, %d refused by the source backoff\n",
           checked, slowed);
    assert_int_equal(checked, 20);
    assert_int_equal(slowed, 5);
    /* then guesses anna's password as fast as it can for 4 s */
    checked = slowed = 0;
    int64_t end = now_ms() + 4000;
    while (now_ms() < end) {
        const char *r = attempt(t, "anna", "guess");
        attempts++;
        if (!strcmp(r, "auth_failed"))
            checked++;
        else if (!strcmp(r, "rate_limited") || !strcmp(r, "proxy_refused"))
            slowed++;
        else
            fail_msg("attacker got %s", r);
    }
    printf("# brute forcer on anna: %d attempts in 4 s, %d passwords checked, %d slowed\n",
           attempts, checked, slowed);
    /* the source is in backoff (2 s, then 4 s): at most 2 checks in 4 s */
    assert_true(checked <= 2);
    assert_int_equal(checked + slowed, attempts);
    /* the real anna, from her own address, with her certified device: in */
    from(61);
    struct client *anna;
    assert_int_equal(
        client_connect(&anna, HARNESS_HOST, t->port, CLIENT_COUNSELLOR, t->h->org_pk, T), 0);
    assert_int_equal(client_load_device(anna, harness_account(t->h, "anna")->device_file), 0);
    assert_int_equal(client_login(anna, "anna", harness_account(t->h, "anna")->password, T), 0);
    assert_true(anna->has_cert);
    client_free(anna);
    /* and even from the attacker's own address (a shared NAT), once nginx's
     * per-address request rate lets a new connection through */
    from(60);
    harness_sleep_ms(1000);
    assert_int_equal(
        client_connect(&anna, HARNESS_HOST, t->port, CLIENT_COUNSELLOR, t->h->org_pk, T), 0);
    assert_int_equal(client_load_device(anna, harness_account(t->h, "anna")->device_file), 0);
    assert_int_equal(client_login(anna, "anna", harness_account(t->h, "anna")->password, T), 0);
    assert_true(anna->has_cert);
    client_free(anna);
    /* ben, from another address, with only his password: the attacker's
     * source backoff is not his */
    from(62);
    assert_string_equal(attempt(t, "ben", harness_account(t->h, "ben")->password), "ok");
    assert_int_equal(harness_stop(t->h), 0);
    harness_pass(t->h);
}

/* A client talking to lotsed directly (not the trusted proxy) cannot pick a
 * source with X-Forwarded-For: its own address counts. And through nginx a
 * header the client sends is replaced by nginx's view. */
static void test_a_client_cannot_choose_its_source_with_x_forwarded_for(void **state)
{
    struct proxy_test *t = *state;
    harness_set(t->h, "max_connections_per_source", "3");
    assert_int_equal(harness_start(t->h), 0);
    nginx_start(t);
    struct ws_conn *w[4] = {0};
    from(70);
    for (int i = 0; i < 4; i++) {
        char hdr[64];
        snprintf(hdr, sizeof hdr, "X-Forwarded-For: 10.9.8.%d\r\n", i);
        /* straight to lotsed: a different claimed address each time */
        assert_int_equal(ws_connect(&w[i], HARNESS_HOST, t->h->port, LOTSE_WS_PATH,
                                    LOTSE_SUBPROTOCOL, hdr, NULL, T),
                         0);
    }
    /* the fourth is closed 4029: all four count as 127.0.0.70 */
    uint8_t buf[256];
    int op = 0;
    size_t got = 0;
    int rc = ws_recv(w[3], &op, buf, sizeof buf, &got, T);
    assert_true(rc < 0);
    assert_int_equal(w[3]->close_code, 4029);
    for (int i = 0; i < 4; i++)
        ws_free(w[i]);
    /* through nginx, a forged header does not spread one address either */
    struct ws_conn *p[4] = {0};
    from(71);
    for (int i = 0; i < 4; i++) {
        char hdr[64];
        snprintf(hdr, sizeof hdr, "X-Forwarded-For: 10.9.7.%d\r\n", i);
        assert_int_equal(ws_connect(&p[i], HARNESS_HOST, t->port, LOTSE_WS_PATH, LOTSE_SUBPROTOCOL,
                                    hdr, NULL, T),
                         0);
    }
    rc = ws_recv(p[3], &op, buf, sizeof buf, &got, T);
    assert_true(rc < 0);
    assert_int_equal(p[3]->close_code, 4029);
    for (int i = 0; i < 4; i++)
        ws_free(p[i]);
    assert_int_equal(harness_stop(t->h), 0);
    harness_pass(t->h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_300_honest_connections_from_ten_addresses_get_through_nginx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_source_limit_counts_the_forwarded_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_brute_forcer_is_slowed_and_the_counsellor_still_logs_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_client_cannot_choose_its_source_with_x_forwarded_for,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
