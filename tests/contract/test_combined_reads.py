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
            for counted in (False, True):
                plan = TreePlan(page=top, count=counted, below=TreePlan(page=below, count=True))
                for paths in (["/a"], ["/a", "/b", "/missing"], ["/a/c", "/a/x", "/a/q"]):
                    expected = await GraphStore.read_tree(store, workspace, paths, plan)
                    assert await store.read_tree(workspace, paths, plan) == expected, (top, below, counted, paths)
    counts_only = TreePlan(page=None, count=True)
    assert await store.read_tree(workspace, ["/a", "/b"], counts_only) == await GraphStore.read_tree(
        store, workspace, ["/a", "/b"], counts_only)
