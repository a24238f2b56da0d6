"""Request ids, the access log, and the last word on an unexpected error (pure ASGI: same task, same context).

Every HTTP request and WebSocket gets an id: the client's `X-Request-ID` when it is a sane token, else a new
one. It is answered in the `X-Request-ID` header, held in `resolvers.request_scope` for the request's log
lines and errors, and written in one access-log line (logger `contextql.access`) when the request ends.
An exception that escapes the app is logged here once, with its stack trace, and answered with a 500 that
names the request id, so uvicorn does not log it again.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from time import perf_counter

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contextql.resolvers.request_scope import CURRENT, RequestScope
from contextql.schema.errors import INTERNAL_CODE, INTERNAL_MESSAGE

from .auth.middleware import PRINCIPAL_KEY

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

logger = logging.getLogger("contextql.server")
access = logging.getLogger("contextql.access")


class _Ids:
    """New request ids: 32 hex digits, a random half per process and a counter. A correlation id needs
    no secrecy; `uuid4` makes a `getrandom` call each (1.7 us against 0.18 here, by timeit; 2% of a point
    read's samples in one profile, bench/results/profile-2026-12-02-read-timeout.md)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked worker must not repeat its parent's ids

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_ids = _Ids()


def request_id(scope: Scope) -> str:
    given = Headers(scope=scope).get(HEADER, "")
    return given if _SANE.fullmatch(given) else _ids.new()


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        info = RequestScope(request_id(scope))
        token = CURRENT.set(info)
        header = (HEADER.encode(), info.request_id.encode())
        status: int | None = None
        start = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.accept"):
                status = message.get("status", 101)
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unexpected error serving %s %s", scope.get("method", "WEBSOCKET"), scope["path"])
            if status is None and scope["type"] == "http":
                status = 500
                await _internal_error(send, header, info.request_id)
        finally:
            self._access(scope, info, status, perf_counter() - start)
            CURRENT.reset(token)

    @staticmethod
    def _access(scope: Scope, info: RequestScope, status: int | None, seconds: float) -> None:
        principal = scope.get("state", {}).get(PRINCIPAL_KEY)
        if principal is not None and info.principal is None:
            info.principal = principal.id
        codes = info.error_codes
        access.info(
            "%s %s %s", scope.get("method", "WEBSOCKET"), scope["path"], status if status is not None else "-",
            extra={"method": scope.get("method", "WEBSOCKET"), "path": scope["path"], "status": status,
                   "duration_ms": round(seconds * 1000, 3), "error_code": codes[0] if codes else None,
                   "error_codes": list(codes) if len(codes) > 1 else None},
        )


async def _internal_error(send: Send, header: tuple[bytes, bytes], request_id: str) -> None:
    body = json.dumps({"errors": [{"message": INTERNAL_MESSAGE,
                                   "extensions": {"code": INTERNAL_CODE, "requestId": request_id}}]}).encode()
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), header]})
    await send({"type": "http.response.body", "body": body})
