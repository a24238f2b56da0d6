"""schema/execution.LeanExecutor answers exactly what graphql-core's own executor answers.

Every document runs through two apps over the same real store: the server as built (lean) and
one whose schema uses Strawberry's default executor. Bodies must be equal, byte for byte once
encoded (data, errors with their paths and locations, key order). The null-in-a-non-null-field
and raising-field cases need a value no store can hold, so they run on a small schema of their own.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
import pytest
import strawberry
from graphql import GraphQLObjectType

from contextql.schema import root
from contextql.schema.execution import LeanExecutor, _trivial_fields
from contextql.server import app as app_module
from contextql.server.app import create_app

from .conftest import Api, create, settings_for
from .test_readme_tour import tour_operations


@pytest.fixture
async def both(store, workspace, monkeypatch) -> tuple[Api, Api]:
    lean = create_app(settings_for(workspace), store=store)
    monkeypatch.setattr(app_module, "build_schema", functools.partial(root.build_schema, lean=False))
    plain = create_app(settings_for(workspace), store=store)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=lean), base_url="http://test") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://test") as b,
    ):
        yield Api(a), Api(b)


async def same(both: tuple[Api, Api], query: str, **variables: Any) -> dict[str, Any]:
    lean, plain = both
    fast, slow = await lean.run(query, **variables), await plain.run(query, **variables)
    assert json.dumps(fast) == json.dumps(slow), f"{query}\nlean:  {fast}\nplain: {slow}"
    return fast


SNAPSHOT = """
fragment Scalars on Context { id path name kind title content data tags inherit depth version createdAt updatedAt }
query($path: String!, $yes: Boolean = true, $no: Boolean = false) {
  context(path: $path) {
    __typename ...Scalars
    again: title  T: title  p: path @include(if: $yes)  hidden: path @skip(if: $yes)  kept: kind @include(if: $no)
    ... on Node { id }
    ... on ContextState { title path }
    createdBy { id } updatedBy { __typename id }
    parent { path title parent { path } }
    ancestors { path depth }
    children(first: 2) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                         edges { cursor node { ...Scalars parent { path } } } }
    descendants { path }
    effective { data sources { pointer path contextId version } }
    history(first: 5) { totalCount edges { cursor node { __typename id number operation changed contextId
                        path kind title content data tags inherit createdAt author { id } } } }
  }
}"""

OTHERS = [
    ("""query($first: Int) { contexts(first: $first, orderBy: [{field: PATH}]) {
          totalCount pageInfo { hasNextPage endCursor } edges { cursor node { path title kind __typename } } } }""",
     {"first": 50}),
    ("""query($p: String!) { context(path: $p) { path title children(first: 10) { edges { node {
          path title children(first: 10) { edges { node { path title } } } } } } } }""", {"p": "/acme"}),
    ("""query { contexts(where: {path: {startsWith: "/acme/"}, OR: [{kind: {eq: "project"}}, {tags: {includes: "active"}}]},
          first: 20) { totalCount edges { node { path title kind } } } }""", {}),
    ('{ a: context(path: "/nope") { path } b: context(path: "/acme") { path title } }', {}),
    ('{ context(path: "/acme") { versionAt(number: 99) { number } path } }', {}),  # an error inside the tree
    ('{ context(path: "/acme") { diff(from: 1) { fromVersion toVersion changed dataPatch contentDiff } } }', {}),
    ('{ context(path: "/acme") { title } contextTypes { name version schema createdAt } }', {}),
    ('{ context(path: "not a path") { path } }', {}),  # a user error at the root
    ('{ context(path: "/acme") { nosuchfield } }', {}),  # a validation error
    ('{ context(path: "/acme") { path ', {}),  # a syntax error
]


async def test_lean_answers_equal_the_default_executor(both):
    lean, _ = both
    for operation in tour_operations():
        if operation.lstrip().startswith("mutation"):
            await lean.run(operation)  # the writes happen once; both read the result
        else:
            await same(both, operation)
        for path in ("/acme", "/acme/projects/alpha", "/acme/projects/apollo", "/acme/projects"):
            await same(both, SNAPSHOT, path=path)
    for query, variables in OTHERS:
        await same(both, query, **variables)
    answer = await same(both, SNAPSHOT, path="/acme/projects/apollo")
    assert answer["data"]["context"]["again"] == answer["data"]["context"]["T"]
    assert "hidden" not in answer["data"]["context"] and "kept" not in answer["data"]["context"]


async def test_a_mutation_answer_is_the_same(both):
    lean, _ = both
    await create(lean, "/m", title="M")
    query = 'mutation { updateContext(path: "/m", input: {title: "M"}) { path title version updatedBy { id } } }'
    await same(both, query)  # nothing changes, so both answer with the same head
    await same(both, 'mutation { updateContext(path: "/m", input: {title: "N"}, expectedVersion: 7) { path } }')


def test_plain_fields_of_context_are_taken_lean():
    schema = root.build_schema()
    context = schema._schema.type_map["Context"]
    assert isinstance(context, GraphQLObjectType)
    trivial = {name for name, plan in _trivial_fields(schema._schema, context).items() if plan is not None}
    assert {"id", "path", "name", "kind", "title", "content", "data", "inherit", "depth", "version",
            "createdAt", "updatedAt"} <= trivial
    # Lists, arguments, async fields and objects made by a resolver that wants more than `self`
    # (none here) take graphql-core's own path; `createdBy` is a self-only method returning an Actor.
    assert "createdBy" in trivial
    assert not trivial & {"tags", "parent", "children", "effective", "history", "diff", "ancestors"}
    edge = schema._schema.type_map["ContextEdge"]
    assert isinstance(edge, GraphQLObjectType)
    assert {name for name, plan in _trivial_fields(schema._schema, edge).items() if plan} == {"node", "cursor"}
    assert schema.execution_context_class is LeanExecutor
    # Root fields keep their path: every one has RootGuard (authorisation, audit, time limit).
    for root_type in (schema._schema.query_type, schema._schema.mutation_type):
        assert root_type is not None and not any(_trivial_fields(schema._schema, root_type).values())
    page_info = schema._schema.type_map["PageInfo"]
    assert isinstance(page_info, GraphQLObjectType)
    assert all(_trivial_fields(schema._schema, page_info).values())


# -- values no store holds: nulls in non-null fields, fields that raise -------------------------------


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):  # an interface: Strawberry gives Item an is_type_of
    label: str | None
    count: int

    @strawberry.field
    def shout(self) -> str:
        if self.name == "boom":
            raise ValueError("no shouting here")
        return self.name.upper()

    @strawberry.field
    def maybe(self) -> str | None:
        return None if self.name == "x" else self.name


@strawberry.type
class Plain:  # no interface: no is_type_of
    value: int


@strawberry.type
class Holder:
    item: Item
    items: list[Item]
    optional: Item | None
    missing: Item | None
    required: Item
    wrong: Item
    plain: Plain
    # Int values graphql-core's serializer refuses or converts (the lean path serializes plain values itself).
    big: Plain
    floaty: Plain
    truthy: Plain


@strawberry.type
class SmallQuery:
    @strawberry.field
    def holder(self) -> Holder:
        good, nulled = Item(name="a", label=None, count=1), Item(name=None, label=None, count=2)  # type: ignore[arg-type]
        broken, other = Item(name="boom", label="l", count=3), Item(name="x", label="y", count=4)
        return Holder(item=good, items=[good, nulled, broken, other], optional=nulled, missing=None,
                      required=None, wrong=Plain(value=1), plain=Plain(value=None),  # type: ignore[arg-type]
                      big=Plain(value=2**40), floaty=Plain(value=1.5), truthy=Plain(value=True))  # type: ignore[arg-type]

    @strawberry.field
    def bad(self) -> Item:
        return Item(name=None, label=None, count="three")  # type: ignore[arg-type]


SMALL = [
    "{ holder { item { name label count shout maybe } } }",
    "{ holder { items { name label count maybe } } }",
    "{ holder { items { shout } } }",
    "{ holder { optional { count name } item { n: name } } }",
    "{ holder { optional { label count } } }",
    "{ bad { count } }",
    "{ holder { items { ... on Item { name } name: name c: count } } }",
    "{ holder { missing { name } item { name } } }",
    "{ holder { required { name } } }",
    "{ holder { wrong { name } } }",
    "{ holder { plain { value } } }",
    "{ holder { optional { shout } } }",
    "{ holder { item { ... on Named { name } } } }",
    "{ holder { truthy { value } big { value } floaty { value } item { name } } }",
    "{ holder { floaty { v: value } } }",
]


class CountingLean(LeanExecutor):
    trivial = 0

    def _plan(self, *args: Any) -> Any:
        steps = super()._plan(*args)
        CountingLean.trivial += sum(1 for step in steps or () if step[2] is not None)
        return steps


async def test_errors_and_nulls_are_the_same_on_a_small_schema():
    lean = strawberry.Schema(query=SmallQuery, execution_context_class=CountingLean)
    plain = strawberry.Schema(query=SmallQuery)
    for query in SMALL:
        fast, slow = await lean.execute(query), await plain.execute(query)
        assert fast.data == slow.data, query
        assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []], query
    assert CountingLean.trivial > 20  # the lean path did run
    broken = await lean.execute("{ holder { items { name } } }")
    assert broken.data is None and broken.errors
    assert broken.errors[0].message == "Cannot return null for non-nullable field Item.name."
    assert broken.errors[0].path == ["holder", "items", 1, "name"]
