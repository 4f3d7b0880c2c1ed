/* it_orgs.c — a counselling network on one lotsed (issue 15, PROTOCOL.md §5.3):
 * three organisations made with lotsectl, counsellors in each, chats routed by
 * postcode, state, language and topic; the pool when the organisation is
 * closed or nobody there is available, and what the young person is told; a
 * language nobody speaks now and dropping it without losing the place;
 * a transfer to a named colleague on the same route; concurrent takes by
 * counsellors of several organisations; the session rows
 * keep only the organisation; the postcode in no table, log line or metric.
 *
 * The routing table (topics of the service: family, school, prison, crisis;
 * "main", the first organisation, takes nothing here):
 *
 *   org   name                 regions          languages    topics         hours      pool
 *   main  Beratungsstelle      -                de           all            service's  no   (chat
 * no, mail no) nord  Familienhilfe Nord   20,21,22,DE-HH   de,tr        all            always* no
 *   sued  Jugendhilfe Süd      80,81,82,DE-BY   de,en        family,school  service's  yes
 *   netz  Netzwerk Online      - (network)      de,ar,ru,uk  all            service's  yes
 *
 *   counsellor  org   languages    (topics: all four, capacity 2)
 *   nora        nord  de,tr
 *   nils        nord  de
 *   sara        sued  de,en
 *   sven        sued  de
 *   nadia       netz  de,ar,ru,uk
 *
 *   (*) closed ("<the day after tomorrow> 00:00-00:01") where a test says so.
 */
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
#include <time.h>

#include <libpq-fe.h>

#include "client.h"
#include "harness.h"

#define T      5000
#define TOPICS "family,school,prison,crisis"

static void ctl_ok(struct harness *h, const char *const *args)
{
    char out[4096];
    int rc = harness_ctl(h, true, NULL, out, sizeof(out), args);
    if (rc != 0)
        fprintf(stderr, "lotsectl %s %s: %d\n", args[0], args[1] ? args[1] : "", rc);
    assert_int_equal(rc, 0);
}

/* A counsellor of org with languages, certified, capacity 2. */
static void counsellor_in(struct harness *h, const char *handle, const char *org,
                          const char *languages)
{
    assert_int_equal(harness_add_account(h, handle, "counsellor", handle, TOPICS, 2, true), 0);
    const char *set_org[] = {"account-set-org", "--handle", handle, "--org", org, NULL};
    const char *set_lang[] = {"account-set-languages", "--handle", handle,
                              "--languages",           languages,  NULL};
    ctl_ok(h, set_org);
    ctl_ok(h, set_lang);
}

/* The three organisations and five counsellors of the table; nord_hours "" for
 * "always". Starts lotsed and waits until it has read the organisations. */
static void network(struct harness *h, const char *nord_hours, const char *nord_pool)
{
    const char *main_off[] = {"org",    "set", "main",   "--chat", "no",
                              "--mail", "no",  "--pool", "no",     NULL};
    const char *nord[] = {"org",
                          "add",
                          "nord",
                          "--name",
                          "Familienhilfe Nord",
                          "--regions",
                          "20,21,22,DE-HH",
                          "--languages",
                          "de,tr",
                          "--hours",
                          *nord_hours ? nord_hours : "always",
                          "--pool",
                          nord_pool,
                          NULL};
    const char *sued[] = {"org",
                          "add",
                          "sued",
                          "--name",
                          "Jugendhilfe S\xc3\xbc"
                          "d",
                          "--regions",
                          "80,81,82,DE-BY",
                          "--languages",
                          "de,en",
                          "--topics",
                          "family,school",
                          NULL};
    const char *netz[] = {"org",         "add",         "netz", "--name", "Netzwerk Online",
                          "--languages", "de,ar,ru,uk", NULL};
    ctl_ok(h, main_off);
    ctl_ok(h, nord);
    ctl_ok(h, sued);
    ctl_ok(h, netz);
    counsellor_in(h, "nora", "nord", "de,tr");
    counsellor_in(h, "nils", "nord", "de");
    counsellor_in(h, "sara", "sued", "de,en");
    counsellor_in(h, "sven", "sued", "de");
    counsellor_in(h, "nadia", "netz", "de,ar,ru,uk");
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_log_wait(h, "orgs: 4 organisation(s)", T), 0);
}

static long org_id(struct harness *h, const char *slug)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT id FROM organisations WHERE slug = '%s'", slug);
    return harness_sql_long(h, sql);
}

/* A young person with region and lang (NULL: not given); asserts welcome. */
static struct client *young(struct harness *h, const char *topic, const char *region,
                            const char *lang)
{
    struct client *y;
    assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    snprintf(y->hello_region, sizeof(y->hello_region), "%s", region ? region : "");
    snprintf(y->hello_lang, sizeof(y->hello_lang), "%s", lang ? lang : "");
    assert_int_equal(client_young_hello(y, topic, T), 0);
    return y;
}

/* k's take finds nothing k may take. */
static void take_nothing(struct client *k)
{
    struct client_session *s;
    assert_int_equal(client_take(k, &s, T), -EPROTO);
    assert_string_equal(k->err_code, "queue_empty");
}

/* k takes y's chat (and no other). */
static void takes(struct client *k, struct client *y)
{
    struct client_session *s;
    assert_int_equal(client_take(k, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(y)->sid_hex);
}

static void end_chat(struct client *k, struct client *y)
{
    struct client_session *s = client_session_find(k, client_young_session(y)->sid_hex);
    assert_non_null(s);
    assert_int_equal(client_end(k, s), 0);
    client_free(y);
}

static long session_org(struct harness *h, const char *want_sql_org)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sessions WHERE org_id %s AND end_reason IS NOT NULL",
             want_sql_org);
    return harness_sql_long(h, sql);
}

static void test_routing_by_postcode_state_language_and_topic(void **state)
{
    struct harness *h = *state;
    network(h, "", "no");
    struct client *nora, *sara, *nadia;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_int_equal(harness_counsellor(h, "sara", &sara), 0);
    assert_int_equal(harness_counsellor(h, "nadia", &nadia), 0);

    /* postcode 204…: nord (20) */
    struct client *y = young(h, "family", "204", NULL);
    assert_string_equal(y->route, "org");
    assert_string_equal(y->route_orgs, "Familienhilfe Nord");
    assert_false(y->lang_unstaffed);
    take_nothing(sara);
    take_nothing(nadia);
    takes(nora, y);
    end_chat(nora, y);

    /* state DE-BY: sued, for family */
    y = young(h, "family", "DE-BY", NULL);
    assert_string_equal(y->route, "org");
    assert_string_equal(y->route_orgs, "Jugendhilfe S\xc3\xbc"
                                       "d");
    take_nothing(nora);
    take_nothing(nadia);
    takes(sara, y);
    end_chat(sara, y);

    /* topic: sued does not counsel on prison -> no candidate -> the pool
     * (sued and netz take from it, nord does not) */
    y = young(h, "prison", "DE-BY", NULL);
    assert_string_equal(y->route, "pool");
    assert_string_equal(y->route_orgs, "");
    take_nothing(nora);
    takes(nadia, y);
    end_chat(nadia, y);

    /* language without region: the network-wide netz */
    y = young(h, "school", NULL, "ar");
    assert_string_equal(y->route, "org");
    assert_string_equal(y->route_orgs, "Netzwerk Online");
    take_nothing(nora);
    take_nothing(sara);
    takes(nadia, y);
    end_chat(nadia, y);

    /* nothing given: netz too (main takes no chats here) */
    y = young(h, "crisis", NULL, NULL);
    assert_string_equal(y->route_orgs, "Netzwerk Online");
    takes(nadia, y);
    end_chat(nadia, y);

    /* postcode 20 in English: nord speaks none -> the pool, where sara does */
    y = young(h, "family", "20", "en");
    assert_string_equal(y->route, "pool");
    assert_false(y->lang_unstaffed);
    take_nothing(nadia); /* no English */
    take_nothing(nora);  /* nord takes nothing from the pool */
    takes(sara, y);
    end_chat(sara, y);

    /* Turkish in Hamburg: nord */
    y = young(h, "school", "DE-HH", "tr");
    assert_string_equal(y->route, "org");
    takes(nora, y);
    end_chat(nora, y);

    /* the rows keep the organisation of whoever took them */
    char cond[64];
    snprintf(cond, sizeof(cond), "= %ld", org_id(h, "nord"));
    assert_int_equal(
        harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL", 7, T),
        7);
    assert_int_equal(session_org(h, cond), 2);
    snprintf(cond, sizeof(cond), "= %ld", org_id(h, "sued"));
    assert_int_equal(session_org(h, cond), 2);
    snprintf(cond, sizeof(cond), "= %ld", org_id(h, "netz"));
    assert_int_equal(session_org(h, cond), 3);
    client_free(nora);
    client_free(sara);
    client_free(nadia);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* "xxx 00:00-00:01" for the day after tomorrow: closed now in any zone. */
static void closed_hours(char *out, size_t cap)
{
    static const char *const days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    time_t later = time(NULL) + 2 * 86400;
    struct tm tm;
    localtime_r(&later, &tm);
    snprintf(out, cap, "%s 00:00-00:01", days[tm.tm_wday]);
}

static void test_pool_when_the_organisation_is_closed_or_nobody_is_there(void **state)
{
    struct harness *h = *state;
    char hours[32];
    closed_hours(hours, sizeof(hours));
    network(h, hours, "no");
    struct client *nora, *sara;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_int_equal(harness_counsellor(h, "sara", &sara), 0);

    /* nord closed: the young person hears "pool"; nord's own counsellor may
     * still take it (a candidate), and so may the pool's */
    struct client *y = young(h, "family", "21", NULL);
    assert_string_equal(y->route, "pool");
    assert_false(y->unstaffed);
    takes(sara, y);
    end_chat(sara, y);
    y = young(h, "family", "DE-HH", NULL);
    assert_string_equal(y->route, "pool");
    takes(nora, y);
    end_chat(nora, y);
    client_free(nora);
    client_free(sara);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_pool_when_nobody_is_available_and_on_the_tick(void **state)
{
    struct harness *h = *state;
    network(h, "", "no");
    struct client *nora, *sara;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_int_equal(harness_counsellor(h, "sara", &sara), 0);
    int64_t active;
    assert_int_equal(client_status(nora, false, 2, &active, T), 0);

    /* nobody at nord available: the pool at once */
    struct client *y = young(h, "family", "22", NULL);
    assert_string_equal(y->route, "pool");
    assert_false(y->unstaffed); /* sara could */

    /* nord available: the next one goes to nord ... */
    assert_int_equal(client_status(nora, true, 2, &active, T), 0);
    struct client *y2 = young(h, "school", "22", NULL);
    assert_string_equal(y2->route, "org");
    assert_string_equal(y2->route_orgs, "Familienhilfe Nord");
    int64_t pos = y2->pos;
    /* ... until nora steps away: within a tick or two, the pool, same place */
    assert_int_equal(client_status(nora, false, 2, &active, T), 0);
    for (int i = 0; i < 50 && strcmp(y2->route, "pool") != 0; i++)
        client_pump(y2, 100);
    assert_string_equal(y2->route, "pool");
    assert_int_equal(y2->pos, pos);
    /* and it stays there when nora comes back */
    assert_int_equal(client_status(nora, true, 2, &active, T), 0);
    client_pump(y2, 2500);
    assert_string_equal(y2->route, "pool");
    takes(sara, y);
    takes(sara, y2);
    end_chat(sara, y);
    end_chat(sara, y2);
    client_free(nora);
    client_free(sara);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_language_nobody_speaks_now_and_dropping_it_keeps_the_place(void **state)
{
    struct harness *h = *state;
    network(h, "", "no");
    struct client *sara;
    assert_int_equal(harness_counsellor(h, "sara", &sara), 0);

    /* Russian in Bavaria: sued speaks none -> pool; nadia (netz) would, but is
     * not there */
    struct client *ru = young(h, "family", "80", "ru");
    assert_string_equal(ru->route, "pool");
    assert_true(ru->lang_unstaffed);
    assert_true(ru->unstaffed);
    assert_int_equal(ru->pos, 1);
    struct client *de = young(h, "family", "80", NULL);
    assert_int_equal(de->pos, 2);

    /* a language requirement can only be dropped, and only so */
    assert_int_equal(client_send_json(ru, "{\"t\":\"lang\",\"lang\":\"de\"}"), 0);
    assert_int_equal(client_expect_error(ru, "bad_field", T), 0);
    assert_int_equal(client_send_json(ru, "{\"t\":\"lang\"}"), 0);
    assert_int_equal(client_expect_error(ru, "bad_field", T), 0);

    assert_int_equal(client_send_json(ru, "{\"t\":\"lang\",\"lang\":null}"), 0);
    char *q;
    while ((q = harness_next_raw(ru, "queue", T)) != NULL && strstr(q, "lang_staffed"))
        free(q); /* one pushed before the drop */
    assert_non_null(q);
    assert_non_null(strstr(q, "\"pos\":1"));
    free(q);
    /* the first in the queue is still the first: sara takes ru before de */
    takes(sara, ru);
    takes(sara, de);
    end_chat(sara, ru);
    end_chat(sara, de);
    client_free(sara);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_hello_region_and_lang_are_checked(void **state)
{
    struct harness *h = *state;
    network(h, "", "no");
    static const struct {
        const char *field;
        const char *value; /* JSON */
    } bad[] = {
        {"region", "\"1\""},     {"region", "\"1040\""},  {"region", "\"10a\""},
        {"region", "\"DE-XX\""}, {"region", "\"de-be\""}, {"region", "104"},
        {"region", "null"},      {"lang", "\"ls\""},      {"lang", "\"DE\""},
        {"lang", "\"deu\""},     {"lang", "[\"de\"]"},    {"lang", "null"},
    };
    /* a chat's hello and a mail thread's mail_new read both fields alike */
    static const char *const start[2] = {
        "\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"family\","
        "\"pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
        "\"t\":\"mail_new\",\"v\":1,\"topic\":\"family\","
        "\"lookup\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"box_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"sign_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) * 2; i++) {
        size_t b = i / 2;
        struct client *y;
        assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
        char msg[512];
        snprintf(msg, sizeof(msg), "{%s,\"%s\":%s}", start[i % 2], bad[b].field, bad[b].value);
        assert_int_equal(client_send_json(y, msg), 0);
        assert_int_equal(client_expect_error(y, "bad_field", T), 0);
        assert_string_equal(y->err_field, bad[b].field);
        client_free(y);
    }
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Every counsellor sends three takes at once; then each one's assignments. */
static void test_concurrent_takes_across_organisations(void **state)
{
    struct harness *h = *state;
    network(h, "", "yes");
    static const char *const staff[5] = {"nora", "nils", "sara", "sven", "nadia"};
    struct client *k[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(harness_counsellor(h, staff[i], &k[i]), 0);
    /* 14 waiting in the pool (region 99: no organisation) and at nord */
    struct client *y[14];
    for (int i = 0; i < 14; i++)
        y[i] = young(h, i % 2 ? "family" : "school", i < 10 ? "99" : "20", NULL);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++)
            assert_int_equal(client_send_json(k[i], "{\"t\":\"take\"}"), 0);
    char seen[14][33];
    int nseen = 0;
    for (int i = 0; i < 5; i++) {
        int mine = 0;
        char *m;
        while ((m = harness_next_raw(k[i], "assigned", 1500)) != NULL) {
            const char *p = strstr(m, "\"sid\":\"");
            assert_non_null(p);
            char sid[33];
            snprintf(sid, sizeof(sid), "%.32s", p + 7);
            for (int j = 0; j < nseen; j++)
                assert_string_not_equal(seen[j], sid); /* never one chat twice */
            snprintf(seen[nseen++], sizeof(seen[0]), "%s", sid);
            mine++;
            free(m);
        }
        assert_true(mine <= 2); /* capacity 2 */
        assert_int_equal(mine, 2);
    }
    assert_int_equal(nseen, 10);
    /* in the database: each taken row under its counsellor's organisation */
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE taken", 10, T), 10);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions s JOIN accounts a"
                                         " ON a.id = s.counsellor_id WHERE s.taken AND"
                                         " s.org_id = a.org_id"),
                     10);
    for (int i = 0; i < 14; i++)
        client_free(y[i]);
    for (int i = 0; i < 5; i++)
        client_free(k[i]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Rows of text, varchar and text[] columns of every table whose value, or an
 * element, is exactly v (no substring: a uuid or a time holding the digits is
 * no match). */
static long cells_equal(struct harness *h, const char *v)
{
    PGresult *cols = harness_exec(
        h, "SELECT table_name, column_name, data_type FROM information_schema.columns"
           " WHERE table_schema = 'public' AND (data_type IN ('text', 'character varying',"
           " 'json', 'jsonb') OR (data_type = 'ARRAY' AND udt_name IN ('_text', '_varchar')))");
    assert_non_null(cols);
    long found = 0;
    for (int i = 0; i < PQntuples(cols); i++) {
        const char *t = PQgetvalue(cols, i, 0), *c = PQgetvalue(cols, i, 1);
        const char *type = PQgetvalue(cols, i, 2);
        char sql[512];
        if (!strcmp(type, "ARRAY"))
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\" WHERE '%s' = ANY(\"%s\")", t, v,
                     c);
        else if (type[0] == 'j')
            snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM \"%s\" WHERE \"%s\"::text LIKE '%%\"%s\"%%'", t, c, v);
        else
            snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM \"%s\" WHERE \"%s\" = '%s' OR \"%s\" LIKE '%%=%s%%'"
                     " OR \"%s\" LIKE '%% %s %%'",
                     t, c, v, c, v, c, v);
        long n = harness_sql_long(h, sql);
        assert_true(n >= 0);
        if (n > 0)
            fprintf(stderr, "found %s in %s.%s\n", v, t, c);
        found += n;
    }
    PQclear(cols);
    return found;
}

/* Occurrences of v in text as a whole token (split at anything but
 * [A-Za-z0-9-]): "12.947Z" or a uuid holding the digits is no match. */
static int tokens_equal(const char *text, const char *v)
{
    int n = 0;
    size_t len = strlen(v);
    for (const char *p = text; *p;) {
        while (*p && !(isalnum((unsigned char)*p) || *p == '-'))
            p++;
        const char *start = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '-'))
            p++;
        if ((size_t)(p - start) == len && memcmp(start, v, len) == 0)
            n++;
    }
    return n;
}

static void test_the_postcode_is_in_no_table_log_or_metric(void **state)
{
    struct harness *h = *state;
    harness_set(h, "metrics_token", "it-orgs-metrics-token-0123456789abcdef");
    network(h, "", "no");
    struct client *sara, *nadia;
    assert_int_equal(harness_counsellor(h, "sara", &sara), 0);
    assert_int_equal(harness_counsellor(h, "nadia", &nadia), 0);
    /* a distinctive postcode prefix and a state that no organisation serves:
     * both routed to the pool, taken, ended; one more left waiting */
    struct client *y1 = young(h, "family", "947", NULL);
    struct client *y2 = young(h, "school", "DE-SL", "de");
    struct client *y3 = young(h, "crisis", "946", "uk");
    takes(sara, y1);
    takes(sara, y2);
    takes(nadia, y3);
    end_chat(sara, y1);
    end_chat(sara, y2);
    struct client *y4 = young(h, "family", "945", NULL);
    client_free(y4); /* abandoned */
    end_chat(nadia, y3);
    assert_int_equal(
        harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL", 4, T),
        4);
    /* the statistics too */
    const char *agg[] = {"stats", "--hourly", NULL};
    char out[8192];
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof(out), agg), 0);

    static const char *const values[] = {"947", "946", "945", "DE-SL"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(cells_equal(h, values[i]), 0);
    assert_int_equal(harness_db_scan_substring(h, "DE-SL", 5), 0);

    int status;
    static char body[1 << 16];
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics",
                                           "it-orgs-metrics-token-0123456789abcdef", &status, body,
                                           sizeof(body)),
                     0);
    assert_int_equal(status, 200);
    client_free(sara);
    client_free(nadia);
    assert_int_equal(harness_stop(h), 0);
    char *log = harness_log_read(h);
    assert_non_null(log);
    assert_true(strlen(log) > 1000); /* debug lines included */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tokens_equal(log, values[i]), 0);
        assert_int_equal(tokens_equal(body, values[i]), 0);
    }
    free(log);
    /* the session rows: the taker's organisation, the abandoned one none */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE org_id IS NULL"), 1);
    harness_pass(h);
}

/* lotsectl org: every value checked (exit 2), changes audited, list as JSON. */
static void test_lotsectl_org_checks_and_audits(void **state)
{
    struct harness *h = *state;
    static const char *const bad[][8] = {
        {"org", "add", "Nord", "--name", "X", NULL},
        {"org", "add", "-nord", "--name", "X", NULL},
        {"org", "add", "nord", NULL},
        {"org", "add", "nord", "--name", "", NULL},
        {"org", "add", "nord", "--name", "X", "--regions", "2", NULL},
        {"org", "add", "nord", "--name", "X", "--regions", "20,DE-XX", NULL},
        {"org", "add", "nord", "--name", "X", "--regions", "20,", NULL},
        {"org", "add", "nord", "--name", "X", "--languages", "de,ls", NULL},
        {"org", "add", "nord", "--name", "X", "--languages", "", NULL},
        {"org", "add", "nord", "--name", "X", "--hours", "mon-fri 25:00-26:00", NULL},
        {"org", "add", "nord", "--name", "X", "--pool", "maybe", NULL},
        {"org", "add", "nord", "--name", "X", "--topics", "Family", NULL},
        {"org", "frob", NULL},
        {"account-set-languages", "--handle", "anna", "--languages", "xx", NULL},
        {"account-set-org", "--handle", "anna", "--org", "Nord!", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, bad[i]), 2);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM organisations"), 1);

    const char *add[] = {"org",       "add",      "nord",        "--name", "Familienhilfe Nord",
                         "--regions", "20,DE-HH", "--languages", "de,tr",  NULL};
    ctl_ok(h, add);
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, add), 1); /* exists */
    const char *set[] = {"org",    "set", "nord", "--hours", "mon-fri 09:00-17:00",
                         "--pool", "no",  NULL};
    ctl_ok(h, set);
    const char *set_missing[] = {"org", "set", "sued", "--pool", "no", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, set_missing), 1);
    const char *to_missing[] = {"account-set-org", "--handle", "anna", "--org", "sued", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, to_missing), 1);
    const char *to_nord[] = {"account-set-org", "--handle", "anna", "--org", "nord", NULL};
    ctl_ok(h, to_nord);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM accounts a JOIN organisations o"
                                         " ON o.id = a.org_id WHERE a.handle = 'anna'"
                                         " AND o.slug = 'nord'"),
                     1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM organisations WHERE slug = 'nord'"
                                         " AND regions = '{20,DE-HH}' AND languages = '{de,tr}'"
                                         " AND hours = 'mon-fri 09:00-17:00' AND NOT takes_pool"
                                         " AND takes_chat"),
                     1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM audit_log WHERE action IN"
                                         " ('org-add', 'org-set', 'account-set-org')"
                                         " AND detail LIKE '%nord%'"),
                     3);
    char out[8192];
    const char *list[] = {"org", "list", "--format", "json", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof(out), list), 0);
    assert_non_null(strstr(out, "\"slug\":\"nord\",\"name\":\"Familienhilfe Nord\","
                                "\"regions\":[\"20\",\"DE-HH\"],\"languages\":[\"de\",\"tr\"]"));
    assert_non_null(strstr(out, "\"pool\":false"));
    harness_pass(h);
}

/* A transfer to a named colleague takes the same route as a take from the
 * queue: a colleague who does not speak the language asked for, or whose
 * organisation the route does not admit, is refused (transfer_failed) and the
 * chat goes on; one who may take it gets it. */
static void transfer_refused(struct client *k, struct client *y, const char *to)
{
    struct client_session *s = client_session_find(k, client_young_session(y)->sid_hex);
    assert_non_null(s);
    assert_int_equal(client_transfer(k, s, to, T), -EPROTO);
    assert_string_equal(k->err_code, "transfer_failed");
    assert_false(s->ended);
    assert_int_equal(client_young_session(y)->transfers, 0);
}

static void test_transfer_to_a_colleague_follows_the_route(void **state)
{
    struct harness *h = *state;
    network(h, "", "no");
    struct client *nora, *nils, *sven, *nadia;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_int_equal(harness_counsellor(h, "nils", &nils), 0);
    assert_int_equal(harness_counsellor(h, "sven", &sven), 0);
    assert_int_equal(harness_counsellor(h, "nadia", &nadia), 0);

    /* Turkish in Hamburg: nord; nils (nord) speaks no Turkish */
    struct client *tr = young(h, "school", "DE-HH", "tr");
    takes(nora, tr);
    transfer_refused(nora, tr, "nils");
    transfer_refused(nora, tr, "nadia"); /* netz: outside the route, no Turkish */

    /* postcode 204, no language: nord only (no pool) */
    struct client *y = young(h, "family", "204", NULL);
    takes(nora, y);
    transfer_refused(nora, y, "sven");  /* sued */
    transfer_refused(nora, y, "nadia"); /* netz */
    struct client_session *s = client_session_find(nora, client_young_session(y)->sid_hex);
    assert_non_null(s);
    assert_int_equal(client_transfer(nora, s, "nils", T), 0);

    /* nils has it now; the refused ones changed nothing: the Turkish chat is
     * still nora's, and its young person was told of no transfer */
    char *told = harness_next_raw(y, "transferred", T);
    assert_non_null(told);
    free(told);
    struct client_session *ts = client_session_find(nora, client_young_session(tr)->sid_hex);
    assert_non_null(ts);
    assert_false(ts->ended);
    assert_int_equal(client_young_session(tr)->transfers, 0);
    client_free(y);
    client_free(tr);
    client_free(nadia);
    client_free(sven);
    client_free(nils);
    client_free(nora);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lotsectl_org_checks_and_audits, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_routing_by_postcode_state_language_and_topic,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_when_the_organisation_is_closed_or_nobody_is_there, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_pool_when_nobody_is_available_and_on_the_tick,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_language_nobody_speaks_now_and_dropping_it_keeps_the_place, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_hello_region_and_lang_are_checked, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_transfer_to_a_colleague_follows_the_route,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_takes_across_organisations, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_the_postcode_is_in_no_table_log_or_metric,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
