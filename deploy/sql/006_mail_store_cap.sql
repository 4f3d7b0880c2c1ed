-- 006_mail_store_cap.sql: mail_store_max_bytes exact under concurrency (#13).
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.
--
-- Before, one statement summed mail_threads.bytes and inserted: two appends at
-- once (two lotsed, one database) each missed the other's bytes and both were
-- stored past the cap. Now the total lives in one row that follows
-- mail_threads.bytes (triggers: every insert, change and delete of a thread,
-- whoever makes it), and mail_append locks that row before it checks the cap,
-- so appends take their turn on it and the cap holds exactly.
--
-- Locks are taken thread rows first, then the total: the triggers run after
-- their statement's rows, and mail_append locks its thread first. A delete of
-- many threads (expiry) takes its bytes off once, after all its rows.

CREATE TABLE mail_store (
    id integer PRIMARY KEY CHECK (id = 1),
    bytes bigint NOT NULL CHECK (bytes >= 0)
);
INSERT INTO mail_store (id, bytes) SELECT 1, coalesce(sum(bytes), 0) FROM mail_threads;

CREATE FUNCTION mail_store_thread_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE mail_store SET bytes = bytes + NEW.bytes WHERE id = 1;
    ELSE
        UPDATE mail_store SET bytes = bytes + NEW.bytes - OLD.bytes WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER mail_store_thread_inserted AFTER INSERT ON mail_threads FOR EACH ROW
    WHEN (NEW.bytes <> 0) EXECUTE FUNCTION mail_store_thread_changed();
CREATE TRIGGER mail_store_thread_grown AFTER UPDATE OF bytes ON mail_threads FOR EACH ROW
    WHEN (NEW.bytes <> OLD.bytes) EXECUTE FUNCTION mail_store_thread_changed();

CREATE FUNCTION mail_store_threads_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mail_store SET bytes = bytes - (SELECT coalesce(sum(bytes), 0) FROM gone) WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER mail_store_threads_deleted AFTER DELETE ON mail_threads
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION mail_store_threads_deleted();

-- One message appended to a thread, or why not: 'unknown', 'closed', 'conflict'
-- (seq is not n + 1), 'thread_full', 'mail_full', else 'ok' and its number.
-- Each statement here sees what committed before it ran, and the thread row is
-- locked before it is read, so two appends to one thread cannot both take
-- number n + 1 either. The thread's new bytes reach the total by the trigger.
CREATE FUNCTION mail_append(p_tid bytea, p_n integer, p_sender smallint, p_counsellor integer,
                            p_max_messages integer, p_max_bytes integer, p_cap bigint,
                            p_envelope bytea, OUT status text, OUT n integer)
    LANGUAGE plpgsql AS $$
DECLARE
    th record;
    len integer := octet_length(p_envelope);
    total bigint;
BEGIN
    n := 0;
    SELECT t.n, t.bytes, t.state INTO th FROM mail_threads t WHERE t.tid = p_tid FOR UPDATE;
    IF NOT FOUND THEN
        status := 'unknown';
    ELSIF th.state <> 'open' THEN
        status := 'closed';
    ELSIF th.n + 1 <> p_n THEN
        status := 'conflict';
    ELSIF th.n >= p_max_messages OR th.bytes + len > p_max_bytes THEN
        status := 'thread_full';
    ELSE
        -- waits for an append that holds the total; then sees its bytes
        SELECT s.bytes INTO total FROM mail_store s WHERE s.id = 1 FOR UPDATE;
        status := CASE WHEN total + len <= p_cap THEN 'ok' ELSE 'mail_full' END;
    END IF;
    IF status <> 'ok' THEN
        RETURN;
    END IF;
    UPDATE mail_threads t SET n = t.n + 1, bytes = t.bytes + len, last_day = current_date,
        waiting_since = CASE WHEN p_sender = 1
                             THEN coalesce(t.waiting_since, date_trunc('hour', now())) END,
        answered_by = CASE WHEN p_sender = 2 THEN p_counsellor ELSE t.answered_by END,
        first_answer_hours = CASE WHEN p_sender = 2 AND t.first_answer_hours IS NULL
            THEN (extract(epoch FROM date_trunc('hour', now()) - t.created_hour) / 3600)::int
            ELSE t.first_answer_hours END
        WHERE t.tid = p_tid RETURNING t.n INTO n;
    INSERT INTO mail_messages (tid, n, sender, envelope) VALUES (p_tid, n, p_sender, p_envelope);
END
$$;
