"""Abuse limits: cost estimate before execution, rate limits (ops and cost), batch cap, page caps, body size,
production mode, and persisted operations (APQ and allow-list)."""

from __future__ import annotations

import hashlib
import json

from .conftest import client_for

NESTED = """{ contexts(first: 100) { edges { node { path
  children(first: 100) { edges { node { path children(first: 100) { edges { node { path } } } } } } } } } }"""
SMALL = "{ contexts(first: 5) { edges { node { path } } } }"


async def test_an_operation_over_the_cost_limit_never_runs(store, workspace):
    async with client_for(store, workspace) as client:
        error = await client.error(NESTED)
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["cost"] > error["extensions"]["limit"] == 50_000
    async with client_for(store, workspace, max_query_cost=1000) as client:
        # `first` from variables counts too
        query = "query($n: Int) { contexts(first: $n) { edges { node { children(first: $n) { edges { node { path } } } } } } }"
        assert (await client.error(query, n=100))["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        await client.data(query, n=5)
    async with client_for(store, workspace, max_query_cost=10) as client:
        assert (await client.error(SMALL))["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 16, "limit": 10}


async def test_rate_limits_count_operations_and_cost_per_principal(store, workspace):
    async with client_for(store, workspace, rate_limit_operations=3, rate_limit_cost=0) as client:
        for _ in range(3):
            await client.data("{ me { id } }")
        response = await client.post("{ me { id } }")
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] >= 1
    async with client_for(store, workspace, rate_limit_operations=0, rate_limit_cost=40) as client:
        await client.data(SMALL)  # cost 16
        await client.data(SMALL)
        assert (await client.error(SMALL))["extensions"]["code"] == "RATE_LIMITED"
        await client.data("{ me { id } }")  # cheap enough still (cost 2)


async def test_batches_are_capped(store, workspace):
    async with client_for(store, workspace, max_batch=2) as client:
        ok = await client.client.post("/graphql", json=[{"query": "{ me { id } }"}, {"query": "{ me { kind } }"}])
        assert ok.status_code == 200 and [r["data"]["me"] for r in ok.json()] == [{"id": "anonymous"}, {"kind": "anonymous"}]
        too_many = await client.client.post("/graphql", json=[{"query": "{ me { id } }"}] * 3)
        assert too_many.status_code == 400


async def test_page_size_and_body_size_caps(store, workspace):
    async with client_for(store, workspace, max_body_bytes=1000) as client:
        error = await client.error("{ contexts(first: 101) { totalCount } }")
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["limit"] == 100
        response = await client.client.post("/graphql", json={"query": "{ me { id } }", "pad": "x" * 2000})
        assert response.status_code == 413


async def test_production_mode_hides_the_schema_and_internals(store, workspace):
    async with client_for(store, workspace, production=True) as client:
        error = await client.error("{ __schema { types { name } } }")
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        typo = await client.error('{ contxt(path: "/a") { id } }')
        assert "Did you mean" not in typo["message"]
        page = await client.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code != 200 or "graphiql" not in page.text.lower()
    async with client_for(store, workspace, production=True, introspection=True, graphiql=True) as client:
        await client.data("{ __schema { queryType { name } } }")
        page = await client.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


def _apq(query: str | None, digest: str) -> dict:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    return body


async def test_automatic_persisted_queries(store, workspace):
    query = "{ me { id } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    async with client_for(store, workspace) as client:
        first = (await client.client.post("/graphql", json=_apq(None, digest))).json()
        assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert first["errors"][0]["message"] == "PersistedQueryNotFound"
        registered = (await client.client.post("/graphql", json=_apq(query, digest))).json()
        assert registered["data"]["me"]["id"] == "anonymous"
        by_hash = (await client.client.post("/graphql", json=_apq(None, digest))).json()
        assert by_hash == registered
        params = {"extensions": json.dumps(_apq(None, digest)["extensions"])}
        got = await client.client.get("/graphql", params=params, headers={"accept": "application/json"})
        assert got.json() == registered
        mismatch = (await client.client.post("/graphql", json=_apq("{ me { kind } }", digest))).json()
        assert mismatch["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_allow_list_mode_runs_only_registered_operations(store, workspace, tmp_path):
    allowed = "{ me { id } }"
    manifest = tmp_path / "operations.json"
    manifest.write_text(json.dumps([allowed]))
    digest = hashlib.sha256(allowed.encode()).hexdigest()
    async with client_for(store, workspace, persisted_queries_file=str(manifest), persisted_queries_only=True) as client:
        assert (await client.client.post("/graphql", json=_apq(None, digest))).json()["data"]["me"]["id"] == "anonymous"
        await client.data(allowed)
        assert (await client.error("{ me { kind } }"))["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        other = "{ me { kind } }"
        sent = (await client.client.post("/graphql", json=_apq(other, hashlib.sha256(other.encode()).hexdigest()))).json()
        assert sent["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_slow_root_fields_time_out(store, workspace):
    async with client_for(store, workspace, resolver_timeout=1e-6) as client:
        error = await client.error("{ contexts(first: 5) { totalCount edges { node { path } } } }")
        assert error["extensions"]["code"] == "TIMEOUT" and "narrow" in error["message"]


def test_rate_limits_apply_once_authentication_is_on_or_when_asked():
    from contextql.server.guard.setup import GuardSetup
    from tests.api.conftest import settings_for

    assert GuardSetup(settings_for("w")).limiter is None  # the local anonymous default
    assert GuardSetup(settings_for("w", rate_limit_operations=10)).limiter is not None
    assert GuardSetup(settings_for("w", auth_jwt_secret="s" * 32)).limiter is not None
