"""Tools, executions, relationships and provenance on LadybugDB (DDL: migrations/ladybug/0003).

A mixin of `LadybugStore` for the reads (on the reader pool); the writes are the rules of
`graph/knowledge/rules.py` over `graph/ladybug/writes.py`. Relationships use ONE rel table with a FROM/TO pair per target kind
(Context->Context, Context->Tool, Context->Agent), so a traversal is a single recursive pattern;
`SHORTEST` gives breadth-first distances (neighbors) and shortest paths. Labels and key
properties in statements come from fixed maps, never from user input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import keyset
from ..cypher_filters import limit_clause, order_clause, page_limit, seek_clause
from ..knowledge import codec
from ..knowledge.clauses import execution_where, tool_where
from ..knowledge.records import (
    AGENT,
    CONTEXT,
    TOOL,
    Derivation,
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
from .engine import Engine

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

    # -- executions ---------------------------------------------------------------------

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

    # -- backup ---------------------------------------------------------------------------

    async def edges_from(self, workspace: str, context_ids: Sequence[str]) -> list[RelationshipRecord]:
        if not context_ids:
            return []
        rows = await self._engine.read(
            f"UNWIND $ids AS i MATCH (c:Context {{id: i}})-[r:RELATED]->(n) WHERE c.workspace = $ws "
            f"RETURN c.id, label(n), n.id, {R_COLS}",
            {"ids": list(context_ids), "ws": workspace},
        )
        found = [
            codec.edge_record(workspace, NodeRef(CONTEXT, row[0]), NodeRef(KINDS[row[1]], row[2]),
                              dict(zip(codec.EDGE_FIELDS, row[3:])))
            for row in rows
        ]
        found.sort(key=lambda r: (r.source.id, r.type, r.target.kind, r.target.id))
        return found

    async def agents(self, workspace: str) -> list[tuple[str, int]]:
        rows = await self._engine.read(
            "MATCH (a:Agent) WHERE a.workspace = $ws RETURN a.id, a.created_at ORDER BY a.id", {"ws": workspace}
        )
        return [(row[0], int(row[1])) for row in rows]

    async def lineage_page(self, workspace: str, after: str, limit: int) -> tuple[list[Derivation], str | None]:
        origins = await self._engine.read(
            "MATCH (o:Origin) WHERE o.workspace = $ws AND o.id > $after RETURN o.id, o.path ORDER BY o.id LIMIT $limit",
            {"ws": workspace, "after": after, "limit": int(limit)},
        )
        if not origins:
            return [], None
        ids = [row[0] for row in origins]
        derived = await self._engine.read(
            "UNWIND $ids AS i MATCH (o:Origin {id: i})-[d:DERIVED_FROM]->(s:Origin) "
            "RETURN o.id, s.id, s.path, d.version, d.source_version, d.execution_id, d.created_at",
            {"ids": ids},
        )
        produced = await self._engine.read(
            "UNWIND $ids AS i MATCH (o:Origin {id: i})-[p:PRODUCED_BY]->(e:Execution) RETURN o.id, p.version, e.id",
            {"ids": ids},
        )
        found = codec.derivations(workspace, [(row[0], row[1]) for row in origins], derived, produced)
        return found, (ids[-1] if len(ids) == limit else None)

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
