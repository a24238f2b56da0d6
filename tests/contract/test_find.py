"""Contract: find_contexts / count_contexts with the filter language, ordering and paging."""

from __future__ import annotations

import pytest

from contextql.graph.errors import BadUserInputError
from contextql.graph.filters import And, Compare, Not, Or, Order, subtree
from contextql.graph.records import Page

from .factories import context, snapshot


@pytest.fixture
async def corpus(store, workspace, other_workspace):
    """A small tree with varied fields; another workspace holds look-alikes."""
    specs = [
        # path, kind, title, tags, created_at
        ("/docs", "folder", "Documentation", ["top"], 100),
        ("/docs/guide", "note", "User guide", ["howto", "user"], 200),
        ("/docs/guide/install", "note", "Installing", ["howto", "ops"], 300),
        ("/docs/api", "reference", "API reference", ["dev"], 400),
        ("/notes", "folder", "Notes", [], 500),
        ("/notes/todo", "task", "To do", ["user", "ops", "urgent"], 600),
    ]
    built: dict[str, object] = {}
    for path, kind, title, tags, at in specs:
        parent = built.get(path.rsplit("/", 1)[0])
        built[path] = context(workspace, path, parent, kind=kind, title=title, tags=tags, created_at=at,
                              version=at // 100)
    records = list(built.values())
    await store.create_contexts(records, [snapshot(r) for r in records])
    twin = context(other_workspace, "/docs", kind="folder", title="Documentation", tags=["top"], created_at=100)
    await store.create_contexts([twin], [snapshot(twin)])
    return built


async def paths(store, workspace, where, order=(), page=Page(100)):
    return [c.path for c in await store.find_contexts(workspace, where, list(order), page)]


ALL = ["/docs", "/docs/api", "/docs/guide", "/docs/guide/install", "/notes", "/notes/todo"]


async def test_no_filter_returns_the_workspace_ordered_by_path(store, workspace, corpus):
    assert await paths(store, workspace, None) == ALL
    assert await store.count_contexts(workspace, None) == 6
    found = await store.find_contexts(workspace, None, [], Page(1))
    assert found == [corpus["/docs"]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Compare("kind", "eq", "note"), ["/docs/guide", "/docs/guide/install"]),
        (Compare("kind", "ne", "note"), ["/docs", "/docs/api", "/notes", "/notes/todo"]),
        (Compare("kind", "in", ["task", "reference"]), ["/docs/api", "/notes/todo"]),
        (Compare("kind", "in", []), []),
        (Compare("path", "startsWith", "/docs/"), ["/docs/api", "/docs/guide", "/docs/guide/install"]),
        (Compare("path", "endsWith", "e"), ["/docs/guide"]),
        (Compare("title", "contains", "guide"), ["/docs/guide"]),
        (Compare("title", "contains", "Guide"), []),  # case-sensitive
        (Compare("name", "eq", "install"), ["/docs/guide/install"]),
        (Compare("id", "eq", "no-such-id"), []),
        (Compare("depth", "eq", 1), ["/docs", "/notes"]),
        (Compare("depth", "gt", 1), ["/docs/api", "/docs/guide", "/docs/guide/install", "/notes/todo"]),
        (Compare("depth", "gte", 3), ["/docs/guide/install"]),
        (Compare("created_at", "lt", 300), ["/docs", "/docs/guide"]),
        (Compare("created_at", "lte", 300), ["/docs", "/docs/guide", "/docs/guide/install"]),
        (Compare("updated_at", "gt", 500), ["/notes/todo"]),
        (Compare("version", "eq", 4), ["/docs/api"]),
        (Compare("created_by", "eq", "alice"), ALL),
        (Compare("updated_by", "ne", "alice"), []),
        (Compare("title", "gt", "To"), ["/docs/guide", "/notes/todo"]),
        (Compare("parent_id", "isNull", True), ["/docs", "/notes"]),
        (Compare("parent_id", "isNull", False), ["/docs/api", "/docs/guide", "/docs/guide/install", "/notes/todo"]),
        (Compare("parent_id", "eq", None), ["/docs", "/notes"]),
        (Compare("tags", "includes", "howto"), ["/docs/guide", "/docs/guide/install"]),
        (Compare("tags", "includesAny", ["dev", "urgent"]), ["/docs/api", "/notes/todo"]),
        (Compare("tags", "includesAny", []), []),
        (Compare("tags", "includesAll", ["user", "ops"]), ["/notes/todo"]),
        (Compare("tags", "includesAll", ["howto"]), ["/docs/guide", "/docs/guide/install"]),
        (Compare("tags", "includesAll", []), ALL),
    ],
    ids=lambda v: f"{v.field}-{v.op}-{v.value!r}" if isinstance(v, Compare) else "",
)
async def test_operators(store, workspace, corpus, where, expected):
    assert await paths(store, workspace, where) == expected
    assert await store.count_contexts(workspace, where) == len(expected)


async def test_parent_id_comparisons_treat_roots_as_not_equal(store, workspace, corpus):
    docs = corpus["/docs"].id
    assert await paths(store, workspace, Compare("parent_id", "eq", docs)) == ["/docs/api", "/docs/guide"]
    # roots have no parent: "ne" matches them, and NOT is the exact complement of "eq"
    others = ["/docs", "/docs/guide/install", "/notes", "/notes/todo"]
    assert await paths(store, workspace, Compare("parent_id", "ne", docs)) == others
    assert await paths(store, workspace, Not(Compare("parent_id", "eq", docs))) == others
    assert await paths(store, workspace, Compare("parent_id", "in", [docs, corpus["/notes"].id])) == [
        "/docs/api", "/docs/guide", "/notes/todo"]
    assert await paths(store, workspace, Compare("parent_id", "startsWith", "")) == [
        "/docs/api", "/docs/guide", "/docs/guide/install", "/notes/todo"]


async def test_boolean_combinations(store, workspace, corpus):
    note_or_task = Or((Compare("kind", "eq", "note"), Compare("kind", "eq", "task")))
    assert await paths(store, workspace, note_or_task) == ["/docs/guide", "/docs/guide/install", "/notes/todo"]
    both = And((note_or_task, Compare("tags", "includes", "ops")))
    assert await paths(store, workspace, both) == ["/docs/guide/install", "/notes/todo"]
    assert await paths(store, workspace, Not(both)) == ["/docs", "/docs/api", "/docs/guide", "/notes"]
    nested = Or((And((Compare("depth", "eq", 1), Not(Compare("kind", "eq", "folder")))),
                 And((Compare("depth", "eq", 2), Compare("path", "startsWith", "/notes")))))
    assert await paths(store, workspace, nested) == ["/notes/todo"]
    assert await paths(store, workspace, Not(Not(Compare("kind", "eq", "folder")))) == ["/docs", "/notes"]
    assert await paths(store, workspace, And(())) == ALL
    assert await paths(store, workspace, Or(())) == []
    assert await store.count_contexts(workspace, Not(both)) == 4


async def test_subtree_helper(store, workspace, corpus):
    assert await paths(store, workspace, subtree("/docs", include_self=True)) == [
        "/docs", "/docs/api", "/docs/guide", "/docs/guide/install"]
    assert await paths(store, workspace, subtree("/docs", include_self=False, max_depth=1)) == [
        "/docs/api", "/docs/guide"]


async def test_ordering_then_path(store, workspace, corpus):
    by_kind = await paths(store, workspace, None, [Order("kind")])
    assert by_kind == ["/docs", "/notes", "/docs/guide", "/docs/guide/install", "/docs/api", "/notes/todo"]
    by_kind_desc = await paths(store, workspace, None, [Order("kind", descending=True)])
    # ties still broken by path ascending
    assert by_kind_desc == ["/notes/todo", "/docs/api", "/docs/guide", "/docs/guide/install", "/docs", "/notes"]
    by_depth_title = await paths(store, workspace, None, [Order("depth", descending=True), Order("title")])
    assert by_depth_title == ["/docs/guide/install", "/docs/api", "/notes/todo", "/docs/guide", "/docs", "/notes"]
    newest = await paths(store, workspace, None, [Order("created_at", descending=True)], Page(2))
    assert newest == ["/notes/todo", "/notes"]
    assert await paths(store, workspace, None, [Order("path", descending=True)]) == list(reversed(ALL))
    assert await paths(store, workspace, None, [Order("name")]) == [
        "/docs/api", "/docs", "/docs/guide", "/docs/guide/install", "/notes", "/notes/todo"]


async def test_pagination(store, workspace, corpus):
    assert await paths(store, workspace, None, page=Page(limit=2)) == ALL[:2]
    assert await paths(store, workspace, None, page=Page(limit=2, after=(ALL[1],))) == ALL[2:4]
    assert await paths(store, workspace, None, page=Page(limit=10, after=(ALL[3],))) == ALL[4:]
    assert await paths(store, workspace, None, page=Page(limit=10, after=(ALL[5],))) == []
    assert await paths(store, workspace, None, page=Page(limit=10, after=("/docs/b",))) == ALL[2:]  # not a row
    assert await paths(store, workspace, None, page=Page(limit=0)) == []
    where = Compare("kind", "ne", "folder")
    order = [Order("title", descending=True)]
    seen, after = [], None
    while True:
        rows = await store.find_contexts(workspace, where, order, Page(3, after))
        if not rows:
            break
        seen += [r.path for r in rows]
        after = (rows[-1].title, rows[-1].path)
    assert seen == await paths(store, workspace, where, order)
    assert len(seen) == await store.count_contexts(workspace, where) == 4


async def test_workspace_isolation(store, workspace, other_workspace, corpus):
    assert await paths(store, other_workspace, None) == ["/docs"]
    assert await store.count_contexts(other_workspace, Compare("kind", "eq", "folder")) == 1
    assert await store.count_contexts(workspace + "-empty", None) == 0
    assert await store.find_contexts(workspace + "-empty", None, [], Page(10)) == []


async def test_values_are_parameters_not_query_text(store, workspace, corpus):
    nasty = "x' OR 1=1 //\") RETURN c //"
    assert await paths(store, workspace, Compare("title", "eq", nasty)) == []
    assert await paths(store, workspace, Compare("tags", "includesAny", [nasty, "dev"])) == ["/docs/api"]


@pytest.mark.parametrize(
    "where",
    [
        Compare("depth", "eq", "1"),
        Compare("kind", "eq", 3),
        Compare("kind", "in", "note"),
        Compare("tags", "includes", ["x"]),
        Compare("tags", "includesAny", "x"),
        Compare("parent_id", "isNull", "yes"),
        Compare("created_at", "gt", None),
    ],
    ids=lambda v: f"{v.field}-{v.op}-{v.value!r}",
)
async def test_ill_typed_values_are_bad_input(store, workspace, corpus, where):
    with pytest.raises(BadUserInputError):
        await store.find_contexts(workspace, where, [], Page(10))
    with pytest.raises(BadUserInputError):
        await store.count_contexts(workspace, where)
