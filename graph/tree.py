"""The tree's write rules, written once for every backend, each run inside ONE transaction.

Invariants kept by every script here, whatever runs concurrently:
- `path == parent.path + "/" + name`, the parent exists in the same workspace (roots have none);
- a path names at most one context per workspace, an id at most one context in the store;
- a context's versions are numbered 1..n without gaps, and its `version` is n.

Tree-shape changes (create, import, move, delete) take the workspace's tree lock first, so
they see a tree nobody else is reshaping; single-context writes lock that context. Parents
are found by path inside the transaction, so a create never hangs a context under a parent
that moved meanwhile. Checks run before the first write; a failed check raises a domain
error, which rolls back the whole transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from .errors import ConflictError, NotFoundError
from .knowledge.records import Derivation
from .outbox import NO_HISTORY
from .records import ContextRecord, ContextTypeRecord, VersionRecord
from .writes import PURGED, Move, WriteEffects, WriteTx

# A revision: the new state and its version, or None when nothing would change.
Revise = Callable[[ContextRecord], "tuple[ContextRecord, VersionRecord] | None"]
# A relocation: the moved head (path and parent are set by `move`) and its version.
Relocate = Callable[[ContextRecord], "tuple[ContextRecord, VersionRecord]"]


@dataclass(frozen=True, slots=True)
class Moved:
    record: ContextRecord
    count: int


def parent_path(path: str) -> str | None:
    head = path.rsplit("/", 1)[0]
    return head or None


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def stale(record: ContextRecord, expected: int) -> ConflictError:
    return ConflictError(
        f"{record.path} is at version {record.version}, not {expected}: re-read it and retry.",
        currentVersion=record.version, expectedVersion=expected,
    )


def check_batch(contexts: Sequence[ContextRecord], versions: Sequence[VersionRecord], types: Sequence[ContextTypeRecord]) -> None:
    """What the batch alone decides: no repeated id, path, version or type name."""
    seen_ids: set[str] = set()
    seen_paths: set[tuple[str, str]] = set()
    repeated = []
    for rec in contexts:
        if rec.id in seen_ids or (rec.workspace, rec.path) in seen_paths:
            repeated.append(rec.path)
        seen_ids.add(rec.id)
        seen_paths.add((rec.workspace, rec.path))
    if repeated:
        raise ConflictError(f"The batch repeats {', '.join(_unique(repeated))}.", paths=_unique(repeated))
    version_ids = [v.id for v in versions]
    if len(set(version_ids)) != len(version_ids):
        raise ConflictError("The batch repeats a version.", versions=version_ids)
    names = [(t.workspace, t.name) for t in types]
    if len(set(names)) != len(names):
        raise ConflictError("The batch repeats a context type.", names=[t.name for t in types])


async def insert(
    tx: WriteTx,
    workspace: str,
    contexts: Sequence[ContextRecord],
    versions: Sequence[VersionRecord],
    types: Sequence[ContextTypeRecord] = (),
    effects: WriteEffects | None = None,
    *,
    adopt: bool = True,
    ensure: Collection[str] = (),
    skip_present: bool = False,
) -> list[ContextRecord]:
    """Insert contexts (parents first) with versions and types; returns the contexts as written.

    A context's parent is whatever context is at its parent path now. With `adopt` (creates),
    `parent_id` is set from it; without (imports, which keep ids), a different parent id is a
    conflict. Contexts at the `ensure` paths (parents made by `createParents`) are only
    inserted when their path is still free; otherwise the stored one takes their place.
    With `skip_present` (a resumed import), records already stored with the same id (and,
    for contexts, the same path) are left out instead of conflicting.
    """
    records: tuple[ContextRecord | VersionRecord | ContextTypeRecord, ...] = (*contexts, *versions, *types)
    for rec in records:
        if rec.workspace != workspace:
            raise ValueError(f"a record of workspace {rec.workspace!r} written to {workspace!r}")
    check_batch(contexts, versions, types)
    if contexts:
        await tx.lock_tree(workspace)
    batch = {rec.path: rec for rec in contexts}
    outside = [p for p in (parent_path(rec.path) for rec in contexts) if p is not None and p not in batch]
    stored = await tx.at_paths(workspace, _unique([*batch, *outside])) if contexts else {}

    kept = [p for p in ensure if p in stored]
    present = [p for p, rec in batch.items() if skip_present and p in stored and stored[p].id == rec.id]
    if kept or present:
        dropped = {batch[p].id for p in kept}
        contexts = [rec for rec in contexts if rec.id not in dropped and rec.path not in present]
        versions = [v for v in versions if v.context_id not in dropped]
        batch = {rec.path: rec for rec in contexts}
    if skip_present and versions:
        done = await tx.taken_versions(workspace, [v.id for v in versions])
        versions = [v for v in versions if v.id not in done]
    if skip_present and types:
        known = await tx.type_versions(workspace, [t.name for t in types])
        types = [t for t in types if t.name not in known]
    taken = [p for p in batch if p in stored]
    if taken:
        raise ConflictError(f"A context already exists at {', '.join(taken)}.", paths=taken)
    taken_ids = await tx.taken_ids([rec.id for rec in contexts]) if contexts else set()
    if taken_ids:
        clash = [rec for rec in contexts if rec.id in taken_ids]
        raise ConflictError(
            f"The id of {', '.join(r.path for r in clash)} is already taken.",
            paths=[r.path for r in clash], ids=[r.id for r in clash],
        )

    written: list[ContextRecord] = []
    placed: dict[str, ContextRecord] = {}
    for rec in contexts:
        above = parent_path(rec.path)
        if above is None:
            if rec.parent_id is not None:
                raise ConflictError(f"{rec.path} is a root but names a parent.", paths=[rec.path])
            parent = None
        else:
            parent = placed.get(above) or stored.get(above)
            if parent is None:
                missing = "comes later in the batch" if above in batch else "does not exist"
                raise NotFoundError(
                    f"Parent {above} of {rec.path} {missing}: create it first or pass `createParents: true`.",
                    paths=[above],
                )
            if parent.id != rec.parent_id and not adopt:
                raise ConflictError(
                    f"{rec.path} names parent {rec.parent_id}, but {above} is context {parent.id}.",
                    paths=[rec.path], ids=[rec.id],
                )
        rec = rec if parent is None or parent.id == rec.parent_id else rec.replace(parent_id=parent.id)
        placed[rec.path] = rec
        written.append(rec)

    new_ids = {rec.id for rec in written}
    foreign = [v for v in versions if v.context_id not in new_ids]
    if foreign:
        owners = await tx.heads(workspace, _unique([v.context_id for v in foreign]))
        orphan = next((v for v in foreign if v.context_id not in owners), None)
        if orphan is not None:
            raise NotFoundError(f"Context {orphan.context_id} of a version does not exist.", ids=[orphan.context_id])
        dup = await tx.taken_versions(workspace, [v.id for v in foreign])
        if dup:
            raise ConflictError("A version already exists.", versions=sorted(dup))
    if types:
        dup_types = set(await tx.type_versions(workspace, [t.name for t in types]))
        if dup_types:
            raise ConflictError(f"Context type {', '.join(sorted(dup_types))} already exists.", names=sorted(dup_types))

    await check_effects(tx, workspace, effects)
    if written:
        await tx.insert_contexts(written)
    if versions:
        await tx.insert_versions(versions)
    if types:
        await tx.insert_types(types)
    if written:
        await tx.enqueue_index(workspace, [(rec.id, 1) for rec in written])
    await apply_effects(tx, workspace, {rec.id: rec for rec in written}, effects)
    return written


async def revise(
    tx: WriteTx, workspace: str, context_id: str | None, change: Revise, effects: WriteEffects | None = None,
    *, path: str | None = None,
) -> tuple[ContextRecord, VersionRecord | None]:
    """Apply `change` to the locked current state of the context `context_id` (or at `path`);
    returns the state after and the version added.

    `change` sees the head as committed by the last writer before us, so merges and patches
    never lose a concurrent change; it raises `ConflictError` for a stale `expectedVersion`.
    """
    if context_id is not None:
        head = (await tx.heads(workspace, [context_id], lock=True)).get(context_id)
    else:
        assert path is not None, "name the context by id or path"
        head = (await tx.at_paths(workspace, [path], lock=True)).get(path)
    if head is None:
        raise NotFoundError(f"No context {context_id or path} in workspace {workspace!r}.")
    revision = change(head)
    await check_effects(tx, workspace, effects)
    if revision is None:
        await apply_effects(tx, workspace, {head.id: head}, effects)
        return head, None
    record, version = revision
    _check_revision(head, record, version)
    await tx.set_state(record)
    await tx.insert_versions([version])
    await tx.enqueue_index(workspace, [(record.id, version.number)])
    await apply_effects(tx, workspace, {record.id: record}, effects)
    return record, version


async def move(
    tx: WriteTx,
    workspace: str,
    context_id: str,
    new_path: str,
    expected_version: int | None,
    change: Relocate,
    effects: WriteEffects | None = None,
) -> Moved:
    """Move a context with its subtree to `new_path`; `change` builds the moved head and its version."""
    await tx.lock_tree(workspace)
    head = (await tx.heads(workspace, [context_id], lock=True)).get(context_id)
    if head is None:
        raise NotFoundError(f"Context {context_id} does not exist.", ids=[context_id])
    above = parent_path(new_path)
    found = await tx.at_paths(workspace, [p for p in (above, new_path) if p is not None])
    parent = found.get(above) if above is not None else None
    if above is not None and parent is None:
        raise NotFoundError(f"The new parent {above} does not exist: create it first.", paths=[above])
    if expected_version is not None and head.version != expected_version:
        raise stale(head, expected_version)
    if new_path == head.path or new_path.startswith(head.path + "/"):
        raise ConflictError(f"Cannot move {head.path} into its own subtree ({new_path}).", paths=[new_path])
    if new_path in found:
        raise ConflictError(f"A context already exists at {new_path}.", paths=[new_path])
    below = await tx.descendants(workspace, head)
    prefix = head.path + "/"
    moves = [Move(head.id, head.path, new_path)]
    for cid, path in below:
        if not path.startswith(prefix):
            raise RuntimeError(f"descendant {cid} at {path} lies outside {head.path}")
        moves.append(Move(cid, path, new_path + path[len(head.path):]))
    record, version = change(head)
    record = record.replace(path=new_path, parent_id=parent.id if parent else None)
    _check_revision(head, record, version)
    await check_effects(tx, workspace, effects)
    await tx.move(workspace, record, record.parent_id, moves)
    await tx.insert_versions([version])
    await tx.enqueue_index(workspace, [(m.id, version.number if m.id == head.id else NO_HISTORY) for m in moves])
    await apply_effects(tx, workspace, {record.id: record}, effects)
    return Moved(record, len(moves))


async def delete(
    tx: WriteTx, workspace: str, context_id: str, recursive: bool, effects: WriteEffects | None = None
) -> tuple[ContextRecord, int]:
    """Delete a context (with `recursive`, its subtree); returns its last state and how many went."""
    await tx.lock_tree(workspace)
    head = (await tx.heads(workspace, [context_id], lock=True)).get(context_id)
    if head is None:
        raise NotFoundError(f"Context {context_id} does not exist.", ids=[context_id])
    below = await tx.descendants(workspace, head)
    if below and not recursive:
        children = sum(1 for _, path in below if parent_path(path) == head.path)
        raise ConflictError(
            f"{head.path} has {children} child context(s): pass `recursive: true` to delete the whole subtree.",
            paths=[head.path], children=children,
        )
    doomed = [(head.id, head.path), *below]
    await tx.delete(workspace, doomed)
    await tx.enqueue_index(workspace, [(cid, NO_HISTORY) for cid, _ in doomed])
    await apply_effects(tx, workspace, {}, effects)
    return head, len(doomed)


async def put_type(
    tx: WriteTx, record: ContextTypeRecord, expected_version: int | None, effects: WriteEffects | None = None
) -> None:
    """Create a context type (`expected_version` None: it must not exist) or replace it (compare-and-set)."""
    stored = (await tx.type_versions(record.workspace, [record.name], lock=True)).get(record.name)
    if expected_version is None:
        if stored is not None:
            raise ConflictError(f"Context type {record.name} already exists.", names=[record.name])
        await tx.insert_types([record])
        await apply_effects(tx, record.workspace, {}, effects)
        return
    if stored is None:
        raise NotFoundError(f"Context type {record.name} does not exist.", names=[record.name])
    if stored != expected_version:
        raise ConflictError(
            f"Context type {record.name} is at version {stored}, not {expected_version}: it was changed meanwhile.",
            names=[record.name], currentVersion=stored, expectedVersion=expected_version,
        )
    await tx.replace_type(record)
    await apply_effects(tx, record.workspace, {}, effects)


async def delete_type(tx: WriteTx, workspace: str, name: str, force: bool, effects: WriteEffects | None = None) -> int:
    """Delete a context type; refused while contexts use its kind unless `force`. Returns how many do."""
    if name not in await tx.type_versions(workspace, [name], lock=True):
        raise NotFoundError(f"Context type {name} does not exist.", names=[name])
    users = await tx.count_kind(workspace, name)
    if users and not force:
        raise ConflictError(
            f"{users} context(s) are of kind {name}: change their kind first, or pass `force: true` "
            "(they keep their data, unchecked).", names=[name], contexts=users,
        )
    await tx.delete_type(workspace, name)
    await apply_effects(tx, workspace, {}, effects)
    return users


async def purge_workspace(tx: WriteTx, workspace: str, effects: WriteEffects | None = None) -> dict[str, int]:
    """Remove everything of a workspace; its contexts leave the search index through the outbox.

    The audit entry of the purge itself (in `effects`) is written after it, so the log keeps
    who emptied the workspace.
    """
    await tx.lock_tree(workspace)
    ids = await tx.context_ids(workspace)
    counts = await tx.purge_workspace(workspace)
    removed = {name: counts.get(name, 0) for name in PURGED}
    await tx.enqueue_index(workspace, [(cid, NO_HISTORY) for cid in ids])
    await apply_effects(tx, workspace, {}, effects)
    return removed


def _check_revision(head: ContextRecord, record: ContextRecord, version: VersionRecord) -> None:
    """A revision continues the head's history: same context, next number."""
    if (record.id, record.workspace) != (head.id, head.workspace) or version.context_id != head.id:
        raise ValueError("the revision does not belong to the context")
    if not record.version == version.number == head.version + 1:
        raise ValueError(f"version {version.number} does not follow {head.version}")


async def check_effects(tx: WriteTx, workspace: str, effects: WriteEffects | None) -> None:
    if (effects is not None and effects.execution_id is not None
            and not await tx.execution_exists(workspace, effects.execution_id)):
        raise NotFoundError(f"Execution {effects.execution_id} does not exist.", ids=[effects.execution_id])


async def apply_effects(
    tx: WriteTx, workspace: str, written: dict[str, ContextRecord], effects: WriteEffects | None
) -> None:
    if effects is None:
        return
    if effects.audit:
        await tx.append_audit(effects.audit)
    for context_id, sources in effects.derived_from.items():
        record = written.get(context_id)
        if record is not None:
            await tx.record_derivation(Derivation(
                workspace=workspace, context_id=record.id, path=record.path, version=record.version,
                sources=list(sources), execution_id=effects.execution_id, created_at=record.updated_at,
            ))
