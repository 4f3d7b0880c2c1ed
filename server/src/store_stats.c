/* store_stats.c — supervision, statistics and retention through the store
 * (store.h): look-ups that fail at once while the database is unreachable. The
 * statements are in store_stats_sql.c. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>

/* Queues sql with the numbers a and, when n is 2, b as its text parameters. */
static int query_numbers(struct store *s, const char *sql, const char *what, store_result_cb cb,
                         void *arg, int n, long long a, long long b)
{
    char ta[24], tb[24];
    snprintf(ta, sizeof(ta), "%lld", a);
    snprintf(tb, sizeof(tb), "%lld", b);
    const char *p[2] = {ta, tb};
    return store__query(s, sql, what, cb, arg, n, p);
}

int store_today_counts(struct store *s, time_t midnight, store_result_cb cb, void *arg)
{
    return query_numbers(s, store__sql_today, "today's counts", cb, arg, 1, midnight, 0);
}

int store_stats_aggregate(struct store *s, int window_hours, int retention_days, store_result_cb cb,
                          void *arg)
{
    return query_numbers(s, store_sql_aggregate, "hourly statistics", cb, arg, 2, window_hours,
                         retention_days);
}

int store_purge(struct store *s, int retention_days, int audit_retention_days, store_result_cb cb,
                void *arg)
{
    return query_numbers(s, store_sql_purge, "retention purge", cb, arg, 2, retention_days,
                         audit_retention_days);
}

int store_feedback_count(struct store *s, const char *topic, int org_id, int answer)
{
    static const char *const answers[] = {"yes", "some", "no"};
    if (answer < 0 || answer > 2)
        return -EINVAL;
    char o[16];
    snprintf(o, sizeof(o), "%d", org_id > 0 ? org_id : 0);
    const char *p[3] = {topic, answers[answer], o};
    return store__query(s, store__sql_feedback, "chat feedback", NULL, NULL, 3, p);
}

int store_stats_read(struct store *s, int days, const char *tz, int org_id, store_result_cb cb,
                     void *arg)
{
    char d[16], o[16];
    snprintf(d, sizeof(d), "%d", days);
    snprintf(o, sizeof(o), "%d", org_id < 0 ? -1 : org_id);
    const char *p[3] = {d, tz, o};
    return store__query(s, store_sql_stats_daily, "statistics read", cb, arg, 3, p);
}
