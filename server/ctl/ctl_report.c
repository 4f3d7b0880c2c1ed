/* ctl_report.c — lotsectl stats --org/--from/--to/--format: the funder's
 * report per organisation from the hourly aggregates (stats_hourly), per day
 * and topic, with a total per organisation over the period and, for all
 * organisations, the network's. CSV or JSON on stdout. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_report.h"
#include "lotse/json.h"
#include "store.h"

/* The figures after org, day, topic (also the CSV header and JSON keys). */
static const char *const report_cols[] = {
    "sessions",     "abandoned",     "escalated",   "wait_p50",
    "wait_p90",     "mean_duration", "mail_opened", "mail_answered_within_target",
    "feedback_yes", "feedback_some", "feedback_no",
};
#define REPORT_NCOLS ((int)(sizeof(report_cols) / sizeof(report_cols[0])))

/* $1 from, $2 to (dates, inclusive), $3 time zone, $4 org id or NULL (all).
 * Grouping sets: org × day × topic, org (day 'total', topic '*'), and the whole
 * network (org level 2). The figures are those of lotsectl stats and /stats
 * (STORE_SQL_STATS_FIGURES). */
/* clang-format off */
static const char report_sql[] =
    "SELECT grouping(x.org_id), coalesce(o.slug, ''), coalesce(o.name, ''),"
    " CASE WHEN grouping(x.d) = 1 THEN 'total' ELSE x.d END,"
    " CASE WHEN grouping(x.topic) = 1 THEN '*' ELSE x.topic END,"
    STORE_SQL_STATS_FIGURES
    " FROM (SELECT h.*, to_char((h.hour AT TIME ZONE $3::text)::date, 'YYYY-MM-DD') AS d"
    "  FROM stats_hourly h WHERE h.hour >= $1::date::timestamp AT TIME ZONE $3::text"
    "  AND h.hour < ($2::date + 1)::timestamp AT TIME ZONE $3::text"
    "  AND ($4::integer IS NULL OR h.org_id = $4::integer)) x"
    " LEFT JOIN organisations o ON o.id = x.org_id"
    " GROUP BY GROUPING SETS ((x.org_id, o.slug, o.name, x.d, x.topic),"
    "  (x.org_id, o.slug, o.name), ())"
    " ORDER BY grouping(x.org_id), x.org_id, grouping(x.d), x.d, x.topic";
/* clang-format on */

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const PGresult *res, bool network)
{
    printf("org,day,topic");
    for (int c = 0; c < REPORT_NCOLS; c++)
        printf(",%s", report_cols[c]);
    putchar('\n');
    for (int r = 0; r < PQntuples(res); r++) {
        bool whole = strcmp(PQgetvalue(res, r, 0), "1") == 0;
        if (whole && !network)
            continue;
        csv_field(whole ? "*" : PQgetvalue(res, r, 1));
        for (int c = 3; c < 5; c++) {
            putchar(',');
            csv_field(PQgetvalue(res, r, c));
        }
        for (int c = 0; c < REPORT_NCOLS; c++)
            printf(",%s", PQgetvalue(res, r, c + 5));
        putchar('\n');
    }
}

/* One row as a JSON object on its own line; org and name null for "no
 * organisation" (the pool, never taken) and left out for the network. */
static void print_json_row(const PGresult *res, int r, bool whole, bool more)
{
    char buf[2048];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    if (!whole) {
        const char *slug = PQgetvalue(res, r, 1);
        if (*slug) {
            lotse_jw_str(&w, "org", slug);
            lotse_jw_str(&w, "name", PQgetvalue(res, r, 2));
        } else {
            lotse_jw_null(&w, "org");
            lotse_jw_null(&w, "name");
        }
    }
    if (strcmp(PQgetvalue(res, r, 3), "total") != 0) {
        lotse_jw_str(&w, "day", PQgetvalue(res, r, 3));
        lotse_jw_str(&w, "topic", PQgetvalue(res, r, 4));
    }
    for (int c = 0; c < REPORT_NCOLS; c++)
        lotse_jw_int(&w, report_cols[c], strtoll(PQgetvalue(res, r, c + 5), NULL, 10));
    lotse_jw_obj_end(&w);
    if (lotse_jw_finish(&w) < 0)
        return;
    printf("    %s%s\n", buf, more ? "," : "");
}

/* Prints the rows whose kind is wanted: 0 days, 1 totals, 2 network. */
static void print_json_list(const PGresult *res, const char *key, int kind, bool last)
{
    int n = PQntuples(res), count = 0, at = 0;
    bool want[n > 0 ? n : 1];
    for (int r = 0; r < n; r++) {
        bool whole = strcmp(PQgetvalue(res, r, 0), "1") == 0;
        bool total = strcmp(PQgetvalue(res, r, 3), "total") == 0;
        want[r] = kind == 2 ? whole : !whole && total == (kind == 1);
        count += want[r];
    }
    printf("  \"%s\": [\n", key);
    for (int r = 0; r < n; r++)
        if (want[r])
            print_json_row(res, r, kind == 2, ++at < count);
    printf("  ]%s\n", last ? "" : ",");
}

static void print_json(const PGresult *res, const struct ctl_report *rq)
{
    char buf[512];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_str(&w, NULL, rq->tz);
    if (lotse_jw_finish(&w) < 0)
        snprintf(buf, sizeof(buf), "null");
    printf("{\n  \"from\": \"%s\",\n  \"to\": \"%s\",\n  \"timezone\": %s,\n", rq->from, rq->to,
           buf);
    if (rq->org)
        printf("  \"org\": \"%s\",\n", rq->org);
    else
        printf("  \"org\": null,\n");
    print_json_list(res, "days", 0, false);
    print_json_list(res, "totals", 1, rq->org != NULL);
    if (!rq->org)
        print_json_list(res, "network", 2, true);
    printf("}\n");
}

/* A date as YYYY-MM-DD (PostgreSQL checks that it exists). */
static bool date_shaped(const char *s)
{
    if (strlen(s) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    return true;
}

/* The organisation's id as text into id; CTL_OK, CTL_USAGE (unknown) or CTL_FAIL. */
static int org_id_of(PGconn *db, const char *slug, char *id, size_t cap)
{
    const char *v[1] = {slug};
    PGresult *res = ctl_db_query(db, "SELECT id FROM organisations WHERE slug = $1", 1, v, NULL,
                                 NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        return CTL_FAIL;
    int rc = CTL_OK;
    if (PQntuples(res) != 1) {
        ctl_error("--org: no organisation '%s' (lotsectl org list)", slug);
        rc = CTL_USAGE;
    } else {
        snprintf(id, cap, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* Fills in from/to (default: the last 7 days up to today in tz) into the
 * caller's buffers; CTL_OK, CTL_USAGE or CTL_FAIL. */
static int settle_dates(PGconn *db, struct ctl_report *rq, char *from, char *to)
{
    if ((rq->from && !date_shaped(rq->from)) || (rq->to && !date_shaped(rq->to))) {
        ctl_error("--from and --to are dates: YYYY-MM-DD");
        return CTL_USAGE;
    }
    const char *v[3] = {rq->from, rq->to, rq->tz};
    PGresult *res = PQexecParams(
        db,
        "SELECT to_char(coalesce($1::date, coalesce($2::date, (now() AT TIME ZONE $3::text)::date)"
        " - 6), 'YYYY-MM-DD'), to_char(coalesce($2::date, greatest($1::date + 6, (now() AT TIME"
        " ZONE $3::text)::date)), 'YYYY-MM-DD')",
        3, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (ok) {
        snprintf(from, 11, "%s", PQgetvalue(res, 0, 0));
        snprintf(to, 11, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (!ok) {
        ctl_error("--from/--to: not a date, or --timezone unknown");
        return CTL_USAGE;
    }
    if (strcmp(from, to) > 0) {
        ctl_error("--from %s is after --to %s", from, to);
        return CTL_USAGE;
    }
    rq->from = from;
    rq->to = to;
    return CTL_OK;
}

int ctl_report(PGconn *db, struct ctl_report *rq)
{
    bool json = rq->format && strcmp(rq->format, "json") == 0;
    if (rq->format && !json && strcmp(rq->format, "csv") != 0) {
        ctl_error("--format must be csv or json");
        return CTL_USAGE;
    }
    char id[CTL_ID_BYTES] = "", from[11], to[11];
    int rc = rq->org ? org_id_of(db, rq->org, id, sizeof(id)) : CTL_OK;
    if (rc == CTL_OK)
        rc = settle_dates(db, rq, from, to);
    if (rc != CTL_OK)
        return rc;
    const char *v[4] = {rq->from, rq->to, rq->tz, rq->org ? id : NULL};
    PGresult *res = ctl_db_query(db, report_sql, 4, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        return CTL_FAIL;
    if (json)
        print_json(res, rq);
    else
        print_csv(res, rq->org == NULL);
    PQclear(res);
    return CTL_OK;
}
