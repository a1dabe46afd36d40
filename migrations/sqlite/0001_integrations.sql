-- The integration model: integrations, their versions, and the log of every change of
-- state. Times are milliseconds since the Unix epoch (UTC), the same in both dialects.
-- The invariants of ../shared/design/integration-model.md are enforced here, so that
-- no code path (or hand-written SQL) can break them.

CREATE TABLE integrations (
    id              TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    name            TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name = trim(name)),
    -- The case-folded name, computed by the domain type so both dialects fold alike.
    name_key        TEXT    NOT NULL CHECK (length(name_key) >= 1),
    description     TEXT    NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    -- What is true now (the reconciler's) and what the user asked for (the actions').
    -- Error is never a target.
    current_state   TEXT    NOT NULL DEFAULT 'draft'
                    CHECK (current_state IN ('draft', 'active', 'inactive', 'deleted', 'error')),
    target_state    TEXT    NOT NULL DEFAULT 'draft'
                    CHECK (target_state IN ('draft', 'active', 'inactive', 'deleted')),
    -- The active version (one column: two active versions cannot be expressed), and
    -- the version the reconciler has running.
    target_version  INTEGER,
    current_version INTEGER,
    -- Bumped by every edit and action: what an editor's save is checked against.
    revision        INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    -- Who made the latest change of state, why, and a fresh id per change: the
    -- triggers below refuse a change of state that does not say who and why, and
    -- record it in `transitions`.
    change_id       TEXT    NOT NULL,
    change_actor    TEXT    NOT NULL CHECK (length(change_actor) >= 1),
    change_reason   TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL CHECK (updated_at >= created_at)
) STRICT;

-- Names are unique, whatever the case, among integrations that are not unpublished.
CREATE UNIQUE INDEX integrations_name_key_unique ON integrations (name_key)
    WHERE target_state <> 'deleted';
CREATE INDEX integrations_created_at ON integrations (created_at DESC);
CREATE INDEX integrations_pending ON integrations (target_state, current_state);

CREATE TABLE versions (
    integration_id         TEXT    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    number                 INTEGER NOT NULL CHECK (number >= 1),
    -- The flow, as canonical JSON.
    definition             TEXT    NOT NULL CHECK (json_valid(definition)),
    -- The version of this integration the draft was started from, if any.
    based_on               INTEGER,
    -- For a blueprint: the version of another (or the same) integration it copies.
    source_integration_id  TEXT,
    source_version         INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    -- Set when published: from then on the row is frozen (see the triggers).
    published_at           INTEGER,
    published_by           TEXT,
    note                   TEXT CHECK (note IS NULL OR length(note) BETWEEN 1 AND 500),
    content_hash           TEXT CHECK (content_hash IS NULL OR length(content_hash) = 64),
    -- A discarded draft is kept, hidden, so that its number is never used again.
    discarded_at           INTEGER,
    PRIMARY KEY (integration_id, number),
    CHECK ((source_integration_id IS NULL) = (source_version IS NULL)),
    -- Published means every publish field is there; a draft has none of them.
    CHECK ((published_at IS NULL AND published_by IS NULL AND note IS NULL AND content_hash IS NULL)
        OR (published_at IS NOT NULL AND published_by IS NOT NULL AND content_hash IS NOT NULL)),
    CHECK (published_at IS NULL OR discarded_at IS NULL)
) STRICT;

-- At most one draft per integration.
CREATE UNIQUE INDEX versions_one_draft ON versions (integration_id)
    WHERE published_at IS NULL AND discarded_at IS NULL;

-- Each guard is one trigger with its checks in a fixed order (the same as
-- PostgreSQL's), so that both databases refuse a change with the same message.

CREATE TRIGGER versions_guard_insert BEFORE INSERT ON versions
BEGIN
    -- Numbers count up from 1 with no gap, so none is ever used twice (rows are never
    -- removed but with their integration).
    SELECT RAISE(ABORT, 'version numbers count up from 1 and are never reused')
    WHERE NEW.number <> (SELECT coalesce(max(number), 0) + 1 FROM versions
                         WHERE integration_id = NEW.integration_id);
    SELECT RAISE(ABORT, 'a version starts as a draft and is then published')
    WHERE NEW.published_at IS NOT NULL OR NEW.discarded_at IS NOT NULL;
END;

CREATE TRIGGER versions_guard_update BEFORE UPDATE ON versions
BEGIN
    -- A published or discarded version never changes again.
    SELECT RAISE(ABORT, 'a published version is frozen and cannot be changed')
    WHERE OLD.published_at IS NOT NULL OR OLD.discarded_at IS NOT NULL;
    SELECT RAISE(ABORT, 'a version keeps its integration and its number')
    WHERE NEW.integration_id IS NOT OLD.integration_id OR NEW.number IS NOT OLD.number;
END;

CREATE TRIGGER versions_guard_delete BEFORE DELETE ON versions
BEGIN
    -- A published version is history; a discarded draft holds its number. Only a
    -- never-published integration's Delete removes its (draft) versions.
    SELECT RAISE(ABORT, 'a published version is frozen and cannot be deleted')
    WHERE OLD.published_at IS NOT NULL;
    SELECT RAISE(ABORT, 'a draft is discarded, not deleted: its number stays taken')
    WHERE EXISTS (SELECT 1 FROM integrations WHERE id = OLD.integration_id);
END;

CREATE TRIGGER integrations_guard_insert BEFORE INSERT ON integrations
BEGIN
    SELECT RAISE(ABORT, 'an integration starts as a draft with no published version')
    WHERE NEW.target_version IS NOT NULL OR NEW.current_version IS NOT NULL
       OR NEW.current_state <> 'draft' OR NEW.target_state <> 'draft';
END;

CREATE TRIGGER integrations_guard_update BEFORE UPDATE ON integrations
BEGIN
    -- The active and the running version are published versions of the integration.
    SELECT RAISE(ABORT, 'the active and the running version must be published versions of the integration')
    WHERE (NEW.target_version IS NOT NULL AND NOT EXISTS (
              SELECT 1 FROM versions WHERE integration_id = NEW.id AND number = NEW.target_version
              AND published_at IS NOT NULL))
       OR (NEW.current_version IS NOT NULL AND NOT EXISTS (
              SELECT 1 FROM versions WHERE integration_id = NEW.id AND number = NEW.current_version
              AND published_at IS NOT NULL));
    -- There is no way back to Draft after the first publish.
    SELECT RAISE(ABORT, 'there is no way back to draft after the first publish')
    WHERE (NEW.target_state = 'draft' AND OLD.target_state <> 'draft')
       OR (NEW.current_state = 'draft' AND OLD.current_state <> 'draft');
    -- Every change of state or version says who made it and why...
    SELECT RAISE(ABORT, 'a change of state must carry a new change_id, change_actor and change_reason')
    WHERE (NEW.current_state IS NOT OLD.current_state OR NEW.target_state IS NOT OLD.target_state
           OR NEW.current_version IS NOT OLD.current_version OR NEW.target_version IS NOT OLD.target_version)
      AND NEW.change_id = OLD.change_id;
END;

-- ...and is recorded, in the same transaction, by the database itself.
CREATE TABLE transitions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  TEXT    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    version         INTEGER,
    field           TEXT    NOT NULL
                    CHECK (field IN ('current_state', 'target_state', 'current_version', 'target_version')),
    from_value      TEXT,
    to_value        TEXT,
    actor           TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    change_id       TEXT    NOT NULL,
    at              INTEGER NOT NULL
) STRICT;

CREATE INDEX transitions_by_integration ON transitions (integration_id, id DESC);

CREATE TRIGGER integrations_record_creation AFTER INSERT ON integrations
BEGIN
    INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
    VALUES (NEW.id, NULL, 'target_state', NULL, NEW.target_state, NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at),
           (NEW.id, NULL, 'current_state', NULL, NEW.current_state, NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
END;

-- One trigger, so that the rows of one change are written in a fixed order (the same
-- as PostgreSQL's): the target before what is current, the version before the state.
CREATE TRIGGER integrations_record_changes AFTER UPDATE ON integrations
BEGIN
    INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
    SELECT NEW.id, NEW.target_version, 'target_version', CAST(OLD.target_version AS TEXT),
           CAST(NEW.target_version AS TEXT), NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at
    WHERE NEW.target_version IS NOT OLD.target_version;
    INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
    SELECT NEW.id, NEW.target_version, 'target_state', OLD.target_state, NEW.target_state,
           NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at
    WHERE NEW.target_state IS NOT OLD.target_state;
    INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
    SELECT NEW.id, NEW.current_version, 'current_version', CAST(OLD.current_version AS TEXT),
           CAST(NEW.current_version AS TEXT), NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at
    WHERE NEW.current_version IS NOT OLD.current_version;
    INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
    SELECT NEW.id, NEW.current_version, 'current_state', OLD.current_state, NEW.current_state,
           NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at
    WHERE NEW.current_state IS NOT OLD.current_state;
END;

-- The log is append-only (its rows go only with their integration).
CREATE TRIGGER transitions_guard_update BEFORE UPDATE ON transitions
BEGIN
    SELECT RAISE(ABORT, 'the transition log is append-only');
END;

CREATE TRIGGER transitions_guard_delete BEFORE DELETE ON transitions
BEGIN
    SELECT RAISE(ABORT, 'the transition log is append-only')
    WHERE EXISTS (SELECT 1 FROM integrations WHERE id = OLD.integration_id);
END;
