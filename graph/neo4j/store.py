"""`GraphStore` on Neo4j 5.26 (Community or Enterprise, single instance or cluster).

- One async driver per store, created in `open()` (so it is bound to the running event loop).
- One session per operation, hence per concurrent task: sessions are never shared between
  coroutines. Sessions share a bookmark manager, so a read issued after a write in this process
  sees that write even when routed to another cluster member.
- Writes are managed transactions (`execute_write`): the driver retries transient errors and
  leader changes. A read is one statement in an auto-commit transaction (no BEGIN/COMMIT round
  trip), retried once when transient; `neo4j://` routing sends reads to readers. Every call is
  bounded by `timeout` seconds, driver retries included.
- One Cypher statement per read. A context write is one transaction (`write`, rules in
  `graph/tree.py`): its reads, then its writes composed into one statement (`writes.py`); a
  rule that fails raises inside the transaction function, which rolls everything back.
- `queries` counts the statements sent (a retried transaction counts again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase, unit_of_work
from neo4j.exceptions import (
    ConstraintError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired, TransientError,
)

from .. import keyset
from ..cypher_filters import order_clause, page_limit, seek_clause
from ..errors import ConflictError, ContextQLError, NotFoundError, StoreUnavailableError
from ..filters import Filter, Order
from ..outbox import IndexTask
from ..records import ContextRecord, ContextTypeRecord, Page, TreePlan, TreeRead, VersionRecord
from ..store import GraphStore
from ..access import ApiKeyRecord, AuditRecord
from . import access
from . import cypher, outbox, tree_read
from ..codec import (
    context_record,
    context_record_of,
    fetched,
    type_record,
    with_order_keys,
    version_record,
)
from .filters import Neo4jFilterCompiler
from .knowledge import Neo4jKnowledge
from .run import run as run_statement
from ..head_cache import HeadCache
from .group_commit import GroupCommit
from .optimistic import FAILED as OPTIMISTIC_FAILED
from .optimistic import OptimisticWriteTx, Pessimistic
from .writes import Neo4jWriteTx
from ..writes import Work

T = TypeVar("T")
logger = logging.getLogger("contextql.neo4j")
Rows = list[list[Any]]

READ = neo4j.READ_ACCESS
WRITE = neo4j.WRITE_ACCESS

INDEX_WAIT_SECONDS = 300


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


class Neo4jStore(Neo4jKnowledge, GraphStore):
    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        timeout: float = 10.0,
        *,
        max_connection_pool_size: int = 50,
        connection_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.uri = uri
        self.user = user
        self.database = database
        self.timeout = timeout
        self._password = password
        self._pool_size = max_connection_pool_size
        self._connection_timeout = connection_timeout
        self._driver: neo4j.AsyncDriver | None = None
        self._bookmarks: neo4j.AsyncBookmarkManager | None = None
        # Revisions that ran in a transaction after the optimistic attempt (see `write_revision`).
        self.pessimistic_revisions = 0
        self.heads = HeadCache()
        self._idle_sessions: dict[str, list[neo4j.AsyncSession]] = {READ: [], WRITE: []}
        self.group_commit = GroupCommit(self._send_write)

    def __repr__(self) -> str:  # never shows the password
        return f"Neo4jStore(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"

    # -- lifecycle and schema -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._driver is not None:
            return
        auth = (self.user, self._password) if self.user else None
        driver = AsyncGraphDatabase.driver(
            self.uri,
            auth=auth,
            max_connection_pool_size=self._pool_size,
            connection_timeout=self._connection_timeout,
            connection_acquisition_timeout=min(self.timeout, self._connection_timeout),
            # The driver retries a failed transaction for this long; an outage must fail within
            # the operation's timeout, not the driver's default 30 s.
            max_transaction_retry_time=self.timeout,
            user_agent="contextql",
            # Unknown labels/properties are expected (a fresh database before migrations, absent
            # optional properties); other warnings (deprecations, performance) stay on.
            notifications_disabled_classifications=["UNRECOGNIZED"],
        )
        _without_driver_socket_timeouts(driver)
        try:
            await driver.verify_connectivity()
        except (Neo4jError, DriverError, OSError) as exc:
            await driver.close()
            raise StoreUnavailableError("The graph store cannot be reached.") from exc
        self._bookmarks = AsyncGraphDatabase.bookmark_manager() if _routed(driver) else None
        self._driver = driver

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        for idle in self._idle_sessions.values():
            while idle:
                await idle.pop().close()
        if driver is not None:
            await driver.close()

    async def applied_migrations(self) -> list[str]:
        rows = await self._read(cypher.APPLIED_MIGRATIONS)
        return [row[0] for row in rows]

    async def apply_migration(self, migration_id: str, statements: Sequence[str]) -> None:
        """Not atomic on Neo4j: a transaction cannot mix schema and data changes, so each schema
        statement runs in its own transaction (all idempotent, `IF NOT EXISTS`), then the indexes
        are awaited, then the migration is recorded. A run that fails half-way can simply be
        repeated."""
        if migration_id in await self.applied_migrations():
            raise ConflictError(f"Migration {migration_id} is already applied.", migration=migration_id)
        for statement in statements:  # a constraint over existing data may take a while to verify
            if _BATCHED.search(statement):
                await self._batched(statement, INDEX_WAIT_SECONDS)
            else:
                await self._write(statement, timeout=INDEX_WAIT_SECONDS)
        await self._write(cypher.AWAIT_INDEXES, seconds=INDEX_WAIT_SECONDS, timeout=INDEX_WAIT_SECONDS + 10)
        await self._write(
            cypher.RECORD_MIGRATION,
            conflict=lambda: ConflictError(f"Migration {migration_id} is already applied.", migration=migration_id),
            id=migration_id,
            now=time.time_ns() // 1000,
        )

    async def _batched(self, statement: str, limit: float) -> None:
        """A data migration's `CALL { ... } IN TRANSACTIONS`: Neo4j runs it only outside an explicit
        transaction, committing each batch; repeated after a failure, it picks up what is left."""
        await self._in_session(WRITE, lambda session: run_statement(session, neo4j.Query(statement, timeout=limit), {}),
                               limit)

    # -- contexts: reads --------------------------------------------------------------------------------

    async def get_by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, ContextRecord]:
        if not ids:
            return {}
        rows = await self._read(cypher.GET_BY_IDS, workspace=workspace, ids=_unique(ids))
        records = (context_record(row[0]) for row in rows)
        return {record.id: record for record in records}

    async def get_by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, ContextRecord]:
        if not paths:
            return {}
        rows = await self._read(cypher.GET_BY_PATHS, workspace=workspace, paths=_unique(paths))
        records = (context_record(row[0]) for row in rows)
        return {record.path: record for record in records}

    async def read_tree(self, workspace: str, paths: Sequence[str], plan: TreePlan) -> TreeRead:
        if not paths:
            return TreeRead()
        query, params = tree_read.statement(plan)
        rows = await self._read(query, workspace=workspace, paths=_unique(paths), **params)
        return tree_read.decode(rows, plan)

    async def list_children(
        self, workspace: str, parent_ids: Sequence[str], page: Page
    ) -> dict[str, list[ContextRecord]]:
        limit = page_limit(page)
        seek, after = seek_clause("c", keyset.CHILDREN, page)
        result: dict[str, list[ContextRecord]] = {pid: [] for pid in parent_ids}
        if not result:
            return result
        rows = await self._read(
            cypher.LIST_CHILDREN.replace("{seek}", seek), workspace=workspace, parent_ids=list(result),
            limit=limit, **after,
        )
        for parent_id, children in rows:
            result[parent_id] = [context_record(props) for props in children]
        return result

    async def count_children(self, workspace: str, parent_ids: Sequence[str]) -> dict[str, int]:
        result = dict.fromkeys(parent_ids, 0)
        if not result:
            return result
        rows = await self._read(cypher.COUNT_CHILDREN, workspace=workspace, parent_ids=list(result))
        for parent_id, count in rows:
            result[parent_id] = count
        return result

    async def find_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page
    ) -> list[ContextRecord]:
        query, params = self._find(cypher.FIND_CONTEXTS, where, order, page)
        rows = await self._read(query, workspace=workspace, **params)
        return [context_record(row[0]) for row in rows]

    async def find_and_count_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page,
        fields: frozenset[str] | None = None,
    ) -> tuple[list[ContextRecord], int]:
        projected = fetched(with_order_keys(fields, order))
        template = cypher.FIND_AND_COUNT_CONTEXTS.replace("{props}", tree_read.projection("c", projected))
        query, params = self._find(template, where, order, page)
        [(total, found)] = await self._read(query, workspace=workspace, **params)
        return [context_record_of(props, projected) for props in found], int(total)

    @staticmethod
    def _find(template: str, where: Filter | None, order: Sequence[Order], page: Page) -> tuple[str, dict[str, Any]]:
        compiler = Neo4jFilterCompiler("c")
        clause, params = compiler.compile(where)
        keys = keyset.contexts(order)
        seek, after = seek_clause("c", keys, page)
        query = (
            template.replace("{where}", clause).replace("{seek}", seek).replace("{order}", order_clause("c", keys))
        )
        return query, {"limit": page_limit(page), **after, **params}

    async def count_contexts(self, workspace: str, where: Filter | None) -> int:
        clause, params = Neo4jFilterCompiler("c").compile(where)
        rows = await self._read(cypher.COUNT_CONTEXTS.replace("{where}", clause), workspace=workspace, **params)
        return rows[0][0] if rows else 0

    # -- contexts: writes ---------------------------------------------------------------------------------

    async def write(self, work: Work[T]) -> T:
        async def run(tx: neo4j.AsyncManagedTransaction) -> T:
            writes = Neo4jWriteTx(tx, self._count)
            result = await work(writes)
            await writes.flush()
            return result

        return await self._session_call(WRITE, run, None)

    async def write_revision(self, work: Work[T]) -> T:
        """`work` without a transaction first: two round trips instead of three, one when the head was
        written here lately (graph/neo4j/optimistic.py); in a managed transaction when it needs one
        (nothing was written then)."""
        async def attempt(session: neo4j.AsyncSession) -> T:
            writes = OptimisticWriteTx(session, self._count, self.timeout, self.heads, self.group_commit)
            try:
                result = await work(writes)
                await writes.commit()
            except OPTIMISTIC_FAILED as exc:
                raise Pessimistic("the server or the connection failed") from exc
            except Pessimistic:
                raise
            except Exception as exc:
                # judged on heads that may be stale (the cache) or torn (read without a lock): the
                # error stands if they are still the stored ones, else the transaction judges again
                if not await writes.still_current():
                    raise Pessimistic("an error over a head that changed") from exc
                raise
            return result

        try:
            return await self._in_session(WRITE, attempt, self.timeout)
        except Pessimistic:
            self.pessimistic_revisions += 1
        return await self.write(work)

    def _count(self) -> None:
        self.queries += 1

    async def _send_write(self, query: str, params: dict[str, Any]) -> Rows:
        """One auto-commit write statement in a session of its own (a group commit's flight)."""
        def run(session: neo4j.AsyncSession) -> Awaitable[Rows]:
            self.queries += 1
            return run_statement(session, neo4j.Query(query, timeout=self.timeout), params)

        return await self._in_session(WRITE, run, self.timeout)

    # -- versions ----------------------------------------------------------------------------------------------

    async def list_versions(self, workspace: str, context_id: str, page: Page) -> list[VersionRecord]:
        seek, after = seek_clause("v", keyset.VERSIONS, page)
        rows = await self._read(
            cypher.LIST_VERSIONS.replace("{seek}", seek), workspace=workspace, id=context_id,
            limit=page_limit(page), **after,
        )
        return [version_record(row[0]) for row in rows]

    async def count_versions(self, workspace: str, context_id: str) -> int:
        rows = await self._read(cypher.COUNT_VERSIONS, workspace=workspace, id=context_id)
        return rows[0][0] if rows else 0

    async def get_version(self, workspace: str, context_id: str, number: int) -> VersionRecord | None:
        rows = await self._read(cypher.GET_VERSION, workspace=workspace, id=context_id, number=number)
        return version_record(rows[0][0]) if rows else None

    async def get_version_at(self, workspace: str, context_id: str, at: int) -> VersionRecord | None:
        rows = await self._read(cypher.GET_VERSION_AT, workspace=workspace, id=context_id, at=at)
        return version_record(rows[0][0]) if rows else None

    async def versions_of(self, workspace: str, context_ids: Sequence[str]) -> dict[str, list[VersionRecord]]:
        ids = _unique(context_ids)
        if not ids:
            return {}  # every requested id is a key (with [] when it has no versions)
        rows = await self._read(cypher.VERSIONS_OF, workspace=workspace, ids=ids)
        result: dict[str, list[VersionRecord]] = {context_id: [] for context_id in ids}
        for context_id, versions in rows:
            result[context_id] = [version_record(props) for props in versions]
        return result

    # -- context types -----------------------------------------------------------------------------------------

    async def get_context_type(self, workspace: str, name: str) -> ContextTypeRecord | None:
        rows = await self._read(cypher.GET_TYPE, workspace=workspace, name=name)
        return type_record(rows[0][0]) if rows else None

    async def list_context_types(self, workspace: str) -> list[ContextTypeRecord]:
        rows = await self._read(cypher.LIST_TYPES, workspace=workspace)
        return [type_record(row[0]) for row in rows]

    # -- bulk -------------------------------------------------------------------------------------------------------

    # -- search-index outbox -------------------------------------------------------------------------------------

    async def claim_index_tasks(
        self, now: int, lease_us: int, limit: int, workspace: str | None = None
    ) -> list[IndexTask]:
        if limit <= 0:
            return []
        rows = await self._write(
            outbox.CLAIM, check=lambda rows: rows, now=now, lease=lease_us, limit=limit, workspace=workspace
        )
        return [outbox.task_record(row[0]) for row in rows]

    async def complete_index_tasks(self, tasks: Sequence[IndexTask]) -> int:
        if not tasks:
            return 0
        rows = await self._write(
            outbox.COMPLETE, check=lambda rows: rows,
            tasks=[{"context_id": t.context_id, "token": t.token} for t in tasks],
        )
        return rows[0][0] if rows else 0

    async def retry_index_task(self, task: IndexTask, not_before: int, error: str) -> None:
        await self._write(
            outbox.RETRY, id=task.context_id, token=task.token, not_before=not_before, error=error[:500]
        )

    async def count_index_tasks(self, workspace: str | None = None) -> int:
        rows = await self._read(outbox.COUNT, workspace=workspace)
        return rows[0][0] if rows else 0

    async def index_outbox_summary(self) -> tuple[int, int | None]:
        rows = await self._read(outbox.SUMMARY)
        count, oldest = rows[0] if rows else (0, None)
        return int(count), None if oldest is None else int(oldest)

    # -- access control (graph/neo4j/access.py) ----------------------------------------------------------------------

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return await access.get_key(self, key_id)

    async def list_api_keys(self, workspace: str) -> list[ApiKeyRecord]:
        return await access.list_keys(self, workspace)

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        await access.append_audit(self, records)

    async def list_audit(
        self, workspace: str, page: Page, principal: str | None = None, outcome: str | None = None
    ) -> list[AuditRecord]:
        return await access.list_audit(self, workspace, page, principal, outcome)

    async def count_audit(self, workspace: str, principal: str | None = None, outcome: str | None = None) -> int:
        return await access.count_audit(self, workspace, principal, outcome)

    # -- internals ---------------------------------------------------------------------------------------------------

    async def _read(self, query: str, **params: Any) -> Rows:
        return await self._execute(READ, query, params, None)

    async def _write(
        self,
        query: str,
        *,
        check: Callable[[Rows], T] | None = None,
        conflict: Callable[[], ConflictError] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> Any:
        try:
            return await self._execute(WRITE, query, params, check, timeout)
        except _Taken:
            if conflict is None:
                raise
            raise conflict() from None

    async def _execute(
        self,
        access: str,
        query: str,
        params: dict[str, Any],
        check: Callable[[Rows], T] | None,
        timeout: float | None = None,
    ) -> Any:
        limit = timeout or self.timeout
        if access == READ:
            rows = await self._in_session(READ, lambda session: self._auto_commit_read(session, query, params, limit),
                                          limit)
            return check(rows) if check is not None else rows

        async def work(tx: neo4j.AsyncManagedTransaction) -> Any:
            self.queries += 1
            rows = await run_statement(tx, query, params)
            # Raising here rolls the transaction back (domain errors are never retried).
            return check(rows) if check is not None else rows

        return await self._session_call(access, work, timeout)

    async def _auto_commit_read(
        self, session: neo4j.AsyncSession, query: str, params: dict[str, Any], limit: float
    ) -> Rows:
        """One read statement without an explicit transaction: no BEGIN and no COMMIT round trip.

        Retried once after a transient failure (a managed transaction would retry it too).
        """
        for attempt in (1, 2):
            try:
                self.queries += 1
                return await run_statement(session, neo4j.Query(query, timeout=limit), params)
            except (SessionExpired, TransientError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.1)
        raise AssertionError("unreachable")

    async def _session_call(
        self, access: str, work: Callable[[neo4j.AsyncManagedTransaction], Awaitable[T]], timeout: float | None
    ) -> T:
        """Run `work` as one managed transaction (retried by the driver on transient errors)."""
        limit = timeout or self.timeout
        managed = unit_of_work(timeout=limit)(work)

        async def run(session: neo4j.AsyncSession) -> T:
            if access == READ:
                return await session.execute_read(managed)
            with _pipelined_begin(session):
                return await session.execute_write(managed)

        return await self._in_session(access, run, limit)

    async def _in_session(self, access: str, run: Callable[[neo4j.AsyncSession], Awaitable[T]], limit: float) -> T:
        """`run` in a session of its own, bounded by `limit`; driver errors become domain errors."""
        driver = self._driver
        if driver is None:
            raise StoreUnavailableError("The graph store is not open.")
        idle = self._idle_sessions[access]
        session = idle.pop() if idle else driver.session(
            database=self.database, default_access_mode=access, bookmark_manager=self._bookmarks)
        try:
            # The whole call, connection attempts and retries included, is bounded by the
            # operation's timeout (plus a little for the server to report its own timeout).
            async with asyncio.timeout(limit + 1):
                try:
                    result = await run(session)
                except BaseException:
                    await session.close()
                    raise
            # A session that ran to the end holds no connection and can run the next call: creating
            # one per call (a config object, closures over itself) was ~20 us and garbage for the
            # cyclic collector each time.
            if self._driver is driver and len(idle) < self._pool_size:
                idle.append(session)
            else:
                await session.close()
            return result
        except TimeoutError:
            outcome = "" if access == READ else " A write cut short may or may not have been applied: read before retrying."
            raise StoreUnavailableError(f"The graph store did not answer within {limit:g} s.{outcome}") from None
        except ContextQLError:
            raise
        except ConstraintError as exc:
            raise _Taken() from exc
        except Neo4jError as exc:
            raise _translate(exc) from exc
        except (ServiceUnavailable, SessionExpired, DriverError, OSError) as exc:
            raise StoreUnavailableError("The graph store is unavailable.") from exc


# A statement Neo4j commits batch by batch (a data migration), which cannot run in a transaction.
_BATCHED = re.compile(r"\bIN\s+TRANSACTIONS\b", re.IGNORECASE)


def _routed(driver: neo4j.AsyncDriver) -> bool:
    """Whether the driver routes (`neo4j://`): reads may then go to another member than the write before them,
    and the sessions share a bookmark manager so that a read waits for what this process wrote. A direct
    `bolt://` driver talks to one server, which sees every commit at once: bookmarks there would only cost
    their bookkeeping per statement (2% of a write's Python calls, profile-2026-12-03-write-timeout.md)."""
    return isinstance(driver, neo4j.AsyncNeo4jDriver)


def _without_driver_socket_timeouts(driver: neo4j.AsyncDriver) -> None:
    """The driver's connections read from and write to the server without timeouts of the driver's own.

    The server hints a read timeout (`connection.recv_timeout_seconds`, 120 s by default) and the
    driver sets a write timeout (`connection_write_timeout`, 30 s); with either, every socket read or
    flush goes through a timed `wait_for`: a task, a timer and futures each time, 5-10% of a read's
    CPU in this process, 3-4% of a write's (bench/results/profile-2026-12-02-read-timeout.md,
    profile-2026-12-03-write-timeout.md). Every call here is bounded by its own, shorter, timeout
    (`_in_session`), so the driver's never fired first. The hook is private to the driver (pinned in
    pyproject.toml); without it, the socket keeps the driver's timeouts.
    """
    pool: Any = getattr(driver, "_pool", None)
    opener: Any = getattr(pool, "opener", None)
    if not callable(opener):
        return

    async def open_connection(*args: Any, **kwargs: Any) -> Any:
        connection = await opener(*args, **kwargs)
        socket = getattr(connection, "socket", None)
        for setter in ("set_read_timeout", "set_write_timeout"):
            untimed = getattr(socket, setter, None)
            if callable(untimed):
                untimed(None)
        return connection

    pool.opener = open_connection


def _pipelined_begin(session: neo4j.AsyncSession) -> contextlib.AbstractContextManager[Any]:
    """BEGIN sent together with the transaction's first statement, not as a round trip of its own.

    What the driver's own `execute_query` does (same retries, a failed BEGIN surfaces at the first
    statement); one round trip less per write is ~0.5 ms of this process's CPU. The switch is
    private to the driver (pinned in pyproject.toml); without it, BEGIN goes alone as before.
    """
    switch = getattr(session, "_pipelined_begin", None)
    return switch if isinstance(switch, contextlib.AbstractContextManager) else contextlib.nullcontext()


class _Taken(ConflictError):
    """A uniqueness constraint was violated; callers that can, replace it with a precise ConflictError."""

    def __init__(self) -> None:
        super().__init__("A record with the same identity already exists.")


def _translate(exc: Neo4jError) -> ContextQLError:
    """A domain error for a server error; never carries the server's message (it may quote Cypher)."""
    code = exc.code or ""
    if "TransactionTimedOut" in code or "LockClient" in code or code.startswith("Neo.TransientError"):
        return StoreUnavailableError("The graph store timed out or is busy; try again.")
    if code == "Neo.ClientError.Statement.EntityNotFound":
        return NotFoundError("A record was removed concurrently.")
    if code.startswith("Neo.ClientError.Security") or code.startswith("Neo.ClientError.Database"):
        return StoreUnavailableError("The graph store refused the connection or database.")
    logger.error("graph store error %s: %s", code, exc.message)
    return ContextQLError("The graph store failed to run the operation.")
