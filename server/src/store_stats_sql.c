/* store_stats_sql.c — the statements of statistics and retention: today's
 * counts, the hourly aggregate, the purge and reading the aggregates. lotsed
 * sends them through the store (store_stats.c); lotsectl runs the same texts
 * with blocking libpq, so this object links to neither libpq nor the event loop. */
#include "store_internal.h"

/* The statements keep their SQL line breaks. */
/* clang-format off */
/* Supervision and statistics (store.h). Time zones and intervals are
 * parameters, never spliced into the text. The hour a session belongs to is the
 * hour of its rounded start. "Abandoned" means that no counsellor took it (the
 * young person left, or the server ended it first): NOT taken. Rows of running
 * sessions (end_reason NULL) count as started, not yet as ended or abandoned;
 * rows closed as 'crashed' count as ended or abandoned like any other. */
const char store__sql_today[] =
    "SELECT coalesce(org_id, 0), count(*) FILTER (WHERE started_bucket >= to_timestamp($1::bigint)),"
    " count(*) FILTER (WHERE taken AND end_reason IS NOT NULL AND started_bucket"
    "   + make_interval(secs => wait_seconds + duration_seconds) >= to_timestamp($1::bigint)),"
    " count(*) FILTER (WHERE NOT taken AND end_reason IS NOT NULL AND started_bucket"
    "   + make_interval(secs => wait_seconds) >= to_timestamp($1::bigint))"
    " FROM sessions WHERE started_bucket >= to_timestamp($1::bigint) - interval '2 days'"
    " GROUP BY 1";

/* Ended rows only (a running session is counted when it ends). A crashed row
 * counts as a session; its wait is unknown when nobody had taken it, and its
 * duration always, so those stay out of the percentiles and the mean. */
#define STATS_KNOWN_WAIT "(taken OR end_reason <> 'crashed')"
#define STATS_SELECT                                                                               \
    " SELECT date_trunc('hour', started_bucket), topic, coalesce(org_id, 0), count(*),"            \
    " count(*) FILTER (WHERE NOT taken), count(*) FILTER (WHERE escalated),"                       \
    " coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY wait_seconds)"                          \
    "   FILTER (WHERE " STATS_KNOWN_WAIT "), 0),"                                                   \
    " coalesce(percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_seconds)"                          \
    "   FILTER (WHERE " STATS_KNOWN_WAIT "), 0),"                                                   \
    " coalesce(round(avg(duration_seconds) FILTER (WHERE taken AND end_reason <> 'crashed')),"    \
    "   0)::integer"
#define STATS_INSERT                                                                               \
    "INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, escalated, wait_p50,"     \
    " wait_p90, mean_duration)"

/* Hours already cut by the purge (older than the retention's whole hours) are
 * left alone: recomputing them from the remaining rows would shrink them.
 * Every ended row of a completed hour has now been counted, so the same
 * statement (one snapshot) clears its counsellor_id: the aggregate keeps no
 * per-person figure, and the row no longer says who talked with whom. */
const char store_sql_aggregate[] =
    "WITH w AS (SELECT greatest(date_trunc('hour', now()) - make_interval(hours => $1::integer),"
    "  date_trunc('hour', now() - make_interval(days => $2::integer))) AS since),"
    " up AS (" STATS_INSERT STATS_SELECT
    " FROM sessions, w WHERE started_bucket >= w.since AND started_bucket < date_trunc('hour', now())"
    " AND end_reason IS NOT NULL GROUP BY 1, 2, 3"
    " ON CONFLICT (hour, topic, org_id) DO UPDATE SET sessions = EXCLUDED.sessions,"
    " abandoned = EXCLUDED.abandoned, escalated = EXCLUDED.escalated,"
    " wait_p50 = EXCLUDED.wait_p50, wait_p90 = EXCLUDED.wait_p90,"
    " mean_duration = EXCLUDED.mean_duration, updated_at = now() RETURNING 1),"
    " cleared AS (UPDATE sessions SET counsellor_id = NULL WHERE counsellor_id IS NOT NULL"
    "  AND end_reason IS NOT NULL AND started_bucket < date_trunc('hour', now()) RETURNING 1)"
    " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM cleared)";

/* One statement, so the aggregates and the deletion see the same rows. An hour
 * aggregated before keeps its row (DO NOTHING): it was computed while all its
 * sessions were there. */
const char store_sql_purge[] =
    "WITH c AS (SELECT date_trunc('hour', now() - make_interval(days => $1::integer)) AS t),"
    " agg AS (" STATS_INSERT STATS_SELECT
    " FROM sessions, c WHERE started_bucket < c.t AND end_reason IS NOT NULL GROUP BY 1, 2, 3"
    " ON CONFLICT (hour, topic, org_id) DO NOTHING RETURNING 1),"
    " gone AS (DELETE FROM sessions USING c WHERE started_bucket < c.t RETURNING 1),"
    " audit AS (DELETE FROM audit_log WHERE at < now() - make_interval(days => $2::integer)"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM audit), (SELECT count(*) FROM agg)";

const char store_sql_purge_count[] =
    "SELECT (SELECT count(*) FROM sessions WHERE started_bucket <"
    "  date_trunc('hour', now() - make_interval(days => $1::integer))),"
    " (SELECT count(*) FROM audit_log WHERE at < now() - make_interval(days => $2::integer))";

const char store_sql_stats_daily[] =
    "SELECT to_char((hour AT TIME ZONE $2::text)::date, 'YYYY-MM-DD'),"
    STORE_SQL_STATS_FIGURES
    " FROM stats_hourly WHERE hour >= (date_trunc('day', now() AT TIME ZONE $2::text)"
    "  - make_interval(days => $1::integer - 1)) AT TIME ZONE $2::text"
    " AND ($3::integer < 0 OR org_id = $3::integer)"
    " GROUP BY 1 ORDER BY 1";

const char store_sql_stats_hourly[] =
    "SELECT extract(epoch FROM hour)::bigint, topic, sessions, abandoned, escalated, wait_p50,"
    " wait_p90, mean_duration, feedback_yes, feedback_some, feedback_no FROM stats_hourly"
    " WHERE hour >= date_trunc('hour', now()) - make_interval(days => $1::integer)"
    " ORDER BY hour, topic";
/* The one anonymous answer after a chat (008_chat_feedback.sql): this hour's
 * row of the chat's topic, made when the hour has none yet (the aggregate
 * fills in its session figures later and leaves these columns alone). */
const char store__sql_feedback[] =
    "INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, wait_p50, wait_p90,"
    " mean_duration, feedback_yes, feedback_some, feedback_no)"
    " SELECT date_trunc('hour', now()), $1::text, $3::integer, 0, 0, 0, 0, 0, (a = 'yes')::integer,"
    " (a = 'some')::integer, (a = 'no')::integer FROM (SELECT $2::text AS a) x"
    " ON CONFLICT (hour, topic, org_id) DO UPDATE SET"
    " feedback_yes = stats_hourly.feedback_yes + EXCLUDED.feedback_yes,"
    " feedback_some = stats_hourly.feedback_some + EXCLUDED.feedback_some,"
    " feedback_no = stats_hourly.feedback_no + EXCLUDED.feedback_no RETURNING 1";
/* clang-format on */
