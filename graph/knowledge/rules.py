"""The write rules of tools, executions and relationships, written once for every backend.

Each function runs inside ONE transaction (`store.write(work)`) over the narrow statements of
`graph.writes.WriteTx`; checks run before the first write, and a failed check raises a domain
error, which rolls the whole transaction back. `effects` (the audit entry of the mutation)
commit with the write.

Serialisation: a tool's writes lock the tool. A tool's first version has no node to lock yet,
so it takes the workspace lock of `WriteTx.lock_tree` and reads again (first publications
are rare; two of them must not both create the tool). A relationship write locks its source
context, so two concurrent relates of the same edge keep one.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import ConflictError, NotFoundError
from ..tree import apply_effects
from ..writes import WriteEffects, WriteTx
from .records import AGENT, CONTEXT, TOOL, ExecutionRecord, NodeRef, RelationshipRecord, ToolRecord, ToolVersionRecord


def no_tool(workspace: str, name: str) -> NotFoundError:
    return NotFoundError(f"No tool {name!r} in workspace {workspace!r}.", name=name)


async def add_tool_version(
    tx: WriteTx, tool: ToolRecord, version: ToolVersionRecord, effects: WriteEffects | None = None
) -> ToolRecord:
    """Publish `version`; creates the tool (from `tool`) on its first version. Returns the tool after."""
    ws, name = version.workspace, version.name
    if (tool.workspace, tool.name) != (ws, name):
        raise ValueError("the version does not belong to the tool")
    stored = (await tx.tools(ws, [name], lock=True)).get(name)
    if stored is None:
        await tx.lock_tree(ws)
        stored = (await tx.tools(ws, [name], lock=True)).get(name)
    if stored is not None and stored.retired:
        raise ConflictError(f"Tool {name!r} is retired: it takes no new versions.", name=name)
    known = await tx.tool_versions(ws, name, [version.version, *([stored.latest] if stored else [])])
    if version.version in known:
        raise ConflictError(
            f"Version {version.version} of tool {name} is already published; versions are immutable: "
            "publish a new version.", name=name, version=version.version,
        )
    if stored is None:
        after = replace(tool, latest=version.version)
        await tx.insert_tool(after, version.sort_key)
    else:
        latest = known.get(stored.latest)
        newer = latest is None or version.sort_key > latest.sort_key
        after = replace(stored, latest=version.version if newer else stored.latest, updated_at=version.created_at)
        await tx.replace_tool(after, version.sort_key if newer else None)
    await tx.insert_tool_version(version)
    await apply_effects(tx, ws, {}, effects)
    return after


async def update_tool(
    tx: WriteTx, workspace: str, name: str, at: int, retired: bool | None,
    permissions: dict[str, list[str]] | None, effects: WriteEffects | None = None,
) -> ToolRecord:
    """Set what is given (None keeps it); returns the tool after."""
    stored = (await tx.tools(workspace, [name], lock=True)).get(name)
    if stored is None:
        raise no_tool(workspace, name)
    after = replace(
        stored, updated_at=int(at),
        retired=stored.retired if retired is None else bool(retired),
        permissions=stored.permissions if permissions is None else permissions,
    )
    await tx.replace_tool(after)
    await apply_effects(tx, workspace, {}, effects)
    return after


async def set_tool_deprecated(
    tx: WriteTx, workspace: str, name: str, version: str, deprecated: bool, effects: WriteEffects | None = None
) -> ToolVersionRecord:
    """Flag (or unflag) one version as deprecated; returns it after."""
    if name not in await tx.tools(workspace, [name], lock=True):
        raise no_tool(workspace, name)
    stored = (await tx.tool_versions(workspace, name, [version])).get(version)
    if stored is None:
        raise NotFoundError(f"Tool {name!r} has no version {version!r}.", name=name, version=version)
    await tx.set_tool_deprecated(workspace, name, version, bool(deprecated))
    await apply_effects(tx, workspace, {}, effects)
    return replace(stored, deprecated=bool(deprecated))


async def create_execution(tx: WriteTx, record: ExecutionRecord, effects: WriteEffects | None = None) -> None:
    if await tx.taken_execution_ids([record.id]):
        raise ConflictError(f"Execution {record.id} already exists.", ids=[record.id])
    await tx.insert_execution(record)
    await apply_effects(tx, record.workspace, {}, effects)


async def finish_execution(tx: WriteTx, record: ExecutionRecord, effects: WriteEffects | None = None) -> None:
    if not await tx.execution_exists(record.workspace, record.id):
        raise NotFoundError(f"Execution {record.id} does not exist.", ids=[record.id])
    await tx.finish_execution(record)
    await apply_effects(tx, record.workspace, {}, effects)


async def relate(
    tx: WriteTx, record: RelationshipRecord, effects: WriteEffects | None = None
) -> tuple[RelationshipRecord, bool]:
    """Add the edge unless (source, target, type) exists; returns the stored edge and whether it is new."""
    ws, source, target = record.workspace, record.source, record.target
    if source.kind != CONTEXT:
        raise ValueError("a relationship starts at a context")
    wanted = [source.id, target.id] if target.kind == CONTEXT else [source.id]
    # Locked in id order, so two relates between the same contexts never wait on each other.
    found = await tx.heads(ws, sorted(set(wanted)), lock=True)
    if source.id not in found:
        raise _missing(ws, source)
    if target.kind == CONTEXT and target.id not in found:
        raise _missing(ws, target)
    if target.kind == TOOL and target.id not in await tx.tools(ws, [target.id]):
        raise _missing(ws, target)
    old = await tx.relationship(ws, source.id, target, record.type)
    if old is not None:
        await apply_effects(tx, ws, {}, effects)
        return old, False
    if target.kind == AGENT:
        await tx.ensure_agent(ws, target.id, record.created_at)
    await tx.insert_relationship(record)
    await apply_effects(tx, ws, {}, effects)
    return record, True


async def unrelate(
    tx: WriteTx, workspace: str, source: NodeRef, target: NodeRef, type: str, effects: WriteEffects | None = None
) -> int:
    """Remove the edge; returns how many went (0 or 1)."""
    await tx.heads(workspace, [source.id], lock=True)
    found = await tx.relationship(workspace, source.id, target, type) is not None
    if found:
        await tx.delete_relationship(workspace, source.id, target, type)
    await apply_effects(tx, workspace, {}, effects)
    return int(found)


def _missing(workspace: str, ref: NodeRef) -> NotFoundError:
    name = ref.id if ref.kind == CONTEXT else repr(ref.id)
    return NotFoundError(f"No {ref.kind} {name} in workspace {workspace!r}.", ref={"kind": ref.kind, "id": ref.id})
