"""Per-tool grants on top of the workspace roles of authorization.py: "*", "role:<role>" or "principal:<id>"."""

from __future__ import annotations

from contextql.graph.errors import BadUserInputError, ForbiddenError

from .principal import Principal

ACTIONS = ("read", "write", "execute")


def defaults(creator: Principal) -> dict[str, list[str]]:
    """Everyone may read and run a new tool; its creator and admins may change it."""
    owners = ["role:admin", f"principal:{creator.id}"]
    return {"read": ["*"], "write": owners, "execute": ["*"]}


def check_grants(permissions: dict[str, list[str]]) -> dict[str, list[str]]:
    for action, grants in permissions.items():
        if action not in ACTIONS:
            raise BadUserInputError(f"Unknown permission {action!r}: use read, write or execute.")
        for grant in grants:
            if (grant != "*" and not (grant.startswith("role:") or grant.startswith("principal:"))) or grant.endswith(":"):
                raise BadUserInputError(f"Invalid grant {grant!r}: use \"*\", \"role:<role>\" or \"principal:<id>\".")
    return {action: list(dict.fromkeys(permissions.get(action, []))) for action in ACTIONS}


def allowed(principal: Principal, permissions: dict[str, list[str]], action: str, workspace: str | None = None) -> bool:
    grants = set(permissions.get(action, []))
    # Roles in this workspace when the principal knows them per workspace (auth issue).
    roles_in = getattr(principal, "roles_in", None)
    roles = roles_in(workspace) if workspace is not None and roles_in is not None else principal.roles
    return (
        "*" in grants
        or f"principal:{principal.id}" in grants
        or any(f"role:{role}" in grants for role in roles)
    )


def require(
    principal: Principal, permissions: dict[str, list[str]], action: str, tool: str, workspace: str | None = None
) -> None:
    if not allowed(principal, permissions, action, workspace):
        raise ForbiddenError(
            f"{principal.id!r} may not {action} tool {tool!r}: ask someone with `write` on it to grant "
            f"\"principal:{principal.id}\" or one of your roles.", action=action, tool=tool,
        )
