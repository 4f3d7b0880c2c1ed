-- 005_mail_stats.sql: the hourly statistics of mail counselling (#13): counts
-- only, by the hour of the event and the thread's topic; nothing links a
-- count to a thread.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here. IF NOT EXISTS: 004_mail.sql
-- may carry them too.

-- threads whose first message arrived in this hour
ALTER TABLE stats_hourly ADD COLUMN IF NOT EXISTS mail_opened integer NOT NULL DEFAULT 0
    CHECK (mail_opened >= 0);
-- first answers given in this hour within mail_target_hours (hour buckets)
ALTER TABLE stats_hourly ADD COLUMN IF NOT EXISTS mail_answered_within_target integer NOT NULL
    DEFAULT 0 CHECK (mail_answered_within_target >= 0);
