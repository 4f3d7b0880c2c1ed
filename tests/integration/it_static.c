/* it_static — the static file mount serves the web root and nothing outside it
 * (issue 11, low): "../", "%2e%2e", "%2f", double-encoded dots and slashes,
 * backslashes, and symbolic links inside the root that point out of it. The
 * web root of this test is a copy made in the harness directory, next to a file
 * with a marker that no answer may contain. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define MARKER "LOTSE-OUTSIDE-THE-WEB-ROOT-4f1c"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Sends "GET <target> HTTP/1.1" as it is (no normalisation by a client
 * library); the status, and the whole answer in resp. */
static int get_raw(struct harness *h, const char *target, char *resp, size_t cap)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     target);
    int status = 0;
    http_raw(HARNESS_HOST, h->port, req, (size_t)n, &status, resp, cap, 3000);
    return status;
}

static void test_nothing_outside_the_web_root_is_served(void **state)
{
    struct harness *h = *state;
    char root[PATH_MAX], secret_dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(root, sizeof root, "%s/webroot", h->dir);
    snprintf(secret_dir, sizeof secret_dir, "%s/secret", h->dir);
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(secret_dir, 0755), 0);
    snprintf(path, sizeof path, "%s/index.html", root);
    write_file(path, "<!doctype html><title>lotse</title>inside\n");
    assert_int_equal(mkdir(strcat(strcpy(path, root), "/css"), 0755), 0);
    snprintf(path, sizeof path, "%s/css/a.css", root);
    write_file(path, "body{}\n");
    snprintf(path, sizeof path, "%s/secret.txt", secret_dir);
    write_file(path, MARKER "\n");
    snprintf(path, sizeof path, "%s/passwd.txt", h->dir);
    write_file(path, MARKER "\n");
    /* links inside the root that point out of it: a file, a directory, a relative
     * one */
    char target[PATH_MAX + 64];
    snprintf(target, sizeof target, "%s/secret.txt", secret_dir);
    snprintf(path, sizeof path, "%s/leak.txt", root);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof path, "%s/leakdir", root);
    assert_int_equal(symlink(secret_dir, path), 0);
    snprintf(path, sizeof path, "%s/css/rel.css", root);
    assert_int_equal(symlink("../../passwd.txt", path), 0);
    harness_set(h, "web_root", root);
    assert_int_equal(harness_start(h), 0);

    static char resp[65536];
    /* the root itself is served */
    assert_int_equal(get_raw(h, "/", resp, sizeof resp), 200);
    assert_non_null(strstr(resp, "inside"));
    assert_int_equal(get_raw(h, "/css/a.css", resp, sizeof resp), 200);

    static const char *const bad[] = {
        "/../passwd.txt",
        "/../../passwd.txt",
        "/css/../../passwd.txt",
        "/./../passwd.txt",
        "/%2e%2e/passwd.txt",
        "/%2E%2E/passwd.txt",
        "/.%2e/passwd.txt",
        "/%2e%2e%2fpasswd.txt",
        "/..%2fpasswd.txt",
        "/..%2Fsecret%2Fsecret.txt",
        "/css/%2e%2e/%2e%2e/passwd.txt",
        "/%252e%252e/passwd.txt",
        "/%252e%252e%252fpasswd.txt",
        "/..%252fpasswd.txt",
        "/%c0%ae%c0%ae/passwd.txt",
        "/..\\passwd.txt",
        "/..%5cpasswd.txt",
        "//../passwd.txt",
        "/css//..//..//passwd.txt",
        "/..;/passwd.txt",
        "/../secret/secret.txt",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/css/rel.css",
        "../passwd.txt",
        "/index.html/../../passwd.txt",
        "/%00../passwd.txt",
    };
    int served = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int status = get_raw(h, bad[i], resp, sizeof resp);
        bool leaked = strstr(resp, MARKER) != NULL;
        fprintf(stderr, "GET %-34s -> %d%s\n", bad[i], status, leaked ? "  LEAKED" : "");
        if (leaked)
            served++;
    }
    assert_int_equal(served, 0);
    /* the server is fine */
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_outside_the_web_root_is_served, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
