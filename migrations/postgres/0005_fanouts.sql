-- Fan-outs: what the entry's transaction writes instead of one delivery row
-- per subscriber. Each row stands for up to 500 matching subscribers (a
-- range of their ids, in id order) and is the durable promise that they
-- will be told; with 100,000 subscribers that is 200 rows in the admin's
-- POST instead of 100,000. The worker turns one fan-out at a time into
-- per-subscriber delivery rows, already leased to itself, in a transaction
-- of its own (`expanded_at` is set in the same transaction, so a fan-out
-- is expanded exactly once, and a crash before the commit leaves it whole).
CREATE TABLE fanouts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'entry' or 'component', as in deliveries.
    kind             TEXT NOT NULL,
    entry_id         TEXT,
    -- The component whose status staff changed ('component' fan-outs).
    component_id     TEXT,
    payload          TEXT,
    first_subscriber TEXT NOT NULL,
    last_subscriber  TEXT NOT NULL,
    -- How many subscribers matched when it was written: the report counts
    -- them as pending until the fan-out is expanded.
    subscribers      BIGINT NOT NULL,
    posted_at        BIGINT NOT NULL,
    expanded_at      BIGINT,
    -- The ids its delivery rows got; rows of other fan-outs may lie
    -- between, so readers also match deliveries.fanout_id.
    first_delivery   BIGINT,
    last_delivery    BIGINT
);
CREATE INDEX fanouts_open ON fanouts (id) WHERE expanded_at IS NULL;
CREATE INDEX fanouts_by_entry ON fanouts (entry_id);

ALTER TABLE deliveries ADD COLUMN fanout_id BIGINT;

-- Entries posted before this migration had their rows written at once; each
-- becomes one expanded fan-out, and its rows point at it.
INSERT INTO fanouts (kind, entry_id, first_subscriber, last_subscriber, subscribers,
                     posted_at, expanded_at, first_delivery, last_delivery)
SELECT 'entry', r.entry_id, '', '',
       (SELECT COUNT(*) FROM deliveries d
        WHERE d.id > r.after_id AND d.id <= r.last_id AND d.entry_id = r.entry_id),
       e.posted_at, e.posted_at, r.after_id + 1, r.last_id
FROM entry_deliveries r JOIN entries e ON e.id = r.entry_id
ORDER BY r.after_id;
UPDATE deliveries d SET fanout_id = f.id FROM fanouts f
WHERE d.entry_id = f.entry_id AND d.id >= f.first_delivery AND d.id <= f.last_delivery;
DROP TABLE entry_deliveries;
