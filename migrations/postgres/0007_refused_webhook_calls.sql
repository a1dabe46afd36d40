-- A webhook call without its trigger's secret is recorded as refused (the flow did
-- not run).
ALTER TABLE activities DROP CONSTRAINT activities_outcome_check;
ALTER TABLE activities ADD CONSTRAINT activities_outcome_check
    CHECK (outcome IN ('ok', 'filtered', 'failed', 'refused'));
