"""Property-based fuzzing of the GraphQL surface (hypothesis): documents generated from the schema with
hostile argument values, and malformed requests. No request may produce a server error or leak internals."""

from __future__ import annotations

import base64
import json
import string

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLUnionType,
)
from hypothesis import HealthCheck, given, settings, strategies as st

from contextql.schema import build_schema
from contextql.server.app import create_app
from tests.api.conftest import settings_for

SCHEMA = build_schema()._schema
LEAKS = ("Traceback", 'File "', "Cypher", "cypher", "neo4j.", "ladybug", "MATCH (", "RuntimeError", "KeyError",
         "AttributeError", "TypeError(", "object has no attribute", "Neo.", "RecursionError", "recursion depth",
         "Internal Server Error")
ALLOWED_STATUS = {200, 400, 401, 403, 405, 413, 415, 429}

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["/", "/a", "//a//b/", "/../x", "/a/./b", "/" + "x" * 300, "/a" * 70, "", " ", "\x00", "😀",
                     "' OR 1=1 --", "\") RETURN n //", "${x}", "%00", "*", "/acme/projects/alpha"]),
    st.from_regex(r"/[a-z0-9._~@+=,-]{1,12}(/[a-z0-9]{1,8}){0,3}", fullmatch=True),
)
ints = st.one_of(st.integers(-3, 200), st.sampled_from([-(2**31), 2**31 - 1, 2**53, -1, 0, 10**6]))
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)  # GraphQL object keys are names
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=10,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


# Cursors: arbitrary text, old offset cursors, arbitrary JSON, and positions tagged like real
# ones (right or wrong connection and order) holding arbitrary or extreme values.
CONNECTION_TAGS = ["contexts", "children", "history", "auditLog", "tools", "executions", "x"]
ORDER_TAGS = ["path", "title,path", "title-,path", "name,id", "number-", "at-,id-", "name", "started_at-,id", ""]
key_values = st.one_of(
    json_values,
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**31, 10**40, "", "\U0010ffff", "x" * 5000]),
)
cursors = st.one_of(
    texts,
    st.integers().map(lambda n: _b64(f"offset:{n}".encode())),
    st.binary(max_size=60).map(_b64),
    json_values.map(lambda v: _b64(json.dumps(v).encode())),
    st.fixed_dictionaries({
        "c": st.sampled_from(CONNECTION_TAGS), "o": st.sampled_from(ORDER_TAGS),
        "k": st.lists(key_values, max_size=4),
    }).map(lambda v: _b64(json.dumps(v).encode()).rstrip("=")),
)
PAGED = [
    "{ contexts(first: 3, after: $after) { edges { cursor node { path } } pageInfo { endCursor } } }",
    "{ contexts(first: 3, after: $after, orderBy: [{field: TITLE, direction: DESC}]) { edges { cursor } } }",
    '{ context(path: "/acme") { children(first: 3, after: $after) { edges { cursor } } history(after: $after) { totalCount } } }',
    "{ auditLog(first: 3, after: $after) { edges { cursor } } }",
    "{ tools(first: 3, after: $after) { edges { cursor } } executions(first: 3, after: $after) { edges { cursor } } }",
]


def literal(value) -> str:
    """A Python value as a GraphQL literal (JSON-ish; object keys unquoted)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith("ENUM:"):
        return value[5:]
    return json.dumps(value)


def value_for(type_, depth: int = 0) -> st.SearchStrategy:
    nullable = not isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        strategy = st.lists(value_for(inner.of_type, depth + 1), max_size=3)
    elif isinstance(inner, GraphQLEnumType):
        strategy = st.sampled_from([f"ENUM:{name}" for name in inner.values])
    elif isinstance(inner, GraphQLInputObjectType):
        if depth > 2:
            return st.none()
        fields = {name: value_for(f.type, depth + 1) for name, f in inner.fields.items()}
        strategy = st.fixed_dictionaries(
            {n: s for n, s in fields.items() if isinstance(inner.fields[n].type, GraphQLNonNull)},
            optional={n: s for n, s in fields.items() if not isinstance(inner.fields[n].type, GraphQLNonNull)},
        )
    elif isinstance(inner, GraphQLScalarType):
        strategy = {"Int": ints, "Float": st.floats(-1e9, 1e9), "Boolean": st.booleans(), "ID": texts,
                    "String": texts, "JSON": json_values, "DateTime": st.sampled_from(
                        ["2024-01-01T00:00:00Z", "not-a-date", "9999-12-31T23:59:59+00:00", "1970-01-01T00:00:00"])
                    }.get(inner.name, texts)
    else:
        strategy = texts
    return st.one_of(st.none(), strategy) if nullable else strategy


@st.composite
def selection(draw, type_, depth: int) -> str:
    named = type_
    while isinstance(named, (GraphQLNonNull, GraphQLList)):
        named = named.of_type
    if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if isinstance(named, GraphQLUnionType) or depth > 3:
        return "{ __typename }"
    fields = list(named.fields.items())
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique_by=lambda f: f[0]))
    parts = [draw(field(name, f, depth + 1)) for name, f in chosen]
    return "{ __typename " + " ".join(parts) + " }"


@st.composite
def field(draw, name: str, definition, depth: int) -> str:
    args = []
    for arg_name, arg in definition.args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        if required or draw(st.booleans()):
            value = draw(st.one_of(st.none(), cursors) if arg_name == "after" else value_for(arg.type))
            if value is None and required:
                continue  # leave it out: a validation error, also fine
            args.append(f"{arg_name}: {literal(value)}")
    rendered = f"{name}({', '.join(args)})" if args else name
    return rendered + " " + draw(selection(definition.type, depth))


@st.composite
def operations(draw) -> str:
    kind = draw(st.sampled_from(["query", "mutation"]))
    root = SCHEMA.query_type if kind == "query" else SCHEMA.mutation_type
    chosen = draw(st.lists(st.sampled_from(list(root.fields.items())), min_size=1, max_size=2, unique_by=lambda f: f[0]))
    return kind + " { " + " ".join(draw(field(n, f, 0)) for n, f in chosen) + " }"


def check(response: httpx.Response) -> None:
    assert response.status_code in ALLOWED_STATUS, (response.status_code, response.text[:500])
    text = response.text
    for leak in LEAKS:
        assert leak not in text, (leak, text[:800])
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        for error in (body.get("errors") or []) if isinstance(body, dict) else []:
            assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_SERVER_ERROR"), error


@pytest.fixture
async def fuzz_client(store, workspace):
    app = create_app(settings_for(workspace, rate_limit_operations=0, rate_limit_cost=0, search=False), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://test") as client:
        await client.post("/graphql", json={"query": 'mutation { createContext(createParents: true, input: '
                                                      '{path: "/acme/projects/alpha", data: {a: 1}}) { id } }'})
        yield client


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(document=operations())
async def test_generated_operations_never_fail_internally(fuzz_client, document):
    check(await fuzz_client.post("/graphql", json={"query": document}))


@FUZZ
@given(query=st.sampled_from(PAGED), cursor=cursors)
async def test_arbitrary_cursors_are_bad_input_or_a_page(fuzz_client, query, cursor):
    response = await fuzz_client.post(
        "/graphql", json={"query": "query($after: String) " + query, "variables": {"after": cursor}}
    )
    check(response)
    for error in response.json().get("errors") or []:
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.text(alphabet=string.printable, max_size=200).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries({"query": texts, "variables": json_values, "operationName": st.one_of(st.none(), texts),
                               "extensions": json_values}).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/graphql-response+json", ""]),
)
async def test_malformed_requests_never_fail_internally(fuzz_client, body, content_type):
    check(await fuzz_client.post("/graphql", content=body, headers={"content-type": content_type}))


# -- hostile nesting, context-type references, subscriptions over HTTP ---------------------------------

SMALL = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def deep_json(depth: int, kinds: str) -> str:
    """JSON text nested `depth` levels, arrays or objects as `kinds` cycles (built as text, never recursively)."""
    opening = "".join('{"k":' if kinds[i % len(kinds)] == "o" else "[" for i in range(depth))
    closing = "".join("}" if kinds[i % len(kinds)] == "o" else "]" for i in reversed(range(depth)))
    return opening + "1" + closing


def deep_literal(depth: int, kinds: str) -> str:
    opening = "".join("{k: " if kinds[i % len(kinds)] == "o" else "[" for i in range(depth))
    closing = "".join("}" if kinds[i % len(kinds)] == "o" else "]" for i in reversed(range(depth)))
    return opening + "1" + closing


depths = st.one_of(st.integers(60, 70), st.integers(120, 140), st.sampled_from([1_000, 10_000, 30_000]))
kinds = st.sampled_from(["a", "o", "ao", "oa", "aao"])


@SMALL
@given(depth=depths, shape=kinds, where=st.sampled_from(["variables", "mergeData", "literal", "batch", "extensions", "get"]),
       accept=st.sampled_from(["application/json", "application/graphql-response+json"]))
async def test_deeply_nested_input_never_fails_internally(fuzz_client, depth, shape, where, accept):
    value = deep_json(depth, shape)
    merge = 'mutation($d: JSON!) { updateContext(path: "/acme/projects/alpha", input: {mergeData: $d}) { version } }'
    headers = {"content-type": "application/json", "accept": accept}
    if where == "get":
        response = await fuzz_client.get("/graphql", params={"query": "query($d: JSON) { __typename }",
                                                             "variables": '{"d": ' + deep_json(min(depth, 3000), shape) + "}"},
                                         headers={"accept": accept})
    else:
        body = {
            "variables": '{"query": "query($d: JSON) { __typename }", "variables": {"d": ' + value + "}}",
            "mergeData": '{"query": ' + json.dumps(merge) + ', "variables": {"d": {"k": ' + value + "}}}",
            "literal": json.dumps({"query": 'mutation { createContext(input: {path: "/x", data: {k: '
                                            + deep_literal(depth, shape) + "}}) { id } }"}),
            "batch": '[{"query": "{ __typename }"}, {"query": "query($d: JSON) { __typename }", "variables": {"d": ' + value + "}}]",
            "extensions": '{"query": "{ __typename }", "extensions": {"x": ' + value + "}}",
        }[where]
        response = await fuzz_client.post("/graphql", content=body.encode(), headers=headers)
    check(response)
    if depth > 64 and where != "extensions":
        assert response.status_code == 400, response.text[:300]
        assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "limit": 64}


REFS = st.one_of(
    st.sampled_from(["#", "#/$defs/a", "#/properties/a", "#anchor", "#/$defs/a/items"]),  # local, mostly fine
    st.sampled_from(["#/nowhere", "#/$defs/missing", "#/$defs/a/nope", "#missing", "#/properties/%25", "#/items/0"]),
    st.from_regex(r"https?://[a-z]{1,8}\.(com|org|test)/[a-z]{0,8}(\.json)?(#/[a-z]{0,5})?", fullmatch=True),
    st.from_regex(r"urn:[a-z]{1,6}:[a-z0-9:]{1,12}", fullmatch=True),
    st.from_regex(r"(\.\./)?[a-z]{1,8}\.json(#/[a-z$]{0,6})?", fullmatch=True),
    st.sampled_from(["file:///etc/passwd", "http://127.0.0.1:1/x", "http://169.254.169.254/latest", "//host/x",
                     "https://json-schema.org/draft/2020-12/schema", "", " ", "#/$defs/a#b"]),
)
POSITIONS = ["properties.a", "items", "allOf.0", "$defs.b", "not", "additionalProperties", "if", "prefixItems.0",
             "const", "enum.0", "examples.0"]


@st.composite
def ref_schemas(draw) -> dict:
    schema: dict = {"type": "object", "$defs": {"a": {"$anchor": "anchor", "items": {"type": "string"}}},
                    "properties": {"a": {"type": "integer"}}}
    for _ in range(draw(st.integers(1, 3))):
        node: dict = {draw(st.sampled_from(["$ref", "$dynamicRef"])): draw(REFS)}
        position = draw(st.sampled_from(POSITIONS)).split(".")
        target = schema
        for part in position[:-1]:
            target = target.setdefault(part, [] if part in ("allOf", "prefixItems", "enum", "examples") else {})
        last = position[-1]
        if isinstance(target, list):
            target.append(node)
        else:
            target[last] = node
    return schema


@SMALL
@given(schema=ref_schemas(), data=json_values)
async def test_context_type_refs_never_fail_internally(fuzz_client, schema, data):
    register = 'mutation($s: JSON!) { registerContextType(name: "fuzzed", schema: $s, force: true) { violatingCount } }'
    response = await fuzz_client.post("/graphql", json={"query": register, "variables": {"s": schema}})
    check(response)
    errors = response.json().get("errors") or []
    assert all(e["extensions"]["code"] in ("VALIDATION_FAILED", "BAD_USER_INPUT") for e in errors), errors
    write = 'mutation($d: JSON) { createContext(input: {path: "/fz", kind: "fuzzed", data: $d}) { id } }'
    written = await fuzz_client.post("/graphql", json={"query": write, "variables": {"d": {"a": data}}})
    check(written)
    await fuzz_client.post("/graphql", json={"query": 'mutation { deleteContext(path: "/fz") { deletedCount } }'})


@st.composite
def subscriptions(draw) -> str:
    root = SCHEMA.subscription_type
    name, definition = draw(st.sampled_from(list(root.fields.items())))
    return "subscription { " + draw(field(name, definition, 0)) + " }"


@SMALL
@given(document=subscriptions(), method=st.sampled_from(["GET", "POST"]),
       accept=st.sampled_from(["application/json", "application/graphql-response+json", "*/*"]))
async def test_subscriptions_over_http_never_fail_internally(fuzz_client, document, method, accept):
    if method == "GET":
        response = await fuzz_client.get("/graphql", params={"query": document}, headers={"accept": accept})
    else:
        response = await fuzz_client.post("/graphql", json={"query": document}, headers={"accept": accept})
    check(response)
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes <= {"SUBSCRIPTION_TRANSPORT_REQUIRED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT",
                     "GRAPHQL_PARSE_FAILED"}, codes
