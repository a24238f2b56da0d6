"""Run an `http` tool: POST the input as JSON, with a deadline and a response size limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx


class ToolFailed(Exception):
    """The tool answered, but not with a usable result (status, size, JSON)."""


class ToolTimedOut(Exception):
    pass


async def call(url: str, payload: Any, timeout_ms: int, max_bytes: int) -> Any:
    seconds = timeout_ms / 1000
    try:
        async with (
            asyncio.timeout(seconds),  # a whole-call deadline; httpx's are per socket operation
            httpx.AsyncClient(timeout=seconds, follow_redirects=False) as client,
            client.stream("POST", url, json=payload, headers={"accept": "application/json"}) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ToolFailed(f"the response is over the tool's limit of {max_bytes} bytes")
    except (TimeoutError, httpx.TimeoutException):
        raise ToolTimedOut(f"no complete answer within {timeout_ms} ms") from None
    except httpx.HTTPError as error:
        raise ToolFailed(f"the tool could not be reached: {type(error).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise ToolFailed(f"the tool answered HTTP {response.status_code}")
    try:
        return json.loads(bytes(body))
    except ValueError:
        raise ToolFailed("the tool's response is not JSON") from None
