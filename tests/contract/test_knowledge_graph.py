"""Contract: relationships, traversal and lineage (every backend)."""

from __future__ import annotations

import pytest

from contextql.graph.errors import NotFoundError
from contextql.graph.knowledge.records import (
    AGENT,
    CONTEXT,
    TOOL,
    Derivation,
    ExecutionRecord,
    NodeRef,
    RelationshipRecord,
    SourceRef,
)

from .factories import create_tree, new_id, now
from .test_knowledge_tools import publish


def edge(ws: str, source: str, target: NodeRef, type: str = "LINKS", **props) -> RelationshipRecord:
    return RelationshipRecord(ws, NodeRef(CONTEXT, source), target, type, props, 1.0, now(), "alice")


def ctx(record) -> NodeRef:
    return NodeRef(CONTEXT, record.id)


async def chain(store, ws: str):
    """a -LINKS-> b -LINKS-> c -CITES-> d, a -CITES-> e -CITES-> d, f alone."""
    t = await create_tree(store, ws, ["/a", "/b", "/c", "/d", "/e", "/f"])
    for s, d, kind in [("/a", "/b", "LINKS"), ("/b", "/c", "LINKS"), ("/c", "/d", "CITES"),
                       ("/a", "/e", "CITES"), ("/e", "/d", "CITES")]:
        await store.relate(edge(ws, t[s].id, ctx(t[d]), kind))
    return t


async def test_relate_once_list_and_unrelate(store, workspace):
    t = await create_tree(store, workspace, ["/a", "/b"])
    await publish(store, workspace, "fetch", "1.0.0")
    first, created = await store.relate(edge(workspace, t["/a"].id, ctx(t["/b"]), "DEPENDS_ON", note="x"))
    assert created and first.properties == {"note": "x"}
    again, created = await store.relate(edge(workspace, t["/a"].id, ctx(t["/b"]), "DEPENDS_ON", note="changed"))
    assert not created and again.properties == {"note": "x"}
    await store.relate(edge(workspace, t["/a"].id, NodeRef(TOOL, "fetch"), "USES"))
    await store.relate(edge(workspace, t["/a"].id, NodeRef(AGENT, "bot-7"), "OWNED_BY"))
    out = await store.relationships(workspace, t["/a"].id, None, "out", 10)
    assert [(r.type, r.target) for r in out] == [
        ("DEPENDS_ON", ctx(t["/b"])), ("OWNED_BY", NodeRef(AGENT, "bot-7")), ("USES", NodeRef(TOOL, "fetch"))]
    incoming = await store.relationships(workspace, t["/b"].id, None, "in", 10)
    assert [(r.source, r.type) for r in incoming] == [(ctx(t["/a"]), "DEPENDS_ON")]
    assert len(await store.relationships(workspace, t["/a"].id, "USES", "both", 10)) == 1
    assert await store.unrelate(workspace, ctx(t["/a"]), NodeRef(TOOL, "fetch"), "USES") == 1
    assert await store.unrelate(workspace, ctx(t["/a"]), NodeRef(TOOL, "fetch"), "USES") == 0
    assert len(await store.relationships(workspace, t["/a"].id, None, "both", 10)) == 2


async def test_relate_refuses_missing_endpoints(store, workspace, other_workspace):
    t = await create_tree(store, workspace, ["/a"])
    elsewhere = await create_tree(store, other_workspace, ["/x"])
    with pytest.raises(NotFoundError):
        await store.relate(edge(workspace, t["/a"].id, ctx(elsewhere["/x"])))
    with pytest.raises(NotFoundError):
        await store.relate(edge(workspace, t["/a"].id, NodeRef(TOOL, "no-such-tool")))
    with pytest.raises(NotFoundError):
        await store.relate(edge(workspace, new_id(), ctx(t["/a"])))
    assert await store.relationships(workspace, t["/a"].id, None, "both", 10) == []


async def test_neighbors_by_distance_with_types_and_caps(store, workspace):
    t = await chain(store, workspace)
    near = await store.neighbors(workspace, t["/a"].id, 2, None, 50)
    assert [(n.node, n.distance) for n in near] == sorted(
        [(ctx(t["/b"]), 1), (ctx(t["/e"]), 1), (ctx(t["/c"]), 2), (ctx(t["/d"]), 2)], key=lambda p: (p[1], p[0].id))
    links = await store.neighbors(workspace, t["/a"].id, 3, ["LINKS"], 50)
    assert {n.node for n in links} == {ctx(t["/b"]), ctx(t["/c"])}
    assert len(await store.neighbors(workspace, t["/a"].id, 3, None, 2)) == 2
    assert await store.neighbors(workspace, t["/f"].id, 3, None, 50) == []


async def test_shortest_path_in_either_direction(store, workspace):
    t = await chain(store, workspace)
    path = await store.shortest_path(workspace, t["/a"].id, t["/d"].id, 5, None)
    assert path.nodes == [ctx(t["/a"]), ctx(t["/e"]), ctx(t["/d"])]
    assert [(e.source, e.target, e.type) for e in path.edges] == [
        (ctx(t["/a"]), ctx(t["/e"]), "CITES"), (ctx(t["/e"]), ctx(t["/d"]), "CITES")]
    back = await store.shortest_path(workspace, t["/d"].id, t["/b"].id, 5, None)
    assert len(back.edges) == 2 and back.nodes[0] == ctx(t["/d"])
    assert (await store.shortest_path(workspace, t["/a"].id, t["/d"].id, 5, ["LINKS"])) is None
    assert (await store.shortest_path(workspace, t["/a"].id, t["/d"].id, 1, None)) is None
    assert (await store.shortest_path(workspace, t["/a"].id, t["/f"].id, 5, None)) is None


async def test_subgraph_has_nodes_and_the_edges_among_them(store, workspace):
    t = await chain(store, workspace)
    view = await store.subgraph(workspace, t["/b"].id, 1, None, 10)
    assert set(view.nodes) == {ctx(t["/a"]), ctx(t["/b"]), ctx(t["/c"])} and view.nodes[0] == ctx(t["/b"])
    assert {(e.source, e.target) for e in view.edges} == {(ctx(t["/a"]), ctx(t["/b"])), (ctx(t["/b"]), ctx(t["/c"]))}
    capped = await store.subgraph(workspace, t["/a"].id, 3, None, 3)
    assert len(capped.nodes) == 3


async def test_lineage_over_generations_survives_deletion(store, workspace):
    t = await create_tree(store, workspace, ["/raw", "/clean", "/report", "/summary"])
    run = ExecutionRecord(new_id(), workspace, "t", "1.0.0", "succeeded", {}, {}, None, "alice", now(), now(), 1, None, None)
    await store.create_execution(run)
    src = lambda p, v=1: SourceRef(t[p].id, p, v)  # noqa: E731
    await store.record_derivation(Derivation(workspace, t["/clean"].id, "/clean", 1, [src("/raw")], None, now()))
    await store.record_derivation(Derivation(workspace, t["/report"].id, "/report", 1, [src("/clean")], run.id, now()))
    await store.record_derivation(
        Derivation(workspace, t["/summary"].id, "/summary", 2, [src("/report"), src("/raw")], None, now()))
    back = await store.lineage(workspace, t["/summary"].id, False, 5, 50)
    assert set(back.paths) == {t[p].id for p in ("/summary", "/report", "/clean", "/raw")}
    assert {(e.derived, e.source, e.version) for e in back.edges} == {
        (t["/summary"].id, t["/report"].id, 2), (t["/summary"].id, t["/raw"].id, 2),
        (t["/report"].id, t["/clean"].id, 1), (t["/clean"].id, t["/raw"].id, 1)}
    assert back.produced_by == [(t["/report"].id, 1, run.id)]
    one = await store.lineage(workspace, t["/summary"].id, False, 1, 50)
    assert set(one.paths) == {t["/summary"].id, t["/report"].id, t["/raw"].id}
    forward = await store.lineage(workspace, t["/raw"].id, True, 5, 50)
    assert set(forward.paths) == {t[p].id for p in ("/summary", "/report", "/clean", "/raw")}
    await store.delete_context(workspace, t["/raw"].id, False)
    after = await store.lineage(workspace, t["/clean"].id, False, 5, 50)
    assert after.paths[t["/raw"].id] == "/raw"
    assert [(e.derived, e.source) for e in after.edges] == [(t["/clean"].id, t["/raw"].id)]
    assert (await store.lineage(workspace, new_id(), False, 5, 50)).paths == {}
    with pytest.raises(NotFoundError):
        await store.record_derivation(Derivation(workspace, t["/clean"].id, "/clean", 2, [], new_id(), now()))
