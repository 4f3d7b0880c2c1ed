/* stats.c — when the server updates stats_hourly and purges old rows.
 *
 * The aggregate recomputes the completed hours of the last two days (a session
 * row arrives when the session ends, possibly hours after the hour it started
 * in, and rows held back by a database outage arrive later still). The purge
 * runs first a few seconds after start-up, then hourly; it aggregates the hours
 * it is about to delete in the same statement, so the history survives. A
 * statement that fails (database away) is tried again after a minute. */
#include "stats.h"

#include "hub.h"
#include "log.h"
#include "store.h"

#define STATS_WINDOW_HOURS 48
#define STATS_FIRST_DELAY_MS 3000
#define PURGE_FIRST_DELAY_MS 5000
#define PURGE_INTERVAL_MS (3600 * 1000)
#define RETRY_MS (60 * 1000)

static void aggregate_done(void *arg, int status, const struct pg_result *res)
{
    struct hub *hub = arg;
    hub->stats_busy = false;
    if (status != 0) {
        hub->stats_next_ms = hub_now_ms() + RETRY_MS;
        return;
    }
    log_debug("statistics: %lld hour rows updated", (long long)store_result_int(res, 0, 0));
}

static void purge_done(void *arg, int status, const struct pg_result *res)
{
    struct hub *hub = arg;
    hub->purge_busy = false;
    if (status != 0) {
        hub->purge_next_ms = hub_now_ms() + RETRY_MS;
        return;
    }
    long long sessions = store_result_int(res, 0, 0), audit = store_result_int(res, 0, 1);
    if (sessions || audit)
        log_info("retention: purged %lld session rows older than %d days and %lld audit rows "
                 "older than %d days (%lld hours aggregated first)",
                 sessions, hub->cfg->retention_days, audit, hub->cfg->audit_retention_days,
                 (long long)store_result_int(res, 0, 2));
}

void stats_tick(struct hub *hub, int64_t now)
{
    if (!hub->store || hub->stopping)
        return;
    if (!hub->stats_next_ms) {
        hub->stats_next_ms = now + STATS_FIRST_DELAY_MS;
        hub->purge_next_ms = now + PURGE_FIRST_DELAY_MS;
    }
    struct store_stats st;
    store_get_stats(hub->store, &st);
    if (!st.up)
        return;
    if (!hub->stats_busy && now >= hub->stats_next_ms) {
        hub->stats_next_ms = now + (int64_t)hub->cfg->stats_interval * 1000;
        if (store_stats_aggregate(hub->store, STATS_WINDOW_HOURS, hub->cfg->retention_days,
                                  aggregate_done, hub) == 0)
            hub->stats_busy = true;
    }
    if (!hub->purge_busy && now >= hub->purge_next_ms) {
        hub->purge_next_ms = now + PURGE_INTERVAL_MS;
        if (store_purge(hub->store, hub->cfg->retention_days, hub->cfg->audit_retention_days,
                        purge_done, hub) == 0)
            hub->purge_busy = true;
    }
}
