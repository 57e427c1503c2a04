-- Monitoring alerts (DESIGN.md §1.9): what Candor knows of each alert (by
-- its tool and key, so repeats are known as such), every alert as it came
-- with what became of it, and API tokens that may only post alerts.

ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';

CREATE TABLE alerts (
    source      TEXT NOT NULL,
    alert_key   TEXT NOT NULL,
    status      TEXT NOT NULL,
    incident_id TEXT,
    changed_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    PRIMARY KEY (source, alert_key)
);
CREATE INDEX alerts_by_incident ON alerts (incident_id, status);

-- Kept forever, published or not; staff read them newest first.
CREATE TABLE alert_events (
    id           TEXT PRIMARY KEY,
    received_at  BIGINT NOT NULL,
    source       TEXT NOT NULL,
    origin       TEXT NOT NULL,
    alert_key    TEXT NOT NULL,
    status       TEXT NOT NULL,
    summary      TEXT,
    severity     TEXT,
    labels       TEXT NOT NULL,
    component_id TEXT,
    incident_id  TEXT,
    entry_id     TEXT,
    outcome      TEXT NOT NULL
);
CREATE INDEX alert_events_by_time ON alert_events (received_at, id);
