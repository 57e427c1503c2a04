-- Subscribers stored in id order (issue 19). A fan-out reads subscribers
-- in id order, 500 at a time; ids are random, so in a table keyed by rowid
-- (the order rows were written in) each one it read sat on another page:
-- at a million, more pages than the cache holds, and a read from the file
-- for nearly every mail. Keyed by id (WITHOUT ROWID), the 500 lie side by
-- side, and the id index the walk went through is gone. Rows of about a
-- hundred bytes are what such a table is made for.
--
-- SQLite cannot change a table's key in place: the table is rebuilt with
-- the same columns and rows. The migration runs in one transaction with
-- foreign keys on, so dropping the old table counts every row still
-- referring to it (subscriber_components, still_affected) as a violation;
-- deferred, the count goes back to zero as the same ids are inserted into
-- the new table, and the commit checks it. A temporary index lets each of
-- those checks find still_affected's rows by subscriber.
PRAGMA defer_foreign_keys = ON;
CREATE INDEX still_affected_by_subscriber ON still_affected (subscriber_id);
CREATE TABLE subscribers_copy AS SELECT * FROM subscribers;
DROP TABLE subscribers;
CREATE TABLE subscribers (
    id              TEXT NOT NULL PRIMARY KEY,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    state           TEXT NOT NULL,
    all_components  BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    confirm_sent_at BIGINT,
    confirmed_at    BIGINT,
    unsubscribed_at BIGINT,
    secret          TEXT,
    failing_since   BIGINT,
    last_error      TEXT,
    quarantined_at  BIGINT,
    UNIQUE (channel, address)
) WITHOUT ROWID;
INSERT INTO subscribers (id, channel, address, state, all_components, created_at,
                         confirm_sent_at, confirmed_at, unsubscribed_at, secret,
                         failing_since, last_error, quarantined_at)
SELECT id, channel, address, state, all_components, created_at,
       confirm_sent_at, confirmed_at, unsubscribed_at, secret,
       failing_since, last_error, quarantined_at
FROM subscribers_copy ORDER BY id;
DROP TABLE subscribers_copy;
DROP INDEX still_affected_by_subscriber;
CREATE INDEX subscribers_by_state_id ON subscribers (state, id);
CREATE INDEX subscribers_by_lower_address ON subscribers (lower(address));
