"""What the logs say about the request being served: its id, who made it, its operations and their outcome.

The server's request middleware (server/request_id.py) opens one `RequestScope` per HTTP request or WebSocket
and holds it in a context variable, so any layer below can read it (an unexpected error's `requestId`, every
log line's fields) and the GraphQL layer can note what ran, without passing it down every call.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestScope:
    request_id: str
    principal: str | None = None
    operations: list[str] = field(default_factory=list)  # operation names, in the order they ran
    error_codes: list[str] = field(default_factory=list)  # `extensions.code` of every error answered


CURRENT: ContextVar[RequestScope | None] = ContextVar("contextql_request", default=None)


def current() -> RequestScope | None:
    return CURRENT.get()


def current_request_id() -> str | None:
    scope = CURRENT.get()
    return scope.request_id if scope is not None else None
