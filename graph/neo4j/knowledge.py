"""Tools, executions, relationships and provenance on Neo4j (constraints: migrations/neo4j/0003).

A mixin of `Neo4jStore` for the reads: one Cypher statement per operation, values only as
parameters. The writes are the rules of `graph/knowledge/rules.py` over `graph/neo4j/writes.py`. Relationships are real `RELATED` relationships with the validated type as
a property (so one index-free pattern serves every type); labels and key properties spliced
into statements come from fixed maps. Traversals use the GQL `SHORTEST` path selector of Neo4j 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import keyset
from ..cypher_filters import order_clause, page_limit, seek_clause
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

KINDS = {"Context": CONTEXT, "Tool": TOOL, "Agent": AGENT}
# How a relationship target is found: label and the property holding its id.
TARGETS = {CONTEXT: ("Context", "id"), TOOL: ("Tool", "name"), AGENT: ("Agent", "id")}
TYPE_OK = "($types IS NULL OR r.type IN $types)"

GET_TOOLS = "UNWIND $names AS n MATCH (t:Tool {workspace: $ws, name: n}) RETURN properties(t)"
GET_TOOL_VERSIONS = """
MATCH (:Tool {workspace: $ws, name: $name})-[:HAS_TOOL_VERSION]->(v:ToolVersion)
RETURN properties(v) ORDER BY v.sort_key DESC
"""
FIND_TOOLS = """
MATCH (t:Tool)-[:HAS_TOOL_VERSION]->(v:ToolVersion) WHERE {where} AND {seek}
RETURN properties(t), properties(v) ORDER BY """ + order_clause("t", keyset.TOOLS) + """ LIMIT $limit
"""
COUNT_TOOLS = "MATCH (t:Tool)-[:HAS_TOOL_VERSION]->(v:ToolVersion) WHERE {where} RETURN count(t)"
GET_EXECUTIONS = "UNWIND $ids AS i MATCH (e:Execution {id: i}) WHERE e.workspace = $ws RETURN properties(e)"
FIND_EXECUTIONS = """
MATCH (e:Execution) WHERE {where} AND {seek}
RETURN properties(e) ORDER BY """ + order_clause("e", keyset.EXECUTIONS) + """ LIMIT $limit
"""
COUNT_EXECUTIONS = "MATCH (e:Execution) WHERE {where} RETURN count(e)"

RELATIONSHIPS = """
MATCH (c:Context {workspace: $ws, id: $id})-[r:RELATED]-(n)
WHERE ($type IS NULL OR r.type = $type)
  AND ((startNode(r) = c AND $outgoing) OR (endNode(r) = c AND $incoming))
RETURN startNode(r).id, labels(endNode(r))[0], endNode(r).id, properties(r)
ORDER BY r.type, labels(endNode(r))[0], endNode(r).id, startNode(r).id LIMIT $limit
"""
NEIGHBORS = f"""
MATCH p = SHORTEST 1 (a:Context {{workspace: $ws, id: $id}})-[r:RELATED WHERE {TYPE_OK}]-{{1,{{depth}}}}(b)
WHERE b <> a
RETURN labels(b)[0] AS l, b.id AS i, length(p) AS d ORDER BY d, l, i LIMIT $limit
"""
SHORTEST_PATH = f"""
MATCH p = SHORTEST 1 (a:Context {{workspace: $ws, id: $s}})-[r:RELATED WHERE {TYPE_OK}]-{{1,{{depth}}}}
          (b:Context {{workspace: $ws, id: $t}})
RETURN [n IN nodes(p) | [labels(n)[0], n.id]],
       [x IN relationships(p) | [labels(startNode(x))[0], startNode(x).id, labels(endNode(x))[0], endNode(x).id, properties(x)]]
LIMIT 1
"""
SUBGRAPH = f"""
MATCH (a:Context {{workspace: $ws, id: $id}})
OPTIONAL CALL (a) {{
  MATCH p = SHORTEST 1 (a)-[r:RELATED WHERE {TYPE_OK}]-{{1,{{depth}}}}(b)
  WHERE b <> a
  RETURN b, length(p) AS d ORDER BY d, labels(b)[0], b.id LIMIT $limit
}}
WITH a, collect(b) AS others
WITH [a] + others AS members
CALL (members) {{
  UNWIND members AS m
  MATCH (m)-[r:RELATED]->(o) WHERE o IN members AND {TYPE_OK}
  RETURN collect([m.id, labels(o)[0], o.id, properties(r)]) AS edges
}}
RETURN [m IN members | [labels(m)[0], m.id]], edges
"""
LINEAGE = """
MATCH (o:Origin {id: $id}) WHERE o.workspace = $ws
OPTIONAL CALL (o) {
  MATCH p = SHORTEST 1 (o){arrow}(s:Origin)
  WHERE s <> o
  RETURN s, length(p) AS d ORDER BY d, s.id LIMIT $limit
}
WITH o, collect(s) AS others
WITH [o] + others AS members
CALL (members) {
  UNWIND members AS m
  MATCH (m)-[d:DERIVED_FROM]->(s) WHERE s IN members
  RETURN collect([m.id, s.id, d.version, d.source_version, d.execution_id]) AS edges
}
CALL (members) {
  UNWIND members AS m
  MATCH (m)-[p:PRODUCED_BY]->(e:Execution)
  RETURN collect([m.id, p.version, e.id]) AS made
}
RETURN [m IN members | [m.id, m.path]], edges, made
"""

EDGES_FROM = """
UNWIND $ids AS i
MATCH (c:Context {workspace: $ws, id: i})-[r:RELATED]->(n)
RETURN c.id, labels(n)[0], n.id, properties(r)
"""
AGENTS = "MATCH (a:Agent) WHERE a.workspace = $ws RETURN a.id, a.created_at ORDER BY a.id"
ORIGINS = "MATCH (o:Origin) WHERE o.workspace = $ws AND o.id > $after RETURN o.id, o.path ORDER BY o.id LIMIT $limit"
ORIGIN_EDGES = """
UNWIND $ids AS i
MATCH (o:Origin {id: i})-[d:DERIVED_FROM]->(s:Origin)
RETURN o.id, s.id, s.path, d.version, d.source_version, d.execution_id, d.created_at
"""
ORIGIN_RUNS = "UNWIND $ids AS i MATCH (o:Origin {id: i})-[p:PRODUCED_BY]->(e:Execution) RETURN o.id, p.version, e.id"


def _ref(label: str, node_id: str) -> NodeRef:
    return NodeRef(KINDS[label], node_id)


def _types(types: Sequence[str] | None) -> list[str] | None:
    return list(types) if types else None


class Neo4jKnowledge:
    """Reads through `_read` of `Neo4jStore`; the writes are rules over `Neo4jWriteTx` (graph/knowledge/rules.py)."""

    if TYPE_CHECKING:  # provided by Neo4jStore, which mixes this class in
        async def _read(self, query: str, **params: Any) -> list[list[Any]]: ...

    # -- tools ------------------------------------------------------------------------

    async def get_tools(self, workspace: str, names: Sequence[str]) -> dict[str, ToolRecord]:
        if not names:
            return {}
        rows = await self._read(GET_TOOLS, ws=workspace, names=list(dict.fromkeys(names)))
        return {rec.name: rec for rec in (codec.tool_record(row[0]) for row in rows)}

    async def get_tool_versions(self, workspace: str, name: str) -> list[ToolVersionRecord]:
        rows = await self._read(GET_TOOL_VERSIONS, ws=workspace, name=name)
        return [codec.version_record(row[0]) for row in rows]

    async def find_tools(self, workspace: str, where: ToolFilter, page: Page) -> list[tuple[ToolRecord, ToolVersionRecord]]:
        clause, params = tool_where(where)
        seek, after = seek_clause("t", keyset.TOOLS, page)
        rows = await self._read(
            FIND_TOOLS.replace("{where}", clause).replace("{seek}", seek), ws=workspace, **params,
            limit=page_limit(page), **after,
        )
        return [(codec.tool_record(t), codec.version_record(v)) for t, v in rows]

    async def count_tools(self, workspace: str, where: ToolFilter) -> int:
        clause, params = tool_where(where)
        rows = await self._read(COUNT_TOOLS.replace("{where}", clause), ws=workspace, **params)
        return rows[0][0] if rows else 0

    # -- executions ---------------------------------------------------------------------

    async def get_executions(self, workspace: str, ids: Sequence[str]) -> dict[str, ExecutionRecord]:
        if not ids:
            return {}
        rows = await self._read(GET_EXECUTIONS, ws=workspace, ids=list(dict.fromkeys(ids)))
        return {rec.id: rec for rec in (codec.execution_record(row[0]) for row in rows)}

    async def find_executions(self, workspace: str, where: ExecutionFilter, page: Page) -> list[ExecutionRecord]:
        clause, params = execution_where(where)
        seek, after = seek_clause("e", keyset.EXECUTIONS, page)
        rows = await self._read(
            FIND_EXECUTIONS.replace("{where}", clause).replace("{seek}", seek), ws=workspace, **params,
            limit=page_limit(page), **after,
        )
        return [codec.execution_record(row[0]) for row in rows]

    async def count_executions(self, workspace: str, where: ExecutionFilter) -> int:
        clause, params = execution_where(where)
        rows = await self._read(COUNT_EXECUTIONS.replace("{where}", clause), ws=workspace, **params)
        return rows[0][0] if rows else 0

    # -- relationships ------------------------------------------------------------------

    async def relationships(
        self, workspace: str, context_id: str, type: str | None, direction: str, limit: int
    ) -> list[RelationshipRecord]:
        rows = await self._read(
            RELATIONSHIPS, ws=workspace, id=context_id, type=type, limit=int(limit),
            outgoing=direction in ("out", "both"), incoming=direction in ("in", "both"),
        )
        found = [
            codec.edge_record(workspace, NodeRef(CONTEXT, sid), _ref(tlabel, tid), props)
            for sid, tlabel, tid, props in rows
        ]
        found.sort(key=lambda r: (r.type, r.target.kind, r.target.id, r.source.id))
        return found

    async def neighbors(
        self, workspace: str, context_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> list[Neighbor]:
        rows = await self._read(
            NEIGHBORS.replace("{depth}", str(int(depth))), ws=workspace, id=context_id, types=_types(types), limit=int(limit)
        )
        return [Neighbor(_ref(label, node_id), int(d)) for label, node_id, d in rows]

    async def shortest_path(
        self, workspace: str, source_id: str, target_id: str, max_depth: int, types: Sequence[str] | None
    ) -> GraphView | None:
        if source_id == target_id:
            found = await self._read("MATCH (c:Context {workspace: $ws, id: $id}) RETURN c.id", ws=workspace, id=source_id)
            return GraphView([NodeRef(CONTEXT, source_id)], []) if found else None
        rows = await self._read(
            SHORTEST_PATH.replace("{depth}", str(int(max_depth))), ws=workspace, s=source_id, t=target_id, types=_types(types)
        )
        if not rows:
            return None
        nodes, rels = rows[0]
        return GraphView(
            [_ref(label, node_id) for label, node_id in nodes],
            [codec.edge_record(workspace, _ref(sl, sid), _ref(tl, tid), props) for sl, sid, tl, tid, props in rels],
        )

    async def subgraph(
        self, workspace: str, root_id: str, depth: int, types: Sequence[str] | None, limit: int
    ) -> GraphView:
        rows = await self._read(
            SUBGRAPH.replace("{depth}", str(int(depth))), ws=workspace, id=root_id, types=_types(types),
            limit=max(0, int(limit) - 1),
        )
        if not rows:
            return GraphView([NodeRef(CONTEXT, root_id)], [])
        nodes, edges = rows[0]
        view_edges = [
            codec.edge_record(workspace, NodeRef(CONTEXT, sid), _ref(tl, tid), props) for sid, tl, tid, props in edges
        ]
        view_edges.sort(key=lambda e: (e.source.id, e.type, e.target.kind, e.target.id))
        return GraphView([_ref(label, node_id) for label, node_id in nodes], view_edges)

    # -- backup ---------------------------------------------------------------------------

    async def edges_from(self, workspace: str, context_ids: Sequence[str]) -> list[RelationshipRecord]:
        if not context_ids:
            return []
        rows = await self._read(EDGES_FROM, ws=workspace, ids=list(context_ids))
        found = [codec.edge_record(workspace, NodeRef(CONTEXT, sid), _ref(label, tid), props)
                 for sid, label, tid, props in rows]
        found.sort(key=lambda r: (r.source.id, r.type, r.target.kind, r.target.id))
        return found

    async def agents(self, workspace: str) -> list[tuple[str, int]]:
        return [(row[0], int(row[1])) for row in await self._read(AGENTS, ws=workspace)]

    async def lineage_page(self, workspace: str, after: str, limit: int) -> tuple[list[Derivation], str | None]:
        origins = await self._read(ORIGINS, ws=workspace, after=after, limit=int(limit))
        if not origins:
            return [], None
        ids = [row[0] for row in origins]
        derived = await self._read(ORIGIN_EDGES, ids=ids)
        produced = await self._read(ORIGIN_RUNS, ids=ids)
        found = codec.derivations(workspace, [(row[0], row[1]) for row in origins], derived, produced)
        return found, (ids[-1] if len(ids) == limit else None)

    # -- provenance -----------------------------------------------------------------------

    async def lineage(self, workspace: str, context_id: str, forward: bool, depth: int, limit: int) -> Lineage:
        step = f"<-[:DERIVED_FROM]-{{1,{int(depth)}}}" if forward else f"-[:DERIVED_FROM]->{{1,{int(depth)}}}"
        rows = await self._read(
            LINEAGE.replace("{arrow}", step), ws=workspace, id=context_id, limit=max(0, int(limit) - 1)
        )
        if not rows:
            return Lineage({}, [], [])
        members, edges, made = rows[0]
        lineage_edges = [LineageEdge(a, b, int(v), int(sv), x or None) for a, b, v, sv, x in edges]
        lineage_edges.sort(key=lambda e: (e.derived, e.version, e.source))
        return Lineage(
            paths=dict(members),
            edges=lineage_edges,
            produced_by=[(node_id, int(v), x) for node_id, v, x in made],
        )
