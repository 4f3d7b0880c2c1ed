-- 003_session_rows.sql: a session's row is written when the session starts and
-- completed when it ends, so that a crash (kill -9, power loss) loses no row.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.

-- NULL while the session runs. A row still NULL when lotsed starts again was
-- left open by a crash: lotsed closes it as 'crashed' before it writes
-- anything else (its duration is then unknown and stays 0).
ALTER TABLE sessions ALTER COLUMN end_reason DROP NOT NULL;

-- A counsellor took the session (at some point). This, not counsellor_id,
-- tells taken from abandoned: counsellor_id is cleared once the hourly
-- aggregate has counted the session, so that the row no longer names a person.
ALTER TABLE sessions ADD COLUMN taken boolean NOT NULL DEFAULT false;
UPDATE sessions SET taken = counsellor_id IS NOT NULL;

-- the start-up close of crashed rows looks for open ones
CREATE INDEX sessions_open_idx ON sessions (started_bucket) WHERE end_reason IS NULL;
