-- People who sign in. The name is the key and what the history shows; "reconciler" is
-- the reconciler's own name in the transition log, so nobody can take it. Passwords
-- are stored only as argon2id hashes (PHC strings).
CREATE TABLE users (
    name                 TEXT    NOT NULL PRIMARY KEY
                                 CHECK (length(name) BETWEEN 1 AND 64
                                        AND name = lower(name)
                                        AND name <> 'reconciler'),
    display_name         TEXT    NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash        TEXT    NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role                 TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    disabled             INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at           INTEGER NOT NULL,
    -- When the password last changed: sessions and tokens made before it end.
    password_changed_at  INTEGER NOT NULL
);
