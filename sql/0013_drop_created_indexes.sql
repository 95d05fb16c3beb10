-- Two indexes nothing reads (issue 12's write cost): creation order is
-- the primary key's (TSORT_CREATED reads PRIMARY, ix_tenants_account or
-- an is_active index, all ending in pk), and no statement filters or
-- sorts tenants by created_at.  Every insert still wrote both, and every
-- list statement's plan weighed them.  docs/operations.md, "Indexes of
-- tenants, and the two 0013 dropped".
--
-- Dropping a secondary index changes only the data dictionary: instant,
-- reads and writes go on.
ALTER TABLE tenants
  DROP KEY ix_tenants_created,
  DROP KEY ix_tenants_account_created,
  ALGORITHM=INPLACE, LOCK=NONE;
