-- A tenant's history (GET /api/v1/tenants/{id}/history) is its audit
-- events, newest first: read from this index, not by scanning the trail.

ALTER TABLE audit_events
  ADD KEY ix_audit_target (target_type, target_id, id);
