"""One way in for HTTP, SSE and WebSocket: credentials -> a verified `Principal` and its workspace."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from contextql.graph.errors import ForbiddenError
from contextql.graph.store import GraphStore
from contextql.resolvers.authorization import UnauthenticatedError
from contextql.resolvers.principal import ANONYMOUS, LOCAL_ADMIN, Principal

from ..local_admin import TOKEN_PREFIX
from ..settings import Settings
from .api_keys import ApiKeyVerifier
from .tokens import JwtVerifier

WORKSPACE_HEADER = "x-contextql-workspace"


def auth_configured(settings: Settings) -> bool:
    return bool(settings.auth_jwt_secret or settings.auth_jwks_url or settings.auth_oidc_issuer or settings.auth_api_keys)


def _credential(source: Mapping[str, Any]) -> str | None:
    """The token in HTTP headers or a `connection_init` payload (keys matched case-insensitively)."""
    lowered = {str(k).lower(): v for k, v in source.items()}
    value = lowered.get("authorization")
    if isinstance(value, str):
        scheme, _, token = value.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    for name in ("x-api-key", "token", "apikey", "api_key"):
        if isinstance(lowered.get(name), str) and lowered[name].strip():
            return lowered[name].strip()
    return None


def requested_workspace(source: Mapping[str, Any]) -> str | None:
    lowered = {str(k).lower(): v for k, v in source.items()}
    value = lowered.get(WORKSPACE_HEADER, lowered.get("workspace"))
    return value.strip() if isinstance(value, str) and value.strip() else None


class Authenticator:
    def __init__(self, settings: Settings, store: Callable[[], GraphStore],
                 local_token: Callable[[], str | None] | None = None) -> None:
        self.settings = settings
        self.local_token = local_token  # the token of the local admin channel while it is open
        self.enabled = auth_configured(settings)
        has_jwt = bool(settings.auth_jwt_secret or settings.auth_jwks_url or settings.auth_oidc_issuer)
        self.jwt = JwtVerifier(settings) if has_jwt else None
        self.keys = ApiKeyVerifier(store) if settings.auth_api_keys else None

    async def authenticate(self, source: Mapping[str, Any]) -> Principal:
        """The verified principal of headers or connection params; `UnauthenticatedError` if none.

        Identity is only ever taken from a verified token, never from claims a client states.
        """
        token = _credential(source)
        if token is not None and token.startswith(TOKEN_PREFIX):
            return self._local_admin(token)
        if not self.enabled:
            return ANONYMOUS
        if token is None:
            raise UnauthenticatedError("Authentication required: send `Authorization: Bearer <token or API key>`.")
        if token.startswith("cq_") and self.keys is not None:
            return await self.keys.verify(token)
        if self.jwt is not None and token.count(".") == 2:
            return await self.jwt.verify(token)
        raise UnauthenticatedError("The credential was not recognised: send a JWT or an API key.")

    def _local_admin(self, token: str) -> Principal:
        expected = self.local_token() if self.local_token is not None else None
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return LOCAL_ADMIN
        raise UnauthenticatedError("This local admin token is not this server's: it changes at every start, so "
                                   "read it again from the data directory's server.json.")

    def workspace(self, principal: Principal, requested: str | None) -> str:
        """The workspace a request acts in: the requested one if the principal belongs to it, else its home.

        The same refusal for a workspace that exists and one that does not, so nothing is revealed.
        """
        if principal.all_workspaces:
            return requested or self.settings.workspace
        if requested is not None:
            if not principal.member_of(requested):
                raise ForbiddenError(f"You have no access to workspace {requested!r}.")
            return requested
        home = principal.home_workspace()
        if home is None:
            raise ForbiddenError("Your credential grants no workspace; ask an admin to add one.")
        return home
