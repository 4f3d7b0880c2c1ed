/* Tests for server/src/orgs.c and orgs_values.c: the values the contract
 * allows (regions, languages, slugs), the candidates and the route for a table
 * of cases, who may take what was routed, and the row's organisation.
 *
 * The table of organisations (topics of the service: family, school, prison,
 * crisis; "now" is a Wednesday noon, the service always open):
 *
 *   id slug   regions          languages    topics  hours         chat mail pool
 *   1  main   (network-wide)   de           all     service's     yes  yes  yes
 *   2  nord   20,21,22,DE-HH   de,tr        all     always        yes  yes  no
 *   3  sued   80,81,82,DE-BY   de,en        family  service's     yes  yes  yes
 *   4  netz   (network-wide)   de,ar,ru,uk  all     service's     yes  yes  yes
 *   5  zu     10               de           all     service's     yes  yes  yes  revoked
 *   6  post   10               de           all     service's     no   yes  no
 *   7  nacht  10               de           all     sun 00-01     yes  yes  no
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "config.h"
#include "orgs.h"

static struct config cfg;
static struct orgs table;
static time_t wednesday_noon;

static const struct org_row rows[] = {
    {{"1", "main", "Beratungsstelle", "", "de", "", "", "t", "t", "t", "f"}},
    {{"2", "nord", "Familienhilfe Nord", "20,21,22,DE-HH", "de,tr", "", "always", "t", "t", "f",
      "f"}},
    {{"3", "sued", "Jugendhilfe Süd", "80,81,82,DE-BY", "de,en", "family", "", "t", "t", "t", "f"}},
    {{"4", "netz", "Netzwerk", "", "de,ar,ru,uk", "", "", "t", "t", "t", "f"}},
    {{"5", "zu", "Geschlossen", "10", "de", "", "", "t", "t", "t", "t"}},
    {{"6", "post", "Nur Post", "10", "de", "", "", "f", "t", "f", "f"}},
    {{"7", "nacht", "Nachtdienst", "10", "de", "", "sun 00:00-01:00", "t", "t", "f", "f"}},
};

static int setup(void **state)
{
    (void)state;
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    char err[256];
    char *argv[] = {"lotsed", "--topics", "family,school,prison,crisis", NULL};
    if (config_load(&cfg, NULL, 3, argv, err, sizeof err) != 0)
        return -1;
    memset(&table, 0, sizeof(table));
    table.service_hours = NULL; /* the service is always open here */
    orgs_replace(&table, &cfg, rows, (int)(sizeof(rows) / sizeof(rows[0])));
    struct tm tm = {
        .tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 9, .tm_hour = 12, .tm_isdst = -1};
    wednesday_noon = mktime(&tm);
    return 0;
}

static void test_regions_languages_and_slugs_as_the_contract_says(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } regions[] = {{"10", true},     {"104", true},    {"99", true},      {"1", false},
                   {"1040", false},  {"1a", false},    {"DE-BE", true},   {"DE-TH", true},
                   {"DE-XX", false}, {"de-be", false}, {"DE-BE ", false}, {"", false}};
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
        assert_int_equal(org_region_valid(regions[i].s, strlen(regions[i].s)), regions[i].ok);
    static const char *const langs[] = {"de", "en", "tr", "ar", "ru", "uk"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(org_lang_index(langs[i], 2), i);
        assert_string_equal(org_lang_code(i), langs[i]);
    }
    assert_int_equal(org_lang_index("ls", 2), -1); /* a UI language only */
    assert_int_equal(org_lang_index("DE", 2), -1);
    assert_int_equal(org_lang_index("deu", 3), -1);
    assert_int_equal(org_lang_mask("de,tr"), 1 | 4);
    assert_int_equal(org_lang_mask("de,xx"), -1);
    assert_int_equal(org_lang_mask("de,,tr"), -1);
    assert_true(org_slug_valid("nord"));
    assert_true(org_slug_valid("familienhilfe-nord-2"));
    assert_false(org_slug_valid("-nord"));
    assert_false(org_slug_valid("Nord"));
    assert_false(org_slug_valid("nord_2"));
    assert_false(org_slug_valid(""));
    assert_false(org_slug_valid("a23456789012345678901234567890123"));
}

static void test_region_match_by_prefix_or_equal_state(void **state)
{
    (void)state;
    assert_true(org_region_match("20", "204"));
    assert_true(org_region_match("204", "20"));
    assert_true(org_region_match("204", "204"));
    assert_false(org_region_match("204", "205"));
    assert_false(org_region_match("21", "20"));
    assert_true(org_region_match("DE-HH", "DE-HH"));
    assert_false(org_region_match("DE-HH", "DE-HB"));
    assert_false(org_region_match("DE-HH", "20"));
    assert_false(org_region_match("20", "DE-HH"));
}

static void test_the_table_is_read(void **state)
{
    (void)state;
    assert_int_equal(table.count, 7);
    const struct org *nord = orgs_find_slug(&table, "nord");
    assert_non_null(nord);
    assert_int_equal(nord->id, 2);
    assert_int_equal(nord->region_count, 4);
    assert_true(nord->own_hours);
    assert_false(nord->takes_pool);
    const struct org *sued = orgs_find(&table, 3);
    assert_string_equal(sued->name, "Jugendhilfe Süd");
    assert_false(sued->all_topics);
    assert_int_equal(sued->topic_mask, 1u << 0);
    assert_null(orgs_find(&table, 99));
    assert_true(orgs_open_now(&table, orgs_find(&table, 1), wednesday_noon));
    assert_false(orgs_open_now(&table, orgs_find(&table, 7), wednesday_noon));
}

/* Staffed: the organisations whose id bit is set in *(unsigned *)arg. */
static bool staffed_set(void *arg, const struct org *o, const struct org_want *w)
{
    (void)w;
    return (*(unsigned *)arg >> o->id) & 1u;
}

#define ALL   0xFEu /* every organisation staffed */
#define T_FAM 0
#define T_SCH 1

static void test_routing_table_of_cases(void **state)
{
    (void)state;
    static const struct {
        const char *region;
        const char *lang;
        int topic;
        bool mail;
        unsigned staffed;
        int ids[4]; /* the candidates, 0-terminated */
        enum org_route_kind kind;
    } cases[] = {
        /* by postcode: a prefix either way */
        {"20", NULL, T_SCH, false, ALL, {2}, ORG_ROUTE_ORG},
        {"204", NULL, T_SCH, false, ALL, {2}, ORG_ROUTE_ORG},
        {"23", NULL, T_SCH, false, ALL, {0}, ORG_ROUTE_POOL},
        /* by state */
        {"DE-HH", NULL, T_SCH, false, ALL, {2}, ORG_ROUTE_ORG},
        {"DE-BY", NULL, T_FAM, false, ALL, {3}, ORG_ROUTE_ORG},
        /* by topic: sued counsels family only */
        {"DE-BY", NULL, T_SCH, false, ALL, {0}, ORG_ROUTE_POOL},
        {"805", NULL, T_FAM, false, ALL, {3}, ORG_ROUTE_ORG},
        /* nothing given: the network-wide ones */
        {NULL, NULL, T_SCH, false, ALL, {1, 4}, ORG_ROUTE_ORG},
        /* by language */
        {NULL, "ar", T_SCH, false, ALL, {4}, ORG_ROUTE_ORG},
        {"20", "tr", T_SCH, false, ALL, {2}, ORG_ROUTE_ORG},
        {"20", "en", T_SCH, false, ALL, {0}, ORG_ROUTE_POOL},
        {"DE-BY", "en", T_FAM, false, ALL, {3}, ORG_ROUTE_ORG},
        /* nobody there: the pool, candidates kept */
        {"20", "tr", T_SCH, false, 0, {2}, ORG_ROUTE_POOL},
        {NULL, NULL, T_SCH, false, 1u << 4, {1, 4}, ORG_ROUTE_ORG},
        {NULL, NULL, T_SCH, false, 1u << 1, {1, 4}, ORG_ROUTE_ORG},
        /* revoked never, mail-only for mail only, closed a candidate but not open */
        {"10", NULL, T_SCH, false, ALL, {7}, ORG_ROUTE_POOL},
        {"104", NULL, T_SCH, true, ALL, {6, 7}, ORG_ROUTE_ORG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct org_want w = {.topic = cases[i].topic,
                             .lang = cases[i].lang ? org_lang_index(cases[i].lang, 2) : -1,
                             .region = cases[i].region,
                             .mail = cases[i].mail};
        unsigned staffed = cases[i].staffed;
        struct org_route r;
        orgs_route(&table, &w, wednesday_noon, staffed_set, &staffed, &r);
        int n = 0;
        while (n < 4 && cases[i].ids[n])
            n++;
        print_message("case %zu\n", i);
        assert_int_equal(r.count, n);
        for (int j = 0; j < n; j++)
            assert_int_equal(r.ids[j], cases[i].ids[j]);
        assert_int_equal(r.kind, cases[i].kind);
        assert_false(r.any);
    }
}

static void test_who_may_take_what_was_routed(void **state)
{
    (void)state;
    struct org_want w = {.topic = T_SCH, .lang = ORG_LANG_TR, .region = "20"};
    unsigned staffed = ALL;
    struct org_route r;
    orgs_route(&table, &w, wednesday_noon, staffed_set, &staffed, &r);
    assert_int_equal(r.kind, ORG_ROUTE_ORG);
    assert_true(orgs_admits(&table, &r, 2));
    assert_false(orgs_admits(&table, &r, 1));
    assert_false(orgs_admits(&table, &r, 4));
    /* nobody at nord: the pool, nord still in, and those that take from it */
    staffed = 0;
    orgs_route(&table, &w, wednesday_noon, staffed_set, &staffed, &r);
    assert_int_equal(r.kind, ORG_ROUTE_POOL);
    assert_true(orgs_admits(&table, &r, 2));
    assert_true(orgs_admits(&table, &r, 1));
    assert_true(orgs_admits(&table, &r, 3));
    assert_true(orgs_admits(&table, &r, 4));
    assert_false(orgs_admits(&table, &r, 5)); /* revoked */
    assert_false(orgs_admits(&table, &r, 6)); /* takes no chat */
    assert_false(orgs_admits(&table, &r, 7)); /* not from the pool */
    assert_false(orgs_admits(&table, &r, 99));
    /* the re-evaluation: nord staffed again does not bring it back by itself,
     * but orgs_route_holds says whether "org" still holds */
    staffed = 1u << 2;
    assert_true(orgs_route_holds(&table, &r, &w, wednesday_noon, staffed_set, &staffed));
    staffed = 0;
    assert_false(orgs_route_holds(&table, &r, &w, wednesday_noon, staffed_set, &staffed));
    /* the row keeps the taker's organisation, else the first candidate */
    assert_int_equal(orgs_row_org(&r, 4), 4);
    assert_int_equal(orgs_row_org(&r, 0), 2);
    struct org_route none = {.kind = ORG_ROUTE_POOL};
    assert_int_equal(orgs_row_org(&none, 0), 0);
}

static void test_before_the_first_read_anyone_may_take(void **state)
{
    (void)state;
    struct orgs empty = {0};
    struct org_want w = {.topic = T_SCH, .lang = -1, .region = "20"};
    struct org_route r;
    orgs_route(&empty, &w, wednesday_noon, NULL, NULL, &r);
    assert_true(r.any);
    assert_int_equal(r.count, 0);
    assert_true(orgs_admits(&empty, &r, 1));
    assert_true(orgs_admits(&empty, &r, 42));
}

static void test_rows_that_do_not_fit_are_left_out(void **state)
{
    (void)state;
    static const struct org_row bad[] = {
        {{"0", "x", "X", "", "de", "", "", "t", "t", "t", "f"}},
        {{"9", "y", "", "", "de", "", "", "t", "t", "t", "f"}},
        {{"10", "z", "\xff", "", "de", "", "", "t", "t", "t", "f"}},
        {{"11", "w", "W", "20,xx,DE-ZZ,DE-BE", "de,xx", "family,nosuch", "mon-", "t", "t", "t",
          "f"}},
    };
    struct orgs t = {0};
    orgs_replace(&t, &cfg, bad, 4);
    assert_int_equal(t.count, 1);
    const struct org *o = &t.list[0];
    assert_int_equal(o->region_count, 2);
    assert_int_equal(o->langs, 1);
    assert_false(o->all_topics);
    assert_int_equal(o->topic_mask, 1u << 0);
    assert_true(o->hours_bad);
    assert_false(orgs_open_now(&t, o, wednesday_noon));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regions_languages_and_slugs_as_the_contract_says),
        cmocka_unit_test(test_region_match_by_prefix_or_equal_state),
        cmocka_unit_test(test_the_table_is_read),
        cmocka_unit_test(test_routing_table_of_cases),
        cmocka_unit_test(test_who_may_take_what_was_routed),
        cmocka_unit_test(test_before_the_first_read_anyone_may_take),
        cmocka_unit_test(test_rows_that_do_not_fit_are_left_out),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
