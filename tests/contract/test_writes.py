"""Contract: update (compare-and-set), move (subtree rewrite) and delete."""

from __future__ import annotations

import asyncio

import pytest

from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.filters import Compare, subtree
from contextql.graph.records import Page

from contextql.graph.writes import WriteEffects

from .factories import changed, context, create_one, create_tree, move_version, new_id
from .test_transactions import _audit

# -- update_context -------------------------------------------------------------


async def test_update_replaces_state_and_appends_version(store, workspace):
    rec = await create_one(store, workspace, "/u", data={"a": 1}, tags=["x"])
    new, version = changed(rec, title="New", content="text", data={"b": {"c": None}}, tags=["y", "z"],
                           kind="task", inherit=False)
    await store.update_context(new, rec.version, version)
    assert await store.get_by_ids(workspace, [rec.id]) == {rec.id: new}
    assert await store.count_versions(workspace, rec.id) == 2
    assert await store.list_versions(workspace, rec.id, Page(1)) == [version]
    # the next update compares against the new version
    newer, version3 = changed(new, title="Newer")
    await store.update_context(newer, new.version, version3)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id].title == "Newer"


# The statements a title update sends, its audit entry included: Neo4j counts statements only
# (the head read under lock, then one composed write); LadybugDB counts BEGIN and COMMIT too.
# (Writing the new state and its version in one LadybugDB statement, 6 in all, measured 0.2-0.3 ms
# MORE CPU per update: bench/results/profile-2026-12-02-mutation.md.)
UPDATE_STATEMENTS = {"neo4j": 2, "ladybug": 7}


async def test_a_title_update_is_a_fixed_handful_of_statements(store, workspace):
    rec = await create_one(store, workspace, "/u", title="old")
    effects = WriteEffects(audit=[_audit(workspace)])
    new, version = changed(rec, title="new")
    before = store.queries
    await store.update_context(new, rec.version, version, effects)
    assert store.queries - before == UPDATE_STATEMENTS[store.backend]
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == new
    assert await store.list_versions(workspace, rec.id, Page(1)) == [version]
    assert len(await store.list_audit(workspace, Page(10))) == 1


async def test_update_with_stale_version_conflicts_and_changes_nothing(store, workspace):
    rec = await create_one(store, workspace, "/u")
    new, version = changed(rec, title="first")
    await store.update_context(new, rec.version, version)
    stale, stale_version = changed(rec, title="lost update")  # built from the old state
    with pytest.raises(ConflictError):
        await store.update_context(stale, rec.version, stale_version)
    assert await store.get_by_ids(workspace, [rec.id]) == {rec.id: new}
    assert await store.count_versions(workspace, rec.id) == 2


async def test_concurrent_updates_admit_exactly_one(store, workspace):
    rec = await create_one(store, workspace, "/race")
    attempts = [changed(rec, title=f"t{i}") for i in range(6)]
    results = await asyncio.gather(
        *(store.update_context(new, rec.version, version) for new, version in attempts), return_exceptions=True
    )
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if r is not None)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == attempts[winners[0]][0]
    assert await store.count_versions(workspace, rec.id) == 2


async def test_update_missing_or_foreign_context_is_not_found(store, workspace, other_workspace):
    ghost = context(workspace, "/ghost")
    new, version = changed(ghost)
    with pytest.raises(NotFoundError):
        await store.update_context(new, ghost.version, version)
    foreign = await create_one(store, other_workspace, "/f")
    as_mine = foreign.replace(workspace=workspace)
    new, version = changed(as_mine, title="hijack")
    with pytest.raises(NotFoundError):
        await store.update_context(new, foreign.version, version)
    assert (await store.get_by_ids(other_workspace, [foreign.id]))[foreign.id] == foreign


async def test_update_does_not_move(store, workspace):
    tree = await create_tree(store, workspace, ["/a", "/b", "/a/x"])
    x = tree["/a/x"]
    new, version = changed(x, title="renamed", path="/b/x", parent_id=tree["/b"].id)
    await store.update_context(new, x.version, version)
    stored = (await store.get_by_ids(workspace, [x.id]))[x.id]
    assert stored.path == "/a/x" and stored.parent_id == tree["/a"].id
    assert stored.title == "renamed"
    assert await store.get_by_paths(workspace, ["/b/x"]) == {}
    assert await store.count_children(workspace, [tree["/a"].id, tree["/b"].id]) == {tree["/a"].id: 1, tree["/b"].id: 0}


# -- move_context ---------------------------------------------------------------

TREE = ["/src", "/src/a", "/src/a/b", "/src/a/b/c", "/src/a/d", "/src/e", "/dst"]


async def test_move_subtree_rewrites_paths_and_relinks(store, workspace):
    tree = await create_tree(store, workspace, TREE)
    a, dst = tree["/src/a"], tree["/dst"]
    moved = (await store.move_context(workspace, a.id, a.version, "/dst/a2", move_version(a, "/dst/a2"))).count
    assert moved == 4
    expected = {"/src/a": "/dst/a2", "/src/a/b": "/dst/a2/b", "/src/a/b/c": "/dst/a2/b/c", "/src/a/d": "/dst/a2/d"}
    now = await store.get_by_ids(workspace, [tree[old].id for old in expected])
    for old, new_path in expected.items():
        rec = now[tree[old].id]
        assert rec.path == new_path
        assert rec.name == new_path.rsplit("/", 1)[-1]
        assert rec.depth == new_path.count("/")
    # lookups by path follow the move; old paths are free
    assert set(await store.get_by_paths(workspace, list(expected.values()))) == set(expected.values())
    assert await store.get_by_paths(workspace, list(expected)) == {}
    # the moved root is re-linked; descendants keep their parents
    assert now[a.id].parent_id == dst.id
    assert now[tree["/src/a/b"].id].parent_id == a.id
    children = await store.list_children(workspace, [tree["/src"].id, dst.id], Page(10))
    assert [c.path for c in children[tree["/src"].id]] == ["/src/e"]
    assert [c.path for c in children[dst.id]] == ["/dst/a2"]
    # depth and path filters see the new values
    assert await store.count_contexts(workspace, subtree("/dst", include_self=False)) == 4
    assert [c.path for c in await store.find_contexts(workspace, Compare("depth", "eq", 4), [], Page(10))] == [
        "/dst/a2/b/c"]
    # a version is appended to the moved context only
    assert now[a.id].version == a.version + 1
    assert await store.count_versions(workspace, a.id) == 2
    assert (await store.list_versions(workspace, a.id, Page(1)))[0].operation == "move"
    for old in ("/src/a/b", "/src/a/b/c", "/src/a/d"):
        assert await store.count_versions(workspace, tree[old].id) == 1
        assert now[tree[old].id].version == tree[old].version
    # a moved context can be updated against its new version
    new, version = changed(now[a.id], title="after move")
    await store.update_context(new, now[a.id].version, version)


async def test_move_to_root_and_rename_in_place(store, workspace):
    tree = await create_tree(store, workspace, ["/p", "/p/q", "/p/q/r"])
    q = tree["/p/q"]
    assert (await store.move_context(workspace, q.id, q.version, "/q", move_version(q, "/q"))).count == 2
    got = await store.get_by_paths(workspace, ["/q", "/q/r"])
    assert got["/q"].parent_id is None and got["/q/r"].parent_id == q.id
    assert await store.count_children(workspace, [tree["/p"].id]) == {tree["/p"].id: 0}
    # rename: same parent, new name
    q2 = got["/q"]
    assert (await store.move_context(workspace, q.id, q2.version, "/q-renamed", move_version(q2, "/q-renamed"))).count == 2
    assert set(await store.get_by_paths(workspace, ["/q", "/q/r", "/q-renamed", "/q-renamed/r"])) == {
        "/q-renamed", "/q-renamed/r"}


async def test_move_under_own_subtree_conflicts(store, workspace):
    tree = await create_tree(store, workspace, TREE)
    a = tree["/src/a"]
    for target in ("/src/a/b", "/src/a/b/c"):
        with pytest.raises(ConflictError):
            await store.move_context(workspace, a.id, a.version, target + "/a",
                                     move_version(a, target + "/a"))
    with pytest.raises(ConflictError):
        await store.move_context(workspace, a.id, a.version, "/src/a/a", move_version(a, "/src/a/a"))
    await _assert_unchanged(store, workspace, tree)


async def test_move_to_taken_path_conflicts(store, workspace):
    tree = await create_tree(store, workspace, TREE)
    a = tree["/src/a"]
    with pytest.raises(ConflictError) as info:
        await store.move_context(workspace, a.id, a.version, "/src/e", move_version(a, "/src/e"))
    assert "/src/e" in info.value.details["paths"]
    await _assert_unchanged(store, workspace, tree)


async def test_move_with_stale_version_conflicts(store, workspace):
    tree = await create_tree(store, workspace, TREE)
    a = tree["/src/a"]
    with pytest.raises(ConflictError):
        await store.move_context(workspace, a.id, a.version + 1, "/dst/a", move_version(a, "/dst/a"))
    await _assert_unchanged(store, workspace, tree)


async def test_move_missing_context_or_parent_is_not_found(store, workspace, other_workspace):
    tree = await create_tree(store, workspace, TREE)
    a = tree["/src/a"]
    ghost = context(workspace, "/ghost")
    with pytest.raises(NotFoundError):
        await store.move_context(workspace, ghost.id, 1, "/g", move_version(ghost, "/g"))
    with pytest.raises(NotFoundError):
        await store.move_context(workspace, a.id, a.version, "/nowhere/a", move_version(a, "/nowhere/a"))
    foreign = await create_one(store, other_workspace, "/f")
    with pytest.raises(NotFoundError):
        await store.move_context(workspace, a.id, a.version, "/f/a", move_version(a, "/f/a"))
    with pytest.raises(NotFoundError):  # another workspace's context cannot be moved from here
        await store.move_context(workspace, foreign.id, foreign.version, "/x",
                                 move_version(foreign.replace(workspace=workspace), "/x"))
    await _assert_unchanged(store, workspace, tree)


async def test_move_deep_subtree_beyond_thirty_levels(store, workspace):
    chain = ["/".join([""] + [f"n{i}" for i in range(depth + 1)]) for depth in range(40)]
    tree = await create_tree(store, workspace, ["/target", *chain])
    top = tree[chain[0]]
    moved = await store.move_context(workspace, top.id, top.version, "/target/n0",
                                     move_version(top, "/target/n0"))
    assert moved.count == 40
    deepest = (await store.get_by_ids(workspace, [tree[chain[-1]].id]))[tree[chain[-1]].id]
    assert deepest.path == "/target" + chain[-1]
    assert deepest.depth == 41
    assert await store.get_by_paths(workspace, [chain[-1]]) == {}
    assert await store.count_contexts(workspace, subtree("/target", include_self=False)) == 40


async def _assert_unchanged(store, workspace, tree):
    assert await store.get_by_ids(workspace, [r.id for r in tree.values()]) == {r.id: r for r in tree.values()}
    assert set(await store.get_by_paths(workspace, list(tree))) == set(tree)
    for rec in tree.values():
        assert await store.count_versions(workspace, rec.id) == 1


# -- delete_context -------------------------------------------------------------


async def test_delete_leaf(store, workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/b"])
    b = tree["/a/b"]
    new, version = changed(b, title="v2")
    await store.update_context(new, b.version, version)
    assert (await store.delete_context(workspace, b.id, recursive=False))[1] == 1
    assert await store.get_by_ids(workspace, [b.id]) == {}
    assert await store.get_by_paths(workspace, ["/a/b"]) == {}
    assert await store.count_versions(workspace, b.id) == 0
    assert await store.get_version(workspace, b.id, 1) is None
    assert await store.list_versions(workspace, b.id, Page(10)) == []
    assert await store.count_children(workspace, [tree["/a"].id]) == {tree["/a"].id: 0}
    # the path is free again
    again = await create_one(store, workspace, "/a/b", tree["/a"])
    assert (await store.get_by_paths(workspace, ["/a/b"]))["/a/b"].id == again.id


async def test_delete_with_children_needs_recursive(store, workspace):
    tree = await create_tree(store, workspace, ["/a", "/a/b", "/a/b/c", "/a/d", "/z"])
    a = tree["/a"]
    with pytest.raises(ConflictError):
        await store.delete_context(workspace, a.id, recursive=False)
    assert len(await store.get_by_ids(workspace, [r.id for r in tree.values()])) == 5
    assert (await store.delete_context(workspace, a.id, recursive=True))[1] == 4
    assert await store.get_by_ids(workspace, [r.id for r in tree.values()]) == {tree["/z"].id: tree["/z"]}
    assert await store.count_contexts(workspace, None) == 1
    gone = await store.versions_of(workspace, [r.id for r in tree.values() if r.path != "/z"])
    assert all(v == [] for v in gone.values())


async def test_delete_recursive_on_a_leaf_and_deep_subtree(store, workspace):
    leaf = await create_one(store, workspace, "/leaf")
    assert (await store.delete_context(workspace, leaf.id, recursive=True))[1] == 1
    chain = ["/".join([""] + [f"n{i}" for i in range(depth + 1)]) for depth in range(40)]
    tree = await create_tree(store, workspace, chain)
    assert (await store.delete_context(workspace, tree[chain[0]].id, recursive=True))[1] == 40
    assert await store.count_contexts(workspace, None) == 0


async def test_delete_missing_or_foreign_is_not_found(store, workspace, other_workspace):
    with pytest.raises(NotFoundError):
        await store.delete_context(workspace, new_id(), recursive=True)
    foreign = await create_one(store, other_workspace, "/f")
    with pytest.raises(NotFoundError):
        await store.delete_context(workspace, foreign.id, recursive=True)
    assert await store.get_by_ids(other_workspace, [foreign.id]) == {foreign.id: foreign}
    assert await store.count_versions(other_workspace, foreign.id) == 1
