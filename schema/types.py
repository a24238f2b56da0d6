"""Object types: contexts, their versions, effective views, diffs and context types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from contextql.graph.records import ContextRecord, ContextTypeRecord, VersionRecord
from contextql.resolvers import contexts as ops
from contextql.resolvers.clock import from_datetime, to_datetime
from contextql.resolvers.diffs import diff_versions
from contextql.resolvers.inheritance import EffectiveView
from contextql.resolvers.request import RequestContext

from .connections import Connection, connection
from .context_graph import ContextGraphFields
from .enums import VERSION_OPERATIONS, ContextOperation

ContextInfo = Info[RequestContext, None]


@strawberry.interface(description="An object with a globally unique, stable id (Relay).")
class Node:
    @strawberry.field
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every implementing type resolves its own id


@strawberry.interface(description="The versioned state of a context: what a context is now, and what each version was.")
class ContextState:
    record: strawberry.Private[ContextRecord | VersionRecord]

    @strawberry.field(description="Normalised path, e.g. /acme/projects/alpha.")
    def path(self) -> str:
        return self.record.path

    @strawberry.field
    def kind(self) -> str:
        return self.record.kind

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def content(self) -> str:
        return self.record.content

    @strawberry.field(description="The context's own data (see `effective` for the inherited view).")
    def data(self) -> JSON:
        return JSON(self.record.data)

    @strawberry.field
    def tags(self) -> list[str]:
        return self.record.tags

    @strawberry.field(description="False when the context does not inherit data from its ancestors.")
    def inherit(self) -> bool:
        return self.record.inherit


@strawberry.type(description="Who or what made a change.")
class Actor:
    id: str


@strawberry.type(description="Where one key of the effective data came from.")
class EffectiveSource:
    pointer: str = strawberry.field(description="JSON Pointer of the value in the effective data, e.g. /db/host.")
    path: str
    context_id: strawberry.ID
    version: int


@strawberry.type(description="A context's data merged with what it inherits from its ancestors.")
class EffectiveData:
    data: JSON
    sources: list[EffectiveSource]

    @classmethod
    def of(cls, view: EffectiveView) -> EffectiveData:
        return cls(
            data=JSON(view.data),
            sources=[
                EffectiveSource(pointer=s.pointer, path=s.context.path, context_id=strawberry.ID(s.context.id), version=s.context.version)
                for s in view.sources
            ],
        )


@strawberry.type(description="An immutable snapshot of a context, written by every change.")
class ContextVersion(Node, ContextState):
    record: strawberry.Private[VersionRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def number(self) -> int:
        return self.record.number

    @strawberry.field(description="What made this version: CREATED, UPDATED, MOVED or REVERTED.")
    def operation(self) -> ContextOperation:
        return VERSION_OPERATIONS[self.record.operation]

    @strawberry.field(description="Fields this version changed.")
    def changed(self) -> list[str]:
        return self.record.changed

    @strawberry.field
    def context_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.context_id)

    @strawberry.field
    def author(self) -> Actor:
        return Actor(id=self.record.author)

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.record.created_at)


@strawberry.type(description="Changes between two versions of one context.")
class ContextDiff:
    from_version: int
    to_version: int
    changed: list[str] = strawberry.field(description="Fields that differ.")
    data_patch: JSON = strawberry.field(description="RFC 6902 JSON Patch turning the old data into the new.")
    content_diff: str = strawberry.field(description="Unified diff of the content (empty when equal).")


@strawberry.type(description="A node of the context tree: text, JSON data and tags, inherited down the tree, versioned.")
class Context(ContextGraphFields, Node, ContextState):
    record: strawberry.Private[ContextRecord]

    @strawberry.field(description="UUID, stable across moves and renames.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def workspace(self) -> str:
        return self.record.workspace

    @strawberry.field(description="Last segment of the path.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="Number of segments in the path (a top-level context has depth 1).")
    def depth(self) -> int:
        return self.record.depth

    @strawberry.field(description="Current version number; each change adds one.")
    def version(self) -> int:
        return self.record.version

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.record.created_at)

    @strawberry.field
    def updated_at(self) -> datetime:
        return to_datetime(self.record.updated_at)

    @strawberry.field
    def created_by(self) -> Actor:
        return Actor(id=self.record.created_by)

    @strawberry.field
    def updated_by(self) -> Actor:
        return Actor(id=self.record.updated_by)

    @strawberry.field
    async def parent(self, info: ContextInfo) -> Context | None:
        found = await ops.parent(info.context, self.record)
        return None if found is None else Context(record=found)

    @strawberry.field(description="Direct children, ordered by name.")
    def children(
        self, info: ContextInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Context]:
        # Not `async`: a page the request has already (the parent's read ahead it, see
        # schema/lookahead.py) is answered without a coroutine, so a nested tree completes in one
        # pass instead of a task per child. Otherwise the coroutine is returned and graphql-core
        # awaits it, exactly as for an async resolver.
        ctx, record = info.context, self.record
        known = ops.children_known(ctx, record, first, after)
        if known is None:
            return cast(Connection[Context], self._children_later(info, first, after))
        return connection(known, _context, lambda: ops.child_count_soon(ctx, record))

    async def _children_later(self, info: ContextInfo, first: int | None, after: str | None) -> Connection[Context]:
        ctx, record = info.context, self.record
        page = await ops.children(ctx, record, first, after)
        return connection(page, _context, lambda: ops.child_count_soon(ctx, record))

    @strawberry.field(description="Ancestors, root first.")
    async def ancestors(self, info: ContextInfo) -> list[Context]:
        return [Context(record=r) for r in await ops.ancestors(info.context, self.record)]

    @strawberry.field(description="Every context below this one (ordered by path), optionally at most `maxDepth` levels down.")
    async def descendants(self, info: ContextInfo, max_depth: int | None = None) -> list[Context]:
        return [Context(record=r) for r in await ops.descendants(info.context, self.record, max_depth)]

    @strawberry.field(description="The data merged from the root down to this context, with the source of every key.")
    async def effective(self, info: ContextInfo) -> EffectiveData:
        return EffectiveData.of(await ops.effective(info.context, self.record))

    @strawberry.field(description="Versions, newest first.")
    async def history(
        self, info: ContextInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ContextVersion]:
        page = await ops.history(info.context, self.record, first, after)
        ctx = info.context
        return connection(page, _version, lambda: ops.count_versions(ctx, self.record))

    @strawberry.field(name="versionAt", description="One version by number.")
    async def version_by_number(self, info: ContextInfo, number: int) -> ContextVersion:
        return ContextVersion(record=await ops.version(info.context, self.record, number))

    @strawberry.field(description="The state at an instant, or null if the context did not exist yet.")
    async def as_of(self, info: ContextInfo, time: datetime) -> ContextVersion | None:
        found = await ops.as_of(info.context, self.record, from_datetime(time))
        return None if found is None else ContextVersion(record=found)

    @strawberry.field(description="Changes from one version to another (`to` defaults to the current version).")
    async def diff(
        self,
        info: ContextInfo,
        from_: Annotated[int, strawberry.argument(name="from")],
        to: int | None = None,
    ) -> ContextDiff:
        source = await ops.version(info.context, self.record, from_)
        target = await ops.version(info.context, self.record, self.record.version if to is None else to)
        result = diff_versions(source, target)
        return ContextDiff(
            from_version=source.number, to_version=target.number, changed=result.changed,
            data_patch=JSON(result.data_patch), content_diff=result.content_diff,
        )


@strawberry.type(description="A named JSON Schema (draft 2020-12) that the data of contexts of that kind must satisfy.")
class ContextType:
    record: strawberry.Private[ContextTypeRecord]

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field(name="schema")
    def json_schema(self) -> JSON:
        return JSON(self.record.schema)

    @strawberry.field
    def version(self) -> int:
        return self.record.version

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.record.created_at)

    @strawberry.field
    def updated_at(self) -> datetime:
        return to_datetime(self.record.updated_at)

    @strawberry.field
    def updated_by(self) -> Actor:
        return Actor(id=self.record.updated_by)


def _context(record: ContextRecord) -> Context:
    return Context(record=record)


def _version(record: VersionRecord) -> ContextVersion:
    return ContextVersion(record=record)
