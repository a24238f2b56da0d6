// Access control (issue 7): API keys (salted hashes only) and the audit log.
// `expires_at` / `revoked_at` are microseconds since the epoch, 0 meaning never / not revoked.
CREATE NODE TABLE ApiKey(
    id STRING PRIMARY KEY,
    workspace STRING,
    name STRING,
    kind STRING,
    salt STRING,
    hash STRING,
    roles STRING[],
    workspaces STRING[],
    created_at INT64,
    created_by STRING,
    expires_at INT64,
    revoked_at INT64,
    replaced_by STRING
);

CREATE NODE TABLE AuditEntry(
    id STRING PRIMARY KEY,
    workspace STRING,
    at INT64,
    principal STRING,
    principal_kind STRING,
    operation STRING,
    target STRING,
    outcome STRING,
    code STRING
);
