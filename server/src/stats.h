/* stats.h — the server's share of statistics and retention: the hourly
 * aggregates (stats_hourly) brought up to date every stats_interval seconds and
 * the retention purge once an hour, both as single statements through the
 * store (store.h), never blocking the service thread. */
#ifndef LOTSE_STATS_H
#define LOTSE_STATS_H

#include <stdint.h>

struct hub;

/* Called from the one-second tick: starts the statements that are due. */
void stats_tick(struct hub *hub, int64_t now_ms);

#endif
