"""What every resolver receives: the store, who is acting, where, and per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.events import EventBus, InProcessBus
from graph.store import GraphStore

from .limits import Limits
from .loaders import Loaders
from .principal import Principal

if TYPE_CHECKING:
    from .audit import AuditDraft


@dataclass
class RequestContext:
    store: GraphStore
    principal: Principal
    workspace: str
    limits: Limits = field(default_factory=Limits)
    events: EventBus = field(default_factory=InProcessBus)
    request: Any = None
    response: Any = None
    # The semantic-search index (graph.index.VectorIndex), or None when search is off.
    search: Any = None
    # WebSocket `connection_init` payload (set by Strawberry); the auth issue verifies it.
    connection_params: dict[str, Any] | None = None
    # The audit entry of the mutation field being resolved (resolvers/audit.py).
    audit_draft: AuditDraft | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store, self.workspace)
