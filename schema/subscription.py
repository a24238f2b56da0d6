"""Root Subscription: committed changes, live, scoped to the subscriber's workspace.

Each stream is a union of the change type and `EventsDropped`: a subscriber that
fell behind (or missed events while the broker was unreachable) is told so
explicitly, and should refetch what it shows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from contextql.graph.events import ChangeEvent, ContextDetail, Dropped, ExecutionDetail, IndexDetail, RelationshipDetail
from contextql.resolvers import contexts as ops, subscriptions as subs
from contextql.resolvers.clock import to_datetime

from .enums import ContextOperation, ExecutionOperation, ExecutionStatus, IndexOperation, RelationshipOperation, stored
from .types import Actor, Context, ContextInfo


@strawberry.type(description="Events were lost for this subscriber (it read too slowly, or the broker was away): refetch.")
class EventsDropped:
    count: int = strawberry.field(description="How many events were dropped at this point of the stream.")

    @strawberry.field(description="What happened and what to do.")
    def message(self) -> str:
        return (f"{self.count} event(s) were dropped because this subscription fell behind; "
                "refetch the state you show, then keep reading.")


@strawberry.type(description="A committed change to a context.")
class ContextChangeEvent:
    event: strawberry.Private[ChangeEvent]

    @property
    def detail(self) -> ContextDetail:
        assert isinstance(self.event.detail, ContextDetail)
        return self.event.detail

    @strawberry.field(description="What happened.")
    def operation(self) -> ContextOperation:
        return ContextOperation(self.event.operation)

    @strawberry.field(description="The context's id (stable across moves).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.detail.id)

    @strawberry.field(description="Its path after the change (for a delete: the path it had).")
    def path(self) -> str:
        return self.event.path or ""

    @strawberry.field(description="The path before a move; null otherwise.")
    def from_path(self) -> str | None:
        return self.detail.from_path

    @strawberry.field
    def kind(self) -> str | None:
        return self.event.kind

    @strawberry.field(description="The version the change produced (for a delete: the last one).")
    def version(self) -> int | None:
        return self.event.version

    @strawberry.field(description="The fields the change touched.")
    def changed(self) -> list[str]:
        return list(self.event.changed)

    @strawberry.field(description="Who made the change.")
    def principal(self) -> Actor:
        return Actor(id=self.event.principal)

    @strawberry.field(description="When it was committed.")
    def at(self) -> datetime:
        return to_datetime(self.event.at)

    @strawberry.field(description="How many contexts a move or delete affected; null otherwise.")
    def affected_count(self) -> int | None:
        return self.detail.moved_count if self.detail.moved_count is not None else self.detail.deleted_count

    @strawberry.field(description="The context as it is now (null once deleted): select any Context field.")
    async def context(self, info: ContextInfo) -> Context | None:
        found = await ops.by_id(info.context, self.detail.id)
        return None if found is None else Context(record=found)


@strawberry.type(description="A relationship between two contexts was added or removed.")
class RelationshipChangeEvent:
    event: strawberry.Private[ChangeEvent]

    @property
    def detail(self) -> RelationshipDetail:
        assert isinstance(self.event.detail, RelationshipDetail)
        return self.event.detail

    @strawberry.field
    def operation(self) -> RelationshipOperation:
        return RelationshipOperation(self.event.operation)

    @strawberry.field(description="The relationship's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.event.key)

    @strawberry.field(description="The relationship type.")
    def type(self) -> str:
        return self.detail.type

    @strawberry.field(description="The source context's id.")
    def source_id(self) -> strawberry.ID:
        return strawberry.ID(self.detail.source_id)

    @strawberry.field(description="What the target is: context, tool or agent.")
    def target_kind(self) -> str:
        return self.detail.target_kind

    @strawberry.field(description="The target's id (a context id, tool name or agent id).")
    def target_id(self) -> strawberry.ID:
        return strawberry.ID(self.detail.target_id)

    @strawberry.field
    def properties(self) -> JSON:
        return JSON(self.detail.properties)

    @strawberry.field
    def principal(self) -> Actor:
        return Actor(id=self.event.principal)

    @strawberry.field
    def at(self) -> datetime:
        return to_datetime(self.event.at)

    @strawberry.field(name="from", description="The source context as it is now.")
    async def source(self, info: ContextInfo) -> Context | None:
        return await _live(info, self.detail.source_id)

    @strawberry.field(name="to", description="The target context as it is now (null for a tool or agent target).")
    async def target(self, info: ContextInfo) -> Context | None:
        if self.detail.target_kind != "context":
            return None
        return await _live(info, self.detail.target_id)


@strawberry.type(description="A tool execution started or finished.")
class ToolExecutionEvent:
    event: strawberry.Private[ChangeEvent]

    @property
    def detail(self) -> ExecutionDetail:
        assert isinstance(self.event.detail, ExecutionDetail)
        return self.event.detail

    @strawberry.field(description="STARTED or FINISHED.")
    def operation(self) -> ExecutionOperation:
        return ExecutionOperation(self.event.operation)

    @strawberry.field(description="The execution's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.detail.id)

    @strawberry.field
    def tool(self) -> str:
        return self.detail.tool

    @strawberry.field
    def tool_version(self) -> str | None:
        return self.detail.tool_version

    @strawberry.field
    def status(self) -> ExecutionStatus:
        return ExecutionStatus(self.detail.status)

    @strawberry.field
    def error(self) -> str | None:
        return self.detail.error

    @strawberry.field
    def principal(self) -> Actor:
        return Actor(id=self.event.principal)

    @strawberry.field
    def at(self) -> datetime:
        return to_datetime(self.event.at)

    @strawberry.field(description="The context the tool ran on, as it is now.")
    async def context(self, info: ContextInfo) -> Context | None:
        return await _live(info, self.detail.context_id)

    @strawberry.field(description="The context the execution wrote its output to, as it is now.")
    async def output_context(self, info: ContextInfo) -> Context | None:
        return await _live(info, self.detail.output_context_id)


@strawberry.type(description="The search index applied (or failed to apply) a context's change.")
class IndexChangeEvent:
    event: strawberry.Private[ChangeEvent]

    @property
    def detail(self) -> IndexDetail:
        assert isinstance(self.event.detail, IndexDetail)
        return self.event.detail

    @strawberry.field(description="INDEXED (searchable at `version`), REMOVED (gone from the index) or FAILED (will retry).")
    def operation(self) -> IndexOperation:
        return IndexOperation(self.event.operation)

    @strawberry.field(description="The context's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.detail.id)

    @strawberry.field(description="Its path when indexed (null for REMOVED, or FAILED before the graph was read).")
    def path(self) -> str | None:
        return self.event.path

    @strawberry.field(description="The version now in the index (INDEXED), or the one that failed.")
    def version(self) -> int | None:
        return self.event.version

    @strawberry.field(description="Which attempt this was (1 = first).")
    def attempts(self) -> int:
        return self.detail.attempts

    @strawberry.field(description="FAILED: when the worker tries again; null otherwise.")
    def next_retry_at(self) -> datetime | None:
        retry = self.detail.next_retry_at
        return None if retry is None else to_datetime(retry)

    @strawberry.field(description="FAILED: why; null otherwise.")
    def error(self) -> str | None:
        return self.detail.error

    @strawberry.field(description="When the index call returned.")
    def at(self) -> datetime:
        return to_datetime(self.event.at)

    @strawberry.field(description="The context as it is now (null once deleted).")
    async def context(self, info: ContextInfo) -> Context | None:
        return await _live(info, self.detail.id)


ContextChange = Annotated[ContextChangeEvent | EventsDropped, strawberry.union("ContextChange")]
RelationshipChange = Annotated[RelationshipChangeEvent | EventsDropped, strawberry.union("RelationshipChange")]
ToolExecutionChange = Annotated[ToolExecutionEvent | EventsDropped, strawberry.union("ToolExecutionChange")]
IndexChange = Annotated[IndexChangeEvent | EventsDropped, strawberry.union("IndexChange")]


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to contexts under `pathPrefix` (default: all), optionally of some kinds and operations.")
    async def context_changed(
        self,
        info: ContextInfo,
        path_prefix: str = "/",
        kinds: list[str] | None = None,
        operations: list[ContextOperation] | None = None,
    ) -> AsyncGenerator[ContextChange, None]:
        accepts = subs.context_filter(path_prefix, kinds, stored(operations))
        async for item in subs.stream(info.context, accepts):
            yield EventsDropped(count=item.count) if isinstance(item, Dropped) else ContextChangeEvent(event=item)

    @strawberry.subscription(description="Relationships added or removed with either end under `pathPrefix`.")
    async def relationship_changed(
        self,
        info: ContextInfo,
        path_prefix: str = "/",
        types: list[str] | None = None,
        operations: list[RelationshipOperation] | None = None,
    ) -> AsyncGenerator[RelationshipChange, None]:
        accepts = subs.relationship_filter(types, stored(operations))
        async for item in subs.stream(info.context, accepts, subs.relationship_within(info.context, path_prefix)):
            yield EventsDropped(count=item.count) if isinstance(item, Dropped) else RelationshipChangeEvent(event=item)

    @strawberry.subscription(description="Tool executions starting and finishing, of one `tool` and/or some `status` values.")
    async def tool_executions(
        self, info: ContextInfo, tool: str | None = None, status: list[ExecutionStatus] | None = None
    ) -> AsyncGenerator[ToolExecutionChange, None]:
        accepts = subs.execution_filter(tool, stored(status))
        async for item in subs.stream(info.context, accepts):
            yield EventsDropped(count=item.count) if isinstance(item, Dropped) else ToolExecutionEvent(event=item)

    @strawberry.subscription(description="The search index catching up: contexts under `pathPrefix` indexed, removed, "
                                         "or failed (with the next retry). REMOVED events have no path: only `/` sees them.")
    async def index_changed(
        self, info: ContextInfo, path_prefix: str = "/", operations: list[IndexOperation] | None = None
    ) -> AsyncGenerator[IndexChange, None]:
        accepts = subs.index_filter(path_prefix, stored(operations))
        async for item in subs.stream(info.context, accepts):
            yield EventsDropped(count=item.count) if isinstance(item, Dropped) else IndexChangeEvent(event=item)


async def _live(info: ContextInfo, context_id: str | None) -> Context | None:
    if not context_id:
        return None
    found = await ops.by_id(info.context, str(context_id))
    return None if found is None else Context(record=found)
