-- 010_nodes.sql: two lotsed nodes on one database (PROTOCOL.md §5.4,
-- server/src/store_nodes.h). One node serves: the holder of the lease. It
-- mirrors its live sessions and logged-in counsellors here, so that the other
-- node can continue them when it takes over. No message content, no secret in
-- clear: hashes of the resume secret and the token, public keys, certificates.
-- Every row is written only while its node holds the lease (store_nodes.c).

-- The lease: exactly one row. node NULL: nobody holds it.
CREATE TABLE node_lease (
    id integer PRIMARY KEY CHECK (id = 1),
    node text CHECK (node ~ '^[a-z0-9]{1,16}$'),
    until timestamptz
);
INSERT INTO node_lease (id, node, until) VALUES (1, NULL, NULL);

-- A live session of the serving node (struct store_dir_session). Times are
-- Unix milliseconds (seconds for started_wall): nodes share no monotonic clock.
CREATE TABLE live_sessions (
    sid bytea PRIMARY KEY CHECK (length(sid) = 16),
    node text NOT NULL,
    -- 0 waiting, 1 assigned, 2 active
    state smallint NOT NULL,
    topic integer NOT NULL,
    enqueued_wall_ms bigint NOT NULL,
    seq bigint NOT NULL,
    picked_wall_ms bigint NOT NULL DEFAULT 0,
    started_wall bigint NOT NULL,
    resume_hash bytea NOT NULL CHECK (length(resume_hash) = 32),
    young_pk bytea NOT NULL CHECK (length(young_pk) = 32),
    -- the counsellor holding it (live_counsellors.token_hash); NULL: none
    counsellor_token_hash bytea CHECK (length(counsellor_token_hash) = 32),
    -- the counsellor's last keys (public); NULL: none
    keys_pk bytea,
    keys_sig bytea,
    keys_cert bytea,
    keys_orgcert bytea,
    -- the sessions row (statistics) of this session
    row_id uuid,
    transfers integer NOT NULL DEFAULT 0,
    rekey_pending boolean NOT NULL DEFAULT false,
    transfer_to_id bigint NOT NULL DEFAULT 0,
    counsellor_left boolean NOT NULL DEFAULT false,
    same boolean NOT NULL DEFAULT false,
    route_kind smallint NOT NULL DEFAULT 0,
    route_any boolean NOT NULL DEFAULT false,
    route_ids integer[] NOT NULL DEFAULT '{}',
    lang integer NOT NULL DEFAULT 0,
    org_id integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A logged-in counsellor of the serving node (struct store_dir_counsellor).
CREATE TABLE live_counsellors (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    node text NOT NULL,
    account_id bigint NOT NULL,
    handle text NOT NULL,
    name text NOT NULL,
    topic_mask bigint NOT NULL DEFAULT 0,
    org_id integer NOT NULL DEFAULT 0,
    languages smallint NOT NULL DEFAULT 0,
    max_capacity integer NOT NULL DEFAULT 0,
    capacity integer NOT NULL DEFAULT 0,
    available boolean NOT NULL DEFAULT false,
    has_cert boolean NOT NULL DEFAULT false,
    cert bytea,
    orgcert bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);
