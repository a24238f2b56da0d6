"""Export a workspace as JSON Lines and import it back, verbatim (ids, versions and timestamps kept).

Line types, in order: one `header`, every `contextType`, then each `context`
(parents before children) followed by its `version` lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from . import keyset
from .errors import BadUserInputError, ConflictError
from .filters import Order
from .records import ContextRecord, ContextTypeRecord, Page, VersionRecord
from .store import GraphStore

FORMAT = "contextql-export"
FORMAT_VERSION = 1
BATCH = 500

Progress = Callable[[int], None]


async def export_workspace(store: GraphStore, workspace: str) -> AsyncIterator[dict[str, Any]]:
    total = await store.count_contexts(workspace, None)
    yield {"type": "header", "format": FORMAT, "formatVersion": FORMAT_VERSION, "workspace": workspace, "contexts": total}
    for context_type in await store.list_context_types(workspace):
        yield {"type": "contextType", **_fields(context_type)}
    order = [Order("depth"), Order("path")]
    after = None
    while True:
        batch = await store.find_contexts(workspace, None, order, Page(BATCH, after))
        if not batch:
            return
        versions = await store.versions_of(workspace, [c.id for c in batch])
        for record in batch:
            yield {"type": "context", **_fields(record)}
            for version in versions.get(record.id, []):
                yield {"type": "version", **_fields(version)}
        after = keyset.position(batch[-1], keyset.contexts(order))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int  # contexts inserted now
    skipped: int  # contexts already there (a resumed import)


async def import_workspace(
    store: GraphStore,
    lines: Iterable[dict[str, Any]],
    workspace: str | None = None,
    progress: Progress | None = None,
    *,
    resume: bool = False,
) -> ImportResult:
    """Import exported lines into an empty `workspace` (default: the exported one).

    Each batch is atomic. The target must be empty, so ids and paths cannot collide, unless
    `resume`: then records already there with the same id and path (an import that was
    interrupted, or ran before) are skipped and counted, and the rest is inserted.
    """
    iterator = iter(lines)
    header = next(iterator, None)
    if not header or header.get("type") != "header" or header.get("format") != FORMAT:
        raise BadUserInputError("Not a ContextQL export: the first line must be its header.")
    if header.get("formatVersion") != FORMAT_VERSION:
        raise BadUserInputError(f"Unsupported export format version {header.get('formatVersion')!r}.")
    target = workspace or header["workspace"]
    existing = await store.count_contexts(target, None)
    if existing and not resume:
        raise BadUserInputError(
            f"Workspace {target!r} already has {existing} contexts: import into an empty workspace, or pass "
            "--resume to skip what an earlier run of this import already stored."
        )
    contexts: list[ContextRecord] = []
    versions: list[VersionRecord] = []
    types: list[ContextTypeRecord] = []
    imported = skipped = 0

    async def flush() -> None:
        nonlocal imported, skipped
        if contexts or versions or types:
            try:
                done = await store.import_records(
                    target, list(contexts), list(versions), list(types), skip_present=resume
                )
            except ConflictError as error:
                raise ConflictError(
                    f"{error.message} Context ids are unique across workspaces: import into another store, delete "
                    "the workspace holding them first, or (for a rerun of this import) pass --resume.",
                    **error.details,
                ) from None
            imported += done
            skipped += len(contexts) - done
            if progress:
                progress(len(contexts))
            contexts.clear()
            versions.clear()
            types.clear()

    for number, line in enumerate(iterator, start=2):
        kind = line.get("type")
        fields = {k: v for k, v in line.items() if k != "type"} | {"workspace": target}
        try:
            if kind == "contextType":
                types.append(ContextTypeRecord(**fields))
            elif kind == "context":
                if len(contexts) >= BATCH:
                    await flush()
                contexts.append(ContextRecord(**fields))
            elif kind == "version":
                versions.append(VersionRecord(**fields))
            else:
                raise BadUserInputError(f"Line {number}: unknown line type {kind!r}.")
        except TypeError as error:
            raise BadUserInputError(f"Line {number}: malformed {kind} ({error}).") from None
    await flush()
    return ImportResult(imported, skipped)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
