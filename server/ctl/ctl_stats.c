/* ctl_stats.c — stats, purge and audit: reading the hourly aggregates, the
 * retention purge (the same statement lotsed runs hourly, store_stats_sql.c), and the
 * audit log. Purge writes its own audit row in the same transaction. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctl.h"
#include "ctl_report.h"
#include "store.h"

#define DAYS_MAX            3650
#define STATS_REFRESH_HOURS 48
#define AUDIT_LIMIT_MAX     100000

/* What the three commands say about an argument left over. */
#define NO_ARGUMENTS "takes no arguments besides its options (see --help)"

/* Loads lotsed's configuration (for retention and time zone); CTL_OK or
 * CTL_USAGE with the setting named. */
static int load_config(const char *path, struct config *cfg)
{
    char err[300];
    if (config_load(cfg, path, 0, NULL, err, sizeof(err)) != 0) {
        ctl_error("%s", err);
        return CTL_USAGE;
    }
    return CTL_OK;
}

static const char stats_help[] =
    "usage: lotsectl stats [--days N] [--hourly] [--refresh] [--timezone TZ] [--config FILE]\n"
    "Prints session statistics of the last N days (default 7, at most 3650) from\n"
    "the hourly aggregates that lotsed keeps up to date every few minutes:\n"
    "  daily (default): day sessions abandoned escalated wait_p50 wait_p90 mean_duration\n"
    "                   helped_yes helped_some helped_no\n"
    "  --hourly:        hour topic, then as daily\n"
    "Waits and durations are in seconds; a day's percentiles are the session-weighted\n"
    "mean of its hours'. Only completed hours are aggregated. helped_*: answers to\n"
    "\"Hat dir das Gespräch geholfen?\" after chats, counted in the hour they were given.\n"
    "  --refresh     first recompute the aggregates of the last two days (needs write\n"
    "                access; for when lotsed is not running)\n"
    "  --timezone    days and hours in this zone (default: timezone of --config FILE,\n"
    "                else Europe/Berlin)\n"
    "\n"
    "usage: lotsectl stats [--org SLUG] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
    "                      [--format csv|json] [--refresh] [--timezone TZ] [--config FILE]\n"
    "The report per organisation (for funders), from --from to --to inclusive (default:\n"
    "the 7 days up to today), of the organisation SLUG or of every organisation.\n"
    "CSV (default) columns:\n"
    "  org day topic sessions abandoned escalated wait_p50 wait_p90 mean_duration\n"
    "  mail_opened mail_answered_within_target feedback_yes feedback_some feedback_no\n"
    "  org:      the organisation's slug; empty: no organisation (a chat routed to the\n"
    "            pool that nobody took, a thread nobody's); * the whole network\n"
    "  day:      YYYY-MM-DD, or 'total' for the whole period (then topic is '*')\n"
    "  sessions: chats started; abandoned: not taken by anyone; escalated: to a supervisor\n"
    "  wait_p50, wait_p90: seconds until taken (session-weighted mean of the hours')\n"
    "  mean_duration: seconds from taken to end\n"
    "  mail_opened: threads started; mail_answered_within_target: first answers within\n"
    "            mail_target_hours; feedback_*: answers to \"Hat dir das Gespräch geholfen?\"\n"
    "A chat counts for the organisation whose counsellor took it, else the first it was\n"
    "routed to; a thread for the organisation it was routed to. Rows per day and topic,\n"
    "then one total per organisation; without --org also the network's (org *).\n"
    "--format json: {from, to, timezone, org, days: [...], totals: [...], network: [...]}\n"
    "with the same names (org and name null for no organisation).\n";

/* Prints the rows of store_sql_stats_hourly, hours in time zone tz. */
static void print_hourly(const PGresult *res, const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
    printf("%-17s %-16s %8s %9s %9s %8s %8s %13s %10s %11s %9s\n", "hour", "topic", "sessions",
           "abandoned", "escalated", "wait_p50", "wait_p90", "mean_duration", "helped_yes",
           "helped_some", "helped_no");
    for (int i = 0; i < PQntuples(res); i++) {
        time_t t = (time_t)strtoll(PQgetvalue(res, i, 0), NULL, 10);
        struct tm tm;
        char when[32];
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        printf("%-17s %-16s %8s %9s %9s %8s %8s %13s %10s %11s %9s\n", when, PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
               PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
               PQgetvalue(res, i, 8), PQgetvalue(res, i, 9), PQgetvalue(res, i, 10));
    }
}

/* Prints the rows of store_sql_stats_daily (its mail counts, columns 7 and 8,
 * are /stats's). */
static void print_daily(const PGresult *res)
{
    printf("%-10s %8s %9s %9s %8s %8s %13s %10s %11s %9s\n", "day", "sessions", "abandoned",
           "escalated", "wait_p50", "wait_p90", "mean_duration", "helped_yes", "helped_some",
           "helped_no");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-10s %8s %9s %9s %8s %8s %13s %10s %11s %9s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
               PQgetvalue(res, i, 9), PQgetvalue(res, i, 10), PQgetvalue(res, i, 11));
}

int ctl_cmd_stats(const char *conninfo, int argc, char **argv)
{
    long days = -1;
    bool hourly = false, refresh = false;
    const char *tz = NULL, *config_path = NULL;
    struct ctl_report rq = {0};
    const struct ctl_opt opts[] = {
        CTL_LONG("days", 'd', &days, 1, DAYS_MAX), CTL_FLAG("hourly", 'H', &hourly),
        CTL_FLAG("refresh", 'r', &refresh),        CTL_TEXT("timezone", 't', &tz),
        CTL_TEXT("config", 'c', &config_path),     CTL_TEXT("org", 'o', &rq.org),
        CTL_TEXT("from", 'f', &rq.from),           CTL_TEXT("to", 'T', &rq.to),
        CTL_TEXT("format", 'F', &rq.format),       {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, stats_help, NO_ARGUMENTS, &rc))
        return rc;
    bool report = rq.org || rq.from || rq.to || rq.format;
    if (report && (hourly || days > 0)) {
        ctl_error("stats: --org/--from/--to/--format go without --days and --hourly");
        return CTL_USAGE;
    }
    if (days < 0)
        days = 7;
    static struct config cfg;
    rc = load_config(config_path, &cfg);
    if (rc != CTL_OK)
        return rc;
    if (!tz)
        tz = cfg.timezone;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    rc = CTL_FAIL;
    char d[16], r[16], hours[16];
    snprintf(d, sizeof(d), "%ld", days);
    snprintf(r, sizeof(r), "%d", cfg.retention_days);
    snprintf(hours, sizeof(hours), "%d", STATS_REFRESH_HOURS);
    PGresult *res;
    if (refresh) {
        const char *v[2] = {hours, r};
        res = ctl_db_query(db, store_sql_aggregate, 2, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
        if (!res)
            goto out;
        PQclear(res);
    }
    if (report) {
        rq.tz = tz;
        rc = ctl_report(db, &rq);
        goto out;
    }
    /* The zone is checked by PostgreSQL itself (an unknown one is an error). */
    const char *v[3] = {d, tz, "-1"};
    res = ctl_db_query(db, hourly ? store_sql_stats_hourly : store_sql_stats_daily, hourly ? 1 : 3,
                       v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        goto out;
    if (hourly)
        print_hourly(res, tz);
    else
        print_daily(res);
    PQclear(res);
    rc = CTL_OK;
out:
    PQfinish(db);
    return rc;
}
static const char purge_help[] =
    "usage: lotsectl purge [--dry-run] [--retention-days N] [--audit-retention-days N]\n"
    "                      [--config FILE]\n"
    "Deletes session rows of whole hours older than the retention (default 90 days,\n"
    "or retention_days of --config FILE) and audit rows older than the audit retention\n"
    "(default 730 days, or audit_retention_days). The hourly aggregates of the hours\n"
    "deleted are computed first and stay. lotsed does the same every hour.\n"
    "  --dry-run   only count what would be deleted\n"
    "Prints \"sessions N audit M\" (deleted, or that would be with --dry-run).\n";

/* purge --dry-run: prints what would go; CTL_OK or CTL_FAIL. */
static int purge_count(PGconn *db, const char *const *v)
{
    PGresult *res =
        ctl_db_query(db, store_sql_purge_count, 2, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        return CTL_FAIL;
    printf("sessions %s audit %s (dry run: nothing deleted)\n", PQgetvalue(res, 0, 0),
           PQgetvalue(res, 0, 1));
    PQclear(res);
    return CTL_OK;
}

/* The purge and its audit row in one transaction; CTL_OK or CTL_FAIL. */
static int purge_run(PGconn *db, const char *const *v, long retention, long audit)
{
    if (ctl_db_exec(db, "BEGIN") < 0)
        return CTL_FAIL;
    PGresult *res = ctl_db_query(db, store_sql_purge, 2, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        return CTL_FAIL;
    char detail[160];
    snprintf(detail, sizeof(detail),
             "sessions=%s audit=%s hours_aggregated=%s retention_days=%ld audit_retention_days=%ld",
             PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), retention, audit);
    char out_line[80];
    snprintf(out_line, sizeof(out_line), "sessions %s audit %s", PQgetvalue(res, 0, 0),
             PQgetvalue(res, 0, 1));
    PQclear(res);
    if (ctl_db_commit_audited(db, "purge", NULL, detail) < 0)
        return CTL_FAIL;
    printf("%s\n", out_line);
    return CTL_OK;
}

int ctl_cmd_purge(const char *conninfo, int argc, char **argv)
{
    bool dry = false;
    long retention = -1, audit = -1;
    const char *config_path = NULL;
    const struct ctl_opt opts[] = {
        CTL_FLAG("dry-run", 'n', &dry),
        CTL_LONG("retention-days", 'r', &retention, 1, 3650),
        CTL_LONG("audit-retention-days", 'a', &audit, 1, 36500),
        CTL_TEXT("config", 'c', &config_path),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, purge_help, NO_ARGUMENTS, &rc))
        return rc;
    static struct config cfg;
    rc = load_config(config_path, &cfg);
    if (rc != CTL_OK)
        return rc;
    if (retention < 0)
        retention = cfg.retention_days;
    if (audit < 0)
        audit = cfg.audit_retention_days;
    char r[24], a[24]; /* room for any long */
    snprintf(r, sizeof(r), "%ld", retention);
    snprintf(a, sizeof(a), "%ld", audit);
    const char *v[2] = {r, a};
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    rc = dry ? purge_count(db, v) : purge_run(db, v, retention, audit);
    PQfinish(db);
    return rc;
}

static const char audit_help[] =
    "usage: lotsectl audit [--since TIME] [--handle H] [--limit N]\n"
    "Shows the audit log, oldest first: time (UTC) actor action account detail.\n"
    "  --since   only rows at or after TIME (e.g. 2026-03-01 or \"2026-03-01 14:00+01\")\n"
    "  --handle  only rows about account H\n"
    "  --limit   at most the newest N rows (default 100)\n";

int ctl_cmd_audit(const char *conninfo, int argc, char **argv)
{
    const char *since = NULL, *handle = NULL;
    long limit = 100;
    const struct ctl_opt opts[] = {
        CTL_TEXT("since", 's', &since),
        CTL_TEXT("handle", 'H', &handle),
        CTL_LONG("limit", 'l', &limit, 1, AUDIT_LIMIT_MAX),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, audit_help, NO_ARGUMENTS, &rc))
        return rc;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    rc = CTL_FAIL;
    if (since) {
        /* a bad time is the operator's typo, not a database failure */
        const char *v[1] = {since};
        PGresult *t = PQexecParams(db, "SELECT $1::timestamptz", 1, NULL, v, NULL, NULL, 0);
        bool ok = PQresultStatus(t) == PGRES_TUPLES_OK;
        PQclear(t);
        if (!ok) {
            ctl_error("--since: '%s' is not a time PostgreSQL understands (e.g. 2026-03-01)",
                      since);
            rc = CTL_USAGE;
            goto out;
        }
    }
    char lim[16];
    snprintf(lim, sizeof(lim), "%ld", limit);
    const char *v[3] = {since, handle, lim};
    PGresult *res = ctl_db_query(
        db,
        "SELECT * FROM (SELECT l.id, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
        " l.actor, l.action, coalesce(a.handle, '-'), l.detail"
        " FROM audit_log l LEFT JOIN accounts a ON a.id = l.account_id"
        " WHERE ($1::timestamptz IS NULL OR l.at >= $1::timestamptz)"
        " AND ($2::text IS NULL OR a.handle = $2)"
        " ORDER BY l.id DESC LIMIT $3::integer) x ORDER BY 1",
        3, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!res)
        goto out;
    printf("%-19s %-12s %-24s %-20s %s\n", "at (UTC)", "actor", "action", "account", "detail");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-19s %-12s %-24s %-20s %s\n", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
               PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
    PQclear(res);
    rc = CTL_OK;
out:
    PQfinish(db);
    return rc;
}
