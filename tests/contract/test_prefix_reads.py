"""Contract: `path startsWith` reads are string-wise prefixes, whatever way a store answers them.

The API's `contexts(where: {path: {startsWith: ...}})` passes the string as given, so a prefix
may end on a "/", end mid-segment, equal a context's path or name no context at all. LadybugDB
answers these by walking the subtree below the prefix's last "/" (graph/ladybug/subtree.py);
here it is made to walk every time, so these cases pin the walk to the scan's answers.
"""

from __future__ import annotations

import pytest

from contextql.graph.filters import And, Compare, Filter, Order, subtree
from contextql.graph.records import Page

from .factories import create_tree, move_version

TREE = ["/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/bc", "/a/bc/x", "/ab", "/ab/y", "/z"]


@pytest.fixture(autouse=True)
def walking(store):
    """LadybugDB walks every subtree (its default scans tables this small)."""
    if store.backend == "ladybug":
        from contextql.graph.ladybug.subtree import SubtreePolicy

        store.subtree_policy = SubtreePolicy(min_table=0, max_share=1.0)


@pytest.fixture
async def tree(store, workspace, other_workspace):
    built = await create_tree(store, workspace, TREE)
    await create_tree(store, other_workspace, ["/a", "/a/b", "/a/b/c"])  # look-alikes elsewhere
    return built


def starts(prefix: str) -> Filter:
    return Compare("path", "startsWith", prefix)


async def page_and_count(store, workspace, where, page=Page(100)):
    rows, total = await store.find_and_count_contexts(workspace, where, [], page)
    return [row.path for row in rows], total


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/a/b/", ["/a/b/c", "/a/b/c/d"]),  # a context's path and "/": its descendants
        ("/a/b", ["/a/b", "/a/b/c", "/a/b/c/d", "/a/bc", "/a/bc/x"]),  # mid-segment: siblings too
        ("/a/b/c", ["/a/b/c", "/a/b/c/d"]),  # equal to a path: the context itself and below
        ("/a/b/c/d/", []),  # a leaf
        ("/a/q/", []),  # below a path no context has
        ("/a/q", []),
        ("/a//b", []),  # an empty segment: no stored path has one
        ("/a", ["/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/bc", "/a/bc/x", "/ab", "/ab/y"]),  # top level
        ("/", TREE),
        ("", TREE),
        ("a/", []),
    ],
)
async def test_prefix_is_string_wise(store, workspace, tree, prefix, expected):
    assert await page_and_count(store, workspace, starts(prefix)) == (sorted(expected), len(expected))
    assert await store.count_contexts(workspace, starts(prefix)) == len(expected)
    found = await store.find_contexts(workspace, starts(prefix), [Order("path")], Page(3))
    assert [row.path for row in found] == sorted(expected)[:3]


async def test_prefix_with_other_conditions_and_the_deepest_prefix(store, workspace, tree):
    where = And((starts("/a/"), Compare("depth", "gte", 3), starts("/a/b")))
    assert await page_and_count(store, workspace, where) == (["/a/b/c", "/a/b/c/d", "/a/bc/x"], 3)
    assert await store.count_contexts(workspace, where) == 3
    assert await page_and_count(store, workspace, And((starts("/a/b/"), Compare("kind", "eq", "none")))) == ([], 0)


async def test_pages_of_a_prefix_follow_each_other_and_count_all(store, workspace, tree):
    where = starts("/a/")
    seen: list[str] = []
    after = None
    while True:
        rows, total = await page_and_count(store, workspace, where, Page(2, after))
        assert total == 5  # every page counts every match, also past the last one
        if not rows:
            break
        seen += rows
        after = (rows[-1],)
    assert seen == sorted(p for p in TREE if p.startswith("/a/"))


async def test_a_moved_subtree_is_found_under_its_new_path_only(store, workspace, tree):
    b = tree["/a/b"]
    await store.move_context(workspace, b.id, b.version, "/ab/b2", move_version(b, "/ab/b2"))
    assert await page_and_count(store, workspace, starts("/ab/")) == (["/ab/b2", "/ab/b2/c", "/ab/b2/c/d", "/ab/y"], 4)
    assert await page_and_count(store, workspace, starts("/a/b")) == (["/a/bc", "/a/bc/x"], 2)
    assert await page_and_count(store, workspace, starts("/a/b/")) == ([], 0)
    assert await store.count_contexts(workspace, starts("/ab/b2/")) == 2


async def test_descendants_to_a_depth(store, workspace, tree):
    where = subtree("/a/b", include_self=False, max_depth=1)
    assert [row.path for row in await store.find_contexts(workspace, where, [Order("path")], Page(10))] == ["/a/b/c"]
    where = subtree("/a", include_self=False, max_depth=2)
    assert [row.path for row in await store.find_contexts(workspace, where, [], Page(10, ("/a/b/c",)))] == [
        "/a/bc", "/a/bc/x"]


async def test_other_orders_keep_their_answers(store, workspace, tree):
    rows = await store.find_contexts(workspace, starts("/a/b"), [Order("depth", descending=True)], Page(3))
    assert [row.path for row in rows] == ["/a/b/c/d", "/a/b/c", "/a/bc/x"]
