/* Tests for server/src/config.c: defaults, file and command line, bounds, and
 * error messages that name the setting. */
#include <stdarg.h>
#include <stdbool.h>
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
    char *q[] = {"lotsed", "--quick-exit-url", "javascript:alert(1)"};
    assert_int_not_equal(load_args(3, q), 0);
    assert_non_null(strstr(err, "quick_exit_url"));
    char *q2[] = {"lotsed", "--quick-exit-url", "https://example.org/\"><x"};
    assert_int_not_equal(load_args(3, q2), 0);
    char *q3[] = {"lotsed", "--quick-exit-url", "https://wetter.de/"};
    assert_int_equal(load_args(3, q3), 0);
    assert_string_equal(cfg.quick_exit_url, "https://wetter.de/");
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

static void test_secrets_are_refused_on_the_command_line(void **state)
{
    char *a[] = {"lotsed", "--metrics-token", "a-token-of-sixteen-plus"};
    assert_int_not_equal(load_args(3, a), 0);
    assert_non_null(strstr(err, "metrics_token"));
    assert_non_null(strstr(err, "config file"));
    char *b[] = {"lotsed", "--metrics_token=a-token-of-sixteen-plus"};
    assert_int_not_equal(load_args(2, b), 0);
    assert_non_null(strstr(err, "metrics_token"));
    char *c[] = {"lotsed", "--db", "host=db dbname=lotse user=lotse PassWord=hunter2hunter2"};
    assert_int_not_equal(load_args(3, c), 0);
    assert_non_null(strstr(err, "setting db"));
    assert_null(strstr(err, "hunter2")); /* the message does not repeat the secret */
    char *c2[] = {"lotsed", "--db=postgresql://lotse:hunter2@db.example/lotse"};
    assert_int_not_equal(load_args(2, c2), 0);
    assert_non_null(strstr(err, "setting db"));
    char *c3[] = {"lotsed", "--db", "postgres://db/lotse?user=lotse&password=hunter2"};
    assert_int_not_equal(load_args(3, c3), 0);
    /* a db string without a password stays allowed, and the file takes both */
    char *d[] = {"lotsed", "--db", "host=/run/postgresql dbname=lotse"};
    assert_int_equal(load_args(3, d), 0);
    char *d2[] = {"lotsed", "--db", "postgresql://lotse@db.example:5432/password_vault"};
    assert_int_equal(load_args(3, d2), 0);
    char path[] = "/tmp/lotse-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "metrics_token = a-token-of-sixteen-plus\ndb = dbname=lotse password=x\n");
    fclose(f);
    char *argv[] = {"lotsed"};
    assert_int_equal(config_load(&cfg, path, 1, argv, err, sizeof(err)), 0);
    assert_string_equal(cfg.metrics_token, "a-token-of-sixteen-plus");
    unlink(path);
}

/* deploy/lotsed.conf.example says it lists every setting with its default: each
 * setting of the table appears there, with its default value, unless the comment
 * block above it says "not the default" (a value an installation must choose). */
static void test_example_file_lists_every_setting_with_its_default(void **state)
{
    FILE *f = fopen(LOTSE_SOURCE_DIR "/deploy/lotsed.conf.example", "r");
    assert_non_null(f);
    static char seen[256][64];
    size_t nseen = 0;
    char line[2048];
    bool marked = false;
    int wrong = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#') {
            marked = marked || strstr(line, "not the default") != NULL;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) {
            marked = false;
            continue;
        }
        char *key = line, *value = eq + 1, *end = eq;
        while (end > key && end[-1] == ' ')
            end--;
        *end = '\0';
        while (*value == ' ')
            value++;
        const char *name, *def;
        bool found = false;
        for (size_t i = 0; config_setting_at(i, &name, &def) == 0; i++) {
            if (strcmp(name, key))
                continue;
            found = true;
            if (!marked && strcmp(value, def)) {
                fprintf(stderr, "example: %s = \"%s\", but its default is \"%s\"\n", key, value,
                        def);
                wrong++;
            }
        }
        if (!found) {
            fprintf(stderr, "example: %s is not a setting\n", key);
            wrong++;
        }
        if (nseen < 256)
            snprintf(seen[nseen++], sizeof(seen[0]), "%.63s", key);
        marked = false;
    }
    fclose(f);
    const char *name, *def;
    for (size_t i = 0; config_setting_at(i, &name, &def) == 0; i++) {
        bool listed = false;
        for (size_t j = 0; j < nseen; j++)
            listed = listed || !strcmp(seen[j], name);
        if (!listed) {
            fprintf(stderr, "example: setting %s is missing\n", name);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
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
        cmocka_unit_test(test_secrets_are_refused_on_the_command_line),
        cmocka_unit_test(test_example_file_lists_every_setting_with_its_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
