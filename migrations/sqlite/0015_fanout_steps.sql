-- A fan-out is one row per update (issue 19): the admin's POST counts who
-- it is for and writes one row, whatever their number; the worker expands
-- it 500 subscribers at a time, in id order, each step in a transaction of
-- its own. Written by the POST now: first_subscriber and last_subscriber
-- are '' (everyone, to the end of the table). Rows written before keep
-- their range of up to 500 and are expanded the same way.
--
-- The last subscriber id a step has expanded; the next step starts after
-- it (NULL: none yet).
ALTER TABLE fanouts ADD COLUMN expanded_through TEXT;
-- How many delivery rows the fan-out has written so far. `subscribers` is
-- now how many are still to be expanded (counted when posted, less each
-- step's; 0 once expanded): the delivery report adds the two instead of
-- counting every delivery row of an entry.
ALTER TABLE fanouts ADD COLUMN delivery_rows BIGINT NOT NULL DEFAULT 0;
UPDATE fanouts SET
    delivery_rows = (SELECT COUNT(*) FROM deliveries d
                     WHERE d.id >= fanouts.first_delivery AND d.id <= fanouts.last_delivery
                       AND d.fanout_id = fanouts.id),
    subscribers = 0
WHERE expanded_at IS NOT NULL;
