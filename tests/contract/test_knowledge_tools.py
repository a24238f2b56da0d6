"""Contract: tool registry and executions (every backend)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.knowledge.records import ExecutionFilter, ExecutionRecord, ToolFilter, ToolRecord, ToolVersionRecord
from contextql.graph.records import Page

from .factories import new_id, now


def tool(ws: str, name: str, version: str = "1.0.0") -> ToolRecord:
    return ToolRecord(ws, name, version, False, {"read": ["*"], "write": ["role:admin"], "execute": ["*"]}, now(), now(), "alice")


def version(ws: str, name: str, number: str = "1.0.0", *, tags=("x",), kind: str = "http") -> ToolVersionRecord:
    major, minor, patch = (int(p) for p in number.split("."))
    return ToolVersionRecord(
        ws, name, number, f"{major:08d}.{minor:08d}.{patch:08d}~", f"{name} does things", kind,
        {"type": "object", "required": ["q"]}, {"type": "object"}, {"url": "http://127.0.0.1:1/x"}, list(tags), False,
        now(), "alice",
    )


async def publish(store, ws: str, name: str, *numbers: str, **kw) -> ToolRecord:
    stored = None
    for number in numbers:
        stored = await store.add_tool_version(tool(ws, name, number), version(ws, name, number, **kw))
    return stored


async def test_versions_are_immutable_and_latest_follows_semver(store, workspace):
    stored = await publish(store, workspace, "fetch", "1.2.0", "1.10.0", "1.9.3")
    assert stored.latest == "1.10.0" and stored.retired is False
    assert stored.permissions["execute"] == ["*"]
    with pytest.raises(ConflictError):
        await store.add_tool_version(tool(workspace, "fetch"), version(workspace, "fetch", "1.2.0"))
    versions = await store.get_tool_versions(workspace, "fetch")
    assert [v.version for v in versions] == ["1.10.0", "1.9.3", "1.2.0"]
    assert versions[0].input_schema == {"type": "object", "required": ["q"]}
    assert versions[0].config == {"url": "http://127.0.0.1:1/x"} and versions[0].tags == ["x"]
    assert await store.get_tool_versions(workspace, "nope") == []


async def test_find_filters_and_counts_latest_versions(store, workspace, other_workspace):
    await publish(store, workspace, "alpha", "1.0.0", tags=("web",))
    await publish(store, workspace, "beta", "0.1.0", "0.2.0", tags=())
    await publish(store, workspace, "gamma", "2.0.0", tags=("web", "db"))
    await publish(store, other_workspace, "alpha", "9.0.0")
    found = await store.find_tools(workspace, ToolFilter(), Page(10))
    assert [(t.name, v.version) for t, v in found] == [("alpha", "1.0.0"), ("beta", "0.2.0"), ("gamma", "2.0.0")]
    assert [t.name for t, _ in await store.find_tools(workspace, ToolFilter(tag="web"), Page(10))] == ["alpha", "gamma"]
    assert [t.name for t, _ in await store.find_tools(workspace, ToolFilter(name_prefix="g"), Page(10))] == ["gamma"]
    assert [t.name for t, _ in await store.find_tools(workspace, ToolFilter(), Page(1, ("alpha",)))] == ["beta"]
    assert await store.count_tools(workspace, ToolFilter(kind="http")) == 3
    await store.set_tool_deprecated(workspace, "beta", "0.2.0", True)
    assert [t.name for t, _ in await store.find_tools(workspace, ToolFilter(deprecated=True), Page(10))] == ["beta"]
    await store.update_tool(workspace, "alpha", at=now(), retired=True)
    assert await store.count_tools(workspace, ToolFilter()) == 2
    assert await store.count_tools(workspace, ToolFilter(retired=None)) == 3


async def test_a_retired_tool_takes_no_new_versions_until_it_is_restored(store, workspace):
    await publish(store, workspace, "old", "1.0.0")
    await store.update_tool(workspace, "old", at=now(), retired=True)
    with pytest.raises(ConflictError, match="retired"):
        await store.add_tool_version(tool(workspace, "old", "1.1.0"), version(workspace, "old", "1.1.0"))
    await store.update_tool(workspace, "old", at=now(), retired=False)
    assert (await store.add_tool_version(tool(workspace, "old", "1.1.0"), version(workspace, "old", "1.1.0"))).latest == "1.1.0"


async def test_update_tool_and_deprecate(store, workspace):
    await publish(store, workspace, "t", "1.0.0")
    updated = await store.update_tool(workspace, "t", at=now(), permissions={"read": ["principal:bo"], "write": [], "execute": []})
    assert updated.permissions["read"] == ["principal:bo"]
    assert (await store.get_tools(workspace, ["t", "missing"]))["t"].permissions == updated.permissions
    flagged = await store.set_tool_deprecated(workspace, "t", "1.0.0", True)
    assert flagged.deprecated is True
    with pytest.raises(NotFoundError):
        await store.set_tool_deprecated(workspace, "t", "3.0.0", True)
    with pytest.raises(NotFoundError):
        await store.update_tool(workspace, "missing", at=now(), retired=True)


def execution(ws: str, *, tool: str = "t", status: str = "running", principal: str = "alice", context_id=None) -> ExecutionRecord:
    return ExecutionRecord(new_id(), ws, tool, "1.0.0", status, {"q": 1}, None, None, principal, now(), None, None, context_id, None)


async def test_executions_are_recorded_finished_and_filtered(store, workspace):
    first = execution(workspace, context_id="c1")
    await store.create_execution(first)
    with pytest.raises(ConflictError):
        await store.create_execution(first)
    done = replace(first, status="succeeded", output={"a": [1, 2]}, finished_at=now(), duration_ms=12, output_context_id="c2")
    await store.finish_execution(done)
    second = execution(workspace, tool="u", principal="bo")
    await store.create_execution(second)
    got = await store.get_executions(workspace, [first.id, second.id, "nope"])
    assert got[first.id] == done and got[second.id].status == "running" and got[second.id].output is None
    newest = await store.find_executions(workspace, ExecutionFilter(), Page(10))
    assert [e.id for e in newest] == [second.id, first.id]
    assert [e.id for e in await store.find_executions(workspace, ExecutionFilter(status="succeeded"), Page(10))] == [first.id]
    assert [e.id for e in await store.find_executions(workspace, ExecutionFilter(principal="bo"), Page(10))] == [second.id]
    assert [e.id for e in await store.find_executions(workspace, ExecutionFilter(context_id="c2"), Page(10))] == [first.id]
    between = ExecutionFilter(started_after=first.started_at, started_before=second.started_at)
    assert await store.count_executions(workspace, between) == 1
    assert await store.count_executions(workspace, ExecutionFilter(tool="t")) == 1
    with pytest.raises(NotFoundError):
        await store.finish_execution(replace(done, id=new_id()))
