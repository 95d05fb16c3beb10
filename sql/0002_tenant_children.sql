-- Records that belong to a tenant and go with it: its users (whose status
-- activate/deactivate may set) and its locations (seed 002 creates a
-- default one).  Both cascade when the tenant is deleted.

CREATE TABLE tenant_users (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  email      VARCHAR(254) NOT NULL,
  role       VARCHAR(32) NOT NULL DEFAULT 'user',
  status     TINYINT UNSIGNED NOT NULL DEFAULT 1,  -- 0 Passive, 1 Active, 2 Banned
  is_support TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY ux_tenant_users_email (tenant_pk, email),
  CONSTRAINT fk_tenant_users_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tenant_locations (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  name       VARCHAR(200) NOT NULL,
  is_default TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_tenant_locations_tenant (tenant_pk),
  CONSTRAINT fk_tenant_locations_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The current tenant of an account goes when the tenant goes.
ALTER TABLE accounts
  ADD CONSTRAINT fk_accounts_current_tenant FOREIGN KEY (current_tenant_pk)
  REFERENCES tenants (pk) ON DELETE SET NULL;
