"""API keys and audit log on Neo4j: one Cypher statement per read and for the standalone audit
append (constraints and indexes in migrations/neo4j/0007_access.cypher). Functions take the
`Neo4jStore` and use its managed-transaction helpers. Key writes are the rules of
graph/access_rules.py over graph/neo4j/writes.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..access import ApiKeyRecord, AuditRecord
from .. import keyset
from ..cypher_filters import order_clause, page_limit, seek_clause
from ..errors import ConflictError
from ..records import Page

if TYPE_CHECKING:
    from .store import Neo4jStore

KEY_FIELDS = ("id", "workspace", "name", "kind", "salt", "hash", "roles", "workspaces",
              "created_at", "created_by", "expires_at", "revoked_at", "replaced_by")
AUDIT_FIELDS = ("id", "workspace", "at", "principal", "principal_kind", "operation", "target", "outcome", "code")

GET_KEY = "MATCH (k:ApiKey {id: $id}) RETURN properties(k)"
LIST_KEYS = """
MATCH (k:ApiKey) WHERE k.workspace = $workspace AND k.created_at IS NOT NULL
RETURN properties(k) ORDER BY k.workspace, k.created_at, k.id
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


async def get_key(store: Neo4jStore, key_id: str) -> ApiKeyRecord | None:
    rows = await store._read(GET_KEY, id=key_id)
    return _key(rows[0][0]) if rows else None


async def list_keys(store: Neo4jStore, workspace: str) -> list[ApiKeyRecord]:
    return [_key(row[0]) for row in await store._read(LIST_KEYS, workspace=workspace)]


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
