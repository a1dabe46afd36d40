-- Moving integrations between servers. A version imported from another Junction
-- keeps its number, author, time, note and hash, and says where it came from; the
-- promotions of a version to another server are recorded with the remote's answer;
-- a connection of kind `junction` holds the address and token of a remote server.
ALTER TABLE versions ADD COLUMN imported_from TEXT
    CHECK (imported_from IS NULL OR char_length(imported_from) BETWEEN 1 AND 300);
-- The fingerprint of the flow's secrets the exporting server's hash covers: the
-- secrets were left out, so this server could not compute it, and exports it again.
ALTER TABLE versions ADD COLUMN imported_fingerprint TEXT
    CHECK (imported_fingerprint IS NULL OR char_length(imported_fingerprint) = 64);
ALTER TABLE versions ADD COLUMN imported_at BIGINT;
-- Only a published version carries the mark, with both of its fields.
ALTER TABLE versions ADD CONSTRAINT versions_imported_check
    CHECK ((imported_from IS NULL) = (imported_at IS NULL)
           AND (imported_from IS NULL OR published_at IS NOT NULL));

ALTER TABLE connections DROP CONSTRAINT connections_kind_check;
ALTER TABLE connections ADD CONSTRAINT connections_kind_check
    CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http', 'amqp', 'mqtt', 'nats', 'redis', 'junction'));

-- The audit log also records imports and promotions: history came in from, or went
-- out to, another server.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_event_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_event_check
    CHECK (event IN ('signed_in', 'sign_in_failed', 'signed_out',
                     'token_created', 'token_revoked',
                     'user_created', 'role_changed',
                     'user_disabled', 'user_enabled',
                     'password_changed', 'connection_created',
                     'connection_changed', 'connection_deleted',
                     'integrations_imported', 'version_promoted'));

CREATE TABLE promotions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    -- The connection it went through, and the address that connection had then.
    remote         TEXT   NOT NULL CHECK (char_length(remote) BETWEEN 1 AND 64),
    remote_url     TEXT   NOT NULL CHECK (char_length(remote_url) BETWEEN 1 AND 2000),
    activate       BIGINT NOT NULL CHECK (activate IN (0, 1)),
    ok             BIGINT NOT NULL CHECK (ok IN (0, 1)),
    -- What the remote answered (or why it could not be reached), for people.
    answer         TEXT   NOT NULL CHECK (char_length(answer) BETWEEN 1 AND 2000),
    actor          TEXT   NOT NULL CHECK (char_length(actor) >= 1),
    at             BIGINT NOT NULL,
    FOREIGN KEY (integration_id, version) REFERENCES versions (integration_id, number) ON DELETE CASCADE
);
CREATE INDEX promotions_by_integration ON promotions (integration_id, id DESC);
