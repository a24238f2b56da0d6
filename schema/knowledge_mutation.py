"""Root Mutation fields of the knowledge graph (mixed into `Mutation`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from contextql.resolvers import contexts as ops, executions, relationships, tools

from .inputs import client_json
from .knowledge_types import Execution, Info_, Relationship, Tool


@strawberry.input(description="Grants per action: \"*\" (everyone), \"role:<role>\" or \"principal:<id>\".")
class ToolPermissionsInput:
    read: list[str] = strawberry.field(default_factory=list)
    write: list[str] = strawberry.field(default_factory=list)
    execute: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Where a relationship points: exactly one of a context path, a tool name or an agent id.")
class TargetInput:
    path: str | None = None
    tool: str | None = None
    agent: str | None = None


@strawberry.type
class RelatePayload:
    relationship: Relationship
    created: bool = strawberry.field(description="False when the same relationship existed already (it is kept as it was).")


def _grants(p: ToolPermissionsInput) -> dict[str, list[str]]:
    return {"read": p.read, "write": p.write, "execute": p.execute}


@strawberry.type
class KnowledgeMutation:
    @strawberry.mutation(description="Publish a version of an http tool (versions are immutable; the first one creates the tool).")
    async def register_tool(
        self, info: Info_, name: str, version: str, description: str, input_schema: JSON, output_schema: JSON,
        url: str, kind: str = "http", timeout_ms: int = 10_000, max_response_bytes: int = 1_048_576,
        tags: list[str] | None = None, permissions: ToolPermissionsInput | None = None,
    ) -> Tool:
        tool, spec = await tools.register(info.context, tools.NewToolVersion(
            name=name, version=version, description=description, input_schema=client_json(input_schema),
            output_schema=client_json(output_schema), kind=kind, url=url, timeout_ms=timeout_ms,
            max_response_bytes=max_response_bytes, tags=tags or [], permissions=None if permissions is None else _grants(permissions),
        ))
        return Tool(tool=tool, spec=spec)

    @strawberry.mutation(description="Flag a version as deprecated (still runnable), or clear the flag.")
    async def deprecate_tool(self, info: Info_, name: str, version: str, deprecated: bool = True) -> Tool:
        tool, spec = await tools.deprecate(info.context, name, version, deprecated)
        return Tool(tool=tool, spec=spec)

    @strawberry.mutation(description="Retire a tool (all versions stop running), or bring it back.")
    async def retire_tool(self, info: Info_, name: str, retired: bool = True) -> Tool:
        tool = await tools.retire(info.context, name, retired)
        spec = next(v for v in await tools.versions(info.context, tool) if v.version == tool.latest)
        return Tool(tool=tool, spec=spec)

    @strawberry.mutation(description="Replace who may read, write and execute a tool.")
    async def set_tool_permissions(self, info: Info_, name: str, permissions: ToolPermissionsInput) -> Tool:
        tool = await tools.set_permissions(info.context, name, _grants(permissions))
        spec = next(v for v in await tools.versions(info.context, tool) if v.version == tool.latest)
        return Tool(tool=tool, spec=spec)

    @strawberry.mutation(description="Run a tool (latest version unless `version`) on `input`; with `outputPath` its output is written as a context (or a new version).")
    async def execute_tool(
        self, info: Info_, tool: str, input: JSON, version: str | None = None,
        context_path: str | None = None, output_path: str | None = None,
    ) -> Execution:
        return Execution(record=await executions.execute(info.context, tool, version, input, context_path, output_path))

    @strawberry.mutation(description="Relate a context to a context, tool or agent with a typed edge (kept once).")
    async def relate(
        self, info: Info_, from_: Annotated[str, strawberry.argument(name="from")], to: TargetInput, type: str,
        properties: JSON | None = None, weight: float = 1.0,
    ) -> RelatePayload:
        source = await ops.target(info.context, path=from_)
        target = await relationships.target_ref(info.context, to.path, to.tool, to.agent)
        record, created = await relationships.relate(info.context, source, target, type, client_json(properties), weight)
        return RelatePayload(relationship=Relationship(record=record), created=created)

    @strawberry.mutation(description="Remove a relationship; true when one was removed.")
    async def unrelate(
        self, info: Info_, from_: Annotated[str, strawberry.argument(name="from")], to: TargetInput, type: str
    ) -> bool:
        source = await ops.target(info.context, path=from_)
        target = await relationships.target_ref(info.context, to.path, to.tool, to.agent)
        return await relationships.unrelate(info.context, source, target, type)
