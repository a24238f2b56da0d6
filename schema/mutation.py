"""Root Mutation: every successful write adds a version; a failed one changes nothing."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from contextql.resolvers import context_types, contexts as ops, workspaces

from .inputs import CreateContextInput, UpdateContextInput, client_json
from .knowledge_mutation import KnowledgeMutation
from .types import Context, ContextInfo, ContextType


@strawberry.type
class MoveContextPayload:
    context: Context
    moved_count: int = strawberry.field(description="How many contexts moved (the context and its descendants).")


@strawberry.type
class DeleteContextPayload:
    path: str
    deleted_count: int = strawberry.field(description="How many contexts were removed.")


@strawberry.type
class DeleteContextTypePayload:
    name: str
    contexts_of_kind: int = strawberry.field(description="Contexts of that kind (kept, no longer checked).")


@strawberry.type(description="How many records of each kind the deletion removed.")
class DeleteWorkspacePayload:
    workspace: str
    contexts: int
    versions: int
    context_types: int
    relationships: int
    tools: int
    tool_versions: int
    agents: int
    executions: int
    lineage_nodes: int
    api_keys: int
    audit_entries: int


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@strawberry.type
class RegisterContextTypePayload:
    context_type: ContextType
    violating_count: int = strawberry.field(description="Existing contexts of that kind that violate the schema (only with force).")


def _new(item: CreateContextInput) -> ops.NewContext:
    return ops.NewContext(
        path=item.path, kind=item.kind, title=item.title, content=item.content,
        data={} if item.data is None else client_json(item.data), tags=item.tags or [], inherit=item.inherit,
        derived_from=item.derived_from or [],
    )


@strawberry.type
class Mutation(KnowledgeMutation):
    @strawberry.mutation(description="Create a context. Its parent must exist unless `createParents` (like mkdir -p).")
    async def create_context(self, info: ContextInfo, input: CreateContextInput, create_parents: bool = False) -> Context:
        created = await ops.create(info.context, [_new(input)], create_parents)
        return Context(record=created[0])

    @strawberry.mutation(description="Create many contexts in one atomic call (all or none), parents before children.")
    async def create_contexts(
        self, info: ContextInfo, inputs: list[CreateContextInput], create_parents: bool = False
    ) -> list[Context]:
        return [Context(record=r) for r in await ops.create(info.context, [_new(i) for i in inputs], create_parents)]

    @strawberry.mutation(description="Change some fields of a context; adds a version when anything differs.")
    async def update_context(
        self, info: ContextInfo, input: UpdateContextInput, path: str | None = None, id: strawberry.ID | None = None
    ) -> Context:
        changes = ops.ContextChanges(
            kind=input.kind, title=input.title, content=input.content, data=client_json(input.data),
            merge_data=client_json(input.merge_data), patch_data=client_json(input.patch_data), tags=input.tags, inherit=input.inherit,
        )
        ref = ops.Ref(path=path, id=None if id is None else str(id))
        updated = await ops.update(info.context, ref, changes, input.expected_version, input.derived_from or [])
        return Context(record=updated)

    @strawberry.mutation(description="Move or rename a context with its whole subtree (atomic; refuses cycles).")
    async def move_context(
        self,
        info: ContextInfo,
        to: str,
        path: str | None = None,
        id: strawberry.ID | None = None,
        expected_version: int | None = None,
    ) -> MoveContextPayload:
        record = await ops.target(info.context, path=path, id=id)
        moved, count = await ops.move(info.context, record, to, expected_version)
        return MoveContextPayload(context=Context(record=moved), moved_count=count)

    @strawberry.mutation(description="Delete a context; one with children only with `recursive: true`.")
    async def delete_context(
        self, info: ContextInfo, path: str | None = None, id: strawberry.ID | None = None, recursive: bool = False
    ) -> DeleteContextPayload:
        record = await ops.target(info.context, path=path, id=id)
        return DeleteContextPayload(path=record.path, deleted_count=await ops.delete(info.context, record, recursive))

    @strawberry.mutation(description="Add a new version equal to an earlier one (history is kept).")
    async def revert_context(
        self,
        info: ContextInfo,
        to_version: int,
        path: str | None = None,
        id: strawberry.ID | None = None,
        expected_version: int | None = None,
    ) -> Context:
        record = await ops.target(info.context, path=path, id=id)
        return Context(record=await ops.revert(info.context, record, to_version, expected_version))

    @strawberry.mutation(description="Create or replace a context type (JSON Schema draft 2020-12) for a kind.")
    async def register_context_type(
        self, info: ContextInfo, name: str, schema: JSON, force: bool = False
    ) -> RegisterContextTypePayload:
        record, violating = await context_types.register(info.context, name, schema, force)
        return RegisterContextTypePayload(context_type=ContextType(record=record), violating_count=violating)

    @strawberry.mutation(description="Delete a context type. Refused while contexts are of its kind, unless `force` "
                         "(they keep their data, no longer checked).")
    async def delete_context_type(self, info: ContextInfo, name: str, force: bool = False) -> DeleteContextTypePayload:
        return DeleteContextTypePayload(name=name, contexts_of_kind=await context_types.delete(info.context, name, force))

    @strawberry.mutation(description="Delete this workspace and everything in it (admins only). `confirm` must repeat "
                         "the workspace's name. The audit entry of the deletion is kept.")
    async def delete_workspace(self, info: ContextInfo, confirm: str) -> DeleteWorkspacePayload:
        removed = await workspaces.delete(info.context, confirm)
        return DeleteWorkspacePayload(workspace=info.context.workspace, **{_snake(k): v for k, v in removed.items()})
