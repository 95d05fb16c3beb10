-- Idempotency-Key on every mutation of every surface (issue 16): a key's
-- row now holds the whole first answer (status, Location and ETag, the
-- body's tree, its XML names) rather than a create's ids, so any route's
-- answer can be replayed.  Rows of the old shape describe only creates
-- of the last day; they are dropped rather than replayed wrongly.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys MODIFY result MEDIUMTEXT NOT NULL;
