-- 002_supervision.sql: escalation flag, hourly statistics, audit retention.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.

-- A counsellor escalated the session to a supervisor (metadata only: that it
-- happened, never why or what was said).
ALTER TABLE sessions ADD COLUMN escalated boolean NOT NULL DEFAULT false;

-- Aggregates per hour (of started_bucket) and topic, computed by lotsed from the
-- sessions table every few minutes and before a retention purge deletes rows,
-- so the history outlives the rows. Daily figures are sums over these rows.
CREATE TABLE stats_hourly (
    hour timestamptz NOT NULL,
    topic text NOT NULL,
    -- every session that started in this hour, abandoned ones included
    sessions integer NOT NULL CHECK (sessions >= 0),
    -- ended before any counsellor took them (counsellor_id IS NULL)
    abandoned integer NOT NULL CHECK (abandoned >= 0),
    -- escalated to a supervisor
    escalated integer NOT NULL DEFAULT 0 CHECK (escalated >= 0),
    -- wait in seconds (pickups and abandonments), 50th and 90th percentile
    wait_p50 integer NOT NULL CHECK (wait_p50 >= 0),
    wait_p90 integer NOT NULL CHECK (wait_p90 >= 0),
    -- mean seconds of conversation of the sessions that were taken (0 if none)
    mean_duration integer NOT NULL CHECK (mean_duration >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hour, topic)
);

-- the audit retention purge selects by time
CREATE INDEX audit_log_at_idx ON audit_log (at);
