"""The admin operations on the search index (`indexDrift`, `reindex`, `indexJob(s)`) through the API:
who may call them, what they report, and the local admin token `contextql verify`/`reindex` use."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from contextql.graph.index import reindex, verify
from contextql.resolvers import contexts as ops
from contextql.server.app import create_app
from contextql.server.search import SearchRuntime
from contextql.server.state import app_state
from tests.api.conftest import settings_for
from tests.auth.conftest import HS256_SETTINGS, Client
from tests.auth.tokens import hs256

DRIFT = """query($sample: Int) { indexDrift(sample: $sample) {
  inStep total contexts versions pendingTasks
  missing { count entries { contextId version } } orphaned { count } stale { count }
  historyMissing { count entries { contextId version } } historyOrphaned { count } } }"""
REINDEX = "mutation($r: Boolean) { reindex(recreate: $r) { id state total done } }"
JOB = "query($id: ID!) { indexJob(id: $id) { id state total done progress error errorCode startedBy } }"
TEXT = "Database backups run nightly at 02:00 and are kept for thirty days in cold storage."


@pytest.fixture
async def hs(store, workspace, search):
    app = create_app(settings_for(workspace, **HS256_SETTINGS), store=store, search=SearchRuntime(search.index))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        client = Client(http)
        client.app = app  # type: ignore[attr-defined]
        yield client


def token(workspace: str, role: str) -> str:
    return hs256(sub=role, roles=[role], workspaces=[workspace])


async def finished(hs: Client, credential: str, job_id: str) -> dict:
    for _ in range(600):
        job = (await hs.data(JOB, credential, id=job_id))["indexJob"]
        if job["state"] != "RUNNING":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the reindex job did not finish in 30 s")


async def test_only_admins_see_drift_and_reindex(hs, workspace):
    for role in ("editor", "agent", "viewer"):
        for document in (DRIFT, REINDEX, "{ indexJobs { id } }", JOB):
            error = await hs.error(document, token(workspace, role), id="x")
            assert error["extensions"]["code"] == "FORBIDDEN", (role, document, error)
    admin = token(workspace, "admin")
    assert (await hs.data(DRIFT, admin))["indexDrift"]["inStep"] is True
    # the collections hold every workspace: a workspace admin may not drop them
    refused = await hs.error(REINDEX, admin, r=True)
    assert refused["extensions"]["code"] == "FORBIDDEN" and "every workspace" in refused["message"]


async def test_drift_then_a_reindex_job_repairs_it(hs, ctx, workspace):
    admin = token(workspace, "admin")
    await ops.create(ctx(), [ops.NewContext(path="/ops/backups", content=TEXT)], create_parents=True)
    # the worker is not running: nothing is indexed yet, and both versions' tasks wait in the outbox
    drift = (await hs.data(DRIFT, admin, sample=1))["indexDrift"]
    assert (drift["inStep"], drift["contexts"], drift["versions"], drift["pendingTasks"]) == (False, 2, 2, 2)
    assert drift["missing"]["count"] == 2 and len(drift["missing"]["entries"]) == 1
    assert drift["historyMissing"]["count"] == 2 and drift["historyMissing"]["entries"][0]["version"] == 1
    assert drift["total"] == 4

    started = (await hs.data(REINDEX, admin))["reindex"]
    again = await hs.error(REINDEX, admin)  # one reindex of a workspace at a time
    assert again["extensions"] == {"code": "CONFLICT", "jobId": started["id"]}, again
    job = await finished(hs, admin, started["id"])
    assert job == {"id": started["id"], "state": "SUCCEEDED", "total": 2, "done": 2, "progress": 1.0, "error": None,
                   "errorCode": None, "startedBy": "admin"}
    assert [j["id"] for j in (await hs.data("{ indexJobs { id } }", admin))["indexJobs"]] == [started["id"]]
    drift = (await hs.data(DRIFT, admin))["indexDrift"]
    assert (drift["inStep"], drift["total"]) == (True, 0), drift
    # another workspace's admin sees neither the job nor the drift of this one
    other = hs256(sub="bo", roles=["admin"], workspaces=[workspace + "-other"])
    assert (await hs.data(JOB, other, id=started["id"]))["indexJob"] is None


async def test_a_failing_index_fails_the_job_with_its_code(hs, ctx, search, workspace):
    admin = token(workspace, "admin")
    await ops.create(ctx(), [ops.NewContext(path="/a", content=TEXT)], create_parents=False)
    search.engine.down = True
    assert (await hs.error(DRIFT, admin))["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    job = await finished(hs, admin, (await hs.data(REINDEX, admin))["reindex"]["id"])
    assert (job["state"], job["errorCode"]) == ("FAILED", "SERVICE_UNAVAILABLE"), job
    assert "injected fault" not in job["error"]  # the index's own words stay in the server's log


async def test_the_local_admin_token_is_the_operator(hs, workspace):
    app_state(hs.app).admin_token = "cqlocal_right"  # what the server publishes in its data directory
    me = (await hs.data("{ me { id kind roles } }", "cqlocal_right", workspace))["me"]
    assert me == {"id": "local-admin", "kind": "service", "roles": ["admin"]}
    job = (await hs.data(REINDEX, "cqlocal_right", workspace, r=True))["reindex"]  # the operator may recreate
    assert (await finished(hs, "cqlocal_right", job["id"]))["state"] == "SUCCEEDED"
    wrong = await hs.post("{ me { id } }", "cqlocal_wrong", workspace)
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    app_state(hs.app).admin_token = None  # the server stopped publishing: the old token is worthless
    assert (await hs.post("{ me { id } }", "cqlocal_right", workspace)).status_code == 401


async def test_a_write_indexed_during_a_reindex_is_not_overwritten(store, workspace, search, ctx):
    """On a running server the worker indexes writes while a reindex embeds: the newer state must win."""
    [keys] = await ops.create(ctx(), [ops.NewContext(path="/keys", content=TEXT)], create_parents=False)
    await search.drain()
    write = search.index.write
    overtaken = False

    async def write_while_embedding(records, versions):
        nonlocal overtaken
        if not overtaken and any(r.id == keys.id and r.version == 1 for r in records):
            overtaken = True  # the write and the worker finish between the reindex's read and its refresh
            await ops.update(ctx(), keys, ops.ContextChanges(content="Lunch is served at noon."), None)
            await search.drain()
        await write(records, versions)

    search.index.write = write_while_embedding  # type: ignore[method-assign]
    assert await reindex(store, search.index, workspace) == 1
    assert overtaken
    assert (await search.index.heads(workspace))[keys.id] == (2, "/keys")
    assert (await verify(store, search.index, workspace)).total == 0


async def test_index_drift_is_not_cut_short_by_the_query_time_limit(store, workspace, search, ctx):
    """It scans the whole workspace: on a big one it takes longer than a reader's query may."""
    await ops.create(ctx(), [ops.NewContext(path=f"/n{i}", content=TEXT) for i in range(30)], create_parents=False)
    app = create_app(settings_for(workspace, resolver_timeout=1e-6), store=store, search=SearchRuntime(search.index))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        client = Client(http)
        assert (await client.error("{ contexts(first: 50) { totalCount } }"))["extensions"]["code"] == "TIMEOUT"
        assert (await client.data("{ indexDrift { missing { count } } }"))["indexDrift"]["missing"]["count"] == 30


async def test_the_operator_runs_its_commands_on_an_allow_listed_server(store, workspace, search):
    app = create_app(settings_for(workspace, persisted_queries_only=True), store=store,
                     search=SearchRuntime(search.index))
    app_state(app).admin_token = "cqlocal_right"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        client = Client(http)
        refused = await client.error("{ indexDrift { inStep } }")
        assert refused["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        assert (await client.data("{ indexDrift { inStep } }", "cqlocal_right", workspace))["indexDrift"]["inStep"]
