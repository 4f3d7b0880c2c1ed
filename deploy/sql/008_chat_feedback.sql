-- 008_chat_feedback.sql: the one anonymous question after a chat (#14 point 3,
-- PROTOCOL.md §5 "After the end"): "Hat dir das Gespräch geholfen?" counted by
-- the hour the answer was given and the chat's topic. Counts only: no session
-- id, no time finer than the hour, nothing links an answer to a chat.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.

ALTER TABLE stats_hourly ADD COLUMN IF NOT EXISTS feedback_yes integer NOT NULL DEFAULT 0
    CHECK (feedback_yes >= 0);
ALTER TABLE stats_hourly ADD COLUMN IF NOT EXISTS feedback_some integer NOT NULL DEFAULT 0
    CHECK (feedback_some >= 0);
ALTER TABLE stats_hourly ADD COLUMN IF NOT EXISTS feedback_no integer NOT NULL DEFAULT 0
    CHECK (feedback_no >= 0);
