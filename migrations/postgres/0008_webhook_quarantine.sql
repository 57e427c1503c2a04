-- A webhook whose every try has failed for long enough is quarantined: no
-- more tries until staff re-enable it. Since when its tries fail (cleared
-- by a success), the last failure's kind, and when Candor stopped trying.
ALTER TABLE subscribers ADD COLUMN failing_since BIGINT;
ALTER TABLE subscribers ADD COLUMN last_error TEXT;
ALTER TABLE subscribers ADD COLUMN quarantined_at BIGINT;
