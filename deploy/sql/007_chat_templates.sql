-- 007_chat_templates.sql: the organisation's canned replies for the counsellor
-- console (#14.5), made with lotsectl template-add / template-remove and sent
-- to a counsellor after login (PROTOCOL.md §4.2 `template`), never to young
-- people.
--
-- Applied by migrations_apply() inside one transaction together with its
-- schema_migrations row; so no BEGIN/COMMIT here.
--
-- Bounds in bytes, so that one template is always one control message; the
-- texts are the organisation's own words, never about a person.

CREATE TABLE chat_templates (
    id serial PRIMARY KEY,
    title text NOT NULL CHECK (octet_length(title) BETWEEN 1 AND 80),
    body text NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now()
);
