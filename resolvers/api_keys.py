"""API keys for agents and services: the secret is shown once, only a salted scrypt hash is kept.

A key reads `cq_<id>_<secret>`: the id finds the record, the secret is checked against the
hash. Secrets are 256 random bits, so the hash is a second line of defence (a leaked
database yields no usable key), not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from contextql.graph.access import ApiKeyRecord
from contextql.graph.errors import BadUserInputError, NotFoundError

from . import audit
from .clock import now_us
from .authorization import ROLES, authorize
from .principal import Principal
from .request import RequestContext

PREFIX = "cq_"
KINDS = ("agent", "service")
MAX_NAME = 128
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKeyRecord
    secret: str  # the full key, shown once


def hash_secret(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT).hex()


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not token.startswith(PREFIX):
        return None
    key_id, _, secret = token[len(PREFIX):].partition("_")
    if len(key_id) != 32 or not secret:
        return None
    return key_id, secret


def matches(record: ApiKeyRecord, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, bytes.fromhex(record.salt)), record.hash)


def _issue(ctx: RequestContext, name: str, kind: str, roles: list[str], workspaces: list[str], expires_at: int) -> IssuedKey:
    key_id, secret, salt = uuid.uuid4().hex, secrets.token_urlsafe(32), secrets.token_bytes(16)
    record = ApiKeyRecord(
        id=key_id, workspace=ctx.workspace, name=name, kind=kind, salt=salt.hex(), hash=hash_secret(secret, salt),
        roles=roles, workspaces=workspaces, created_at=now_us(), created_by=ctx.principal.id, expires_at=expires_at,
    )
    return IssuedKey(record=record, secret=f"{PREFIX}{key_id}_{secret}")


def _checked(ctx: RequestContext, name: str, kind: str, roles: list[str], workspaces: list[str] | None) -> list[str]:
    if not name or len(name) > MAX_NAME:
        raise BadUserInputError(f"Name the key with 1 to {MAX_NAME} characters.")
    if kind not in KINDS:
        raise BadUserInputError(f"A key's kind is one of {', '.join(KINDS)}.")
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise BadUserInputError(f"Give the key one or more roles of {', '.join(ROLES)}.", unknown=unknown)
    chosen = sorted(set(workspaces or [ctx.workspace]))
    # A key can only reach workspaces where its creator may manage keys.
    for workspace in chosen:
        authorize(_in(ctx, workspace), "manage_keys", f"workspace {workspace}")
    return chosen


class _Scope(NamedTuple):
    principal: Principal
    workspace: str


def _in(ctx: RequestContext, workspace: str) -> _Scope:
    return _Scope(ctx.principal, workspace)


async def create(
    ctx: RequestContext, name: str, kind: str, roles: list[str], workspaces: list[str] | None, expires_at: int
) -> IssuedKey:
    authorize(ctx, "manage_keys", "API keys")
    chosen = _checked(ctx, name, kind, roles, workspaces)
    issued = _issue(ctx, name, kind, sorted(set(roles)), chosen, expires_at)
    await ctx.store.create_api_key(issued.record, audit.effects(ctx))
    audit.committed(ctx)
    return issued


async def list_all(ctx: RequestContext) -> list[ApiKeyRecord]:
    authorize(ctx, "manage_keys", "API keys")
    return await ctx.store.list_api_keys(ctx.workspace)


async def revoke(ctx: RequestContext, key_id: str) -> ApiKeyRecord:
    authorize(ctx, "manage_keys", "API keys")
    revoked = await ctx.store.revoke_api_key(ctx.workspace, key_id, now_us(), audit.effects(ctx))
    audit.committed(ctx)
    return revoked


async def rotate(ctx: RequestContext, key_id: str, overlap_seconds: int) -> tuple[IssuedKey, ApiKeyRecord]:
    """A new key with the same name, roles, workspaces and expiry; the old one works `overlap_seconds` more."""
    authorize(ctx, "manage_keys", "API keys")
    old = await ctx.store.get_api_key(key_id)
    if old is None or old.workspace != ctx.workspace:
        raise NotFoundError(f"No API key {key_id!r} in workspace {ctx.workspace!r}.", id=key_id)
    issued = _issue(ctx, old.name, old.kind, old.roles, old.workspaces, old.expires_at)
    updated = await ctx.store.rotate_api_key(
        ctx.workspace, key_id, issued.record.created_at + max(0, overlap_seconds) * 1_000_000, issued.record,
        audit.effects(ctx),
    )
    audit.committed(ctx)
    return issued, updated
