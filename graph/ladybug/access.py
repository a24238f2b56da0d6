"""API keys and audit log on LadybugDB (tables `ApiKey`, `AuditEntry`, migrations/ladybug/0007_access.cypher).

Both tables are keyed by id (the engine's only index). Listing a workspace's audit entries
scans the table: an admin query, not a hot path. Key writes are the rules of
graph/access_rules.py over graph/ladybug/writes.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..access import ApiKeyRecord, AuditRecord
from .. import keyset
from ..cypher_filters import limit_clause, order_clause, page_limit, seek_clause
from ..errors import ConflictError
from ..records import Page
from .engine import Engine, Tx

KEY_FIELDS = ("id", "workspace", "name", "kind", "salt", "hash", "roles", "workspaces",
              "created_at", "created_by", "expires_at", "revoked_at", "replaced_by")
AUDIT_FIELDS = ("id", "workspace", "at", "principal", "principal_kind", "operation", "target", "outcome", "code")
K_COLS = ", ".join(f"k.{f}" for f in KEY_FIELDS)
A_COLS = ", ".join(f"a.{f}" for f in AUDIT_FIELDS)

Q_CREATE_KEY = "CREATE (k:ApiKey {" + ", ".join(f"{f}: ${f}" for f in KEY_FIELDS) + "})"
Q_GET_KEY = f"MATCH (k:ApiKey {{id: $id}}) RETURN {K_COLS}"
Q_APPEND_AUDIT = "CREATE (a:AuditEntry {" + ", ".join(f"{f}: ${f}" for f in AUDIT_FIELDS) + "})"
_AUDIT_OF = (
    "MATCH (a:AuditEntry) WHERE a.workspace = $ws AND ($principal = '' OR a.principal = $principal) "
    "AND ($outcome = '' OR a.outcome = $outcome) "
)


def _key(row: list) -> ApiKeyRecord:
    values = dict(zip(KEY_FIELDS, row))
    values["roles"], values["workspaces"] = list(values["roles"]), list(values["workspaces"])
    return ApiKeyRecord(**values)


def _key_params(record: ApiKeyRecord) -> dict:
    params = {f: getattr(record, f) for f in KEY_FIELDS}
    params["roles"], params["workspaces"] = list(record.roles), list(record.workspaces)
    return params


def _audit(row: list) -> AuditRecord:
    return AuditRecord(**dict(zip(AUDIT_FIELDS, row)))


async def get_key(engine: Engine, key_id: str) -> ApiKeyRecord | None:
    rows = await engine.read(Q_GET_KEY, {"id": key_id})
    return _key(rows[0]) if rows else None


async def list_keys(engine: Engine, workspace: str) -> list[ApiKeyRecord]:
    rows = await engine.read(
        f"MATCH (k:ApiKey) WHERE k.workspace = $ws RETURN {K_COLS} ORDER BY k.created_at, k.id", {"ws": workspace}
    )
    return [_key(row) for row in rows]


async def append_audit(engine: Engine, records: Sequence[AuditRecord]) -> None:
    rows = [{f: getattr(r, f) for f in AUDIT_FIELDS} for r in records]
    if not rows:
        return

    def work(tx: Tx) -> None:
        taken = tx.run("UNWIND $ids AS i MATCH (a:AuditEntry {id: i}) RETURN a.id", {"ids": [r["id"] for r in rows]})
        if taken:
            raise ConflictError(f"Audit entry {taken[0][0]} already exists.", ids=[t[0] for t in taken])
        for row in rows:  # usually one entry per call
            tx.run(Q_APPEND_AUDIT, row)

    await engine.write(work)


async def list_audit(
    engine: Engine, workspace: str, page: Page, principal: str | None, outcome: str | None
) -> list[AuditRecord]:
    seek, after = seek_clause("a", keyset.AUDIT, page)
    if page_limit(page) == 0:
        return []
    rows = await engine.read(
        _AUDIT_OF + f"AND {seek} RETURN {A_COLS} ORDER BY {order_clause('a', keyset.AUDIT)} {limit_clause(page)}",
        {**after, "ws": workspace, "principal": principal or "", "outcome": outcome or ""},
    )
    return [_audit(row) for row in rows]


async def count_audit(engine: Engine, workspace: str, principal: str | None, outcome: str | None) -> int:
    rows = await engine.read(
        _AUDIT_OF + "RETURN count(a)", {"ws": workspace, "principal": principal or "", "outcome": outcome or ""}
    )
    return int(rows[0][0]) if rows else 0

