-- The list generation of an account: SUM(gen) over its rows here.  Every
-- commit that adds or removes a tenant, or changes one of its sort keys,
-- bumps one shard's gen in the statement that moves n (delta 0 for a
-- change of sort key), so it only grows, and the count and the generation
-- are read together.  Workers keep positions in sorted listings (page
-- marks) and trust them only while the generation they are of holds.
ALTER TABLE tenant_counts
  ADD COLUMN gen BIGINT UNSIGNED NOT NULL DEFAULT 0;
