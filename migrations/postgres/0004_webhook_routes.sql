-- Which integration owns each webhook path. The reconciler claims a path here before
-- it deploys a webhook flow and releases it when the integration stops, so that two
-- integrations can never serve one path, whichever server runs them (a map in one
-- server's memory could not see another replica's).
CREATE TABLE webhook_routes (
    path            TEXT   NOT NULL PRIMARY KEY
                            CHECK (length(path) BETWEEN 1 AND 64),
    integration_id  TEXT   NOT NULL REFERENCES integrations (id) ON DELETE CASCADE
);

CREATE INDEX webhook_routes_integration ON webhook_routes (integration_id);
