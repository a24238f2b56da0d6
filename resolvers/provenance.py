"""Provenance: which contexts a version was derived from, which execution produced it, lineage walks.

Lineage is written right after the context's own write (the store keeps it on separate lineage
nodes). The sources are checked first, so the second write only fails if the store does.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.errors import BadUserInputError, NotFoundError
from graph.knowledge.records import Derivation, Lineage, SourceRef
from graph.records import ContextRecord

from . import contexts as ops
from .clock import now_us
from .request import RequestContext

MAX_DEPTH = 10
MAX_NODES = 500
MAX_SOURCES = 100


async def sources(ctx: RequestContext, refs: Sequence[str]) -> list[ContextRecord]:
    """The contexts named (by path or id) as `derivedFrom`; `NotFoundError` for any missing one."""
    if len(refs) > MAX_SOURCES:
        raise BadUserInputError(f"At most {MAX_SOURCES} `derivedFrom` sources.", limit=MAX_SOURCES)
    found = []
    for ref in dict.fromkeys(refs):
        record = await (ops.by_path(ctx, ref) if ref.startswith("/") else ops.by_id(ctx, ref))
        if record is None:
            raise NotFoundError(f"`derivedFrom` names {ref!r}, which is not a context in workspace {ctx.workspace!r}.")
        found.append(record)
    return found


async def record(
    ctx: RequestContext, derived: ContextRecord, origins: Sequence[ContextRecord], execution_id: str | None = None
) -> None:
    if not origins and execution_id is None:
        return
    await ctx.store.record_derivation(Derivation(
        workspace=ctx.workspace, context_id=derived.id, path=derived.path, version=derived.version,
        sources=[SourceRef(o.id, o.path, o.version) for o in origins], execution_id=execution_id,
        created_at=now_us(),
    ))


def _bounds(depth: int) -> int:
    if not 1 <= depth <= MAX_DEPTH:
        raise BadUserInputError(f"`depth` must be 1-{MAX_DEPTH}.", limit=MAX_DEPTH)
    return depth


async def back(ctx: RequestContext, record: ContextRecord, depth: int) -> Lineage:
    return await ctx.store.lineage(ctx.workspace, record.id, False, _bounds(depth), MAX_NODES)


async def forward(ctx: RequestContext, record: ContextRecord, depth: int) -> Lineage:
    return await ctx.store.lineage(ctx.workspace, record.id, True, _bounds(depth), MAX_NODES)
