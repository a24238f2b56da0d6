"""Record builders for the contract tests (backend-neutral: records and the public contract only)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from typing import Any

from contextql.graph.records import ContextRecord, ContextTypeRecord, VersionRecord
from contextql.graph.store import GraphStore

# Distinct, increasing timestamps (microseconds) so that ordering by time is unambiguous.
_clock = itertools.count(1_700_000_000_000_000, 1_000)


def now() -> int:
    return next(_clock)


def new_id() -> str:
    return uuid.uuid4().hex


def parent_path(path: str) -> str | None:
    head = path.rsplit("/", 1)[0]
    return head or None


def context(
    workspace: str,
    path: str,
    parent: ContextRecord | str | None = None,
    *,
    id: str | None = None,
    kind: str = "note",
    title: str | None = None,
    content: str = "",
    data: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    inherit: bool = True,
    version: int = 1,
    created_at: int | None = None,
    author: str = "alice",
) -> ContextRecord:
    at = now() if created_at is None else created_at
    parent_id = parent.id if isinstance(parent, ContextRecord) else parent
    return ContextRecord(
        id=id or new_id(),
        workspace=workspace,
        path=path,
        parent_id=parent_id,
        kind=kind,
        title=path.rsplit("/", 1)[-1] if title is None else title,
        content=content,
        data={} if data is None else data,
        tags=list(tags),
        inherit=inherit,
        version=version,
        created_at=at,
        updated_at=at,
        created_by=author,
        updated_by=author,
    )


def snapshot(record: ContextRecord, operation: str = "create", *, author: str | None = None,
             created_at: int | None = None, changed: list[str] | None = None) -> VersionRecord:
    """The version describing `record` as it now is (number = record.version)."""
    return VersionRecord(
        context_id=record.id,
        workspace=record.workspace,
        number=record.version,
        operation=operation,
        path=record.path,
        kind=record.kind,
        title=record.title,
        content=record.content,
        data=record.data,
        tags=list(record.tags),
        inherit=record.inherit,
        author=author or record.updated_by,
        created_at=record.updated_at if created_at is None else created_at,
        changed=list(changed or []),
    )


def changed(record: ContextRecord, author: str = "bob", **changes: Any) -> tuple[ContextRecord, VersionRecord]:
    """The next state of `record` (version + 1, new updated_at) and its version."""
    at = now()
    new = record.replace(version=record.version + 1, updated_at=at, updated_by=author, **changes)
    return new, snapshot(new, "update", author=author, created_at=at, changed=sorted(changes))


def move_version(record: ContextRecord, new_path: str, author: str = "bob") -> VersionRecord:
    at = now()
    moved = record.replace(path=new_path, version=record.version + 1, updated_at=at, updated_by=author)
    return snapshot(moved, "move", author=author, created_at=at, changed=["path"])


def context_type(workspace: str, name: str, schema: dict[str, Any] | None = None, *, version: int = 1,
                 author: str = "alice") -> ContextTypeRecord:
    at = now()
    return ContextTypeRecord(
        workspace=workspace,
        name=name,
        schema=schema if schema is not None else {"type": "object"},
        version=version,
        created_at=at,
        updated_at=at,
        updated_by=author,
    )


def tree_records(workspace: str, paths: Iterable[str], **fields: Any) -> dict[str, ContextRecord]:
    """Records for `paths` (parents must be listed before children), parents linked by path."""
    built: dict[str, ContextRecord] = {}
    for path in paths:
        up = parent_path(path)
        built[path] = context(workspace, path, built[up] if up else None, **fields)
    return built


async def create_tree(store: GraphStore, workspace: str, paths: Iterable[str], **fields: Any) -> dict[str, ContextRecord]:
    """Create contexts at `paths` in one batch (with first versions); returns them by path."""
    built = tree_records(workspace, paths, **fields)
    await store.create_contexts(list(built.values()), [snapshot(rec) for rec in built.values()])
    return built


async def create_one(store: GraphStore, workspace: str, path: str, parent: ContextRecord | None = None,
                     **fields: Any) -> ContextRecord:
    rec = context(workspace, path, parent, **fields)
    await store.create_contexts([rec], [snapshot(rec)])
    return rec
