-- Filters at scale (issue 12): isActive answers any page and its count
-- from an index and a counter, as the unfiltered list does.
--
-- tenant_counts.active is the number of active tenants of the row's share
-- (SUM over an account's shards, account 0 holding all), moved in the
-- statement that moves n: by creates, deletes and every change of
-- is_active.  A change of is_active also bumps gen, since it adds a row
-- to one filtered listing and removes it from the other.
ALTER TABLE tenant_counts
  ADD COLUMN active BIGINT NOT NULL DEFAULT 0;

-- Recount n and active from the rows (0003 counted n; 0006 added gen and
-- counted nothing), bumping gen so no worker keeps a page mark across.
-- tenantd of an earlier version does not move active: stop its writes
-- while this runs (docs/operations.md).
UPDATE tenant_counts SET n = 0, active = 0, gen = gen + 1;
INSERT INTO tenant_counts (account_id, shard, n, active, gen)
  SELECT account_id, 0, COUNT(*), SUM(is_active), 1 FROM tenants
  GROUP BY account_id
  ON DUPLICATE KEY UPDATE n = VALUES(n), active = VALUES(active);
INSERT INTO tenant_counts (account_id, shard, n, active, gen)
  SELECT 0, 0, COUNT(*), COALESCE(SUM(is_active), 0), 1 FROM tenants
  ON DUPLICATE KEY UPDATE n = VALUES(n), active = VALUES(active);

-- One index per sort order within (account, isActive): a filtered page is
-- a range of one of them from a page mark, and a value that matches
-- nothing costs one index probe.  Built online (InnoDB reads the table
-- once per index while writes go on).
ALTER TABLE tenants
  ADD KEY ix_tenants_account_active (account_id, is_active, pk),
  ADD KEY ix_tenants_account_active_name (account_id, is_active, name),
  ADD KEY ix_tenants_account_active_slug (account_id, is_active, slug),
  ADD KEY ix_tenants_account_active_valid_upto
    (account_id, is_active, valid_upto),
  ADD KEY ix_tenants_account_active_consented
    (account_id, is_active, consented_at),
  ALGORITHM=INPLACE, LOCK=NONE;
