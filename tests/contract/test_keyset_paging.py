"""Contract: every paged read pages by position (keyset), on every backend.

For each read: paging through everything in small pages gives exactly the unpaged result;
rows inserted or deleted between two pages are never repeated and never push an unseen row
out of view; a position of the wrong shape is `BadUserInputError` (never an engine error).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from contextql.graph import keyset
from contextql.graph.errors import BadUserInputError
from contextql.graph.filters import Compare, Order
from contextql.graph.knowledge.records import ExecutionFilter, ToolFilter
from contextql.graph.records import Page

from .factories import changed, context, create_one, create_tree, snapshot
from .test_access import entry
from .test_knowledge_tools import execution, publish

Read = Callable[[Page], Awaitable[list[Any]]]


async def page_through(read: Read, size: int, position: Callable[[Any], tuple], between=None) -> list[Any]:
    """Every row, `size` at a time, each page past the position of the last row of the one before.

    `between(n)` runs after page n (writes between requests)."""
    seen, after, n = [], None, 0
    while True:
        rows = await read(Page(size, after))
        assert len(rows) <= size
        if not rows:
            return seen
        seen += rows
        after = position(rows[-1])
        n += 1
        if between is not None:
            await between(n)


# -- contexts -------------------------------------------------------------------------------------

TITLES = ["b", "a", "B", "é", "a", "Ω", "", "a b", "10", "9", "b", "😀", "z", "a", "ß", "Z", "a", "m"]


@pytest.fixture
async def titled(store, workspace):
    """/t plus children with repeated and non-ASCII titles, different depths and times."""
    root = await create_one(store, workspace, "/t", title="root")
    records = [root]
    for i, title in enumerate(TITLES):
        parent = records[1 + (i - 1) // 3] if i >= 4 else root  # some grandchildren
        records.append(context(workspace, f"{parent.path}/n{i:02d}", parent, title=title, kind="k" + str(i % 3),
                               created_at=1_000 + (i % 5)))
    await store.create_contexts(records[1:], [snapshot(r) for r in records[1:]])
    return records


ORDERS = [
    [],
    [Order("title")],
    [Order("title", descending=True)],
    [Order("kind"), Order("title", descending=True)],
    [Order("depth", descending=True), Order("name")],
    [Order("created_at", descending=True)],
    [Order("path", descending=True)],
    [Order("version"), Order("updated_at")],
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: keyset.signature(keyset.contexts(o)))
async def test_contexts_page_through_every_order(store, workspace, titled, order):
    keys = keyset.contexts(order)
    everything = await store.find_contexts(workspace, None, order, Page(100))
    assert len(everything) == len(titled)
    for size in (1, 4, 7):
        paged = await page_through(
            lambda page: store.find_contexts(workspace, None, order, page), size, lambda r: keyset.position(r, keys)
        )
        assert [r.path for r in paged] == [r.path for r in everything]
    where = Compare("path", "startsWith", "/t/")
    filtered = await page_through(
        lambda page: store.find_contexts(workspace, where, order, page), 3, lambda r: keyset.position(r, keys)
    )
    assert [r.path for r in filtered] == [r.path for r in everything if r.path.startswith("/t/")]


async def test_contexts_inserts_and_deletes_between_pages(store, workspace):
    order = [Order("title")]
    keys = keyset.contexts(order)
    root = await create_one(store, workspace, "/w", title="0")
    made = {f"/w/{c}": await create_one(store, workspace, f"/w/{c}", root, title=c) for c in "bdfhjlnp"}
    where = Compare("path", "startsWith", "/w/")

    async def between(n: int) -> None:
        if n == 1:  # after b, d, f
            await create_one(store, workspace, "/w/a", root, title="a")  # before the position: not seen
            await create_one(store, workspace, "/w/c", root, title="c")  # before as well
            await create_one(store, workspace, "/w/g", root, title="g")  # after: seen
            await store.delete_context(workspace, made["/w/f"].id, False)  # the position's own row
            await store.delete_context(workspace, made["/w/j"].id, False)  # not seen yet: gone
            # an existing row moving its sort key backwards is not seen again
            new, version = changed(made["/w/l"], title="e")
            await store.update_context(new, made["/w/l"].version, version)

    seen = await page_through(
        lambda page: store.find_contexts(workspace, where, order, page), 3, lambda r: keyset.position(r, keys), between
    )
    titles = [r.title for r in seen]
    assert titles == ["b", "d", "f", "g", "h", "n", "p"]
    assert len({r.id for r in seen}) == len(seen)


# -- children -------------------------------------------------------------------------------------


async def test_children_page_through_and_survive_writes(store, workspace):
    names = ["delta", "alpha", "echo", "charlie", "bravo", "Zulu", "a", "é", "Ω", "a b", "10", "9"]
    tree = await create_tree(store, workspace, ["/p", "/q"] + [f"/p/{n}" for n in names] + [f"/q/{n}" for n in names[:5]])
    pid, qid = tree["/p"].id, tree["/q"].id

    def position(rec):
        return keyset.position(rec, keyset.CHILDREN)

    for size in (1, 5):
        alone = await page_through(lambda page: _children(store, workspace, [pid], page, pid), size, position)
        assert [c.name for c in alone] == sorted(names)
        together = await page_through(lambda page: _children(store, workspace, [pid, qid], page, pid), size, position)
        assert together == alone  # the batched statement pages identically

    async def between(n: int) -> None:
        if n == 1:  # after "10", "9", "Zulu"
            await create_one(store, workspace, "/p/0", tree["/p"])  # before: not seen
            await create_one(store, workspace, "/p/zz", tree["/p"])  # after: seen
            await store.delete_context(workspace, tree["/p/a b"].id, False)  # unseen: gone

    seen = await page_through(lambda page: _children(store, workspace, [pid, qid], page, pid), 3, position, between)
    expected = sorted(set(names) - {"a b"} | {"zz"})
    assert [c.name for c in seen] == expected


async def _children(store, workspace, parents, page, pid):
    return (await store.list_children(workspace, parents, page))[pid]


# -- versions -------------------------------------------------------------------------------------


async def test_versions_page_through_while_new_ones_arrive(store, workspace):
    rec = await create_one(store, workspace, "/v", title="v1")
    for n in range(2, 9):
        rec, version = _next(rec, n)
        await store.update_context(rec, rec.version - 1, version)
    latest = [rec]

    async def between(n: int) -> None:  # a newer version is written between every two pages
        new, version = _next(latest[0], latest[0].version + 1)
        await store.update_context(new, latest[0].version, version)
        latest[0] = new

    seen = await page_through(
        lambda page: store.list_versions(workspace, rec.id, page), 3, lambda v: (v.number,), between
    )
    assert [v.number for v in seen] == list(range(8, 0, -1))  # what was there at the start, once each


def _next(rec, n):
    new, version = changed(rec, title=f"v{n}")
    return new, version


# -- audit log ------------------------------------------------------------------------------------


async def test_audit_pages_through_ties_and_appends(store, workspace):
    entries = [entry(workspace, at) for at in (50, 40, 40, 40, 30, 20, 20, 10)]
    await store.append_audit(entries)
    newest_first = sorted(entries, key=lambda e: (e.at, e.id), reverse=True)
    assert await store.list_audit(workspace, Page(100)) == newest_first

    async def between(n: int) -> None:
        if n == 1:
            await store.append_audit([entry(workspace, 60), entry(workspace, 40)])

    seen = await page_through(lambda page: store.list_audit(workspace, page), 3, lambda e: (e.at, e.id), between)
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids))
    # every original entry once, in order; of the two appended only the 40 can land past the position
    assert [e for e in seen if e in entries] == newest_first
    assert all(e.at != 60 for e in seen)
    principal = await page_through(
        lambda page: store.list_audit(workspace, page, principal="ana"), 2, lambda e: (e.at, e.id)
    )
    assert len(principal) == await store.count_audit(workspace, principal="ana") == 10


# -- tools and executions -------------------------------------------------------------------------


async def test_tools_page_through_and_survive_writes(store, workspace):
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        await publish(store, workspace, name, "1.0.0")

    async def between(n: int) -> None:
        if n == 1:  # after alpha, bravo
            await publish(store, workspace, "aardvark", "1.0.0")  # before: not seen
            await publish(store, workspace, "foxtrot", "1.0.0")  # after: seen
            await publish(store, workspace, "bravo", "2.0.0")  # a new latest version: still once

    seen = await page_through(lambda page: store.find_tools(workspace, ToolFilter(), page), 2, lambda r: (r[0].name,), between)
    assert [t.name for t, _ in seen] == ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


async def test_executions_page_through_ties(store, workspace):
    runs = [replace(execution(workspace), started_at=at) for at in (5, 9, 9, 9, 7, 1, 9)]
    for run in runs:
        await store.create_execution(run)
    newest_first = sorted(runs, key=lambda e: (-e.started_at, e.id))
    assert [e.id for e in await store.find_executions(workspace, ExecutionFilter(), Page(100))] == [e.id for e in newest_first]

    async def between(n: int) -> None:
        if n == 1:
            await store.create_execution(replace(execution(workspace), started_at=100))  # newer: before the position

    seen = await page_through(
        lambda page: store.find_executions(workspace, ExecutionFilter(), page), 2, lambda e: (e.started_at, e.id), between
    )
    assert [e.id for e in seen] == [e.id for e in newest_first]


# -- positions of the wrong shape -----------------------------------------------------------------

BAD_POSITIONS = {
    "too short": (),
    "too long": ("a", "b", "c", "d"),
    "int for a string": (1, 2),
    "string for an int": ("1", "x"),
    "bool": (True, False),
    "float": (1.5, "x"),
    "above int64": (2**63, "x"),
    "below int64": (-(2**63) - 1, "x"),
    "lone surrogate": ("\ud800", "\udfff"),
    "too long text": ("x" * (keyset.MAX_KEY_TEXT + 1), "x"),
    "null": (None, None),
}


def _reads(store, workspace):
    return {
        "contexts": lambda page: store.find_contexts(workspace, None, [Order("title")], page),
        "contexts by depth": lambda page: store.find_contexts(workspace, None, [Order("depth")], page),
        "children": lambda page: store.list_children(workspace, ["x", "y"], page),
        "child": lambda page: store.list_children(workspace, ["x"], page),
        "versions": lambda page: store.list_versions(workspace, "x", page),
        "audit": lambda page: store.list_audit(workspace, page),
        "tools": lambda page: store.find_tools(workspace, ToolFilter(), page),
        "executions": lambda page: store.find_executions(workspace, ExecutionFilter(), page),
    }


@pytest.mark.parametrize("bad", list(BAD_POSITIONS), ids=str)
async def test_ill_shaped_positions_are_bad_input(store, workspace, bad):
    value = BAD_POSITIONS[bad]
    for name, read in _reads(store, workspace).items():
        try:
            await read(Page(5, value))
        except BadUserInputError:
            continue
        # a value the read's keys accept is fine (e.g. two strings for a (name, id) position)
        assert len(value) in (1, 2) and name in {"children", "child", "contexts", "tools"}, (name, bad)


async def test_extreme_but_valid_positions_read_nothing_or_everything(store, workspace):
    rec = await create_one(store, workspace, "/e")
    await store.append_audit([entry(workspace, 5)])
    big, small = 2**63 - 1, -(2**63)
    assert await store.list_versions(workspace, rec.id, Page(5, (small,))) == []
    assert [v.number for v in await store.list_versions(workspace, rec.id, Page(5, (big,)))] == [1]
    assert await store.list_audit(workspace, Page(5, (small, ""))) == []
    assert len(await store.list_audit(workspace, Page(5, (big, "")))) == 1
    assert await store.find_contexts(workspace, None, [Order("depth")], Page(5, (big, ""))) == []
    assert len(await store.find_contexts(workspace, None, [Order("depth")], Page(5, (small, "")))) == 1
    assert await store.find_executions(workspace, ExecutionFilter(), Page(5, (small, ""))) == []
