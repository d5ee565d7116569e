-- The console's set-up overview asks for the newest event of an operation (the last SCIM
-- request, the last successful SAML sign-in): these indexes answer it with a few seeks
-- instead of a walk back through the organization's log. `operation` is COLLATE "C", so a
-- prefix is a byte range of the index.
CREATE INDEX audit_org_operation_seq ON audit_events (org_id, operation, seq);
CREATE INDEX audit_org_operation_ok_seq ON audit_events (org_id, operation, seq)
    WHERE status >= 200 AND status < 300;
