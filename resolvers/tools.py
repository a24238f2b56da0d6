"""Tool registry: publish immutable semantic versions, deprecate, retire, permissions, queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contextql.graph.errors import BadUserInputError, NotFoundError
from contextql.graph.knowledge.records import ToolFilter, ToolRecord, ToolVersionRecord

from . import audit, builtin_tools, semver, tool_permissions
from .clock import now_us
from .pagination import TOOLS, Slice, cut, probe, window
from .request import RequestContext
from .validation import NAME_PATTERN, NAME_RULE, check_schema, normalize_tags

KINDS = ("http",)  # what can be registered; `builtin` tools ship with ContextQL
MAX_TIMEOUT_MS = 60_000
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


@dataclass
class NewToolVersion:
    name: str
    version: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    kind: str = "http"
    url: str | None = None
    timeout_ms: int = 10_000
    max_response_bytes: int = 1_048_576
    tags: list[str] = field(default_factory=list)
    permissions: dict[str, list[str]] | None = None


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise BadUserInputError(f"Invalid tool name {name!r}: {NAME_RULE}.")
    if name.startswith(builtin_tools.PREFIX):
        raise BadUserInputError(f"Tool names starting with {builtin_tools.PREFIX!r} are reserved for built-in tools.")


async def register(ctx: RequestContext, new: NewToolVersion) -> tuple[ToolRecord, ToolVersionRecord]:
    _check_name(new.name)
    key = semver.sort_key(new.version)
    if new.kind not in KINDS:
        raise BadUserInputError(f"Invalid kind {new.kind!r}: register `http` tools (built-in tools ship with ContextQL).")
    if not new.url or not new.url.startswith(("http://", "https://")):
        raise BadUserInputError("An http tool needs a `url` starting with http:// or https://.")
    if not 1 <= new.timeout_ms <= MAX_TIMEOUT_MS:
        raise BadUserInputError(f"`timeoutMs` must be 1-{MAX_TIMEOUT_MS}.", limit=MAX_TIMEOUT_MS)
    if not 1 <= new.max_response_bytes <= MAX_RESPONSE_BYTES:
        raise BadUserInputError(f"`maxResponseBytes` must be 1-{MAX_RESPONSE_BYTES}.", limit=MAX_RESPONSE_BYTES)
    check_schema(new.input_schema, ctx.limits)
    check_schema(new.output_schema, ctx.limits)
    existing = (await ctx.store.get_tools(ctx.workspace, [new.name])).get(new.name)
    if existing is not None:
        tool_permissions.require(ctx.principal, existing.permissions, "write", new.name, ctx.workspace)
    grants = tool_permissions.defaults(ctx.principal) if new.permissions is None else tool_permissions.check_grants(new.permissions)
    now = now_us()
    version = ToolVersionRecord(
        workspace=ctx.workspace, name=new.name, version=new.version, sort_key=key, description=new.description,
        kind=new.kind, input_schema=new.input_schema, output_schema=new.output_schema,
        config={"url": new.url, "timeoutMs": new.timeout_ms, "maxResponseBytes": new.max_response_bytes},
        tags=normalize_tags(new.tags), deprecated=False, created_at=now, created_by=ctx.principal.id,
    )
    tool = ToolRecord(ctx.workspace, new.name, new.version, False, grants, now, now, ctx.principal.id)
    stored = await ctx.store.add_tool_version(tool, version, audit.effects(ctx))
    audit.committed(ctx)
    return stored, version


async def get(ctx: RequestContext, name: str, version: str | None = None) -> tuple[ToolRecord, ToolVersionRecord] | None:
    """The tool and one version (the latest when `version` is None), if it exists and may be read."""
    if name.startswith(builtin_tools.PREFIX):
        found = builtin_tools.find(ctx.workspace, name)
        if found is None or (version is not None and version != found[1].version):
            return None
        return found
    tool = (await ctx.store.get_tools(ctx.workspace, [name])).get(name)
    if tool is None:
        return None
    tool_permissions.require(ctx.principal, tool.permissions, "read", name, ctx.workspace)
    wanted = version or tool.latest
    for candidate in await ctx.store.get_tool_versions(ctx.workspace, name):
        if candidate.version == wanted:
            return tool, candidate
    return None


async def require(ctx: RequestContext, name: str, version: str | None = None) -> tuple[ToolRecord, ToolVersionRecord]:
    found = await get(ctx, name, version)
    if found is None:
        which = f"{name} {version}" if version else name
        raise NotFoundError(f"No tool {which!r} in workspace {ctx.workspace!r}: see `tools` for what is registered.")
    return found


async def versions(ctx: RequestContext, tool: ToolRecord) -> list[ToolVersionRecord]:
    if tool.name.startswith(builtin_tools.PREFIX):
        found = builtin_tools.find(ctx.workspace, tool.name)
        return [] if found is None else [found[1]]
    return await ctx.store.get_tool_versions(ctx.workspace, tool.name)


async def find(ctx: RequestContext, where: ToolFilter, first: int | None, after: str | None) -> Slice[tuple[ToolRecord, ToolVersionRecord]]:
    page = window(ctx.limits, TOOLS, first, after)
    rows = await ctx.store.find_tools(ctx.workspace, where, probe(page))
    return cut(
        rows, page, TOOLS, lambda row: (row[0].name,),
        keep=lambda row: tool_permissions.allowed(ctx.principal, row[0].permissions, "read", ctx.workspace),
    )


async def count(ctx: RequestContext, where: ToolFilter) -> int:
    return await ctx.store.count_tools(ctx.workspace, where)


async def _writable(ctx: RequestContext, name: str) -> ToolRecord:
    if name.startswith(builtin_tools.PREFIX):
        raise BadUserInputError("Built-in tools cannot be changed.")
    tool = (await ctx.store.get_tools(ctx.workspace, [name])).get(name)
    if tool is None:
        raise NotFoundError(f"No tool {name!r} in workspace {ctx.workspace!r}.")
    tool_permissions.require(ctx.principal, tool.permissions, "write", name, ctx.workspace)
    return tool


async def deprecate(ctx: RequestContext, name: str, version: str, deprecated: bool) -> tuple[ToolRecord, ToolVersionRecord]:
    tool = await _writable(ctx, name)
    flagged = await ctx.store.set_tool_deprecated(ctx.workspace, name, version, deprecated, audit.effects(ctx))
    audit.committed(ctx)
    return tool, flagged


async def retire(ctx: RequestContext, name: str, retired: bool) -> ToolRecord:
    await _writable(ctx, name)
    updated = await ctx.store.update_tool(ctx.workspace, name, at=now_us(), retired=retired, effects=audit.effects(ctx))
    audit.committed(ctx)
    return updated


async def set_permissions(ctx: RequestContext, name: str, grants: dict[str, list[str]]) -> ToolRecord:
    await _writable(ctx, name)
    updated = await ctx.store.update_tool(
        ctx.workspace, name, at=now_us(), permissions=tool_permissions.check_grants(grants), effects=audit.effects(ctx)
    )
    audit.committed(ctx)
    return updated
