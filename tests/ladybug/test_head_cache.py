"""LadybugDB only: a revision of a head this process revised lately needs no read (graph/ladybug/writes.py),
and a cached head that is not the stored one is never written over.

"Behind the cache" is a write sent straight to the engine, not through the store: the only way a
head can change without the store seeing it (the process is the database's only writer).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.graph import tree
from contextql.graph.codec import dump_json
from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.ladybug import LadybugStore
from contextql.graph.ladybug.rows import _version_row
from contextql.graph.ladybug.writes import Q_CREATE_VERSION
from contextql.graph.records import ContextRecord, VersionRecord
from contextql.migrations import migrate

from tests.contract.factories import changed, create_one, move_version


@pytest.fixture(scope="module")
async def lady(tmp_path_factory):
    store = LadybugStore(str(tmp_path_factory.mktemp("heads") / "graph.lbug"))
    await store.open()
    await migrate(store)
    yield store
    await store.close()


def _retitle(title: str):
    def change(head: ContextRecord) -> tuple[ContextRecord, VersionRecord] | None:
        return None if head.title == title else changed(head, title=title)
    return change


def _count_up(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
    return changed(head, data={**head.data, "n": head.data.get("n", 0) + 1})


async def _titles(store: LadybugStore, workspace: str, context_id: str) -> list[tuple[int, str]]:
    history = (await store.versions_of(workspace, [context_id]))[context_id]
    return [(v.number, v.title) for v in history]


async def _behind_the_cache(store: LadybugStore, workspace: str, context_id: str, title: str) -> None:
    """A revision the store does not see: the state, and its version (so the history stays gapless)."""
    head = (await store.get_by_ids(workspace, [context_id]))[context_id]
    new, version = changed(head, title=title)
    await store._engine.write(lambda tx: tx.run(
        "MATCH (c:Context {id: $id}) SET c.title = $title, c.version = $version, c.updated_at = $at",
        {"id": context_id, "title": title, "version": new.version, "at": new.updated_at},
    ))
    await store._engine.write(lambda tx: tx.run(Q_CREATE_VERSION, _version_row(version)))


async def test_the_second_revision_of_a_context_reads_nothing(lady, workspace):
    store = lady
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("one"), path="/doc")
    statements, fallbacks = store.queries, store.pessimistic_revisions
    updated, version = await store.revise_context(workspace, None, _retitle("two"), path="/doc")
    # BEGIN, state (checked against the cached head), version, outbox, COMMIT: no head read
    assert store.queries - statements == 5 and store.pessimistic_revisions == fallbacks
    by_id, _ = await store.revise_context(workspace, rec.id, _retitle("three"))
    assert (updated.version, version.number, by_id.version) == (3, 3, 4)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == by_id
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "one"), (3, "two"), (4, "three")]


async def test_a_head_changed_behind_the_cache_is_read_again(lady, workspace):
    store = lady
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at version 2
    await _behind_the_cache(store, workspace, rec.id, "theirs")  # version 3
    fallbacks = store.pessimistic_revisions
    updated, _ = await store.revise_context(workspace, None, _retitle("ours again"), path="/doc")
    assert store.pessimistic_revisions == fallbacks + 1
    assert updated.version == 4
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "ours"), (3, "theirs"), (4, "ours again")]
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == updated


async def test_no_change_judged_on_a_stale_head_is_judged_again(lady, workspace):
    store = lady
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    await _behind_the_cache(store, workspace, rec.id, "theirs")
    updated, version = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (updated.title, updated.version, version is not None) == ("ours", 4, True)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id].title == "ours"
    # and a real no-change, over a current head from the cache, writes nothing and says so
    again, none = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (again.version, none) == (4, None) and len(await _titles(store, workspace, rec.id)) == 4


async def test_an_error_judged_on_a_stale_head_is_judged_again(lady, workspace):
    store = lady
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at 2
    await _behind_the_cache(store, workspace, rec.id, "theirs")  # 3

    def expecting(version: int):
        def change(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
            if head.version != version:
                raise tree.stale(head, version)
            return changed(head, title=f"after {version}")
        return change

    updated, _ = await store.revise_context(workspace, rec.id, expecting(3))
    assert (updated.version, updated.title) == (4, "after 3")
    with pytest.raises(ConflictError):  # a really stale expectation still fails
        await store.revise_context(workspace, rec.id, expecting(3))
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "ours"), (3, "theirs"), (4, "after 3")]


async def test_a_move_or_a_delete_empties_the_cache(lady, workspace):
    store = lady
    parent = await create_one(store, workspace, "/a", title="a")
    child = await create_one(store, workspace, "/a/doc", parent, title="doc")
    await store.revise_context(workspace, None, _retitle("cached"), path="/a/doc")
    assert len(store.heads) == 1
    head = (await store.get_by_ids(workspace, [parent.id]))[parent.id]
    await store.move_context(workspace, parent.id, head.version, "/b", move_version(head, "/b"))
    assert len(store.heads) == 0

    with pytest.raises(NotFoundError):  # nothing is at the old path any more
        await store.revise_context(workspace, None, _retitle("at the old path"), path="/a/doc")
    updated, _ = await store.revise_context(workspace, child.id, _retitle("by id"))
    assert (updated.path, updated.title, updated.version) == ("/b/doc", "by id", 3)

    await store.delete_context(workspace, parent.id, recursive=True)
    with pytest.raises(NotFoundError):
        await store.revise_context(workspace, child.id, _retitle("gone"))
    assert await store.get_by_ids(workspace, [child.id]) == {}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(st.tuples(st.booleans(), st.integers(0, 2), st.booleans()), min_size=4, max_size=20))
async def test_concurrent_revisions_with_writes_behind_the_cache_lose_nothing(lady, schedule):
    """Each step counts up a context's `data.n`, through the store (by id or by path) or behind its
    cache, all at once: every count lands exactly once and the history has no gap."""
    store, workspace = lady, f"hc-{uuid.uuid4().hex[:8]}"
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(3)]

    async def behind(rec: ContextRecord) -> None:
        head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
        new, version = _count_up(head)
        def work(tx):
            current = tx.run("MATCH (c:Context {id: $id}) RETURN c.version", {"id": rec.id})[0][0]
            if current != head.version:
                return False  # someone came between: try again
            tx.run("MATCH (c:Context {id: $id}) SET c.data = $data, c.version = $v, c.updated_at = $at",
                   {"id": rec.id, "data": dump_json(new.data), "v": new.version, "at": new.updated_at})
            tx.run(Q_CREATE_VERSION, _version_row(version))
            return True

        while not await store._engine.write(work):
            head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
            new, version = _count_up(head)

    async def step(through_store: bool, index: int, by_path: bool) -> None:
        rec = records[index]
        if not through_store:
            await behind(rec)
        elif by_path:
            await store.revise_context(workspace, None, _count_up, path=rec.path)
        else:
            await store.revise_context(workspace, rec.id, _count_up)

    for _ in range(2):  # the second round starts with cached heads
        await asyncio.gather(*(step(*s) for s in schedule))
    for index, rec in enumerate(records):
        expected = 2 * sum(1 for _, i, _ in schedule if i == index)
        head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
        history = (await store.versions_of(workspace, [rec.id]))[rec.id]
        assert head.data.get("n", 0) == expected and head.version == expected + 1
        assert [v.number for v in history] == list(range(1, expected + 2))
        assert [v.data.get("n", 0) for v in history] == list(range(expected + 1))
