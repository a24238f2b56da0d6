"""Contract: context types, import_records and delete_workspace."""

from __future__ import annotations

import pytest

from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.records import Page

from .factories import (
    changed,
    context,
    context_type,
    create_one,
    create_tree,
    new_id,
    now,
    snapshot,
    tree_records,
)

SCHEMA = {
    "type": "object",
    "properties": {"priority": {"type": "integer", "minimum": 1}, "label": {"type": ["string", "null"]}},
    "required": ["priority"],
    "description": "Tâche ✓",
}

# -- context types ----------------------------------------------------------------


async def test_put_get_and_list_context_types(store, workspace, other_workspace):
    task = context_type(workspace, "task", SCHEMA)
    await store.put_context_type(task, None)
    await store.put_context_type(context_type(workspace, "adr"), None)
    await store.put_context_type(context_type(other_workspace, "zeta"), None)
    assert await store.get_context_type(workspace, "task") == task
    assert await store.get_context_type(workspace, "nope") is None
    assert await store.get_context_type(other_workspace, "task") is None
    assert [t.name for t in await store.list_context_types(workspace)] == ["adr", "task"]
    assert [t.name for t in await store.list_context_types(other_workspace)] == ["zeta"]
    assert await store.list_context_types(workspace + "-empty") == []


async def test_create_existing_type_conflicts(store, workspace):
    task = context_type(workspace, "task", SCHEMA)
    await store.put_context_type(task, None)
    with pytest.raises(ConflictError):
        await store.put_context_type(context_type(workspace, "task", {"type": "string"}), None)
    assert await store.get_context_type(workspace, "task") == task


async def test_replace_type_is_compare_and_set(store, workspace):
    task = context_type(workspace, "task", SCHEMA)
    await store.put_context_type(task, None)
    v2 = context_type(workspace, "task", {**SCHEMA, "required": []}, version=2, author="bob")
    await store.put_context_type(v2, 1)
    assert await store.get_context_type(workspace, "task") == v2
    stale = context_type(workspace, "task", {"type": "null"}, version=2)
    with pytest.raises(ConflictError):
        await store.put_context_type(stale, 1)
    assert await store.get_context_type(workspace, "task") == v2


async def test_replace_missing_type_is_not_found(store, workspace):
    with pytest.raises(NotFoundError):
        await store.put_context_type(context_type(workspace, "ghost", version=2), 1)
    assert await store.get_context_type(workspace, "ghost") is None


# -- import_records ---------------------------------------------------------------


async def test_import_round_trip_keeps_ids_versions_and_timestamps(store, workspace):
    """Export a workspace, delete it, import the export: everything reads back identically."""
    tree = await create_tree(store, workspace, ["/a", "/a/b", "/a/b/c", "/d"], data={"x": [1, None]})
    b = tree["/a/b"]
    b2, version = changed(b, title="edited", tags=["t"])
    await store.update_context(b2, b.version, version)
    await store.put_context_type(context_type(workspace, "note", SCHEMA), None)

    contexts = sorted((await store.get_by_ids(workspace, [r.id for r in tree.values()])).values(),
                      key=lambda r: r.depth)
    versions = [v for vs in (await store.versions_of(workspace, [r.id for r in contexts])).values() for v in vs]
    types = await store.list_context_types(workspace)
    assert len(versions) == 5

    assert (await store.delete_workspace(workspace))["contexts"] == 4
    await store.import_records(workspace, contexts, versions, types)

    assert await store.get_by_ids(workspace, [r.id for r in contexts]) == {r.id: r for r in contexts}
    assert await store.get_by_paths(workspace, ["/a/b"]) == {"/a/b": b2}
    assert await store.list_versions(workspace, b.id, Page(10)) == [version, snapshot(b)]
    assert await store.list_context_types(workspace) == types
    children = await store.list_children(workspace, [tree["/a"].id], Page(10))
    assert [c.id for c in children[tree["/a"].id]] == [b.id]


async def test_import_under_existing_parent(store, workspace):
    parent = await create_one(store, workspace, "/existing")
    at = now()
    child = context(workspace, "/existing/imported", parent, id=f"imported-{new_id()}", created_at=at, version=3)
    history = [snapshot(child.replace(version=n), "import", created_at=at + n) for n in (1, 2, 3)]
    await store.import_records(workspace, [child], history, [])
    assert await store.get_by_ids(workspace, [child.id]) == {child.id: child}
    assert await store.versions_of(workspace, [child.id]) == {child.id: history}
    assert await store.count_children(workspace, [parent.id]) == {parent.id: 1}


async def test_import_conflicts_write_nothing(store, workspace):
    taken = await create_one(store, workspace, "/taken")
    records = tree_records(workspace, ["/new", "/new/x"])
    fresh = list(records.values())
    fresh_versions = [snapshot(r, "import") for r in fresh]
    # path taken
    clash = context(workspace, "/taken")
    with pytest.raises(ConflictError) as info:
        await store.import_records(workspace, [*fresh, clash], [*fresh_versions, snapshot(clash)], [])
    assert "/taken" in info.value.details["paths"]
    # id taken
    same_id = context(workspace, "/other", id=taken.id)
    with pytest.raises(ConflictError):
        await store.import_records(workspace, [*fresh, same_id], fresh_versions, [])
    # type taken
    await store.put_context_type(context_type(workspace, "note"), None)
    with pytest.raises(ConflictError):
        await store.import_records(workspace, fresh, fresh_versions, [context_type(workspace, "note")])
    assert await store.get_by_ids(workspace, [r.id for r in fresh]) == {}
    assert await store.count_contexts(workspace, None) == 1
    assert await store.versions_of(workspace, [fresh[0].id]) == {fresh[0].id: []}
    # without the clashes it goes through
    await store.import_records(workspace, fresh, fresh_versions, [context_type(workspace, "other")])
    assert await store.count_contexts(workspace, None) == 3


async def test_import_empty_is_a_no_op(store, workspace):
    await store.import_records(workspace, [], [], [])
    assert await store.count_contexts(workspace, None) == 0


# -- delete_workspace ---------------------------------------------------------------


async def test_delete_workspace_removes_everything_of_it_only(store, workspace, other_workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/b", "/c"])
    await store.put_context_type(context_type(workspace, "note"), None)
    keep = await create_one(store, other_workspace, "/a")
    await store.put_context_type(context_type(other_workspace, "note"), None)

    assert (await store.delete_workspace(workspace))["contexts"] == 3
    assert await store.get_by_ids(workspace, [r.id for r in tree.values()]) == {}
    assert await store.get_by_paths(workspace, list(tree)) == {}
    assert await store.count_contexts(workspace, None) == 0
    assert await store.list_context_types(workspace) == []
    assert all(v == [] for v in (await store.versions_of(workspace, [r.id for r in tree.values()])).values())

    assert await store.get_by_ids(other_workspace, [keep.id]) == {keep.id: keep}
    assert await store.count_versions(other_workspace, keep.id) == 1
    assert [t.name for t in await store.list_context_types(other_workspace)] == ["note"]

    assert (await store.delete_workspace(workspace))["contexts"] == 0
    # the same ids and paths can be created again
    again = list(tree.values())
    await store.create_contexts(again, [snapshot(r) for r in again])
    assert await store.count_contexts(workspace, None) == 3


async def test_deleting_a_workspace_removes_every_kind_of_record(store, workspace):
    from contextql.graph.knowledge.records import Derivation, SourceRef

    tree = await create_tree(store, workspace, ["/a", "/a/b"])
    await store.put_context_type(context_type(workspace, "note"), None)
    await store.record_derivation(Derivation(workspace, tree["/a/b"].id, "/a/b", 1, [SourceRef(tree["/a"].id, "/a", 1)]))
    other = f"{workspace}-other"
    kept = await create_tree(store, other, ["/a"])

    removed = await store.delete_workspace(workspace)
    assert removed["contexts"] == 2 and removed["versions"] == 2 and removed["contextTypes"] == 1
    assert removed["lineageNodes"] == 2
    assert await store.count_contexts(workspace, None) == 0
    assert await store.list_context_types(workspace) == []
    assert (await store.lineage(workspace, tree["/a/b"].id, False, 2, 10)).edges == []
    assert (await store.get_by_ids(other, [kept["/a"].id])) != {}
    assert (await store.delete_workspace(workspace))["contexts"] == 0


async def test_deleting_a_context_type_is_refused_while_contexts_use_it(store, workspace):
    await store.put_context_type(context_type(workspace, "note"), None)
    await create_tree(store, workspace, ["/n"], kind="note")
    with pytest.raises(ConflictError) as refused:
        await store.delete_context_type(workspace, "note")
    assert refused.value.details["contexts"] == 1
    assert await store.get_context_type(workspace, "note") is not None
    assert await store.delete_context_type(workspace, "note", force=True) == 1
    assert await store.get_context_type(workspace, "note") is None
    with pytest.raises(NotFoundError):
        await store.delete_context_type(workspace, "note")
