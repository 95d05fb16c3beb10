-- Microsoft 365 tenants connected to an account by admin consent (seeds
-- 000 and 004).  The tenant record is a row of tenants (so /api/v1/tenants
-- shows it too); a connection owns it, one per tenant row, and at most one
-- per (account, Microsoft tenant), which makes an import idempotent.  A
-- removed connection keeps its data until purge_after, then the
-- provisioning process deletes the tenant row and everything below it.

CREATE TABLE connections (
  id              VARCHAR(40) NOT NULL,
  account_id      BIGINT UNSIGNED NOT NULL,
  tenant_pk       BIGINT UNSIGNED NOT NULL,
  ms_tenant_id    CHAR(36) NOT NULL,
  label           VARCHAR(200) NULL,
  status          VARCHAR(32) NULL,
  connected_at    DATETIME NOT NULL,
  disconnected_at DATETIME NULL,
  purge_after     DATETIME NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_connections_tenant (tenant_pk),
  UNIQUE KEY ux_connections_account_ms (account_id, ms_tenant_id),
  KEY ix_connections_ms (ms_tenant_id),
  KEY ix_connections_purge (purge_after),
  CONSTRAINT fk_connections_account FOREIGN KEY (account_id) REFERENCES accounts (id),
  CONSTRAINT fk_connections_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The account's primary (active) connection.  One column, so there is
-- never more than one; when it names no active connection the oldest
-- active one is primary (connections.c), so there is never none either.
ALTER TABLE accounts
  ADD COLUMN primary_connection_id VARCHAR(40) NULL,
  ADD CONSTRAINT fk_accounts_primary_connection FOREIGN KEY (primary_connection_id)
  REFERENCES connections (id) ON DELETE SET NULL;

-- What Microsoft 365 discovery found in a tenant; tenants.domain_count and
-- mailbox_count are COUNT(*) of these, set in the transaction that
-- replaces them.
CREATE TABLE m365_domains (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  name       VARCHAR(253) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY ux_m365_domains (tenant_pk, name),
  CONSTRAINT fk_m365_domains_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE m365_mailboxes (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  address    VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY ux_m365_mailboxes (tenant_pk, address),
  CONSTRAINT fk_m365_mailboxes_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE m365_sync_logs (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  outcome    VARCHAR(16) NOT NULL,
  detail     VARCHAR(2000) NULL,
  PRIMARY KEY (id),
  KEY ix_m365_sync_logs_tenant (tenant_pk, id),
  CONSTRAINT fk_m365_sync_logs_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE m365_enforcement_events (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  kind       VARCHAR(64) NOT NULL,
  detail     VARCHAR(2000) NULL,
  PRIMARY KEY (id),
  KEY ix_m365_enforcement_tenant (tenant_pk, id),
  CONSTRAINT fk_m365_enforcement_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
