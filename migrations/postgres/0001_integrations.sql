-- The integration model: integrations, their versions, and the log of every change of
-- state. Times are milliseconds since the Unix epoch (UTC), the same in both dialects.
-- The invariants of ../shared/design/integration-model.md are enforced here, so that
-- no code path (or hand-written SQL) can break them.

CREATE TABLE integrations (
    id              TEXT   PRIMARY KEY
                    CHECK (id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    name            TEXT   NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100 AND name = btrim(name)),
    -- The case-folded name, computed by the domain type so both dialects fold alike.
    name_key        TEXT   NOT NULL CHECK (char_length(name_key) >= 1),
    description     TEXT   NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    -- What is true now (the reconciler's) and what the user asked for (the actions').
    -- Error is never a target.
    current_state   TEXT   NOT NULL DEFAULT 'draft'
                    CHECK (current_state IN ('draft', 'active', 'inactive', 'deleted', 'error')),
    target_state    TEXT   NOT NULL DEFAULT 'draft'
                    CHECK (target_state IN ('draft', 'active', 'inactive', 'deleted')),
    -- The active version (one column: two active versions cannot be expressed), and
    -- the version the reconciler has running.
    target_version  BIGINT,
    current_version BIGINT,
    -- Bumped by every edit and action: what an editor's save is checked against.
    revision        BIGINT NOT NULL DEFAULT 1 CHECK (revision >= 1),
    -- Who made the latest change of state, why, and a fresh id per change: the
    -- triggers below refuse a change of state that does not say who and why, and
    -- record it in `transitions`.
    change_id       TEXT   NOT NULL,
    change_actor    TEXT   NOT NULL CHECK (char_length(change_actor) >= 1),
    change_reason   TEXT   NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL CHECK (updated_at >= created_at)
);

-- Names are unique, whatever the case, among integrations that are not unpublished.
CREATE UNIQUE INDEX integrations_name_key_unique ON integrations (name_key)
    WHERE target_state <> 'deleted';
CREATE INDEX integrations_created_at ON integrations (created_at DESC);
CREATE INDEX integrations_pending ON integrations (target_state, current_state);

CREATE TABLE versions (
    integration_id         TEXT   NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    number                 BIGINT NOT NULL CHECK (number >= 1),
    -- The flow, as canonical JSON.
    definition             TEXT   NOT NULL CHECK (definition::jsonb IS NOT NULL),
    -- The version of this integration the draft was started from, if any.
    based_on               BIGINT,
    -- For a blueprint: the version of another (or the same) integration it copies.
    source_integration_id  TEXT,
    source_version         BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    -- Set when published: from then on the row is frozen (see the triggers).
    published_at           BIGINT,
    published_by           TEXT,
    note                   TEXT CHECK (note IS NULL OR char_length(note) BETWEEN 1 AND 500),
    content_hash           TEXT CHECK (content_hash IS NULL OR char_length(content_hash) = 64),
    -- A discarded draft is kept, hidden, so that its number is never used again.
    discarded_at           BIGINT,
    PRIMARY KEY (integration_id, number),
    CHECK ((source_integration_id IS NULL) = (source_version IS NULL)),
    -- Published means every publish field is there; a draft has none of them.
    CHECK ((published_at IS NULL AND published_by IS NULL AND note IS NULL AND content_hash IS NULL)
        OR (published_at IS NOT NULL AND published_by IS NOT NULL AND content_hash IS NOT NULL)),
    CHECK (published_at IS NULL OR discarded_at IS NULL)
);

-- At most one draft per integration.
CREATE UNIQUE INDEX versions_one_draft ON versions (integration_id)
    WHERE published_at IS NULL AND discarded_at IS NULL;

CREATE FUNCTION versions_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Numbers count up from 1 with no gap, so none is ever used twice (rows are
    -- never removed but with their integration).
    IF NEW.number <> (SELECT coalesce(max(number), 0) + 1 FROM versions
                      WHERE integration_id = NEW.integration_id) THEN
        RAISE EXCEPTION 'version numbers count up from 1 and are never reused';
    END IF;
    IF NEW.published_at IS NOT NULL OR NEW.discarded_at IS NOT NULL THEN
        RAISE EXCEPTION 'a version starts as a draft and is then published';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER versions_guard_insert BEFORE INSERT ON versions
    FOR EACH ROW EXECUTE FUNCTION versions_guard_insert();

CREATE FUNCTION versions_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A published or discarded version never changes again.
    IF OLD.published_at IS NOT NULL OR OLD.discarded_at IS NOT NULL THEN
        RAISE EXCEPTION 'a published version is frozen and cannot be changed';
    END IF;
    IF NEW.integration_id IS DISTINCT FROM OLD.integration_id OR NEW.number IS DISTINCT FROM OLD.number THEN
        RAISE EXCEPTION 'a version keeps its integration and its number';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER versions_guard_update BEFORE UPDATE ON versions
    FOR EACH ROW EXECUTE FUNCTION versions_guard_update();

CREATE FUNCTION versions_guard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A published version is history; a discarded draft holds its number. Only a
    -- never-published integration's Delete removes its (draft) versions.
    IF OLD.published_at IS NOT NULL THEN
        RAISE EXCEPTION 'a published version is frozen and cannot be deleted';
    END IF;
    IF EXISTS (SELECT 1 FROM integrations WHERE id = OLD.integration_id) THEN
        RAISE EXCEPTION 'a draft is discarded, not deleted: its number stays taken';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER versions_guard_delete BEFORE DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION versions_guard_delete();

CREATE FUNCTION integrations_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.target_version IS NOT NULL OR NEW.current_version IS NOT NULL
       OR NEW.current_state <> 'draft' OR NEW.target_state <> 'draft' THEN
        RAISE EXCEPTION 'an integration starts as a draft with no published version';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER integrations_guard_insert BEFORE INSERT ON integrations
    FOR EACH ROW EXECUTE FUNCTION integrations_guard_insert();

CREATE FUNCTION integrations_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The active and the running version are published versions of the integration.
    IF (NEW.target_version IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM versions WHERE integration_id = NEW.id AND number = NEW.target_version
            AND published_at IS NOT NULL))
       OR (NEW.current_version IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM versions WHERE integration_id = NEW.id AND number = NEW.current_version
            AND published_at IS NOT NULL)) THEN
        RAISE EXCEPTION 'the active and the running version must be published versions of the integration';
    END IF;
    -- There is no way back to Draft after the first publish.
    IF (NEW.target_state = 'draft' AND OLD.target_state <> 'draft')
       OR (NEW.current_state = 'draft' AND OLD.current_state <> 'draft') THEN
        RAISE EXCEPTION 'there is no way back to draft after the first publish';
    END IF;
    -- Every change of state or version says who made it and why.
    IF (NEW.current_state IS DISTINCT FROM OLD.current_state
        OR NEW.target_state IS DISTINCT FROM OLD.target_state
        OR NEW.current_version IS DISTINCT FROM OLD.current_version
        OR NEW.target_version IS DISTINCT FROM OLD.target_version)
       AND NEW.change_id = OLD.change_id THEN
        RAISE EXCEPTION 'a change of state must carry a new change_id, change_actor and change_reason';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER integrations_guard_update BEFORE UPDATE ON integrations
    FOR EACH ROW EXECUTE FUNCTION integrations_guard_update();

-- Every change is recorded, in the same transaction, by the database itself.
CREATE TABLE transitions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id  TEXT   NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    version         BIGINT,
    field           TEXT   NOT NULL
                    CHECK (field IN ('current_state', 'target_state', 'current_version', 'target_version')),
    from_value      TEXT,
    to_value        TEXT,
    actor           TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    change_id       TEXT   NOT NULL,
    at              BIGINT NOT NULL
);

CREATE INDEX transitions_by_integration ON transitions (integration_id, id DESC);

CREATE FUNCTION integrations_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
        VALUES (NEW.id, NULL, 'target_state', NULL, NEW.target_state, NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at),
               (NEW.id, NULL, 'current_state', NULL, NEW.current_state, NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
        RETURN NEW;
    END IF;
    IF NEW.target_version IS DISTINCT FROM OLD.target_version THEN
        INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
        VALUES (NEW.id, NEW.target_version, 'target_version', OLD.target_version::text, NEW.target_version::text,
                NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
    END IF;
    IF NEW.target_state IS DISTINCT FROM OLD.target_state THEN
        INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
        VALUES (NEW.id, NEW.target_version, 'target_state', OLD.target_state, NEW.target_state,
                NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
    END IF;
    IF NEW.current_version IS DISTINCT FROM OLD.current_version THEN
        INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
        VALUES (NEW.id, NEW.current_version, 'current_version', OLD.current_version::text, NEW.current_version::text,
                NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
    END IF;
    IF NEW.current_state IS DISTINCT FROM OLD.current_state THEN
        INSERT INTO transitions (integration_id, version, field, from_value, to_value, actor, reason, change_id, at)
        VALUES (NEW.id, NEW.current_version, 'current_state', OLD.current_state, NEW.current_state,
                NEW.change_actor, NEW.change_reason, NEW.change_id, NEW.updated_at);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER integrations_record AFTER INSERT OR UPDATE ON integrations
    FOR EACH ROW EXECUTE FUNCTION integrations_record();

-- The log is append-only.
CREATE FUNCTION transitions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM integrations WHERE id = OLD.integration_id) THEN
        RAISE EXCEPTION 'the transition log is append-only';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER transitions_append_only BEFORE UPDATE OR DELETE ON transitions
    FOR EACH ROW EXECUTE FUNCTION transitions_append_only();
