"""`GraphStore` on LadybugDB, the embedded (in-process) graph engine.

Storage layout (DDL in migrations/ladybug/0001_initial.cypher)
- `Context` node table, primary key `id`; the filterable properties are stored
  under the names of `graph.filters.FILTER_FIELDS` (incl. derived `name`, `depth`),
  `data` as a JSON STRING (the JSON extension is not available offline), `tags` as
  STRING[].
- `ContextPath(key)` node table with key `workspace + "\\x00" + path`: the primary
  key is the engine's only index and only uniqueness constraint, so this table
  gives O(1) lookups by path and makes a path unique per workspace.
- `CHILD_OF(FROM Context TO Context)`: the tree; children are found through the
  adjacency list of the parent (no scan), subtrees by a variable-length pattern.
  `parent_id` is also kept as a property (filters and records use it).
- `Version` node table, primary key `context_id:number`, reached from its context
  through `HAS_VERSION`, so history reads never scan all versions.
- `ContextType` node table, primary key `workspace + "\\x00" + name`.
- `Migration` node table (created on first use by `apply_migration`).

Every write method is one transaction on the writer connection (see `engine.py`).
Conflicts and missing references are found by reads inside that transaction; the
primary keys are the backstop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from .. import keyset
from ..cypher_filters import CypherFilterCompiler, limit_clause, order_clause, page_limit, seek_clause
from ..errors import ConflictError, NotFoundError
from ..filters import Filter, Order
from ..records import ContextRecord, ContextTypeRecord, Page, VersionRecord
from ..store import GraphStore
from ..access import ApiKeyRecord, AuditRecord
from . import access
from ..outbox import NO_HISTORY, IndexTask
from . import outbox
from .engine import MAX_TREE_DEPTH, Engine, Tx, columns
from .knowledge import LadybugKnowledge

SEP = "\x00"

CONTEXT_FIELDS = (
    "id", "workspace", "path", "parent_id", "kind", "title", "content", "data", "tags", "inherit",
    "version", "created_at", "updated_at", "created_by", "updated_by",
)
VERSION_FIELDS = (
    "context_id", "workspace", "number", "operation", "path", "kind", "title", "content", "data",
    "tags", "inherit", "author", "created_at", "changed",
)
TYPE_FIELDS = ("workspace", "name", "schema", "version", "created_at", "updated_at", "updated_by")

C_COLS = ", ".join(f"c.{f}" for f in CONTEXT_FIELDS)
V_COLS = ", ".join(f"v.{f}" for f in VERSION_FIELDS)
T_COLS = ", ".join(f"t.{f}" for f in TYPE_FIELDS)

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
Q_CREATE_VERSIONS = f"""
UNWIND range(1, $n_rows) AS i
WITH i, $context_id[i] AS owner
MATCH (c:Context {{id: owner}})
CREATE (c)-[:HAS_VERSION]->(v:Version {{{columns("id", *VERSION_FIELDS)}}})
"""
Q_CREATE_TYPES = f"""
UNWIND range(1, $n_rows) AS i
CREATE (t:ContextType {{{columns("key", *TYPE_FIELDS)}}})
"""
Q_MOVE_PATHS = f"""
UNWIND range(1, $n_rows) AS i
WITH i, $id[i] AS moved
MATCH (c:Context {{id: moved}})
SET c.path = $path[i], c.name = $name[i], c.depth = $depth[i]
CREATE (k:ContextPath {{key: $key[i], workspace: $workspace[i], context_id: $id[i]}})
"""
# LadybugDB plans `UNWIND $list ... MATCH (p {id: x})-[...]-(c)` as a hash join over
# the whole relationship table; an OPTIONAL MATCH from the bound node follows the
# adjacency list instead, hence the `MATCH ... OPTIONAL MATCH` shape below.
Q_CONTEXT_HEADS = """
UNWIND $ids AS i
MATCH (c:Context {id: i})
RETURN c.id, c.workspace, c.path, c.version
"""
Q_TAKEN_KEYS = """
UNWIND $keys AS k
MATCH (p:ContextPath {key: k})
RETURN p.key, p.context_id
"""
Q_TAKEN_VERSIONS = """
UNWIND $ids AS i
MATCH (v:Version {id: i})
RETURN v.id
"""
Q_SUBTREE = f"""
MATCH (d:Context)-[:CHILD_OF*1..{MAX_TREE_DEPTH}]->(r:Context {{id: $id}})
RETURN d.id, d.path, d.depth
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


def _key(workspace: str, name: str) -> str:
    return workspace + SEP + name


def _now_us() -> int:
    return time.time_ns() // 1_000


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _context_row(rec: ContextRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "workspace": rec.workspace, "path": rec.path, "parent_id": rec.parent_id,
        "kind": rec.kind, "title": rec.title, "content": rec.content, "data": _dump(rec.data),
        "tags": list(rec.tags), "inherit": bool(rec.inherit), "version": int(rec.version),
        "created_at": int(rec.created_at), "updated_at": int(rec.updated_at),
        "created_by": rec.created_by, "updated_by": rec.updated_by,
        "name": rec.name, "depth": rec.depth, "key": _key(rec.workspace, rec.path),
    }


def _version_row(rec: VersionRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "context_id": rec.context_id, "workspace": rec.workspace, "number": int(rec.number),
        "operation": rec.operation, "path": rec.path, "kind": rec.kind, "title": rec.title,
        "content": rec.content, "data": _dump(rec.data), "tags": list(rec.tags),
        "inherit": bool(rec.inherit), "author": rec.author, "created_at": int(rec.created_at),
        "changed": list(rec.changed),
    }


def _type_row(rec: ContextTypeRecord) -> dict[str, Any]:
    return {
        "key": _key(rec.workspace, rec.name), "workspace": rec.workspace, "name": rec.name,
        "schema": _dump(rec.schema), "version": int(rec.version), "created_at": int(rec.created_at),
        "updated_at": int(rec.updated_at), "updated_by": rec.updated_by,
    }


def _context(row: Sequence[Any]) -> ContextRecord:
    values = dict(zip(CONTEXT_FIELDS, row))
    values["data"] = json.loads(values["data"]) if values["data"] else {}
    values["tags"] = list(values["tags"] or [])
    return ContextRecord(**values)


def _version(row: Sequence[Any]) -> VersionRecord:
    values = dict(zip(VERSION_FIELDS, row))
    values["data"] = json.loads(values["data"]) if values["data"] else {}
    values["tags"] = list(values["tags"] or [])
    values["changed"] = list(values["changed"] or [])
    return VersionRecord(**values)


def _type(row: Sequence[Any]) -> ContextTypeRecord:
    values = dict(zip(TYPE_FIELDS, row))
    values["schema"] = json.loads(values["schema"]) if values["schema"] else {}
    return ContextTypeRecord(**values)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


class LadybugFilterCompiler(CypherFilterCompiler):
    """LadybugDB speaks the generic Cypher of the base class for every operator.

    (Empty lists, which the engine cannot type, are folded away by the base class.)
    """


class LadybugStore(LadybugKnowledge, GraphStore):
    backend = "ladybug"

    def __init__(self, path: str, *, readers: int = 4, batch_size: int = 5_000) -> None:
        super().__init__()
        self.path = path
        self._count_lock = threading.Lock()
        self._engine = Engine(path, readers=readers, count=self._count, batch_size=batch_size)

    def _count(self) -> None:
        with self._count_lock:
            self.queries += 1

    # -- lifecycle and schema ------------------------------------------------

    async def open(self) -> None:
        if not self._engine.is_open:
            await asyncio.to_thread(self._engine.open_sync)

    async def close(self) -> None:
        if self._engine.is_open:
            await asyncio.to_thread(self._engine.close_sync)

    async def applied_migrations(self) -> list[str]:
        try:
            rows = await self._engine.read("MATCH (m:Migration) RETURN m.id ORDER BY m.seq")
        except RuntimeError:
            tables = await self._engine.read("CALL show_tables() WHERE name = 'Migration' RETURN name")
            if not tables:
                return []  # nothing applied yet: the tracking table is created by the first migration
            raise
        return [row[0] for row in rows]

    async def apply_migration(self, migration_id: str, statements: Sequence[str]) -> None:
        def work(tx: Tx) -> None:
            tx.run("CREATE NODE TABLE IF NOT EXISTS Migration(id STRING PRIMARY KEY, seq INT64, applied_at INT64)")
            if tx.run("MATCH (m:Migration {id: $id}) RETURN m.id", {"id": migration_id}):
                raise ConflictError(f"migration {migration_id} is already applied", migration=migration_id)
            for statement in statements:
                tx.run(statement)
            seq = tx.run("MATCH (m:Migration) RETURN count(m)")[0][0] + 1
            tx.run(
                "CREATE (m:Migration {id: $id, seq: $seq, applied_at: $at})",
                {"id": migration_id, "seq": seq, "at": _now_us()},
            )

        await self._engine.write(work)

    # -- contexts: reads ----------------------------------------------------

    async def get_by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, ContextRecord]:
        ids = _unique(ids)
        if not ids:
            return {}
        rows = await self._engine.read(
            f"UNWIND $ids AS i MATCH (c:Context {{id: i}}) WHERE c.workspace = $ws RETURN {C_COLS}",
            {"ids": ids, "ws": workspace},
        )
        return {rec.id: rec for rec in map(_context, rows)}

    async def get_by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, ContextRecord]:
        paths = _unique(paths)
        if not paths:
            return {}
        rows = await self._engine.read(
            "UNWIND $keys AS k MATCH (p:ContextPath {key: k}) MATCH (c:Context {id: p.context_id}) "
            f"WHERE c.workspace = $ws RETURN {C_COLS}",
            {"keys": [_key(workspace, p) for p in paths], "ws": workspace},
        )
        return {rec.path: rec for rec in map(_context, rows)}

    async def list_children(
        self, workspace: str, parent_ids: Sequence[str], page: Page
    ) -> dict[str, list[ContextRecord]]:
        limit = page_limit(page)
        parent_ids = _unique(parent_ids)
        result: dict[str, list[ContextRecord]] = {pid: [] for pid in parent_ids}
        if not parent_ids or limit == 0:
            return result
        seek, after = seek_clause("c", keyset.CHILDREN, page)
        if len(parent_ids) == 1:
            rows = await self._engine.read(
                f"MATCH (p:Context {{id: $pid}})<-[:CHILD_OF]-(c:Context) WHERE p.workspace = $ws AND {seek} "
                f"RETURN $pid, {C_COLS} ORDER BY {order_clause('c', keyset.CHILDREN)} {limit_clause(page)}",
                {**after, "pid": parent_ids[0], "ws": workspace},
            )
        else:
            # One statement for all parents: per parent, sort the "name NUL id" strings of
            # the children past the seek position, keep the first `limit`, then fetch those
            # children by primary key. NUL sorts first, so this is the order by name, then id.
            rows = await self._engine.read(
                "UNWIND $pids AS pid "
                "MATCH (p:Context {id: pid}) WHERE p.workspace = $ws "
                f"OPTIONAL MATCH (p)<-[:CHILD_OF]-(c:Context) WHERE {seek} "
                "WITH pid, list_slice(list_sort(collect(c.name + $sep + c.id)), 1, $limit) AS picked "
                "UNWIND picked AS item "
                "WITH pid, split_part(item, $sep, 2) AS child "
                "MATCH (c:Context {id: child}) "
                f"RETURN pid, {C_COLS}",
                {**after, "pids": parent_ids, "ws": workspace, "sep": SEP, "limit": limit},
            )
        for row in rows:
            result[row[0]].append(_context(row[1:]))
        for children in result.values():
            children.sort(key=lambda rec: (rec.name, rec.id))
        return result

    async def count_children(self, workspace: str, parent_ids: Sequence[str]) -> dict[str, int]:
        parent_ids = _unique(parent_ids)
        result = {pid: 0 for pid in parent_ids}
        if not parent_ids:
            return result
        rows = await self._engine.read(
            "UNWIND $pids AS pid MATCH (p:Context {id: pid}) WHERE p.workspace = $ws "
            "OPTIONAL MATCH (p)<-[:CHILD_OF]-(c:Context) RETURN pid, count(c)",
            {"pids": parent_ids, "ws": workspace},
        )
        result.update({pid: int(n) for pid, n in rows})
        return result

    async def find_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page
    ) -> list[ContextRecord]:
        compiler = LadybugFilterCompiler("c")
        clause, params = compiler.compile(where)
        keys = keyset.contexts(order)
        seek, after = seek_clause("c", keys, page)
        if page_limit(page) == 0:
            return []
        rows = await self._engine.read(
            f"MATCH (c:Context) WHERE c.workspace = $ws AND {clause} AND {seek} RETURN {C_COLS} "
            f"ORDER BY {order_clause('c', keys)} {limit_clause(page)}",
            {**params, **after, "ws": workspace},
        )
        return [_context(row) for row in rows]

    async def count_contexts(self, workspace: str, where: Filter | None) -> int:
        clause, params = LadybugFilterCompiler("c").compile(where)
        rows = await self._engine.read(
            f"MATCH (c:Context) WHERE c.workspace = $ws AND {clause} RETURN count(c)",
            {**params, "ws": workspace},
        )
        return int(rows[0][0]) if rows else 0

    # -- contexts: writes ---------------------------------------------------

    async def create_contexts(
        self, contexts: Sequence[ContextRecord], versions: Sequence[VersionRecord]
    ) -> None:
        contexts, versions = list(contexts), list(versions)
        if not contexts and not versions:
            return
        await self._engine.write(lambda tx: self._insert(tx, contexts, versions, []))

    def _insert(
        self,
        tx: Tx,
        contexts: list[ContextRecord],
        versions: list[VersionRecord],
        types: list[ContextTypeRecord],
    ) -> None:
        """Insert new contexts (parents first), versions and types; checks first, then writes."""
        # 1. Conflicts inside the batch.
        seen_ids: set[str] = set()
        seen_keys: set[str] = set()
        dup_paths: list[str] = []
        for rec in contexts:
            key = _key(rec.workspace, rec.path)
            if rec.id in seen_ids or key in seen_keys:
                dup_paths.append(rec.path)
            seen_ids.add(rec.id)
            seen_keys.add(key)
        if dup_paths:
            raise ConflictError("the batch repeats a path or id", paths=_unique(dup_paths))

        # 2. Conflicts with stored records, and the referenced contexts that must exist.
        batch = {rec.id: rec for rec in contexts}
        referenced = {rec.parent_id for rec in contexts if rec.parent_id and rec.parent_id not in batch}
        referenced |= {v.context_id for v in versions if v.context_id not in batch}
        heads = {
            row[0]: row for row in
            tx.run_batched(Q_CONTEXT_HEADS, "ids", [*batch, *sorted(referenced)])
        }
        taken_ids = [rec for rec in contexts if rec.id in heads]
        taken_keys = {row[0] for row in tx.run_batched(Q_TAKEN_KEYS, "keys", sorted(seen_keys))}
        taken = [rec for rec in contexts if rec.id in heads or _key(rec.workspace, rec.path) in taken_keys]
        if taken:
            raise ConflictError(
                "a path or id is already taken",
                paths=[rec.path for rec in taken],
                ids=[rec.id for rec in taken_ids],
            )

        def exists(context_id: str, workspace: str) -> bool:
            head = heads.get(context_id)
            return head is not None and head[1] == workspace

        # Parents must exist already or come earlier in the batch, in the same workspace.
        earlier: set[str] = set()
        for rec in contexts:
            if rec.parent_id is not None:
                parent = batch.get(rec.parent_id)
                in_batch = parent is not None and rec.parent_id in earlier and parent.workspace == rec.workspace
                if not in_batch and not exists(rec.parent_id, rec.workspace):
                    raise NotFoundError(
                        f"parent {rec.parent_id} of {rec.path} does not exist",
                        parent_id=rec.parent_id, path=rec.path,
                    )
            earlier.add(rec.id)
        for v in versions:
            owner = batch.get(v.context_id)
            if not (owner is not None and owner.workspace == v.workspace) and not exists(v.context_id, v.workspace):
                raise NotFoundError(f"context {v.context_id} of a version does not exist", context_id=v.context_id)
        stored_versions = [v.id for v in versions if v.context_id not in batch]
        if stored_versions:
            dup = [row[0] for row in tx.run_batched(Q_TAKEN_VERSIONS, "ids", stored_versions)]
            if dup:
                raise ConflictError("a version already exists", versions=dup)
        if len({v.id for v in versions}) != len(versions):
            raise ConflictError("the batch repeats a version", versions=[v.id for v in versions])
        if types:
            keys = [_key(t.workspace, t.name) for t in types]
            if len(set(keys)) != len(keys):
                raise ConflictError("the batch repeats a context type", names=[t.name for t in types])
            found = tx.run_batched("UNWIND $keys AS k MATCH (t:ContextType {key: k}) RETURN t.name", "keys", keys)
            if found:
                raise ConflictError("a context type already exists", names=[row[0] for row in found])

        # 3. Writes.
        if contexts:
            tx.run_rows(Q_CREATE_CONTEXTS, [_context_row(rec) for rec in contexts])
            links = [{"child": rec.id, "parent": rec.parent_id} for rec in contexts if rec.parent_id]
            if links:
                tx.run_rows(Q_LINK_PARENTS, links)
        if versions:
            tx.run_rows(Q_CREATE_VERSIONS, [_version_row(v) for v in versions])
        if types:
            tx.run_rows(Q_CREATE_TYPES, [_type_row(t) for t in types])
        for workspace in _unique([rec.workspace for rec in contexts]):
            outbox.enqueue(tx, workspace, [(rec.id, 1) for rec in contexts if rec.workspace == workspace])

    @staticmethod
    def _head(tx: Tx, workspace: str, context_id: str) -> tuple[str, int]:
        """(path, version) of a context of this workspace, or NotFoundError."""
        rows = tx.run(Q_CONTEXT_HEADS, {"ids": [context_id]})
        if not rows or rows[0][1] != workspace:
            raise NotFoundError(f"context {context_id} does not exist", id=context_id)
        return rows[0][2], int(rows[0][3])

    @staticmethod
    def _check_version(context_id: str, stored: int, expected: int) -> None:
        if stored != expected:
            raise ConflictError(
                f"context {context_id} is at version {stored}, not {expected}",
                id=context_id, expected_version=expected, actual_version=stored,
            )

    async def update_context(
        self, record: ContextRecord, expected_version: int, version: VersionRecord
    ) -> None:
        if version.context_id != record.id or version.workspace != record.workspace:
            raise ValueError("the version does not belong to the record")

        def work(tx: Tx) -> None:
            _, stored = self._head(tx, record.workspace, record.id)
            self._check_version(record.id, stored, expected_version)
            row = _context_row(record)
            tx.run(
                "MATCH (c:Context {id: $id}) SET c.kind = $kind, c.title = $title, c.content = $content, "
                "c.data = $data, c.tags = $tags, c.inherit = $inherit, c.version = $version, "
                "c.created_at = $created_at, c.updated_at = $updated_at, c.created_by = $created_by, "
                "c.updated_by = $updated_by",
                {k: row[k] for k in ("id", "kind", "title", "content", "data", "tags", "inherit", "version",
                                     "created_at", "updated_at", "created_by", "updated_by")},
            )
            tx.run_rows(Q_CREATE_VERSIONS, [_version_row(version)])
            outbox.enqueue(tx, record.workspace, [(record.id, version.number)])

        await self._engine.write(work)

    async def move_context(
        self,
        workspace: str,
        context_id: str,
        expected_version: int,
        new_path: str,
        new_parent_id: str | None,
        version: VersionRecord,
    ) -> int:
        if version.context_id != context_id or version.workspace != workspace:
            raise ValueError("the version does not belong to the moved context")

        def work(tx: Tx) -> int:
            old_path, stored = self._head(tx, workspace, context_id)
            if new_parent_id is not None:
                self._head(tx, workspace, new_parent_id)
            self._check_version(context_id, stored, expected_version)
            subtree = self._subtree(tx, context_id)
            moved_ids = {context_id, *(row[0] for row in subtree)}
            if new_parent_id in moved_ids:
                raise ConflictError(
                    "cannot move a context under itself or its own descendant",
                    id=context_id, parent_id=new_parent_id,
                )
            prefix = old_path + "/"
            moves = [(context_id, old_path, new_path)]
            for cid, path, _ in subtree:
                if not path.startswith(prefix):
                    raise RuntimeError(f"descendant {cid} at {path} lies outside {old_path}")
                moves.append((cid, path, new_path + path[len(old_path):]))
            new_keys = [_key(workspace, new) for _, _, new in moves]
            clash = [
                row[0].split(SEP, 1)[1]
                for row in tx.run_batched(Q_TAKEN_KEYS, "keys", new_keys)
                if row[1] not in moved_ids
            ]
            if clash:
                raise ConflictError("the new path is taken", paths=sorted(clash))
            tx.run_batched(Q_DELETE_KEYS, "keys", [_key(workspace, old) for _, old, _ in moves])
            rows = [
                {"id": cid, "path": new, "name": new.rsplit("/", 1)[-1], "depth": new.count("/"),
                 "key": _key(workspace, new), "workspace": workspace}
                for cid, _, new in moves
            ]
            tx.run_rows(Q_MOVE_PATHS, rows)
            tx.run("MATCH (c:Context {id: $id})-[e:CHILD_OF]->(:Context) DELETE e", {"id": context_id})
            if new_parent_id is not None:
                tx.run(
                    "MATCH (c:Context {id: $id}) MATCH (p:Context {id: $pid}) CREATE (c)-[:CHILD_OF]->(p)",
                    {"id": context_id, "pid": new_parent_id},
                )
            tx.run(
                "MATCH (c:Context {id: $id}) SET c.parent_id = $pid, c.version = $version, "
                "c.updated_at = $at, c.updated_by = $by",
                {"id": context_id, "pid": new_parent_id, "version": int(version.number),
                 "at": int(version.created_at), "by": version.author},
            )
            tx.run_rows(Q_CREATE_VERSIONS, [_version_row(version)])
            outbox.enqueue(tx, workspace, [(cid, version.number if cid == context_id else NO_HISTORY)
                                           for cid, _, _ in moves])
            return len(moves)

        return await self._engine.write(work)

    @staticmethod
    def _subtree(tx: Tx, context_id: str) -> list[tuple[str, str, int]]:
        """(id, path, depth) of every descendant (not the context itself)."""
        rows = tx.run(Q_SUBTREE, {"id": context_id})
        if rows:
            top = min(int(row[2]) for row in rows) - 1
            if max(int(row[2]) for row in rows) - top >= MAX_TREE_DEPTH:
                raise RuntimeError(f"subtree of {context_id} is deeper than {MAX_TREE_DEPTH} levels")
        return [(row[0], row[1], int(row[2])) for row in rows]

    async def delete_context(self, workspace: str, context_id: str, recursive: bool) -> int:
        def work(tx: Tx) -> int:
            path, _ = self._head(tx, workspace, context_id)
            doomed = [(context_id, path)]
            children = tx.run(
                "MATCH (c:Context {id: $id})<-[:CHILD_OF]-(k:Context) RETURN count(k)", {"id": context_id}
            )
            if children and children[0][0]:
                if not recursive:
                    raise ConflictError(
                        f"context {path} has children", id=context_id, paths=[path], children=int(children[0][0])
                    )
                doomed += [(cid, p) for cid, p, _ in self._subtree(tx, context_id)]
            ids = [cid for cid, _ in doomed]
            tx.run_batched(Q_DELETE_VERSIONS, "ids", ids)
            tx.run_batched(Q_DELETE_KEYS, "keys", [_key(workspace, p) for _, p in doomed])
            tx.run_batched(Q_DELETE_CONTEXTS, "ids", ids)
            outbox.enqueue(tx, workspace, [(cid, NO_HISTORY) for cid in ids])
            return len(ids)

        return await self._engine.write(work)

    # -- versions -------------------------------------------------------------

    _VERSIONS_OF = "MATCH (c:Context {id: $id})-[:HAS_VERSION]->(v:Version) WHERE c.workspace = $ws "

    async def list_versions(self, workspace: str, context_id: str, page: Page) -> list[VersionRecord]:
        seek, after = seek_clause("v", keyset.VERSIONS, page)
        if page_limit(page) == 0:
            return []
        rows = await self._engine.read(
            self._VERSIONS_OF + f"AND {seek} RETURN {V_COLS} "
            f"ORDER BY {order_clause('v', keyset.VERSIONS)} {limit_clause(page)}",
            {**after, "id": context_id, "ws": workspace},
        )
        return [_version(row) for row in rows]

    async def count_versions(self, workspace: str, context_id: str) -> int:
        rows = await self._engine.read(self._VERSIONS_OF + "RETURN count(v)", {"id": context_id, "ws": workspace})
        return int(rows[0][0]) if rows else 0

    async def get_version(self, workspace: str, context_id: str, number: int) -> VersionRecord | None:
        rows = await self._engine.read(
            f"MATCH (v:Version {{id: $vid}}) WHERE v.workspace = $ws AND v.context_id = $id RETURN {V_COLS}",
            {"vid": f"{context_id}:{int(number)}", "ws": workspace, "id": context_id},
        )
        return _version(rows[0]) if rows else None

    async def get_version_at(self, workspace: str, context_id: str, at: int) -> VersionRecord | None:
        rows = await self._engine.read(
            self._VERSIONS_OF + f"AND v.created_at <= $at RETURN {V_COLS} "
            "ORDER BY v.created_at DESC, v.number DESC LIMIT 1",
            {"id": context_id, "ws": workspace, "at": int(at)},
        )
        return _version(rows[0]) if rows else None

    async def versions_of(self, workspace: str, context_ids: Sequence[str]) -> dict[str, list[VersionRecord]]:
        context_ids = _unique(context_ids)
        result: dict[str, list[VersionRecord]] = {cid: [] for cid in context_ids}
        if not context_ids:
            return result
        rows = await self._engine.read(
            "UNWIND $ids AS i MATCH (c:Context {id: i}) WHERE c.workspace = $ws "
            "OPTIONAL MATCH (c)-[:HAS_VERSION]->(v:Version) WITH v WHERE v IS NOT NULL "
            f"RETURN {V_COLS} ORDER BY v.context_id, v.number",
            {"ids": context_ids, "ws": workspace},
        )
        for row in rows:
            rec = _version(row)
            result[rec.context_id].append(rec)
        return result

    # -- context types --------------------------------------------------------

    async def get_context_type(self, workspace: str, name: str) -> ContextTypeRecord | None:
        rows = await self._engine.read(
            f"MATCH (t:ContextType {{key: $key}}) RETURN {T_COLS}", {"key": _key(workspace, name)}
        )
        return _type(rows[0]) if rows else None

    async def list_context_types(self, workspace: str) -> list[ContextTypeRecord]:
        rows = await self._engine.read(
            f"MATCH (t:ContextType) WHERE t.workspace = $ws RETURN {T_COLS} ORDER BY t.name", {"ws": workspace}
        )
        return [_type(row) for row in rows]

    async def put_context_type(self, record: ContextTypeRecord, expected_version: int | None) -> None:
        row = _type_row(record)

        def work(tx: Tx) -> None:
            found = tx.run("MATCH (t:ContextType {key: $key}) RETURN t.version", {"key": row["key"]})
            if expected_version is None:
                if found:
                    raise ConflictError(f"context type {record.name} already exists", name=record.name)
                tx.run_rows(Q_CREATE_TYPES, [row])
                return
            if not found:
                raise NotFoundError(f"context type {record.name} does not exist", name=record.name)
            stored = int(found[0][0])
            if stored != expected_version:
                raise ConflictError(
                    f"context type {record.name} is at version {stored}, not {expected_version}",
                    name=record.name, expected_version=expected_version, actual_version=stored,
                )
            tx.run(
                "MATCH (t:ContextType {key: $key}) SET t.schema = $schema, t.version = $version, "
                "t.created_at = $created_at, t.updated_at = $updated_at, t.updated_by = $updated_by",
                {k: v for k, v in row.items() if k not in ("workspace", "name")},
            )

        await self._engine.write(work)

    # -- bulk -----------------------------------------------------------------

    async def import_records(
        self,
        workspace: str,
        contexts: Sequence[ContextRecord],
        versions: Sequence[VersionRecord],
        types: Sequence[ContextTypeRecord],
    ) -> None:
        contexts, versions, types = list(contexts), list(versions), list(types)
        for rec in (*contexts, *versions, *types):
            if rec.workspace != workspace:
                raise ValueError(f"record of workspace {rec.workspace!r} imported into {workspace!r}")
        if not (contexts or versions or types):
            return
        await self._engine.write(lambda tx: self._insert(tx, contexts, versions, types))

    async def delete_workspace(self, workspace: str) -> int:
        def work(tx: Tx) -> int:
            params = {"ws": workspace}
            count = int(tx.run("MATCH (c:Context) WHERE c.workspace = $ws RETURN count(c)", params)[0][0])
            doomed = tx.run("MATCH (c:Context) WHERE c.workspace = $ws RETURN c.id", params)
            outbox.enqueue(tx, workspace, [(row[0], NO_HISTORY) for row in doomed])
            tx.run("MATCH (v:Version) WHERE v.workspace = $ws DETACH DELETE v", params)
            tx.run("MATCH (p:ContextPath) WHERE p.workspace = $ws DELETE p", params)
            tx.run("MATCH (c:Context) WHERE c.workspace = $ws DETACH DELETE c", params)
            tx.run("MATCH (t:ContextType) WHERE t.workspace = $ws DELETE t", params)
            return count

        return await self._engine.write(work)

    # -- access control (graph/ladybug/access.py) -----------------------------

    async def create_api_key(self, record: ApiKeyRecord) -> None:
        await access.create_key(self._engine, record)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return await access.get_key(self._engine, key_id)

    async def list_api_keys(self, workspace: str) -> list[ApiKeyRecord]:
        return await access.list_keys(self._engine, workspace)

    async def revoke_api_key(self, workspace: str, key_id: str, at: int) -> ApiKeyRecord:
        return await access.revoke_key(self._engine, workspace, key_id, at)

    async def rotate_api_key(self, workspace: str, key_id: str, old_expires_at: int, new: ApiKeyRecord) -> ApiKeyRecord:
        return await access.rotate_key(self._engine, workspace, key_id, old_expires_at, new)

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        await access.append_audit(self._engine, records)

    async def list_audit(
        self, workspace: str, page: Page, principal: str | None = None, outcome: str | None = None
    ) -> list[AuditRecord]:
        return await access.list_audit(self._engine, workspace, page, principal, outcome)

    async def count_audit(self, workspace: str, principal: str | None = None, outcome: str | None = None) -> int:
        return await access.count_audit(self._engine, workspace, principal, outcome)

    # -- search-index outbox ----------------------------------------------------

    async def claim_index_tasks(
        self, now: int, lease_us: int, limit: int, workspace: str | None = None
    ) -> list[IndexTask]:
        return await outbox.claim(self._engine, now, lease_us, limit, workspace)

    async def complete_index_tasks(self, tasks: Sequence[IndexTask]) -> int:
        return await outbox.complete(self._engine, tasks)

    async def retry_index_task(self, task: IndexTask, not_before: int, error: str) -> None:
        await outbox.retry(self._engine, task, not_before, error)

    async def count_index_tasks(self, workspace: str | None = None) -> int:
        return await outbox.count(self._engine, workspace)
