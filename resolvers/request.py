"""What every resolver receives: the store, who is acting, where, and per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contextql.graph.events import EventBus, InProcessBus
from contextql.graph.store import GraphStore

from .limits import Limits
from .loaders import Loaders
from .principal import Principal

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from contextql.graph.index import VectorIndex

    from .audit import AuditDraft
    from .index_ops import IndexJobs


@dataclass
class RequestContext:
    store: GraphStore
    principal: Principal
    workspace: str
    limits: Limits = field(default_factory=Limits)
    events: EventBus = field(default_factory=InProcessBus)
    # The HTTP request or the WebSocket the operation came on (None outside the server, e.g. the CLI).
    request: Request | WebSocket | None = None
    # Strawberry's response for HTTP (headers/status set by resolvers); the socket itself for a WebSocket.
    response: Response | WebSocket | None = None
    # The semantic-search index, or None when search is off.
    search: VectorIndex | None = None
    # The server's reindex jobs (resolvers/index_ops.py); None outside a server.
    index_jobs: IndexJobs | None = None
    # WebSocket `connection_init` payload (set by Strawberry); the auth issue verifies it.
    connection_params: dict[str, Any] | None = None
    # The audit entry of the mutation field being resolved (resolvers/audit.py).
    audit_draft: AuditDraft | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.store, self.workspace)
