// Initial schema of the Neo4j backend (Neo4j 5.26 Community).
// Every statement is idempotent (IF NOT EXISTS). Neo4j cannot mix schema and data changes in one
// transaction, so the store runs each statement in its own transaction, then waits for the indexes
// to come online, then records the migration.
//
// Node uniqueness constraints are backed by range indexes: they serve the point lookups
// (get_by_ids, get_by_paths, versions, types) and, with `prop IS NOT NULL` on the trailing
// properties, whole-workspace scans via (workspace, path) (find_contexts, delete_workspace).

// Context ids are UUIDs unique across workspaces (Relay global ids); every lookup by
// id still filters on the workspace.
CREATE CONSTRAINT context_id IF NOT EXISTS
FOR (c:Context) REQUIRE c.id IS UNIQUE;

CREATE CONSTRAINT context_workspace_path IF NOT EXISTS
FOR (c:Context) REQUIRE (c.workspace, c.path) IS UNIQUE;

CREATE CONSTRAINT version_workspace_context_number IF NOT EXISTS
FOR (v:Version) REQUIRE (v.workspace, v.context_id, v.number) IS UNIQUE;

CREATE CONSTRAINT context_type_workspace_name IF NOT EXISTS
FOR (t:ContextType) REQUIRE (t.workspace, t.name) IS UNIQUE;

CREATE CONSTRAINT migration_id IF NOT EXISTS
FOR (m:Migration) REQUIRE m.id IS UNIQUE;

// Children of a parent, already in name order (list_children).
CREATE INDEX context_workspace_parent_name IF NOT EXISTS
FOR (c:Context) ON (c.workspace, c.parent_id, c.name);

// Common filters and orderings of find_contexts.
CREATE INDEX context_workspace_kind IF NOT EXISTS
FOR (c:Context) ON (c.workspace, c.kind);

CREATE INDEX context_workspace_created_at IF NOT EXISTS
FOR (c:Context) ON (c.workspace, c.created_at);

CREATE INDEX context_workspace_updated_at IF NOT EXISTS
FOR (c:Context) ON (c.workspace, c.updated_at);
