-- A webhook call without its trigger's secret is recorded as refused (the flow did
-- not run). SQLite cannot change a check constraint: the table is rebuilt, as its
-- documentation says to (nothing refers to it).
CREATE TABLE activities_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  TEXT    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    trigger         TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_us     INTEGER NOT NULL CHECK (duration_us >= 0),
    outcome         TEXT    NOT NULL CHECK (outcome IN ('ok', 'filtered', 'failed', 'refused')),
    -- Each step's outcome and a short detail, as a JSON array.
    steps           TEXT    NOT NULL CHECK (json_valid(steps)),
    error           TEXT
) STRICT;

INSERT INTO activities_new (id, integration_id, version, trigger, started_at, duration_us,
                            outcome, steps, error)
SELECT id, integration_id, version, trigger, started_at, duration_us, outcome, steps, error
FROM activities;

DROP TABLE activities;
ALTER TABLE activities_new RENAME TO activities;
CREATE INDEX activities_by_integration ON activities (integration_id, id DESC);
