-- Integrations: the stable identity a user names and describes.
-- Times are milliseconds since the Unix epoch (UTC), the same in both dialects.
CREATE TABLE integrations (
    id          TEXT   PRIMARY KEY
                CHECK (id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    name        TEXT   NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100 AND name = btrim(name)),
    -- The case-folded name, computed by the domain type so both dialects fold alike.
    name_key    TEXT   NOT NULL CHECK (char_length(name_key) >= 1),
    description TEXT   NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL CHECK (updated_at >= created_at)
);

CREATE UNIQUE INDEX integrations_name_key_unique ON integrations (name_key);
CREATE INDEX integrations_created_at ON integrations (created_at DESC);
