-- The change feed and webhooks (issue 16, part C).
--
-- Events are audit rows: the feed reads audit_events in id order, so an
-- event is exactly as durable as the change it records (same transaction).
-- tenant_guid names the tenant an event is about, which its slug alone
-- cannot do once the tenant is gone.

ALTER TABLE audit_events
  ADD COLUMN tenant_guid CHAR(36) NULL AFTER target_id;

-- Subscriptions.  secret is sealed by secretbox (enc:v1:KID:...), bound to
-- the subscription's guid; events is a comma-separated list of event
-- types, empty for all.
CREATE TABLE webhooks (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  guid         CHAR(36) NOT NULL,
  account_id   BIGINT UNSIGNED NOT NULL,
  url          VARCHAR(2048) NOT NULL,
  events       VARCHAR(1024) NOT NULL DEFAULT '',
  description  VARCHAR(500) NULL,
  secret       VARCHAR(255) NOT NULL,
  is_active    TINYINT(1) NOT NULL DEFAULT 1,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY ux_webhooks_guid (guid),
  KEY ix_webhooks_account (account_id, is_active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One delivery per (subscription, event).  subject orders them: a
-- delivery waits while an earlier one of the same subscription and
-- subject (a tenant, a key) is still pending.
CREATE TABLE webhook_deliveries (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  webhook_id      BIGINT UNSIGNED NOT NULL,
  event_id        BIGINT UNSIGNED NOT NULL,
  subject         VARCHAR(100) NOT NULL,
  status          VARCHAR(16) NOT NULL DEFAULT 'pending',
  attempts        INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_status     INT NULL,
  last_error      VARCHAR(255) NULL,
  created_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  completed_at    DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_deliveries_event (webhook_id, event_id),
  KEY ix_deliveries_due (status, next_attempt_at),
  KEY ix_deliveries_order (webhook_id, subject, status, event_id),
  CONSTRAINT fk_deliveries_webhook FOREIGN KEY (webhook_id)
    REFERENCES webhooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every attempt: what the receiver answered (a short prefix only).
CREATE TABLE webhook_attempts (
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  delivery_id  BIGINT UNSIGNED NOT NULL,
  webhook_id   BIGINT UNSIGNED NOT NULL,
  at           DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  status_code  INT NULL,
  error        VARCHAR(255) NULL,
  duration_ms  INT UNSIGNED NOT NULL DEFAULT 0,
  response     VARCHAR(256) NULL,
  PRIMARY KEY (id),
  KEY ix_attempts_delivery (webhook_id, delivery_id, id),
  CONSTRAINT fk_attempts_delivery FOREIGN KEY (delivery_id)
    REFERENCES webhook_deliveries (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Where fanning events out to subscriptions has got to: one row, locked
-- by the deliverer that fans out (several nodes take turns).
CREATE TABLE webhook_cursor (
  id          TINYINT UNSIGNED NOT NULL,
  event_id    BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Subscriptions see events from their creation on, not the history.
INSERT INTO webhook_cursor (id, event_id)
  SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;
