"""The head cache (graph/head_cache.py): a revision of a head this process revised lately needs no read,
and a head from the cache that went stale is never written over.

A head goes stale when it is written "around the cache" (`around`): on Neo4j by a second `Neo4jStore` on
the same database, as another API process would; on LadybugDB by the store's own writes sent straight to
its engine, the only way a head can change without the store seeing it (the process is the database's
only writer).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.graph import tree
from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.head_cache import HeadCache
from contextql.graph.records import ContextRecord, VersionRecord
from contextql.graph.store import GraphStore
from contextql.graph.writes import Work

from .factories import changed, create_one, move_version

T = TypeVar("T")


class _PastTheCache:
    """LadybugDB: the store's writes (graph/store.py) in transactions that never read or change its
    head cache — `LadybugStore.write` without its `heads.clear()`, for revisions too."""

    revise_context = GraphStore.revise_context
    move_context = GraphStore.move_context
    delete_context = GraphStore.delete_context

    def __init__(self, store: Any) -> None:
        self._engine = store._engine

    async def write(self, work: Work[T]) -> T:
        from contextql.graph.ladybug.writes import LadybugWriteTx

        return await self._engine.transaction(lambda tx: work(LadybugWriteTx(tx)))

    write_revision = write


@pytest.fixture(scope="module")
async def around(store: GraphStore, tmp_path_factory) -> AsyncIterator[Any]:
    """Writes `store` does not see: `revise_context`, `move_context` and `delete_context` as on a store."""
    if store.backend == "ladybug":
        yield _PastTheCache(store)
        return
    from tests.conftest import OPENERS

    other = await OPENERS[store.backend](tmp_path_factory)  # another instance on the same database
    await other.open()
    yield other
    await other.close()


# A revision of a head from the cache: Neo4j sends the guarded write only; LadybugDB BEGIN, the state
# (checked against the cached head), the version, the outbox task and COMMIT.
CACHED_REVISION_STATEMENTS = {"neo4j": 1, "ladybug": 5}


def _retitle(title: str):
    def change(head: ContextRecord) -> tuple[ContextRecord, VersionRecord] | None:
        return None if head.title == title else changed(head, title=title)
    return change


def _count_up(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
    return changed(head, data={**head.data, "n": head.data.get("n", 0) + 1})


async def _titles(store: GraphStore, workspace: str, context_id: str) -> list[tuple[int, str]]:
    history = (await store.versions_of(workspace, [context_id]))[context_id]
    return [(v.number, v.title) for v in history]


async def test_the_second_revision_of_a_context_reads_nothing(store, workspace):
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("one"), path="/doc")
    fallbacks = store.pessimistic_revisions
    statements = store.queries
    updated, version = await store.revise_context(workspace, None, _retitle("two"), path="/doc")
    assert store.queries - statements == CACHED_REVISION_STATEMENTS[store.backend]
    statements = store.queries
    by_id, _ = await store.revise_context(workspace, rec.id, _retitle("three"))
    assert store.queries - statements == CACHED_REVISION_STATEMENTS[store.backend]
    assert store.pessimistic_revisions == fallbacks
    assert (updated.version, version.number, by_id.version) == (3, 3, 4)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == by_id
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "one"), (3, "two"), (4, "three")]


async def test_a_head_written_around_the_cache_is_read_again(store, around, workspace):
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at version 2
    await around.revise_context(workspace, None, _retitle("theirs"), path="/doc")  # version 3, unseen
    fallbacks = store.pessimistic_revisions
    updated, _ = await store.revise_context(workspace, None, _retitle("ours again"), path="/doc")
    assert store.pessimistic_revisions == fallbacks + 1
    assert updated.version == 4
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "ours"), (3, "theirs"), (4, "ours again")]
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == updated


async def test_no_change_judged_on_a_stale_head_is_judged_again(store, around, workspace):
    """The cache says the title is already "ours"; a write around it changed it: the update must land."""
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    await around.revise_context(workspace, None, _retitle("theirs"), path="/doc")
    updated, version = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (updated.title, updated.version, version is not None) == ("ours", 4, True)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id].title == "ours"
    # and a real no-change, over a current head from the cache, writes nothing and says so
    again, none = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (again.version, none) == (4, None) and len(await _titles(store, workspace, rec.id)) == 4


async def test_an_error_judged_on_a_stale_head_is_judged_again(store, around, workspace):
    """A client that knows the current version is not told it is stale because this process is."""
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at 2
    await around.revise_context(workspace, None, _retitle("theirs"), path="/doc")  # 3

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


@pytest.mark.parametrize("through", ["store", "around"])
async def test_a_cached_head_that_moved_or_went_is_never_written(store, around, workspace, through):
    """Moved and deleted by the store itself or around its cache."""
    writer = store if through == "store" else around
    parent = await create_one(store, workspace, "/a", title="a")
    child = await create_one(store, workspace, "/a/doc", parent, title="doc")
    await store.revise_context(workspace, None, _retitle("cached"), path="/a/doc")
    assert list(store.heads.by_ids(workspace, [child.id])) == [child.id]
    head = (await store.get_by_ids(workspace, [parent.id]))[parent.id]
    await writer.move_context(workspace, parent.id, head.version, "/b", move_version(head, "/b"))

    with pytest.raises(NotFoundError):  # nothing is at the old path any more
        await store.revise_context(workspace, None, _retitle("at the old path"), path="/a/doc")
    updated, _ = await store.revise_context(workspace, child.id, _retitle("by id"))
    assert (updated.path, updated.title, updated.version) == ("/b/doc", "by id", 3)

    await writer.delete_context(workspace, parent.id, recursive=True)
    with pytest.raises(NotFoundError):
        await store.revise_context(workspace, child.id, _retitle("gone"))
    assert await store.get_by_ids(workspace, [child.id]) == {}


async def test_a_move_or_a_delete_leaves_no_stale_head_behind(store, workspace):
    """LadybugDB empties its cache on any write but a revision (`LadybugStore.write`); Neo4j keeps its
    cache then, and the guard catches the head that went stale. Either way the next revision sees the move,
    and a deleted context is not revised from its cached head."""
    parent = await create_one(store, workspace, "/a", title="a")
    child = await create_one(store, workspace, "/a/doc", parent, title="doc")
    await store.revise_context(workspace, None, _retitle("cached"), path="/a/doc")
    assert len(store.heads) >= 1
    head = (await store.get_by_ids(workspace, [parent.id]))[parent.id]
    await store.move_context(workspace, parent.id, head.version, "/b", move_version(head, "/b"))
    if store.backend == "ladybug":
        assert len(store.heads) == 0
    updated, version = await store.revise_context(workspace, child.id, _retitle("by id"))
    assert (updated.path, updated.title, version.path) == ("/b/doc", "by id", "/b/doc")
    if store.backend == "ladybug":
        assert len(store.heads) == 1
    await store.delete_context(workspace, parent.id, recursive=True)
    if store.backend == "ladybug":
        assert len(store.heads) == 0
    with pytest.raises(NotFoundError):
        await store.revise_context(workspace, child.id, _retitle("gone"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(st.tuples(st.booleans(), st.integers(0, 2), st.booleans()), min_size=4, max_size=24))
async def test_concurrent_revisions_with_writes_around_the_cache_lose_nothing(store, around, schedule):
    """Each step counts up a context's `data.n`, through the store or around its cache, by id or by path,
    all at once: every count lands exactly once and the history has no gap."""
    workspace = f"hc-{uuid.uuid4().hex[:8]}"
    records = [await create_one(store, workspace, f"/c{i}", title=f"c{i}") for i in range(3)]

    async def step(through_store: bool, index: int, by_path: bool) -> None:
        writer = store if through_store else around
        rec = records[index]
        if by_path:
            await writer.revise_context(workspace, None, _count_up, path=rec.path)
        else:
            await writer.revise_context(workspace, rec.id, _count_up)

    # twice: the second round starts with cached heads (that writes around the cache changed)
    for _ in range(2):
        await asyncio.gather(*(step(*s) for s in schedule))
    for index, rec in enumerate(records):
        expected = 2 * sum(1 for _, i, _ in schedule if i == index)
        head = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
        history = (await store.versions_of(workspace, [rec.id]))[rec.id]
        assert head.data.get("n", 0) == expected and head.version == expected + 1
        assert [v.number for v in history] == list(range(1, expected + 2))
        assert [v.data.get("n", 0) for v in history] == list(range(expected + 1))


def _props(workspace: str, context_id: str, path: str, content: str = "") -> dict:
    return {"workspace": workspace, "id": context_id, "path": path, "title": "t", "content": content, "data": "{}"}


def test_the_cache_is_bounded_by_entries_and_bytes_and_keeps_its_paths_right():
    cache = HeadCache(max_entries=3, max_bytes=100)
    for i in range(5):
        cache.put(_props("w", f"id{i}", f"/p{i}"))
    assert len(cache) == 3 and cache.by_ids("w", ["id0", "id1"]) == {}
    assert set(cache.by_paths("w", ["/p2", "/p3", "/p4"])) == {"/p2", "/p3", "/p4"}
    cache.put(_props("w", "big", "/big", "x" * 80))  # 91 bytes of text: the others go to fit
    assert len(cache) == 1 and cache.by_paths("w", ["/p4"]) == {}
    cache.put(_props("w", "big", "/moved"))  # the same context at a new path: the old path is forgotten
    assert cache.by_paths("w", ["/big"]) == {} and cache.by_paths("w", ["/moved"])["/moved"]["id"] == "big"
    assert cache.by_ids("other", ["big"]) == {}  # workspaces apart
    cache.drop([("w", "big")])
    assert len(cache) == 0 and cache.by_paths("w", ["/moved"]) == {}
