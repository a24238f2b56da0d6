"""The per-request path outside field resolution: the operation pipeline (schema/pipeline.py) and the HTTP view's
fast paths (server/view_fastpath.py) give the answers the extensions and Strawberry's own code gave."""

from __future__ import annotations

import collections.abc
import json
import math

import httpx
import pytest
from graphql import GraphQLError
from hypothesis import given, settings, strategies as st
from strawberry.types import ExecutionResult

from contextql.schema import build_schema
from contextql.schema.pipeline import OperationPipeline, PipelineRunner
from contextql.server import view_fastpath
from contextql.server.app import create_app
from contextql.server.operation_telemetry import OperationTelemetry

from .conftest import Api, create, settings_for


class Recorder:
    """A server-side step (as server/guard/ passes them): records what it was shown, refuses when told to."""

    def __init__(self, refuse: GraphQLError | None = None) -> None:
        self.seen: list[str | None] = []
        self.finished: list[float] = []
        self.refuse = refuse

    async def after_validation(self, ec) -> None:
        self.seen.append(ec.operation_name)
        if self.refuse is not None:
            ec.pre_execution_errors = [self.refuse]

    def on_finished(self, ec, seconds: float) -> None:
        self.finished.append(seconds)


def schema_with(recorder: Recorder, *, traced: bool = False, max_tokens: int = 5_000):
    return build_schema(after_validation=[recorder.after_validation], finished=[recorder.on_finished],
                        extensions=[OperationTelemetry] if traced else [], max_tokens=max_tokens)


@pytest.mark.parametrize("traced", [False, True], ids=["pipeline-alone", "beside-tracing"])
async def test_steps_run_in_order_and_see_only_valid_documents(traced):
    recorder = Recorder()
    schema = schema_with(recorder, traced=traced)
    ok = await schema.execute("query Fine { __typename }")
    assert ok.errors is None and ok.data == {"__typename": "Query"}
    assert recorder.seen == ["Fine"] and len(recorder.finished) == 1 and recorder.finished[0] >= 0

    invalid = await schema.execute("query Bad { noSuchField }")
    [error] = invalid.errors
    assert error.extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert recorder.seen == ["Fine"], "an invalid document is never priced or rate limited"

    broken = await schema.execute("query { ")
    [error] = broken.errors
    assert error.extensions["code"] == "GRAPHQL_PARSE_FAILED"
    assert len(recorder.finished) == 3, "metrics count every operation, those that did not parse too"


@pytest.mark.parametrize("traced", [False, True], ids=["pipeline-alone", "beside-tracing"])
async def test_a_refusal_after_validation_is_the_answer_with_its_code(traced):
    refused = GraphQLError("too much", extensions={"code": "QUERY_TOO_COMPLEX"})
    recorder = Recorder(refuse=refused)
    schema = schema_with(recorder, traced=traced)
    result = await schema.execute("query Fine { __typename }")
    assert result.data is None and [e.extensions["code"] for e in result.errors] == ["QUERY_TOO_COMPLEX"]
    # A refusal without a code is rewritten last, like every error: the client always gets one.
    recorder.refuse = GraphQLError("no code")
    result = await schema.execute("query Fine { __typename }")
    assert [e.extensions["code"] for e in result.errors] == ["GRAPHQL_VALIDATION_FAILED"]


async def test_the_validation_result_is_cached_by_text_and_reused():
    schema = schema_with(Recorder())
    first = await schema.execute("query Bad { noSuchField }")
    second = await schema.execute("query Bad { noSuchField }")
    assert [e.message for e in first.errors] == [e.message for e in second.errors]
    steps = schema.extensions[0]().steps
    assert steps.prepared.cache_info().hits >= 1  # type: ignore[attr-defined]


async def test_the_token_limit_holds_with_the_parse_cache():
    small = schema_with(Recorder(), max_tokens=5)
    large = schema_with(Recorder())
    query = "query Q { a: __typename b: __typename c: __typename }"
    assert (await large.execute(query)).errors is None
    [error] = (await small.execute(query)).errors
    assert error.extensions["code"] == "GRAPHQL_PARSE_FAILED" and "token" in error.message.lower()


def test_the_pipeline_alone_runs_without_strawberrys_hook_wrappers():
    schema = build_schema()
    [pipeline] = schema.get_extensions()
    assert isinstance(pipeline, OperationPipeline)
    assert isinstance(schema.create_extensions_runner(None, [pipeline]), PipelineRunner)
    # Beside another extension, Strawberry's own runner calls the pipeline's hooks.
    traced = build_schema(extensions=[OperationTelemetry])
    assert not isinstance(traced.create_extensions_runner(None, traced.get_extensions()), PipelineRunner)


def test_the_view_fast_paths_are_installed_and_answer_as_strawberry_does():
    create_app(settings_for("default"))
    assert view_fastpath.installed(), "a Strawberry release moved what server/view_fastpath.py replaces"
    from strawberry.http import async_base_view

    async def stream():
        yield 1

    assert not isinstance(ExecutionResult(data={}, errors=None), async_base_view.SubscriptionExecutionResult)
    assert isinstance(stream(), async_base_view.SubscriptionExecutionResult)
    assert async_base_view.SubscriptionExecutionResult is collections.abc.AsyncIterator
    from strawberry.http.parse_content_type import parse_content_type as strawberrys

    for header in ("application/json", "Application/JSON; charset=UTF-8", "multipart/mixed; boundary=\"-\"", ""):
        assert async_base_view.parse_content_type(header) == strawberrys(header)
    _, params = async_base_view.parse_content_type("application/json; charset=utf-8")
    params["x"] = "mine"  # each caller's own dict, as Strawberry's
    assert async_base_view.parse_content_type("application/json; charset=utf-8")[1] == {"charset": "utf-8"}


TRICKY = [
    {"t": "é ü 中 \u2028 😀"}, {"del": "\x7f", "ctl": "".join(chr(i) for i in range(32))},
    {"small": [1e-5, -3e-9, 9.99e-5, 0.0001, 5e-324]}, {"big": [1e16, 1.5e300, 2**63 - 1, 2**70, -(2**64)]},
    {"text": "5d2c7a1e-1111 :1e-5 ,2e-7 [3e-9 0.00001"}, {"zero": [0.0, -0.0, 0]}, {1: "int key"},
    {"nested": {"b": [None, True, False, {"a": "x"}]}, "a": 1},
]


@pytest.mark.parametrize("data", TRICKY)
def test_answers_are_the_standard_librarys_bytes(data):
    assert view_fastpath.dumps(data) == json.dumps(data, separators=(",", ":"))


def test_ids_that_look_like_exponents_keep_the_fast_encoder(monkeypatch):
    # A uuid has a digit before "e-" about one time in seven ("…-448e-…"): a page of 50 ids nearly always did.
    ids = {"ids": ["ebdb5f6e-8d33-4ca8-a85e-68e96e3871aa", "0aee938e-0c52-448e-a85e-a928f2ebdc01"] * 25}
    expected = json.dumps(ids, separators=(",", ":"))

    def standard_library(*args, **kwargs):
        raise AssertionError("fell back to json.dumps")

    monkeypatch.setattr(view_fastpath.json, "dumps", standard_library)
    assert view_fastpath.dumps(ids) == expected
    for text in ("[1e-7]", "-2.5e-9", '{"a":1e-7}', '{"a":[0,-4e-8]}', '"x:1e-5"'):
        assert view_fastpath._small_exponent(text.encode())
    for text in ('"ebdb5f6e-8d33"', '"a-448e-1"', '"v1e-2"', '"1.2.3e-4"'):
        assert not view_fastpath._small_exponent(text.encode()), text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_json_value_is_the_standard_librarys_bytes(data):
    assert view_fastpath.dumps(data) == json.dumps(data, separators=(",", ":"))


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
@settings(max_examples=2000, deadline=None)
def test_every_float_is_written_as_python_writes_it(value):
    assert math.isfinite(value)
    assert view_fastpath.dumps({"v": [value]}) == json.dumps({"v": [value]}, separators=(",", ":"))


async def test_non_ascii_answers_over_http_are_escaped_as_before(store, workspace):
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client)
        await create(api, "/utf", title="Café ☕", data={"x": 1e-7, "y": 0.5})
        response = await client.post("/graphql", json={"query": '{ context(path: "/utf") { title data } }'})
        assert response.status_code == 200
        body = response.json()
        assert body["data"]["context"]["title"] == "Café ☕"
        assert response.content == json.dumps(body, separators=(",", ":")).encode()
        assert b"\\u00e9" in response.content


def test_a_cost_is_remembered_only_when_no_variable_sets_it():
    from graphql import parse

    from contextql.server.guard.cost import CostMemo, CostModel, estimate

    schema, model = build_schema()._schema, CostModel()
    memo = CostMemo(model)
    literal = parse('query Q($p: String!) { context(path: $p) { children(first: 50) { edges { node { path } } } } }')
    variable = parse("query V($n: Int) { contexts(first: $n) { edges { node { path } } } }")
    for n in (1, 100, 7):  # the same document, its cost set by the variable
        assert memo.cost(schema, variable, None, {"n": n}) == estimate(schema, variable, None, {"n": n}, model)
    first = memo.cost(schema, literal, None, {"p": "/a"})
    assert first == estimate(schema, literal, None, {}, model) > 50
    assert memo.cost(schema, literal, None, {"p": "/b"}) == first
    assert [key[0] for key in memo._known] == [id(literal)]  # the variable-priced document is never kept
