"""Neo4j only: a revision of a head this process wrote lately is one statement (graph/head_cache.py),
and a head from the cache that went stale is never written over.

"Another instance" is a second `Neo4jStore` on the same database: its writes never reach this
store's cache, as another API process's would not.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.graph import tree
from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.neo4j import Neo4jStore
from contextql.graph.head_cache import HeadCache
from contextql.graph.records import ContextRecord, VersionRecord

from tests.contract.factories import changed, create_one, move_version


def _workspace() -> str:
    return f"hc-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def other(neo4j_store):
    """Another instance on the same database."""
    store = Neo4jStore(uri=neo4j_store.uri, user="neo4j", password="", database="neo4j")
    await store.open()
    yield store
    await store.close()


def _retitle(title: str):
    def change(head: ContextRecord) -> tuple[ContextRecord, VersionRecord] | None:
        return None if head.title == title else changed(head, title=title)
    return change


def _count_up(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
    return changed(head, data={**head.data, "n": head.data.get("n", 0) + 1})


async def _titles(store, workspace: str, context_id: str) -> list[tuple[int, str]]:
    history = (await store.versions_of(workspace, [context_id]))[context_id]
    return [(v.number, v.title) for v in history]


async def test_the_second_revision_of_a_context_is_one_statement(neo4j_store):
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("one"), path="/doc")
    statements, fallbacks = store.queries, store.pessimistic_revisions
    updated, version = await store.revise_context(workspace, None, _retitle("two"), path="/doc")
    by_id, _ = await store.revise_context(workspace, rec.id, _retitle("three"))
    assert store.queries - statements == 2 and store.pessimistic_revisions == fallbacks
    assert (updated.version, version.number, by_id.version) == (3, 3, 4)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id].title == "three"
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "one"), (3, "two"), (4, "three")]


async def test_a_head_another_instance_wrote_since_is_read_again(neo4j_store, other):
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at version 2
    await other.revise_context(workspace, None, _retitle("theirs"), path="/doc")  # version 3, elsewhere
    fallbacks = store.pessimistic_revisions
    updated, _ = await store.revise_context(workspace, None, _retitle("ours again"), path="/doc")
    assert store.pessimistic_revisions == fallbacks + 1
    assert updated.version == 4
    assert await _titles(store, workspace, rec.id) == [(1, "start"), (2, "ours"), (3, "theirs"), (4, "ours again")]


async def test_no_change_judged_on_a_stale_head_is_judged_again(neo4j_store, other):
    """The cache says the title is already "ours"; another instance changed it: the update must land."""
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    await other.revise_context(workspace, None, _retitle("theirs"), path="/doc")
    updated, version = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (updated.title, updated.version, version is not None) == ("ours", 4, True)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id].title == "ours"
    # and a real no-change, over a current head from the cache, writes nothing and says so
    again, none = await store.revise_context(workspace, None, _retitle("ours"), path="/doc")
    assert (again.version, none) == (4, None) and len(await _titles(store, workspace, rec.id)) == 4


async def test_an_error_judged_on_a_stale_head_is_judged_again(neo4j_store, other):
    """A client that knows the current version is not told it is stale because this process is."""
    store, workspace = neo4j_store, _workspace()
    rec = await create_one(store, workspace, "/doc", title="start")
    await store.revise_context(workspace, None, _retitle("ours"), path="/doc")  # cached at 2
    await other.revise_context(workspace, None, _retitle("theirs"), path="/doc")  # 3

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


async def test_a_cached_head_that_moved_or_went_is_never_written(neo4j_store, other):
    store, workspace = neo4j_store, _workspace()
    parent = await create_one(store, workspace, "/a", title="a")
    child = await create_one(store, workspace, "/a/doc", parent, title="doc")
    await store.revise_context(workspace, None, _retitle("cached"), path="/a/doc")
    head = (await other.get_by_ids(workspace, [parent.id]))[parent.id]
    await other.move_context(workspace, parent.id, head.version, "/b", move_version(head, "/b"))

    with pytest.raises(NotFoundError):  # nothing is at the old path any more
        await store.revise_context(workspace, None, _retitle("at the old path"), path="/a/doc")
    updated, _ = await store.revise_context(workspace, child.id, _retitle("by id"))
    assert (updated.path, updated.title, updated.version) == ("/b/doc", "by id", 3)

    await other.delete_context(workspace, parent.id, recursive=True)
    with pytest.raises(NotFoundError):
        await store.revise_context(workspace, child.id, _retitle("gone"))
    assert await store.get_by_ids(workspace, [child.id]) == {}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(st.tuples(st.booleans(), st.integers(0, 2), st.booleans()), min_size=4, max_size=24))
async def test_concurrent_revisions_from_two_instances_lose_nothing(neo4j_store, other, schedule):
    """Each step counts up a context's `data.n`, through one instance or the other, by id or by path, all
    at once: every count lands exactly once and the history has no gap."""
    workspace = _workspace()
    records = [await create_one(neo4j_store, workspace, f"/c{i}", title=f"c{i}") for i in range(3)]

    async def step(mine: bool, index: int, by_path: bool) -> None:
        store = neo4j_store if mine else other
        rec = records[index]
        if by_path:
            await store.revise_context(workspace, None, _count_up, path=rec.path)
        else:
            await store.revise_context(workspace, rec.id, _count_up)

    # twice: the second round starts with heads both caches hold (and the other instance changed)
    for _ in range(2):
        await asyncio.gather(*(step(*s) for s in schedule))
    for index, rec in enumerate(records):
        expected = 2 * sum(1 for _, i, _ in schedule if i == index)
        head = (await neo4j_store.get_by_ids(workspace, [rec.id]))[rec.id]
        history = (await neo4j_store.versions_of(workspace, [rec.id]))[rec.id]
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
