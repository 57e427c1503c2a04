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

-- "Still affected?" one-click reports from the resolve mail: one per
-- subscriber per incident.
CREATE TABLE still_affected (
    incident_id   TEXT NOT NULL REFERENCES incidents(id),
    subscriber_id TEXT NOT NULL REFERENCES subscribers(id),
    reported_at   BIGINT NOT NULL,
    PRIMARY KEY (incident_id, subscriber_id)
);
