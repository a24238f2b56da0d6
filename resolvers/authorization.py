"""Authorisation in one place: what each role may do, per workspace.

Every entry point (root fields, `node(id:)`, search hits, subscription events, tool
execution) asks `authorize(ctx, action, target)` before acting; schema/guard.py does it for
every root field by `action_for`. Reads never cross the request's workspace (every store
call is scoped to it), so a principal outside a workspace learns nothing: it gets the same
answer whether or not a thing exists there. (Per-tool grants, on top of these roles, are in
tool_permissions.py.)

| action         | admin | editor | agent | viewer |
|----------------|-------|--------|-------|--------|
| read           | yes   | yes    | yes   | yes    |
| write          | yes   | yes    | yes   |        |
| execute_tool   | yes   | yes    | yes   |        |
| manage_types   | yes   | yes    |       |        |
| manage_tools   | yes   | yes    |       |        |
| manage_keys    | yes   |        |       |        |
| read_audit     | yes   |        |       |        |
| manage_workspace | yes |        |       |        |
| manage_index   | yes   |        |       |        |
"""

from __future__ import annotations

import time
from typing import Any

from contextql.graph.errors import ContextQLError, ForbiddenError

from .principal import Principal

ACTIONS = ("read", "write", "execute_tool", "manage_types", "manage_tools", "manage_keys", "read_audit",
           "manage_workspace", "manage_index")

MATRIX: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "editor": frozenset({"read", "write", "execute_tool", "manage_types", "manage_tools"}),
    "agent": frozenset({"read", "write", "execute_tool"}),
    "viewer": frozenset({"read"}),
}
ROLES = tuple(MATRIX)


class UnauthenticatedError(ContextQLError):
    """No valid credential (missing, forged, expired, revoked)."""

    code = "UNAUTHENTICATED"


def allowed(principal: Principal, workspace: str, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return any(action in MATRIX.get(role, ()) for role in principal.roles_in(workspace))


def check_session(principal: Principal) -> None:
    """Refuse a principal whose credential has expired since it was verified (long-lived sockets)."""
    if principal.expires_at is not None and principal.expires_at <= time.time():
        raise UnauthenticatedError("Your token has expired: sign in again and reconnect.")
    if principal.id == "unauthenticated" and not principal.roles:
        raise UnauthenticatedError("Authenticate first: send your token in `connection_init` or the Authorization header.")


def authorize(ctx: Any, action: str, target: str | None = None) -> None:
    """Raise `ForbiddenError` unless the request's principal may do `action` in its workspace.

    `ctx` is the `RequestContext` (anything with `principal` and `workspace`).
    """
    check_session(ctx.principal)
    if not allowed(ctx.principal, ctx.workspace, action):
        what = f" on {target}" if target else ""
        raise ForbiddenError(
            f"Your roles in workspace {ctx.workspace!r} do not allow {action}{what}; ask an admin of the workspace.",
            action=action,
        )


def can(ctx: Any, action: str) -> bool:
    """Like `authorize`, as a filter (e.g. drop subscription events or search hits silently)."""
    try:
        authorize(ctx, action)
    except ContextQLError:
        return False
    return True


# Search-index operations (schema/index_ops.py): they read every entry of a workspace and rewrite it.
INDEX_FIELDS = frozenset({"reindex", "indexDrift", "indexJob", "indexJobs"})


def action_for(operation: str, field: str) -> str:
    """The action a root field needs: the one table every entry point goes through.

    Unknown mutations default to `write`, so a new entry point is never left open.
    """
    if field in INDEX_FIELDS:
        return "manage_index"
    if operation == "mutation":
        lowered = field.lower()
        if "apikey" in lowered:
            return "manage_keys"
        if field == "deleteWorkspace":
            return "manage_workspace"
        if field in ("registerContextType", "deleteContextType"):
            return "manage_types"
        if "tool" in lowered and "execut" not in lowered and not lowered.startswith(("run", "call", "invoke")):
            return "manage_tools"
        if "tool" in lowered or "execut" in lowered:
            return "execute_tool"
        return "write"
    if field in ("apiKeys", "apiKey"):
        return "manage_keys"
    if field == "auditLog":
        return "read_audit"
    return "read"
