-- Timed work: promises Candor holds staff to. A row per (incident, kind,
-- promised time); claimed with a lease like deliveries, so it survives
-- restarts and runs once with several instances.
CREATE TABLE jobs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    -- The promised time the job is about (an update, an ETA, a follow-up).
    ref_at      BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT,
    done_at     BIGINT,
    UNIQUE (incident_id, kind, ref_at)
);
CREATE INDEX jobs_due ON jobs (done_at, due_at);
