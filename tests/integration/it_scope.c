/* it_scope.c — who sees what in a network of organisations (issue 15): a
 * supervisor sees their organisation only, through every endpoint and
 * message; a coordinator sees all of them side by side and the network total;
 * lotsectl stats --org … --format csv|json reports per organisation. Three
 * organisations besides 'main', with the real lotsed and database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"
#include "lotse/json.h"
#include "mail_client.h"

#define T 5000

/* The three organisations: nord (Berlin 10…), sued (Bavaria), ost (pool). */
static void add_orgs(struct harness *h)
{
    PGresult *r =
        harness_exec(h, "INSERT INTO organisations (slug, name, regions, takes_pool) VALUES"
                        " ('nord', 'Familienhilfe Nord', '{10}', false),"
                        " ('sued', 'Jugendhilfe Süd', '{DE-BY}', false),"
                        " ('ost', 'Netz Ost', '{}', true)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static long org_id(struct harness *h, const char *slug)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT id FROM organisations WHERE slug = '%s'", slug);
    return harness_sql_long(h, sql);
}

/* An account of role in organisation slug. */
static void staff(struct harness *h, const char *handle, const char *role, const char *slug)
{
    bool counsellor = strcmp(role, "counsellor") == 0;
    assert_int_equal(harness_add_account(h, handle, role, handle, "family,school", 2, counsellor),
                     0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH u AS (UPDATE accounts SET org_id = (SELECT id FROM organisations"
             " WHERE slug = '%s') WHERE handle = '%s' RETURNING 1) SELECT count(*) FROM u",
             slug, handle);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

/* An hourly row of organisation slug ("" = none) at local hour of today
 * (Europe/Berlin) minus day_offset days. */
static void row(struct harness *h, const char *slug, int day_offset, int hour, const char *topic,
                int sessions, int abandoned, int p50, int p90, int mean, int mail_opened,
                int mail_in_time, int yes)
{
    char org[96] = "0";
    if (*slug)
        snprintf(org, sizeof org, "(SELECT id FROM organisations WHERE slug = '%s')", slug);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH i AS (INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned,"
             " escalated, wait_p50, wait_p90, mean_duration, mail_opened,"
             " mail_answered_within_target, feedback_yes)"
             " VALUES ((date_trunc('day', now() AT TIME ZONE 'Europe/Berlin')"
             " - interval '%d days' + interval '%d hours') AT TIME ZONE 'Europe/Berlin',"
             " '%s', %s, %d, %d, 0, %d, %d, %d, %d, %d, %d) RETURNING 1) SELECT count(*) FROM i",
             day_offset, hour, topic, org, sessions, abandoned, p50, p90, mean, mail_opened,
             mail_in_time, yes);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

/* Today's and yesterday's figures of every organisation. nord has two topics
 * today; the numbers of sessions tell the organisations apart. */
static void rows(struct harness *h)
{
    row(h, "nord", 0, 1, "family", 11, 1, 30, 90, 600, 2, 1, 4);
    row(h, "nord", 0, 2, "school", 5, 0, 60, 120, 300, 1, 1, 0);
    row(h, "nord", 1, 10, "family", 13, 0, 10, 20, 100, 0, 0, 0);
    row(h, "sued", 0, 1, "family", 77, 7, 100, 300, 900, 9, 3, 2);
    row(h, "ost", 0, 3, "school", 3, 0, 20, 40, 200, 0, 0, 0);
    row(h, "", 0, 4, "family", 2, 2, 50, 50, 0, 0, 0, 0);
}

static void day(struct harness *h, int offset, char out[16])
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT to_char((now() AT TIME ZONE 'Europe/Berlin')::date - %d, 'YYYYMMDD')::bigint",
             offset);
    long d = harness_sql_long(h, sql);
    snprintf(out, 16, "%04d-%02d-%02d", (int)(d / 10000 % 10000), (int)(d / 100 % 100),
             (int)(d % 100));
}

static int stats(struct harness *h, char *out, size_t cap, const char *a1, const char *a2,
                 const char *a3, const char *a4, const char *a5, const char *a6, const char *a7,
                 const char *a8)
{
    const char *args[] = {"stats", "--timezone", "Europe/Berlin", a1, a2, a3, a4, a5, a6, a7,
                          a8,      NULL};
    out[0] = '\0';
    return harness_ctl(h, true, NULL, out, cap, args);
}

static void test_ctl_stats_per_organisation_csv_and_json(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    rows(h);
    char today[16], yday[16], line[400];
    day(h, 0, today);
    day(h, 1, yday);
    char *out = malloc(65536);
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--from", yday, "--to", today, "--format", "csv"), 0);
    printf("stats --org nord csv:\n%s", out);
    assert_non_null(strstr(out, "org,day,topic,sessions,abandoned,escalated,wait_p50,wait_p90,"
                                "mean_duration,mail_opened,mail_answered_within_target,"
                                "feedback_yes,feedback_some,feedback_no\n"));
    snprintf(line, sizeof line, "nord,%s,family,13,0,0,10,20,100,0,0,0,0,0\n", yday);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof line, "nord,%s,family,11,1,0,30,90,600,2,1,4,0,0\n", today);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof line, "nord,%s,school,5,0,0,60,120,300,1,1,0,0,0\n", today);
    assert_non_null(strstr(out, line));
    /* the period: 29 sessions; p50 (30*11+60*5+10*13)/29 = 26.2; p90
     * (990+600+260)/29 = 63.8; duration by taken (600*10+300*5+100*13)/28 = 314.3 */
    assert_non_null(strstr(out, "nord,total,*,29,1,0,26,64,314,3,2,4,0,0\n"));
    assert_null(strstr(out, "sued"));
    assert_null(strstr(out, ",77,"));
    assert_null(strstr(out, "\n*,"));

    /* the same as JSON */
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--from", yday, "--to", today, "--format", "json"),
        0);
    printf("stats --org nord json:\n%s", out);
    snprintf(line, sizeof line, "\"from\": \"%s\",\n  \"to\": \"%s\"", yday, today);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\"org\": \"nord\""));
    snprintf(
        line, sizeof line,
        "{\"org\":\"nord\",\"name\":\"Familienhilfe Nord\",\"day\":\"%s\",\"topic\":\"school\","
        "\"sessions\":5,\"abandoned\":0,\"escalated\":0,\"wait_p50\":60,\"wait_p90\":120,"
        "\"mean_duration\":300,\"mail_opened\":1,\"mail_answered_within_target\":1,"
        "\"feedback_yes\":0,\"feedback_some\":0,\"feedback_no\":0}",
        today);
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\"totals\": [\n    {\"org\":\"nord\",\"name\":\"Familienhilfe "
                                "Nord\",\"sessions\":29,\"abandoned\":1"));
    assert_null(strstr(out, "\"network\""));
    assert_null(strstr(out, "sued"));

    /* every organisation: one total each, "no organisation" (empty) and the
     * network's, which is the sum: 29 + 77 + 3 + 2 = 111 */
    assert_int_equal(
        stats(h, out, 65536, "--from", yday, "--to", today, "--format", "csv", NULL, NULL), 0);
    printf("stats csv (all):\n%s", out);
    assert_non_null(strstr(out, "nord,total,*,29,"));
    assert_non_null(strstr(out, "sued,total,*,77,7,0,100,300,900,9,3,2,0,0\n"));
    assert_non_null(strstr(out, "ost,total,*,3,"));
    assert_non_null(strstr(out, "\n,total,*,2,2,"));
    assert_non_null(strstr(out, "\n*,total,*,111,10,0,"));
    assert_int_equal(
        stats(h, out, 65536, "--from", yday, "--to", today, "--format", "json", NULL, NULL), 0);
    assert_non_null(strstr(out, "{\"org\":null,\"name\":null,\"sessions\":2,"));
    assert_non_null(strstr(out, "\"network\": [\n    {\"sessions\":111,\"abandoned\":10,"));
    /* one day only: yesterday has nord's 13 */
    assert_int_equal(stats(h, out, 65536, "--from", yday, "--to", yday, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "\n*,total,*,13,0,"));

    /* misuse: unknown organisation, bad dates, bad format, mixing forms */
    assert_int_equal(stats(h, out, 65536, "--org", "west", NULL, NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(
        stats(h, out, 65536, "--from", "2026-13-01", NULL, NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(stats(h, out, 65536, "--from", "1.2.2026", NULL, NULL, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(stats(h, out, 65536, "--from", today, "--to", yday, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(stats(h, out, 65536, "--format", "xml", NULL, NULL, NULL, NULL, NULL, NULL),
                     2);
    assert_int_equal(
        stats(h, out, 65536, "--org", "nord", "--hourly", NULL, NULL, NULL, NULL, NULL), 2);
    /* the existing forms still work */
    assert_int_equal(stats(h, out, 65536, "--days", "2", NULL, NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "day        sessions"));
    free(out);
    harness_pass(h);
}

/* GET /stats with token and path; the body into out; the status. */
static int get_with(struct harness *h, const char *token, const char *path, char *out, size_t cap)
{
    int status = 0;
    assert_int_equal(harness_http_get_auth(h, 0, path, token, &status, out, cap), 0);
    return status;
}

/* GET /stats with the token of who (its first message after login). */
static int get_stats(struct harness *h, struct client *who, const char *path, char *out, size_t cap)
{
    char token[64];
    assert_int_equal(harness_stats_token(who, token, sizeof token), 0);
    return get_with(h, token, path, out, cap);
}

static void test_stats_endpoint_is_scoped_by_role(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    staff(h, "sup_nord", "supervisor", "nord");
    staff(h, "sup_sued", "supervisor", "sued");
    staff(h, "coord", "coordinator", "main");
    rows(h);
    assert_int_equal(harness_start(h), 0);
    struct client *nord, *sued, *coord;
    assert_int_equal(harness_counsellor(h, "sup_nord", &nord), 0);
    assert_int_equal(harness_counsellor(h, "sup_sued", &sued), 0);
    assert_int_equal(harness_counsellor(h, "coord", &coord), 0);
    assert_int_equal(coord->role, CLIENT_SUPERVISOR);
    char *body = malloc(65536), want[64];

    /* a supervisor: their organisation's figures only (today 16, nothing of sued's 77) */
    assert_int_equal(get_stats(h, nord, "/stats?days=2", body, 65536), 200);
    printf("nord's /stats: %s\n", body);
    snprintf(want, sizeof want, "\"org\":%ld,", org_id(h, "nord"));
    assert_non_null(strstr(body, want));
    assert_non_null(strstr(body, "\"sessions\":16,"));
    assert_non_null(strstr(body, "\"sessions\":13,"));
    assert_null(strstr(body, "\"sessions\":77"));
    assert_null(strstr(body, "\"sessions\":98")); /* today's of the network */
    assert_int_equal(get_stats(h, sued, "/stats?days=2", body, 65536), 200);
    assert_non_null(strstr(body, "\"sessions\":77,"));
    assert_null(strstr(body, "\"sessions\":16"));

    /* the coordinator: the network (today 16 + 77 + 3 + 2 = 98) */
    assert_int_equal(get_stats(h, coord, "/stats?days=2", body, 65536), 200);
    printf("coordinator's /stats: %s\n", body);
    assert_non_null(strstr(body, "\"org\":null,"));
    assert_non_null(strstr(body, "\"sessions\":98,"));

    free(body);
    client_free(coord);
    client_free(sued);
    client_free(nord);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* The next message of type t that c receives whose top-level "key" (its first
 * occurrence) is want; its text (free it), or NULL after T. */
static char *wait_for(struct client *c, const char *t, const char *key, long long want)
{
    for (int i = 0; i < 100; i++) {
        char *m = harness_next_raw(c, t, T);
        if (!m)
            return NULL;
        if (harness_json_int(m, NULL, key) == want)
            return m;
        free(m);
    }
    return NULL;
}

static struct client *young(struct harness *h, const char *topic, const char *region)
{
    struct client *y;
    assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    snprintf(y->hello_region, sizeof y->hello_region, "%s", region);
    assert_int_equal(client_young_hello(y, topic, T), 0);
    return y;
}

/* Three organisations with a supervisor each (ost's: none), a counsellor in
 * nord and sued, a coordinator; one young person for nord, two for sued. */
static void test_feed_counsellors_escalations_summary_are_scoped(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    staff(h, "k_nord", "counsellor", "nord");
    staff(h, "k_sued", "counsellor", "sued");
    staff(h, "sup_nord", "supervisor", "nord");
    staff(h, "sup_sued", "supervisor", "sued");
    staff(h, "coord", "coordinator", "main");
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_log_wait(h, "orgs: 4 organisation(s)", T), 0);
    struct client *sn, *ss, *co;
    assert_int_equal(harness_counsellor(h, "sup_nord", &sn), 0);
    assert_int_equal(harness_counsellor(h, "sup_sued", &ss), 0);
    assert_int_equal(harness_counsellor(h, "coord", &co), 0);
    char tok_n[64], tok_c[64];
    assert_int_equal(harness_stats_token(sn, tok_n, sizeof tok_n), 0);
    assert_int_equal(harness_stats_token(co, tok_c, sizeof tok_c), 0);
    struct client *y1 = young(h, "family", "104"), *y2 = young(h, "family", "DE-BY"),
                  *y3 = young(h, "family", "DE-BY");
    /* the young person's region routes the chat (r/orgs: chat_route.c); the
     * session row keeps the first candidate */
    if (harness_wait_count(h, "SELECT count(*) FROM sessions WHERE org_id IS NOT NULL", 3, 2000) <
        3) {
        fprintf(stderr, "hello's region does not route yet: skipped\n");
        client_free(y1);
        client_free(y2);
        client_free(y3);
        client_free(co);
        client_free(ss);
        client_free(sn);
        assert_int_equal(harness_stop(h), 0);
        harness_pass(h);
        skip();
    }

    /* who waits: nord 1, sued 2, the network 3 */
    char *f = wait_for(co, "feed", "waiting", 3);
    assert_non_null(f);
    assert_non_null(strstr(f, "\"org\":null,"));
    free(f);
    f = wait_for(sn, "feed", "waiting", 1);
    assert_non_null(f);
    char want[96];
    snprintf(want, sizeof want, "{\"t\":\"feed\",\"org\":%ld,", org_id(h, "nord"));
    assert_non_null(strstr(f, want));
    free(f);
    assert_non_null((f = wait_for(ss, "feed", "waiting", 2)));
    free(f);
    /* the staff's queue summary counts the same */
    assert_non_null((f = wait_for(sn, "queue_summary", "waiting", 1)));
    free(f);
    assert_non_null((f = wait_for(co, "queue_summary", "waiting", 3)));
    free(f);
    /* the coordinator's organisations side by side, and the total */
    char *o = harness_next_raw(co, "orgs", T);
    for (int i = 0; o && !strstr(o, "\"total\":{\"waiting\":3,"); i++) {
        free(o);
        o = i < 20 ? harness_next_raw(co, "orgs", T) : NULL;
    }
    assert_non_null(o);
    printf("coordinator's orgs: %s\n", o ? o : "(none)");
    assert_non_null(strstr(o, "\"slug\":\"nord\",\"name\":\"Familienhilfe Nord\",\"revoked\":false,"
                              "\"waiting\":1,"));
    assert_non_null(strstr(o, "\"slug\":\"sued\",\"name\":\"Jugendhilfe Süd\",\"revoked\":false,"
                              "\"waiting\":2,"));
    free(o);
    /* supervisors never get `orgs` */
    assert_null(harness_next_raw(sn, "orgs", 300));

    /* counsellors: each supervisor sees their own */
    struct client *kn, *ks;
    assert_int_equal(harness_counsellor(h, "k_nord", &kn), 0);
    assert_int_equal(harness_counsellor(h, "k_sued", &ks), 0);
    char *l = wait_for(sn, "counsellors", "total", 1);
    assert_non_null(l);
    assert_non_null(strstr(l, "\"handle\":\"k_nord\""));
    assert_null(strstr(l, "k_sued"));
    free(l);
    assert_non_null((l = wait_for(ss, "counsellors", "total", 1)));
    assert_non_null(strstr(l, "\"handle\":\"k_sued\""));
    assert_null(strstr(l, "k_nord"));
    free(l);
    assert_non_null((l = wait_for(co, "counsellors", "total", 2)));
    free(l);

    /* k_nord takes the nord chat and escalates it: nord's supervisor and the
     * coordinator hear, sued's does not */
    struct client_session *cs;
    assert_int_equal(client_take_and_key(kn, &cs, T), 0);
    char msg[128];
    snprintf(msg, sizeof msg, "{\"t\":\"escalate\",\"sid\":\"%s\"}", cs->sid_hex);
    assert_int_equal(client_send_json(kn, msg), 0);
    assert_int_equal(client_expect(kn, "escalated", NULL, T), 0);
    char *e = harness_next_raw(sn, "escalation", T);
    assert_non_null(e);
    free(e);
    assert_non_null((e = harness_next_raw(co, "escalation", T)));
    free(e);
    assert_null(harness_next_raw(ss, "escalation", 500));
    assert_non_null((f = wait_for(sn, "feed", "escalations_open", 1)));
    free(f);
    assert_non_null((f = wait_for(ss, "feed", "active", 0)));
    assert_int_equal(harness_json_int(f, NULL, "escalations_open"), 0);
    assert_int_equal(harness_json_int(f, NULL, "waiting"), 2);
    free(f);

    /* /stats: another organisation's slug is 403, the coordinator's is not */
    char *body = malloc(65536);
    assert_int_equal(get_with(h, tok_n, "/stats?org=sued", body, 65536), 403);
    assert_int_equal(get_with(h, tok_n, "/stats?org=nord", body, 65536), 200);
    snprintf(want, sizeof want, "\"org\":%ld,", org_id(h, "nord"));
    assert_non_null(strstr(body, want));
    assert_int_equal(get_with(h, tok_c, "/stats?org=sued", body, 65536), 200);
    snprintf(want, sizeof want, "\"org\":%ld,", org_id(h, "sued"));
    assert_non_null(strstr(body, want));
    assert_int_equal(get_with(h, tok_c, "/stats?org=west", body, 65536), 404);
    free(body);

    client_free(kn);
    client_free(ks);
    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(co);
    client_free(ss);
    client_free(sn);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A thread of organisation slug ("" = the pool) on the board. */
static void thread(struct harness *h, const char *slug, int i)
{
    char org[96] = "NULL", sql[1024];
    if (*slug)
        snprintf(org, sizeof org, "(SELECT id FROM organisations WHERE slug = '%s')", slug);
    snprintf(sql, sizeof sql,
             "WITH t AS (INSERT INTO mail_threads (tid, lookup_hash, box_pk, sign_pk, topic,"
             " created_hour, last_day, waiting_since, n, bytes, org_id) VALUES"
             " (decode(md5('t%s%d'), 'hex'), decode(md5('l%s%d') || md5('x%s%d'), 'hex'),"
             " decode(md5('b%s%d') || md5('y'), 'hex'), decode(md5('s%s%d') || md5('z'), 'hex'),"
             " 'family', date_trunc('hour', now()), current_date, date_trunc('hour', now()), 1,"
             " 100, %s) RETURNING 1) SELECT count(*) FROM t",
             slug, i, slug, i, slug, i, slug, i, slug, i, org);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

static void board_once(struct client *c, char *out, size_t cap)
{
    out[0] = '\0';
    assert_int_equal(client_send_json(c, "{\"t\":\"mail_list\"}"), 0);
    struct lotse_json_msg *m = malloc(sizeof *m);
    static const char *const types[] = {"mail_item", "mail_list_end"};
    while (client_expect_any(c, types, 2, m, T) == 0) {
        const char *tid;
        size_t n;
        assert_int_equal(lotse_json_get_str(m, "tid", 32, &tid, &n), 0);
        snprintf(out + strlen(out), cap - strlen(out), "%.*s,", (int)n, tid);
    }
    free(m);
}

/* The tids (hex) of c's mail_list, comma-separated, into out (asked again
 * while the board is empty: it loads after the start). */
static void board(struct client *c, char *out, size_t cap)
{
    for (int i = 0; i < 20; i++) {
        board_once(c, out, cap);
        if (out[0])
            return;
        harness_sleep_ms(250);
    }
}

static void test_mail_threads_are_routed_and_the_board_is_scoped(void **state)
{
    struct harness *h = *state;
    add_orgs(h);
    staff(h, "k_nord", "counsellor", "nord");
    staff(h, "k_ost", "counsellor", "ost");
    staff(h, "sup_nord", "supervisor", "nord");
    thread(h, "nord", 1);
    thread(h, "sued", 1);
    thread(h, "", 1);
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_log_wait(h, "orgs: 4 organisation(s)", T), 0);

    /* mail_new with a region goes to the organisation of that region */
    struct mail_young *y;
    assert_int_equal(mail_young_connect(&y, HARNESS_HOST, h->port, h->org_pk, NULL, T), 0);
    snprintf(y->region, sizeof y->region, "DE-BY");
    assert_int_equal(mail_young_new(y, "family", T), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(org_id, 0) FROM mail_threads WHERE tid = decode('%s', 'hex')",
             y->tid_hex);
    assert_int_equal(harness_sql_long(h, sql), org_id(h, "sued"));
    mail_young_free(y);
    /* a bad region or language is bad_field */
    assert_int_equal(mail_young_connect(&y, HARNESS_HOST, h->port, h->org_pk, NULL, T), 0);
    snprintf(y->region, sizeof y->region, "1");
    assert_true(mail_young_new(y, "family", T) < 0);
    assert_string_equal(y->c->err_code, "bad_field");
    mail_young_free(y);

    /* the board: k_nord sees nord's threads only (nord takes no pool); k_ost
     * ost's and the pool's */
    struct client *kn, *ko;
    assert_int_equal(harness_counsellor(h, "k_nord", &kn), 0);
    assert_int_equal(harness_counsellor(h, "k_ost", &ko), 0);
    char tids[4096];
    board(kn, tids, sizeof tids);
    printf("k_nord's board: %s\n", tids);
    long n_nord = harness_sql_long(h, "SELECT count(*) FROM mail_threads m JOIN organisations o"
                                      " ON o.id = m.org_id WHERE o.slug = 'nord'");
    int items = 0;
    for (const char *p = tids; (p = strchr(p, ',')); p++)
        items++;
    assert_int_equal(items, n_nord);
    PGresult *r = harness_exec(h, "SELECT encode(tid, 'hex') FROM mail_threads m LEFT JOIN"
                                  " organisations o ON o.id = m.org_id WHERE o.slug IS DISTINCT"
                                  " FROM 'nord'");
    for (int i = 0; i < PQntuples(r); i++)
        assert_null(strstr(tids, PQgetvalue(r, i, 0)));
    /* and cannot claim one of them */
    snprintf(sql, sizeof sql, "{\"t\":\"mail_claim\",\"tid\":\"%s\"}", PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_int_equal(client_send_json(kn, sql), 0);
    assert_int_equal(client_expect_error(kn, "mail_unknown_thread", T), 0);
    board(ko, tids, sizeof tids);
    printf("k_ost's board: %s\n", tids);
    r = harness_exec(h, "SELECT encode(tid, 'hex') FROM mail_threads WHERE org_id IS NULL");
    assert_true(PQntuples(r) >= 1);
    for (int i = 0; i < PQntuples(r); i++)
        assert_non_null(strstr(tids, PQgetvalue(r, i, 0)));
    PQclear(r);

    /* nord's supervisor: nord's open threads only */
    struct client *sn;
    assert_int_equal(harness_counsellor(h, "sup_nord", &sn), 0);
    char *f = wait_for(sn, "feed", "mail_open", n_nord);
    assert_non_null(f);
    free(f);
    client_free(sn);
    client_free(ko);
    client_free(kn);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_stats_per_organisation_csv_and_json, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_stats_endpoint_is_scoped_by_role, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_feed_counsellors_escalations_summary_are_scoped,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_mail_threads_are_routed_and_the_board_is_scoped,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
