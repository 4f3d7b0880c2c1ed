-- 004_mail.sql: written (mail) counselling (#13, PROTOCOL.md §9.4).
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.
--
-- A thread is found only by the hash of the lookup id its access code derives;
-- the server never sees the code. Times are hour buckets (days for expiry), never
-- exact. mail_messages.envelope is the one column anywhere that holds ciphertext:
-- end-to-end encrypted envelopes the server cannot read. Nothing links a thread
-- to a chat session or to an address.

CREATE TABLE mail_threads (
    tid bytea PRIMARY KEY CHECK (octet_length(tid) = 16),
    lookup_hash bytea NOT NULL UNIQUE CHECK (octet_length(lookup_hash) = 32),
    box_pk bytea NOT NULL CHECK (octet_length(box_pk) = 32),
    sign_pk bytea NOT NULL CHECK (octet_length(sign_pk) = 32),
    topic text NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    created_hour timestamptz NOT NULL,
    -- the day of the last message: the thread expires mail_retention_days after it
    last_day date NOT NULL,
    -- hour bucket of the oldest young message not answered yet; NULL when none
    waiting_since timestamptz,
    first_answer_hours integer,
    claimed_by integer REFERENCES accounts (id) ON DELETE SET NULL,
    answered_by integer REFERENCES accounts (id) ON DELETE SET NULL,
    n integer NOT NULL DEFAULT 0 CHECK (n >= 0),
    bytes integer NOT NULL DEFAULT 0 CHECK (bytes >= 0)
);

CREATE INDEX mail_threads_last_day_idx ON mail_threads (last_day);
CREATE INDEX mail_threads_waiting_idx ON mail_threads (waiting_since) WHERE waiting_since IS NOT NULL;

CREATE TABLE mail_messages (
    tid bytea NOT NULL REFERENCES mail_threads (tid) ON DELETE CASCADE,
    n integer NOT NULL CHECK (n >= 1),
    sender smallint NOT NULL CHECK (sender IN (1, 2)),
    envelope bytea NOT NULL,
    PRIMARY KEY (tid, n)
);

-- A counsellor device's X25519 mail key and its statement (signed by the device
-- key). Deleted when the device is revoked (lotsectl), never handed out then.
CREATE TABLE mail_keys (
    device_pk bytea PRIMARY KEY REFERENCES device_certs (device_pk) ON DELETE CASCADE,
    mail_pk bytea NOT NULL CHECK (octet_length(mail_pk) = 32),
    sig bytea NOT NULL CHECK (octet_length(sig) = 64)
);
