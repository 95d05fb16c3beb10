-- Sorting one account's tenants by consentedAt (seed 000's order) reads
-- this index instead of sorting.
ALTER TABLE tenants
  ADD KEY ix_tenants_account_consented (account_id, consented_at);
