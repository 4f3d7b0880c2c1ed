/* Tests for server/src/config.c: defaults, file and command line, bounds, and
 * error messages that name the setting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static struct config cfg;
static char err[512];

static int load_args(int argc, char **argv)
{
    err[0] = '\0';
    return config_load(&cfg, NULL, argc, argv, err, sizeof(err));
}

static void test_defaults_are_valid(void **state)
{
    char *argv[] = {"lotsed"};
    assert_int_equal(load_args(1, argv), 0);
    assert_int_equal(cfg.listen_port, 8080);
    assert_int_equal(cfg.assign_mode, ASSIGN_TAKE);
    assert_true(cfg.hours.always);
    assert_true(cfg.topic_count >= 1);
    assert_int_equal(cfg.send_queue_max, 256);
    assert_false(cfg.has_org_key);
}

static void test_command_line_both_forms_and_dashes(void **state)
{
    char *argv[] = {"lotsed", "--listen-port", "9000", "--queue_max=7", "--assign-mode", "offer"};
    assert_int_equal(load_args(6, argv), 0);
    assert_int_equal(cfg.listen_port, 9000);
    assert_int_equal(cfg.queue_max, 7);
    assert_int_equal(cfg.assign_mode, ASSIGN_OFFER);
}

static void test_out_of_bounds_names_the_setting(void **state)
{
    char *argv[] = {"lotsed", "--queue-max", "0"};
    assert_int_not_equal(load_args(3, argv), 0);
    assert_non_null(strstr(err, "queue_max"));
    char *argv2[] = {"lotsed", "--listen-port", "12x"};
    assert_int_not_equal(load_args(3, argv2), 0);
    assert_non_null(strstr(err, "listen_port"));
}

static void test_unknown_setting_is_an_error(void **state)
{
    char *argv[] = {"lotsed", "--no-such-thing", "1"};
    assert_int_not_equal(load_args(3, argv), 0);
    assert_non_null(strstr(err, "no-such-thing"));
}

static void test_topics_and_priority_topics(void **state)
{
    char *argv[] = {"lotsed", "--topics", "family, crisis,school", "--priority-topics", "crisis"};
    assert_int_equal(load_args(5, argv), 0);
    assert_int_equal(cfg.topic_count, 3);
    int crisis = config_topic_index(&cfg, "crisis", 6);
    assert_int_equal(crisis, 1);
    assert_int_equal(cfg.topic_priority[crisis], 1);
    assert_int_equal(cfg.topic_priority[0], 0);
    char *bad[] = {"lotsed", "--topics", "family,family"};
    assert_int_not_equal(load_args(3, bad), 0);
    char *bad2[] = {"lotsed", "--priority-topics", "nope"};
    assert_int_not_equal(load_args(3, bad2), 0);
    assert_non_null(strstr(err, "priority_topics"));
}

static void test_file_settings_and_errors_with_line_number(void **state)
{
    char path[] = "/tmp/lotse-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\n\nlisten_port = 8443\nopening_hours = \"mon-fri 14:00-20:00\"\n"
               "timezone = Europe/Berlin\n");
    fclose(f);
    char *argv[] = {"lotsed", "--listen-port", "8444"};
    assert_int_equal(config_load(&cfg, path, 3, argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.listen_port, 8444); /* command line wins */
    assert_false(cfg.hours.always);
    f = fopen(path, "a");
    fprintf(f, "bogus line\n");
    fclose(f);
    assert_int_not_equal(config_load(&cfg, path, 1, argv, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "line 6"));
    unlink(path);
}

static void test_bad_values_of_special_settings(void **state)
{
    char *a[] = {"lotsed", "--opening-hours", "sometimes"};
    assert_int_not_equal(load_args(3, a), 0);
    assert_non_null(strstr(err, "opening_hours"));
    char *b[] = {"lotsed", "--timezone", "Mars/Olympus"};
    assert_int_not_equal(load_args(3, b), 0);
    assert_non_null(strstr(err, "timezone"));
    char *c[] = {"lotsed", "--org-public-key", "abc"};
    assert_int_not_equal(load_args(3, c), 0);
    assert_non_null(strstr(err, "org_public_key"));
    char *d[] = {"lotsed", "--log-level", "loud"};
    assert_int_not_equal(load_args(3, d), 0);
    char *e[] = {"lotsed", "--relay-rate", "500", "--relay-burst", "100"};
    assert_int_not_equal(load_args(5, e), 0);
    char *f[] = {"lotsed", "--migrate-on-start", "maybe"};
    assert_int_not_equal(load_args(3, f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid),
        cmocka_unit_test(test_command_line_both_forms_and_dashes),
        cmocka_unit_test(test_out_of_bounds_names_the_setting),
        cmocka_unit_test(test_unknown_setting_is_an_error),
        cmocka_unit_test(test_topics_and_priority_topics),
        cmocka_unit_test(test_file_settings_and_errors_with_line_number),
        cmocka_unit_test(test_bad_values_of_special_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
