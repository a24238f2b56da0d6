"""GraphQL calls of the command line to the server of its data directory (server/local_admin.py).

Every failure becomes a `StoreOpenError` saying what happened, so the command prints one line
and exits with the code of the README's table: the server gone or busy is "unavailable" (3),
a refusal is a usage problem (2), a server bug is 70.
"""

from __future__ import annotations

from typing import Any

import httpx

from .local_admin import RunningServer
from .stores import EXIT_CONFIG, EXIT_UNAVAILABLE, StoreOpenError

EXIT_INTERNAL = 70
_UNAVAILABLE = {"SERVICE_UNAVAILABLE", "CONFLICT", "TIMEOUT", "RATE_LIMITED"}


class AdminClient:
    def __init__(self, server: RunningServer, workspace: str, *, timeout: float = 60.0) -> None:
        self.server = server
        self._http = httpx.AsyncClient(timeout=timeout, headers={
            "Authorization": f"Bearer {server.token}", "X-ContextQL-Workspace": workspace,
            "Accept": "application/graphql-response+json, application/json",
        })

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def call(self, document: str, variables: dict[str, Any] | None = None, *,
                   timeout: float | None = None) -> dict[str, Any]:
        """The operation's `data`; `StoreOpenError` for anything else. `timeout`: seconds to wait for the
        answer, for an operation that takes longer than the client's default."""
        where = self.server.describe()
        try:
            response = await self._http.post(
                self.server.url, json={"query": document, "variables": variables or {}},
                timeout=httpx.Timeout(10.0, read=timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            raise StoreOpenError(f"{where} did not answer in time ({type(exc).__name__}): it may be overloaded; "
                                 "try again", EXIT_UNAVAILABLE) from exc
        except httpx.TransportError as exc:
            raise StoreOpenError(f"{where} stopped answering ({type(exc).__name__}): start it again, or run "
                                 "this command once it has stopped (it then opens the data directory itself)",
                                 EXIT_UNAVAILABLE) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise StoreOpenError(f"{where} answered HTTP {response.status_code} with no GraphQL result: is it a "
                                 "ContextQL server?", EXIT_UNAVAILABLE)
        errors = body.get("errors") or []
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = str((first.get("extensions") or {}).get("code", ""))
            message = str(first.get("message", "no message"))
            exit_code = (EXIT_UNAVAILABLE if code in _UNAVAILABLE
                         else EXIT_INTERNAL if code == "INTERNAL_SERVER_ERROR" else EXIT_CONFIG)
            raise StoreOpenError(f"{where} refused: {message} ({code or 'no code'})", exit_code)
        data = body.get("data")
        if not isinstance(data, dict):
            raise StoreOpenError(f"{where} answered with no data", EXIT_UNAVAILABLE)
        return data
