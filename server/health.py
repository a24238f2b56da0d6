"""Liveness (`/healthz`), readiness (`/readyz`), and the HTTP status of an operation the store could not serve."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from .state import AppState

# How long a readiness probe waits for each dependency.
PROBE_SECONDS = 2.0
# What a client told to come back after an outage waits, in seconds.
RETRY_AFTER = 5


async def _probe(check: Callable[[], Awaitable[None]]) -> str | None:
    """None when `check` answered in time, else why not (never the dependency's own message)."""
    try:
        await asyncio.wait_for(check(), PROBE_SECONDS)
    except TimeoutError:
        return f"no answer within {PROBE_SECONDS:g} s"
    except Exception as exc:  # broad on purpose: any failure means "not ready"
        return f"unavailable ({type(exc).__name__})"
    return None


def readiness(state: AppState) -> Callable[[Request], Awaitable[JSONResponse]]:
    """200 when the graph store, the search index (when on) and the event bus answer; else 503 naming which."""

    async def readyz(request: Request) -> JSONResponse:
        store, search = state.store, state.search
        checks: dict[str, str | None] = {}
        checks["graph"] = "starting" if store is None else await _probe(store.ping)
        if search is not None:
            checks["search"] = await _probe(search.index.ping)
        checks["events"] = await _probe(state.events.ping)
        failing = {name: why for name, why in checks.items() if why is not None}
        body = {"status": "ready" if not failing else "unavailable",
                "checks": {name: why or "ok" for name, why in checks.items()}}
        headers = {"Retry-After": str(RETRY_AFTER)} if failing else None
        return JSONResponse(body, status_code=503 if failing else 200, headers=headers)

    return readyz


def unavailable(result: Any) -> bool:
    """Whether an execution result (graphql-core's or Strawberry's) failed only because a backend
    was briefly unavailable (errors with `retryAfter`): answered with 503 and Retry-After."""
    errors = getattr(result, "errors", None)
    if not errors:
        return False
    if not all((e.extensions or {}).get("code") == "SERVICE_UNAVAILABLE" and (e.extensions or {}).get("retryAfter")
               for e in errors):
        return False
    return result.data is None or all(value is None for value in result.data.values())
