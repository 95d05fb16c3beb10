-- Soft delete.  A deleted tenant leaves tenants (its child rows cascade
-- away with it) for this archive, in the transaction of its audit event:
-- every read path, on every surface, keeps reading tenants alone and so
-- never sees it, and the counts move as for any delete.  snapshot holds
-- the tenant's row and every child row as JSON text ({"table": [rows]},
-- tenant_archive.c); a restore puts them back with the same keys.  slug
-- and name stay unique across tenants and this table (a create checks it),
-- so a restored tenant always gets its slug back.  A row is purged after
-- purge_after, by the provisioning process or DELETE ...?purge=true.

CREATE TABLE tenants_deleted (
  pk           BIGINT UNSIGNED NOT NULL,
  account_id   BIGINT UNSIGNED NOT NULL,
  slug         VARCHAR(63) NOT NULL,
  guid         CHAR(36) NOT NULL,
  name         VARCHAR(200) NOT NULL,
  display_name VARCHAR(200) NULL,
  deleted_at   DATETIME(3) NOT NULL,
  purge_after  DATETIME(3) NOT NULL,
  deleted_by   VARCHAR(160) NOT NULL,
  snapshot     LONGTEXT NOT NULL,
  PRIMARY KEY (pk),
  UNIQUE KEY ux_tenants_deleted_slug (slug),
  UNIQUE KEY ux_tenants_deleted_guid (guid),
  UNIQUE KEY ux_tenants_deleted_name (name),
  KEY ix_tenants_deleted_account (account_id, pk),
  KEY ix_tenants_deleted_purge (purge_after)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
