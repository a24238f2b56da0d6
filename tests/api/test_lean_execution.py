"""schema/execution.LeanExecutor answers exactly what graphql-core's own executor answers.

Every document runs through two apps over the same real store: the server as built (lean) and
one whose schema uses Strawberry's default executor. Bodies must be equal, byte for byte once
encoded (data, errors with their paths and locations, key order). The null-in-a-non-null-field
and raising-field cases need a value no store can hold, so they run on a small schema of their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import strawberry
import strawberry.relay
from strawberry.extensions import ParserCache
from strawberry.scalars import JSON
from graphql import GraphQLObjectType

from contextql.schema import execution, guard, root
from contextql.schema.execution import LeanExecutor, _argument_fields, _trivial_fields
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


# Fields with arguments (schema/execution.WithArgs): one connection field under several aliases with other
# arguments, literals and variables, fragments, @skip/@include on the connection and on its edges, and
# errors raised by the children of every item of a list (each at its own path).
CONNECTIONS = """
fragment Kids on Context { children(first: 2) { edges { node { path } } } }
query($n: Int, $after: String, $inner: String, $yes: Boolean = true, $no: Boolean = false) {
  context(path: "/t") {
    a: children(first: 2) { totalCount pageInfo { hasNextPage endCursor }
                            edges { cursor node { path b: children(first: 1) { edges { node { path } } } } } }
    b: children(first: $n, after: $after) { totalCount edges { node { name
         c: children(first: $n, after: $inner) { totalCount edges { cursor node { name } } } } } }
    whole: children { edges { node { path } } }
    skipped: children(first: 1) @skip(if: $yes) { totalCount }
    kept: children(first: 1) @include(if: $yes) { edges @include(if: $yes) { node { path } } }
    dropped: children(first: 1) { edges @include(if: $no) { node { path } } totalCount }
    ...Kids
    ... on Context { children(first: 2) { edges { node { title
                       children(first: 3) { edges { node { title } } } } } } }
  }
}"""

NESTED_AGAIN = """query($p: String!, $n: Int!) { context(path: $p) { path
  children(first: $n) { edges { node { path children(first: 2) { totalCount edges { node { path } } } } } } } }"""


async def test_fields_with_arguments_answer_the_same(both):
    lean, _ = both
    for path in ("/t", "/t/a", "/t/b", "/t/c", "/t/a/x", "/t/a/y", "/t/b/z"):
        await create(lean, path, title=path.upper())
    first = await same(both, CONNECTIONS, n=2)
    cursor = first["data"]["context"]["a"]["pageInfo"]["endCursor"]
    assert "skipped" not in first["data"]["context"] and "edges" not in first["data"]["context"]["dropped"]
    await same(both, CONNECTIONS, n=2, after=cursor)
    await same(both, CONNECTIONS, n=2, inner=cursor)  # one variable cursor for every child's page
    await same(both, CONNECTIONS, n=0)
    await same(both, CONNECTIONS, n=2, yes=False, no=True)
    failing = await same(both, CONNECTIONS, n=-1)  # an error at `b` (nullable: null) ...
    assert {tuple(e["path"]) for e in failing["errors"]} == {("context", "b")}
    # ... and one inside an item of a list: the first child's page refuses the cursor; `c`, the item,
    # `node`, `edges` and `b` are all non-null, so the null reaches `context`.
    broken = await same(both, CONNECTIONS, n=2, inner="not a cursor")
    assert [e["path"] for e in broken["errors"]] == [["context", "b", "edges", 0, "node", "c"]]
    assert broken["data"] == {"context": None}
    # The same documents again (their literal arguments are now converted once per parsed document).
    for _ in range(2):
        await same(both, CONNECTIONS, n=1)
        for p, n in (("/t", 3), ("/t", 1), ("/t/a", 2)):
            await same(both, NESTED_AGAIN, p=p, n=n)


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
    with_args = {name for name, plan in _argument_fields(schema._schema, context).items() if plan is not None}
    assert "children" in with_args  # a plain resolver with `info`: called without Strawberry's wrapper
    # Async resolvers (history, descendants, versionAt...) keep graphql-core's path.
    assert not with_args & {"history", "descendants", "versionAt", "asOf", "diff"}
    connection = schema._schema.type_map["ContextConnection"]
    assert isinstance(connection, GraphQLObjectType)
    edges = _trivial_fields(schema._schema, connection)["edges"]
    assert edges is not None and edges.items is not None  # a list of objects, completed in the lean loop
    assert not trivial & {"tags", "parent", "children", "effective", "history", "diff", "ancestors"}
    edge = schema._schema.type_map["ContextEdge"]
    assert isinstance(edge, GraphQLObjectType)
    assert {name for name, plan in _trivial_fields(schema._schema, edge).items() if plan} == {"node", "cursor"}
    assert schema.execution_context_class is LeanExecutor
    # Root fields: every one has RootGuard (authorisation, audit, time limit) and is called lean with it,
    # async ones through schema/guard.guarded, sync ones (`me`, `builtinTools`, `indexJob(s)`) after guard.check.
    for root_type in (schema._schema.query_type, schema._schema.mutation_type):
        assert root_type is not None and not any(_trivial_fields(schema._schema, root_type).values())
        specs = _argument_fields(schema._schema, root_type)
        assert all(spec is not None and spec.guarded for spec in specs.values())
        assert {name for name, spec in specs.items() if spec and not spec.is_async} == (
            {"me", "builtinTools", "indexJob", "indexJobs"} if root_type.name == "Query" else set())
    page_info = schema._schema.type_map["PageInfo"]
    assert isinstance(page_info, GraphQLObjectType)
    assert all(_trivial_fields(schema._schema, page_info).values())


# -- values no store holds: nulls in non-null fields, fields that raise -------------------------------


@strawberry.interface
class Named:
    name: str


@strawberry.enum
class Mode(enum.Enum):
    LOUD = "loud"
    SOFT = "soft"


@strawberry.input
class Range:
    low: int
    high: int | None = None


@strawberry.input
class Shape:
    """Input types of every kind schema/conversion.py compiles, and some it leaves to Strawberry."""

    name: str
    mode: Mode = Mode.SOFT
    modes: list[Mode] | None = None
    tags: list[str | None] = strawberry.field(default_factory=list)
    range: Range | None = None
    ranges: list[Range] | None = None
    inner: list[Shape] | None = None  # an input that nests itself
    data: JSON | None = None
    at: dt.datetime | None = None
    note: str | None  # no default: Strawberry passes None when it is omitted


@strawberry.input
class Opt:
    """An input that schema/conversion.py leaves to Strawberry (`Maybe`: Some(...) or None)."""

    maybe: strawberry.Maybe[str | None] = None
    shape: Shape | None = None


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

    # Fields with arguments (the lean path calls them directly, see schema/execution.WithArgs).
    @strawberry.field
    def echo(self, info: strawberry.Info, times: int = 1, sep: str = "-", mode: Mode = Mode.SOFT,
             tags: list[str] | None = None, within: Range | None = None) -> str:
        if times < 0:
            raise ValueError(f"no negative echo for {self.name}")
        if tags is not None:
            tags.append(self.name)  # a list shared between calls would grow from item to item
        if within is not None:
            within.low += 1  # so would an input object
        word = self.name.upper() if mode is Mode.LOUD else self.name
        return f"{sep.join([word] * times)}|{info.path.as_list()}|{info.field_name}|{tags}|{within}"

    @strawberry.field
    def twin(self, same: bool = True) -> Item | None:  # an object from a field with arguments
        return self if same else None

    @strawberry.field
    def other(self, wrong: bool = False, empty: bool = False) -> Item:
        if empty:
            return None  # type: ignore[return-value]
        return Plain(value=1) if wrong else self  # type: ignore[return-value]

    @strawberry.field
    def kids(self, n: int = 2) -> list[Item]:
        return _kids(self, n)  # type: ignore[return-value]

    @strawberry.field
    def maybe_kids(self, n: int = 2) -> list[Item | None]:
        return _kids(self, n)  # type: ignore[return-value]

    @strawberry.field
    def shape(self, shape: Shape, shapes: list[Shape] | None = None, node: strawberry.relay.GlobalID | None = None,
              ids: list[strawberry.ID] | None = None, opt: Opt | None = None) -> str:
        if shapes:
            shapes[0].tags.append("seen")  # each call has its own values: this never reaches another call
        return repr((shape, shapes, node, ids, opt))


def _kids(item: Item, n: int) -> Any:
    """n children; 3: the second is None, 4: the second is of another type, 5: a tuple, 6: a generator."""
    kids: list[Any] = [Item(name=f"{item.name}{i}", label=None, count=i) for i in range(min(n, 3))]
    if n == 3:
        kids[1] = None
    if n == 4:
        kids.append(Plain(value=4))
    if n == 5:
        return tuple(kids)
    if n == 6:
        return (kid for kid in kids)
    return kids


@strawberry.type
class Plain:  # no interface: no is_type_of
    value: int


class Tagged(str):
    """A str subclass: String's serializer returns it as it is, JSON then writes the str."""


@strawberry.type
class Stamped:
    """Scalars the lean path serializes without `complete_leaf_value` (str of String and ID, datetime),
    and values of other types in those fields, which it leaves to graphql-core."""

    ident: strawberry.ID
    number_id: strawberry.ID  # an int: ID serializes it as a string
    text: str
    number_text: str  # an int: String serializes it as a string
    tagged: str
    at: dt.datetime
    naive: dt.datetime
    truthy_text: str  # a bool: String serializes it as "true"


STAMPED = Stamped(ident=strawberry.ID("i-1"), number_id=5, text="t", number_text=7,  # type: ignore[arg-type]
                  tagged=Tagged("g"), at=dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
                  naive=dt.datetime(2026, 1, 2, 3, 4, 5), truthy_text=True)  # type: ignore[arg-type]


@strawberry.type
class Holder:
    stamped: Stamped
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
        return Holder(stamped=STAMPED, item=good, items=[good, nulled, broken, other], optional=nulled, missing=None,
                      required=None, wrong=Plain(value=1), plain=Plain(value=None),  # type: ignore[arg-type]
                      big=Plain(value=2**40), floaty=Plain(value=1.5), truthy=Plain(value=True))  # type: ignore[arg-type]

    @strawberry.field
    def bad(self) -> Item:
        return Item(name=None, label=None, count="three")  # type: ignore[arg-type]


SMALL: list[str | tuple[str, dict[str, Any]]] = [
    "{ holder { stamped { ident numberId text numberText tagged at naive truthyText } } }",
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
    # fields with arguments, lists of objects
    "{ holder { items { name e: echo } } }",
    '{ holder { item { a: echo(times: 2, sep: "+") b: echo(mode: LOUD) c: echo(tags: ["t"]) d: echo(within: {low: 1}) } } }',
    '{ holder { item { kids { c: echo(tags: ["t"]) d: echo(within: {low: 1}) e: echo(tags: []) } } } }',
    "{ holder { item { kids { name e: echo(times: -1) } } } }",
    "{ holder { item { maybeKids { name e: echo(times: -1) } } } }",
    "{ holder { item { kids { name } k3: kids(n: 3) { name } } } }",
    "{ holder { item { maybeKids(n: 3) { name } } } }",
    "{ holder { item { kids(n: 4) { name } } } }",
    "{ holder { item { maybeKids(n: 4) { name } } } }",
    "{ holder { item { kids(n: 5) { name count } maybeKids(n: 6) { name } } } }",
    "{ holder { item { kids { kids(n: 1) { echo(times: 2) kids { echo(mode: LOUD) } } } } } }",
    "{ holder { item { ...K } } } fragment K on Item { kids(n: 2) { ... on Item { echo(times: 1) } ...on Named { name } } }",
    "{ holder { item { kids @skip(if: true) { name } k: kids(n: 1) @include(if: true) { name e: echo @skip(if: false) } } } }",
    ("query($n: Int!, $t: Int!, $tags: [String!], $m: Mode!) { holder { item { kids(n: $n) { echo(times: $t, tags: $tags, mode: $m) "
     "again: echo(times: $t, tags: $tags, mode: $m) } } } }", {"n": 2, "t": 2, "tags": ["v"], "m": "LOUD"}),
    ("query($n: Int!, $t: Int!) { holder { item { kids(n: $n) { echo(times: $t) } } } }", {"n": 2, "t": -1}),
    ("query($n: Int = 3, $t: Int = 1) { holder { items { maybeKids(n: $n) { echo(times: $t) } } } }", {}),
    # input objects (schema/conversion.py): nested, lists of them, recursive, enums, defaults, JSON, Maybe, GlobalID
    '{ holder { item { shape(shape: {name: "a"}) } } }',
    '{ holder { items { shape(shape: {name: "a", tags: ["x", null], modes: [LOUD]}, shapes: [{name: "b"}]) } } }',
    ('query($s: Shape!, $ss: [Shape!]) { holder { items { shape(shape: $s, shapes: $ss) } } }',
     {"s": {"name": "s", "mode": "LOUD", "range": {"low": 1}, "ranges": [{"low": 2, "high": 3}],
            "inner": [{"name": "i", "inner": [{"name": "j", "data": {"k": [1, None]}}]}],
            "data": {"a": 1}, "at": "2026-01-02T03:04:05+00:00"},
      "ss": [{"name": "t", "tags": ["t"]}, {"name": "u", "tags": []}]}),
    ('query($s: Shape!, $o: Opt) { holder { item { shape(shape: $s, node: "SXRlbTox", ids: ["1", 2], opt: $o) } } }',
     {"s": {"name": "s", "modes": None, "tags": ["z"]}, "o": {"maybe": None, "shape": {"name": "o"}}}),
    '{ holder { items { shape(shape: {name: "a"}, opt: {maybe: "m"}) o: shape(shape: {name: "b"}, opt: {}) } } }',
    '{ holder { item { shape(shape: {name: "a"}, node: "not a global id") } } }',
    # objects from fields with arguments: completed by their plan, or graphql-core's way (null, wrong type)
    "{ holder { item { twin { name t: twin { count } } n: twin(same: false) { name } other { name } } } }",
    "{ holder { items { other(wrong: true) { name } } } }",
    "{ holder { item { other(empty: true) { name } } optional { other { shout } } } }",
    # the whole item fails on a non-null field: the null reaches the nullable list's item
    "{ holder { item { maybeKids { shout count } } optional { maybeKids(n: 1) { name } } } }",
]


def test_input_arguments_are_compiled_where_strawberry_would_do_plain_work():
    schema = strawberry.Schema(query=SmallQuery, execution_context_class=LeanExecutor)
    item = schema._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    spec = _argument_fields(schema._schema, item)["shape"]
    assert spec is not None
    compiled = {name: done for name, _, _, _, done in spec.convert.arguments}
    assert compiled == {"shape": True, "shapes": True, "node": False, "ids": True, "opt": False}
    # Every argument of the server's fields with arguments is compiled (inputs, filters, enums, JSON).
    real = root.build_schema()._schema
    for type_name in ("Query", "Mutation", "Context"):
        fields = _argument_fields(real, real.type_map[type_name])  # type: ignore[arg-type]
        assert all(done for spec in fields.values() if spec for *_, done in spec.convert.arguments), type_name


class CountingLean(LeanExecutor):
    trivial = 0

    def _plan(self, *args: Any) -> Any:
        steps = super()._plan(*args)
        CountingLean.trivial += sum(1 for step in steps or () if step[2] is not None)
        return steps


async def test_errors_and_nulls_are_the_same_on_a_small_schema():
    lean = strawberry.Schema(query=SmallQuery, execution_context_class=CountingLean)
    plain = strawberry.Schema(query=SmallQuery)
    for _ in range(2):  # twice: arguments worked out once must give the same answers
        for entry in SMALL:
            query, variables = entry if isinstance(entry, tuple) else (entry, None)
            fast = await lean.execute(query, variable_values=variables)
            slow = await plain.execute(query, variable_values=variables)
            assert fast.data == slow.data, query
            assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []], query
    assert CountingLean.trivial > 20  # the lean path did run
    broken = await lean.execute("{ holder { items { name } } }")
    assert broken.data is None and broken.errors
    assert broken.errors[0].message == "Cannot return null for non-nullable field Item.name."
    assert broken.errors[0].path == ["holder", "items", 1, "name"]


# -- lists of plain items (`_fill`): completed in one pass, or item by item where a value is not plain ---------


@strawberry.type
class Pair:
    left: Item
    right: Item | None
    plain: Plain
    stamped: Stamped

    @strawberry.field
    def later(self) -> int:
        # A trivial field whose value is an awaitable: the list is completed the general way, awaiting it.
        return self._later()  # type: ignore[return-value]

    async def _later(self) -> int:
        return self.plain.value


def _pair(left: Any, right: Any = None, value: Any = 1) -> Pair:
    return Pair(left=left, right=right, plain=Plain(value=value), stamped=STAMPED)


def _item(name: Any, count: Any = 1) -> Item:
    return Item(name=name, label=None, count=count)


@strawberry.type
class Pairs:
    items: list[Pair]  # a trivial list field, as a connection's `edges` is
    maybe: list[Pair | None]


@strawberry.type
class PairQuery:
    @strawberry.field
    def pairs(self, case: str = "plain") -> Pairs:
        items = [_pair(_item("a"), _item("b", 2)), _pair(_item("c"), None, 3)]
        if case == "null":  # null in a non-null field, deep in the third item
            items.append(_pair(_item(None)))
        if case == "wrong":  # an object of another type
            items.append(_pair(Plain(value=1)))
        if case == "raises":  # a field that raises, in one item
            items.append(_pair(_item("boom")))
        if case == "enum":
            items.append(_pair(_item("e", Mode.LOUD)))
        return Pairs(items=items, maybe=[items[0], None, _pair(_item(None))])


PAIRS = [
    "{ pairs { items { left { name count label } right { name maybe } plain { value } stamped { at ident numberId } } } }",
    '{ pairs(case: "null") { items { left { name } right { name } } } }',
    '{ pairs(case: "wrong") { items { left { name } } } }',
    '{ pairs(case: "raises") { items { left { name shout } } } }',
    '{ pairs(case: "enum") { items { left { count } } } }',
    "{ pairs { items { plain { value } later } } }",
    "{ pairs { items { left { ... on Named { name } } r: right { n: name } } } }",
    "{ pairs { maybe { left { name } plain { value } } } }",
]


async def test_lists_of_plain_items_answer_the_same(monkeypatch, recwarn):
    filled = []
    fill = execution._fill
    monkeypatch.setattr(execution, "_fill", lambda shape, item: filled.append(item) or fill(shape, item))
    lean = strawberry.Schema(query=PairQuery, execution_context_class=LeanExecutor)
    plain = strawberry.Schema(query=PairQuery)
    for query in PAIRS:
        fast = await lean.execute(query)
        slow = await plain.execute(query)
        assert fast.data == slow.data, query
        assert json.dumps(fast.data) == json.dumps(slow.data), query  # key order too
        assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []], query
    assert len(filled) > 10  # the one-pass completion did run
    null = await lean.execute(PAIRS[1])
    assert null.errors and null.errors[0].path == ["pairs", "items", 2, "left", "name"]
    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


# -- what the document alone decides (collected sub-selections, plans, shapes) is worked out once --------------


class PlanCounting(LeanExecutor):
    made = 0

    def _new_plan(self, *args: Any) -> Any:
        PlanCounting.made += 1
        return super()._new_plan(*args)


def _pair_schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    # The parser cache hands every request of one text the same nodes, as the server's pipeline does.
    lean = strawberry.Schema(query=PairQuery, execution_context_class=PlanCounting,
                             extensions=[lambda: ParserCache(maxsize=100)])
    return lean, strawberry.Schema(query=PairQuery)


async def _made_per_request(lean: strawberry.Schema, plain: strawberry.Schema, query: str,
                            variables: list[dict[str, Any] | None]) -> list[int]:
    made = []
    for values in variables:
        PlanCounting.made = 0
        fast = await lean.execute(query, variable_values=values)
        slow = await plain.execute(query, variable_values=values)
        assert json.dumps(fast.data) == json.dumps(slow.data), (query, values)
        assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []]
        made.append(PlanCounting.made)
    return made


async def test_plans_of_a_document_are_made_once_when_its_directives_hold_no_variable():
    lean, plain = _pair_schemas()
    query = ("{ pairs { items { left { name @include(if: true) count @skip(if: true) } ...R } } } "
             "fragment R on Pair { right { name } plain { value } }")
    made = await _made_per_request(lean, plain, query, [None, None, None])
    assert made[0] > 3 and made[1:] == [1, 1]  # after the first request, only the root's (collected per request)


async def test_a_variable_in_a_directive_keeps_the_plans_per_request():
    lean, plain = _pair_schemas()
    query = ("query($x: Boolean!) { pairs { items { left { name @include(if: $x) count } ...R @skip(if: $x) } } } "
             "fragment R on Pair { right { name } }")
    made = await _made_per_request(lean, plain, query, [{"x": True}, {"x": False}, {"x": True}])
    assert all(n > 1 for n in made)
    # Variables elsewhere (a field's arguments) leave the plans shared.
    shared = await _made_per_request(lean, plain, 'query($c: String!) { pairs(case: $c) { items { left { name } } } }',
                                     [{"c": "plain"}, {"c": "null"}, {"c": "plain"}])
    assert shared[1:] == [1, 1]


async def test_what_a_document_decided_goes_with_the_document():
    lean = strawberry.Schema(query=PairQuery, execution_context_class=LeanExecutor,
                             extensions=[lambda: ParserCache(maxsize=3)])
    gc.collect()
    before = len(execution._DECIDED)
    for n in range(12):
        assert (await lean.execute(f"{{ pairs {{ items {{ left {{ n{n}: name }} }} }} }}")).data
    gc.collect()
    assert len(execution._DECIDED) <= before + 3  # the parse cache's documents only


# -- literal arguments are kept per parsed document: two schemas sharing the parser cache ------------


@strawberry.type
class Counter:
    @strawberry.field
    def step(self, by: int = 1) -> int:
        return by


@strawberry.type
class TenCounter:
    @strawberry.field(name="step")
    def step(self, by: int = 10) -> int:
        return by


@strawberry.type
class OneQuery:
    @strawberry.field
    def counters(self) -> list[Counter]:
        return [Counter(), Counter()]


@strawberry.type
class TenQuery:
    @strawberry.field
    def counters(self) -> list[TenCounter]:
        return [TenCounter(), TenCounter()]


async def test_literal_arguments_are_not_shared_between_schemas():
    # ParserCache with one maxsize is one cache: both schemas get the very same document nodes.
    one = strawberry.Schema(query=OneQuery, execution_context_class=LeanExecutor, extensions=[lambda: ParserCache(maxsize=77)])
    ten = strawberry.Schema(query=TenQuery, execution_context_class=LeanExecutor, extensions=[lambda: ParserCache(maxsize=77)])
    for _ in range(2):
        assert (await one.execute("{ counters { step s: step(by: 3) } }")).data == {
            "counters": [{"step": 1, "s": 3}, {"step": 1, "s": 3}]}
        assert (await ten.execute("{ counters { step s: step(by: 3) } }")).data == {
            "counters": [{"step": 10, "s": 3}, {"step": 10, "s": 3}]}


# -- root fields (schema/guard.RootGuard, called lean): answers, audit, refusals, the time limit ------


class Caller:
    """One app's GraphQL endpoint, with an optional bearer token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def run(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        return response.json()


@contextlib.asynccontextmanager
async def pair(store, workspace: str, monkeypatch, **settings: Any) -> AsyncIterator[tuple[Caller, Caller]]:
    """The server as built (lean) and one on graphql-core's own executor, same settings, same store."""
    lean = create_app(settings_for(workspace, **settings), store=store)
    with monkeypatch.context() as patched:
        patched.setattr(app_module, "build_schema", functools.partial(root.build_schema, lean=False))
        plain = create_app(settings_for(workspace, **settings), store=store)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=lean), base_url="http://test") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://test") as b,
    ):
        yield Caller(a), Caller(b)


@pytest.fixture
def guard_calls(monkeypatch) -> dict[str, int]:
    """How often each path ran schema/guard.guarded: `lean` (LeanExecutor) and `extension` (RootGuard)."""
    calls = {"lean": 0, "extension": 0}

    def counting(key: str, original: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[key] += 1
            return await original(*args, **kwargs)
        return counted

    monkeypatch.setattr(execution, "guarded", counting("lean", guard.guarded))
    monkeypatch.setattr(guard, "guarded", counting("extension", guard.guarded))
    return calls


async def same_root(callers: tuple[Caller, Caller], query: str, token: str | None = None,
                    **variables: Any) -> dict[str, Any]:
    lean, plain = callers
    fast, slow = await lean.run(query, token, **variables), await plain.run(query, token, **variables)
    assert json.dumps(fast) == json.dumps(slow), f"{query}\nlean:  {fast}\nplain: {slow}"
    return fast


AUDIT = """query($n: Int) { auditLog(first: $n) {
  totalCount edges { node { principal principalKind operation target outcome code } } } }"""


async def audit_count(caller: Caller, token: str | None) -> int:
    body = await caller.run(AUDIT, token, n=1)
    assert not body.get("errors"), body
    return body["data"]["auditLog"]["totalCount"]


async def audited(caller: Caller, token: str | None, query: str, as_: str | None,
                  **variables: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The answer to `query` (sent with the token `as_`) and the audit entries it wrote (newest first, without
    ids and times), read with `token`."""
    before = await audit_count(caller, token)
    answer = await caller.run(query, as_, **variables)
    written = await audit_count(caller, token) - before
    body = await caller.run(AUDIT, token, n=max(written, 1))
    return answer, [edge["node"] for edge in body["data"]["auditLog"]["edges"][:written]]


async def same_audited(callers: tuple[Caller, Caller], token: str | None, query: str, as_: str | None,
                       **variables: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`query` on both paths: the same answer, and audit entries of the same content."""
    lean, plain = callers
    fast, written_lean = await audited(lean, token, query, as_, **variables)
    slow, written_plain = await audited(plain, token, query, as_, **variables)
    assert json.dumps(fast) == json.dumps(slow), f"{query}\nlean:  {fast}\nplain: {slow}"
    assert written_lean == written_plain, f"{query}\nlean:  {written_lean}\nplain: {written_plain}"
    return fast, written_lean


ROOT_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ('{ context(path: "/r") { path title } }', {}),  # literals
    ("query($p: String) { context(path: $p) { path title } }", {"p": "/r"}),  # a variable
    ("query($p: String) { context(path: $p) { path } }", {}),  # an omitted variable: null
    ('{ a: context(path: "/r") { path } b: context(path: "/r/k") { t: title } a2: context(path: "/none") { path } }', {}),
    ('{ context(path: "/r") { path } contextTypes { name } me { id kind roles } __typename }', {}),  # two root fields, sync ones
    ('{ builtinTools { name } me { workspace } }', {}),  # only sync root fields
    ('{ context(path: "not a path") { path } me { id } }', {}),  # a user error at the root, next to an answer
    ('{ node(id: "nope") { id } context(path: "/r") { path } }', {}),
    ('{ contexts(first: -1) { totalCount } ok: context(path: "/r") { path } }', {}),  # an error of an argument's value
    ('query($yes: Boolean!) { context(path: "/r") @include(if: $yes) { path } me @skip(if: $yes) { id } }', {"yes": True}),
    ('{ ...Root } fragment Root on Query { context(path: "/r") { path } }', {}),
    ('{ contexts(where: {path: {startsWith: "/r/"}}, first: 5, orderBy: [{field: PATH}]) { totalCount edges { node { path } } } }', {}),
    ('query($w: ContextFilter) { contexts(where: $w, first: 5) { totalCount } }', {"w": {"kind": {"eq": "k"}}}),
    ('{ indexJobs { id } }', {}),
]


async def test_root_fields_answer_the_same(store, workspace, monkeypatch, guard_calls):
    async with pair(store, workspace, monkeypatch) as callers:
        lean, _ = callers
        for path in ("/r", "/r/k"):
            body = await lean.run(CREATE_CONTEXT, None, input={"path": path, "title": path, "kind": "k"})
            assert not body.get("errors"), body
        guard_calls.update(lean=0, extension=0)
        for _ in range(2):  # twice: literal arguments are then kept per parsed document
            for query, variables in ROOT_QUERIES:
                await same_root(callers, query, **variables)
        # Every async root field ran through schema/guard.guarded on both paths, the lean one without RootGuard;
        # except one with a directive on its node (`@include`), which the lean app hands to graphql-core:
        # per round, RootGuard ran for it in each app.
        assert guard_calls["lean"] > 20 and guard_calls["extension"] == guard_calls["lean"] + 2 * 2


CREATE_CONTEXT = "mutation($input: CreateContextInput!) { createContext(input: $input) { path } }"

ROOT_MUTATIONS: list[tuple[str, dict[str, Any]]] = [
    ('mutation { updateContext(path: "/m", input: {title: "M"}) { path title version } }', {}),  # nothing changes
    ('mutation($p: String, $t: String) { updateContext(path: $p, input: {title: $t}) { path title } }', {"p": "/m", "t": "M"}),
    ("mutation($p: String, $in: UpdateContextInput!) { updateContext(path: $p, input: $in) { path } }",
     {"p": "/m", "in": {"title": "M", "tags": []}}),
    ('mutation { createContext(input: {path: "/m"}) { path } }', {}),  # CONFLICT: a non-null root field fails
    ('mutation { updateContext(path: "/m", input: {title: "N"}, expectedVersion: 99) { path } }', {}),
    ('mutation { deleteContext(path: "/m/none") { path } }', {}),
    # Root fields run one after the other: the second fails, non-null, so data is null and the third never runs.
    ('mutation { a: updateContext(path: "/m", input: {title: "M"}) { title } '
     'b: createContext(input: {path: "/m"}) { path } c: updateContext(path: "/m", input: {kind: "x"}) { kind } }', {}),
    ('mutation($in: [CreateContextInput!]!) { createContexts(inputs: $in) { path } }', {"in": [{"path": "/m"}]}),
    ('mutation { __typename }', {}),
]


async def test_root_mutations_answer_and_audit_the_same(store, workspace, monkeypatch, guard_calls):
    async with pair(store, workspace, monkeypatch) as callers:
        lean, _ = callers
        body = await lean.run(CREATE_CONTEXT, None, input={"path": "/m", "title": "M", "kind": "x"})
        assert not body.get("errors"), body
        guard_calls.update(lean=0, extension=0)
        entries = []
        for query, variables in ROOT_MUTATIONS:
            entries.append((await same_audited(callers, None, query, None, **variables))[1])
        assert guard_calls["lean"] == guard_calls["extension"] > 10
        assert [(e["operation"], e["target"], e["outcome"], e["code"]) for e in entries[3]] == [
            ("mutation createContext", "path=/m", "FAILED", "CONFLICT")]
        assert [e["operation"] for e in entries[6]] == ["mutation createContext", "mutation updateContext"]
        assert [e["target"] for e in entries[2] + entries[7]] == ["path=/m", "inputs=1"]
        assert entries[-1] == []


async def test_refusals_are_the_same_and_audited_the_same(store, workspace, monkeypatch):
    from tests.auth.conftest import HS256_SETTINGS
    from tests.auth.tokens import hs256

    admin = hs256(sub="ana", roles=["admin"], workspaces=[workspace])
    viewer = hs256(sub="vic", roles=["viewer"], workspaces=[workspace])
    async with pair(store, workspace, monkeypatch, **HS256_SETTINGS) as callers:
        refused = [
            ('mutation($p: String!) { createContext(input: {path: $p}) { id } }', {"p": "/v"}, ["path=/v"]),
            ('mutation($in: CreateContextInput!) { createContext(input: $in) { id } }', {"in": {"path": "/w"}},
             ["path=/w"]),
            ('mutation { deleteContext(path: "/v", recursive: true) { path } }', {}, ["path=/v"]),
            ("{ auditLog { edges { node { at } } } }", {}, [""]),  # a query refused: audited too
            ('{ apiKeys { id } context(path: "/v") { path } }', {}, [""]),  # one field refused, one answered
            # Synchronous root fields (`indexJob(s)`) are refused by the role check alone: RootGuard.resolve
            # never audits.
            ("{ indexJobs { id } }", {}, []),
            ('{ indexJob(id: "x") { id } me { id } }', {}, []),
        ]
        for query, variables, targets in refused:
            answer, written = await same_audited(callers, admin, query, viewer, **variables)
            assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert [e["target"] for e in written] == targets, query
            assert all(e["outcome"] == "DENIED" and e["principal"] == "vic" for e in written)


async def test_the_time_limit_is_the_same(store, workspace, monkeypatch):
    async with pair(store, workspace, monkeypatch, resolver_timeout=1e-6) as callers:
        lean, _ = callers
        await lean.run(CREATE_CONTEXT, None, input={"path": "/slow"})  # a mutation is never cut short
        answer = await same_root(callers, "{ contexts(first: 5) { totalCount edges { node { path } } } }")
        assert answer["errors"][0]["extensions"]["code"] == "TIMEOUT" and "narrow" in answer["errors"][0]["message"]
        both = await same_root(callers, '{ a: context(path: "/slow") { path } me { id } b: context(path: "/x") { path } }')
        assert {tuple(e["path"]) for e in both["errors"]} == {("a",), ("b",)}
        assert both["data"] == {"a": None, "me": {"id": "anonymous"}, "b": None}
        done = await same_root(callers, 'mutation { updateContext(path: "/slow", input: {title: "S"}) { title } }')
        assert done == {"data": {"updateContext": {"title": "S"}}}
