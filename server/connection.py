"""Who a WebSocket connection acts as, decided once from its `connection_init` payload.

This is the hook the authentication issue fills in: it must verify a token found in
the payload (never trust identity claims a client states). Until then every
connection is the local anonymous principal, like every HTTP request.
"""

from __future__ import annotations

from typing import Any

from resolvers.principal import ANONYMOUS, Principal

from .settings import Settings


async def connection_principal(params: dict[str, Any], settings: Settings) -> Principal:
    return ANONYMOUS
