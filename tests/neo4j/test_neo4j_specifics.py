"""Neo4j only: index-backed lookups (EXPLAIN shows no scans) and routing URIs."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import neo4j

from contextql.graph.neo4j import Neo4jStore
from contextql.graph import keyset
from contextql.graph.cypher_filters import seek_clause
from contextql.graph.neo4j import cypher
from contextql.graph.records import Page

from tests.contract.factories import context, snapshot

SCANS = {"NodeByLabelScan", "AllNodesScan", "NodeIndexScan", "NodeUniqueIndexScan"}


def operators(plan: dict) -> set[str]:
    found = {plan["operatorType"].split("@")[0]}
    for child in plan.get("children", []):
        found |= operators(child)
    return found


async def explain(store: Neo4jStore, query: str, explain: bool = True, **params) -> set[str]:
    driver = neo4j.AsyncGraphDatabase.driver(store.uri, auth=None)
    try:
        async with driver.session(database="neo4j") as session:
            result = await session.run(("EXPLAIN " if explain else "") + query, params)
            summary = await result.consume()
            return operators(summary.plan) if explain else set()
    finally:
        await driver.close()


async def test_point_lookups_use_indexes(neo4j_store):
    workspace = f"plan-{uuid.uuid4().hex[:8]}"
    root = context(workspace, "/root")
    children = [context(workspace, f"/root/c{i}", root) for i in range(200)]
    await neo4j_store.create_contexts([root, *children], [snapshot(r) for r in [root, *children]])
    cases = {
        "get_by_ids": (cypher.GET_BY_IDS, {"workspace": workspace, "ids": [root.id]}, "NodeUniqueIndexSeek"),
        "get_by_paths": (cypher.GET_BY_PATHS, {"workspace": workspace, "paths": ["/root"]}, "NodeUniqueIndexSeek"),
        "list_children": (cypher.LIST_CHILDREN.replace("{seek}", "true"),
                          {"workspace": workspace, "parent_ids": [root.id], "limit": 10}, "NodeIndexSeek"),
    }
    # a later page seeks past its position in the same index (no scan, no skip)
    seek, after = seek_clause("c", keyset.CHILDREN, Page(10, ("c150", children[150].id)))
    cases["list_children after"] = (cypher.LIST_CHILDREN.replace("{seek}", seek),
                                    {"workspace": workspace, "parent_ids": [root.id], "limit": 10, **after}, "NodeIndexSeek")
    seek, after = seek_clause("c", keyset.contexts([]), Page(10, ("/root/c150",)))
    cases["find_contexts after"] = (
        cypher.FIND_CONTEXTS.replace("{where}", "true").replace("{seek}", seek).replace("{order}", "c.path"),
        {"workspace": workspace, "limit": 10, **after}, "NodeUniqueIndexSeek")
    seek, after = seek_clause("v", keyset.VERSIONS, Page(10, (3,)))
    cases["list_versions after"] = (cypher.LIST_VERSIONS.replace("{seek}", seek),
                                    {"workspace": workspace, "id": root.id, "limit": 10, **after}, "NodeUniqueIndexSeek")
    # Fresh index statistics first: right after the 201 nodes were written the planner may still
    # see the index as empty and cost a full index scan like a range seek on it.
    await explain(neo4j_store, "CALL db.prepareForReplanning()", explain=False)
    for name, (query, params, seek) in cases.items():
        ops = await explain(neo4j_store, query, **params)
        assert not ops & SCANS, f"{name} scans: {sorted(ops)}"
        assert seek in ops, f"{name} does not seek an index: {sorted(ops)}"
        assert "Skip" not in ops and "Sort" not in ops, f"{name} skips or sorts: {sorted(ops)}"


async def test_routing_uri_sends_reads_and_writes_through_the_routing_driver(neo4j_store):
    """`neo4j://` makes the driver fetch a routing table (as against a cluster) and route reads to readers."""
    routed = Neo4jStore(uri=neo4j_store.uri.replace("bolt://", "neo4j://"), user="neo4j", password="", database="neo4j")
    await routed.open()
    try:
        workspace = f"route-{uuid.uuid4().hex[:8]}"
        record = context(workspace, "/routed")
        await routed.create_contexts([record], [snapshot(record)])
        assert (await routed.get_by_paths(workspace, ["/routed"]))["/routed"].id == record.id
    finally:
        await routed.close()


async def test_sessions_are_reused_one_call_at_a_time_and_a_failed_one_is_dropped(neo4j_store):
    """`_in_session` hands a session that ran a call to the end to the next call; concurrent calls each
    get their own, and a session whose call failed is closed, never handed out again."""
    from contextql.graph.errors import ContextQLError

    store = neo4j_store
    idle = store._idle_sessions["READ"]
    await store._read("RETURN 1")
    before = list(idle)
    assert before and (await store._read("RETURN 2")) == [[2]] and idle == before  # the same one again

    results = await asyncio.gather(*(store._read(f"RETURN {i}") for i in range(8)))
    assert [r[0][0] for r in results] == list(range(8))
    assert len(set(map(id, idle))) == len(idle) <= store._pool_size

    session = idle[-1]
    with pytest.raises(ContextQLError):
        await store._read("RETURN 1/0")
    assert session not in idle
    assert (await store._read("RETURN 3")) == [[3]]
