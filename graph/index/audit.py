"""Compare the index with the graph (`verify`) and rebuild it from the graph (`reindex`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..filters import Order
from ..records import ContextRecord, Page
from ..store import GraphStore
from .qdrant import VectorIndex

PAGE = 500


@dataclass
class Drift:
    """Index entries out of step with the graph, and outbox tasks not yet applied.

    Current entries are context ids; history entries are (context id, version number), one
    set of points per version of every context still in the graph.
    """

    missing: list[str] = field(default_factory=list)  # in the graph, not in the index
    orphaned: list[str] = field(default_factory=list)  # in the index, not in the graph
    stale: list[str] = field(default_factory=list)  # indexed at another version or path
    history_missing: list[tuple[str, int]] = field(default_factory=list)  # a version with no history entry
    history_orphaned: list[tuple[str, int]] = field(default_factory=list)  # a history entry of no version
    pending: int = 0
    contexts: int = 0  # contexts checked
    versions: int = 0  # versions checked (0 when history was not checked)

    @property
    def total(self) -> int:
        return (len(self.missing) + len(self.orphaned) + len(self.stale) + len(self.history_missing)
                + len(self.history_orphaned))


async def graph_heads(store: GraphStore, workspace: str):
    """Every context of the workspace, a page at a time (path order)."""
    after = None
    while True:
        rows = await store.find_contexts(workspace, None, [Order("path")], Page(PAGE, after))
        if not rows:
            return
        yield rows
        after = (rows[-1].path,)


async def verify(store: GraphStore, index: VectorIndex, workspace: str, *, history: bool = True,
                 total: Callable[[int], None] | None = None, advance: Callable[[int], None] | None = None) -> Drift:
    indexed = await index.heads(workspace)
    past = await index.history_heads(workspace) if history else {}
    drift = Drift(pending=await store.count_index_tasks(workspace))
    if total is not None:
        total(await store.count_contexts(workspace, None))
    seen: set[str] = set()
    async for page in graph_heads(store, workspace):
        for rec in page:
            seen.add(rec.id)
            entry = indexed.get(rec.id)
            if entry is None:
                drift.missing.append(rec.id)
            elif entry != (rec.version, rec.path):
                drift.stale.append(rec.id)
        if history:
            versions = await store.versions_of(workspace, [rec.id for rec in page])
            for context_id, records in versions.items():
                numbers = {v.number for v in records}
                held = past.get(context_id, set())
                drift.versions += len(numbers)
                drift.history_missing.extend((context_id, n) for n in sorted(numbers - held))
                drift.history_orphaned.extend((context_id, n) for n in sorted(held - numbers))
        drift.contexts += len(page)
        if advance is not None:
            advance(len(page))
    drift.orphaned = sorted(set(indexed) - seen)
    drift.history_orphaned.extend((cid, n) for cid in sorted(set(past) - seen) for n in sorted(past[cid]))
    return drift


async def reindex(store: GraphStore, index: VectorIndex, workspace: str, *, history: bool = True,
                  total: Callable[[int], None] | None = None, advance: Callable[[int], None] | None = None) -> int:
    """Rewrite every entry of the workspace from the graph and drop orphans; returns contexts indexed."""
    if total is not None:
        total(await store.count_contexts(workspace, None))
    indexed = await index.heads(workspace)
    seen: set[str] = set()
    count = 0
    async for page in graph_heads(store, workspace):
        for start in range(0, len(page), 64):
            batch: list[ContextRecord] = page[start:start + 64]
            versions = await store.versions_of(workspace, [rec.id for rec in batch]) if history else {}
            # one embedding call for both; a version equal to the current state is embedded once
            await index.write(batch, [v for vs in versions.values() for v in vs])
            await _overtaken(store, index, workspace, batch)
            seen.update(rec.id for rec in batch)
            count += len(batch)
            if advance is not None:
                advance(len(batch))
    # Only what the graph still lacks now: a context moved during the scan may have been passed over.
    unseen = sorted(set(indexed) - seen)
    live = await store.get_by_ids(workspace, unseen) if unseen else {}
    await index.remove(workspace, [cid for cid in unseen if cid not in live])
    return count


async def _overtaken(store: GraphStore, index: VectorIndex, workspace: str, batch: list[ContextRecord]) -> None:
    """Rewrite the entries of `batch` that changed in the graph while it was embedded.

    On a running server the outbox worker may index such a write before this batch's refresh
    lands, which would then leave the older state in place with the worker's task done. Read
    after the refresh, the graph shows every write that could have been overtaken.
    """
    now = await store.get_by_ids(workspace, [rec.id for rec in batch])
    await index.remove(workspace, [rec.id for rec in batch if rec.id not in now])
    await index.refresh([cur for rec in batch if (cur := now.get(rec.id)) is not None
                         and (cur.version, cur.path) != (rec.version, rec.path)])
