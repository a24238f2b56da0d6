"""WebSocket connections authenticate in `connection_init` exactly as HTTP requests do, and end when the token expires."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError

from contextql.graph.errors import ContextQLError
from contextql.resolvers.loaders import Loaders
from contextql.resolvers.request import RequestContext

from .authenticator import Authenticator, requested_workspace

logger = logging.getLogger("contextql.auth")

EXPIRED_CLOSE_CODE = 4401


async def authenticate_connection(authenticator: Authenticator, context: RequestContext) -> None:
    """Verify the token of the `connection_init` payload (or, failing that, of the handshake headers).

    Raises `ConnectionRejectionError` (Strawberry closes with 4403) when it is missing or invalid.
    """
    params = context.connection_params or {}
    source = params if any(str(k).lower() in _CREDENTIAL_KEYS for k in params) else _headers(context.request)
    try:
        principal = await authenticator.authenticate(source)
        workspace = authenticator.workspace(principal, requested_workspace(params) or requested_workspace(source))
    except ContextQLError as error:
        raise ConnectionRejectionError({"message": error.message, "extensions": {"code": error.code}}) from None
    context.principal, context.workspace = principal, workspace
    context.loaders = Loaders(context.store, workspace)
    if principal.expires_at is not None:
        _close_at_expiry(context, principal.expires_at)


_CREDENTIAL_KEYS = {"authorization", "x-api-key", "token", "apikey", "api_key"}


def _headers(request) -> dict[str, str]:
    headers = getattr(request, "headers", None)
    return dict(headers) if headers is not None else {}


_expiry_tasks: set[asyncio.Task] = set()


def _close_at_expiry(context: RequestContext, expires_at: float) -> None:
    websocket = context.request
    if not isinstance(websocket, WebSocket):
        return

    async def expire() -> None:
        # Wake at least once a minute, so a socket that ended early does not keep a task for hours.
        while (left := expires_at - time.time()) > 0:
            if websocket.client_state == WebSocketState.DISCONNECTED:
                return
            await asyncio.sleep(min(left, 60.0))
        try:
            await websocket.close(code=EXPIRED_CLOSE_CODE, reason="Token expired")
        except Exception:  # broad on purpose: the socket may already be closed
            logger.debug("socket already closed at token expiry")

    task = asyncio.get_running_loop().create_task(expire())
    _expiry_tasks.add(task)
    task.add_done_callback(_expiry_tasks.discard)
