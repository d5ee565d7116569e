-- The console's audit log filters by actor, by resource and by refusals; each of those
-- alone walks its own index from the newest event instead of the whole log of the
-- organization. Time bounds and operation prefixes ride on whichever index is chosen.
CREATE INDEX audit_org_actor ON audit_events (org_id, actor_kind, actor_id, seq);
CREATE INDEX audit_org_resource ON audit_events (org_id, resource_id, seq);
-- Refusals are few next to successes: a partial index stays small.
CREATE INDEX audit_org_refused ON audit_events (org_id, seq) WHERE status >= 400;
