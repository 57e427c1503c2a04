CREATE TABLE subscribers (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    state           TEXT NOT NULL,
    all_components  BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    confirm_sent_at BIGINT,
    confirmed_at    BIGINT,
    unsubscribed_at BIGINT,
    UNIQUE (channel, address)
);
CREATE INDEX subscribers_by_state ON subscribers (state);

CREATE TABLE subscriber_components (
    subscriber_id TEXT NOT NULL REFERENCES subscribers(id),
    component_id  TEXT NOT NULL REFERENCES components(id),
    PRIMARY KEY (subscriber_id, component_id)
);
CREATE INDEX subscriber_components_by_component ON subscriber_components (component_id);

-- The components each entry concerns, to match subscribers' choices.
CREATE TABLE entry_components (
    entry_id     TEXT NOT NULL REFERENCES entries(id),
    component_id TEXT NOT NULL,
    PRIMARY KEY (entry_id, component_id)
);

-- The outbox: written in the entry's transaction, drained by the worker.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    entry_id        TEXT REFERENCES entries(id),
    -- NULL for mail to staff (owner reminders), which go to `address`.
    subscriber_id   TEXT REFERENCES subscribers(id),
    address         TEXT,
    payload         TEXT,
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    UNIQUE (entry_id, subscriber_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_entry ON deliveries (entry_id);

-- Keys Candor makes for itself (the link-signing key).
CREATE TABLE keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
