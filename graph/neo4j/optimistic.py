"""A revision without a transaction: the head read as an auto-commit statement, the writes as one
auto-commit statement guarded by what was read (`Neo4jStore.write_revision`).

A title update in a managed transaction costs three round trips (BEGIN with the locked head read,
the composed write, COMMIT), and the driver's per-round-trip work is most of the Python CPU a
write costs beyond a read (bench/results/profile-2026-12-02-mutation.md). Here it costs two:

1. `heads(..., lock=True)` / `at_paths(..., lock=True)` read WITHOUT a lock, and remember each
   context's `version` and `path` (a revision always raises the version; a move of an ancestor
   changes the path without one).
2. The collected writes go as one statement behind `GUARD`: it write-locks those contexts, and
   goes on only if each still has the version and path it was read with. One statement is one
   transaction, so either all of it lands or none of it.

Anything else falls back to `write` (a managed transaction with locking reads), before anything
was written: a lost race (the guard held nothing), a read after a write (it would have to commit
the write first), a locking read of anything but contexts (the tree lock, tools, API keys, types),
any statement that is not a known read, and a transient failure of the server or the connection.
The rules (`graph/tree.py`) are the same in both; only the statements differ.
"""

from __future__ import annotations

from typing import Any

import neo4j

from . import cypher
from .run import run as run_statement
from .writes import (
    AGENT_IDS, API_KEYS, CONTEXT_IDS, COUNT_KIND, DERIVED, DESCENDANTS, EXECUTION_EXISTS, LOCKED_AT_PATHS,
    LOCKED_HEADS, TAKEN_AUDIT_IDS, TAKEN_EXECUTION_IDS, TAKEN_IDS, TAKEN_VERSIONS, TOOL_VERSIONS, TOOLS,
    TYPE_VERSIONS, Neo4jWriteTx,
)

# The locked head reads, and the unlocked reads that replace them here.
_UNLOCKED = {LOCKED_HEADS: cypher.GET_BY_IDS, LOCKED_AT_PATHS: cypher.GET_BY_PATHS}

# Statements that only read and take no lock: they see the last committed state, as they would in a
# READ COMMITTED transaction. Any other statement sends the work to the transaction.
_PLAIN_READS = frozenset({
    cypher.GET_BY_IDS, cypher.GET_BY_PATHS, TAKEN_IDS, TAKEN_VERSIONS, TYPE_VERSIONS, DESCENDANTS, COUNT_KIND,
    CONTEXT_IDS, EXECUTION_EXISTS, TOOLS, TOOL_VERSIONS, TAKEN_EXECUTION_IDS, AGENT_IDS, TAKEN_AUDIT_IDS, DERIVED,
    API_KEYS,
})

# Prefixed to the composed write: with no row left (a context read changed or went), none of the
# `CALL` parts after it runs and the statement returns no row.
GUARD = """
UNWIND $g_rows AS g
MATCH (c:Context {workspace: g.workspace, id: g.id})
SET c._lock = true
REMOVE c._lock
WITH c, g WHERE c.version = g.version AND c.path = g.path
WITH count(c) AS held WHERE held = size($g_rows)
"""
GUARD_RETURN = "\nRETURN held"


class Pessimistic(Exception):
    """The work must run in a transaction (see the module's docstring); nothing was written."""


class OptimisticWriteTx(Neo4jWriteTx):
    """`WriteTx` over a session's auto-commit statements; `commit` sends the guarded write."""

    def __init__(self, session: neo4j.AsyncSession, count: Any, timeout: float) -> None:
        super().__init__(session, count)  # type: ignore[arg-type]  # statements go through `_run` below
        self._session = session
        self._timeout = timeout
        self._guards: dict[tuple[str, str], dict[str, Any]] = {}

    async def _run(self, query: str, params: dict[str, Any]) -> list[list[Any]]:
        self._count()
        return await run_statement(self._session, neo4j.Query(query, timeout=self._timeout), params)

    async def _read(self, query: str, **params: Any) -> list[list[Any]]:
        if self._parts:
            raise Pessimistic("a read after a write")
        unlocked = _UNLOCKED.get(query)
        if unlocked is not None:
            rows = await self._run(unlocked, params)
            for row in rows:
                props = row[0]
                self._guards[(props["workspace"], props["id"])] = {
                    "workspace": props["workspace"], "id": props["id"], "version": props["version"],
                    "path": props["path"],
                }
            return rows
        if query not in _PLAIN_READS:
            raise Pessimistic("a locking read or a write")
        return await self._run(query, params)

    async def flush(self) -> None:
        raise Pessimistic("a write before the end of the work")

    async def commit(self) -> None:
        """Send the collected writes as one statement behind the guard; `Pessimistic` if it held nothing."""
        if not self._parts:
            return  # nothing to write: what was read was current when read
        query, params = "\n".join(self._parts), self._params
        if not self._guards:
            await self._run(query, params)
            return
        rows = await self._run(GUARD + query + GUARD_RETURN, {**params, "g_rows": list(self._guards.values())})
        if not rows:
            raise Pessimistic("a context changed after it was read")
