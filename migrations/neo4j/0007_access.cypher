// Access control (issue 7): API keys (salted hashes only) and the audit log.
CREATE CONSTRAINT api_key_id IF NOT EXISTS
FOR (k:ApiKey) REQUIRE k.id IS UNIQUE;

CREATE INDEX api_key_workspace IF NOT EXISTS
FOR (k:ApiKey) ON (k.workspace, k.created_at);

CREATE CONSTRAINT audit_entry_id IF NOT EXISTS
FOR (a:AuditEntry) REQUIRE a.id IS UNIQUE;

// Newest-first pages of a workspace's audit log.
CREATE INDEX audit_entry_workspace_at IF NOT EXISTS
FOR (a:AuditEntry) ON (a.workspace, a.at);
