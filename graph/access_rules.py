"""The write rules of API keys, written once for every backend (see `graph/knowledge/rules.py`
for how a rule runs: one transaction, checks first, `effects` committed with the write).

A key is looked up by id in every workspace (ids are unique store-wide) and is managed only
in its own `workspace`; revoking and rotating lock the key first.
"""

from __future__ import annotations

from dataclasses import replace

from .access import ApiKeyRecord
from .errors import ConflictError, NotFoundError
from .tree import apply_effects
from .writes import WriteEffects, WriteTx


async def create_api_key(tx: WriteTx, record: ApiKeyRecord, effects: WriteEffects | None = None) -> None:
    if await tx.api_keys([record.id]):
        raise ConflictError(f"API key {record.id} already exists.", id=record.id)
    await tx.insert_api_key(record)
    await apply_effects(tx, record.workspace, {}, effects)


async def revoke_api_key(
    tx: WriteTx, workspace: str, key_id: str, at: int, effects: WriteEffects | None = None
) -> ApiKeyRecord:
    """Mark the key revoked at `at`; a revoked key keeps its first `revoked_at`. Returns it after."""
    key = await _managed(tx, workspace, key_id)
    if not key.revoked_at:
        key = replace(key, revoked_at=int(at))
        await tx.replace_api_key(key)
    await apply_effects(tx, workspace, {}, effects)
    return key


async def rotate_api_key(
    tx: WriteTx, workspace: str, key_id: str, old_expires_at: int, new: ApiKeyRecord,
    effects: WriteEffects | None = None,
) -> ApiKeyRecord:
    """Store `new`; the old key expires at `old_expires_at` (or sooner, if it already did). Returns the old key after."""
    key = await _managed(tx, workspace, key_id)
    if not key.active_at(new.created_at):
        raise NotFoundError(f"API key {key_id!r} is revoked or expired: create a new one instead.", id=key_id)
    if await tx.api_keys([new.id]):
        raise ConflictError(f"API key {new.id} already exists.", id=new.id)
    expires = old_expires_at if key.expires_at == 0 else min(key.expires_at, old_expires_at)
    key = replace(key, expires_at=int(expires), replaced_by=new.id)
    await tx.insert_api_key(new)
    await tx.replace_api_key(key)
    await apply_effects(tx, workspace, {}, effects)
    return key


async def _managed(tx: WriteTx, workspace: str, key_id: str) -> ApiKeyRecord:
    key = (await tx.api_keys([key_id], lock=True)).get(key_id)
    if key is None or key.workspace != workspace:
        raise NotFoundError(f"No API key {key_id!r} in workspace {workspace!r}.", id=key_id)
    return key
