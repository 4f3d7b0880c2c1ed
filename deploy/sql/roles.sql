-- roles.sql: least-privilege PostgreSQL roles for lotse.
--
-- Run as a superuser (postgres) in the lotse database after every
-- `lotsectl migrate`; it is idempotent:
--   sudo -u postgres psql -d lotse -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
--
-- lotse_owner  owns the schema and every table; the operator runs lotsectl
--              (migrations, accounts, certificates, purge) as this role.
-- lotse_server lotsed: reads accounts and certificates for logins, writes
--              session rows and the hourly statistics, purges by retention.
--              It cannot change accounts, certificates or the schema.
-- lotse_stats  read-only statistics (a reporting tool, a dashboard): the
--              session metadata and the aggregates, never accounts, device
--              certificates or the audit log.
--
-- The roles have LOGIN but no password: connect over the local socket with
-- peer authentication mapped from the OS users (deploy/README.md).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lotse_owner') THEN
        CREATE ROLE lotse_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lotse_server') THEN
        CREATE ROLE lotse_server LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lotse_stats') THEN
        CREATE ROLE lotse_stats LOGIN;
    END IF;
END
$$;

-- lotse_owner owns the schema and all that is in it (tables made by an
-- earlier superuser-run migration are handed over).
ALTER SCHEMA public OWNER TO lotse_owner;
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO lotse_owner', t.tablename);
    END LOOP;
END
$$;

-- Nobody else may create anything, and nothing is granted by default.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, lotse_server, lotse_stats;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, lotse_server, lotse_stats;
GRANT USAGE ON SCHEMA public TO lotse_server, lotse_stats;

-- lotsed
GRANT SELECT ON accounts, device_certs, schema_migrations, organisations TO lotse_server;
-- the organisation's canned replies (007_chat_templates.sql): read at a counsellor's login
GRANT SELECT ON chat_templates TO lotse_server;
GRANT SELECT, INSERT, DELETE ON sessions TO lotse_server;
-- a row is written at the start and completed at the end (003_session_rows.sql);
-- the hourly aggregate clears counsellor_id; topic and start bucket never change
GRANT UPDATE (wait_seconds, duration_seconds, counsellor_id, end_reason, transfer_count,
              escalated, taken, org_id) ON sessions TO lotse_server;
GRANT SELECT, INSERT, UPDATE ON stats_hourly TO lotse_server;
GRANT SELECT (at), DELETE ON audit_log TO lotse_server;
-- mail (004_mail.sql): threads and messages live and die by the server; the
-- mail keys are registered by logged-in devices and read by everyone's client
GRANT SELECT, INSERT, UPDATE, DELETE ON mail_threads, mail_messages TO lotse_server;
GRANT SELECT, INSERT, UPDATE, DELETE ON mail_keys TO lotse_server;
-- the store total (006_mail_store_cap.sql): mail_append adds to it, deleting a
-- thread takes off (a trigger, run as the deleting role)
GRANT SELECT, UPDATE ON mail_store TO lotse_server;
REVOKE ALL ON FUNCTION mail_append(bytea, integer, smallint, integer, integer, integer, bigint,
                                   bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mail_append(bytea, integer, smallint, integer, integer, integer, bigint,
                                      bytea) TO lotse_server;
-- two nodes (010_nodes.sql): the lease is taken, renewed and given up by
-- lotsed; the directory of live sessions and counsellors is its own
GRANT SELECT, UPDATE ON node_lease TO lotse_server;
GRANT SELECT, INSERT, UPDATE, DELETE ON live_sessions, live_counsellors TO lotse_server;

-- statistics readers
GRANT SELECT ON sessions, stats_hourly TO lotse_stats;
-- which organisation a figure belongs to (009_organisations.sql)
GRANT SELECT (id, slug, name) ON organisations TO lotse_stats;
