-- Messages per integration, minute and outcome, for the chart of the last hour on the
-- detail page. Counted when activity is written, whatever of it is kept (only the
-- newest 1,000 messages are), and with the messages that could not be recorded
-- (`not_recorded`: the queue was full, or the database refused them). Kept a day.
CREATE TABLE activity_minutes (
    integration_id TEXT   NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    -- Minutes since 1970-01-01 UTC.
    minute         INTEGER NOT NULL,
    outcome        TEXT   NOT NULL
        CHECK (outcome IN ('ok', 'filtered', 'failed', 'refused', 'not_recorded')),
    count          INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (integration_id, minute, outcome)
) STRICT;
