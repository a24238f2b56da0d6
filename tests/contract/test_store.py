"""Contract: lifecycle, migrations, creating contexts and reading them back.

Backend-neutral: only the `store` / `workspace` fixtures and the `GraphStore` API.
"""

from __future__ import annotations

import asyncio

import pytest

from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.records import Page
from contextql.migrations import available, migrate

from .factories import context, create_one, create_tree, new_id, snapshot, tree_records

# -- lifecycle and migrations ------------------------------------------------


async def test_backend_name_and_query_counter(store):
    assert store.backend != "abstract"
    assert isinstance(store.queries, int)


async def test_migrations_are_recorded_in_order(store):
    shipped = [m.id for m in available(store.backend)]
    assert shipped, "a backend ships at least its initial migration"
    assert await store.applied_migrations() == shipped


async def test_migrate_again_applies_nothing(store):
    assert await migrate(store) == []
    assert await migrate(store) == []


async def test_fresh_store_open_migrate_close(fresh_store):
    await fresh_store.open()
    await fresh_store.open()  # idempotent
    before = await fresh_store.applied_migrations()  # works before any migration ran
    applied_now = await migrate(fresh_store)
    shipped = [m.id for m in available(fresh_store.backend)]
    assert before + applied_now == shipped
    assert await fresh_store.applied_migrations() == shipped
    assert await migrate(fresh_store) == []
    await fresh_store.close()
    await fresh_store.close()  # idempotent


# -- create -------------------------------------------------------------------


async def test_create_single_and_read_back(store, workspace):
    rec = context(workspace, "/a", data={"k": "v"}, tags=["t1", "t2"], title="Alpha", content="body")
    await store.create_contexts([rec], [snapshot(rec)])
    assert await store.get_by_ids(workspace, [rec.id]) == {rec.id: rec}
    assert await store.get_by_paths(workspace, ["/a"]) == {"/a": rec}
    versions = await store.list_versions(workspace, rec.id, Page(10))
    assert versions == [snapshot(rec)]


async def test_create_batch_parents_first(store, workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/b", "/a/b/c", "/a/d", "/e"])
    found = await store.get_by_ids(workspace, [r.id for r in tree.values()])
    assert found == {r.id: r for r in tree.values()}
    children = await store.list_children(workspace, [tree["/a"].id, tree["/a/b"].id, tree["/e"].id], Page(10))
    assert [c.path for c in children[tree["/a"].id]] == ["/a/b", "/a/d"]
    assert [c.path for c in children[tree["/a/b"].id]] == ["/a/b/c"]
    assert children[tree["/e"].id] == []
    for rec in tree.values():
        assert await store.count_versions(workspace, rec.id) == 1


async def test_create_under_existing_parent(store, workspace):
    root = await create_one(store, workspace, "/root")
    child = await create_one(store, workspace, "/root/child", root)
    assert (await store.get_by_paths(workspace, ["/root/child"]))["/root/child"].parent_id == root.id
    assert await store.count_children(workspace, [root.id]) == {root.id: 1}
    assert child.id in (await store.get_by_ids(workspace, [child.id]))


async def test_create_empty_batch_is_a_no_op(store, workspace):
    await store.create_contexts([], [])
    assert await store.count_contexts(workspace, None) == 0


async def test_create_duplicate_path_conflicts_and_writes_nothing(store, workspace):
    existing = await create_one(store, workspace, "/taken")
    fresh = context(workspace, "/fresh")
    dup = context(workspace, "/taken")
    with pytest.raises(ConflictError) as info:
        await store.create_contexts([fresh, dup], [snapshot(fresh), snapshot(dup)])
    assert "/taken" in info.value.details["paths"]
    assert "/fresh" not in info.value.details["paths"]
    assert await store.get_by_paths(workspace, ["/fresh", "/taken"]) == {"/taken": existing}
    assert await store.get_by_ids(workspace, [fresh.id, dup.id]) == {}
    assert await store.count_versions(workspace, fresh.id) == 0
    assert await store.count_contexts(workspace, None) == 1


async def test_create_duplicate_path_inside_batch_conflicts(store, workspace):
    one, two = context(workspace, "/same"), context(workspace, "/same")
    with pytest.raises(ConflictError) as info:
        await store.create_contexts([one, two], [snapshot(one), snapshot(two)])
    assert "/same" in info.value.details["paths"]
    assert await store.count_contexts(workspace, None) == 0


async def test_create_duplicate_id_conflicts(store, workspace, other_workspace):
    existing = await create_one(store, workspace, "/x")
    clash = context(workspace, "/y", id=existing.id)
    with pytest.raises(ConflictError) as info:
        await store.create_contexts([clash], [snapshot(clash)])
    assert info.value.details["paths"] == ["/y"]
    # ids are unique across workspaces too
    elsewhere = context(other_workspace, "/z", id=existing.id)
    with pytest.raises(ConflictError):
        await store.create_contexts([elsewhere], [snapshot(elsewhere)])
    assert await store.get_by_paths(workspace, ["/x", "/y"]) == {"/x": existing}
    assert await store.get_by_paths(other_workspace, ["/z"]) == {}


async def test_create_missing_parent_is_not_found_and_writes_nothing(store, workspace):
    ok = context(workspace, "/ok")
    orphan = context(workspace, "/ghost/child", new_id())
    with pytest.raises(NotFoundError):
        await store.create_contexts([ok, orphan], [snapshot(ok), snapshot(orphan)])
    assert await store.get_by_ids(workspace, [ok.id, orphan.id]) == {}
    assert await store.count_versions(workspace, ok.id) == 0
    assert await store.count_contexts(workspace, None) == 0


async def test_create_parent_later_in_batch_is_not_found(store, workspace):
    parent = context(workspace, "/p")
    child = context(workspace, "/p/c", parent)
    with pytest.raises(NotFoundError):
        await store.create_contexts([child, parent], [snapshot(child), snapshot(parent)])
    assert await store.count_contexts(workspace, None) == 0


async def test_create_parent_in_other_workspace_is_not_found(store, workspace, other_workspace):
    foreign = await create_one(store, other_workspace, "/p")
    child = context(workspace, "/p/c", foreign)
    with pytest.raises(NotFoundError):
        await store.create_contexts([child], [snapshot(child)])
    assert await store.count_contexts(workspace, None) == 0


async def test_failed_batch_leaves_nothing_half_written(store, workspace):
    """A big batch whose last record conflicts keeps none of the others, nor their versions."""
    await create_one(store, workspace, "/end")
    paths = ["/bulk"] + [f"/bulk/n{i:03d}" for i in range(150)]
    built = tree_records(workspace, paths)
    clash = context(workspace, "/end")
    records = [*built.values(), clash]
    with pytest.raises(ConflictError):
        await store.create_contexts(records, [snapshot(r) for r in records])
    assert await store.get_by_ids(workspace, [r.id for r in built.values()]) == {}
    assert await store.count_contexts(workspace, None) == 1
    assert await store.versions_of(workspace, [built["/bulk"].id]) == {built["/bulk"].id: []}
    # and the same batch without the clash goes through
    await store.create_contexts(list(built.values()), [snapshot(r) for r in built.values()])
    assert await store.count_children(workspace, [built["/bulk"].id]) == {built["/bulk"].id: 150}


# -- get_by_ids / get_by_paths ---------------------------------------------------


async def test_reads_are_scoped_to_the_workspace(store, workspace, other_workspace):
    mine = await create_one(store, workspace, "/shared", title="mine")
    theirs = await create_one(store, other_workspace, "/shared", title="theirs")
    assert await store.get_by_paths(workspace, ["/shared"]) == {"/shared": mine}
    assert await store.get_by_paths(other_workspace, ["/shared"]) == {"/shared": theirs}
    assert await store.get_by_ids(workspace, [mine.id, theirs.id]) == {mine.id: mine}
    assert await store.get_by_ids(other_workspace, [mine.id, theirs.id]) == {theirs.id: theirs}


async def test_missing_ids_and_paths_are_absent(store, workspace):
    rec = await create_one(store, workspace, "/here")
    assert await store.get_by_ids(workspace, [rec.id, new_id()]) == {rec.id: rec}
    assert await store.get_by_paths(workspace, ["/here", "/nowhere"]) == {"/here": rec}
    assert await store.get_by_ids(workspace, []) == {}
    assert await store.get_by_paths(workspace, []) == {}


async def test_repeated_keys_are_answered_once(store, workspace):
    rec = await create_one(store, workspace, "/r")
    assert await store.get_by_ids(workspace, [rec.id, rec.id]) == {rec.id: rec}
    assert await store.get_by_paths(workspace, ["/r", "/r"]) == {"/r": rec}


async def test_batch_reads_take_one_statement(store, workspace):
    tree = await create_tree(store, workspace, ["/a"] + [f"/a/c{i}" for i in range(30)])
    ids = [r.id for r in tree.values()]
    paths = list(tree)
    checks = [
        lambda: store.get_by_ids(workspace, ids),
        lambda: store.get_by_paths(workspace, paths),
        lambda: store.list_children(workspace, ids, Page(5)),
        lambda: store.count_children(workspace, ids),
        lambda: store.versions_of(workspace, ids),
    ]
    for check in checks:
        before = store.queries
        await check()
        assert store.queries - before == 1


async def test_deep_tree_beyond_thirty_levels(store, workspace):
    paths = ["/".join([""] + [f"l{i}" for i in range(depth + 1)]) for depth in range(40)]
    tree = await create_tree(store, workspace, paths)
    deepest = tree[paths[-1]]
    assert deepest.depth == 40
    assert (await store.get_by_paths(workspace, [paths[-1]]))[paths[-1]] == deepest
    assert await store.count_children(workspace, [tree[paths[-2]].id]) == {tree[paths[-2]].id: 1}


# -- list_children / count_children ---------------------------------------------


async def test_list_children_ordered_by_name_and_paged(store, workspace):
    names = ["delta", "alpha", "echo", "charlie", "bravo", "Zulu", "a", "é", "Ω", "a b", "a-b", "10", "9"]
    tree = await create_tree(store, workspace, ["/p"] + [f"/p/{n}" for n in names])
    pid = tree["/p"].id
    ordered = sorted(names)  # by code point: "10" < "9" < "Zulu" < "a" < "a b" < "a-b" < "alpha" ... < "é" < "Ω"
    everything = (await store.list_children(workspace, [pid], Page(100)))[pid]
    assert [c.name for c in everything] == ordered
    assert everything[0] == tree[f"/p/{ordered[0]}"]
    def at(i: int) -> tuple[str, str]:  # the (name, id) position of the i-th child
        return ordered[i], tree[f"/p/{ordered[i]}"].id

    page = (await store.list_children(workspace, [pid], Page(limit=2, after=at(2))))[pid]
    assert [c.name for c in page] == ordered[3:5]
    tail = (await store.list_children(workspace, [pid], Page(limit=10, after=at(4))))[pid]
    assert [c.name for c in tail] == ordered[5:]
    assert (await store.list_children(workspace, [pid], Page(limit=10, after=at(len(ordered) - 1))))[pid] == []
    assert (await store.list_children(workspace, [pid], Page(limit=0)))[pid] == []
    # the same pages when asked together with another parent
    other = await create_tree(store, workspace, ["/q", "/q/only"])
    for start, page in ((0, Page(100)), (3, Page(2, at(2))), (10, Page(4, at(9))), (13, Page(3, at(12)))):
        single = await store.list_children(workspace, [pid], page)
        both = await store.list_children(workspace, [pid, other["/q"].id], page)
        assert both[pid] == single[pid]
        assert [c.name for c in both[pid]] == ordered[start:start + page.limit]


async def test_list_children_of_many_parents_pages_each(store, workspace, other_workspace):
    tree = await create_tree(
        store, workspace,
        ["/a", "/b", "/c"] + [f"/a/{n}" for n in "zyxw"] + [f"/b/{n}" for n in "qp"],
    )
    foreign = await create_tree(store, other_workspace, ["/f", "/f/child"])
    unknown = new_id()
    ids = [tree["/a"].id, tree["/b"].id, tree["/c"].id, unknown, foreign["/f"].id]
    # one position for every parent (it need not be a row): past the name "pz"
    result = await store.list_children(workspace, ids, Page(limit=2, after=("pz", "")))
    assert set(result) == set(ids)
    assert [c.name for c in result[tree["/a"].id]] == ["w", "x"]
    assert [c.name for c in result[tree["/b"].id]] == ["q"]
    assert result[tree["/c"].id] == []
    assert result[unknown] == []
    assert result[foreign["/f"].id] == []
    assert await store.list_children(workspace, [], Page(10)) == {}


async def test_count_children(store, workspace, other_workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/1", "/a/2", "/a/2/x", "/b"])
    foreign = await create_tree(store, other_workspace, ["/f", "/f/child"])
    unknown = new_id()
    counts = await store.count_children(
        workspace, [tree["/a"].id, tree["/a/2"].id, tree["/b"].id, unknown, foreign["/f"].id]
    )
    assert counts == {tree["/a"].id: 2, tree["/a/2"].id: 1, tree["/b"].id: 0, unknown: 0, foreign["/f"].id: 0}
    assert await store.count_children(workspace, []) == {}


# -- data round trip ----------------------------------------------------------


async def test_data_json_round_trip(store, workspace):
    data = {
        "nested": {"list": [1, 2.5, "three", None, True, {"deep": {"deeper": []}}], "empty": {}},
        "unicode": "héllo wörld ✓ 日本語 🚀",
        "null": None,
        "big": 2**53 + 1,
        "negative": -17,
        "float": 0.1,
        "quote'\"": "back\\slash\nnewline\ttab",
        "ключ": ["значение"],
    }
    rec = context(workspace, "/data", data=data, title="Tïtle ✓", content="línea 1\nlínea 2 🚀",
                  tags=["ü", "日本"])
    await store.create_contexts([rec], [snapshot(rec)])
    got = (await store.get_by_ids(workspace, [rec.id]))[rec.id]
    assert got.data == data
    assert got == rec
    assert (await store.get_version(workspace, rec.id, 1)).data == data
    empty = context(workspace, "/empty", data={}, tags=[], content="", title="")
    await store.create_contexts([empty], [snapshot(empty)])
    assert (await store.get_by_ids(workspace, [empty.id]))[empty.id] == empty


# -- concurrency ----------------------------------------------------------------


async def test_concurrent_writes_are_all_applied(store, workspace):
    records = [context(workspace, f"/c{i:02d}") for i in range(20)]
    await asyncio.gather(*(store.create_contexts([r], [snapshot(r)]) for r in records))
    assert await store.count_contexts(workspace, None) == 20


async def test_concurrent_creates_of_one_path_admit_exactly_one(store, workspace):
    records = [context(workspace, "/race") for _ in range(8)]
    results = await asyncio.gather(
        *(store.create_contexts([r], [snapshot(r)]) for r in records), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
    assert await store.count_contexts(workspace, None) == 1


async def test_instances_migrating_at_once_both_start(fresh_store, tmp_path_factory):
    """Several API instances may start together against one database: none may fail on the race."""
    from tests.conftest import OPENERS

    second = await OPENERS[fresh_store.backend](tmp_path_factory) if fresh_store.backend != "ladybug" else fresh_store
    await fresh_store.open()
    if second is not fresh_store:
        await second.open()
    try:
        await asyncio.gather(migrate(fresh_store), migrate(second), migrate(fresh_store))
        assert await migrate(fresh_store) == []
    finally:
        if second is not fresh_store:
            await second.close()
