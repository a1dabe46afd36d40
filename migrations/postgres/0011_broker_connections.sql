-- Connections to message brokers: AMQP (RabbitMQ), MQTT, NATS and Redis.
ALTER TABLE connections DROP CONSTRAINT connections_kind_check;
ALTER TABLE connections ADD CONSTRAINT connections_kind_check
    CHECK (kind IN ('postgres', 'mysql', 'sqlite', 'http', 'amqp', 'mqtt', 'nats', 'redis'));
