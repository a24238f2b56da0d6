"""Traces of a real `contextql serve`, exported over OTLP/HTTP to a receiver the test runs, followed from the HTTP
request through the GraphQL operation to each graph statement, Redis and the search index."""

from __future__ import annotations

import asyncio

import httpx

from .otlp_receiver import OtlpReceiver, Span
from .servers import CLIENT_TIMEOUT, ServerProcess

WRITE = """mutation Write($path: String!) {
  createContext(input: {path: $path, title: "Traced", content: "secret-content"}, createParents: true) { id version }
}"""
NESTED = """query Nested { context(path: "/traced") { path children(first: 5) { edges { node { path title
  parent { path } versions: history(first: 2) { totalCount } } } } } }"""
SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP span kinds


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


def one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def operation_tree(spans: list[Span], name: str, backend: str) -> tuple[Span, Span, list[Span]]:
    """(HTTP span, operation span, statement spans) of the operation `name`, checking how they nest."""
    operation = one(spans, name)
    http = next(s for s in spans if s.span_id == operation.parent_id)
    assert http.kind == SERVER and http.name == "POST /graphql" and http.trace_id == operation.trace_id
    assert not http.parent_id  # the trace starts at the HTTP request
    below = children(spans, operation)
    assert {"GraphQL Parsing", "GraphQL Validation"} <= {s.name for s in below}
    statements = [s for s in below if s.attributes.get("db.system") == backend]
    assert statements, [s.name for s in below]
    for statement in statements:
        assert statement.kind == CLIENT
        assert statement.attributes["db.operation.name"] in statement.name
        # The statement's shape, never its values.
        assert not any("/traced" in str(v) or "secret" in str(v) for v in statement.attributes.values())
    return http, operation, statements


async def test_a_nested_query_and_a_write_are_traced_to_the_graph_and_the_index(tmp_path, redis_url):
    with OtlpReceiver() as receiver:
        server = ServerProcess({
            "CONTEXTQL_DATA_DIR": str(tmp_path / "data"), "CONTEXTQL_REDIS_URL": redis_url,
            # An explicit limit: the rate limiter then runs in Redis, inside each operation.
            "CONTEXTQL_RATE_LIMIT_OPERATIONS": "1000",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "contextql-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }, tmp_path / "server.log")
        try:
            await server.ready()
            async with httpx.AsyncClient(base_url=server.http, timeout=CLIENT_TIMEOUT) as http:
                for path in ("/traced/a", "/traced/b"):
                    response = await http.post("/graphql", json={"query": WRITE, "variables": {"path": path}})
                    assert not response.json().get("errors"), response.text
                response = await http.post("/graphql", json={"query": NESTED})
                assert len(response.json()["data"]["context"]["children"]["edges"]) == 2, response.text
            spans = await asyncio.to_thread(receiver.wait_for, lambda spans: (
                sum(s.name == "mutation Write" for s in spans) == 2 and any(s.name == "query Nested" for s in spans)
                and len({link for s in spans if s.name == "index batch" for link in s.links}) >= 2))
        finally:
            server.stop()

    assert {s.resource.get("service.name") for s in spans} == {"contextql-test"}
    assert not any(s.name in ("GET /healthz", "GET /readyz") for s in spans)  # probes are not traced

    # The nested query: HTTP > operation > its statements (the loaders batch them: a few, not one per field).
    _, nested, statements = operation_tree(spans, "query Nested", "ladybug")
    assert nested.attributes["graphql.operation.type"] == "query"
    assert nested.attributes["graphql.operation.name"] == "Nested"
    assert nested.attributes["graphql.operation.cost"] > 0
    assert 2 <= len(statements) <= 12
    assert not any(s.name.startswith("GraphQL Resolving") for s in spans)  # no span per field

    # A write: the same tree, the Redis rate limiter inside it; its index work is a trace of its own, linked.
    writes = [s for s in spans if s.name == "mutation Write"]
    for write in writes:
        _, _, statements = operation_tree([s for s in spans if s.trace_id == write.trace_id], "mutation Write",
                                          "ladybug")
        assert any(s.attributes["db.operation.name"] == "COMMIT" for s in statements)
        redis = [s for s in children(spans, write) if s.attributes.get("db.system") == "redis"]
        assert redis, [s.name for s in children(spans, write)]
    batches = [s for s in spans if s.name == "index batch"]
    for batch in batches:
        assert not batch.parent_id and batch.kind == CONSUMER
        assert batch.trace_id not in {w.trace_id for w in writes}
    linked = {link for batch in batches for link in batch.links}
    assert {(w.trace_id, w.span_id) for w in writes} <= linked
    below = [s for batch in batches for s in children(spans, batch)]
    assert any(s.attributes.get("db.system") == "qdrant" and s.name == "qdrant upsert" for s in below), \
        [s.name for s in below]
    assert any(s.attributes.get("db.system") == "ladybug" for s in below)
