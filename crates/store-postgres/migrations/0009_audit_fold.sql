-- Repeated identical refusals (the same organization, reason and client address within a
-- window) are one row with a count instead of a row each: `fold_key` names what repeats,
-- `repeated` says how often it happened, `last_at` when it last did (NULL while once).
ALTER TABLE audit_events ADD COLUMN fold_key TEXT;
ALTER TABLE audit_events ADD COLUMN repeated BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN last_at BIGINT;
-- Finding the row to fold into is one seek: the newest of the organization with the key.
CREATE INDEX audit_org_fold_seq ON audit_events (org_id, fold_key, seq)
    WHERE fold_key IS NOT NULL;
