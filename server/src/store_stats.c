/* store_stats.c — supervision, statistics and retention through the store
 * (store.h): look-ups that fail at once while the database is unreachable. The
 * statements are in store_stats_sql.c. */
#include "store_internal.h"

#include <stdio.h>

int store_today_counts(struct store *s, time_t midnight, store_result_cb cb, void *arg)
{
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)midnight);
    const char *p[1] = {t};
    return store__query(s, store__sql_today, "today's counts", cb, arg, 1, p);
}

int store_stats_aggregate(struct store *s, int window_hours, int retention_days, store_result_cb cb,
                          void *arg)
{
    char h[16], d[16];
    snprintf(h, sizeof(h), "%d", window_hours);
    snprintf(d, sizeof(d), "%d", retention_days);
    const char *p[2] = {h, d};
    return store__query(s, store_sql_aggregate, "hourly statistics", cb, arg, 2, p);
}

int store_purge(struct store *s, int retention_days, int audit_retention_days, store_result_cb cb,
                void *arg)
{
    char d[16], a[16];
    snprintf(d, sizeof(d), "%d", retention_days);
    snprintf(a, sizeof(a), "%d", audit_retention_days);
    const char *p[2] = {d, a};
    return store__query(s, store_sql_purge, "retention purge", cb, arg, 2, p);
}

int store_stats_read(struct store *s, int days, const char *tz, store_result_cb cb, void *arg)
{
    char d[16];
    snprintf(d, sizeof(d), "%d", days);
    const char *p[2] = {d, tz};
    return store__query(s, store_sql_stats_daily, "statistics read", cb, arg, 2, p);
}
