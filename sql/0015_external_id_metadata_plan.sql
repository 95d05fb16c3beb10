-- A client's own id for a tenant (unique within its account), a plan
-- name, and metadata: string values under short keys.  The metadata is
-- kept twice, in one transaction: as JSON text on the row, which is what
-- a tenant's representation shows, and one row per key in
-- tenant_metadata, which is what ?metadata.KEY=VALUE filters read through
-- an index (within one account, or over all of them for global keys).
-- Keys, values and external ids compare byte for byte: "Env" is not "env".

ALTER TABLE tenants
  ADD COLUMN external_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN plan        VARCHAR(64) NULL,
  ADD COLUMN metadata    TEXT NULL,
  ADD UNIQUE KEY ux_tenants_external_id (external_id, account_id);

CREATE TABLE tenant_metadata (
  tenant_id  BIGINT UNSIGNED NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  k          VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  v          VARCHAR(500) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (tenant_id, k),
  KEY ix_tenant_metadata_account (account_id, k, v, tenant_id),
  KEY ix_tenant_metadata_kv (k, v),
  CONSTRAINT fk_tenant_metadata_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
