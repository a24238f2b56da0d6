"""Who is acting. Until authentication is configured, everyone is the local anonymous principal."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    kind: str = "user"  # user | agent | service | anonymous
    roles: frozenset[str] = field(default_factory=frozenset)
    workspaces: frozenset[str] = field(default_factory=frozenset)


ANONYMOUS = Principal(id="anonymous", kind="anonymous", roles=frozenset({"admin"}))
