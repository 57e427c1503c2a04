-- The outbox is written in the entry's transaction, one row per subscriber:
-- 100,000 rows for a large page, inside the admin's POST. Every index and
-- every per-row check is paid that many times, so the table keeps only the
-- primary key and an index of the rows still to send.
--
-- No foreign keys: rows are only ever inserted by INSERT ... SELECT from
-- `subscribers` in the same transaction as their entry, and neither entries
-- nor subscribers are deleted (history is never rewritten; unsubscribing
-- keeps the row). No UNIQUE (entry, subscriber, channel): one INSERT ...
-- SELECT over subscribers cannot repeat a subscriber. SQLite cannot drop a
-- constraint, so the table is rebuilt with the same columns and ids
-- (AUTOINCREMENT: ids are never reused, they appear in Message-IDs).
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    entry_id        TEXT,
    -- NULL for mail to staff (owner reminders), which go to `address`.
    subscriber_id   TEXT,
    address         TEXT,
    payload         TEXT,
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
INSERT INTO deliveries_new (id, kind, entry_id, subscriber_id, address, payload, channel,
                            state, attempts, next_attempt_at, lease_until, last_error,
                            created_at, sent_at)
SELECT id, kind, entry_id, subscriber_id, address, payload, channel,
       state, attempts, next_attempt_at, lease_until, last_error, created_at, sent_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
-- The worker takes the oldest open rows first: an index of open rows only,
-- in queue order, so a claim reads its batch and stops (sent rows leave it).
CREATE INDEX deliveries_open ON deliveries (id) WHERE state IN ('pending', 'failed');
-- Failures, for the delivery report; a row enters it only when it fails.
CREATE INDEX deliveries_failures ON deliveries (entry_id) WHERE state IN ('failed', 'dead');
-- Where an entry's deliveries are: ids in (after_id, last_id]. Readers also
-- match entry_id; the range replaces an index on entry_id that every
-- delivery row would have paid for.
CREATE TABLE entry_deliveries (
    entry_id TEXT PRIMARY KEY REFERENCES entries(id),
    after_id BIGINT NOT NULL,
    last_id  BIGINT NOT NULL
);
INSERT INTO entry_deliveries (entry_id, after_id, last_id)
SELECT entry_id, MIN(id) - 1, MAX(id) FROM deliveries
WHERE entry_id IS NOT NULL GROUP BY entry_id;
