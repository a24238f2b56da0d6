"""`WriteTx` on LadybugDB: the statements of one write transaction (rules in `graph/tree.py`,
`graph/knowledge/rules.py`, `graph/access_rules.py`).

LadybugDB admits one writer, so the transaction is already serialised against every other
write: `lock_tree` and `lock=True` cost nothing. Writes are deferred to the next read or the
commit (see `engine.AsyncTx`).

A revision (`LadybugStore.write_revision`) takes the heads it locks from the store's `HeadCache`
when this process wrote or read them in an earlier revision: it then needs no read, so BEGIN, its
writes and COMMIT go to the writer thread in one call. The process is the database's only writer
and every other kind of write empties the cache, so a cached head is the stored one; the writes
check it all the same (`StaleHead`), as the Neo4j store's guard does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ..access import ApiKeyRecord, AuditRecord
from ..knowledge import codec
from ..knowledge.records import (
    CONTEXT, Derivation, ExecutionRecord, NodeRef, RelationshipRecord, ToolRecord, ToolVersionRecord,
)
from ..codec import context_props, context_record, updated_props
from ..head_cache import HeadCache
from ..records import ContextRecord, ContextTypeRecord, VersionRecord
from ..telemetry import remember_queued
from ..writes import Move, WriteTx
from . import outbox
from .access import AUDIT_FIELDS, Q_APPEND_AUDIT, Q_CREATE_KEY, Q_GET_KEY, _key as _api_key, _key_params
from .engine import MAX_TREE_DEPTH, AsyncTx, Tx, columns
from .knowledge import R_COLS, T_COLS, V_COLS, _lookup, _set, _tool, _version
from .rows import (
    C_COLS, CONTEXT_FIELDS, TYPE_FIELDS, VERSION_FIELDS,
    _context, _context_row, _key, _type_row, _version_row,
)

# Statements that take many rows read them column-wise (see `Tx.run_rows`). A key
# used to MATCH is first bound with WITH: `MATCH (c {id: $col[i]})` is not planned
# as a primary-key lookup, `WITH $col[i] AS k MATCH (c {id: k})` is. Two such
# lookups must be separated by a WITH, or the planner joins them as a cross product.
Q_CREATE_CONTEXTS = f"""
UNWIND range(1, $n_rows) AS i
CREATE (c:Context {{{columns(*CONTEXT_FIELDS, "name", "depth")}}})
CREATE (k:ContextPath {{key: $key[i], workspace: $workspace[i], context_id: $id[i]}})
"""
Q_LINK_PARENTS = """
UNWIND range(1, $n_rows) AS i
WITH i, $child[i] AS child
MATCH (c:Context {id: child})
WITH c, $parent[i] AS parent
MATCH (p:Context {id: parent})
CREATE (c)-[:CHILD_OF]->(p)
"""
# UNDER links a context to each of its ancestors (migrations/ladybug/0009_under.cypher): a child
# to the ancestors named in the rows, then to every ancestor of its nearest existing one.
Q_LINK_UNDER = Q_LINK_PARENTS.replace("CHILD_OF", "UNDER")
Q_COPY_UNDER = """
UNWIND range(1, $n_rows) AS i
WITH i, $child[i] AS child
MATCH (c:Context {id: child})
WITH c, $anchor[i] AS anchor
MATCH (:Context {id: anchor})-[:UNDER]->(a:Context)
CREATE (c)-[:UNDER]->(a)
"""
Q_ANCESTORS = "MATCH (:Context {id: $id})-[:UNDER]->(a:Context) RETURN a.id"
Q_CREATE_VERSIONS = f"""
UNWIND range(1, $n_rows) AS i
WITH i, $context_id[i] AS owner
MATCH (c:Context {{id: owner}})
CREATE (c)-[:HAS_VERSION]->(v:Version {{{columns("id", *VERSION_FIELDS)}}})
"""
# One version (the common write): scalar parameters bind cheaper than one-row columns plus
# their sentinels (0.5 against 0.9 ms CPU per transaction, measured on a 50k store).
Q_CREATE_VERSION = (
    "MATCH (c:Context {id: $context_id}) CREATE (c)-[:HAS_VERSION]->(v:Version {"
    + ", ".join(f"{name}: ${name}" for name in ("id", *VERSION_FIELDS)) + "})"
)
Q_CREATE_TYPES = f"""
UNWIND range(1, $n_rows) AS i
CREATE (t:ContextType {{{columns("key", *TYPE_FIELDS)}}})
"""


@functools.cache
def q_set_state(fields: tuple[str, ...], guarded: bool = False) -> str:
    """SET of these fields only: each updated column costs the engine a copy of its 2,048-row
    vector until the next checkpoint, which then rewrites it (see engine.py, "Memory and checkpoints").
    `guarded`: only if the context still has the cached head's version, path and `updated_at`
    (`$g_*`; a revision always raises the version and sets `updated_at`), returning its id."""
    match = "MATCH (c:Context {id: $id}) "
    if guarded:
        match += _GUARD_WHERE
    sets = "SET " + ", ".join(f"c.{name} = ${name}" for name in fields) if fields else ""
    return match + sets + (" RETURN c.id" if guarded else "")


_GUARD_WHERE = "WHERE c.version = $g_version AND c.path = $g_path AND c.updated_at = $g_updated_at "
Q_GUARD = "MATCH (c:Context {id: $id}) " + _GUARD_WHERE + "RETURN c.id"


def _under_links(records: Sequence[ContextRecord]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The UNDER rows of new contexts (parents first or not): each one's ancestors among `records`
    and its nearest ancestor outside them (`Q_LINK_UNDER`), and that one's own ancestors, taken from
    the store (`Q_COPY_UNDER`, by anchor)."""
    parent_of = {rec.id: rec.parent_id for rec in records}
    under: list[dict[str, str]] = []
    anchors: list[dict[str, str]] = []
    for rec in records:
        ancestor = rec.parent_id
        while ancestor is not None:
            under.append({"child": rec.id, "parent": ancestor})
            if ancestor not in parent_of:
                anchors.append({"child": rec.id, "anchor": ancestor})
                break
            ancestor = parent_of[ancestor]
    return under, anchors


def _unlink_under(tx: Tx, root_id: str) -> None:
    """Before a move: the moved context and its descendants lose their links to its old ancestors."""
    old = [row[0] for row in tx.run(Q_ANCESTORS, {"id": root_id})]
    if old:
        tx.run("MATCH (d:Context)-[:UNDER]->(:Context {id: $id}) WITH d MATCH (d)-[u:UNDER]->(a:Context) "
               "WHERE list_contains($old, a.id) DELETE u", {"id": root_id, "old": old})
        tx.run("MATCH (:Context {id: $id})-[u:UNDER]->(:Context) DELETE u", {"id": root_id})


def _link_under(tx: Tx, moved: Sequence[str], parent_id: str) -> None:
    """After a move under `parent_id`: the moved contexts (the root and its descendants) link to
    the new parent and each of its ancestors."""
    above = [parent_id, *(row[0] for row in tx.run(Q_ANCESTORS, {"id": parent_id}))]
    tx.run_rows(Q_LINK_UNDER, [{"child": cid, "parent": aid} for cid in moved for aid in above])


class StaleHead(Exception):
    """A head from the cache is not the stored one: nothing was kept; the revision runs again with a read."""


def _guard_params(props: dict[str, Any]) -> dict[str, Any]:
    return {"g_version": props["version"], "g_path": props["path"], "g_updated_at": props["updated_at"]}


def _guarded(tx: Tx, query: str, params: dict[str, Any]) -> None:
    if not tx.run(query, params):
        raise StaleHead(f"context {params['id']} changed since it was cached")

Q_MOVE_PATHS = """
UNWIND range(1, $n_rows) AS i
WITH i, $id[i] AS moved
MATCH (c:Context {id: moved})
SET c.path = $path[i], c.name = $name[i], c.depth = $depth[i]
CREATE (k:ContextPath {key: $key[i], workspace: $workspace[i], context_id: $id[i]})
"""
Q_HEADS = f"""
UNWIND $ids AS i
MATCH (c:Context {{id: i}}) WHERE c.workspace = $ws
RETURN {C_COLS}
"""
Q_AT_PATHS = f"""
UNWIND $keys AS k
MATCH (p:ContextPath {{key: k}})
MATCH (c:Context {{id: p.context_id}}) WHERE c.workspace = $ws
RETURN {C_COLS}
"""
Q_TAKEN_IDS = "UNWIND $ids AS i MATCH (c:Context {id: i}) RETURN c.id"
Q_TAKEN_VERSIONS = "UNWIND $ids AS i MATCH (v:Version {id: i}) RETURN v.id"
Q_TYPE_VERSIONS = "UNWIND $keys AS k MATCH (t:ContextType {key: k}) RETURN t.name, t.version"
Q_REPLACE_TYPE = """
MATCH (t:ContextType {key: $key}) SET t.schema = $schema, t.version = $version,
t.created_at = $created_at, t.updated_at = $updated_at, t.updated_by = $updated_by
"""
Q_SUBTREE = f"""
MATCH (d:Context)-[:CHILD_OF*1..{MAX_TREE_DEPTH}]->(r:Context {{id: $id}})
RETURN d.id, d.path
"""
Q_DELETE_KEYS = """
UNWIND $keys AS k
MATCH (p:ContextPath {key: k})
DELETE p
"""
Q_DELETE_VERSIONS = """
UNWIND $ids AS i
MATCH (c:Context {id: i})
OPTIONAL MATCH (c)-[:HAS_VERSION]->(v:Version)
WITH v WHERE v IS NOT NULL
DETACH DELETE v
"""
Q_DELETE_CONTEXTS = """
UNWIND $ids AS i
MATCH (c:Context {id: i})
DETACH DELETE c
"""
Q_ORIGIN = "MERGE (o:Origin {id: $id}) ON CREATE SET o.workspace = $ws, o.path = $path ON MATCH SET o.path = $path"
Q_DERIVED_FROM = (
    "MATCH (o:Origin {id: $id}) WITH o MATCH (s:Origin {id: $sid}) "
    "CREATE (o)-[:DERIVED_FROM {version: $v, source_version: $sv, execution_id: $x, created_at: $at}]->(s)"
)
Q_PRODUCED_BY = (
    "MATCH (o:Origin {id: $id}) WITH o MATCH (e:Execution {id: $x}) CREATE (o)-[:PRODUCED_BY {version: $v}]->(e)"
)


# (what, statement) in an order that leaves no dangling edge; each returns how many it removed.
PURGE = (
    ("relationships", "MATCH (c:Context)-[r:RELATED]->() WHERE c.workspace = $ws DELETE r RETURN count(r)"),
    ("versions", "MATCH (v:Version) WHERE v.workspace = $ws DETACH DELETE v RETURN count(v)"),
    ("paths", "MATCH (p:ContextPath) WHERE p.workspace = $ws DELETE p RETURN count(p)"),
    ("contexts", "MATCH (c:Context) WHERE c.workspace = $ws DETACH DELETE c RETURN count(c)"),
    ("contextTypes", "MATCH (t:ContextType) WHERE t.workspace = $ws DELETE t RETURN count(t)"),
    ("toolVersions", "MATCH (v:ToolVersion) WHERE v.workspace = $ws DETACH DELETE v RETURN count(v)"),
    ("tools", "MATCH (t:Tool) WHERE t.workspace = $ws DETACH DELETE t RETURN count(t)"),
    ("agents", "MATCH (a:Agent) WHERE a.workspace = $ws DETACH DELETE a RETURN count(a)"),
    ("lineageNodes", "MATCH (o:Origin) WHERE o.workspace = $ws DETACH DELETE o RETURN count(o)"),
    ("executions", "MATCH (e:Execution) WHERE e.workspace = $ws DETACH DELETE e RETURN count(e)"),
    ("apiKeys", "MATCH (k:ApiKey) WHERE k.workspace = $ws DELETE k RETURN count(k)"),
    ("auditEntries", "MATCH (a:AuditEntry) WHERE a.workspace = $ws DELETE a RETURN count(a)"),
)

Q_TOOLS = f"UNWIND $keys AS k MATCH (t:Tool {{key: k}}) RETURN {T_COLS}"
Q_TOOL_VERSIONS = f"UNWIND $keys AS k MATCH (v:ToolVersion {{key: k}}) RETURN {V_COLS}"
Q_REPLACE_TOOL = (
    "MATCH (t:Tool {key: $key}) SET t.latest = $latest, t.retired = $retired, t.permissions = $permissions, "
    "t.updated_at = $updated_at"
)
Q_LINK_TOOL_VERSION = (
    "MATCH (t:Tool {key: $t}) WITH t MATCH (v:ToolVersion {key: $v}) CREATE (t)-[:HAS_TOOL_VERSION]->(v)"
)
FINISHED = ("status", "output", "error", "finished_at", "duration_ms", "output_context_id")
Q_FINISH_EXECUTION = "MATCH (e:Execution {id: $id}) SET " + ", ".join(f"e.{n} = ${n}" for n in FINISHED)
Q_ENSURE_AGENT = "MERGE (a:Agent {key: $key}) ON CREATE SET a.id = $id, a.workspace = $ws, a.created_at = $at"


def _edge_pattern(workspace: str, target: NodeRef) -> str:
    """Matches (c)-[r]->(n) of one edge; parameters `sid`, `v` (the target's key) and `key`."""
    label, pk, _ = _lookup(workspace, target)
    return (f"MATCH (c:Context {{id: $sid}}) WITH c MATCH (n:{label} {{{pk}: $v}}) "
            "MATCH (c)-[r:RELATED]->(n) WHERE r.key = $key ")


class LadybugWriteTx(WriteTx):
    def __init__(self, tx: AsyncTx, heads: HeadCache | None = None) -> None:
        """`heads`: the cache a revision takes locked heads from (see the module's docstring)."""
        self._tx = tx
        self._cache = heads
        self._read: dict[tuple[str, str], dict] = {}  # props of the locked heads, read or cached
        self._guards: dict[tuple[str, str], dict] = {}  # those from the cache
        self._written: dict[tuple[str, str], ContextRecord] = {}

    @property
    def cached(self) -> bool:
        """Whether a head came from the cache (it is checked by the writes, see `StaleHead`)."""
        return bool(self._guards)

    def forget(self, cache: HeadCache | None = None) -> None:
        """Drop every head this work locked from `cache` (by default the one it read)."""
        cache = self._cache if cache is None else cache
        if cache is not None:
            cache.drop(self._read)

    def check_cached(self) -> None:
        """Before the commit: check the cached heads no write checked (a revision that changed nothing)."""
        for key, props in self._guards.items():
            if key not in self._written:
                self._tx.defer(functools.partial(_guarded, query=Q_GUARD, params={"id": props["id"], **_guard_params(props)}))

    def remember(self) -> None:
        """After the commit: the locked heads as they now are go into the cache."""
        if self._cache is None:
            return
        for key, props in self._read.items():
            record = self._written.get(key)
            self._cache.put(props if record is None else context_props(record))

    async def _locked(self, workspace: str, keys: list[str], by_path: bool) -> dict[str, ContextRecord]:
        """The locked heads at `keys` (ids or paths), from the cache where it has them."""
        assert self._cache is not None
        known = (self._cache.by_paths if by_path else self._cache.by_ids)(workspace, keys)
        for props in known.values():
            self._guards[(workspace, props["id"])] = props
        missing = [k for k in keys if k not in known]
        found: dict[str, ContextRecord] = {}
        if missing:
            read = await (self._at_paths(workspace, missing) if by_path else self._heads(workspace, missing))
            found = read
        for record in found.values():
            self._read[(workspace, record.id)] = context_props(record)
        self._read.update(self._guards)
        return {**{k: context_record(props) for k, props in known.items()}, **found}

    # -- reads --------------------------------------------------------------------------------

    async def lock_tree(self, workspace: str) -> None:
        return None  # the only writer

    async def heads(self, workspace: str, ids: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        if lock and self._cache is not None:
            return await self._locked(workspace, list(dict.fromkeys(ids)), by_path=False)
        return await self._heads(workspace, ids)

    async def _heads(self, workspace: str, ids: Sequence[str]) -> dict[str, ContextRecord]:
        rows = await self._tx.call(lambda tx: tx.run_batched(Q_HEADS, "ids", list(dict.fromkeys(ids)), {"ws": workspace}))
        return {rec.id: rec for rec in map(_context, rows)}

    async def at_paths(self, workspace: str, paths: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        if lock and self._cache is not None:
            return await self._locked(workspace, list(dict.fromkeys(paths)), by_path=True)
        return await self._at_paths(workspace, paths)

    async def _at_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, ContextRecord]:
        keys = [_key(workspace, p) for p in dict.fromkeys(paths)]
        rows = await self._tx.call(lambda tx: tx.run_batched(Q_AT_PATHS, "keys", keys, {"ws": workspace}))
        return {rec.path: rec for rec in map(_context, rows)}

    async def taken_ids(self, ids: Sequence[str]) -> set[str]:
        rows = await self._tx.call(lambda tx: tx.run_batched(Q_TAKEN_IDS, "ids", list(ids)))
        return {row[0] for row in rows}

    async def taken_versions(self, workspace: str, version_ids: Sequence[str]) -> set[str]:
        rows = await self._tx.call(lambda tx: tx.run_batched(Q_TAKEN_VERSIONS, "ids", list(version_ids)))
        return {row[0] for row in rows}

    async def type_versions(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, int]:
        keys = [_key(workspace, n) for n in names]
        rows = await self._tx.call(lambda tx: tx.run_batched(Q_TYPE_VERSIONS, "keys", keys))
        return {row[0]: int(row[1]) for row in rows}

    async def descendants(self, workspace: str, root: ContextRecord) -> list[tuple[str, str]]:
        rows = await self._tx.call(lambda tx: tx.run(Q_SUBTREE, {"id": root.id}))
        return [(row[0], row[1]) for row in rows]

    async def count_kind(self, workspace: str, kind: str) -> int:
        rows = await self._tx.call(lambda tx: tx.run(
            "MATCH (c:Context) WHERE c.workspace = $ws AND c.kind = $kind RETURN count(c)", {"ws": workspace, "kind": kind}
        ))
        return int(rows[0][0])

    async def context_ids(self, workspace: str) -> list[str]:
        rows = await self._tx.call(lambda tx: tx.run(
            "MATCH (c:Context) WHERE c.workspace = $ws RETURN c.id", {"ws": workspace}
        ))
        return [row[0] for row in rows]

    async def execution_exists(self, workspace: str, execution_id: str) -> bool:
        rows = await self._tx.call(lambda tx: tx.run(
            "MATCH (e:Execution {id: $id}) WHERE e.workspace = $ws RETURN e.id", {"id": execution_id, "ws": workspace}
        ))
        return bool(rows)

    async def tools(self, workspace: str, names: Sequence[str], *, lock: bool = False) -> dict[str, ToolRecord]:
        keys = [codec.key(workspace, n) for n in dict.fromkeys(names)]
        rows = await self._tx.call(lambda tx: tx.run(Q_TOOLS, {"keys": keys}))
        return {rec.name: rec for rec in map(_tool, rows)}

    async def tool_versions(self, workspace: str, name: str, versions: Sequence[str]) -> dict[str, ToolVersionRecord]:
        keys = [codec.key(workspace, name, v) for v in dict.fromkeys(versions)]
        rows = await self._tx.call(lambda tx: tx.run(Q_TOOL_VERSIONS, {"keys": keys}))
        return {rec.version: rec for rec in map(_version, rows)}

    async def taken_execution_ids(self, ids: Sequence[str]) -> set[str]:
        rows = await self._tx.call(lambda tx: tx.run(
            "UNWIND $ids AS i MATCH (e:Execution {id: i}) RETURN e.id", {"ids": list(ids)}
        ))
        return {row[0] for row in rows}

    async def relationship(
        self, workspace: str, source_id: str, target: NodeRef, type: str
    ) -> RelationshipRecord | None:
        _, _, value = _lookup(workspace, target)
        params = {"sid": source_id, "v": value, "key": codec.edge_key(target, type), "ws": workspace}
        rows = await self._tx.call(lambda tx: tx.run(
            _edge_pattern(workspace, target) + f"AND c.workspace = $ws RETURN {R_COLS}", params
        ))
        if not rows:
            return None
        return codec.edge_record(workspace, NodeRef(CONTEXT, source_id), target, dict(zip(codec.EDGE_FIELDS, rows[0])))

    async def api_keys(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, ApiKeyRecord]:
        def run(tx: Tx) -> list[list]:
            return [row for key_id in dict.fromkeys(ids) for row in tx.run(Q_GET_KEY, {"id": key_id})]

        return {rec.id: rec for rec in map(_api_key, await self._tx.call(run))}

    async def taken_audit_ids(self, ids: Sequence[str]) -> set[str]:
        rows = await self._tx.call(lambda tx: tx.run(
            "UNWIND $ids AS i MATCH (a:AuditEntry {id: i}) RETURN a.id", {"ids": list(ids)}
        ))
        return {row[0] for row in rows}

    async def agent_ids(self, workspace: str, ids: Sequence[str]) -> set[str]:
        keys = {codec.key(workspace, i): i for i in ids}
        rows = await self._tx.call(lambda tx: tx.run(
            "UNWIND $keys AS k MATCH (a:Agent {key: k}) RETURN a.key", {"keys": list(keys)}
        ))
        return {keys[row[0]] for row in rows}

    async def derived(self, ids: Sequence[str]) -> set[str]:
        def run(tx: Tx) -> list[list]:
            params = {"ids": list(ids)}
            return [*tx.run("UNWIND $ids AS i MATCH (o:Origin {id: i})-[:DERIVED_FROM]->() RETURN DISTINCT o.id", params),
                    *tx.run("UNWIND $ids AS i MATCH (o:Origin {id: i})-[:PRODUCED_BY]->() RETURN DISTINCT o.id", params)]

        return {row[0] for row in await self._tx.call(run)}

    # -- writes (deferred) ---------------------------------------------------------------------

    async def insert_contexts(self, records: Sequence[ContextRecord]) -> None:
        rows = [_context_row(rec) for rec in records]
        links = [{"child": rec.id, "parent": rec.parent_id} for rec in records if rec.parent_id]
        under, anchors = _under_links(records)

        def run(tx: Tx) -> None:
            tx.run_rows(Q_CREATE_CONTEXTS, rows)
            if links:
                tx.run_rows(Q_LINK_PARENTS, links)
                tx.run_rows(Q_LINK_UNDER, under)
            if anchors:
                tx.run_rows(Q_COPY_UNDER, anchors)

        self._tx.defer(run)

    async def insert_versions(self, versions: Sequence[VersionRecord]) -> None:
        rows = [_version_row(v) for v in versions]
        if len(rows) == 1:
            self._tx.defer(lambda tx: tx.run(Q_CREATE_VERSION, rows[0]))
        else:
            self._tx.defer(lambda tx: tx.run_rows(Q_CREATE_VERSIONS, rows))

    async def insert_types(self, types: Sequence[ContextTypeRecord]) -> None:
        rows = [_type_row(t) for t in types]
        self._tx.defer(lambda tx: tx.run_rows(Q_CREATE_TYPES, rows))

    async def replace_type(self, record: ContextTypeRecord) -> None:
        row = {k: v for k, v in _type_row(record).items() if k not in ("workspace", "name")}
        self._tx.defer(lambda tx: tx.run(Q_REPLACE_TYPE, row))

    async def delete_type(self, workspace: str, name: str) -> None:
        key = _key(workspace, name)
        self._tx.defer(lambda tx: tx.run("MATCH (t:ContextType {key: $key}) DELETE t", {"key": key}))

    async def purge_workspace(self, workspace: str) -> dict[str, int]:
        def run(tx: Tx) -> dict[str, int]:
            counts = {}
            for name, query in PURGE:
                rows = tx.run(query, {"ws": workspace})
                counts[name] = int(rows[0][0]) if rows else 0
            return counts

        return await self._tx.call(run)

    async def set_state(self, record: ContextRecord, previous: ContextRecord | None = None) -> None:
        props = updated_props(record, previous)
        key = (record.workspace, record.id)
        self._written[key] = record
        cached = self._guards.get(key)
        if cached is None:
            query = q_set_state(tuple(props))
            self._tx.defer(lambda tx: tx.run(query, {**props, "id": record.id}))
            return
        guarded, params = q_set_state(tuple(props), guarded=True), {**props, "id": record.id, **_guard_params(cached)}
        self._tx.defer(lambda tx: _guarded(tx, guarded, params))

    async def move(self, workspace: str, root: ContextRecord, new_parent_id: str | None, moves: Sequence[Move]) -> None:
        old_keys = [_key(workspace, m.old_path) for m in moves]
        rows = [
            {"id": m.id, "path": m.new_path, "name": m.new_path.rsplit("/", 1)[-1], "depth": m.new_path.count("/"),
             "key": _key(workspace, m.new_path), "workspace": workspace}
            for m in moves
        ]

        moved = [m.id for m in moves]

        def run(tx: Tx) -> None:
            tx.run_batched(Q_DELETE_KEYS, "keys", old_keys)
            tx.run_rows(Q_MOVE_PATHS, rows)
            tx.run("MATCH (c:Context {id: $id})-[e:CHILD_OF]->(:Context) DELETE e", {"id": root.id})
            _unlink_under(tx, root.id)
            if new_parent_id is not None:
                tx.run(
                    "MATCH (c:Context {id: $id}) MATCH (p:Context {id: $pid}) CREATE (c)-[:CHILD_OF]->(p)",
                    {"id": root.id, "pid": new_parent_id},
                )
                _link_under(tx, moved, new_parent_id)
            tx.run(
                "MATCH (c:Context {id: $id}) SET c.parent_id = $pid, c.version = $version, "
                "c.updated_at = $at, c.updated_by = $by",
                {"id": root.id, "pid": new_parent_id, "version": int(root.version),
                 "at": int(root.updated_at), "by": root.updated_by},
            )

        self._tx.defer(run)

    async def delete(self, workspace: str, doomed: Sequence[tuple[str, str]]) -> None:
        ids = [cid for cid, _ in doomed]
        keys = [_key(workspace, path) for _, path in doomed]

        def run(tx: Tx) -> None:
            tx.run_batched(Q_DELETE_VERSIONS, "ids", ids)
            tx.run_batched(Q_DELETE_KEYS, "keys", keys)
            tx.run_batched(Q_DELETE_CONTEXTS, "ids", ids)

        self._tx.defer(run)

    async def enqueue_index(self, workspace: str, items: Sequence[tuple[str, int]]) -> None:
        items = list(items)
        remember_queued(cid for cid, _ in items)
        self._tx.defer(lambda tx: outbox.enqueue(tx, workspace, items))

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        rows = [{f: getattr(r, f) for f in AUDIT_FIELDS} for r in records]

        def run(tx: Tx) -> None:
            for row in rows:  # usually one entry per write
                tx.run(Q_APPEND_AUDIT, row)

        self._tx.defer(run)

    async def record_derivation(self, derivation: Derivation) -> None:
        d = derivation

        def run(tx: Tx) -> None:
            for ref_id, path in [(d.context_id, d.path), *((s.id, s.path) for s in d.sources)]:
                tx.run(Q_ORIGIN, {"id": ref_id, "ws": d.workspace, "path": path})
            for source in d.sources:
                tx.run(Q_DERIVED_FROM, {"id": d.context_id, "sid": source.id, "v": d.version, "sv": source.version,
                                        "x": d.execution_id or "", "at": d.created_at})
            if d.execution_id is not None:
                tx.run(Q_PRODUCED_BY, {"id": d.context_id, "x": d.execution_id, "v": d.version})

        self._tx.defer(run)

    async def insert_tool(self, tool: ToolRecord, latest_key: str) -> None:
        props = {**codec.tool_props(tool), "latest_key": latest_key}
        self._tx.defer(lambda tx: tx.run(f"CREATE (t:Tool {{{_set('t', props)}}})", props))

    async def replace_tool(self, tool: ToolRecord, latest_key: str | None = None) -> None:
        props = codec.tool_props(tool)
        params = {k: props[k] for k in ("key", "latest", "retired", "permissions", "updated_at")}

        def run(tx: Tx) -> None:
            tx.run(Q_REPLACE_TOOL, params)
            if latest_key is not None:
                tx.run("MATCH (t:Tool {key: $key}) SET t.latest_key = $lk", {"key": params["key"], "lk": latest_key})

        self._tx.defer(run)

    async def insert_tool_version(self, version: ToolVersionRecord) -> None:
        props = codec.version_props(version)
        link = {"t": codec.key(version.workspace, version.name), "v": props["key"]}

        def run(tx: Tx) -> None:
            tx.run(f"CREATE (v:ToolVersion {{{_set('v', props)}}})", props)
            tx.run(Q_LINK_TOOL_VERSION, link)

        self._tx.defer(run)

    async def set_tool_deprecated(self, workspace: str, name: str, version: str, deprecated: bool) -> None:
        params = {"key": codec.key(workspace, name, version), "d": bool(deprecated)}
        self._tx.defer(lambda tx: tx.run("MATCH (v:ToolVersion {key: $key}) SET v.deprecated = $d", params))

    async def insert_execution(self, record: ExecutionRecord) -> None:
        props = codec.execution_props(record)
        self._tx.defer(lambda tx: tx.run(f"CREATE (e:Execution {{{_set('e', props)}}})", props))

    async def finish_execution(self, record: ExecutionRecord) -> None:
        props = codec.execution_props(record)
        params = {"id": record.id, **{n: props[n] for n in FINISHED}}
        self._tx.defer(lambda tx: tx.run(Q_FINISH_EXECUTION, params))

    async def ensure_agent(self, workspace: str, agent_id: str, at: int) -> None:
        params = {"key": codec.key(workspace, agent_id), "id": agent_id, "ws": workspace, "at": int(at)}
        self._tx.defer(lambda tx: tx.run(Q_ENSURE_AGENT, params))

    async def insert_relationship(self, record: RelationshipRecord) -> None:
        label, pk, value = _lookup(record.workspace, record.target)
        props = codec.edge_props(record)
        query = (f"MATCH (c:Context {{id: $sid}}) WITH c MATCH (n:{label} {{{pk}: $v}}) "
                 f"CREATE (c)-[r:RELATED {{{_set('r', props)}}}]->(n)")
        params = {"sid": record.source.id, "v": value, **props}
        self._tx.defer(lambda tx: tx.run(query, params))

    async def delete_relationship(self, workspace: str, source_id: str, target: NodeRef, type: str) -> None:
        _, _, value = _lookup(workspace, target)
        params = {"sid": source_id, "v": value, "key": codec.edge_key(target, type)}
        query = _edge_pattern(workspace, target) + "DELETE r"
        self._tx.defer(lambda tx: tx.run(query, params))

    async def insert_api_key(self, record: ApiKeyRecord) -> None:
        params = _key_params(record)
        self._tx.defer(lambda tx: tx.run(Q_CREATE_KEY, params))

    async def replace_api_key(self, record: ApiKeyRecord) -> None:
        params = {"id": record.id, "exp": int(record.expires_at), "rev": int(record.revoked_at), "by": record.replaced_by}
        self._tx.defer(lambda tx: tx.run(
            "MATCH (k:ApiKey {id: $id}) SET k.expires_at = $exp, k.revoked_at = $rev, k.replaced_by = $by", params
        ))
