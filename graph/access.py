"""Records of access control: API keys (stored as salted hashes only) and the audit log.

Timestamps are integer microseconds since the epoch; `0` means "never" for
`expires_at` and "not revoked" for `revoked_at` (both engines then compare plain integers).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key of an agent or service. The secret itself is never stored, only `hash` of it with `salt`.

    `workspace` is where the key is managed (listed, revoked, rotated); `workspaces` are
    where it may act, with `roles` in each.
    """

    id: str
    workspace: str
    name: str
    kind: str  # agent | service
    salt: str
    hash: str
    roles: list[str]
    workspaces: list[str]
    created_at: int
    created_by: str
    expires_at: int = 0
    revoked_at: int = 0
    replaced_by: str = ""

    def active_at(self, at: int) -> bool:
        return self.revoked_at == 0 and (self.expires_at == 0 or self.expires_at > at)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event: a mutation (whatever its outcome) or a denied attempt."""

    id: str
    workspace: str
    at: int
    principal: str
    principal_kind: str
    operation: str
    target: str
    outcome: str  # ok | failed | denied
    code: str = ""  # the error code when not ok
