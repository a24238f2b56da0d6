"""Neo4j only: revisions whose writes wait for a flight go together, one statement, each behind its own
guard (graph/neo4j/group_commit.py); one that cannot land never takes the others down with it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contextql.graph.errors import ContextQLError
from contextql.graph.knowledge.records import SourceRef
from contextql.graph.neo4j.group_commit import GroupCommit, grouped
from contextql.graph.neo4j.optimistic import GUARD, GUARD_RETURN
from contextql.graph.neo4j.writes import RECORD_DERIVATION, SET_STATE
from contextql.graph.records import ContextRecord, Page, VersionRecord
from contextql.graph.writes import WriteEffects

from tests.contract.factories import changed, create_one
from tests.contract.test_transactions import _audit


def _workspace() -> str:
    return f"gc-{uuid.uuid4().hex[:8]}"


def _count_up(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
    return changed(head, data={**head.data, "n": head.data.get("n", 0) + 1})


def test_a_grouped_statement_reads_each_write_from_its_item():
    parts = [SET_STATE.replace("{p}", "w0_"), RECORD_DERIVATION.replace("{p}", "w1_")]
    text = grouped(GUARD + "\n".join(parts) + GUARD_RETURN)
    assert text.startswith("UNWIND $batch AS b\nCALL (b) {") and text.endswith("}\nRETURN b.i")
    assert "$w0_" not in text and "$w1_" not in text and "$g_rows" not in text and "CALL () {" not in text
    assert "b.w0_workspace" in text and "b.w0_props" in text and "UNWIND b.g_rows AS g" in text
    assert "CALL (o, b) {" in text and "CALL (o) {" not in text  # nested subqueries import the item too


async def test_writes_that_arrive_during_a_flight_go_together_in_the_next():
    """One statement in flight at a time: every write that arrives meanwhile waits for it, and all of
    them go as one statement when it lands (the scheduling alone; the store tests below send for real)."""
    sent: list[list[int]] = []
    landing = asyncio.Event()

    async def send(query: str, params: dict) -> list[list[int]]:
        sent.append([item["n"] for item in params["batch"]])
        return [[item["i"]] for item in params["batch"]]

    async def alone(query: str, params: dict) -> list[list[int]]:
        sent.append([params["n"]])
        await landing.wait()
        return [[1]]

    group = GroupCommit(send)
    first = asyncio.create_task(group.write("Q", {"n": 0}, alone))
    await asyncio.sleep(0)
    others = [asyncio.create_task(group.write("Q", {"n": n}, alone)) for n in range(1, 6)]
    await asyncio.sleep(0)
    assert sent == [[0]]  # the others wait for the flight
    landing.set()
    assert await asyncio.gather(first, *others) == [True] * 6
    assert sent == [[0], [1, 2, 3, 4, 5]]


async def test_revisions_with_lineage_go_together(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    source = await create_one(store, workspace, "/source", title="source")
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(12)]
    for rec in records:
        await store.revise_context(workspace, rec.id, _count_up)
    fallbacks, grouped_before = store.pessimistic_revisions, store.group_commit.grouped

    def effects(rec: ContextRecord) -> WriteEffects:
        return WriteEffects(audit=[_audit(workspace)], derived_from={rec.id: [SourceRef(source.id, source.path, 1)]})

    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up, effects(rec)) for rec in records))
    assert store.group_commit.grouped > grouped_before and store.pessimistic_revisions == fallbacks
    for rec in records:
        lineage = await store.lineage(workspace, rec.id, False, 2, 50)
        assert [(e.derived, e.source, e.version) for e in lineage.edges] == [(rec.id, source.id, 3)]


async def test_concurrent_revisions_go_together_and_all_land(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(24)]
    for rec in records:  # their heads in the cache: each revision below is its write alone
        await store.revise_context(workspace, rec.id, _count_up)
    grouped_before, statements = store.group_commit.grouped, store.queries

    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up, WriteEffects(audit=[_audit(workspace)]))
                           for rec in records))
    assert store.group_commit.grouped - grouped_before > 0
    assert store.queries - statements < len(records)
    heads = await store.get_by_ids(workspace, [r.id for r in records])
    assert {(h.version, h.data["n"]) for h in heads.values()} == {(3, 2)}
    history = await store.versions_of(workspace, [r.id for r in records])
    assert all([v.number for v in vs] == [1, 2, 3] for vs in history.values())
    assert len(await store.list_audit(workspace, Page(100))) == len(records)


async def test_revisions_of_one_context_in_one_group_all_land_in_turn(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="doc")
    await store.revise_context(workspace, rec.id, _count_up)
    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for _ in range(12)))
    head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
    history = (await store.versions_of(workspace, [rec.id]))[rec.id]
    assert (head.version, head.data["n"]) == (14, 13)
    assert [v.data.get("n", 0) for v in history] == list(range(14))


async def test_one_write_that_fails_leaves_the_others_of_its_group_to_land(neo4j_store):
    """A version number already taken (written around the store) makes that revision's write fail: the
    statement it went in writes nothing, every other revision in it lands on its own, and the failing one
    fails alone, leaving nothing half-written."""
    store, workspace = neo4j_store, _workspace()
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(12)]
    for rec in records:
        await store.revise_context(workspace, rec.id, _count_up)
    doomed = records[5]
    await store._write("CREATE (:Version {workspace: $ws, context_id: $id, number: 3})", ws=workspace, id=doomed.id)

    fallbacks = store.pessimistic_revisions
    results = await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for rec in records),
                                   return_exceptions=True)
    assert store.pessimistic_revisions - fallbacks > 1  # it failed in a group: the others ran again alone
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [5] and isinstance(results[5], ContextQLError)
    heads = await store.get_by_ids(workspace, [r.id for r in records])
    assert {rid: (h.version, h.data["n"]) for rid, h in heads.items() if rid != doomed.id} == {
        r.id: (3, 2) for r in records if r.id != doomed.id}
    assert (heads[doomed.id].version, heads[doomed.id].data["n"]) == (2, 1)
    assert await store.count_versions(workspace, doomed.id) == 3  # its two and the one written around it


@pytest.mark.parametrize("waiting", [0, 3, 20])
async def test_a_write_whose_caller_gave_up_lands_whole_or_not_at_all(neo4j_store, waiting):
    store, workspace = neo4j_store, _workspace()
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(16)]
    for rec in records:
        await store.revise_context(workspace, rec.id, _count_up)
    tasks = [asyncio.create_task(store.revise_context(workspace, rec.id, _count_up)) for rec in records]
    await asyncio.sleep(0)  # every task has started; most wait for a flight
    for _ in range(waiting):
        await asyncio.sleep(0)
    tasks[-1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    head = (await store.get_by_ids(workspace, [records[-1].id]))[records[-1].id]
    if isinstance(results[-1], asyncio.CancelledError):
        # cancelled before or while its write was on its way: it landed whole or not at all
        assert (head.version, head.data["n"]) in {(2, 1), (3, 2)}
        assert await store.count_versions(workspace, records[-1].id) == head.version
    assert all(not isinstance(r, BaseException) for r in results[:-1])
