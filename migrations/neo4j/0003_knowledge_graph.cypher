// Tools, executions, relationships and provenance (graph/knowledge, graph/neo4j/knowledge.py).
// Idempotent statements (IF NOT EXISTS); JSON documents are stored as strings.

CREATE CONSTRAINT tool_workspace_name IF NOT EXISTS
FOR (t:Tool) REQUIRE (t.workspace, t.name) IS UNIQUE;

CREATE CONSTRAINT tool_version_workspace_name_version IF NOT EXISTS
FOR (v:ToolVersion) REQUIRE (v.workspace, v.name, v.version) IS UNIQUE;

CREATE CONSTRAINT agent_workspace_id IF NOT EXISTS
FOR (a:Agent) REQUIRE (a.workspace, a.id) IS UNIQUE;

CREATE CONSTRAINT execution_id IF NOT EXISTS
FOR (e:Execution) REQUIRE e.id IS UNIQUE;

// Lineage nodes: one per context id, kept when the context is deleted.
CREATE CONSTRAINT origin_id IF NOT EXISTS
FOR (o:Origin) REQUIRE o.id IS UNIQUE;

// One edge per (source context, target, type): `uid` = source id + "\0" + target kind:id + "\0" + type.
CREATE CONSTRAINT related_uid IF NOT EXISTS
FOR ()-[r:RELATED]-() REQUIRE r.uid IS UNIQUE;

// Execution history, newest first, per workspace.
CREATE INDEX execution_workspace_started_at IF NOT EXISTS
FOR (e:Execution) ON (e.workspace, e.started_at);
