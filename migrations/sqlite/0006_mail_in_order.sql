-- Each subscriber's mail goes out in the order it was posted: a new delivery
-- for someone whose earlier mail is waiting for a retry waits behind it.
-- Only failed rows are in this index, so it stays small.
CREATE INDEX deliveries_waiting ON deliveries (subscriber_id) WHERE state = 'failed';
