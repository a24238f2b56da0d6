"""Verifying API keys: the record by id, then state (revoked, expired), then the secret against its hash."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from contextql.graph.store import GraphStore
from contextql.resolvers import api_keys
from contextql.resolvers.clock import now_us
from contextql.resolvers.authorization import UnauthenticatedError
from contextql.resolvers.principal import Principal

REFUSED = "The API key is unknown, revoked or expired: ask an admin for a new one."


class ApiKeyVerifier:
    """Checks every request against the store (so a revocation takes effect at once); only the
    slow scrypt comparison of a (key, secret) pair already proven right is remembered."""

    def __init__(self, store: Callable[[], GraphStore], cache_size: int = 1024) -> None:
        self._store = store
        self._proven: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        parsed = api_keys.parse(token)
        if parsed is None:
            raise UnauthenticatedError(REFUSED)
        key_id, secret = parsed
        record = await self._store().get_api_key(key_id)
        if record is None or not record.active_at(now_us()):
            raise UnauthenticatedError(REFUSED)
        proof = (key_id, record.hash, hashlib.sha256(secret.encode()).hexdigest())
        if proof in self._proven:
            self._proven.move_to_end(proof)
        elif api_keys.matches(record, secret):
            self._proven[proof] = None
            if len(self._proven) > self._cache_size:
                self._proven.popitem(last=False)
        else:
            raise UnauthenticatedError(REFUSED)
        return Principal(
            id=f"apikey:{record.id}",
            kind=record.kind,
            roles=frozenset(record.roles),
            workspaces=frozenset(record.workspaces),
            default_workspace=record.workspace if record.workspace in record.workspaces else None,
            expires_at=record.expires_at / 1_000_000 if record.expires_at else None,
        )
