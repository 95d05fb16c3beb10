-- Idempotency-Key on POST: the first request with a key stores what it
-- created; the same key and body within 24 hours replays that answer, the
-- same key with another body is refused.  Rows older than a day are
-- replaced when their key comes back.
CREATE TABLE idempotency_keys (
  account_id   BIGINT UNSIGNED NOT NULL,
  idem_key     VARCHAR(255) NOT NULL,
  request_hash BINARY(32) NOT NULL,
  result       VARCHAR(1000) NOT NULL,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (account_id, idem_key),
  KEY ix_idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
