-- "Succeeded" means one thing wherever the log is read: a status below 400 (a redirect is no
-- refusal), as the audit list's outcome filter always had it. The newest successful event is
-- read from this partial index, so its predicate follows.
DROP INDEX audit_org_operation_ok_seq;
CREATE INDEX audit_org_operation_ok_seq ON audit_events (org_id, operation, seq)
    WHERE status < 400;
