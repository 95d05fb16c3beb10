-- Provisioning an operator can follow: when a job started and finished,
-- and for every step of it its own status, attempts, times and error.
-- Jobs from before this migration have no step rows; the job resource
-- derives their steps from provisioning_jobs.step as it did before.

ALTER TABLE provisioning_jobs
  ADD COLUMN started_at   DATETIME(3) NULL AFTER next_attempt_at,
  ADD COLUMN completed_at DATETIME(3) NULL AFTER started_at;

UPDATE provisioning_jobs SET completed_at = updated_at
  WHERE status = 'Completed';

CREATE TABLE provisioning_steps (
  job_id        BIGINT UNSIGNED NOT NULL,
  step          VARCHAR(32) NOT NULL,
  status        VARCHAR(16) NOT NULL DEFAULT 'Pending',
  attempts      INT UNSIGNED NOT NULL DEFAULT 0,
  started_at    DATETIME(3) NULL,
  completed_at  DATETIME(3) NULL,
  error         VARCHAR(1000) NULL,
  PRIMARY KEY (job_id, step),
  CONSTRAINT fk_steps_job FOREIGN KEY (job_id) REFERENCES provisioning_jobs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
