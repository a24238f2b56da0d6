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
    """Index entries out of step with the graph (ids), and outbox tasks not yet applied."""

    missing: list[str] = field(default_factory=list)  # in the graph, not in the index
    orphaned: list[str] = field(default_factory=list)  # in the index, not in the graph
    stale: list[str] = field(default_factory=list)  # indexed at another version or path
    pending: int = 0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.orphaned) + len(self.stale)


async def graph_heads(store: GraphStore, workspace: str):
    """Every context of the workspace, a page at a time (path order)."""
    after = None
    while True:
        rows = await store.find_contexts(workspace, None, [Order("path")], Page(PAGE, after))
        if not rows:
            return
        yield rows
        after = (rows[-1].path,)


async def verify(store: GraphStore, index: VectorIndex, workspace: str) -> Drift:
    indexed = await index.heads(workspace)
    drift = Drift(pending=await store.count_index_tasks(workspace))
    seen: set[str] = set()
    async for page in graph_heads(store, workspace):
        for rec in page:
            seen.add(rec.id)
            entry = indexed.get(rec.id)
            if entry is None:
                drift.missing.append(rec.id)
            elif entry != (rec.version, rec.path):
                drift.stale.append(rec.id)
    drift.orphaned = sorted(set(indexed) - seen)
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
            seen.update(rec.id for rec in batch)
            count += len(batch)
            if advance is not None:
                advance(len(batch))
    await index.remove(workspace, sorted(set(indexed) - seen))
    return count
