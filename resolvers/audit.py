"""The audit log: every mutation (whatever its outcome) and every denied attempt, queryable by admins."""

from __future__ import annotations

import logging
import uuid

from graph.access import AuditRecord
from graph.errors import ContextQLError

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


async def record(ctx: RequestContext, operation: str, target: str, error: BaseException | None) -> None:
    """Append one entry. A failure to audit is logged, never turned into a failure of the operation."""
    outcome, code = outcome_of(error)
    entry = AuditRecord(
        id=uuid.uuid4().hex, workspace=ctx.workspace, at=now_us(), principal=ctx.principal.id,
        principal_kind=ctx.principal.kind, operation=operation, target=target[:MAX_TARGET],
        outcome=outcome, code=code,
    )
    try:
        await ctx.store.append_audit([entry])
    except Exception:  # noqa: BLE001 - the operation itself already finished
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
