"""The audit log: every mutation (whatever its outcome) and every denied attempt, queryable by admins."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from contextql.graph.access import AuditRecord
from contextql.graph.writes import WriteEffects
from contextql.graph.errors import ContextQLError, StoreUnavailableError

from .clock import now_us
from .pagination import AUDIT_LOG, Slice, cut, probe, window
from .authorization import authorize
from .request import RequestContext

logger = logging.getLogger("contextql.audit")

OUTCOMES = ("ok", "failed", "denied")
MAX_TARGET = 1024


def outcome_of(error: BaseException | None) -> tuple[str, str]:
    """(outcome, code) of a finished operation."""
    if error is None:
        return "ok", ""
    code = error.code if isinstance(error, ContextQLError) else "INTERNAL_SERVER_ERROR"
    return ("denied" if code in ("FORBIDDEN", "UNAUTHENTICATED") else "failed"), code


@dataclass
class AuditDraft:
    """The audit entry of the mutation field being resolved, until it is stored.

    A successful write stores it in its own transaction (`pending` / `committed`), so an
    acknowledged write is never missing from the log; otherwise `finish` stores it alone.
    """

    operation: str
    target: str
    stored: bool = False


def begin(ctx: RequestContext, operation: str, target: str) -> None:
    ctx.audit_draft = AuditDraft(operation, target)


def pending(ctx: RequestContext) -> list[AuditRecord]:
    """The entry a write about to commit should carry (empty when there is none, or it is stored)."""
    draft = ctx.audit_draft
    if draft is None or draft.stored:
        return []
    return [_entry(ctx, draft.operation, draft.target, None)]


def effects(ctx: RequestContext) -> WriteEffects:
    """What a write that commits the pending entry carries (see `pending`)."""
    return WriteEffects(audit=pending(ctx))


def committed(ctx: RequestContext) -> None:
    """The write carrying `pending(ctx)` committed."""
    if ctx.audit_draft is not None:
        ctx.audit_draft.stored = True


async def finish(ctx: RequestContext, error: BaseException | None) -> None:
    """End the field: store its entry unless a committed write already did."""
    draft, ctx.audit_draft = ctx.audit_draft, None
    if draft is not None and not draft.stored:
        await record(ctx, draft.operation, draft.target, error)


def _entry(ctx: RequestContext, operation: str, target: str, error: BaseException | None) -> AuditRecord:
    outcome, code = outcome_of(error)
    return AuditRecord(
        id=uuid.uuid4().hex, workspace=ctx.workspace, at=now_us(), principal=ctx.principal.id,
        principal_kind=ctx.principal.kind, operation=operation, target=target[:MAX_TARGET],
        outcome=outcome, code=code,
    )


async def record(ctx: RequestContext, operation: str, target: str, error: BaseException | None) -> None:
    """Append one entry. A failure to audit is logged, never turned into a failure of the operation."""
    entry = _entry(ctx, operation, target, error)
    if isinstance(error, StoreUnavailableError):
        # The store that would keep the entry is what failed: trying again would only double the
        # client's wait. The log keeps it instead.
        logger.warning("not audited (graph store unavailable): %s", entry)
        return
    try:
        await ctx.store.append_audit([entry])
    except Exception:  # broad on purpose: the operation itself already finished
        logger.exception("could not record audit entry %s", entry)


async def entries(
    ctx: RequestContext, first: int | None, after: str | None, principal: str | None, outcome: str | None
) -> Slice[AuditRecord]:
    authorize(ctx, "read_audit", "the audit log")
    page = window(ctx.limits, AUDIT_LOG, first, after)
    rows = await ctx.store.list_audit(ctx.workspace, probe(page), principal=principal, outcome=outcome)
    return cut(rows, page, AUDIT_LOG)


async def count(ctx: RequestContext, principal: str | None, outcome: str | None) -> int:
    authorize(ctx, "read_audit", "the audit log")
    return await ctx.store.count_audit(ctx.workspace, principal=principal, outcome=outcome)
