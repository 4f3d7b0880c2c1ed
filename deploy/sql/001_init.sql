-- 001_init.sql: the lotse schema.
--
-- What is stored, and nothing else (DESIGN.md "What is stored"): counsellor and
-- supervisor accounts, their device certificates, one metadata row per ended
-- chat session, and an audit log of account and key changes. Never stored: message
-- content or ciphertext, IP addresses, user agents, tokens in clear, or anything
-- that links two sessions of one young person.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.

-- Counsellors and supervisors. Young people never have an account.
CREATE TABLE accounts (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- login name; lower case so two accounts cannot differ only by case
    handle text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    -- shown to colleagues and supervisors (and, if the service wants, to the young person)
    display_name text NOT NULL,
    role text NOT NULL CHECK (role IN ('counsellor', 'supervisor')),
    -- Argon2id string from crypto_pwhash_str; the password itself is never stored
    pw_hash text NOT NULL,
    -- the topics this person takes sessions for (routing)
    topics text[] NOT NULL DEFAULT '{}',
    -- how many sessions at once at most
    capacity integer NOT NULL DEFAULT 2 CHECK (capacity BETWEEN 1 AND 10),
    -- a disabled account cannot log in; rows are kept for the audit log
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Device certificates: the organisation key's signature over (account id, device
-- public key, expiry); the young person's client checks it (proto/PROTOCOL.md).
-- Only public material: the device secret key never leaves the device.
CREATE TABLE device_certs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id integer NOT NULL REFERENCES accounts (id),
    -- the device's Ed25519 public key
    device_pk bytea NOT NULL UNIQUE CHECK (octet_length(device_pk) = 32),
    -- the whole certificate as the client receives it (46-byte body + 64-byte signature)
    cert bytea NOT NULL CHECK (octet_length(cert) = 110),
    -- copy of the expiry inside cert, so look-ups can filter on it
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- set when the device is lost or retired; NULL while valid
    revoked_at timestamptz
);
CREATE INDEX device_certs_account_idx ON device_certs (account_id);

-- One row per ended chat session: metadata for statistics only. There is no IP
-- address, no content, no user agent, no token and nothing linking two sessions.
CREATE TABLE sessions (
    -- random, unrelated to the session id on the wire
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    topic text NOT NULL,
    -- start time rounded down to the configured bucket (never exact)
    started_bucket timestamptz NOT NULL,
    -- seconds in the queue until pickup (or until leaving, when abandoned)
    wait_seconds integer NOT NULL CHECK (wait_seconds >= 0),
    -- seconds from pickup to end; 0 when nobody took it
    duration_seconds integer NOT NULL CHECK (duration_seconds >= 0),
    -- who took it last; NULL when nobody did
    counsellor_id integer REFERENCES accounts (id),
    -- ended_by_young, ended_by_counsellor, idle, abandoned, ...
    end_reason text NOT NULL,
    transfer_count integer NOT NULL DEFAULT 0
);
-- statistics per hour/day and the retention purge both select by start bucket
CREATE INDEX sessions_started_bucket_idx ON sessions (started_bucket);

-- Who changed which account or key, and when. detail never holds a secret.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    -- the operator's OS user name (lotsectl) or "lotsed"
    actor text NOT NULL,
    -- account-add, account-disable, device-certify, ...
    action text NOT NULL,
    account_id integer REFERENCES accounts (id),
    detail text NOT NULL DEFAULT ''
);
