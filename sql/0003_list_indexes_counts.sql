-- Paging at scale.  Every sortable field has an index, globally and per
-- account, so a page is read from an index (InnoDB secondary indexes end
-- in the primary key, which is the tie-break).  Unfiltered counts come
-- from tenant_counts, kept in the same transaction as each insert and
-- delete; rows are spread over shards so concurrent creates do not queue
-- on one counter.  account_id 0 holds the counts of all accounts.

ALTER TABLE tenants
  ADD KEY ix_tenants_account_name (account_id, name),
  ADD KEY ix_tenants_account_slug (account_id, slug),
  ADD KEY ix_tenants_created (created_at),
  ADD KEY ix_tenants_account_created (account_id, created_at),
  ADD KEY ix_tenants_valid_upto (valid_upto),
  ADD KEY ix_tenants_account_valid_upto (account_id, valid_upto),
  ADD KEY ix_tenants_consented (consented_at);

CREATE TABLE tenant_counts (
  account_id BIGINT UNSIGNED NOT NULL,
  shard      TINYINT UNSIGNED NOT NULL,
  n          BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, shard)
) ENGINE=InnoDB;

INSERT INTO tenant_counts (account_id, shard, n)
  SELECT account_id, 0, COUNT(*) FROM tenants GROUP BY account_id;
INSERT INTO tenant_counts (account_id, shard, n)
  SELECT 0, 0, COUNT(*) FROM tenants;
