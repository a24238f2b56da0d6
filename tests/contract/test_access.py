"""Contract: API keys (hashes only, revoke, rotate with overlap) and the audit log, on every backend."""

from __future__ import annotations

import uuid

import pytest

from contextql.graph.access import ApiKeyRecord, AuditRecord
from contextql.graph.errors import ConflictError, NotFoundError
from contextql.graph.records import Page


def key(workspace: str, **overrides) -> ApiKeyRecord:
    values = dict(
        id=uuid.uuid4().hex, workspace=workspace, name="indexer", kind="agent", salt="00ff", hash="abcd",
        roles=["agent"], workspaces=[workspace, workspace + "-b"], created_at=1_000, created_by="ana",
    )
    return ApiKeyRecord(**{**values, **overrides})


def entry(workspace: str, at: int, **overrides) -> AuditRecord:
    values = dict(id=uuid.uuid4().hex, workspace=workspace, at=at, principal="ana", principal_kind="user",
                  operation="createContext", target="/a", outcome="ok")
    return AuditRecord(**{**values, **overrides})


async def test_create_get_and_list_keys(store, workspace, other_workspace):
    first, second = key(workspace, created_at=1), key(workspace, created_at=2, expires_at=99)
    elsewhere = key(other_workspace)
    for record in (second, first, elsewhere):
        await store.create_api_key(record)
    assert await store.get_api_key(first.id) == first
    assert await store.get_api_key(elsewhere.id) == elsewhere
    assert await store.get_api_key("missing") is None
    assert await store.list_api_keys(workspace) == [first, second]
    with pytest.raises(ConflictError):
        await store.create_api_key(first)


async def test_revoke_keeps_first_time_and_is_scoped(store, workspace, other_workspace):
    record = key(workspace)
    await store.create_api_key(record)
    with pytest.raises(NotFoundError):
        await store.revoke_api_key(other_workspace, record.id, 5)
    assert (await store.get_api_key(record.id)).revoked_at == 0
    revoked = await store.revoke_api_key(workspace, record.id, 5)
    assert revoked.revoked_at == 5 and not revoked.active_at(6)
    assert (await store.revoke_api_key(workspace, record.id, 9)).revoked_at == 5
    with pytest.raises(NotFoundError):
        await store.revoke_api_key(workspace, "missing", 5)


async def test_rotate_sets_overlap_and_links_keys(store, workspace, other_workspace):
    old = key(workspace)
    await store.create_api_key(old)
    new = key(workspace, created_at=2_000)
    with pytest.raises(NotFoundError):
        await store.rotate_api_key(other_workspace, old.id, 5_000, new)
    assert await store.get_api_key(new.id) is None
    updated = await store.rotate_api_key(workspace, old.id, 5_000, new)
    assert updated.expires_at == 5_000 and updated.replaced_by == new.id
    assert await store.get_api_key(new.id) == new
    # an earlier expiry is kept; a taken new id changes nothing
    newer = key(workspace, created_at=3_000)
    assert (await store.rotate_api_key(workspace, new.id, 0 + 10**12, newer)).expires_at == 10**12
    with pytest.raises(ConflictError):
        await store.rotate_api_key(workspace, newer.id, 9_000, old)
    assert (await store.get_api_key(newer.id)).replaced_by == ""


async def test_rotate_refuses_revoked_or_expired(store, workspace):
    revoked, expired = key(workspace), key(workspace, expires_at=1_500)
    for record in (revoked, expired):
        await store.create_api_key(record)
    await store.revoke_api_key(workspace, revoked.id, 1_200)
    for record in (revoked, expired):
        new = key(workspace, created_at=2_000)
        with pytest.raises(NotFoundError):
            await store.rotate_api_key(workspace, record.id, 5_000, new)
        assert await store.get_api_key(new.id) is None


async def test_audit_newest_first_filtered_and_scoped(store, workspace, other_workspace):
    entries = [entry(workspace, at) for at in (10, 30, 20)]
    denied = entry(workspace, 25, principal="bo", outcome="denied", code="FORBIDDEN")
    await store.append_audit([*entries, denied])
    await store.append_audit([entry(other_workspace, 40)])
    listed = await store.list_audit(workspace, Page(10))
    assert [e.at for e in listed] == [30, 25, 20, 10]
    assert listed[1] == denied
    assert [e.at for e in await store.list_audit(workspace, Page(2, (listed[0].at, listed[0].id)))] == [25, 20]
    assert await store.count_audit(workspace) == 4
    assert await store.count_audit(workspace, principal="bo") == await store.count_audit(workspace, outcome="denied") == 1
    assert await store.list_audit(workspace, Page(10), principal="bo") == [denied]
    assert await store.list_audit(workspace, Page(10), outcome="denied") == [denied]
    assert await store.list_audit(workspace, Page(0)) == []
    with pytest.raises(ConflictError):
        await store.append_audit([denied])
