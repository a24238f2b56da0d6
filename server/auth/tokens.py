"""Bearer JWTs: signature (HS256 secret or JWKS), then iss / aud / exp / nbf, then claims -> Principal."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from contextql.resolvers.authorization import UnauthenticatedError
from contextql.resolvers.principal import Principal

from ..settings import Settings
from .jwks import JwksSource

# Asymmetric algorithms only for JWKS: an HS* token can never be checked against a public key
# (algorithm confusion), and `none` is never accepted.
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise UnauthenticatedError("The token is not a well-formed JWT.") from exc
    if not isinstance(header, dict):
        raise UnauthenticatedError("The token is not a well-formed JWT.")
    return header


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secret = OctKey.import_key(settings.auth_jwt_secret) if settings.auth_jwt_secret else None
        self.jwks = (
            JwksSource(settings.auth_jwks_url, settings.auth_oidc_issuer, settings.auth_jwks_cache_seconds)
            if settings.auth_jwks_url or settings.auth_oidc_issuer else None
        )
        self.algorithms = [a for a in settings.auth_algorithms if a in ASYMMETRIC]
        options: dict[str, Any] = {"exp": {"essential": True}}
        issuer = settings.auth_issuer or settings.auth_oidc_issuer
        if issuer:
            options["iss"] = {"essential": True, "value": issuer}
        if settings.auth_audience:
            options["aud"] = {"essential": True, "value": settings.auth_audience}
        self.claims = jwt.JWTClaimsRegistry(leeway=settings.auth_leeway, **options)

    async def verify(self, token: str) -> Principal:
        header = _header(token)
        alg = header.get("alg")
        try:
            if alg == "HS256" and self.secret is not None:
                decoded = jwt.decode(token, self.secret, algorithms=["HS256"])
            elif self.jwks is not None and alg in self.algorithms:
                kid = header.get("kid")
                keys = await self.jwks.keys_for(kid if isinstance(kid, str) else None)
                decoded = jwt.decode(token, keys, algorithms=self.algorithms)
            else:
                raise UnauthenticatedError(f"Tokens signed with {alg!r} are not accepted here.")
            self.claims.validate(decoded.claims)
        except JoseError as exc:
            raise UnauthenticatedError(f"The token was refused ({exc.error}): sign in again.") from exc
        except (ValueError, TypeError) as exc:
            raise UnauthenticatedError("The token was refused: sign in again.") from exc
        return principal_from_claims(decoded.claims, self.settings)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def principal_from_claims(claims: Mapping[str, Any], settings: Settings) -> Principal:
    """Map verified claims to a principal, by the configured claim names."""
    subject = claims.get(settings.auth_claim_id)
    if not isinstance(subject, str) or not subject:
        raise UnauthenticatedError(f"The token has no {settings.auth_claim_id!r} claim naming who you are.")
    raw_roles = claims.get(settings.auth_claim_roles)
    workspace_roles: dict[str, frozenset[str]] = {}
    roles: frozenset[str] = frozenset()
    if isinstance(raw_roles, Mapping):  # {"acme": ["editor"], ...}
        workspace_roles = {str(ws): frozenset(_strings(r)) for ws, r in raw_roles.items()}
    else:
        roles = frozenset(_strings(raw_roles))
    workspaces = _strings(claims.get(settings.auth_claim_workspaces))
    kind = claims.get(settings.auth_claim_kind)
    exp = claims.get("exp")
    return Principal(
        id=subject,
        kind=kind if kind in ("user", "agent", "service") else "user",
        roles=roles,
        workspaces=frozenset(workspaces),
        workspace_roles=workspace_roles,
        default_workspace=workspaces[0] if workspaces else None,
        expires_at=float(exp) if isinstance(exp, (int, float)) else None,
    )
