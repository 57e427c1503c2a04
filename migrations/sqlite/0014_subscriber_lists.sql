-- Staff's subscriber list stays fast at a million (issue 19): filtered by
-- state it reads that state's subscribers in id order (the order it pages
-- in), and by an address prefix it reads only the addresses that begin so.
DROP INDEX subscribers_by_state;
CREATE INDEX subscribers_by_state_id ON subscribers (state, id);
CREATE INDEX subscribers_by_lower_address ON subscribers (lower(address));
