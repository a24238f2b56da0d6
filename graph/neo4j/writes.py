"""`WriteTx` on Neo4j: the statements of one write transaction (rules in `graph/tree.py`,
`graph/knowledge/rules.py`, `graph/access_rules.py`).

Reads run at once. Writes are collected as `CALL () { ... }` parts, each with parameters of
its own, and sent as ONE composed statement before the next read or the commit, so a write
costs its reads plus one round trip however many records it implies (version, outbox task,
lineage, audit entry).

Locks: `lock_tree` write-locks the workspace's `TreeLock` node (unique per workspace,
migration 0008), ordering every tree-shape change of a workspace; `heads(..., lock=True)`
write-locks the contexts themselves (`SET n._lock = true REMOVE n._lock`, the pattern of the
Neo4j manual, "Concurrent data access"), so what it returns is read under the lock; `tools` and
`api_keys` lock the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import neo4j

from ..access import ApiKeyRecord, AuditRecord
from ..knowledge import codec
from ..knowledge.records import (
    CONTEXT, Derivation, ExecutionRecord, NodeRef, RelationshipRecord, ToolRecord, ToolVersionRecord,
)
from ..records import ContextRecord, ContextTypeRecord, VersionRecord
from ..writes import Move, WriteTx
from . import cypher
from ..telemetry import remember_queued
from .run import run as run_statement
from .access import AUDIT_FIELDS, _key as _api_key, _key_props
from .knowledge import TARGETS
from ..codec import context_props, context_record, type_props, updated_props, version_props
from .outbox import task_params

LOCK_TREE = """
MERGE (l:TreeLock {workspace: $workspace})
SET l._lock = true
REMOVE l._lock
"""

LOCKED_HEADS = """
UNWIND $ids AS id
MATCH (c:Context {workspace: $workspace, id: id})
SET c._lock = true
REMOVE c._lock
RETURN properties(c) AS props
"""

LOCKED_AT_PATHS = """
UNWIND $paths AS path
MATCH (c:Context {workspace: $workspace, path: path})
SET c._lock = true
REMOVE c._lock
RETURN properties(c) AS props
"""

TAKEN_IDS = "UNWIND $ids AS id MATCH (c:Context {id: id}) RETURN c.id"
TAKEN_VERSIONS = """
UNWIND $keys AS key
MATCH (v:Version {workspace: $workspace, context_id: key.context_id, number: key.number})
RETURN key.id
"""
TYPE_VERSIONS = """
UNWIND $names AS name
MATCH (t:ContextType {workspace: $workspace, name: name})
RETURN t.name, t.version
"""

LOCKED_TYPE_VERSIONS = """
UNWIND $names AS name
MATCH (t:ContextType {workspace: $workspace, name: name})
SET t._lock = true
REMOVE t._lock
RETURN t.name, t.version
"""

# The (workspace, path) uniqueness index serves the prefix scan.
DESCENDANTS = """
MATCH (d:Context)
WHERE d.workspace = $workspace AND d.path STARTS WITH $prefix
RETURN d.id, d.path
"""

COUNT_KIND = "MATCH (c:Context {workspace: $workspace, kind: $kind}) RETURN count(c)"
CONTEXT_IDS = "MATCH (c:Context) WHERE c.workspace = $workspace AND c.path IS NOT NULL RETURN c.id"

# (what, statement); each returns how many it removed.
PURGE = (
    ("relationships", "MATCH (c:Context {workspace: $workspace})-[r:RELATED]->() DELETE r RETURN count(r)"),
    ("versions", "MATCH (v:Version) WHERE v.workspace = $workspace AND v.context_id IS NOT NULL "
                 "DETACH DELETE v RETURN count(v)"),
    ("contexts", "MATCH (c:Context) WHERE c.workspace = $workspace AND c.path IS NOT NULL "
                 "DETACH DELETE c RETURN count(c)"),
    ("contextTypes", "MATCH (t:ContextType) WHERE t.workspace = $workspace AND t.name IS NOT NULL "
                     "DETACH DELETE t RETURN count(t)"),
    ("toolVersions", "MATCH (v:ToolVersion) WHERE v.workspace = $workspace DETACH DELETE v RETURN count(v)"),
    ("tools", "MATCH (t:Tool) WHERE t.workspace = $workspace DETACH DELETE t RETURN count(t)"),
    ("agents", "MATCH (a:Agent) WHERE a.workspace = $workspace DETACH DELETE a RETURN count(a)"),
    ("lineageNodes", "MATCH (o:Origin) WHERE o.workspace = $workspace DETACH DELETE o RETURN count(o)"),
    ("executions", "MATCH (e:Execution) WHERE e.workspace = $workspace DETACH DELETE e RETURN count(e)"),
    ("apiKeys", "MATCH (k:ApiKey) WHERE k.workspace = $workspace DETACH DELETE k RETURN count(k)"),
    ("auditEntries", "MATCH (a:AuditEntry) WHERE a.workspace = $workspace DETACH DELETE a RETURN count(a)"),
)

EXECUTION_EXISTS = "MATCH (e:Execution {id: $id}) WHERE e.workspace = $workspace RETURN e.id"

TOOLS = "UNWIND $names AS n MATCH (t:Tool {workspace: $ws, name: n}) RETURN properties(t)"
LOCKED_TOOLS = """
UNWIND $names AS n
MATCH (t:Tool {workspace: $ws, name: n})
SET t._lock = true
REMOVE t._lock
RETURN properties(t)
"""
TOOL_VERSIONS = """
UNWIND $versions AS version
MATCH (v:ToolVersion {workspace: $ws, name: $name, version: version})
RETURN properties(v)
"""
TAKEN_EXECUTION_IDS = "UNWIND $ids AS id MATCH (e:Execution {id: id}) RETURN e.id"
RELATIONSHIP = """
MATCH (c:Context {workspace: $ws, id: $sid})-[r:RELATED {key: $key}]->(n:{label} {workspace: $ws, {pk}: $tid})
RETURN properties(r)
"""
AGENT_IDS = "UNWIND $ids AS id MATCH (a:Agent {workspace: $ws, id: id}) RETURN a.id"
TAKEN_AUDIT_IDS = "UNWIND $ids AS id MATCH (a:AuditEntry {id: id}) RETURN a.id"
DERIVED = """
UNWIND $ids AS id
MATCH (o:Origin {id: id})
WHERE EXISTS { (o)-[:DERIVED_FROM|PRODUCED_BY]->() }
RETURN o.id
"""
API_KEYS = "UNWIND $ids AS id MATCH (k:ApiKey {id: id}) RETURN properties(k)"
LOCKED_API_KEYS = """
UNWIND $ids AS id
MATCH (k:ApiKey {id: id})
SET k._lock = true
REMOVE k._lock
RETURN properties(k)
"""

# -- write parts: `{p}` is replaced by the part's parameter prefix ------------------------------

INSERT_CONTEXTS = """
CALL () {
  UNWIND ${p}rows AS row
  CREATE (c:Context)
  SET c = row
}
CALL () {
  UNWIND ${p}rows AS row
  WITH row WHERE row.parent_id IS NOT NULL
  MATCH (c:Context {workspace: row.workspace, id: row.id})
  MATCH (p:Context {workspace: row.workspace, id: row.parent_id})
  CREATE (c)-[:CHILD_OF]->(p)
}
"""

# A version is found by its (workspace, context_id, number) key, never through a link from its
# context: a relationship per version made every context revised more than 50 times a dense node,
# and linking to it cost Neo4j ~12% of a title update's CPU (migration 0010,
# bench/results/profile-2026-12-02-neo4j-write.md).
INSERT_VERSIONS = """
CALL () {
  UNWIND ${p}rows AS row
  CREATE (v:Version)
  SET v = row
}
"""

INSERT_TYPES = """
CALL () {
  UNWIND ${p}rows AS row
  CREATE (t:ContextType)
  SET t = row
}
"""

REPLACE_TYPE = """
CALL () {
  MATCH (t:ContextType {workspace: ${p}workspace, name: ${p}name})
  SET t = ${p}props
}
"""

DELETE_TYPE = """
CALL () {
  MATCH (t:ContextType {workspace: ${p}workspace, name: ${p}name})
  DETACH DELETE t
}
"""

SET_STATE = """
CALL () {
  MATCH (c:Context {workspace: ${p}workspace, id: ${p}id})
  SET c += ${p}props
}
"""

MOVE = """
CALL () {
  UNWIND ${p}moves AS m
  MATCH (c:Context {workspace: ${p}workspace, id: m.id})
  SET c.path = m.path, c.name = m.name, c.depth = m.depth
}
CALL () {
  MATCH (c:Context {workspace: ${p}workspace, id: ${p}id})
  OPTIONAL MATCH (c)-[link:CHILD_OF]->()
  DELETE link
}
CALL () {
  MATCH (c:Context {workspace: ${p}workspace, id: ${p}id})
  SET c.parent_id = ${p}parent_id, c.version = ${p}version, c.updated_at = ${p}at, c.updated_by = ${p}by
  WITH c
  MATCH (p:Context {workspace: ${p}workspace, id: ${p}parent_id})
  CREATE (c)-[:CHILD_OF]->(p)
}
"""

DELETE = """
CALL () {
  UNWIND ${p}ids AS id
  MATCH (v:Version {workspace: ${p}workspace, context_id: id})
  WHERE v.number IS NOT NULL
  DETACH DELETE v
}
CALL () {
  UNWIND ${p}ids AS id
  MATCH (c:Context {workspace: ${p}workspace, id: id})
  DETACH DELETE c
}
"""

ENQUEUE = """
CALL () {
  UNWIND ${p}items AS item
  WITH item, ${p}task AS task
  MERGE (t:IndexTask {context_id: item.id})
  ON CREATE SET t.workspace = ${p}workspace, t.since = item.since, t.token = task.token,
    t.enqueued_at = task.now, t.not_before = task.now, t.claimed_until = 0, t.attempts = 0, t.last_error = ''
  ON MATCH SET t.since = CASE WHEN t.since < item.since THEN t.since ELSE item.since END,
    t.token = task.token, t.not_before = task.now, t.claimed_until = 0, t.attempts = 0
}
"""

APPEND_AUDIT = """
CALL () {
  UNWIND ${p}rows AS row
  CREATE (a:AuditEntry)
  SET a = row
}
"""

RECORD_DERIVATION = """
CALL () {
  MERGE (o:Origin {id: ${p}id}) ON CREATE SET o.workspace = ${p}ws
  SET o.path = ${p}path
  WITH o
  CALL (o) {
    UNWIND ${p}sources AS src
    MERGE (s:Origin {id: src.id}) ON CREATE SET s.workspace = ${p}ws
    SET s.path = src.path
    CREATE (o)-[:DERIVED_FROM {version: ${p}v, source_version: src.version, execution_id: ${p}xs, created_at: ${p}at}]->(s)
  }
  CALL (o) {
    MATCH (e:Execution {id: ${p}x}) WHERE e.workspace = ${p}ws
    CREATE (o)-[:PRODUCED_BY {version: ${p}v}]->(e)
  }
}
"""

# The bulk forms of the three above, for a restore: one part for a whole batch (a part per
# record would make a statement of hundreds of subqueries, slow to plan).
RECORD_DERIVATIONS = """
CALL () {
  UNWIND ${p}rows AS d
  MERGE (o:Origin {id: d.id}) ON CREATE SET o.workspace = ${p}ws
  SET o.path = d.path
  WITH o, d
  CALL (o, d) {
    UNWIND d.sources AS src
    MERGE (s:Origin {id: src.id}) ON CREATE SET s.workspace = ${p}ws
    SET s.path = src.path
    CREATE (o)-[:DERIVED_FROM {version: d.v, source_version: src.version, execution_id: d.xs, created_at: d.at}]->(s)
  }
  CALL (o, d) {
    MATCH (e:Execution {id: d.x}) WHERE e.workspace = ${p}ws
    CREATE (o)-[:PRODUCED_BY {version: d.v}]->(e)
  }
}
"""
INSERT_EXECUTIONS = """
CALL () {
  UNWIND ${p}rows AS row
  CREATE (e:Execution)
  SET e = row
}
"""
INSERT_RELATIONSHIPS = """
CALL () {
  UNWIND ${p}rows AS row
  MATCH (c:Context {workspace: ${p}ws, id: row.sid})
  MATCH (n:{label} {workspace: ${p}ws, {pk}: row.tid})
  CREATE (c)-[r:RELATED]->(n)
  SET r = row.props
}
"""

INSERT_TOOL = """
CALL () {
  CREATE (t:Tool)
  SET t = ${p}props
}
"""

REPLACE_TOOL = """
CALL () {
  MATCH (t:Tool {workspace: ${p}ws, name: ${p}name})
  SET t += ${p}props
}
"""

INSERT_TOOL_VERSION = """
CALL () {
  MATCH (t:Tool {workspace: ${p}props.workspace, name: ${p}props.name})
  CREATE (t)-[:HAS_TOOL_VERSION]->(v:ToolVersion)
  SET v = ${p}props
}
"""

SET_TOOL_DEPRECATED = """
CALL () {
  MATCH (v:ToolVersion {workspace: ${p}ws, name: ${p}name, version: ${p}version})
  SET v.deprecated = ${p}deprecated
}
"""

INSERT_EXECUTION = """
CALL () {
  CREATE (e:Execution)
  SET e = ${p}props
}
"""

FINISH_EXECUTION = """
CALL () {
  MATCH (e:Execution {id: ${p}id}) WHERE e.workspace = ${p}ws
  SET e += ${p}props
}
"""

ENSURE_AGENT = """
CALL () {
  MERGE (a:Agent {workspace: ${p}ws, id: ${p}id}) ON CREATE SET a.key = ${p}key, a.created_at = ${p}at
}
"""

# {label}/{pk}: the target's label and id property, from `TARGETS` (never user input).
INSERT_RELATIONSHIP = """
CALL () {
  MATCH (c:Context {workspace: ${p}ws, id: ${p}sid})
  MATCH (n:{label} {workspace: ${p}ws, {pk}: ${p}tid})
  CREATE (c)-[r:RELATED]->(n)
  SET r = ${p}props
}
"""

DELETE_RELATIONSHIP = """
CALL () {
  MATCH (c:Context {workspace: ${p}ws, id: ${p}sid})-[r:RELATED {key: ${p}key}]->(n:{label} {workspace: ${p}ws, {pk}: ${p}tid})
  DELETE r
}
"""

INSERT_API_KEY = """
CALL () {
  CREATE (k:ApiKey)
  SET k = ${p}props
}
"""

REPLACE_API_KEY = """
CALL () {
  MATCH (k:ApiKey {id: ${p}id})
  SET k.expires_at = ${p}expires_at, k.revoked_at = ${p}revoked_at, k.replaced_by = ${p}replaced_by
}
"""

FINISHED = ("status", "output", "error", "finished_at", "duration_ms", "output_context_id")


def _target(template: str, target: NodeRef) -> str:
    label, pk = TARGETS[target.kind]
    return template.replace("{label}", label).replace("{pk}", pk)


class Neo4jWriteTx(WriteTx):
    def __init__(self, tx: neo4j.AsyncManagedTransaction, count: Any) -> None:
        self._tx = tx
        self._count = count
        self._parts: list[str] = []
        self._params: dict[str, Any] = {}

    # -- plumbing -----------------------------------------------------------------------------

    def _defer(self, template: str, **params: Any) -> None:
        prefix = f"w{len(self._parts)}_"
        self._parts.append(template.replace("{p}", prefix))
        self._params.update({prefix + name: value for name, value in params.items()})

    async def flush(self) -> None:
        """Send the collected writes as one statement."""
        if not self._parts:
            return
        query, params = "\n".join(self._parts), self._params
        self._parts, self._params = [], {}
        await self._run(query, params)

    async def _run(self, query: str, params: dict[str, Any]) -> list[list[Any]]:
        self._count()
        return await run_statement(self._tx, query, params)

    async def _read(self, query: str, **params: Any) -> list[list[Any]]:
        await self.flush()
        return await self._run(query, params)

    # -- reads --------------------------------------------------------------------------------

    async def lock_tree(self, workspace: str) -> None:
        await self._read(LOCK_TREE, workspace=workspace)

    async def heads(self, workspace: str, ids: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        rows = await self._read(LOCKED_HEADS if lock else cypher.GET_BY_IDS, workspace=workspace, ids=list(dict.fromkeys(ids)))
        return {rec.id: rec for rec in (context_record(row[0]) for row in rows)}

    async def at_paths(self, workspace: str, paths: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        rows = await self._read(LOCKED_AT_PATHS if lock else cypher.GET_BY_PATHS, workspace=workspace,
                                paths=list(dict.fromkeys(paths)))
        return {rec.path: rec for rec in (context_record(row[0]) for row in rows)}

    async def taken_ids(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._read(TAKEN_IDS, ids=list(ids))}

    async def taken_versions(self, workspace: str, version_ids: Sequence[str]) -> set[str]:
        keys = []
        for vid in version_ids:
            context_id, _, number = vid.rpartition(":")
            keys.append({"id": vid, "context_id": context_id, "number": int(number)})
        rows = await self._read(TAKEN_VERSIONS, workspace=workspace, keys=keys)
        return {row[0] for row in rows}

    async def type_versions(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, int]:
        rows = await self._read(LOCKED_TYPE_VERSIONS if lock else TYPE_VERSIONS, workspace=workspace, names=list(names))
        return {row[0]: int(row[1]) for row in rows}

    async def descendants(self, workspace: str, root: ContextRecord) -> list[tuple[str, str]]:
        rows = await self._read(DESCENDANTS, workspace=workspace, prefix=root.path + "/")
        return [(row[0], row[1]) for row in rows]

    async def count_kind(self, workspace: str, kind: str) -> int:
        return int((await self._read(COUNT_KIND, workspace=workspace, kind=kind))[0][0])

    async def context_ids(self, workspace: str) -> list[str]:
        return [row[0] for row in await self._read(CONTEXT_IDS, workspace=workspace)]

    async def execution_exists(self, workspace: str, execution_id: str) -> bool:
        return bool(await self._read(EXECUTION_EXISTS, workspace=workspace, id=execution_id))

    async def tools(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, ToolRecord]:
        rows = await self._read(LOCKED_TOOLS if lock else TOOLS, ws=workspace, names=list(dict.fromkeys(names)))
        return {rec.name: rec for rec in (codec.tool_record(row[0]) for row in rows)}

    async def tool_versions(self, workspace: str, name: str, versions: Sequence[str]) -> dict[str, ToolVersionRecord]:
        rows = await self._read(TOOL_VERSIONS, ws=workspace, name=name, versions=list(dict.fromkeys(versions)))
        return {rec.version: rec for rec in (codec.version_record(row[0]) for row in rows)}

    async def taken_execution_ids(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._read(TAKEN_EXECUTION_IDS, ids=list(ids))}

    async def relationship(
        self, workspace: str, source_id: str, target: NodeRef, type: str
    ) -> RelationshipRecord | None:
        rows = await self._read(_target(RELATIONSHIP, target), ws=workspace, sid=source_id, tid=target.id,
                                key=codec.edge_key(target, type))
        return codec.edge_record(workspace, NodeRef(CONTEXT, source_id), target, rows[0][0]) if rows else None

    async def api_keys(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, ApiKeyRecord]:
        rows = await self._read(LOCKED_API_KEYS if lock else API_KEYS, ids=list(dict.fromkeys(ids)))
        return {rec.id: rec for rec in (_api_key(row[0]) for row in rows)}

    async def taken_audit_ids(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._read(TAKEN_AUDIT_IDS, ids=list(ids))}

    async def agent_ids(self, workspace: str, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._read(AGENT_IDS, ws=workspace, ids=list(ids))}

    async def derived(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._read(DERIVED, ids=list(ids))}

    # -- writes (collected) ---------------------------------------------------------------------

    async def insert_contexts(self, records: Sequence[ContextRecord]) -> None:
        self._defer(INSERT_CONTEXTS, rows=[context_props(rec) for rec in records])

    async def insert_versions(self, versions: Sequence[VersionRecord]) -> None:
        self._defer(INSERT_VERSIONS, rows=[version_props(v) for v in versions])

    async def insert_types(self, types: Sequence[ContextTypeRecord]) -> None:
        self._defer(INSERT_TYPES, rows=[type_props(t) for t in types])

    async def replace_type(self, record: ContextTypeRecord) -> None:
        self._defer(REPLACE_TYPE, workspace=record.workspace, name=record.name, props=type_props(record))

    async def delete_type(self, workspace: str, name: str) -> None:
        self._defer(DELETE_TYPE, workspace=workspace, name=name)

    async def purge_workspace(self, workspace: str) -> dict[str, int]:
        counts = {}
        for name, query in PURGE:
            rows = await self._read(query, workspace=workspace)
            counts[name] = int(rows[0][0]) if rows else 0
        return counts

    async def set_state(self, record: ContextRecord, previous: ContextRecord | None = None) -> None:
        self._defer(SET_STATE, workspace=record.workspace, id=record.id, props=updated_props(record, previous))

    async def move(self, workspace: str, root: ContextRecord, new_parent_id: str | None, moves: Sequence[Move]) -> None:
        self._defer(
            MOVE, workspace=workspace, id=root.id, parent_id=new_parent_id, version=int(root.version),
            at=int(root.updated_at), by=root.updated_by,
            moves=[{"id": m.id, "path": m.new_path, "name": m.new_path.rsplit("/", 1)[-1],
                    "depth": m.new_path.count("/")} for m in moves],
        )

    async def delete(self, workspace: str, doomed: Sequence[tuple[str, str]]) -> None:
        self._defer(DELETE, workspace=workspace, ids=[cid for cid, _ in doomed])

    async def enqueue_index(self, workspace: str, items: Sequence[tuple[str, int]]) -> None:
        merged = {cid: int(since) for cid, since in items}
        remember_queued(merged)
        self._defer(ENQUEUE, workspace=workspace, task=task_params(),
                    items=[{"id": cid, "since": since} for cid, since in merged.items()])

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        self._defer(APPEND_AUDIT, rows=[{f: getattr(r, f) for f in AUDIT_FIELDS} for r in records])

    async def record_derivation(self, derivation: Derivation) -> None:
        d = derivation
        self._defer(
            RECORD_DERIVATION, ws=d.workspace, id=d.context_id, path=d.path, v=d.version, x=d.execution_id,
            xs=d.execution_id or "", at=d.created_at,
            sources=[{"id": s.id, "path": s.path, "version": s.version} for s in d.sources],
        )

    async def record_derivations(self, derivations: Sequence[Derivation]) -> None:
        for workspace in dict.fromkeys(d.workspace for d in derivations):
            rows = [{"id": d.context_id, "path": d.path, "v": d.version, "x": d.execution_id, "xs": d.execution_id or "",
                     "at": d.created_at, "sources": [{"id": s.id, "path": s.path, "version": s.version} for s in d.sources]}
                    for d in derivations if d.workspace == workspace]
            self._defer(RECORD_DERIVATIONS, ws=workspace, rows=rows)

    async def insert_tool(self, tool: ToolRecord, latest_key: str) -> None:
        self._defer(INSERT_TOOL, props={**codec.tool_props(tool), "latest_key": latest_key})

    async def replace_tool(self, tool: ToolRecord, latest_key: str | None = None) -> None:
        props = codec.tool_props(tool)
        changed = {k: props[k] for k in ("latest", "retired", "permissions", "updated_at")}
        if latest_key is not None:
            changed["latest_key"] = latest_key
        self._defer(REPLACE_TOOL, ws=tool.workspace, name=tool.name, props=changed)

    async def insert_tool_version(self, version: ToolVersionRecord) -> None:
        self._defer(INSERT_TOOL_VERSION, props=codec.version_props(version))

    async def set_tool_deprecated(self, workspace: str, name: str, version: str, deprecated: bool) -> None:
        self._defer(SET_TOOL_DEPRECATED, ws=workspace, name=name, version=version, deprecated=bool(deprecated))

    async def insert_execution(self, record: ExecutionRecord) -> None:
        self._defer(INSERT_EXECUTION, props=codec.execution_props(record))

    async def insert_executions(self, records: Sequence[ExecutionRecord]) -> None:
        if records:
            self._defer(INSERT_EXECUTIONS, rows=[codec.execution_props(r) for r in records])

    async def finish_execution(self, record: ExecutionRecord) -> None:
        props = codec.execution_props(record)
        self._defer(FINISH_EXECUTION, id=record.id, ws=record.workspace, props={n: props[n] for n in FINISHED})

    async def ensure_agent(self, workspace: str, agent_id: str, at: int) -> None:
        self._defer(ENSURE_AGENT, ws=workspace, id=agent_id, key=codec.key(workspace, agent_id), at=int(at))

    async def insert_relationship(self, record: RelationshipRecord) -> None:
        props = codec.edge_props(record)
        props["uid"] = codec.key(record.source.id, props["key"])
        self._defer(_target(INSERT_RELATIONSHIP, record.target), ws=record.workspace, sid=record.source.id,
                    tid=record.target.id, props=props)

    async def insert_relationships(self, records: Sequence[RelationshipRecord]) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for record in records:
            props = codec.edge_props(record)
            props["uid"] = codec.key(record.source.id, props["key"])
            row = {"sid": record.source.id, "tid": record.target.id, "props": props}
            groups.setdefault((record.workspace, record.target.kind), []).append(row)
        for (workspace, kind), rows in groups.items():
            self._defer(_target(INSERT_RELATIONSHIPS, NodeRef(kind, "")), ws=workspace, rows=rows)

    async def delete_relationship(self, workspace: str, source_id: str, target: NodeRef, type: str) -> None:
        self._defer(_target(DELETE_RELATIONSHIP, target), ws=workspace, sid=source_id, tid=target.id,
                    key=codec.edge_key(target, type))

    async def insert_api_key(self, record: ApiKeyRecord) -> None:
        self._defer(INSERT_API_KEY, props=_key_props(record))

    async def replace_api_key(self, record: ApiKeyRecord) -> None:
        self._defer(REPLACE_API_KEY, id=record.id, expires_at=int(record.expires_at),
                    revoked_at=int(record.revoked_at), replaced_by=record.replaced_by)
