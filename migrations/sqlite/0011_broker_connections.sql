-- Connections to message brokers: AMQP (RabbitMQ), MQTT, NATS and Redis. SQLite
-- cannot change a CHECK in place: the table is made again with the wider one.
CREATE TABLE connections_new (
    name          TEXT    PRIMARY KEY NOT NULL
        CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9._-]*'),
    kind          TEXT    NOT NULL
        CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http', 'amqp', 'mqtt', 'nats', 'redis')),
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
