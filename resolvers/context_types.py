"""Context types: named JSON Schemas (draft 2020-12) that the `data` of contexts of that kind must satisfy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from contextql.graph.errors import ConflictError, ValidationFailedError
from contextql.graph.filters import Compare, Order
from contextql.graph.records import ContextTypeRecord, Page

from . import audit
from .clock import now_us
from .request import RequestContext
from .validation import check_kind, check_schema, require_valid, validator_for, violations

SCAN_BATCH = 500
REPORTED_VIOLATORS = 20


@dataclass
class Validators:
    by_kind: dict[str, Draft202012Validator]

    def check(self, kind: str, data: dict, path: str) -> None:
        validator = self.by_kind.get(kind)
        if validator is not None:
            require_valid(validator, data, kind=kind, path=path)


async def validators_for(ctx: RequestContext, kinds: set[str]) -> Validators:
    """Validators for those of `kinds` that are registered types (one store call per kind)."""
    found = {}
    for kind in sorted(kinds):
        record = await ctx.store.get_context_type(ctx.workspace, kind)
        if record is not None:
            found[kind] = validator_for(record.schema, ctx.limits.schema_ref_bases)
    return Validators(found)


async def get(ctx: RequestContext, name: str) -> ContextTypeRecord | None:
    return await ctx.store.get_context_type(ctx.workspace, name)


async def list_all(ctx: RequestContext) -> list[ContextTypeRecord]:
    return await ctx.store.list_context_types(ctx.workspace)


async def register(ctx: RequestContext, name: str, schema: Any, force: bool) -> tuple[ContextTypeRecord, int]:
    """Create or replace a type. Returns the type and how many existing contexts violate it.

    A schema that existing contexts of that kind would violate is refused (listing
    them) unless `force` is set.
    """
    check_kind(name)
    # In a thread: resolving references may fetch a schema under an allowed base URL.
    validator = await asyncio.to_thread(check_schema, schema, ctx.limits) if ctx.limits.schema_ref_bases \
        else check_schema(schema, ctx.limits)
    violators = await _violators(ctx, name, validator)
    if violators and not force:
        shown = ", ".join(v["path"] for v in violators[:REPORTED_VIOLATORS])
        raise ValidationFailedError(
            f"{len(violators)} existing context(s) of kind {name!r} would violate this schema: {shown}. "
            "Fix them first, or pass `force: true` to register it anyway.",
            violatingCount=len(violators),
            violating=violators[:REPORTED_VIOLATORS],
        )
    current = await ctx.store.get_context_type(ctx.workspace, name)
    now = now_us()
    record = ContextTypeRecord(
        workspace=ctx.workspace, name=name, schema=schema,
        version=1 if current is None else current.version + 1,
        created_at=now if current is None else current.created_at, updated_at=now, updated_by=ctx.principal.id,
    )
    try:
        await ctx.store.put_context_type(record, None if current is None else current.version, audit.effects(ctx))
    except ConflictError:
        raise ConflictError(f"Context type {name!r} was changed by someone else meanwhile: retry.") from None
    audit.committed(ctx)
    return record, len(violators)


async def delete(ctx: RequestContext, name: str, force: bool) -> int:
    """Delete a type (refused while contexts are of its kind, unless `force`); returns how many are."""
    check_kind(name)
    users = await ctx.store.delete_context_type(ctx.workspace, name, force, audit.effects(ctx))
    audit.committed(ctx)
    return users


async def _violators(ctx: RequestContext, kind: str, validator: Draft202012Validator) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        rows = await ctx.store.find_contexts(
            ctx.workspace, Compare("kind", "eq", kind), [Order("path")], Page(SCAN_BATCH, after)
        )
        for row in rows:
            problems = violations(validator, row.data)
            if problems:
                found.append({"path": row.path, "violations": problems})
        if len(rows) < SCAN_BATCH:
            return found
        after = (rows[-1].path,)
