"""Contract: the combined reads answer exactly what their one-call-per-part definitions answer.

`find_and_count_contexts` is `find_contexts` + `count_contexts`, and `read_tree` is the level-by-level
default of `GraphStore.read_tree` (over the backend's own `list_children` / `count_children`), for
every page position: from the start, in the middle, past the end (an empty page whose parent or
filter still counts matches) and empty windows.
"""

from __future__ import annotations

import pytest

from contextql.graph.filters import And, Compare, Order
from contextql.graph.records import Page, TreePlan
from contextql.graph.store import GraphStore

from .factories import context, snapshot


@pytest.fixture
async def tree(store, workspace, other_workspace):
    """/a with 5 children (names out of insertion order), two of them with children; /b a leaf."""
    a = context(workspace, "/a", kind="folder")
    b = context(workspace, "/b", kind="folder")
    kids = [context(workspace, f"/a/{name}", a, kind="note" if name < "m" else "task", title=f"T{i}")
            for i, name in enumerate(["q", "c", "x", "a", "m"])]
    grand = [context(workspace, f"/a/c/{n}", kids[1]) for n in ("z", "y", "b")]
    grand += [context(workspace, "/a/x/one", kids[2], kind="task")]
    records = [a, b, *kids, *grand]
    await store.create_contexts(records, [snapshot(r) for r in records])
    twin = context(other_workspace, "/a", kind="folder")
    await store.create_contexts([twin], [snapshot(twin)])
    return {r.path: r for r in records}


FILTERS = [
    None,
    Compare("kind", "eq", "task"),
    And((Compare("path", "startsWith", "/a/"), Compare("kind", "eq", "note"))),
    Compare("kind", "eq", "nothing"),
]
ORDERS = [(), (Order("title", descending=True),), (Order("kind"), Order("created_at", descending=True))]


@pytest.mark.parametrize("where", FILTERS)
@pytest.mark.parametrize("order", ORDERS)
async def test_find_and_count_is_find_plus_count(store, workspace, tree, where, order) -> None:
    everything = await store.find_contexts(workspace, where, list(order), Page(100))
    keys = _keys(order)
    positions = [None] + [tuple(_value(rec, key) for key in keys) for rec in everything]
    for limit in (0, 1, 2, 100):
        for after in positions:
            page = Page(limit, after)
            expected = (await store.find_contexts(workspace, where, list(order), page),
                        await store.count_contexts(workspace, where))
            assert await store.find_and_count_contexts(workspace, where, list(order), page) == expected, (limit, after)


def _keys(order) -> list[str]:
    fields = [o.field for o in order]
    return fields + ([] if "path" in fields else ["path"])


def _value(rec, field: str):
    return getattr(rec, field)


async def test_read_tree_is_the_level_by_level_default(store, workspace, tree) -> None:
    c, x = tree["/a/c"], tree["/a/x"]
    windows = [Page(0), Page(1), Page(2), Page(10), Page(2, ("c", c.id)), Page(10, ("x", x.id)), Page(3, ("zz", ""))]
    for top in windows:
        for below in windows:
            for counted, shown in ((False, None), (True, None), (True, 1), (False, 0)):
                plan = TreePlan(page=top, count=counted, below=TreePlan(page=below, count=True), shown=shown)
                for paths in (["/a"], ["/a", "/b", "/missing"], ["/a/c", "/a/x", "/a/q"]):
                    expected = await GraphStore.read_tree(store, workspace, paths, plan)
                    assert await store.read_tree(workspace, paths, plan) == expected, (top, below, counted, shown, paths)
    counts_only = TreePlan(page=None, count=True)
    assert await store.read_tree(workspace, ["/a", "/b"], counts_only) == await GraphStore.read_tree(
        store, workspace, ["/a", "/b"], counts_only)


async def test_read_tree_reads_nothing_below_the_rows_past_shown(store, workspace, tree) -> None:
    """`TreePlan.shown`: a page of 2 read with its probe row (3 rows) has the level below read for its
    first 2 rows only, at every depth; the probe rows are in their pages, with no page or count of their own."""
    a, c, m, q = tree["/a"], tree["/a/c"], tree["/a/m"], tree["/a/q"]
    for fields in (None, frozenset({"path", "title"})):
        deepest = TreePlan(page=Page(3), count=True, shown=2)
        plan = TreePlan(page=Page(3), count=True, shown=2, fields=fields,
                        below=TreePlan(page=Page(3), count=True, shown=2, below=deepest))
        read = await store.read_tree(workspace, ["/a"], plan)
        if fields is None:  # the default reads complete records; a projected read's are partial
            assert read == await GraphStore.read_tree(store, workspace, ["/a"], plan)
        assert [r.path for r in read.children[a.id]] == ["/a/a", "/a/c", "/a/m"]  # /a/m: the probe row
        assert m.id not in read.children and m.id not in read.counts and q.id not in read.children
        assert [r.path for r in read.children[c.id]] == ["/a/c/b", "/a/c/y", "/a/c/z"]
        assert read.counts[c.id] == 3 and tree["/a/c/z"].id not in read.children
        assert set(read.children) == {a.id, tree["/a/a"].id, c.id, tree["/a/c/b"].id, tree["/a/c/y"].id}
