-- 009_organisations.sql: a counselling network on one instance (#15).
--
-- Organisations are data (lotsectl org …): name, the regions they serve
-- (postcode prefixes of two or three digits and/or federal states as ISO
-- 3166-2 codes such as 'DE-BE'), the languages and topics they counsel in, their
-- opening hours, whether they take chat and/or mail, and whether they take from
-- the network-wide pool when their own queue is empty. Every account belongs to
-- one organisation; a network coordinator sees all of them.
--
-- What is NOT here: the young person's postcode or federal state. It is used
-- to route a chat or thread when it starts and then forgotten; a session row,
-- a thread and the hourly statistics keep only the organisation.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.

CREATE TABLE organisations (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- short name used by lotsectl and in statistics (lower case)
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    -- shown to young people, colleagues and the coordinator
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    -- postcode prefixes ('10', '123') and federal states ('DE-BE');
    -- empty: the organisation serves the whole network's area
    regions text[] NOT NULL DEFAULT '{}',
    -- languages counselled in (de, en, tr, ar, ru, uk); Leichte Sprache is 'de'
    languages text[] NOT NULL DEFAULT '{de}',
    -- topic ids (lotsed's setting "topics"); empty: every topic
    topics text[] NOT NULL DEFAULT '{}',
    -- opening hours in the syntax of lotsed's setting opening_hours;
    -- '' means the service's own opening hours
    hours text NOT NULL DEFAULT '',
    takes_chat boolean NOT NULL DEFAULT true,
    takes_mail boolean NOT NULL DEFAULT true,
    -- takes chats and threads from the network-wide pool
    takes_pool boolean NOT NULL DEFAULT true,
    -- the organisation's Ed25519 public key and the network key's certificate
    -- for it (PROTOCOL.md §6); NULL until certified
    org_pk bytea UNIQUE CHECK (octet_length(org_pk) = 32),
    org_cert bytea,
    -- set when the organisation key is revoked: its devices start no new
    -- sessions and threads
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The existing service becomes the first organisation (id 1); every account
-- made before belongs to it. Renamed with lotsectl org set main --name ….
INSERT INTO organisations (slug, name) VALUES ('main', 'Beratungsstelle');

ALTER TABLE accounts ADD COLUMN org_id integer NOT NULL DEFAULT 1 REFERENCES organisations (id);
-- the languages this person counsels in (routing); Leichte Sprache is 'de'
ALTER TABLE accounts ADD COLUMN languages text[] NOT NULL DEFAULT '{de}';
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('counsellor', 'supervisor', 'coordinator'));
CREATE INDEX accounts_org_idx ON accounts (org_id);

-- the organisation that took the chat (or, when nobody did, the first one it
-- was routed to); NULL: routed to the network-wide pool and never taken
ALTER TABLE sessions ADD COLUMN org_id integer REFERENCES organisations (id);
ALTER TABLE mail_threads ADD COLUMN org_id integer REFERENCES organisations (id);

-- statistics per organisation: 0 stands for "no organisation" (pool, never taken)
ALTER TABLE stats_hourly ADD COLUMN org_id integer NOT NULL DEFAULT 0;
ALTER TABLE stats_hourly DROP CONSTRAINT stats_hourly_pkey;
ALTER TABLE stats_hourly ADD PRIMARY KEY (hour, topic, org_id);
