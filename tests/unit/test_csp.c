/* Tests for server/src/csp.c: the Content-Security-Policy names the SHA-256 of
 * each distinct import map of the pages under web_root, in a fixed order, and
 * nothing else changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "csp.h"

#define BASE_HEAD "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"
#define BASE_TAIL                                                                                  \
    "; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "       \
    "base-uri 'none'; form-action 'none'"

static char dir[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lotse-csp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void sha256_b64(const char *text, char out[45])
{
    unsigned char d[32];
    crypto_hash_sha256(d, (const unsigned char *)text, strlen(text));
    sodium_bin2base64(out, 45, d, 32, sodium_base64_VARIANT_ORIGINAL);
}

static void test_no_import_map_gives_the_fixed_policy(void **state)
{
    (void)state;
    char csp[CSP_MAX];
    put("index.html", "<!doctype html><script src=\"/a.js\"></script>");
    assert_int_equal(csp_build(dir, csp, sizeof csp), 0);
    assert_string_equal(csp, BASE_HEAD BASE_TAIL);
    /* a missing web_root too */
    assert_int_equal(csp_build("/nonexistent/lotse", csp, sizeof csp), 0);
    assert_string_equal(csp, BASE_HEAD BASE_TAIL);
}

static void test_each_distinct_import_map_is_named_once_in_order(void **state)
{
    (void)state;
    const char *m1 = "\n{\"integrity\": {\"/js/a.js\": \"sha384-x\"}}\n";
    const char *m2 = "{\"integrity\": {}}";
    char page[512], h1[45], h2[45], want[CSP_MAX], csp[CSP_MAX];
    snprintf(page, sizeof page, "<head><script type=\"importmap\">%s</script></head>", m1);
    put("index.html", page);
    assert_int_equal(mkdir(strcat(strcpy(want, dir), "/counsellor"), 0700), 0);
    put("counsellor/index.html", page); /* the same map again: one hash */
    snprintf(page, sizeof page, "<script type=\"importmap\">%s</script>", m2);
    put("other.html", page);
    put("notes.txt", "<script type=\"importmap\">ignored</script>");
    sha256_b64(m1, h1);
    sha256_b64(m2, h2);
    const char *lo = strcmp(h1, h2) < 0 ? h1 : h2, *hi = lo == h1 ? h2 : h1;
    snprintf(want, sizeof want, BASE_HEAD " 'sha256-%s' 'sha256-%s'" BASE_TAIL, lo, hi);
    assert_int_equal(csp_build(dir, csp, sizeof csp), 2);
    assert_string_equal(csp, want);
}

static void test_too_many_import_maps_refuse_to_start(void **state)
{
    (void)state;
    char csp[CSP_MAX];
    for (int i = 0; i <= CSP_MAX_HASHES; i++) {
        char name[32], page[128];
        snprintf(name, sizeof name, "p%d.html", i);
        snprintf(page, sizeof page, "<script type=\"importmap\">{\"n\": %d}</script>", i);
        put(name, page);
    }
    assert_int_equal(csp_build(dir, csp, sizeof csp), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_import_map_gives_the_fixed_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_distinct_import_map_is_named_once_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_many_import_maps_refuse_to_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
