-- Moving integrations between servers. A version imported from another Junction
-- keeps its number, author, time, note and hash, and says where it came from; the
-- promotions of a version to another server are recorded with the remote's answer;
-- a connection of kind `junction` holds the address and token of a remote server.
-- SQLite adds a column with a CHECK but no table constraint: the pairing of the two
-- columns is checked by triggers.
ALTER TABLE versions ADD COLUMN imported_from TEXT
    CHECK (imported_from IS NULL OR length(imported_from) BETWEEN 1 AND 300);
-- The fingerprint of the flow's secrets the exporting server's hash covers: the
-- secrets were left out, so this server could not compute it, and exports it again.
ALTER TABLE versions ADD COLUMN imported_fingerprint TEXT
    CHECK (imported_fingerprint IS NULL OR length(imported_fingerprint) = 64);
ALTER TABLE versions ADD COLUMN imported_at INTEGER;

CREATE TRIGGER versions_imported_insert BEFORE INSERT ON versions
    WHEN (NEW.imported_from IS NULL) <> (NEW.imported_at IS NULL)
      OR (NEW.imported_from IS NOT NULL AND NEW.published_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'only a published version is marked imported, with where from and when');
END;

CREATE TRIGGER versions_imported_update BEFORE UPDATE ON versions
    WHEN (NEW.imported_from IS NULL) <> (NEW.imported_at IS NULL)
      OR (NEW.imported_from IS NOT NULL AND NEW.published_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'only a published version is marked imported, with where from and when');
END;

-- SQLite cannot change a CHECK in place: the table is made again with the wider one.
CREATE TABLE connections_new (
    name          TEXT    PRIMARY KEY NOT NULL
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    kind          TEXT    NOT NULL
        CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http', 'amqp', 'mqtt', 'nats', 'redis', 'junction')),
    settings      TEXT    NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    secrets       TEXT    NOT NULL CHECK (secrets LIKE 'v1:%'),
    secret_names  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(secret_names)),
    allow_private INTEGER NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    revision      INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL CHECK (length(updated_by) BETWEEN 1 AND 200)
) STRICT;
INSERT INTO connections_new SELECT * FROM connections;
DROP TABLE connections;
ALTER TABLE connections_new RENAME TO connections;

-- The audit log also records imports and promotions: history came in from, or went
-- out to, another server.
CREATE TABLE audit_events_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    event     TEXT    NOT NULL CHECK (event IN ('signed_in', 'sign_in_failed', 'signed_out',
                                                'token_created', 'token_revoked',
                                                'user_created', 'role_changed',
                                                'user_disabled', 'user_enabled',
                                                'password_changed', 'connection_created',
                                                'connection_changed', 'connection_deleted',
                                                'integrations_imported', 'version_promoted')),
    subject   TEXT    NOT NULL DEFAULT '',
    address   TEXT    NOT NULL DEFAULT '',
    detail    TEXT    NOT NULL DEFAULT ''
);
INSERT INTO audit_events_new (id, at, actor, event, subject, address, detail)
SELECT id, at, actor, event, subject, address, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE promotions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    -- The connection it went through, and the address that connection had then.
    remote         TEXT    NOT NULL CHECK (length(remote) BETWEEN 1 AND 64),
    remote_url     TEXT    NOT NULL CHECK (length(remote_url) BETWEEN 1 AND 2000),
    activate       INTEGER NOT NULL CHECK (activate IN (0, 1)),
    ok             INTEGER NOT NULL CHECK (ok IN (0, 1)),
    -- What the remote answered (or why it could not be reached), for people.
    answer         TEXT    NOT NULL CHECK (length(answer) BETWEEN 1 AND 2000),
    actor          TEXT    NOT NULL CHECK (length(actor) >= 1),
    at             INTEGER NOT NULL,
    FOREIGN KEY (integration_id, version) REFERENCES versions (integration_id, number) ON DELETE CASCADE
) STRICT;
CREATE INDEX promotions_by_integration ON promotions (integration_id, id DESC);
