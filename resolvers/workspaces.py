"""Whole-workspace operations (admins only)."""

from __future__ import annotations

from contextql.graph.errors import BadUserInputError

from . import audit
from .request import RequestContext


async def delete(ctx: RequestContext, confirm: str) -> dict[str, int]:
    """Remove everything of the request's workspace; `confirm` must repeat its name."""
    if confirm != ctx.workspace:
        raise BadUserInputError(
            f"To delete workspace {ctx.workspace!r} and everything in it, pass `confirm: \"{ctx.workspace}\"`.",
        )
    removed = await ctx.store.delete_workspace(ctx.workspace, audit.effects(ctx))
    audit.committed(ctx)
    ctx.loaders.forget()
    return removed
