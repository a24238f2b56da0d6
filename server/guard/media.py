"""`application/graphql-response+json` (GraphQL over HTTP spec), which Strawberry does not speak.

When a client accepts it, the response uses it, and a request that never executed (parse,
validation or variable errors: errors without a `path` and no data) gets HTTP 400 and no
`data` entry. Clients that accept only `application/json` see no change.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_TYPE = "application/graphql-response+json"


def _prefers_graphql_response(accept: str) -> bool:
    types = [part.split(";")[0].strip() for part in accept.split(",")]
    return MEDIA_TYPE in types and ("application/json" not in types or types.index(MEDIA_TYPE) < types.index("application/json"))


class GraphQLResponseMediaType:
    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.path
                or not _prefers_graphql_response(Headers(scope=scope).get("accept", ""))):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish(send, start, b"".join(chunks))

        await self.app(scope, receive, buffered)

    async def _finish(self, send: Send, start: Message, body: bytes) -> None:
        headers = MutableHeaders(raw=list(start["headers"]))
        status = start["status"]
        if headers.get("content-type", "").startswith("application/json"):
            try:
                result = json.loads(body)
            except ValueError:
                result = None
            if isinstance(result, dict):
                errors = result.get("errors") or []
                if status == 200 and errors and result.get("data") is None and all("path" not in e for e in errors):
                    status = 400
                    result.pop("data", None)
                    body = json.dumps(result).encode()
            headers["content-type"] = MEDIA_TYPE + "; charset=utf-8"
            headers["content-length"] = str(len(body))
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body})
