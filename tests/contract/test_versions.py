"""Contract: version history reads."""

from __future__ import annotations

import pytest

from contextql.graph.records import Page

from .factories import changed, create_one, new_id, snapshot


@pytest.fixture
async def history(store, workspace):
    """A context with five versions; returns (final record, versions oldest first)."""
    rec = await create_one(store, workspace, "/h", title="v1")
    versions = [snapshot(rec)]
    for n in range(2, 6):
        new, version = changed(rec, title=f"v{n}", data={"n": n})
        await store.update_context(new, rec.version, version)
        rec = new
        versions.append(version)
    return rec, versions


async def test_list_versions_newest_first_and_paged(store, workspace, history):
    rec, versions = history
    newest_first = list(reversed(versions))
    assert await store.list_versions(workspace, rec.id, Page(10)) == newest_first
    assert await store.list_versions(workspace, rec.id, Page(2)) == newest_first[:2]
    assert await store.list_versions(workspace, rec.id, Page(2, after=(newest_first[1].number,))) == newest_first[2:4]
    assert await store.list_versions(workspace, rec.id, Page(10, after=(newest_first[3].number,))) == newest_first[4:]
    assert await store.list_versions(workspace, rec.id, Page(10, after=(newest_first[4].number,))) == []
    assert await store.list_versions(workspace, rec.id, Page(0)) == []
    assert await store.count_versions(workspace, rec.id) == 5


async def test_get_version(store, workspace, history):
    rec, versions = history
    for version in versions:
        assert await store.get_version(workspace, rec.id, version.number) == version
    assert await store.get_version(workspace, rec.id, 6) is None
    assert await store.get_version(workspace, rec.id, 0) is None
    assert await store.get_version(workspace, new_id(), 1) is None


async def test_get_version_at_boundaries(store, workspace, history):
    rec, versions = history
    first, second, last = versions[0], versions[1], versions[-1]
    assert await store.get_version_at(workspace, rec.id, first.created_at - 1) is None
    assert await store.get_version_at(workspace, rec.id, first.created_at) == first
    assert await store.get_version_at(workspace, rec.id, second.created_at - 1) == first
    assert await store.get_version_at(workspace, rec.id, second.created_at) == second
    assert await store.get_version_at(workspace, rec.id, last.created_at) == last
    assert await store.get_version_at(workspace, rec.id, last.created_at + 10**9) == last
    assert await store.get_version_at(workspace, new_id(), last.created_at) is None


async def test_versions_of_many_oldest_first(store, workspace, history):
    rec, versions = history
    other = await create_one(store, workspace, "/other")
    unknown = new_id()
    got = await store.versions_of(workspace, [rec.id, other.id, unknown])
    assert got == {rec.id: versions, other.id: [snapshot(other)], unknown: []}
    assert await store.versions_of(workspace, []) == {}


async def test_version_reads_are_scoped_to_the_workspace(store, workspace, other_workspace, history):
    rec, versions = history
    assert await store.list_versions(other_workspace, rec.id, Page(10)) == []
    assert await store.count_versions(other_workspace, rec.id) == 0
    assert await store.get_version(other_workspace, rec.id, 1) is None
    assert await store.get_version_at(other_workspace, rec.id, versions[-1].created_at) is None
    assert await store.versions_of(other_workspace, [rec.id]) == {rec.id: []}


async def test_version_fields_round_trip(store, workspace):
    rec = await create_one(store, workspace, "/f", data={"k": ["ü", None, {"x": 1.5}]}, tags=["a", "b"],
                           inherit=False, kind="task")
    new, version = changed(rec, content="new content ✓", tags=[])
    await store.update_context(new, rec.version, version)
    got = await store.get_version(workspace, rec.id, 2)
    assert got == version
    assert got.changed == ["content", "tags"]
    assert got.id == f"{rec.id}:2"
    assert (await store.get_version(workspace, rec.id, 1)).changed == []
