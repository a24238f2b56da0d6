"""API keys and audit log on Neo4j: one Cypher statement per contract operation (constraints and
indexes in migrations/neo4j/0007_access.cypher). Functions take the `Neo4jStore` and use its
managed-transaction helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..access import ApiKeyRecord, AuditRecord
from .. import keyset
from ..cypher_filters import order_clause, page_limit, seek_clause
from ..errors import ConflictError, NotFoundError
from ..records import Page

if TYPE_CHECKING:
    from .store import Neo4jStore

KEY_FIELDS = ("id", "workspace", "name", "kind", "salt", "hash", "roles", "workspaces",
              "created_at", "created_by", "expires_at", "revoked_at", "replaced_by")
AUDIT_FIELDS = ("id", "workspace", "at", "principal", "principal_kind", "operation", "target", "outcome", "code")

CREATE_KEY = "CREATE (k:ApiKey) SET k = $props"
GET_KEY = "MATCH (k:ApiKey {id: $id}) RETURN properties(k)"
LIST_KEYS = """
MATCH (k:ApiKey) WHERE k.workspace = $workspace AND k.created_at IS NOT NULL
RETURN properties(k) ORDER BY k.workspace, k.created_at, k.id
"""
REVOKE_KEY = """
OPTIONAL MATCH (k:ApiKey {id: $id}) WHERE k.workspace = $workspace
SET k.revoked_at = CASE WHEN k.revoked_at = 0 THEN $at ELSE k.revoked_at END
RETURN properties(k)
"""
# The old key is locked by the SET before its state is trusted; a taken new id fails the
# uniqueness constraint and rolls everything back.
ROTATE_KEY = """
OPTIONAL MATCH (k:ApiKey {id: $id}) WHERE k.workspace = $workspace
WITH k, k IS NOT NULL AND k.revoked_at = 0 AND (k.expires_at = 0 OR k.expires_at > $now) AS ok
FOREACH (_ IN CASE WHEN ok THEN [1] ELSE [] END |
  SET k.expires_at = CASE WHEN k.expires_at = 0 OR k.expires_at > $old_expires_at THEN $old_expires_at
                          ELSE k.expires_at END,
      k.replaced_by = $props.id
  CREATE (n:ApiKey) SET n = $props)
RETURN ok, CASE WHEN k IS NULL THEN null ELSE properties(k) END
"""
APPEND_AUDIT = "UNWIND $rows AS row CREATE (a:AuditEntry) SET a = row"
AUDIT_OF = """
MATCH (a:AuditEntry) WHERE a.workspace = $workspace AND a.at IS NOT NULL
  AND ($principal IS NULL OR a.principal = $principal) AND ($outcome IS NULL OR a.outcome = $outcome)
"""
# {seek}: `graph.cypher_filters.seek_clause` past `Page.after` (`true` on a first page).
LIST_AUDIT = AUDIT_OF + """  AND {seek}
RETURN properties(a) ORDER BY a.workspace DESC, """ + order_clause("a", keyset.AUDIT) + """ LIMIT $limit
"""
COUNT_AUDIT = AUDIT_OF + "RETURN count(a)"


def _key(props: dict[str, Any]) -> ApiKeyRecord:
    values: dict[str, Any] = {f: props.get(f) for f in KEY_FIELDS}
    values["roles"], values["workspaces"] = list(values["roles"] or ()), list(values["workspaces"] or ())
    return ApiKeyRecord(**values)


def _key_props(record: ApiKeyRecord) -> dict[str, Any]:
    props = {f: getattr(record, f) for f in KEY_FIELDS}
    props["roles"], props["workspaces"] = list(record.roles), list(record.workspaces)
    return props


def _taken(record: ApiKeyRecord):
    return lambda: ConflictError(f"API key {record.id} already exists.", id=record.id)


async def create_key(store: Neo4jStore, record: ApiKeyRecord) -> None:
    await store._write(CREATE_KEY, conflict=_taken(record), props=_key_props(record))


async def get_key(store: Neo4jStore, key_id: str) -> ApiKeyRecord | None:
    rows = await store._read(GET_KEY, id=key_id)
    return _key(rows[0][0]) if rows else None


async def list_keys(store: Neo4jStore, workspace: str) -> list[ApiKeyRecord]:
    return [_key(row[0]) for row in await store._read(LIST_KEYS, workspace=workspace)]


async def revoke_key(store: Neo4jStore, workspace: str, key_id: str, at: int) -> ApiKeyRecord:
    def check(rows: list) -> ApiKeyRecord:
        if not rows or rows[0][0] is None:
            raise NotFoundError(f"No API key {key_id!r} in workspace {workspace!r}.", id=key_id)
        return _key(rows[0][0])

    return await store._write(REVOKE_KEY, check=check, workspace=workspace, id=key_id, at=int(at))


async def rotate_key(store: Neo4jStore, workspace: str, key_id: str, old_expires_at: int, new: ApiKeyRecord) -> ApiKeyRecord:
    def check(rows: list) -> ApiKeyRecord:
        ok, props = rows[0]
        if props is None:
            raise NotFoundError(f"No API key {key_id!r} in workspace {workspace!r}.", id=key_id)
        if not ok:
            raise NotFoundError(f"API key {key_id!r} is revoked or expired: create a new one instead.", id=key_id)
        return _key(props)

    return await store._write(
        ROTATE_KEY, check=check, conflict=_taken(new), workspace=workspace, id=key_id,
        now=int(new.created_at), old_expires_at=int(old_expires_at), props=_key_props(new),
    )


async def append_audit(store: Neo4jStore, records: Sequence[AuditRecord]) -> None:
    rows = [{f: getattr(r, f) for f in AUDIT_FIELDS} for r in records]
    if not rows:
        return
    if len({r["id"] for r in rows}) != len(rows):
        raise ConflictError("The batch repeats an audit entry id.")
    await store._write(APPEND_AUDIT, conflict=lambda: ConflictError("An audit entry id is already taken."), rows=rows)


async def list_audit(
    store: Neo4jStore, workspace: str, page: Page, principal: str | None, outcome: str | None
) -> list[AuditRecord]:
    seek, after = seek_clause("a", keyset.AUDIT, page)
    rows = await store._read(
        LIST_AUDIT.replace("{seek}", seek), workspace=workspace, principal=principal, outcome=outcome,
        limit=page_limit(page), **after,
    )
    return [AuditRecord(**{f: row[0].get(f) for f in AUDIT_FIELDS}) for row in rows]


async def count_audit(store: Neo4jStore, workspace: str, principal: str | None, outcome: str | None) -> int:
    rows = await store._read(COUNT_AUDIT, workspace=workspace, principal=principal, outcome=outcome)
    return rows[0][0] if rows else 0
