-- Connections: named settings and secrets that flows refer to by name. `secrets` is
-- one JSON object of the secret fields, sealed with AES-256-GCM under the server's
-- secret key (`v1:` and base64): the database never holds a secret in clear.
-- `revision` goes up with every change; a flow built with an older one is redeployed.
CREATE TABLE connections (
    name          TEXT    PRIMARY KEY NOT NULL
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    kind          TEXT    NOT NULL CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http')),
    settings      TEXT    NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    secrets       TEXT    NOT NULL CHECK (secrets LIKE 'v1:%'),
    -- Which secrets are set (a JSON list of names), readable without the key.
    secret_names  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(secret_names)),
    allow_private INTEGER NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    revision      INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL CHECK (length(updated_by) BETWEEN 1 AND 200)
) STRICT;

-- Where each sql_poll trigger has got to: the cursor of the last row whose run was
-- recorded. One per integration, whichever version polls, so that a new version goes
-- on from where the old one was (unless it changes the cursor column).
CREATE TABLE poll_cursors (
    integration_id TEXT    PRIMARY KEY NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    cursor_column  TEXT    NOT NULL CHECK (length(cursor_column) BETWEEN 1 AND 64),
    -- The cursor value, as JSON.
    value          TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at     INTEGER NOT NULL
) STRICT;

-- The audit log also records changes to connections.
CREATE TABLE audit_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    event     TEXT    NOT NULL CHECK (event IN ('signed_in', 'sign_in_failed', 'signed_out',
                                                'token_created', 'token_revoked',
                                                'user_created', 'role_changed',
                                                'user_disabled', 'user_enabled',
                                                'password_changed', 'connection_created',
                                                'connection_changed', 'connection_deleted')),
    subject   TEXT    NOT NULL DEFAULT '',
    address   TEXT    NOT NULL DEFAULT '',
    detail    TEXT    NOT NULL DEFAULT ''
);
INSERT INTO audit_events_new (id, at, actor, event, subject, address, detail)
SELECT id, at, actor, event, subject, address, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_at ON audit_events (at);
