"""Contract: the knowledge-graph and API-key writes follow ONE set of rules on every backend
(graph/knowledge/rules.py, graph/access_rules.py): the same error, message and detail keys,
and the audit entry passed as `effects` is kept exactly when the write is."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from contextql.graph.errors import ConflictError, ContextQLError, NotFoundError
from contextql.graph.knowledge.records import AGENT, TOOL, ExecutionRecord, NodeRef
from contextql.graph.records import Page
from contextql.graph.writes import WriteEffects

from .factories import create_tree, new_id, now
from .test_access import entry, key
from .test_knowledge_graph import ctx, edge
from .test_knowledge_tools import publish, tool, version


def run(ws: str, **overrides) -> ExecutionRecord:
    values = dict(id=new_id(), workspace=ws, tool="fetch", tool_version="1.0.0", status="running", input={"q": 1},
                  output=None, error=None, principal="alice", started_at=now(), finished_at=None, duration_ms=None,
                  context_id=None, output_context_id=None)
    return ExecutionRecord(**{**values, **overrides})


async def audited(store, ws: str) -> list[str]:
    return [a.operation for a in await store.list_audit(ws, Page(100))]


def raised(error: pytest.ExceptionInfo[ContextQLError]) -> tuple[str, str, dict]:
    return error.value.code, error.value.message, error.value.details


async def test_each_write_keeps_its_audit_entry_only_when_it_commits(store, workspace):
    t = await create_tree(store, workspace, ["/a", "/b"])

    def note(operation: str) -> WriteEffects:
        return WriteEffects(audit=[entry(workspace, now(), operation=operation)])

    await store.add_tool_version(tool(workspace, "fetch"), version(workspace, "fetch"), note("publish"))
    with pytest.raises(ConflictError):
        await store.add_tool_version(tool(workspace, "fetch"), version(workspace, "fetch"), note("republish"))
    await store.update_tool(workspace, "fetch", at=now(), retired=True, effects=note("retire"))
    with pytest.raises(NotFoundError):
        await store.update_tool(workspace, "nope", at=now(), retired=True, effects=note("retire nope"))
    await store.set_tool_deprecated(workspace, "fetch", "1.0.0", True, note("deprecate"))
    with pytest.raises(NotFoundError):
        await store.set_tool_deprecated(workspace, "fetch", "9.9.9", True, note("deprecate 9.9.9"))
    started = run(workspace)
    await store.create_execution(started, note("start"))
    with pytest.raises(ConflictError):
        await store.create_execution(started, note("start again"))
    await store.finish_execution(replace(started, status="succeeded", finished_at=now()), note("finish"))
    with pytest.raises(NotFoundError):
        await store.finish_execution(run(workspace), note("finish nothing"))
    await store.relate(edge(workspace, t["/a"].id, ctx(t["/b"])), note("relate"))
    with pytest.raises(NotFoundError):
        await store.relate(edge(workspace, new_id(), ctx(t["/b"])), note("relate nothing"))
    await store.unrelate(workspace, ctx(t["/a"]), ctx(t["/b"]), "LINKS", note("unrelate"))
    first = key(workspace)
    await store.create_api_key(first, note("create key"))
    with pytest.raises(ConflictError):
        await store.create_api_key(first, note("create key again"))
    second = key(workspace, created_at=2_000)
    await store.rotate_api_key(workspace, first.id, 5_000, second, note("rotate"))
    await store.revoke_api_key(workspace, second.id, 3_000, note("revoke"))
    with pytest.raises(NotFoundError):
        await store.revoke_api_key(workspace, "missing", 3_000, note("revoke missing"))

    assert sorted(await audited(store, workspace)) == sorted([
        "publish", "retire", "deprecate", "start", "finish", "relate", "unrelate", "create key", "rotate", "revoke",
    ])


async def test_refusals_read_the_same_on_every_backend(store, workspace):
    t = await create_tree(store, workspace, ["/a"])
    await publish(store, workspace, "fetch", "1.0.0")
    with pytest.raises(ConflictError) as taken:
        await store.add_tool_version(tool(workspace, "fetch"), version(workspace, "fetch", "1.0.0"))
    assert raised(taken) == ("CONFLICT", "Version 1.0.0 of tool fetch is already published; versions are immutable: "
                             "publish a new version.", {"name": "fetch", "version": "1.0.0"})
    with pytest.raises(NotFoundError) as no_tool:
        await store.update_tool(workspace, "nope", at=now(), retired=True)
    assert raised(no_tool) == ("NOT_FOUND", f"No tool 'nope' in workspace {workspace!r}.", {"name": "nope"})
    with pytest.raises(NotFoundError) as no_version:
        await store.set_tool_deprecated(workspace, "fetch", "2.0.0", True)
    assert raised(no_version)[2] == {"name": "fetch", "version": "2.0.0"}
    missing = run(workspace)
    with pytest.raises(NotFoundError) as no_run:
        await store.finish_execution(missing)
    assert raised(no_run) == ("NOT_FOUND", f"Execution {missing.id} does not exist.", {"ids": [missing.id]})
    with pytest.raises(NotFoundError) as no_target:
        await store.relate(edge(workspace, t["/a"].id, NodeRef(TOOL, "ghost")))
    assert raised(no_target) == ("NOT_FOUND", f"No tool 'ghost' in workspace {workspace!r}.",
                                 {"ref": {"kind": "tool", "id": "ghost"}})
    old = key(workspace, expires_at=1_500)
    await store.create_api_key(old)
    with pytest.raises(NotFoundError) as expired:
        await store.rotate_api_key(workspace, old.id, 9_000, key(workspace, created_at=2_000))
    assert raised(expired) == ("NOT_FOUND", f"API key {old.id!r} is revoked or expired: create a new one instead.",
                               {"id": old.id})


async def test_latest_follows_semver_and_agents_are_made_on_use(store, workspace):
    stored = await publish(store, workspace, "fetch", "1.2.0", "1.10.0", "1.9.3")
    assert stored.latest == "1.10.0" and stored.updated_at >= stored.created_at
    assert (await store.get_tools(workspace, ["fetch"]))["fetch"] == stored
    t = await create_tree(store, workspace, ["/a"])
    first, created = await store.relate(edge(workspace, t["/a"].id, NodeRef(AGENT, "bot-1")))
    again, created_again = await store.relate(edge(workspace, t["/a"].id, NodeRef(AGENT, "bot-1"), weight_note=1))
    assert created and not created_again and again == first
    assert await store.unrelate(workspace, ctx(t["/a"]), NodeRef(AGENT, "bot-1"), "LINKS") == 1
    assert await store.unrelate(workspace, ctx(t["/a"]), NodeRef(AGENT, "bot-1"), "LINKS") == 0


async def test_concurrent_writes_of_one_tool_and_one_edge_all_land_once(store, workspace):
    numbers = ["1.0.0", "1.3.0", "1.2.0", "0.9.0", "1.1.0"]
    await asyncio.gather(*(
        store.add_tool_version(tool(workspace, "fresh", n), version(workspace, "fresh", n)) for n in numbers
    ))
    assert (await store.get_tools(workspace, ["fresh"]))["fresh"].latest == "1.3.0"
    assert len(await store.get_tool_versions(workspace, "fresh")) == len(numbers)
    t = await create_tree(store, workspace, ["/a", "/b"])
    results = await asyncio.gather(*(store.relate(edge(workspace, t["/a"].id, ctx(t["/b"]))) for _ in range(4)))
    assert sorted(created for _, created in results) == [False, False, False, True]
