"""Who is acting. Until authentication is configured, everyone is the local anonymous principal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller.

    `roles` apply in every workspace of `workspaces`; `workspace_roles` adds roles in one
    workspace only (a workspace named there is a workspace of the principal too).
    `expires_at` (epoch seconds) is when its credential stops being valid, if ever.
    """

    id: str
    kind: str = "user"  # user | agent | service | anonymous
    roles: frozenset[str] = field(default_factory=frozenset)
    workspaces: frozenset[str] = field(default_factory=frozenset)
    workspace_roles: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    default_workspace: str | None = None
    expires_at: float | None = None
    # Admin of every workspace: the local anonymous principal of an unauthenticated server, and the
    # server's own operator on the local admin channel (server/local_admin.py).
    all_workspaces: bool = False

    def member_of(self, workspace: str) -> bool:
        return self.all_workspaces or workspace in self.workspaces or workspace in self.workspace_roles

    def roles_in(self, workspace: str) -> frozenset[str]:
        if not self.member_of(workspace):
            return frozenset()
        return self.roles | self.workspace_roles.get(workspace, frozenset())

    def home_workspace(self) -> str | None:
        """The workspace used when a request names none: the configured default, else the first by name."""
        if self.default_workspace and self.member_of(self.default_workspace):
            return self.default_workspace
        known = sorted({*self.workspaces, *self.workspace_roles})
        return known[0] if known else None


# With no authentication configured, everyone is this admin of every workspace (the server warns).
ANONYMOUS = Principal(id="anonymous", kind="anonymous", roles=frozenset({"admin"}), all_workspaces=True)

# A connection that has not authenticated yet (e.g. a WebSocket before `connection_init`): may do nothing.
UNAUTHENTICATED = Principal(id="unauthenticated", kind="anonymous")

# The operator of the server's machine, through the local admin channel (`contextql verify` / `reindex`
# with the token the server wrote into its data directory): as much as opening the store directly.
LOCAL_ADMIN = Principal(id="local-admin", kind="service", roles=frozenset({"admin"}), all_workspaces=True)
