"""GraphQL for access control: who am I, API keys (admins), the audit log (admins)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from contextql.graph.access import ApiKeyRecord, AuditRecord
from contextql.resolvers import api_keys, audit
from contextql.resolvers.clock import from_datetime, to_datetime
from contextql.resolvers.authorization import MATRIX

from .connections import Connection, connection
from .enums import AuditOutcome
from .types import ContextInfo


def _time(us: int) -> datetime | None:
    return to_datetime(us) if us else None


@strawberry.type(description="An API key of an agent or service. Its secret is never shown again after creation.")
class ApiKey:
    record: strawberry.Private[ApiKeyRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="agent or service.")
    def kind(self) -> str:
        return self.record.kind

    @strawberry.field(description="Roles the key has in each of its workspaces.")
    def roles(self) -> list[str]:
        return self.record.roles

    @strawberry.field(description="Workspaces the key may act in.")
    def workspaces(self) -> list[str]:
        return self.record.workspaces

    @strawberry.field
    def created_at(self) -> datetime:
        return to_datetime(self.record.created_at)

    @strawberry.field
    def created_by(self) -> str:
        return self.record.created_by

    @strawberry.field(description="When the key stops working (null: never).")
    def expires_at(self) -> datetime | None:
        return _time(self.record.expires_at)

    @strawberry.field
    def revoked_at(self) -> datetime | None:
        return _time(self.record.revoked_at)

    @strawberry.field(description="The key that replaced this one by rotation, if any.")
    def replaced_by(self) -> strawberry.ID | None:
        return strawberry.ID(self.record.replaced_by) if self.record.replaced_by else None


@strawberry.type
class IssuedApiKey:
    api_key: ApiKey
    secret: str = strawberry.field(description="The key to send as `Authorization: Bearer <secret>`. Shown only now.")


@strawberry.type
class RotatedApiKey:
    api_key: ApiKey = strawberry.field(description="The new key.")
    secret: str = strawberry.field(description="The new key's secret. Shown only now.")
    previous: ApiKey = strawberry.field(description="The old key, now expiring at the end of the overlap.")


@strawberry.type(description="One audited event: a mutation (any outcome) or a denied attempt.")
class AuditEntry:
    record: strawberry.Private[AuditRecord]

    @strawberry.field
    def at(self) -> datetime:
        return to_datetime(self.record.at)

    @strawberry.field
    def principal(self) -> str:
        return self.record.principal

    @strawberry.field
    def principal_kind(self) -> str:
        return self.record.principal_kind

    @strawberry.field(description="e.g. `mutation createContext`.")
    def operation(self) -> str:
        return self.record.operation

    @strawberry.field(description="The arguments naming what was acted on.")
    def target(self) -> str:
        return self.record.target

    @strawberry.field
    def outcome(self) -> AuditOutcome:
        return AuditOutcome(self.record.outcome)

    @strawberry.field(description="The error code when not ok.")
    def code(self) -> str | None:
        return self.record.code or None


@strawberry.type(description="The caller as the server sees it.")
class Me:
    id: str
    kind: str
    workspace: str = strawberry.field(description="The workspace this request acts in.")
    roles: list[str] = strawberry.field(description="Your roles in that workspace.")
    actions: list[str] = strawberry.field(description="What those roles allow.")


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who you are, where you act and what you may do.")
    def me(self, info: ContextInfo) -> Me:
        ctx = info.context
        roles = sorted(ctx.principal.roles_in(ctx.workspace))
        actions = sorted({a for r in roles for a in MATRIX.get(r, ())})
        return Me(id=ctx.principal.id, kind=ctx.principal.kind, workspace=ctx.workspace, roles=roles, actions=actions)

    @strawberry.field(description="API keys managed in this workspace (admins).")
    async def api_keys(self, info: ContextInfo) -> list[ApiKey]:
        return [ApiKey(record=r) for r in await api_keys.list_all(info.context)]

    @strawberry.field(description="The workspace's audit log, newest first (admins).")
    async def audit_log(
        self, info: ContextInfo, first: int | None = None, after: str | None = None,
        principal: str | None = None, outcome: AuditOutcome | None = None,
    ) -> Connection[AuditEntry]:
        word = None if outcome is None else outcome.value
        page = await audit.entries(info.context, first, after, principal, word)
        return connection(page, lambda r: AuditEntry(record=r), lambda: audit.count(info.context, principal, word))


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="Create an API key; the secret is in the answer and never shown again.")
    async def create_api_key(
        self, info: ContextInfo, name: str, roles: list[str], kind: str = "agent",
        workspaces: list[str] | None = None, expires_at: datetime | None = None,
    ) -> IssuedApiKey:
        expires = from_datetime(expires_at) if expires_at is not None else 0
        issued = await api_keys.create(info.context, name, kind, roles, workspaces, expires)
        return IssuedApiKey(api_key=ApiKey(record=issued.record), secret=issued.secret)

    @strawberry.mutation(description="Revoke an API key at once.")
    async def revoke_api_key(self, info: ContextInfo, id: strawberry.ID) -> ApiKey:
        return ApiKey(record=await api_keys.revoke(info.context, str(id)))

    @strawberry.mutation(description="Replace a key by a new one; the old one keeps working for `overlapSeconds`.")
    async def rotate_api_key(self, info: ContextInfo, id: strawberry.ID, overlap_seconds: int | None = None) -> RotatedApiKey:
        overlap = info.context.limits.api_key_overlap_seconds if overlap_seconds is None else overlap_seconds
        issued, previous = await api_keys.rotate(info.context, str(id), overlap)
        return RotatedApiKey(api_key=ApiKey(record=issued.record), secret=issued.secret, previous=ApiKey(record=previous))
