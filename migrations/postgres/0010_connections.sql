-- Connections: named settings and secrets that flows refer to by name. `secrets` is
-- one JSON object of the secret fields, sealed with AES-256-GCM under the server's
-- secret key (`v1:` and base64): the database never holds a secret in clear.
-- `revision` goes up with every change; a flow built with an older one is redeployed.
CREATE TABLE connections (
    name          TEXT    PRIMARY KEY NOT NULL
        CHECK (char_length(name) BETWEEN 1 AND 64 AND name ~ '^[a-z0-9][a-z0-9._-]*$'),
    kind          TEXT    NOT NULL CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http')),
    settings      TEXT    NOT NULL CHECK (jsonb_typeof(settings::jsonb) = 'object'),
    secrets       TEXT    NOT NULL CHECK (secrets LIKE 'v1:%'),
    -- Which secrets are set (a JSON list of names), readable without the key.
    secret_names  TEXT    NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secret_names::jsonb) = 'array'),
    allow_private BIGINT  NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    revision      BIGINT  NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    updated_by    TEXT    NOT NULL CHECK (char_length(updated_by) BETWEEN 1 AND 200)
);

-- Where each sql_poll trigger has got to: the cursor of the last row whose run was
-- recorded. One per integration, whichever version polls, so that a new version goes
-- on from where the old one was (unless it changes the cursor column).
CREATE TABLE poll_cursors (
    integration_id TEXT    PRIMARY KEY NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    cursor_column  TEXT    NOT NULL CHECK (char_length(cursor_column) BETWEEN 1 AND 64),
    -- The cursor value, as JSON.
    value          TEXT    NOT NULL CHECK (value::jsonb IS NOT NULL),
    updated_at     BIGINT  NOT NULL
);

-- The audit log also records changes to connections.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_event_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_event_check
    CHECK (event IN ('signed_in', 'sign_in_failed', 'signed_out',
                     'token_created', 'token_revoked',
                     'user_created', 'role_changed',
                     'user_disabled', 'user_enabled',
                     'password_changed', 'connection_created',
                     'connection_changed', 'connection_deleted'));
