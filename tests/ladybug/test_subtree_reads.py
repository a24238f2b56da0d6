"""LadybugDB path-prefix reads by walking the subtree (graph/ladybug/subtree.py) against a plain
filter over every context: random trees, random prefixes, random pages."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.filters import And, Compare, Filter
from contextql.graph.ladybug import LadybugStore
from contextql.graph.ladybug.subtree import SubtreePolicy, subtree_root
from contextql.graph.records import ContextRecord, Page
from contextql.resolvers.paths import MAX_DEPTH
from tests.contract.factories import context, create_tree, move_version, snapshot

ALWAYS = SubtreePolicy(min_table=0, max_share=1.0)
NEVER = SubtreePolicy(min_table=10**12)


@pytest.fixture
async def lady(tmp_path) -> LadybugStore:
    from contextql.migrations import migrate

    store = LadybugStore(str(tmp_path / "graph.lbug"), subtree_policy=ALWAYS, inline_read_ms=10_000)  # counts exact
    await store.open()
    await migrate(store)
    yield store
    await store.close()


_workspaces = itertools.count()
NAMES = ["a", "b", "ab", "b1", "a-b"]


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(path, kind) in creation order (parents first); names share prefixes on purpose."""
    nodes: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 30))):
        parent = draw(st.sampled_from(["", *(path for path, _ in nodes)]))
        path = f"{parent}/{draw(st.sampled_from(NAMES))}"
        if all(path != other for other, _ in nodes):
            nodes.append((path, draw(st.sampled_from(["x", "y"]))))
    return nodes


@st.composite
def prefixes(draw: st.DrawFn, paths: list[str]) -> str:
    path = draw(st.sampled_from(paths))
    return draw(st.sampled_from([path, path + "/", path[: draw(st.integers(0, len(path)))], path + "/zz"]))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(data=st.data())
async def test_walk_equals_a_plain_filter(lady, data):
    nodes = data.draw(trees())
    workspace = f"w{next(_workspaces)}"
    built: dict[str, ContextRecord] = {}
    for path, kind in nodes:
        built[path] = context(workspace, path, built.get(path.rsplit("/", 1)[0]), kind=kind)
    await lady.create_contexts(list(built.values()), [snapshot(rec) for rec in built.values()])
    kinds = dict(nodes)
    prefix = data.draw(prefixes([path for path, _ in nodes]))
    by_kind = data.draw(st.booleans())
    where: Filter = Compare("path", "startsWith", prefix)
    if by_kind:
        where = And((where, Compare("kind", "eq", "x")))
    expected = sorted(path for path, kind in kinds.items() if path.startswith(prefix) and (kind == "x" or not by_kind))
    limit = data.draw(st.integers(1, 5))
    after_path = data.draw(st.one_of(st.none(), st.sampled_from(sorted(kinds))))
    after = None if after_path is None else (after_path,)
    rows, total = await lady.find_and_count_contexts(workspace, where, [], Page(limit, after))
    assert total == len(expected)
    page = [p for p in expected if after_path is None or p > after_path][:limit]
    assert [row.path for row in rows] == page
    assert [row.path for row in await lady.find_contexts(workspace, where, [], Page(limit, after))] == page
    assert await lady.count_contexts(workspace, where) == len(expected)


async def test_the_walk_is_taken_and_a_big_subtree_is_scanned_next_time(lady, workspace):
    tree = await create_tree(lady, workspace, ["/r", "/r/a", "/r/a/b", "/r/c"])
    where = Compare("path", "startsWith", "/r/")
    assert (await lady.count_contexts(workspace, where)) == 3
    assert lady._subtree_sizes._sizes[tree["/r"].id][0] == 3  # walked: its size is known
    lady.subtree_policy = SubtreePolicy(min_table=0, max_share=0.1)
    assert await lady.count_contexts(workspace, where) == 3  # walked (unknown size), then too big
    before = lady.queries
    assert await lady.find_and_count_contexts(workspace, where, [], Page(2)) == (
        [tree["/r/a"], tree["/r/a/b"]], 3)
    assert lady.queries - before == 1  # the scan: the root's id is the earlier walks' hint


async def test_a_hinted_root_that_moved_or_went_is_looked_up_again(lady, workspace):
    """The root's id from an earlier read is a hint: after the context at the path moved (and
    another took its place) or was deleted, the walk still reads the subtree at the path."""
    tree = await create_tree(lady, workspace, ["/r", "/r/a", "/s"])
    where = Compare("path", "startsWith", "/r/")
    assert await lady.find_and_count_contexts(workspace, where, [], Page(10)) == ([tree["/r/a"]], 1)
    assert lady._subtree_sizes.root_id(workspace, "/r") == tree["/r"].id
    r = tree["/r"]
    await lady.move_context(workspace, r.id, r.version, "/s/r", move_version(r, "/s/r"))
    other = await create_tree(lady, workspace, ["/r", "/r/b"])
    assert lady._subtree_sizes.root_id(workspace, "/r") == r.id  # stale
    rows, total = await lady.find_and_count_contexts(workspace, where, [], Page(10))
    assert ([row.path for row in rows], total) == (["/r/b"], 1)
    assert await lady.count_contexts(workspace, where) == 1
    assert lady._subtree_sizes.root_id(workspace, "/r") == other["/r"].id
    lady._subtree_sizes.set_root_id(workspace, "/r", "gone")  # stands for a deleted context
    assert await lady.count_contexts(workspace, where) == 1
    lady._subtree_sizes.set_root_id(workspace, "/r", "gone")
    assert await lady.find_and_count_contexts(workspace, where, [], Page(10)) == ([other["/r/b"]], 1)


async def test_a_walk_without_descendants_matches_nothing_even_for_a_null_test(lady, workspace):
    """The walk's one row for a root without descendants has no context: a condition true of
    null (`isNull`) or none left after the implied prefix must not count it."""
    await create_tree(lady, workspace, ["/r", "/r/leaf"])
    for where in (Compare("path", "startsWith", "/r/leaf/"),
                  And((Compare("path", "startsWith", "/r/leaf/"), Compare("kind", "isNull", True)))):
        assert await lady.find_and_count_contexts(workspace, where, [], Page(5)) == ([], 0)
        assert await lady.count_contexts(workspace, where) == 0


async def test_a_projected_page_holds_the_fields_read(lady, workspace):
    """`fields`: the walk and the scan read the page's rows with those columns (and the ones a
    cursor needs) only; the values are the complete records'."""
    tree = await create_tree(lady, workspace, ["/r", "/r/a", "/r/a/b", "/r/c"])
    where = Compare("path", "startsWith", "/r/")
    for policy in (ALWAYS, NEVER):
        lady.subtree_policy = policy
        rows, total = await lady.find_and_count_contexts(workspace, where, [], Page(2), frozenset({"title"}))
        assert total == 3
        assert [(row.path, row.title, row.id) for row in rows] == [
            (tree[p].path, tree[p].title, tree[p].id) for p in ("/r/a", "/r/a/b")]


async def test_the_deepest_subtree_a_path_allows_is_walked(lady, workspace):
    chain = ["/d" + "/n" * level for level in range(MAX_DEPTH)]
    tree = await create_tree(lady, workspace, chain)
    where = Compare("path", "startsWith", "/d/")
    rows, total = await lady.find_and_count_contexts(workspace, where, [], Page(100))
    assert total == len(chain) - 1
    assert [row.path for row in rows] == sorted(chain[1:])
    assert lady._subtree_sizes._sizes[tree["/d"].id][0] == len(chain) - 1  # walked, not scanned
    assert await lady.count_contexts(workspace, where) == len(chain) - 1
    assert await under_problems(lady) == []


async def under_problems(store: LadybugStore) -> list[str]:
    """Where UNDER (each context's links to its ancestors) differs from the closure of CHILD_OF."""
    under = {tuple(row) for row in await store._engine.read("MATCH (c:Context)-[:UNDER]->(a:Context) RETURN c.id, a.id")}
    parent = dict(await store._engine.read("MATCH (c:Context)-[:CHILD_OF]->(p:Context) RETURN c.id, p.id"))
    closure = set()
    for child in parent:
        ancestor = parent.get(child)
        while ancestor is not None:
            closure.add((child, ancestor))
            ancestor = parent.get(ancestor)
    return [f"missing {pair}" for pair in sorted(closure - under)] + [f"extra {pair}" for pair in sorted(under - closure)]


@FUZZ
@given(data=st.data())
async def test_under_is_the_closure_of_child_of_through_creates_moves_and_deletes(lady, data):
    """Random trees, then random moves (to a root or under a context outside the subtree), creates
    below moved contexts and deletes: UNDER stays CHILD_OF's transitive closure, and every prefix
    read agrees with a plain filter over the paths."""
    workspace = f"w{next(_workspaces)}"
    nodes = data.draw(trees())
    await create_tree(lady, workspace, [path for path, _ in nodes])
    for step in range(data.draw(st.integers(1, 6))):
        every = {r.path: r for r in await lady.find_contexts(workspace, None, [], Page(1000))}
        if not every:
            break
        record = every[data.draw(st.sampled_from(sorted(every)))]
        action = data.draw(st.sampled_from(["move", "move", "create", "delete"]))
        if action == "move":
            outside = sorted(p for p in every if p != record.path and not p.startswith(record.path + "/"))
            parent = data.draw(st.sampled_from(["", *outside]))
            target = f"{parent}/m{step}"
            await lady.move_context(workspace, record.id, record.version, target, move_version(record, target))
        elif action == "create":
            await lady.create_contexts(*_one(workspace, f"{record.path}/c{step}", record))
        else:
            await lady.delete_context(workspace, record.id, True)
    assert await under_problems(lady) == []
    paths = sorted(r.path for r in await lady.find_contexts(workspace, None, [], Page(1000)))
    for root in paths:
        expected = [p for p in paths if p.startswith(root + "/")]
        rows, total = await lady.find_and_count_contexts(workspace, Compare("path", "startsWith", root + "/"), [],
                                                         Page(1000))
        assert ([row.path for row in rows], total) == (expected, len(expected))


async def test_moves_and_creates_are_seen_by_the_next_walk(lady, workspace):
    tree = await create_tree(lady, workspace, ["/s", "/s/a", "/s/a/b", "/t"])
    where = Compare("path", "startsWith", "/t/")
    assert await lady.count_contexts(workspace, where) == 0
    a = tree["/s/a"]
    await lady.move_context(workspace, a.id, a.version, "/t/a", move_version(a, "/t/a"))
    rows, total = await lady.find_and_count_contexts(workspace, where, [], Page(10))
    assert ([row.path for row in rows], total) == (["/t/a", "/t/a/b"], 2)
    assert await lady.count_contexts(workspace, Compare("path", "startsWith", "/s/")) == 0


async def test_walks_racing_moves_and_creates(lady, workspace):
    """Walks read while a subtree moves back and forth and contexts are created in it: every page
    is one committed state's answer, and once writes stop the walk equals a plain filter."""
    tree = await create_tree(lady, workspace, ["/p", "/q", "/p/m", "/p/m/a", "/p/m/a/b", "/p/n", "/q/o"])
    prefixes = ["/p/", "/q/", "/p/m/", "/q/m/", "/p/m", "/q/m/a", "/p/n/"]
    writing = True

    async def mover() -> None:
        record = tree["/p/m"]
        for number in range(24):
            target = ("/q/m", "/p/m")[number % 2]
            await lady.move_context(workspace, record.id, record.version, target, move_version(record, target))
            record = (await lady.get_by_ids(workspace, [record.id]))[record.id]
            under = record.path + f"/c{number}"
            with contextlib.suppress(ConflictError, NotFoundError):  # moved away meanwhile: fine
                await lady.create_contexts(*_one(workspace, under, record))

    async def reader() -> None:
        reads = 0
        while writing or reads < 20:
            for prefix in prefixes:
                rows, total = await lady.find_and_count_contexts(
                    workspace, Compare("path", "startsWith", prefix), [], Page(50))
                paths = [row.path for row in rows]
                assert all(path.startswith(prefix) for path in paths), (prefix, paths)
                assert paths == sorted(paths) and total == len(paths), (prefix, paths, total)
                # one snapshot: the moved subtree is wholly under one of its two places
                assert not ({"/p/m/a", "/q/m/a"} <= set(paths)), paths
            reads += 1

    async def write_then_stop() -> None:
        nonlocal writing
        try:
            await mover()
        finally:
            writing = False

    await asyncio.gather(write_then_stop(), reader(), reader())
    assert await under_problems(lady) == []
    every = [row.path for row in await lady.find_contexts(workspace, None, [], Page(1000))]
    for prefix in prefixes:
        rows, total = await lady.find_and_count_contexts(workspace, Compare("path", "startsWith", prefix), [], Page(100))
        expected = [path for path in every if path.startswith(prefix)]
        assert ([row.path for row in rows], total) == (expected, len(expected))


async def test_a_root_moved_after_its_id_was_read_is_left_to_the_scan(lady, workspace):
    """The root's id and the walk are two statements: when the context found at the root path
    is somewhere else by the time of the walk, its subtree is not the prefix's."""
    from contextql.graph.ladybug import store as module

    tree = await create_tree(lady, workspace, ["/r", "/r/a", "/s", "/s/b"])
    elsewhere = tree["/s"].id  # stands for the root's context after a move

    def walk(run):
        def moved(query, params):
            return [[elsewhere]] if query == module._ROOT_ID else run(query, params)

        return module._walk_page(moved, lady._subtree_sizes, workspace, "/r", Compare("path", "startsWith", "/r/"),
                                 Page(10))

    assert await lady._engine.read_with(walk) is None
    assert await lady.find_and_count_contexts(workspace, Compare("path", "startsWith", "/r/"), [], Page(10)) == (
        [tree["/r/a"]], 1)


def _one(workspace: str, path: str, parent: ContextRecord) -> tuple[list[ContextRecord], list]:
    rec = context(workspace, path, parent)
    return [rec], [snapshot(rec)]


@pytest.mark.parametrize(
    ("where", "root"),
    [
        (Compare("path", "startsWith", "/a/b/"), "/a/b"),
        (Compare("path", "startsWith", "/a/b"), "/a"),
        (Compare("path", "startsWith", "/a"), None),
        (Compare("path", "startsWith", "/"), None),
        (Compare("path", "startsWith", "a/b"), None),
        (Compare("path", "eq", "/a/b"), None),
        (And((Compare("path", "startsWith", "/a/"), Compare("path", "startsWith", "/a/b/c"))), "/a/b"),
        (And((Compare("kind", "eq", "x"), Compare("path", "startsWith", "/q/"))), "/q"),
        (None, None),
    ],
)
def test_subtree_root(where, root):
    assert subtree_root(where) == root


@pytest.fixture
def workspace() -> str:
    return f"ws{next(_workspaces)}"


async def test_a_store_from_before_under_gets_it_from_its_tree(lady, workspace):
    """Migration 0009 builds UNDER for the contexts a store already holds."""
    from contextql.migrations import migrate

    await create_tree(lady, workspace, ["/r", "/r/a", "/r/a/b", "/r/a/b/c", "/s", "/s/t"])
    await lady._engine.write(lambda tx: (tx.run("DROP TABLE UNDER"),
                                         tx.run("MATCH (m:Migration {id: '0009_under'}) DELETE m")))
    assert await migrate(lady) == ["0009_under"]
    assert await under_problems(lady) == []
    rows, total = await lady.find_and_count_contexts(workspace, Compare("path", "startsWith", "/r/"), [], Page(10))
    assert ([row.path for row in rows], total) == (["/r/a", "/r/a/b", "/r/a/b/c"], 3)
