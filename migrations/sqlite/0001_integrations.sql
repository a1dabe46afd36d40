-- Integrations: the stable identity a user names and describes.
-- Times are milliseconds since the Unix epoch (UTC), the same in both dialects.
CREATE TABLE integrations (
    id          TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name = trim(name)),
    -- The case-folded name, computed by the domain type so both dialects fold alike.
    name_key    TEXT    NOT NULL CHECK (length(name_key) >= 1),
    description TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL CHECK (updated_at >= created_at)
) STRICT;

CREATE UNIQUE INDEX integrations_name_key_unique ON integrations (name_key);
CREATE INDEX integrations_created_at ON integrations (created_at DESC);
