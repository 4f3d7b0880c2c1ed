/* it_templates.c — the organisation's canned replies (PROTOCOL.md §4.2
 * `template`, lotsectl template-add/-remove/-list, 007_chat_templates.sql): a
 * counsellor gets each after login, a supervisor and a young person never; the
 * changes are audited and bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

static int ctl(struct harness *h, const char *in, char *out, size_t cap, const char *const *args)
{
    return harness_ctl(h, true, in, out, cap, args);
}

static void add(struct harness *h, const char *title, const char *text)
{
    const char *args[] = {"template-add", "--title", title, "--text", text, NULL};
    char out[128];
    assert_int_equal(ctl(h, NULL, out, sizeof(out), args), 0);
    assert_non_null(strstr(out, "added"));
}

static void test_counsellor_gets_each_template_after_login_supervisor_and_young_none(void **state)
{
    struct harness *h = *state;
    add(h, "Willkommen", "Sch\xc3\xb6n, dass du schreibst.");
    const char *stdin_args[] = {"template-add", "--title", "Abschied", "--text-stdin", NULL};
    assert_int_equal(ctl(h, "Alles Gute!\nDu kannst wiederkommen.\n", NULL, 0, stdin_args), 0);
    assert_int_equal(harness_start(h), 0);

    struct client *anna, *sue, *y;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    char *m = harness_next_raw(anna, "template", T);
    assert_non_null(m);
    assert_non_null(strstr(m, "\"title\":\"Willkommen\""));
    assert_non_null(strstr(m, "\"text\":\"Sch\xc3\xb6n, dass du schreibst.\""));
    free(m);
    m = harness_next_raw(anna, "template", T);
    assert_non_null(m);
    assert_non_null(strstr(m, "\"text\":\"Alles Gute!\\u000aDu kannst wiederkommen.\""));
    free(m);
    assert_null(harness_next_raw(anna, "template", 500)); /* two, not more */

    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(sue->role, CLIENT_SUPERVISOR);
    assert_null(harness_next_raw(sue, "template", 1000));
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_null(harness_next_raw(y, "template", 1000));

    /* removed: the next login no longer gets it */
    char out[4096];
    const char *list[] = {"template-list", NULL};
    assert_int_equal(ctl(h, NULL, out, sizeof(out), list), 0);
    assert_non_null(strstr(out, "Alles Gute!\\nDu kannst wiederkommen."));
    const char *rm[] = {"template-remove", "--id", "1", NULL};
    assert_int_equal(ctl(h, NULL, NULL, 0, rm), 0);
    assert_int_equal(ctl(h, NULL, NULL, 0, rm), 1); /* already gone */
    struct client *ben;
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    m = harness_next_raw(ben, "template", T);
    assert_non_null(m);
    assert_non_null(strstr(m, "Abschied"));
    free(m);
    assert_null(harness_next_raw(ben, "template", 500));

    /* audited: the id, never the text */
    assert_int_equal(harness_sql_long(h,
                                      "SELECT count(*) FROM audit_log WHERE action = 'template-add'"
                                      " AND detail LIKE 'id=%'"),
                     2);
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM audit_log WHERE action = 'template-remove'"), 1);
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM audit_log WHERE detail LIKE '%Alles%'"), 0);
    client_free(ben);
    client_free(y);
    client_free(sue);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_template_add_refuses_what_does_not_fit(void **state)
{
    struct harness *h = *state;
    char title[82];
    memset(title, 't', 81);
    title[81] = 0;
    const char *too_long[] = {"template-add", "--title", title, "--text", "x", NULL};
    assert_int_equal(ctl(h, NULL, NULL, 0, too_long), 2);
    const char *control[] = {"template-add", "--title", "a\tb", "--text", "x", NULL};
    assert_int_equal(ctl(h, NULL, NULL, 0, control), 2);
    const char *bad_utf8[] = {"template-add", "--title", "ok", "--text", "\xc3(", NULL};
    assert_int_equal(ctl(h, NULL, NULL, 0, bad_utf8), 2);
    const char *both[] = {"template-add", "--title", "ok", "--text", "x", "--text-stdin", NULL};
    assert_int_equal(ctl(h, "y", NULL, 0, both), 2);
    for (int i = 0; i < 20; i++)
        add(h, "t", "x");
    const char *one_more[] = {"template-add", "--title", "t", "--text", "x", NULL};
    assert_int_equal(ctl(h, NULL, NULL, 0, one_more), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM chat_templates"), 20);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_counsellor_gets_each_template_after_login_supervisor_and_young_none, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_template_add_refuses_what_does_not_fit, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
