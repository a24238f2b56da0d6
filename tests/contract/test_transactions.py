"""Contract: a write and everything it implies (version, index task, lineage, audit entry) is ONE transaction.

The fault is injected at the last moment: the write's statements have all been sent (a read
inside the transaction forces buffered writes out), then the transaction function raises.
Nothing of the write may remain, on either backend.
"""

from __future__ import annotations

import uuid

import pytest

from contextql.graph import tree
from contextql.graph.access import AuditRecord
from contextql.graph.knowledge.records import SourceRef
from contextql.graph.outbox import now_us
from contextql.graph.records import Page
from contextql.graph.writes import WriteEffects

from .factories import changed, context, create_one, move_version, snapshot


class InjectedFault(Exception):
    pass


@pytest.fixture
def failing_commit(store, monkeypatch):
    """Arms a fault: the next write fails after all its statements ran, just before its commit.

    Both entries are armed: a revision goes through `write_revision`, whose optimistic attempt
    (Neo4j) hands a work that reads after writing to `write`, the transaction."""
    originals = {name: getattr(store, name) for name in ("write", "write_revision")}

    def arm() -> None:
        for name, original in originals.items():
            async def failing(work, original=original):
                async def doomed(tx):
                    await work(tx)
                    await tx.heads("no-such-workspace", ["none"])  # forces buffered writes to the engine
                    raise InjectedFault()

                for restored, method in originals.items():
                    monkeypatch.setattr(store, restored, method)
                return await original(doomed)

            monkeypatch.setattr(store, name, failing)

    return arm


def _audit(workspace: str) -> AuditRecord:
    return AuditRecord(
        id=uuid.uuid4().hex, workspace=workspace, at=now_us(), principal="tester", principal_kind="user",
        operation="mutation test", target="", outcome="ok", code="",
    )


async def _traces(store, workspace: str, context_id: str) -> dict:
    return {
        "versions": await store.count_versions(workspace, context_id),
        "tasks": await store.count_index_tasks(workspace),
        "audit": len(await store.list_audit(workspace, Page(100))),
        "lineage": len((await store.lineage(workspace, context_id, False, 2, 50)).edges),
    }


async def test_failed_create_leaves_no_context_version_task_lineage_or_audit(store, workspace, failing_commit):
    source = context(workspace, "/source")
    rec = context(workspace, "/made")
    effects = WriteEffects(audit=[_audit(workspace)], derived_from={rec.id: [SourceRef(source.id, source.path, 1)]})
    failing_commit()
    with pytest.raises(InjectedFault):
        await store.write(lambda tx: tree.insert(tx, workspace, [source, rec], [snapshot(source), snapshot(rec)],
                                                 (), effects))
    assert await store.get_by_paths(workspace, ["/source", "/made"]) == {}
    assert await _traces(store, workspace, rec.id) == {"versions": 0, "tasks": 0, "audit": 0, "lineage": 0}


async def test_failed_update_leaves_no_version_task_lineage_or_audit(store, workspace, failing_commit):
    source = await create_one(store, workspace, "/source")
    rec = await create_one(store, workspace, "/target")
    before = await _traces(store, workspace, rec.id)
    new, version = changed(rec, title="changed")
    effects = WriteEffects(audit=[_audit(workspace)], derived_from={rec.id: [SourceRef(source.id, source.path, 1)]})
    failing_commit()
    with pytest.raises(InjectedFault):
        await store.update_context(new, rec.version, version, effects)
    assert (await store.get_by_ids(workspace, [rec.id]))[rec.id] == rec
    assert await _traces(store, workspace, rec.id) == before


async def test_failed_move_and_delete_leave_the_tree_as_it_was(store, workspace, failing_commit):
    a = await create_one(store, workspace, "/a")
    await create_one(store, workspace, "/a/b", a)
    await create_one(store, workspace, "/z")
    snapshot_before = await store.get_by_paths(workspace, ["/a", "/a/b", "/z"])
    failing_commit()
    with pytest.raises(InjectedFault):
        await store.move_context(workspace, a.id, a.version, "/z/a", move_version(a, "/z/a"),
                                 WriteEffects(audit=[_audit(workspace)]))
    failing_commit()
    with pytest.raises(InjectedFault):
        await store.delete_context(workspace, a.id, True, WriteEffects(audit=[_audit(workspace)]))
    after = await store.get_by_paths(workspace, ["/a", "/a/b", "/z", "/z/a", "/z/a/b"])
    assert after == snapshot_before
    assert await store.count_versions(workspace, a.id) == 1
    assert await store.list_audit(workspace, Page(100)) == []


async def test_effects_commit_with_the_write(store, workspace):
    source = await create_one(store, workspace, "/source")
    rec = context(workspace, "/made")
    entry = _audit(workspace)
    effects = WriteEffects(audit=[entry], derived_from={rec.id: [SourceRef(source.id, source.path, 1)]})
    await store.write(lambda tx: tree.insert(tx, workspace, [rec], [snapshot(rec)], (), effects))
    assert [a.id for a in await store.list_audit(workspace, Page(100))] == [entry.id]
    lineage = await store.lineage(workspace, rec.id, False, 2, 50)
    assert [(e.derived, e.source) for e in lineage.edges] == [(rec.id, source.id)]
