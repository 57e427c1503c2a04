-- The write an Idempotency-Key protects records itself on the key's row,
-- in the write's own transaction: after a crash between the commit and the
-- stored answer, a retry learns what was done instead of waiting forever.
ALTER TABLE idempotency ADD COLUMN write_action TEXT;
ALTER TABLE idempotency ADD COLUMN write_target TEXT;
ALTER TABLE idempotency ADD COLUMN write_detail TEXT;
