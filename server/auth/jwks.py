"""Signing keys of an identity provider: a JWKS fetched over HTTP, cached, refreshed on an unknown `kid`."""

from __future__ import annotations

import asyncio
import time

import httpx
from joserfc.jwk import KeySet

from contextql.graph.errors import ContextQLError


class AuthUnavailableError(ContextQLError):
    """The identity provider could not be reached; the request may be retried."""

    code = "SERVICE_UNAVAILABLE"


class JwksSource:
    """Keys from `jwks_url`, or from the `jwks_uri` of the OIDC discovery document of `issuer`.

    An unknown `kid` triggers a refresh (key rotation), at most once per `min_refresh`
    seconds (whatever the kids) so that tokens with random kids cannot make the server hammer the provider.
    """

    def __init__(self, jwks_url: str | None, issuer: str | None, ttl: float, min_refresh: float = 10.0) -> None:
        if not (jwks_url or issuer):
            raise ValueError("a JWKS URL or an OIDC issuer is required")
        self.jwks_url, self.issuer, self.ttl, self.min_refresh = jwks_url, issuer, ttl, min_refresh
        self._keys: KeySet | None = None
        self._fetched = 0.0
        self._forced = float("-inf")  # last refresh caused by an unknown kid
        self._lock = asyncio.Lock()

    async def keys_for(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        stale = self._keys is None or now - self._fetched > self.ttl
        unknown = kid is not None and self._keys is not None and not _has(self._keys, kid)
        forced = unknown and now - self._forced > self.min_refresh
        if stale or forced:
            if forced:
                self._forced = now
            async with self._lock:
                if self._fetched <= now:  # nobody refreshed while we waited
                    await self._refresh()
        assert self._keys is not None
        return self._keys

    async def _refresh(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                url = self.jwks_url or await self._discover(client)
                response = await client.get(url)
                response.raise_for_status()
                keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            if self._keys is not None:  # keep serving the keys we have
                return
            raise AuthUnavailableError("The identity provider's signing keys could not be fetched; try again.") from exc
        self._keys, self._fetched = keys, time.monotonic()

    async def _discover(self, client: httpx.AsyncClient) -> str:
        assert self.issuer is not None  # __init__ takes a JWKS URL or an issuer; without the URL, the issuer
        response = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        response.raise_for_status()
        return response.json()["jwks_uri"]


def _has(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)
