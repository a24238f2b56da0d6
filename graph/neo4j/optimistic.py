"""A revision without a transaction: the head read as an auto-commit statement, the writes as one
auto-commit statement guarded by what was read (`Neo4jStore.write_revision`).

A title update in a managed transaction costs three round trips (BEGIN with the locked head read,
the composed write, COMMIT), and the driver's per-round-trip work is most of the Python CPU a
write costs beyond a read (bench/results/profile-2026-12-02-mutation.md). Here it costs two:

1. `heads(..., lock=True)` / `at_paths(..., lock=True)` read WITHOUT a lock, and remember each
   head as read. A head this process wrote lately comes from its `HeadCache`
   (graph/head_cache.py), without a round trip.
2. The collected writes go as one statement behind `GUARD`: it write-locks those contexts, and
   goes on only if each is still the head it was read as. One statement is one transaction, so
   either all of it lands or none of it.

   A head read without a lock can be torn: Neo4j applies a commit record by record, so a read
   racing it may see the new `version` and `updated_at` with the old `data` (measured: 270 of
   36,604 reads racing a writer, bench/results/profile-2026-12-02-torn-reads.md). So the guard
   compares every property of a head read here; of a head from the cache, which this process
   wrote whole, the version, path and `updated_at` (a revision always raises the version and sets
   `updated_at`; a move of an ancestor changes the path without either). While other revisions'
   writes are on their way, a revision's write waits and goes with the others waiting, in one
   statement, each behind its own guard (graph/neo4j/group_commit.py). A work that writes
   nothing sends the guard alone when it used a head: one from the cache may be stale, a read one
   torn (its "nothing to change" may rest on a property a commit was replacing).

Anything else falls back to `write` (a managed transaction with locking reads), before anything
was written: a lost race (the guard held nothing), a read after a write (it would have to commit
the write first), a locking read of anything but contexts (the tree lock, tools, API keys, types),
any statement that is not a known read, and a transient failure of the server or the connection.
The rules (`graph/tree.py`) are the same in both; only the statements differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import neo4j

from contextql.graph.codec import context_props, context_record
from contextql.graph.records import ContextRecord

from . import cypher
from ..head_cache import HeadCache
from .group_commit import GroupCommit, GroupFailed
from .run import run as run_statement
from .writes import (
    AGENT_IDS, API_KEYS, CONTEXT_IDS, COUNT_KIND, DERIVED, DESCENDANTS, EXECUTION_EXISTS, LOCKED_AT_PATHS,
    LOCKED_HEADS, TAKEN_AUDIT_IDS, TAKEN_EXECUTION_IDS, TAKEN_IDS, TAKEN_VERSIONS, TOOL_VERSIONS, TOOLS,
    TYPE_VERSIONS, Neo4jWriteTx,
)
from .writes import APPEND_AUDIT, ENQUEUE, INSERT_VERSIONS, RECORD_DERIVATION, SET_STATE

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
WITH c, g WHERE c.version = g.version AND c.path = g.path AND c.updated_at = g.updated_at
  AND (g.props IS NULL OR properties(c) = g.props)
WITH count(c) AS held WHERE held = size($g_rows)
"""
GUARD_RETURN = "\nRETURN held"

# The server or the connection failed: the work goes to the transaction (which the driver retries).
FAILED = (neo4j.exceptions.TransientError, neo4j.exceptions.SessionExpired, neo4j.exceptions.ServiceUnavailable)

# Writes after which the heads the work read, or the states it set, are what is stored: a revision
# (graph/tree.py `revise`). After any other write (a move changes descendants' paths, a delete) the
# cache is emptied: the guard would catch a stale head, but each would cost a transaction.
_KEEPS_HEADS = frozenset({SET_STATE, INSERT_VERSIONS, ENQUEUE, APPEND_AUDIT, RECORD_DERIVATION})


class Pessimistic(Exception):
    """The work must run in a transaction (see the module's docstring); nothing was written."""


class OptimisticWriteTx(Neo4jWriteTx):
    """`WriteTx` over a session's auto-commit statements; `commit` sends the guarded write."""

    def __init__(self, session: neo4j.AsyncSession, count: Any, timeout: float, cache: HeadCache,
                 group: GroupCommit | None = None) -> None:
        super().__init__(session, count)  # type: ignore[arg-type]  # statements go through `_run` below
        self._session = session
        self._timeout = timeout
        self._cache = cache
        self._group = group  # a revision's write waits for a flight there (graph/neo4j/group_commit.py)
        self._guards: dict[tuple[str, str], dict[str, Any]] = {}
        self._heads: dict[tuple[str, str], dict[str, Any]] = {}  # as read (or cached), by (workspace, id)
        self._written: dict[tuple[str, str], ContextRecord] = {}  # states set
        self._templates: set[str] = set()

    def forget(self) -> None:
        """Drop from the cache every head this work read."""
        self._cache.drop(self._guards)

    async def still_current(self) -> bool:
        """Whether every head this work used is still the one stored (the guard alone, a round trip when
        it used any): what it concluded from them, an error say, stands only then. Forgets them if not."""
        if not self._guards:
            return True
        try:
            held = bool(await self._run(GUARD + GUARD_RETURN, {"g_rows": list(self._guards.values())}))
        except FAILED:
            held = False
        if not held:
            self.forget()
        return held

    def _defer(self, template: str, **params: Any) -> None:
        self._templates.add(template)
        super()._defer(template, **params)

    def _guard(self, props: dict[str, Any], *, whole: bool) -> None:
        """Guard the write with this head; `whole`: with every property (a read that may be torn)."""
        key = (props["workspace"], props["id"])
        self._heads[key] = props
        self._guards[key] = {"workspace": props["workspace"], "id": props["id"], "version": props["version"],
                             "path": props["path"], "updated_at": props["updated_at"],
                             "props": props if whole else None}

    async def heads(self, workspace: str, ids: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        read = super().heads
        if not lock:
            return await read(workspace, ids)
        wanted = list(dict.fromkeys(ids))
        return await self._cache_first(self._cache.by_ids(workspace, wanted), wanted,
                                       lambda missing: read(workspace, missing, lock=True))

    async def at_paths(self, workspace: str, paths: Sequence[str], *, lock: bool = False) -> dict[str, ContextRecord]:
        read = super().at_paths
        if not lock:
            return await read(workspace, paths)
        wanted = list(dict.fromkeys(paths))
        return await self._cache_first(self._cache.by_paths(workspace, wanted), wanted,
                                       lambda missing: read(workspace, missing, lock=True))

    async def _cache_first(
        self, known: dict[str, dict[str, Any]], wanted: list[str],
        read: Callable[[list[str]], Awaitable[dict[str, ContextRecord]]],
    ) -> dict[str, ContextRecord]:
        """The heads the cache holds (guarded like read ones), the others read without a lock."""
        if self._parts:
            raise Pessimistic("a read after a write")
        for props in known.values():
            self._guard(props, whole=False)
        missing = [key for key in wanted if key not in known]
        found = await read(missing) if missing else {}
        return {**{key: context_record(props) for key, props in known.items()}, **found}

    async def set_state(self, record: ContextRecord, previous: ContextRecord | None = None) -> None:
        self._written[(record.workspace, record.id)] = record
        await super().set_state(record, previous)

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
                self._guard(row[0], whole=True)
            return rows
        if query not in _PLAIN_READS:
            raise Pessimistic("a locking read or a write")
        return await self._run(query, params)

    async def flush(self) -> None:
        raise Pessimistic("a write before the end of the work")

    async def commit(self) -> None:
        """Send the collected writes as one statement behind the guard; `Pessimistic` if it held nothing.
        Then remember the heads as they now are."""
        if not self._parts and not self._guards:
            return  # nothing written, no head used
        query, params = "\n".join(self._parts), self._params
        if not self._guards:
            await self._run(query, params)
            self._remember()
            return
        guarded, params = GUARD + query + GUARD_RETURN, {**params, "g_rows": list(self._guards.values())}
        if self._group is not None and self._templates <= _KEEPS_HEADS:
            try:
                held = await self._group.write(guarded, params, self._run)
            except GroupFailed as exc:
                raise Pessimistic("the statement it went in failed") from exc
        else:
            held = bool(await self._run(guarded, params))
        if not held:
            self.forget()
            raise Pessimistic("a context changed after it was read")
        self._remember()

    def _remember(self) -> None:
        if not self._templates <= _KEEPS_HEADS:
            self._cache.clear()
            return
        for key, props in self._heads.items():
            record = self._written.get(key)
            self._cache.put(props if record is None else context_props(record))
