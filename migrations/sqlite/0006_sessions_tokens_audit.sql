-- Browser sessions. tower-sessions manages the cookie and the record; the database
-- keeps the record, so a session made on one replica works on every other. The key is
-- the SHA-256 of the session id (the cookie's value): reading this table does not give
-- anyone a session. `user_name` is copied out of the record so that all of a user's
-- sessions can be ended at once.
CREATE TABLE sessions (
    id_hash     TEXT    NOT NULL PRIMARY KEY CHECK (length(id_hash) = 64),
    user_name   TEXT    REFERENCES users (name) ON DELETE CASCADE,
    data        TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Personal API tokens. Only the SHA-256 of a token is kept (a token is 256 random
-- bits, so a fast hash is enough); the token itself is shown once, when it is made.
CREATE TABLE api_tokens (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_name     TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    token_hash    TEXT    NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER  CHECK (expires_at IS NULL OR expires_at > created_at),
    last_used_at  INTEGER,
    UNIQUE (user_name, name)
);

-- Who signed in, failed to, made or revoked a token, added or changed a user: when,
-- and from which address. Rows are only ever added.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    event     TEXT    NOT NULL CHECK (event IN ('signed_in', 'sign_in_failed', 'signed_out',
                                                'token_created', 'token_revoked',
                                                'user_created', 'role_changed',
                                                'user_disabled', 'user_enabled',
                                                'password_changed')),
    subject   TEXT    NOT NULL DEFAULT '',
    address   TEXT    NOT NULL DEFAULT '',
    detail    TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_events_at ON audit_events (at);
