-- What the reconciler records while it works on an integration, and the activity of
-- running integrations.

-- The sub-step being worked on while Pending: validating, building, deploying, starting.
ALTER TABLE integrations ADD COLUMN reconcile_phase TEXT
    CHECK (reconcile_phase IS NULL OR reconcile_phase IN ('validating', 'building', 'deploying', 'starting', 'stopping'));
-- Failed attempts since the last success or re-arm, when the next one is due, why the
-- last one failed, and whether the reconciler gave up.
ALTER TABLE integrations ADD COLUMN reconcile_attempts BIGINT NOT NULL DEFAULT 0 CHECK (reconcile_attempts >= 0);
ALTER TABLE integrations ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE integrations ADD COLUMN last_error TEXT;
ALTER TABLE integrations ADD COLUMN gave_up BIGINT NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1));
-- Which reconciler works on (or runs) the integration, until when: two replicas on one
-- database never act on the same integration at once.
ALTER TABLE integrations ADD COLUMN lease_owner TEXT;
ALTER TABLE integrations ADD COLUMN lease_expires_at BIGINT;

CREATE TABLE activities (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id  TEXT   NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    trigger         TEXT   NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_us     BIGINT NOT NULL CHECK (duration_us >= 0),
    outcome         TEXT   NOT NULL CHECK (outcome IN ('ok', 'filtered', 'failed')),
    -- Each step's outcome and a short detail, as a JSON array.
    steps           TEXT   NOT NULL CHECK (steps::jsonb IS NOT NULL),
    error           TEXT
);

CREATE INDEX activities_by_integration ON activities (integration_id, id DESC);

-- "Identical to vN" on the history page groups an integration's versions by content.
CREATE INDEX versions_by_content ON versions (integration_id, content_hash);
