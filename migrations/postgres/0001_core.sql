CREATE TABLE components (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    group_id    TEXT REFERENCES components(id),
    position    BIGINT NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Every public status change of a component: the source of uptime.
CREATE TABLE component_history (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_id TEXT NOT NULL REFERENCES components(id),
    at           BIGINT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    cause_kind   TEXT NOT NULL,
    cause_id     TEXT
);
CREATE INDEX component_history_by_component ON component_history (component_id, at);

-- The incident row caches the current state; the truth is its entries.
CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    impact         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    resolved_at    BIGINT,
    next_update_at BIGINT,
    -- Set while a resolved incident owes its follow-up: when it is due.
    follow_up_owed_at BIGINT,
    last_seq       BIGINT NOT NULL,
    state          TEXT NOT NULL
);
CREATE INDEX incidents_by_created ON incidents (created_at, id);
CREATE INDEX incidents_by_status ON incidents (status);

-- Append-only timeline.
CREATE TABLE entries (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    seq         BIGINT NOT NULL,
    posted_at   BIGINT NOT NULL,
    author      TEXT NOT NULL,
    system      BOOLEAN NOT NULL,
    corrects    TEXT REFERENCES entries(id),
    classes     TEXT NOT NULL,
    message     TEXT NOT NULL,
    state       TEXT NOT NULL,
    diff        TEXT NOT NULL,
    components  TEXT NOT NULL,
    UNIQUE (incident_id, seq)
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    ip     TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- Retried POSTs with the same Idempotency-Key get the first response.
CREATE TABLE idempotency (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  BIGINT,
    body         TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('page_version', 0);
