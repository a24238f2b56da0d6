"""Provenance: which contexts a version was derived from, which execution produced it, lineage walks.

Lineage of a context write (`derivedFrom`, a tool's output) is written in that write's own
transaction (resolvers/contexts.py); `record` serves what a builtin tool derived itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from contextql.graph.errors import BadUserInputError
from contextql.graph.knowledge.records import Derivation, Lineage, SourceRef
from contextql.graph.records import ContextRecord

from .clock import now_us
from .request import RequestContext

MAX_DEPTH = 10
MAX_NODES = 500


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
