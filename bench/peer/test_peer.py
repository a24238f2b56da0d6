"""Checks of the peer benchmark's pure parts (kept beside it; `testpaths` does not collect bench/).

    .venv/bin/python -m pytest -q bench/peer/test_peer.py
"""

from __future__ import annotations

import base64
from collections import Counter

from bench.peer import stacks
from bench.peer.scenarios import SCENARIOS, extra_targets, peer_cursor
from bench.tree import build_tree


def test_peer_cursor_is_graphql_relay_offset() -> None:
    assert base64.b64decode(peer_cursor(49)).decode() == "arrayconnection:49"


def test_targets_have_grandchildren_and_enough_matches() -> None:
    tree = build_tree(2_000, 8, 10, 20250101)
    targets = extra_targets(tree, sample=50)
    by_path = {n.path: n for n in tree.nodes}
    parents = {n.parent for n in tree.nodes}
    for path in targets["nested"]:
        node = by_path[path]
        assert node.depth <= 3 and node.index in parents
        assert any(c.parent == node.index and c.index in parents for c in tree.nodes)
    assert targets["filtered_list"] and all(t["matches"] >= 20 and t["prefix"].endswith("/")
                                            for t in targets["filtered_list"])


def test_both_servers_normalize_to_the_same_structure() -> None:
    nested = SCENARIOS["nested"]
    cql = {"context": {"path": "/a", "title": "A", "children": {"edges": [
        {"node": {"path": "/a/b", "title": "B", "children": {"edges": [{"node": {"path": "/a/b/c", "title": "C"}}]}}}]}}}
    peer = {"contexts": [{"path": "/a", "title": "A", "children": [
        {"path": "/a/b", "title": "B", "children": [{"path": "/a/b/c", "title": "C"}]}]}]}
    assert nested.normalize("contextql", cql) == nested.normalize("peer", peer)

    by_path = SCENARIOS["context_by_path"]
    common = {"id": "1", "path": "/a", "name": "a", "depth": 1, "kind": "org", "title": "A", "content": "",
              "tags": ["x"], "version": 2}
    a = by_path.normalize("contextql", {"context": common | {"data": {"k": 1}, "updatedAt": "2025-01-01T00:00:00.000001+00:00"}})
    b = by_path.normalize("peer", {"contexts": [common | {"data": '{"k":1}', "updatedAt": "1735689600000001"}]})
    assert a == b


def test_stack_groups_attribute_stdlib_to_the_caller_and_loop_to_the_loop() -> None:
    boot = "_serve (server/cli.py:88);asyncio_run (uvicorn/_compat.py:30);Runner.run (asyncio/runners.py:118)"
    raw = Counter({
        tuple(stacks.parse_frame(f) for f in f"{boot};sendall (neo4j/_bolt_socket.py:1);write (asyncio/streams.py:2)".split(";")): 3,
        tuple(stacks.parse_frame(f) for f in f"{boot};parse (graphql/language/parser.py:5)".split(";")): 2,
        tuple(stacks.parse_frame(f) for f in f"{boot};to_dict (graph/neo4j/convert.py:9);loads (json/__init__.py:3)".split(";")): 1,
        tuple(stacks.parse_frame(f) for f in boot.split(";")): 4,
    })
    b = stacks.breakdown(raw)
    assert b.total == 10
    assert b.groups["Neo4j Python driver (incl. Bolt packing, socket I/O)"] == 3
    assert b.groups["GraphQL parse (graphql-core language)"] == 2
    assert b.groups["JSON encode/decode (json)"] == 1
    assert b.groups["asyncio / uvloop event loop"] == 4
    assert "server/cli.py:_serve" not in b.project_inclusive
    assert b.project_inclusive["graph/neo4j/convert.py:to_dict"] == 1
