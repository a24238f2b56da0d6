"""ASGI middleware: authenticate every HTTP request to `/graphql...` before it is parsed.

The verified principal and its workspace go into `scope["state"]` for `get_context`.
Refusals are GraphQL-shaped JSON with `extensions.code`: 401 UNAUTHENTICATED (with
`WWW-Authenticate`), 403 FORBIDDEN (a workspace that is not yours), 503 when the
identity provider is unreachable.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from contextql.graph.errors import ContextQLError

from .authenticator import Authenticator, requested_workspace

PRINCIPAL_KEY, WORKSPACE_KEY = "contextql.principal", "contextql.workspace"
STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "SERVICE_UNAVAILABLE": 503}


class Authentication:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, prefix: str = "/graphql") -> None:
        self.app, self.authenticator, self.prefix = app, authenticator, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix) or _ide_page(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            principal = await self.authenticator.authenticate(headers)
            workspace = self.authenticator.workspace(principal, requested_workspace(headers))
        except ContextQLError as error:
            await _refuse(send, error)
            return
        state = scope.setdefault("state", {})
        state[PRINCIPAL_KEY], state[WORKSPACE_KEY] = principal, workspace
        await self.app(scope, receive, send)


def _ide_page(scope: Scope) -> bool:
    """A browser loading GraphiQL (no operation in the URL): the page is public, its requests are not."""
    if scope["method"] != "GET" or "text/html" not in Headers(scope=scope).get("accept", ""):
        return False
    # Decoded as Strawberry decodes it (`%71uery=` is `query=`): any operation in the URL needs a credential.
    params = QueryParams(scope.get("query_string", b""))
    return "query" not in params and "extensions" not in params


async def _refuse(send: Send, error: ContextQLError) -> None:
    status = STATUS.get(error.code, 400)
    body = json.dumps({"errors": [{"message": error.message, "extensions": {"code": error.code}}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="contextql"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
