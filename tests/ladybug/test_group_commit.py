"""LadybugDB only: revisions that wait for the writer go together, in one transaction
(graph/ladybug/group_commit.py); one that cannot land never takes the others down with it.

"Around the store" is a write sent straight to the engine: the only way to make a revision's
statement fail (the process is the database's only writer)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contextql.graph.errors import ConflictError, ContextQLError
from contextql.graph.ladybug import LadybugStore
from contextql.graph.ladybug.rows import _version_row
from contextql.graph.ladybug.writes import Q_CREATE_VERSION
from contextql.graph.records import ContextRecord, Page, VersionRecord
from contextql.graph.writes import WriteEffects
from contextql.migrations import migrate

from tests.contract.factories import changed, create_one, move_version
from tests.contract.test_transactions import _audit


@pytest.fixture(scope="module")
async def lady(tmp_path_factory):
    store = LadybugStore(str(tmp_path_factory.mktemp("groups") / "graph.lbug"))
    await store.open()
    await migrate(store)
    yield store
    await store.close()


def _workspace() -> str:
    return f"gc-{uuid.uuid4().hex[:8]}"


def _count_up(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
    return changed(head, data={**head.data, "n": head.data.get("n", 0) + 1})


async def _created(store: LadybugStore, workspace: str, n: int) -> list[ContextRecord]:
    """`n` contexts, each revised once, so that their heads are in the cache."""
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(n)]
    for rec in records:
        await store.revise_context(workspace, rec.id, _count_up)
    return records


async def _counted(store: LadybugStore, workspace: str, records: list[ContextRecord], number: int) -> None:
    """Every context at version `number` with `n` one less, and a gapless history."""
    ids = [r.id for r in records]
    heads = await store.get_by_ids(workspace, ids)
    assert {(h.version, h.data["n"]) for h in heads.values()} == {(number, number - 1)}
    history = await store.versions_of(workspace, ids)
    assert all([v.number for v in vs] == list(range(1, number + 1)) for vs in history.values())


async def test_concurrent_revisions_go_together_and_all_land(lady):
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 24)
    before = store.queries
    await store.revise_context(workspace, records[0].id, _count_up, WriteEffects(audit=[_audit(workspace)]))
    alone = store.queries - before  # statements of one revision with an audit entry, alone
    grouped, failed, statements = store.group_commit.grouped, store.group_commit.failed, store.queries

    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up, WriteEffects(audit=[_audit(workspace)]))
                           for rec in records[1:]))
    assert store.group_commit.grouped - grouped >= 20  # all but the first, which found the writer free
    assert store.group_commit.failed == failed
    assert store.queries - statements < alone * (len(records) - 1)  # one BEGIN and COMMIT per group
    await _counted(store, workspace, records, 3)
    assert len(await store.list_audit(workspace, Page(100))) == len(records)
    assert await store.count_index_tasks(workspace) >= len(records)


async def test_revisions_that_read_their_heads_go_together_too(lady):
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 12)
    store.heads.clear()  # each revision reads its head, in the group's transaction
    grouped, fallbacks = store.group_commit.grouped, store.pessimistic_revisions
    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for rec in records))
    assert store.group_commit.grouped - grouped >= 10
    assert store.pessimistic_revisions == fallbacks
    await _counted(store, workspace, records, 3)


@pytest.mark.parametrize("cached", [True, False])
async def test_revisions_of_one_context_in_one_group_all_land_in_turn(lady, cached):
    """Each sees the one before it in the group (its head, as that one wrote it): no rollback, no retry."""
    store, workspace = lady, _workspace()
    rec = await create_one(store, workspace, "/doc", title="doc")
    await store.revise_context(workspace, rec.id, _count_up)
    if not cached:
        store.heads.clear()
    grouped, failed, fallbacks = store.group_commit.grouped, store.group_commit.failed, store.pessimistic_revisions
    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for _ in range(12)))
    assert store.group_commit.grouped - grouped == 11
    assert (store.group_commit.failed, store.pessimistic_revisions) == (failed, fallbacks)
    head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
    history = (await store.versions_of(workspace, [rec.id]))[rec.id]
    assert (head.version, head.data["n"]) == (14, 13)
    assert [v.data.get("n", 0) for v in history] == list(range(14))
    # the cache holds the last head: the next revision needs no read
    before = store.queries
    await store.revise_context(workspace, rec.id, _count_up)
    assert store.queries - before == 5  # BEGIN, state, version, index task, COMMIT


async def test_one_write_that_fails_leaves_the_others_of_its_group_to_land(lady):
    """A version number already taken (written around the store) makes that revision's statement fail:
    the group's transaction is rolled back, every other revision in it lands on its own, and the failing
    one fails alone, leaving nothing half-written."""
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 12)
    doomed = records[5]
    head = (await store.get_by_ids(workspace, [doomed.id]))[doomed.id]
    taken = changed(head, title="around")[1]
    await store._engine.write(lambda tx: tx.run(Q_CREATE_VERSION, _version_row(taken)))

    failed = store.group_commit.failed
    results = await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for rec in records),
                                   return_exceptions=True)
    assert store.group_commit.failed - failed >= 1
    assert [i for i, r in enumerate(results) if isinstance(r, BaseException)] == [5]
    assert isinstance(results[5], ConflictError)
    others = [r for r in records if r.id != doomed.id]
    await _counted(store, workspace, others, 3)
    after = (await store.get_by_ids(workspace, [doomed.id]))[doomed.id]
    assert (after.version, after.data["n"]) == (2, 1)
    assert await store.count_versions(workspace, doomed.id) == 3  # its two and the one written around it


async def test_a_revision_that_breaks_its_own_rule_leaves_the_group_alone(lady):
    """A stale expected version is found before anything is sent: that revision leaves the group (it is
    judged again on a read head, and fails), the group commits without it."""
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 8)
    failed = store.group_commit.failed
    stale = records[4]

    async def update(rec: ContextRecord) -> None:
        if rec is stale:
            record, version = changed(rec, title="late")  # built on version 1: the stored head is at 2
            await store.update_context(record, 1, version)
        else:
            await store.revise_context(workspace, rec.id, _count_up)

    results = await asyncio.gather(*(update(rec) for rec in records), return_exceptions=True)
    assert [i for i, r in enumerate(results) if isinstance(r, BaseException)] == [4]
    assert isinstance(results[4], ContextQLError)
    assert store.group_commit.failed == failed
    await _counted(store, workspace, [r for r in records if r is not stale], 3)
    head = (await store.get_by_ids(workspace, [stale.id]))[stale.id]
    assert (head.version, head.title) == (2, "c4")
    assert await store.count_versions(workspace, stale.id) == 2


async def test_a_move_between_groups_is_seen_by_the_revisions_after_it(lady):
    store, workspace = lady, _workspace()
    parent = await create_one(store, workspace, "/p", title="p")
    await create_one(store, workspace, "/q", title="q")
    children = [await create_one(store, workspace, f"/p/c{i}", parent, title=f"c{i}") for i in range(10)]
    for rec in children:
        await store.revise_context(workspace, rec.id, _count_up)

    head = (await store.get_by_ids(workspace, [parent.id]))[parent.id]
    revisions = [store.revise_context(workspace, rec.id, _count_up) for rec in children]
    move = store.move_context(workspace, parent.id, head.version, "/q/p", move_version(head, "/q/p"))
    await asyncio.gather(*revisions[:5], move, *revisions[5:])
    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for rec in children))
    heads = await store.get_by_ids(workspace, [r.id for r in children])
    assert {h.path for h in heads.values()} == {f"/q/p/c{i}" for i in range(10)}
    await _counted(store, workspace, children, 4)


@pytest.mark.parametrize("waiting", [0, 3, 20])
async def test_a_revision_whose_caller_gave_up_lands_whole_or_not_at_all(lady, waiting):
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 16)
    tasks = [asyncio.create_task(store.revise_context(workspace, rec.id, _count_up)) for rec in records]
    await asyncio.sleep(0)  # every task has started; all but the first wait for the writer
    for _ in range(waiting):
        await asyncio.sleep(0)
    tasks[-1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(not isinstance(r, BaseException) for r in results[:-1])
    await _counted(store, workspace, records[:-1], 3)
    head = (await store.get_by_ids(workspace, [records[-1].id]))[records[-1].id]
    if isinstance(results[-1], asyncio.CancelledError):
        assert (head.version, head.data["n"]) in {(2, 1), (3, 2)}
    else:
        assert (head.version, head.data["n"]) == (3, 2)
    assert await store.count_versions(workspace, records[-1].id) == head.version
    # the writer is free again and nothing waits: the next revision goes alone
    assert not store.group_commit.busy


async def test_when_tracing_each_revision_of_a_group_runs_in_its_callers_context(lady, monkeypatch):
    from contextql.graph.telemetry import tracing

    monkeypatch.setattr(tracing, "enabled", True)
    store, workspace = lady, _workspace()
    records = await _created(store, workspace, 6)
    grouped = store.group_commit.grouped
    await asyncio.gather(*(store.revise_context(workspace, rec.id, _count_up) for rec in records))
    assert store.group_commit.grouped - grouped == 5
    await _counted(store, workspace, records, 3)
