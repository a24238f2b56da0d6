"""Tools, executions, relationships and provenance on LadybugDB (DDL: migrations/ladybug/0003).

A mixin of `LadybugStore`: writes run on the writer thread in one transaction (`Engine.write`),
reads on the reader pool. Relationships use ONE rel table with a FROM/TO pair per target kind
(Context->Context, Context->Tool, Context->Agent), so a traversal is a single recursive pattern;
`SHORTEST` gives breadth-first distances (neighbors) and shortest paths. Labels and key
properties in statements come from fixed maps, never from user input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import keyset
from ..cypher_filters import limit_clause, order_clause, page_limit, seek_clause
from ..errors import ConflictError, NotFoundError
from ..knowledge import codec
from ..knowledge.clauses import execution_where, tool_where
from ..knowledge.records import (
    AGENT,
    CONTEXT,
    TOOL,
    ExecutionFilter,
    ExecutionRecord,
    GraphView,
    Lineage,
    LineageEdge,
    Neighbor,
    NodeRef,
    RelationshipRecord,
    ToolFilter,
    ToolRecord,
    ToolVersionRecord,
)
from ..records import Page
from .engine import Engine, Tx

T_COLS = ", ".join(f"t.{f}" for f in codec.TOOL_FIELDS)
V_COLS = ", ".join(f"v.{f}" for f in codec.VERSION_FIELDS)
E_COLS = ", ".join(f"e.{f}" for f in codec.EXECUTION_FIELDS)
R_COLS = ", ".join(f"r.{f}" for f in codec.EDGE_FIELDS)

LABELS = {CONTEXT: "Context", TOOL: "Tool", AGENT: "Agent"}
KINDS = {label: kind for kind, label in LABELS.items()}


def _set(alias: str, names: Iterable[str]) -> str:
    return ", ".join(f"{name}: ${name}" for name in names)


def _lookup(workspace: str, ref: NodeRef) -> tuple[str, str, str]:
    """(label, primary-key property, key value) of a relationship endpoint."""
    if ref.kind == CONTEXT:
        return "Context", "id", ref.id
    return LABELS[ref.kind], "key", codec.key(workspace, ref.id)


def _tool(row: Sequence[Any]) -> ToolRecord:
    return codec.tool_record(dict(zip(codec.TOOL_FIELDS, row)))


def _version(row: Sequence[Any]) -> ToolVersionRecord:
    return codec.version_record(dict(zip(codec.VERSION_FIELDS, row)))


def _execution(row: Sequence[Any]) -> ExecutionRecord:
    return codec.execution_record(dict(zip(codec.EXECUTION_FIELDS, row)))


def _types_filter(types: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    if not types:
        return "", {}
    return " (x, n | WHERE x.type IN $types)", {"types": list(types)}


class LadybugKnowledge:
    _engine: Engine

    # -- tools ------------------------------------------------------------------------

    async def add_tool_version(self, tool: ToolRecord, version: ToolVersionRecord) -> ToolRecord:
        tprops, vprops = codec.tool_props(tool), codec.version_props(version)

        def work(tx: Tx) -> ToolRecord:
            if tx.run("MATCH (v:ToolVersion {key: $key}) RETURN v.key", {"key": vprops["key"]}):
                raise ConflictError(
                    f"Version {version.version} of tool {version.name} is already published; versions are "
                    "immutable: publish a new version.", name=version.name, version=version.version,
                )
            found = tx.run("MATCH (t:Tool {key: $key}) RETURN t.latest_key", {"key": tprops["key"]})
            if not found:
                tx.run(
                    f"CREATE (t:Tool {{{_set('t', [*tprops, 'latest_key'])}}})",
                    {**tprops, "latest": version.version, "latest_key": version.sort_key},
                )
            elif version.sort_key > found[0][0]:
                tx.run(
                    "MATCH (t:Tool {key: $key}) SET t.latest = $latest, t.latest_key = $lk, t.updated_at = $at",
                    {"key": tprops["key"], "latest": version.version, "lk": version.sort_key, "at": version.created_at},
                )
            else:
                tx.run("MATCH (t:Tool {key: $key}) SET t.updated_at = $at", {"key": tprops["key"], "at": version.created_at})
            tx.run(f"CREATE (v:ToolVersion {{{_set('v', vprops)}}})", vprops)
            tx.run(
                "MATCH (t:Tool {key: $t}) WITH t MATCH (v:ToolVersion {key: $v}) CREATE (t)-[:HAS_TOOL_VERSION]->(v)",
                {"t": tprops["key"], "v": vprops["key"]},
            )
            return _tool(tx.run(f"MATCH (t:Tool {{key: $key}}) RETURN {T_COLS}", {"key": tprops["key"]})[0])

        return await self._engine.write(work)

    async def get_tools(self, workspace: str, names: Sequence[str]) -> dict[str, ToolRecord]:
        keys = [codec.key(workspace, n) for n in dict.fromkeys(names)]
        if not keys:
            return {}
        rows = await self._engine.read(f"UNWIND $keys AS k MATCH (t:Tool {{key: k}}) RETURN {T_COLS}", {"keys": keys})
        return {rec.name: rec for rec in map(_tool, rows)}

    async def get_tool_versions(self, workspace: str, name: str) -> list[ToolVersionRecord]:
        rows = await self._engine.read(
            f"MATCH (t:Tool {{key: $key}})-[:HAS_TOOL_VERSION]->(v:ToolVersion) RETURN {V_COLS} ORDER BY v.sort_key DESC",
            {"key": codec.key(workspace, name)},
        )
        return [_version(row) for row in rows]

    async def find_tools(self, workspace: str, where: ToolFilter, page: Page) -> list[tuple[ToolRecord, ToolVersionRecord]]:
        seek, after = seek_clause("t", keyset.TOOLS, page)
        if page_limit(page) == 0:
            return []
        clause, params = tool_where(where)
        rows = await self._engine.read(
            f"MATCH (t:Tool)-[:HAS_TOOL_VERSION]->(v:ToolVersion) WHERE {clause} AND {seek} "
            f"RETURN {T_COLS}, {V_COLS} ORDER BY {order_clause('t', keyset.TOOLS)} {limit_clause(page)}",
            {**params, **after, "ws": workspace},
        )
        n = len(codec.TOOL_FIELDS)
        return [(_tool(row[:n]), _version(row[n:])) for row in rows]

    async def count_tools(self, workspace: str, where: ToolFilter) -> int:
        clause, params = tool_where(where)
        rows = await self._engine.read(
            f"MATCH (t:Tool)-[:HAS_TOOL_VERSION]->(v:ToolVersion) WHERE {clause} RETURN count(t)",
            {**params, "ws": workspace},
        )
        return int(rows[0][0]) if rows else 0

    async def update_tool(
        self, workspace: str, name: str, *, at: int, retired: bool | None = None,
        permissions: dict[str, list[str]] | None = None,
    ) -> ToolRecord:
        key = codec.key(workspace, name)

        def work(tx: Tx) -> ToolRecord:
            if not tx.run("MATCH (t:Tool {key: $key}) RETURN t.key", {"key": key}):
                raise NotFoundError(f"No tool {name!r} in workspace {workspace!r}.", name=name)
            if retired is not None:
                tx.run("MATCH (t:Tool {key: $key}) SET t.retired = $v", {"key": key, "v": bool(retired)})
            if permissions is not None:
                tx.run("MATCH (t:Tool {key: $key}) SET t.permissions = $v", {"key": key, "v": codec.dump(permissions)})
            tx.run("MATCH (t:Tool {key: $key}) SET t.updated_at = $at", {"key": key, "at": int(at)})
            return _tool(tx.run(f"MATCH (t:Tool {{key: $key}}) RETURN {T_COLS}", {"key": key})[0])

        return await self._engine.write(work)

    async def set_tool_deprecated(self, workspace: str, name: str, version: str, deprecated: bool) -> ToolVersionRecord:
        key = codec.key(workspace, name, version)

        def work(tx: Tx) -> ToolVersionRecord:
            rows = tx.run(
                f"MATCH (v:ToolVersion {{key: $key}}) SET v.deprecated = $d RETURN {V_COLS}", {"key": key, "d": bool(deprecated)}
            )
            if not rows:
                raise NotFoundError(f"Tool {name!r} has no version {version!r}.", name=name, version=version)
            return _version(rows[0])

        return await self._engine.write(work)

    # -- executions ---------------------------------------------------------------------

    async def create_execution(self, record: ExecutionRecord) -> None:
        props = codec.execution_props(record)

        def work(tx: Tx) -> None:
            if tx.run("MATCH (e:Execution {id: $id}) RETURN e.id", {"id": record.id}):
                raise ConflictError(f"Execution {record.id} already exists.", id=record.id)
            tx.run(f"CREATE (e:Execution {{{_set('e', props)}}})", props)

        await self._engine.write(work)

    async def finish_execution(self, record: ExecutionRecord) -> None:
        props = codec.execution_props(record)
        names = ("status", "output", "error", "finished_at", "duration_ms", "output_context_id")

        def work(tx: Tx) -> None:
            rows = tx.run(
                "MATCH (e:Execution {id: $id}) WHERE e.workspace = $workspace SET "
                + ", ".join(f"e.{n} = ${n}" for n in names) + " RETURN e.id",
                {"id": record.id, "workspace": record.workspace, **{n: props[n] for n in names}},
            )
            if not rows:
                raise NotFoundError(f"Execution {record.id} does not exist.", id=record.id)

        await self._engine.write(work)

    async def get_executions(self, workspace: str, ids: Sequence[str]) -> dict[str, ExecutionRecord]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = await self._engine.read(
            f"UNWIND $ids AS i MATCH (e:Execution {{id: i}}) WHERE e.workspace = $ws RETURN {E_COLS}",
            {"ids": ids, "ws": workspace},
        )
        return {rec.id: rec for rec in map(_execution, rows)}

    async def find_executions(self, workspace: str, where: ExecutionFilter, page: Page) -> list[ExecutionRecord]:
        seek, after = seek_clause("e", keyset.EXECUTIONS, page)
        if page_limit(page) == 0:
            return []
        clause, params = execution_where(where)
        rows = await self._engine.read(
            f"MATCH (e:Execution) WHERE {clause} AND {seek} RETURN {E_COLS} "
            f"ORDER BY {order_clause('e', keyset.EXECUTIONS)} {limit_clause(page)}",
            {**params, **after, "ws": workspace},
        )
        return [_execution(row) for row in rows]

    async def count_executions(self, workspace: str, where: ExecutionFilter) -> int:
        clause, params = execution_where(where)
        rows = await self._engine.read(f"MATCH (e:Execution) WHERE {clause} RETURN count(e)", {**params, "ws": workspace})
        return int(rows[0][0]) if rows else 0

    # -- relationships ------------------------------------------------------------------

    async def relate(self, record: RelationshipRecord) -> tuple[RelationshipRecord, bool]:
        ws, source, target = record.workspace, record.source, record.target
        label, pk, value = _lookup(ws, target)
        props = codec.edge_props(record)

        def work(tx: Tx) -> tuple[RelationshipRecord, bool]:
            if not tx.run("MATCH (c:Context {id: $id}) WHERE c.workspace = $ws RETURN c.id", {"id": source.id, "ws": ws}):
                raise NotFoundError(f"No context {source.id} in workspace {ws!r}.", ref={"kind": CONTEXT, "id": source.id})
            if target.kind == AGENT:
                tx.run(
                    "MERGE (a:Agent {key: $key}) ON CREATE SET a.id = $id, a.workspace = $ws, a.created_at = $at",
                    {"key": value, "id": target.id, "ws": ws, "at": record.created_at},
                )
            elif not tx.run(
                f"MATCH (n:{label} {{{pk}: $v}}) WHERE n.workspace = $ws RETURN n.id", {"v": value, "ws": ws}
            ):
                raise NotFoundError(
                    f"No {target.kind} {target.id!r} in workspace {ws!r}.", ref={"kind": target.kind, "id": target.id}
                )
            match = f"MATCH (c:Context {{id: $sid}}) WITH c MATCH (n:{label} {{{pk}: $v}}) "
            found = tx.run(
                match + f"MATCH (c)-[r:RELATED]->(n) WHERE r.key = $key RETURN {R_COLS}",
                {"sid": source.id, "v": value, "key": props["key"]},
            )
            if found:
                return codec.edge_record(ws, source, target, dict(zip(codec.EDGE_FIELDS, found[0]))), False
            tx.run(match + f"CREATE (c)-[r:RELATED {{{_set('r', props)}}}]->(n)", {"sid": source.id, "v": value, **props})
            return record, True

        return await self._engine.write(work)

    async def unrelate(self, workspace: str, source: NodeRef, target: NodeRef, type: str) -> int:
        label, pk, value = _lookup(workspace, target)
        params = {"sid": source.id, "v": value, "key": codec.edge_key(target, type), "ws": workspace}
        pattern = (
            f"MATCH (c:Context {{id: $sid}})-[r:RELATED]->(n:{label} {{{pk}: $v}}) "
            "WHERE c.workspace = $ws AND r.key = $key "
        )

        def work(tx: Tx) -> int:
            count = int(tx.run(pattern + "RETURN count(r)", params)[0][0])
            if count:
                tx.run(pattern + "DELETE r", params)
            return count

        return await self._engine.write(work)

    async def relationships(
        self, workspace: str, context_id: str, type: str | None, direction: str, limit: int
    ) -> list[RelationshipRecord]:
        params: dict[str, Any] = {"id": context_id, "ws": workspace, "limit": int(limit)}
        cond = "c.workspace = $ws"
        if type is not None:
            cond += " AND r.type = $type"
            params["type"] = type
        found: list[RelationshipRecord] = []
        me = NodeRef(CONTEXT, context_id)
        if direction in ("out", "both"):
            rows = await self._engine.read(
                f"MATCH (c:Context {{id: $id}})-[r:RELATED]->(n) WHERE {cond} "
                f"RETURN label(n), n.id, {R_COLS} ORDER BY r.type, label(n), n.id LIMIT $limit",
                params,
            )
            found += [
                codec.edge_record(workspace, me, NodeRef(KINDS[row[0]], row[1]), dict(zip(codec.EDGE_FIELDS, row[2:])))
                for row in rows
            ]
        if direction in ("in", "both"):
            rows = await self._engine.read(
                f"MATCH (c:Context {{id: $id}})<-[r:RELATED]-(s:Context) WHERE {cond} "
                f"RETURN s.id, {R_COLS} ORDER BY r.type, s.id LIMIT $limit",
                params,
            )
            found += [
                codec.edge_record(workspace, NodeRef(CONTEXT, row[0]), me, dict(zip(codec.EDGE_FIELDS, row[1:])))
                for row in rows
            ]
        found.sort(key=lambda r: (r.type, r.target.kind, r.target.id, r.source.id))
        return found[:limit]

    async def neighbors(
        self, workspace: str, context_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> list[Neighbor]:
        extra, params = _types_filter(types)
        rows = await self._engine.read(
            f"MATCH (a:Context {{id: $id}})-[p:RELATED* SHORTEST 1..{int(depth)}{extra}]-(b) "
            "WHERE a.workspace = $ws AND NOT (label(b) = 'Context' AND b.id = $id) "
            "RETURN label(b) AS l, b.id AS i, min(length(p)) AS d ORDER BY d, l, i LIMIT $limit",
            {**params, "id": context_id, "ws": workspace, "limit": int(limit)},
        )
        return [Neighbor(NodeRef(KINDS[label], node_id), int(d)) for label, node_id, d in rows]

    async def shortest_path(
        self, workspace: str, source_id: str, target_id: str, max_depth: int, types: Sequence[str] | None
    ) -> GraphView | None:
        if source_id == target_id:
            rows = await self._engine.read(
                "MATCH (c:Context {id: $id}) WHERE c.workspace = $ws RETURN c.id", {"id": source_id, "ws": workspace}
            )
            return GraphView([NodeRef(CONTEXT, source_id)], []) if rows else None
        extra, params = _types_filter(types)
        rows = await self._engine.read(
            f"MATCH (a:Context {{id: $s}})-[p:RELATED* SHORTEST 1..{int(max_depth)}{extra}]-(b:Context {{id: $t}}) "
            "WHERE a.workspace = $ws AND b.workspace = $ws RETURN a, p, b LIMIT 1",
            {**params, "s": source_id, "t": target_id, "ws": workspace},
        )
        if not rows:
            return None
        start, path, end = rows[0]
        nodes = [start, *path["_NODES"], end]
        refs = {_internal(n["_ID"]): NodeRef(KINDS[n["_LABEL"]], n["id"]) for n in nodes}
        edges = [
            codec.edge_record(workspace, refs[_internal(r["_SRC"])], refs[_internal(r["_DST"])], r)
            for r in path["_RELS"]
        ]
        return GraphView([refs[_internal(n["_ID"])] for n in nodes], edges)

    async def subgraph(
        self, workspace: str, root_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> GraphView:
        found = await self.neighbors(workspace, root_id, depth, types, max(0, limit - 1))
        nodes = [NodeRef(CONTEXT, root_id), *(n.node for n in found)]
        contexts = [n.id for n in nodes if n.kind == CONTEXT]
        params: dict[str, Any] = {"ids": contexts, "ws": workspace}
        cond = ""
        if types:
            cond, params["types"] = " AND r.type IN $types", list(types)
        rows = await self._engine.read(
            f"UNWIND $ids AS i MATCH (c:Context {{id: i}})-[r:RELATED]->(n) WHERE c.workspace = $ws{cond} "
            f"RETURN c.id, label(n), n.id, {R_COLS} ORDER BY c.id, r.type, label(n), n.id",
            params,
        )
        members = set(nodes)
        edges = []
        for row in rows:
            target = NodeRef(KINDS[row[1]], row[2])
            if target in members:
                edges.append(codec.edge_record(workspace, NodeRef(CONTEXT, row[0]), target, dict(zip(codec.EDGE_FIELDS, row[3:]))))
        return GraphView(nodes, edges)

    # -- provenance -----------------------------------------------------------------------

    async def lineage(self, workspace: str, context_id: str, forward: bool, depth: int, limit: int) -> Lineage:
        arrow = ("<-", "-") if forward else ("-", "->")
        rows = await self._engine.read(
            f"MATCH (o:Origin {{id: $id}}){arrow[0]}[p:DERIVED_FROM* SHORTEST 1..{int(depth)}]{arrow[1]}(s:Origin) "
            "WHERE o.workspace = $ws AND s.id <> $id "
            "RETURN s.id AS i, min(length(p)) AS d ORDER BY d, i LIMIT $limit",
            {"id": context_id, "ws": workspace, "limit": max(0, int(limit) - 1)},
        )
        ids = [context_id, *(row[0] for row in rows)]
        links = await self._engine.read(
            "UNWIND $ids AS i MATCH (o:Origin {id: i}) WHERE o.workspace = $ws "
            "OPTIONAL MATCH (o)-[d:DERIVED_FROM]->(s:Origin) "
            "RETURN o.id, o.path, s.id, d.version, d.source_version, d.execution_id",
            {"ids": ids, "ws": workspace},
        )
        made = await self._engine.read(
            "UNWIND $ids AS i MATCH (o:Origin {id: i})-[p:PRODUCED_BY]->(e:Execution) RETURN o.id, p.version, e.id",
            {"ids": ids},
        )
        members = set(ids)
        paths = {row[0]: row[1] for row in links}
        edges = [
            LineageEdge(row[0], row[2], int(row[3]), int(row[4]), row[5] or None)
            for row in links if row[2] is not None and row[2] in members
        ]
        edges.sort(key=lambda e: (e.derived, e.version, e.source))
        return Lineage(paths=paths, edges=edges, produced_by=[(r[0], int(r[1]), r[2]) for r in made])


def _internal(node_id: dict[str, int]) -> tuple[int, int]:
    return node_id["table"], node_id["offset"]
