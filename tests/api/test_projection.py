"""Projection push-down (the look-ahead names the attributes a selection reads; Neo4j returns only
those): every answer stays byte-identical to the answer read with complete records, on both backends
(LadybugDB reads complete records either way)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import parse
from strawberry.types.nodes import FragmentSpread, SelectedField

from contextql.graph.records import ALWAYS_FETCHED
from contextql.schema import lookahead, query as query_module

from .conftest import Api

WIDE = """id path name depth kind title content data tags inherit version createdAt updatedAt
  createdBy { id } updatedBy { id } __typename"""

NESTED = """query($path: String!, $first: Int, $after: String) { context(path: $path) { %(f)s
  children(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { %(f)s children(first: 2) { totalCount edges { cursor node { %(f)s } } } } } } } }"""

FILTERED = """query($prefix: String!, $first: Int, $after: String, $order: [ContextOrderBy!]) {
  contexts(where: {path: {startsWith: $prefix}, kind: {eq: "doc"}}, first: $first, after: $after, orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { %s } } } }"""

QUERIES: dict[str, str] = {
    "nested, path and title": NESTED % {"f": "path title"},
    "nested, wide": NESTED % {"f": WIDE},
    "nested, wide through a fragment": "fragment F on Context { " + WIDE + " }\n"
        + NESTED % {"f": "path ...F"},
    "nested, content under a skipped @include": NESTED % {"f": "path content @include(if: false) data @skip(if: true)"},
    "nested, whole records (effective, history, parent)": NESTED % {
        "f": "path title effective { data sources { pointer path version } } history(first: 2) { totalCount "
             "edges { node { number title content data } } } parent { path content data }"},
    "nested, inline fragment and aliases": NESTED % {"f": "path ... on Context { t: title c: content } d: data"},
    "children pages aliased with other fields": """query($path: String!, $first: Int, $after: String) {
        context(path: $path) { path
          children(first: $first, after: $after) { edges { node { title } } }
          again: children(first: $first, after: $after) { totalCount edges { node { content data tags } } } } }""",
    "two root fields, two projections": """query($path: String!, $first: Int, $after: String) {
        a: context(path: $path) { title children(first: $first, after: $after) { edges { node { path title } } } }
        b: context(path: $path) { content children(first: $first, after: $after) { edges { node { path content data
          children(first: 2) { edges { node { version tags } } } } } } }
        c: context(path: $path) { path children(first: $first, after: $after) { totalCount edges { node {
          path title children(first: 2) { edges { node { updatedAt } } } } } } } }""",
    "filtered, path title kind": FILTERED % "path title kind",
    "filtered, wide": FILTERED % WIDE,
    "filtered, wide with children": FILTERED % (WIDE + " children(first: 2) { totalCount edges { node { path content } } }"),
}


async def _seed(api: Api) -> None:
    inputs: list[dict[str, Any]] = [{"path": "/p", "kind": "doc", "title": "P", "content": "root", "data": {"db": {"host": "h"}}}]
    for i in range(5):
        inputs.append({"path": f"/p/c{i}", "kind": "doc" if i % 2 else "note", "title": f"child {4 - i}",
                       "content": f"text {i} " * 40, "data": {"i": i, "nested": {"x": [i, None, "é"]}},
                       "tags": [f"t{i}", "all"], "inherit": i != 3})
        for j in range(3):
            inputs.append({"path": f"/p/c{i}/g{j}", "kind": "doc", "title": f"g{j}", "content": "g" * j,
                           "data": {"j": j}, "tags": ["g"]})
    created = await api.data("mutation($i: [CreateContextInput!]!) { createContexts(inputs: $i) { id } }", i=inputs)
    assert len(created["createContexts"]) == len(inputs)
    await api.data('mutation { updateContext(path: "/p/c1", input: {title: "renamed", mergeData: {more: 1}}) { version } }')


async def _bodies(api: Api, query: str, variables: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    """The response body with projection, then without (the look-ahead reporting whole records)."""
    def post() -> Any:
        return api.client.post("/graphql", json={"query": query, "variables": variables})

    projected = (await post()).content
    with monkeypatch.context() as patch:
        patch.setattr(lookahead, "connection_fields", lambda field: None)
        patch.setattr(lookahead, "context_fields", lambda field: None)
        patch.setattr(query_module, "remembered", lambda info, planner: planner(info))  # not the projected plan
        whole = (await post()).content
    return projected, whole


@pytest.mark.parametrize("name", list(QUERIES))
async def test_a_projected_read_answers_byte_for_byte_as_a_read_of_whole_records(api, name, monkeypatch):
    await _seed(api)
    query = QUERIES[name]
    filtered = name.startswith("filtered")
    cases: list[dict[str, Any]] = (
        [{"prefix": "/p/", "first": 3}, {"prefix": "/p/", "first": 4, "order": [{"field": "TITLE", "direction": "DESC"}]},
         {"prefix": "/p/", "first": 2, "order": [{"field": "UPDATED_AT", "direction": "DESC"}, {"field": "DEPTH"}]}]
        if filtered else [{"path": "/p", "first": 3}, {"path": "/p", "first": 10}])
    for variables in cases:
        after: str | None = None
        for _ in range(3):  # a few pages, following the cursors
            projected, whole = await _bodies(api, query, {**variables, "after": after}, monkeypatch)
            assert projected == whole, name
            data = json.loads(projected)
            assert "errors" not in data, data
            page = data["data"]["contexts"] if filtered else data["data"].get("context", {}) or {}
            info = (page.get("children") or page).get("pageInfo") if not filtered else page["pageInfo"]
            if not info or not info["hasNextPage"]:
                break
            after = info["endCursor"]


async def test_a_projected_nested_read_answers_as_the_same_query_by_id(api):
    """By id the tree is read field by field through the loaders (complete records)."""
    await _seed(api)
    root_id = (await api.data('{ context(path: "/p") { id } }'))["context"]["id"]
    by_path = NESTED % {"f": WIDE}
    by_id = by_path.replace("context(path: $path)", "context(id: $id)").replace("$path: String!", "$id: ID!")
    for first in (2, 5):
        one = await api.client.post("/graphql", json={"query": by_path, "variables": {"path": "/p", "first": first}})
        two = await api.client.post("/graphql", json={"query": by_id, "variables": {"id": root_id, "first": first}})
        assert one.content == two.content and b"errors" not in one.content


async def test_a_mutation_after_a_projected_read_in_one_request_sees_complete_records(api):
    """A write after a projected read (same request, same loaders) loads its target whole."""
    await _seed(api)
    body = await api.data("""mutation { updateContext(path: "/p/c2", input: {title: "new"}) {
        title content data tags version } }""")
    assert body["updateContext"]["content"] == "text 2 " * 40 and body["updateContext"]["version"] == 2


def _field(name: str, *selections: Any) -> SelectedField:
    return SelectedField(name=name, directives={}, arguments={}, selections=list(selections), alias=None)


def test_the_look_ahead_names_the_attributes_of_known_fields_and_none_for_any_other():
    node = _field("node", _field("path"), _field("title"), _field("updatedAt"),
                  _field("children", _field("totalCount"), _field("edges", _field("cursor"), _field("node", _field("tags")))))
    root = _field("context", _field("id"), _field("children", _field("pageInfo", _field("endCursor")), _field("edges", node)))
    assert lookahead.context_fields(root) == {"title", "updated_at", "tags"}
    spread = FragmentSpread(name="F", type_condition="Context", directives={}, selections=[_field("content"), _field("data")])
    assert lookahead.context_fields(_field("context", _field("path"), spread)) == {"content", "data"}
    assert lookahead.context_fields(_field("context", _field("title"), _field("effective", _field("data")))) is None
    unknown_below = _field("context", _field("children", _field("edges", _field("node", _field("history")))))
    assert lookahead.context_fields(unknown_below) is None
    assert lookahead.context_fields(_field("context", _field("children", _field("somethingNew")))) is None
    connection = _field("contexts", _field("totalCount"), _field("edges", _field("node", _field("kind"))))
    assert lookahead.connection_fields(connection) == {"kind"}
    assert not ALWAYS_FETCHED & lookahead.connection_fields(connection)  # the store adds those


# One text for the tests of remembered plans below: a variable in the selection (`$n`, `$t`) and one in
# the root field's arguments only (`$path`), which no plan reads.
REMEMBERED = """query($path: String!, $n: Int, $t: Boolean!) { context(path: $path) { path title @include(if: $t)
  ...Page } }
fragment Page on Context { children(first: $n) { edges { node { path title @include(if: $t) } } } }"""


async def test_a_plan_remembered_for_a_document_follows_the_variables_of_its_selection(api):
    """The same text again and again, with other values for the variables its selection holds (a page
    size in a fragment, an @include): each answer is the one those values ask for."""
    await _seed(api)
    for n, t in ((1, False), (3, True), (2, False), (5, True), (1, True)):
        data = await api.data(REMEMBERED, path="/p", n=n, t=t)
        edges = data["context"]["children"]["edges"]
        assert len(edges) == n
        assert ("title" in data["context"]) is t and all(("title" in e["node"]) is t for e in edges)
        if t:
            assert data["context"]["title"] == "P" and all(e["node"]["title"] for e in edges)


async def test_a_plan_is_made_once_per_document_when_its_selection_holds_no_variable(api, monkeypatch):
    await _seed(api)
    made: list[str] = []
    original = lookahead.context_fields

    def counted(field: Any) -> Any:
        made.append(field.name)
        return original(field)

    monkeypatch.setattr(lookahead, "context_fields", counted)
    lookahead._memo.clear()
    fixed = "query($path: String!) { context(path: $path) { path children(first: 2) { edges { node { title } } } } }"
    for path in ("/p", "/p/c1", "/p", "/p/c2"):
        data = await api.data(fixed, path=path)
        assert data["context"]["path"] == path and len(data["context"]["children"]["edges"]) <= 2
    assert made == ["context"]  # the first request's plan served the other three
    for t in (True, False, True):
        await api.data(REMEMBERED, path="/p", n=2, t=t)
    assert made == ["context"] * 4  # planned per request: the selection holds variables


def test_the_plans_remembered_stay_bounded():
    lookahead._memo.clear()
    infos = []
    for i in range(lookahead.MEMO_SIZE + 50):
        document = parse(f"{{ context(path: \"/{i}\") {{ a{i}: path }} }}")
        operation = document.definitions[0]
        raw = SimpleNamespace(operation=operation, field_nodes=[operation.selection_set.selections[0]], fragments={})
        infos.append(SimpleNamespace(_raw_info=raw))
        assert lookahead.remembered(infos[-1], lambda info, i=i: i) == i
    assert len(lookahead._memo) == lookahead.MEMO_SIZE
