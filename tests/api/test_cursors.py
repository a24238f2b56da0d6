"""Cursors through GraphQL: positions, not offsets, on every backend.

Hostile cursors (old offset cursors with huge or negative offsets, garbage, JSON of the wrong
shape, values out of range, another connection's or another order's cursor) are answered with
`BAD_USER_INPUT` and the server keeps answering; an insert between two pages neither repeats
nor hides a row.
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest

from contextql.graph.filters import Order
from contextql.graph.records import Page
from contextql.resolvers.pagination import (AUDIT_LOG, CHILDREN, EXECUTIONS, HISTORY, TOOLS, contexts_scope, cut,
                                            decode_cursor, encode_cursor)
from contextql.schema.connections import connection

from .conftest import create

CONNECTIONS = {
    "contexts": """query($after: String) { contexts(first: 2, after: $after, orderBy: [{field: TITLE}]) {
        edges { cursor node { path } } pageInfo { endCursor hasNextPage hasPreviousPage } } }""",
    "contextsByPath": """query($after: String) { contexts(first: 2, after: $after) {
        edges { cursor node { path } } pageInfo { endCursor hasNextPage hasPreviousPage } } }""",
    "children": """query($after: String) { context(path: "/r") { children(first: 2, after: $after) {
        edges { cursor node { path } } pageInfo { endCursor hasNextPage hasPreviousPage } } } }""",
    "history": """query($after: String) { context(path: "/r") { history(first: 2, after: $after) {
        edges { cursor node { number } } pageInfo { endCursor hasNextPage hasPreviousPage } } } }""",
    "auditLog": """query($after: String) { auditLog(first: 2, after: $after) {
        edges { cursor node { at } } pageInfo { endCursor hasNextPage hasPreviousPage } } }""",
    "tools": """query($after: String) { tools(first: 2, after: $after) {
        edges { cursor node { name } } pageInfo { endCursor hasNextPage hasPreviousPage } } }""",
    "executions": """query($after: String) { executions(first: 2, after: $after) {
        edges { cursor node { id } } pageInfo { endCursor hasNextPage hasPreviousPage } } }""",
}


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode()


def conn(data: dict) -> dict:
    """The connection object in a response of one of CONNECTIONS."""
    value = next(iter(data.values()))
    return next(iter(value.values())) if "edges" not in value else value


def decoded(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


OFFSETS = [2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, 10**100, 15_000, 20_001, -1, -(2**63)]
GARBAGE = ["not-a-cursor", "", "=", "====", "!!!!", "a" * 70_000, "\x00", "😀", b64(b"\xff\xfe\x00"), b64("NaN"),
           b64("[" * 50_000 + "]" * 50_000), b64("1" * 5_000)]
WRONG_SHAPES = ["[]", "{}", "null", "1", '"x"', '{"c": "contexts"}', '{"c": 1, "o": 2, "k": 3}',
                '{"c": "contexts", "o": "title,path", "k": "x"}', '{"offset": 5}']


def bad_positions(connection: str, order: str, arity: int) -> list[str]:
    """Cursors with this connection's own tag and order but values of the wrong shape or range."""
    values = [
        [], [None] * arity, ["x"] * (arity + 1), [True] * arity, [1.5] * arity, [2**63] * arity,
        [-(2**63) - 1] * arity, [10**30] * arity, ["x" * 5_000] * arity, [{"a": 1}] * arity, [[1]] * arity,
    ]
    out = [b64(json.dumps({"c": connection, "o": order, "k": v})) for v in values]
    out.append(b64(f'{{"c": "{connection}", "o": "{order}", "k": [NaN]}}'))
    out.append(b64(f'{{"c": "{connection}", "o": "{order}", "k": ["\\ud800"]}}'))
    out.append(b64(json.dumps({"c": connection, "o": order, "k": [1] * arity, "extra": 1})))
    return out


@pytest.fixture
async def seeded(api):
    await create(api, "/r", title="r")
    for name, title in (("a", "t3"), ("b", "t1"), ("c", "t2"), ("d", "t1")):
        await create(api, f"/r/{name}", title=title)
    for i in range(3):
        await api.data(f'mutation {{ updateContext(path: "/r", input: {{title: "r{i}"}}) {{ version }} }}')
    return api


async def alive(api) -> None:
    assert (await api.data("{ contexts(first: 1) { totalCount } }"))["contexts"]["totalCount"] == 5


async def test_every_connection_pages_by_position(seeded):
    api = seeded
    for name in ("contexts", "contextsByPath", "children", "history", "auditLog"):
        query = CONNECTIONS[name]
        first = conn(await api.data(query))
        assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"], name
        tag = decoded(first["pageInfo"]["endCursor"])
        assert set(tag) == {"c", "o", "k"} and tag["c"] == ("contexts" if name.startswith("contexts") else name)
        second = conn(await api.data(query, after=first["pageInfo"]["endCursor"]))
        assert second["pageInfo"]["hasPreviousPage"], name
        assert not {str(e["node"]) for e in first["edges"]} & {str(e["node"]) for e in second["edges"]}, name
        # every edge's cursor continues right after that edge
        middle = conn(await api.data(query, after=first["edges"][0]["cursor"]))
        assert middle["edges"][0]["node"] == first["edges"][1]["node"], name
    by_title = []
    after = None
    while True:
        page = conn(await api.data(CONNECTIONS["contexts"], after=after))
        by_title += [e["node"]["path"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert by_title == ["/r", "/r/b", "/r/d", "/r/c", "/r/a"]  # "r2" < "t1" (b before d by path) < "t2" < "t3"


async def test_insert_between_pages_repeats_nothing(seeded):
    api = seeded
    query = CONNECTIONS["children"]
    first = conn(await api.data(query))
    assert [e["node"]["path"] for e in first["edges"]] == ["/r/a", "/r/b"]
    await create(api, "/r/0")  # sorts before everything already seen
    rest = conn(await api.data(query, after=first["pageInfo"]["endCursor"]))
    assert [e["node"]["path"] for e in rest["edges"]] == ["/r/c", "/r/d"]


async def _assert_bad(api, query: str, cursor: str) -> None:
    body = await api.run(query, after=cursor)
    assert body.get("errors"), (cursor[:80], body)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", (cursor[:80], error)
    assert "Traceback" not in error["message"] and "MATCH" not in error["message"]


@pytest.mark.parametrize("name", list(CONNECTIONS))
async def test_hostile_cursors_are_bad_user_input(seeded, name):
    api = seeded
    query = CONNECTIONS[name]
    hostile = [b64(f"offset:{n}") for n in OFFSETS] + GARBAGE + [b64(s) for s in WRONG_SHAPES]
    for cursor in hostile:
        await _assert_bad(api, query, cursor)
    await alive(api)


async def test_wrongly_shaped_positions_of_each_connection_are_bad_user_input(seeded):
    api = seeded
    for name in ("contexts", "contextsByPath", "children", "history", "auditLog"):
        tag = decoded(conn(await api.data(CONNECTIONS[name]))["pageInfo"]["endCursor"])
        for cursor in bad_positions(tag["c"], tag["o"], len(tag["k"])):
            await _assert_bad(api, CONNECTIONS[name], cursor)
    tags = {"tools": ("tools", "name", 1), "executions": ("executions", "started_at-,id", 2)}
    for name, (tag_name, order, arity) in tags.items():
        for cursor in bad_positions(tag_name, order, arity):
            await _assert_bad(api, CONNECTIONS[name], cursor)
    await alive(api)


async def test_another_connections_or_orders_cursor_is_bad_user_input(seeded):
    api = seeded
    cursors = {name: conn(await api.data(CONNECTIONS[name]))["pageInfo"]["endCursor"]
               for name in ("contexts", "contextsByPath", "children", "history", "auditLog")}
    for target in CONNECTIONS:
        for source, cursor in cursors.items():
            same = source == target
            if same:
                continue
            body = await api.run(CONNECTIONS[target], after=cursor)
            error = body["errors"][0]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", (source, target, error)
            expected = "orderBy" if {source, target} == {"contexts", "contextsByPath"} else "another connection"
            assert expected in error["message"], (source, target, error["message"])
    await alive(api)


async def test_in_range_extremes_of_the_right_shape_are_just_positions(seeded):
    api = seeded
    for name, tag_name, order, position in (
        ("history", "history", "number-", [-(2**63)]),
        ("auditLog", "auditLog", "at-,id-", [-(2**63), ""]),
        ("executions", "executions", "started_at-,id", [2**63 - 1, "~"]),
        ("children", "children", "name,id", ["\U0010ffff", "x"]),
    ):
        page = conn(await api.data(CONNECTIONS[name], after=b64(json.dumps({"c": tag_name, "o": order, "k": position}))))
        assert page["edges"] == [] or name == "executions", name
        assert page["pageInfo"]["hasPreviousPage"]
    await alive(api)


def test_rows_hidden_after_the_read_still_move_the_end_cursor():
    """Tools a principal may not read are dropped after the read: the page may show fewer rows,
    but `endCursor` names the last row read, so paging goes on even when a page shows none."""
    rows = [SimpleNamespace(name=n, id=n * 2) for n in "abcd"]  # a probe read of a 3-row page
    hidden = cut(rows, Page(3), CHILDREN, keep=lambda r: r.name == "a")
    assert [r.name for r in hidden.items] == ["a"] and hidden.has_next and hidden.end == ("c", "cc")
    empty = connection(cut(rows, Page(3, ("0", "")), CHILDREN, keep=lambda r: False), lambda r: r, _never)
    assert empty.edges == [] and empty.page_info.has_next_page and empty.page_info.has_previous_page
    assert decode_cursor(CHILDREN, empty.page_info.end_cursor()) == ("c", "cc")
    shown = connection(cut(rows[:2], Page(3), CHILDREN), lambda r: r, _never)
    assert shown.page_info.end_cursor() == shown.edges[-1].cursor() and not shown.page_info.has_next_page


@pytest.mark.parametrize(("scope", "position"), [(CHILDREN, ("ñame \u2028 \"q\" \\", "id")), (HISTORY, (21,)),
                                                (CHILDREN, ("\x00\x1f\x7f ☃ \U0001f600", ""))])
def test_the_wire_format_is_compact_json_of_connection_order_and_values(scope, position):
    payload = json.dumps({"c": scope.connection, "o": scope.order, "k": list(position)}, separators=(",", ":"),
                         ensure_ascii=False)
    assert encode_cursor(scope, position) == base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    assert decode_cursor(scope, encode_cursor(scope, position)) == position


# Scopes whose JSON prefix (`{"c":...,"k":`) leaves each remainder modulo 3 (the prefix's whole base64
# groups are encoded once per scope), with positions of each shape they take.
_EVERY_SCOPE = [
    (CHILDREN, ("a", "b")), (CHILDREN, ("", "")), (HISTORY, (0,)), (HISTORY, (-(2**63),)), (TOOLS, ("t",)),
    (AUDIT_LOG, (2**63 - 1, "x")), (EXECUTIONS, (1, "é")), (contexts_scope([]), ("/p",)),
    (contexts_scope([Order("title")]), ("T", "/p")), (contexts_scope([Order("title", True)]), ("T", "/p")), (contexts_scope([Order("version", True)]), (3, "/p")),
    (contexts_scope([Order("updated_at", True), Order("kind")]), (17, "k\n\"", "/p")),
]


@pytest.mark.parametrize(("scope", "position"), _EVERY_SCOPE)
def test_every_scope_encodes_the_same_bytes_as_plain_json_and_base64(scope, position):
    payload = json.dumps({"c": scope.connection, "o": scope.order, "k": list(position)}, separators=(",", ":"),
                         ensure_ascii=False)
    assert encode_cursor(scope, position) == base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    assert decode_cursor(scope, encode_cursor(scope, position)) == position


def test_prefixes_of_every_length_modulo_3_are_covered():
    remainders = {len(f'{{"c":"{s.connection}","o":"{s.order}","k":'.encode()) % 3 for s, _ in _EVERY_SCOPE}
    assert remainders == {0, 1, 2}


async def _never() -> int:
    raise AssertionError("not selected")
