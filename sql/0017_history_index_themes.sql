-- A tenant's history (GET /api/v1/tenants/{id}/history) is its audit
-- events, newest first: read from this index, not by scanning the trail.

ALTER TABLE audit_events
  ADD KEY ix_audit_target (target_type, target_id, id);

-- A tenant's theme (PUT /api/v1/tenants/{id}/theme): colours as #RRGGBB
-- and https URLs; no row is the default theme.  Its row goes with the
-- tenant, into the archive on a delete and back on a restore.

CREATE TABLE tenant_themes (
  tenant_pk        BIGINT UNSIGNED NOT NULL,
  primary_color    CHAR(7) NOT NULL,
  secondary_color  CHAR(7) NOT NULL,
  background_color CHAR(7) NOT NULL,
  text_color       CHAR(7) NOT NULL,
  logo_url         VARCHAR(2048) NULL,
  favicon_url      VARCHAR(2048) NULL,
  updated_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (tenant_pk),
  CONSTRAINT fk_tenant_themes_tenant FOREIGN KEY (tenant_pk) REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
