-- The outbox is written in the entry's transaction, one row per subscriber:
-- 100,000 rows for a large page, inside the admin's POST. Every index and
-- every per-row check is paid that many times, so the table keeps only the
-- primary key and an index of the rows still to send.
--
-- No foreign keys: rows are only ever inserted by INSERT ... SELECT from
-- `subscribers` in the same transaction as their entry, and neither entries
-- nor subscribers are deleted (history is never rewritten; unsubscribing
-- keeps the row). The keys checked and share-locked every subscriber row
-- once per delivery.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_entry_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_subscriber_id_fkey;
-- One INSERT ... SELECT over subscribers cannot repeat a subscriber, and
-- comparing text keys was a third of the insert's time.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_entry_id_subscriber_id_channel_key;
DROP INDEX IF EXISTS deliveries_by_entry;
DROP INDEX IF EXISTS deliveries_due;
-- The worker takes the oldest open rows first: an index of open rows only,
-- in queue order, so a claim reads its batch and stops (sent rows leave it).
CREATE INDEX deliveries_open ON deliveries (id) WHERE state IN ('pending', 'failed');
-- Failures, for the delivery report; a row enters it only when it fails.
CREATE INDEX deliveries_failures ON deliveries (entry_id) WHERE state IN ('failed', 'dead');
-- Where an entry's deliveries are: ids in (after_id, last_id]. Other rows
-- may lie between (another fan-out at the same moment), so readers also
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
