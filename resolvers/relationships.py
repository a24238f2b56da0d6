"""Typed relationships from contexts to contexts, tools and agents; traversal with caps."""

from __future__ import annotations

from typing import Any

from contextql.graph.errors import BadUserInputError
from contextql.graph.events import ChangeEvent, RelationshipDetail
from contextql.graph.knowledge.names import RELATIONSHIP_TYPE, RELATIONSHIP_TYPE_RULE
from contextql.graph.knowledge.records import AGENT, CONTEXT, TOOL, GraphView, Neighbor, NodeRef, RelationshipRecord
from contextql.graph.records import ContextRecord

from . import audit, builtin_tools, contexts as ops
from .clock import now_us
from .request import RequestContext

MAX_DEPTH = 4
MAX_NODES = 200
MAX_RELATED = 100


def check_type(name: str) -> str:
    if not RELATIONSHIP_TYPE.match(name):
        raise BadUserInputError(f"Invalid relationship type {name!r}: {RELATIONSHIP_TYPE_RULE}.")
    return name


def check_types(names: list[str] | None) -> list[str] | None:
    return None if names is None else [check_type(n) for n in names]


async def target_ref(ctx: RequestContext, path: str | None, tool: str | None, agent: str | None) -> NodeRef:
    given = [v for v in (path, tool, agent) if v is not None]
    if len(given) != 1:
        raise BadUserInputError("Name the target by exactly one of `path`, `tool` or `agent`.")
    if path is not None:
        return NodeRef(CONTEXT, (await ops.target(ctx, path=path)).id)
    if tool is not None:
        if tool.startswith(builtin_tools.PREFIX):
            raise BadUserInputError("Relationships to built-in tools are not stored; relate to a registered tool.")
        return NodeRef(TOOL, tool)
    if not agent or len(agent) > 256:
        raise BadUserInputError("`agent` must be a principal id of 1-256 characters.")
    return NodeRef(AGENT, agent)


def _bounds(depth: int, first: int, max_depth: int = MAX_DEPTH) -> None:
    if not 1 <= depth <= max_depth:
        raise BadUserInputError(f"`depth` must be 1-{max_depth}.", limit=max_depth)
    if not 1 <= first <= MAX_NODES:
        raise BadUserInputError(f"`first` must be 1-{MAX_NODES}.", limit=MAX_NODES)


async def relate(
    ctx: RequestContext, source: ContextRecord, target: NodeRef, type: str, properties: dict[str, Any] | None, weight: float
) -> tuple[RelationshipRecord, bool]:
    check_type(type)
    if properties is not None and not isinstance(properties, dict):
        raise BadUserInputError("`properties` must be a JSON object.")
    record = RelationshipRecord(
        ctx.workspace, NodeRef(CONTEXT, source.id), target, type, properties or {}, float(weight), now_us(), ctx.principal.id
    )
    stored, created = await ctx.store.relate(record, audit.effects(ctx))
    audit.committed(ctx)
    if created:
        await _publish(ctx, stored, "added")
    return stored, created


async def unrelate(ctx: RequestContext, source: ContextRecord, target: NodeRef, type: str) -> bool:
    check_type(type)
    removed = await ctx.store.unrelate(ctx.workspace, NodeRef(CONTEXT, source.id), target, type, audit.effects(ctx))
    audit.committed(ctx)
    if removed:
        record = RelationshipRecord(ctx.workspace, NodeRef(CONTEXT, source.id), target, type, {}, 0.0, now_us(), ctx.principal.id)
        await _publish(ctx, record, "removed")
    return bool(removed)


async def related(ctx: RequestContext, record: ContextRecord, type: str | None, direction: str, first: int) -> list[RelationshipRecord]:
    if type is not None:
        check_type(type)
    if not 1 <= first <= MAX_RELATED:
        raise BadUserInputError(f"`first` must be 1-{MAX_RELATED}.", limit=MAX_RELATED)
    return await ctx.store.relationships(ctx.workspace, record.id, type, direction, first)


async def neighbors(ctx: RequestContext, record: ContextRecord, depth: int, types: list[str] | None, first: int) -> list[Neighbor]:
    _bounds(depth, first)
    return await ctx.store.neighbors(ctx.workspace, record.id, depth, check_types(types), first)


async def path(ctx: RequestContext, record: ContextRecord, to: str, max_depth: int, types: list[str] | None) -> GraphView | None:
    _bounds(max_depth, 1, max_depth=8)
    other = await ops.target(ctx, path=to)
    return await ctx.store.shortest_path(ctx.workspace, record.id, other.id, max_depth, check_types(types))


async def subgraph(ctx: RequestContext, root: str, depth: int, types: list[str] | None, first: int) -> GraphView:
    _bounds(depth, first)
    record = await ops.target(ctx, path=root)
    return await ctx.store.subgraph(ctx.workspace, record.id, depth, check_types(types), first)


async def _publish(ctx: RequestContext, record: RelationshipRecord, operation: str) -> None:
    await ctx.events.publish([ChangeEvent(
        workspace=ctx.workspace, topic="relationship", operation=operation,
        key=f"{record.source.id}|{record.type}|{record.target.kind}:{record.target.id}", at=record.created_at,
        principal=ctx.principal.id,
        detail=RelationshipDetail(source_id=record.source.id, target_kind=record.target.kind,
                                  target_id=record.target.id, type=record.type, properties=dict(record.properties)),
    )])


