"""Live subscriptions: which committed events a subscriber sees, and the stream it reads.

Every stream is scoped to the subscriber's workspace by the bus itself; the filters
here only narrow it further.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from contextql.graph.errors import BadUserInputError
from contextql.graph.events import ChangeEvent, ContextDetail, Dropped, ExecutionDetail, RelationshipDetail
from contextql.graph.events.bus import Predicate

from .authorization import authorize
from .loaders import Loaders
from .paths import is_within, normalize
from .request import RequestContext

MAX_FILTER_VALUES = 100

Refinement = Callable[[ChangeEvent], Awaitable[bool]]


def context_filter(path_prefix: str, kinds: Sequence[str] | None, operations: Sequence[str] | None) -> Predicate:
    """Context events under `path_prefix` (a moved or deleted ancestor counts: it carries the subtree along)."""
    root = _prefix(path_prefix)
    kind_set, op_set = _set("kinds", kinds), _set("operations", operations)

    def accepts(event: ChangeEvent) -> bool:
        if event.topic != "context":
            return False
        if kind_set is not None and event.kind not in kind_set:
            return False
        if op_set is not None and event.operation not in op_set:
            return False
        from_path = event.detail.from_path if isinstance(event.detail, ContextDetail) else None
        paths = [p for p in (event.path, from_path) if p]
        if any(_within(p, root) for p in paths):
            return True
        return event.operation in ("moved", "deleted") and any(_within(root, p) for p in paths)

    return accepts


def relationship_filter(types: Sequence[str] | None, operations: Sequence[str] | None) -> Predicate:
    """Relationship events of some types and operations (the path test is `relationship_within`)."""
    type_set, op_set = _set("types", types), _set("operations", operations)

    def accepts(event: ChangeEvent) -> bool:
        if event.topic != "relationship":
            return False
        if type_set is not None and (not isinstance(event.detail, RelationshipDetail) or event.detail.type not in type_set):
            return False
        return op_set is None or event.operation in op_set

    return accepts


def relationship_within(ctx: RequestContext, path_prefix: str) -> Refinement | None:
    """Either end (a context) under `path_prefix`. Events carry ids, so the paths are read as they are now."""
    root = _prefix(path_prefix)
    if root == "/":
        return None

    async def within(event: ChangeEvent) -> bool:
        detail = event.detail
        if not isinstance(detail, RelationshipDetail):
            return False
        ids = [detail.source_id]
        if detail.target_kind == "context":
            ids.append(detail.target_id)
        records = await ctx.loaders.by_id.load_many([i for i in ids if i])
        return any(r is not None and _within(r.path, root) for r in records)

    return within


def execution_filter(tool: str | None, statuses: Sequence[str] | None) -> Predicate:
    """Tool-execution events, of one tool and/or some statuses."""
    status_set = _set("status", statuses)

    def accepts(event: ChangeEvent) -> bool:
        detail = event.detail
        if not isinstance(detail, ExecutionDetail):
            return False
        if tool is not None and detail.tool != tool:
            return False
        return status_set is None or detail.status in status_set

    return accepts


def index_filter(path_prefix: str, operations: Sequence[str] | None = None) -> Predicate:
    """Index events of contexts under `path_prefix`; `removed` events carry no path, so only `/` sees them."""
    root = _prefix(path_prefix)
    op_set = _set("operations", operations)

    def accepts(event: ChangeEvent) -> bool:
        if event.topic != "index" or (op_set is not None and event.operation not in op_set):
            return False
        return root == "/" or (event.path is not None and _within(event.path, root))

    return accepts


async def stream(
    ctx: RequestContext, accepts: Predicate, refine: Refinement | None = None
) -> AsyncIterator[ChangeEvent | Dropped]:
    """The subscriber's events until it leaves or the server shuts down.

    `accepts` runs on the publishing path (cheap, synchronous); `refine`, when given,
    runs on the subscriber's own time for tests that need the store.
    """
    subscription = ctx.events.subscribe(ctx.workspace, accepts)
    try:
        async for item in subscription.events():
            # A WebSocket shares one context per connection: each event reads the live state afresh.
            ctx.loaders = Loaders(ctx.store, ctx.workspace)
            if refine is not None and isinstance(item, ChangeEvent) and not await refine(item):
                continue
            # Re-checked per event (auth issue): an expired token ends the stream on every transport.
            authorize(ctx, "read", "subscription events")
            yield item
    finally:
        ctx.events.unsubscribe(subscription)


def _prefix(raw: str) -> str:
    """`/` (everything) or a normalised path."""
    return "/" if isinstance(raw, str) and raw.strip() and not raw.strip().strip("/") else normalize(raw)


def _within(path: str, root: str) -> bool:
    return root == "/" or is_within(path, root)


def _set(name: str, values: Sequence[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if len(values) > MAX_FILTER_VALUES:
        raise BadUserInputError(f"`{name}` lists {len(values)} values; at most {MAX_FILTER_VALUES} are allowed.",
                                limit=MAX_FILTER_VALUES)
    return frozenset(values)
