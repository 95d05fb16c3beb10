-- The changes behind each list generation (sql/0006), so that a worker's
-- page marks follow a change instead of being read again (page_marks.h).
-- Every bump of a shard's gen for one account writes one row here in the
-- same transaction, keyed by that shard's gen after the bump: the changes
-- since a snapshot are exactly the rows past its shards' gens, and a row
-- committed late cannot hide behind a later one (a shard's bumps queue
-- on its counter row).  A row holds the tenant's listing state before
-- (was_active NULL: it was not there) and after (is_active NULL: it is
-- gone): its isActive and the keys of every sort order.  Bumps that write
-- no row (tenantctl seed) leave a gap, which makes the marks go as
-- before.  The provisioning process deletes rows after ten minutes.
CREATE TABLE IF NOT EXISTS tenant_list_changes (
  account_id       BIGINT UNSIGNED NOT NULL,
  shard            TINYINT UNSIGNED NOT NULL,
  gen              BIGINT UNSIGNED NOT NULL,
  tenant_pk        BIGINT UNSIGNED NOT NULL,
  was_active       TINYINT(1) NULL,
  old_name         VARCHAR(200) NULL,
  old_slug         VARCHAR(63) NULL,
  old_valid_upto   DATETIME NULL,
  old_consented_at DATETIME NULL,
  is_active        TINYINT(1) NULL,
  new_name         VARCHAR(200) NULL,
  new_slug         VARCHAR(63) NULL,
  new_valid_upto   DATETIME NULL,
  new_consented_at DATETIME NULL,
  changed_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (account_id, shard, gen),
  KEY ix_tenant_list_changes_at (changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
