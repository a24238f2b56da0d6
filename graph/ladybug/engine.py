"""Threading and transactions over the synchronous LadybugDB engine.

Threading model
- The engine is synchronous, so every call runs on a worker thread; the event
  loop never blocks on the engine. The store owns its threads: `readers` reader
  threads and ONE writer thread (so reads never queue behind writes or behind
  other users of the loop's default executor, and vice versa).
- A `ladybug.Connection` serialises its calls internally and keeps transaction
  state per connection, so a connection must never be shared by two concurrent
  units of work. Reads borrow a connection from a pool holding one connection
  per reader thread (so a borrow never waits); the engine runs them in parallel
  and each sees the last committed state.
- A read first runs on the event loop's own thread, on a connection kept for it, within a
  budget (`inline_read_ms`). Most reads take 0.05-2 ms, and handing them to a reader thread cost
  more than that: the hop, and the GIL passed back and forth between the loop and the readers
  (at 16 concurrent requests, 1.7 ms of CPU per nested read through reader threads against 1.1
  on the loop's thread; served, nested 1.36x and the children page 1.16x the req/s, measured:
  bench/results/profile-2026-12-03-ladybug-inline.md). Longer reads too: the filtered list's
  2-12 ms reads at 16 concurrent requests cost 0.8x the server CPU per request on the loop's
  thread, for 1.18x the req/s (budget 20 ms against 5: profile-2026-12-04-session22.md). A
  watchdog thread interrupts a statement past the budget, and the read checks it between
  statements; a read that overran runs again from the start on a reader thread. So the loop is
  held for about two budgets at most, and a read that needs longer costs one budget more. A shape
  of read that keeps overrunning skips the attempt for a while (`_ShapeOverruns`). (The engine's
  own query timeout would interrupt too, but it moves every statement onto an engine worker
  thread and waits for it: the very hand-off this avoids, measured 0.25-0.3 ms of CPU per point
  statement instead of 0.15.)
- The budget counts the CPU time of the loop's thread, up to `INLINE_WALL_FACTOR` budgets of wall
  time. On a busy machine the OS takes the thread off its core mid-read; with a wall-clock budget,
  such reads overran and sent their shape to the slower reader threads for a second. Served,
  nested at 16 concurrent requests, in 10 windows of 8 s after the first: 13 overruns, up to 46 %
  of a window's reads on reader threads; with the CPU-time budget, none (measured:
  bench/results/profile-2026-12-03-ladybug-overruns.md; /debug/stats counts them).
- Writes use one dedicated writer connection. LadybugDB admits one write
  transaction at a time and fails a second one at once, so writes are
  serialised in the process: an `asyncio.Lock` queues writers on the loop, and a
  `threading.Lock` guards the writer connection itself so that a transaction
  whose awaiting task was cancelled still finishes (commits or rolls back)
  before the next one starts. Revisions that find the writer busy wait elsewhere and
  then run together in one transaction (graph/ladybug/group_commit.py).
- A snapshot read (several statements that must see one state) runs its statements each on its
  own, as a seqlock reader: the writer raises `commits_begun` before each COMMIT and
  `commits_ended` after it; a read that began with the two equal and ended with `commits_begun`
  unchanged saw no commit, so its statements all saw the state it began in. Otherwise (a commit in
  flight or landed meanwhile, rare) it runs again in one read-only transaction. The transaction
  cost every snapshot read 0.27 ms of CPU in process (3.35 against 3.08 ms per nested read, in
  one process, batches alternated): BEGIN and COMMIT, and each statement in it costlier than the
  same statement alone (bench/results/profile-2026-12-04-session19.md).
- A write method runs all its statements in ONE explicit transaction inside one
  writer-thread call. LadybugDB rolls a transaction back by itself when a
  statement in it fails (and would run later statements in auto-commit mode), so
  the transaction runner stops at the first error and only issues ROLLBACK.

Memory and checkpoints
- A committed change stays in memory (buffer-pool pages) until a checkpoint
  writes it into the database file. An UPDATE is the costly case: the engine
  keeps a copy of each changed column's whole 2,048-row vector per transaction
  (~470 KB for one context update, measured), while the WAL grows by only ~3 KB.
  The engine's own auto-checkpoint triggers on WAL size (16 MB by default), i.e.
  after some 5,000 updates and 2.5 GB; until then every read of the changed
  rows walks the growing chain of copies, so writes slow down too. So the writer
  checkpoints by itself, right after a commit, once the WAL passes
  `checkpoint_wal_bytes` (default 4 MB, about 2,000 title updates and 200 MB of
  copies), or earlier when the copies fill the pool: every `MEMORY_CHECK_WAL_BYTES`
  of WAL it asks the engine how much of the pool is in use, and checkpoints once
  that grew by a quarter of the pool since the last checkpoint.
- A checkpoint costs mostly a fixed part (on the 50k bench store: 265 ms after
  150 version appends, 378 ms after 600, 466 ms after 2,400), so a larger WAL
  makes it cheaper per write, at the price of memory and of recovery time: the
  reopen after a crash replays the WAL (0.5 s for 1.1 MB, 1.8 s for 4.5 MB,
  measured; bench/results/profile-2026-12-02-ladybug-writes2.md).
- The buffer pool is capped (`buffer_pool_bytes`); the engine default is 80% of
  the machine's RAM. A statement that finds the pool full fails with
  `StoreUnavailableError` (never an internal error); the writer then
  checkpoints to free the pool, so the next write can succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import queue
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple, TypeVar, cast

import ladybug
from ladybug import connection as ladybug_connection
from ladybug.prepared_statement import PreparedStatement

from ..errors import ConflictError, StoreUnavailableError
from ..telemetry import LADYBUG, in_context, statement

T = TypeVar("T")

Rows = list[list[Any]]
# Runs one read statement on the connection a `read_with` call borrowed.
Reader = Callable[[str, "dict[str, Any] | None"], Rows]

# Deepest CHILD_OF chain a variable-length pattern follows (the engine default of
# 30 stops silently). Callers also check the depth they reached.
MAX_TREE_DEPTH = 100_000

_UNIQUE_VIOLATION = "violates the uniqueness constraint"
_POOL_FULL = "buffer pool is full"

DEFAULT_CHECKPOINT_WAL_BYTES = 4 << 20
DEFAULT_INLINE_READ_MS = 20
# Once a shape of read (statement text, or the code of a multi-statement read) overran on a
# quarter or more of its recent attempts on the loop's thread, its reads skip the attempt for this long.
INLINE_BACKOFF_S = 1.0
# Each attempt on the loop's thread moves its shape's share of overruns this far toward 1 (it
# overran) or 0; an overrun that takes the share past OVERRUN_SHARE starts the backoff. From no
# history, the third overrun in a row does; a shape that overruns once in a hundred reads never does.
OVERRUN_WEIGHT = 0.1
OVERRUN_SHARE = 0.25
# A read on the loop's thread also overruns after this many budgets of wall time (one the engine
# blocks in, or the thread off its core for that long), though its CPU time is within the budget.
INLINE_WALL_FACTOR = 4
_INTERRUPTED = "Interrupted."
MEMORY_CHECK_WAL_BYTES = 256 << 10  # title updates: ~130 writes; content updates: up to ~40 MB of copies

log = logging.getLogger(__name__)


def is_pool_full(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and _POOL_FULL in str(exc)


def _domain_error(exc: BaseException) -> BaseException | None:
    """The domain error an engine error stands for, if any (raised `from` the engine error)."""
    if isinstance(exc, RuntimeError):
        if _UNIQUE_VIOLATION in str(exc):
            # Pre-checks normally report conflicts with details; this is the primary-key backstop.
            return ConflictError("A record with this key already exists.")
        if _POOL_FULL in str(exc):
            return StoreUnavailableError(
                "The graph store is out of memory for this operation (its buffer pool is full); "
                "try again shortly, or raise CONTEXTQL_LADYBUG_BUFFER_POOL_MB."
            )
    return None

# The driver keeps every statement text it prepared, and a prepared statement with ORDER BY
# pins ~1.5 MB of the buffer pool for as long as it lives (measured: 100 of them hold 150 MB;
# a 64 MB pool cannot hold 100). Page windows are written inline (see
# `graph.cypher_filters.limit_clause`) and filters make their own texts, so the distinct texts
# are not bounded: the cache keeps at most this many per connection (6 connections: at most
# ~290 MB), dropping the oldest first. Re-preparing an evicted statement costs ~0.5 ms.
_STATEMENT_CACHE_LIMIT = 32


def _bound_statement_cache(conn: ladybug.Connection) -> None:
    cache = getattr(conn, "_pybind_implicit_prepared_cache", None)
    if cache is None or len(cache) <= _STATEMENT_CACHE_LIMIT:
        return
    with conn._prepared_cache_lock:
        for key in list(cache)[: len(cache) - _STATEMENT_CACHE_LIMIT]:
            close = getattr(cache.pop(key), "close", None)
            if callable(close):
                with contextlib.suppress(RuntimeError):
                    close()


# The statement texts each connection prepared, by text and parameter types (the types a
# prepared statement was bound with: ladybug's own key, `_pybind_param_signature`), oldest
# first, at most `_STATEMENT_CACHE_LIMIT` per connection. Running a prepared statement skips
# the driver's per-call work on the text (scan and JSON rewrites, a regular expression per
# parameter): 0.01-0.07 ms per statement, measured (bench/results/profile-2026-12-02-ladybug-reads.md).
_Prepared = dict[tuple[str, tuple[Any, ...]], PreparedStatement]
_PREPARED: weakref.WeakKeyDictionary[ladybug.Connection, _Prepared] = weakref.WeakKeyDictionary()
_value_signature: Callable[[Any], tuple[Any, ...]] | None = getattr(
    ladybug_connection, "_pybind_value_signature", None)
# The binding key of a list whose items (None aside) are all of one of these types.
_LIST_OF = {str: ("list", ("string",)), float: ("list", ("double",)), bool: ("list", ("bool",)),
            int: ("list", ("int64",))}
_EMPTY_LIST = ("list", ("any",))


def _param_signature(params: dict[str, Any]) -> tuple[Any, ...]:
    """ladybug's `_pybind_param_signature(params)`, the same key, without the garbage it makes.

    For a list, ladybug defines a recursive inner function per call: a reference cycle that only the
    cyclic collector frees. With a list in most statements, that was most of the server's cyclic
    garbage (served, ~2 cycles per nested request), so the collector ran every few seconds, for
    5-8 ms on the loop's thread, often inside a read there, which then overran its budget. A list of
    one plain type is keyed here as ladybug keys it (tests/ladybug/test_prepared_statements.py checks
    the two agree); anything else is left to ladybug."""
    assert _value_signature is not None
    return tuple(sorted((name, _list_signature(value) if type(value) is list else _value_signature(value))
                        for name, value in params.items()))


def _list_signature(items: list[Any]) -> tuple[Any, ...]:
    assert _value_signature is not None
    kinds = {type(item) for item in items if item is not None}
    if not kinds:
        return _EMPTY_LIST
    if len(kinds) == 1:
        known = _LIST_OF.get(kinds.pop())
        if known is not None:
            return known
    return _value_signature(items)


def _prepared(conn: ladybug.Connection, query: str, params: dict[str, Any]) -> PreparedStatement | None:
    """`query` prepared on `conn` for parameters of these types (kept), or None when this
    driver's binding key is unknown or the statement does not prepare (the caller then runs the
    text, which reports the error as usual)."""
    if _value_signature is None:
        return None
    cache = _PREPARED.setdefault(conn, {})
    key = (query, _param_signature(params))
    prepared = cache.pop(key, None)
    if prepared is None:
        prepared = PreparedStatement(conn, query, params)
        if not prepared.is_success():
            return None
        while len(cache) >= _STATEMENT_CACHE_LIMIT:
            cache.pop(next(iter(cache))).close()  # the least recently used
    cache[key] = prepared  # now the most recently used
    return prepared


# BEGIN, COMMIT and ROLLBACK run around every write and every snapshot read that met a commit. As texts the driver
# parses and plans each one again: BEGIN READ ONLY + COMMIT took 0.30 ms of a nested read's 3.2 ms of
# CPU in process, 0.20 ms prepared once per connection (a pair alone: 0.11-0.17 against 0.03-0.05 ms;
# bench/results/profile-2026-12-03-session18.md). Same semantics: tests/ladybug/test_prepared_statements.py.
# Kept apart from `_PREPARED`, so they take no room there.
_CONTROL = frozenset({"BEGIN TRANSACTION", "BEGIN TRANSACTION READ ONLY", "COMMIT", "ROLLBACK"})
_CONTROL_PREPARED: weakref.WeakKeyDictionary[ladybug.Connection, dict[str, PreparedStatement]] = (
    weakref.WeakKeyDictionary())


def _control(conn: ladybug.Connection, query: str) -> PreparedStatement | None:
    """The transaction statement `query` prepared on `conn` (None if it does not prepare: run as text)."""
    known = _CONTROL_PREPARED.setdefault(conn, {})
    prepared = known.get(query)
    if prepared is None:
        prepared = PreparedStatement(conn, query, {})
        if not prepared.is_success():
            return None
        known[query] = prepared
    return prepared


def _forget_prepared(conn: ladybug.Connection) -> None:
    for prepared in [*_PREPARED.pop(conn, {}).values(), *_CONTROL_PREPARED.pop(conn, {}).values()]:
        with contextlib.suppress(RuntimeError):
            prepared.close()


class _Overran(Exception):
    """A read on the loop's thread passed its budget; it runs again on a reader thread."""


_NOT_INLINE: Any = object()  # a read was not run on the loop's thread
_MET_A_COMMIT: Any = object()  # a snapshot read outside a transaction met a commit


class _Limits(NamedTuple):
    """When a read on the loop's thread overruns: its thread's CPU clock (None where the platform
    cannot read another thread's clock: wall time only) past `cpu`, or `perf_counter()` past `wall`."""

    clock: int | None
    cpu: float
    wall: float

    def passed(self) -> bool:
        if time.perf_counter() > self.wall:
            return True
        try:
            return self.clock is not None and time.clock_gettime(self.clock) > self.cpu
        except OSError:  # the thread has ended
            return False


def _limits(budget_s: float) -> _Limits:
    """The limits of a read starting now on this thread, within `budget_s`."""
    if not _THREAD_CLOCKS:
        return _Limits(None, 0.0, time.perf_counter() + budget_s)
    # Asked per read (0.08 us): a clock kept per thread ident could outlive its thread, whose ident a new one reuses.
    clock = time.pthread_getcpuclockid(threading.get_ident())
    return _Limits(clock, time.clock_gettime(clock) + budget_s, time.perf_counter() + INLINE_WALL_FACTOR * budget_s)


_THREAD_CLOCKS = hasattr(time, "pthread_getcpuclockid")  # not on macOS or Windows: wall time only


class _ShapeOverruns:
    """Which shapes of read skip the attempt on the loop's thread: those that overran on a quarter
    or more of their recent attempts there (a moving share, `OVERRUN_WEIGHT` per attempt), for
    `INLINE_BACKOFF_S` from the overrun that took the share past `OVERRUN_SHARE`.

    A share, not the last attempt, because a shape's cost can depend on its parameters. The
    filtered list's rare scan of a big subtree (~1 % of the bench's targets, ~12 ms) overran, and
    one overrun used to send every read of the shape to the reader threads for a second: nearly
    all of them ran there. Served at 16 concurrent requests that cost 5.8 ms of CPU per request
    against 3.8 with every read on the loop's thread (two runs minutes apart, not paired; the paired
    A/B of the budget is in bench/results/profile-2026-12-04-session22.md).

    A read asks `skip` before it takes the inline connection and tells `ran` or `overran` while
    it holds it, so one thread at a time changes a share.
    """

    LIMIT = 1024  # statement texts are many: past this many shapes, start again

    def __init__(self) -> None:
        self._shapes: dict[object, list[float]] = {}  # shape -> [share of overruns, monotonic time of the next attempt]

    def skip(self, shape: object) -> bool:
        state = self._shapes.get(shape)
        return state is not None and state[1] > time.monotonic()

    def ran(self, shape: object) -> None:
        """An attempt of `shape` finished within the budget."""
        state = self._shapes.get(shape)
        if state is not None:
            state[0] *= 1 - OVERRUN_WEIGHT

    def overran(self, shape: object) -> None:
        state = self._shapes.get(shape)
        if state is None:
            if len(self._shapes) >= self.LIMIT:
                self._shapes.clear()
            state = self._shapes[shape] = [0.0, 0.0]
        state[0] += OVERRUN_WEIGHT * (1 - state[0])
        if state[0] > OVERRUN_SHARE:
            state[1] = time.monotonic() + INLINE_BACKOFF_S

    def __len__(self) -> int:
        return len(self._shapes)

    def clear(self) -> None:
        self._shapes.clear()


class _Watchdog:
    """Interrupts the statement of a read on the loop's thread once it is past its deadline.

    A thread that looks every `period` s while such reads run, and waits for the next one after a
    second without any. Reads only set and clear an attribute (no lock, no wake-up), so the watch
    costs the loop nothing; an interrupt that lands on the next read makes that one overrun, and
    it runs again on a reader thread.
    """

    IDLE_S = 1.0

    def __init__(self, conn: ladybug.Connection, period: float) -> None:
        self._conn = conn
        self._period = period
        self._running: _Limits | None = None  # of the read in progress; a new tuple per read
        self._started = 0  # reads watched so far
        self._parked = False
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ladybug-watchdog", daemon=True)
        self._thread.start()

    def watch(self, limits: _Limits) -> None:
        self._running = limits
        self._started += 1
        if self._parked:  # after `_running` is set: see `_park`
            self._wake.set()

    def done(self) -> None:
        self._running = None

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join()

    def _watch(self) -> None:
        idle = 0.0
        while True:
            started = self._started
            if self._stopped.wait(self._period):
                return
            running = self._running
            if running is not None and running.passed() and running is self._running:
                self._conn.interrupt()
            if running is not None or self._started != started:
                idle = 0.0
                continue
            idle += self._period
            if idle >= self.IDLE_S:
                if not self._park():
                    return
                idle = 0.0

    def _park(self) -> bool:
        """Wait for the next read (False: stopped meanwhile)."""
        self._parked = True
        # Set before this reads `_running`, as `watch` sets `_running` before it reads `_parked`:
        # one of the two sees the other, so a read never runs unwatched.
        if self._running is None:
            self._wake.wait()
        self._wake.clear()
        self._parked = False
        return not self._stopped.is_set()


class Tx:
    """Runs statements on the connection of one open transaction (on the writer thread)."""

    def __init__(self, engine: Engine, conn: ladybug.Connection) -> None:
        self._engine = engine
        self._conn = conn

    def run(self, query: str, params: dict[str, Any] | None = None) -> Rows:
        return self._engine.run_on(self._conn, query, params)

    def run_batched(self, query: str, name: str, items: list[Any], params: dict[str, Any] | None = None) -> Rows:
        """Run `query` once per chunk of `items` (bound to `$name`); concatenated results."""
        out: Rows = []
        size = self._engine.batch_size
        for start in range(0, len(items), size):
            out.extend(self.run(query, {**(params or {}), name: items[start:start + size]}))
        return out

    def run_rows(self, query: str, rows: list[dict[str, Any]], params: dict[str, Any] | None = None) -> Rows:
        """Run `query` once per chunk of `rows`, passed column-wise.

        The query reads row `i` as `$<column>[i]` under `UNWIND range(1, $n_rows) AS i`
        (see `columns`). Columns are three times cheaper to bind than a list of
        maps; each column ends with a typed sentinel (never read) because the
        engine cannot type a list of only nulls or only empty lists.
        """
        out: Rows = []
        size = self._engine.batch_size
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            bound = {key: [row[key] for row in chunk] + [sentinel(key)] for key in chunk[0]}
            out.extend(self.run(query, {**(params or {}), **bound, "n_rows": len(chunk)}))
        return out


class AsyncTx:
    """An open write transaction driven from the event loop.

    Writes are deferred and sent with the next read or the commit, so a typical write costs
    two writer-thread hops: BEGIN + its reads, then its writes + COMMIT.
    """

    def __init__(self, engine: Engine, conn: ladybug.Connection, loop: asyncio.AbstractEventLoop,
                 executor: ThreadPoolExecutor) -> None:
        self._tx = Tx(engine, conn)
        self._engine = engine
        self._loop = loop
        self._executor = executor
        self._pending: list[Callable[[Tx], Any]] = []
        self._begun = False
        self.calls = 0  # writer-thread calls so far

    def defer(self, fn: Callable[[Tx], Any]) -> None:
        self._pending.append(fn)

    @property
    def deferred(self) -> int:
        """How many writes wait for the next call."""
        return len(self._pending)

    def undefer(self, keep: int) -> None:
        """Drop the deferred writes after the first `keep` (those of a work that gave up before
        any of them was sent: graph/ladybug/group_commit.py)."""
        del self._pending[keep:]

    async def call(self, fn: Callable[[Tx], T]) -> T:
        """Run the deferred writes, then `fn`, on the writer thread."""
        pending, self._pending = self._pending, []
        self.calls += 1
        return await self._loop.run_in_executor(self._executor, in_context(self._run), pending, fn)

    def _run(self, pending: list[Callable[[Tx], Any]], fn: Callable[[Tx], T]) -> T:
        with self._engine._writer_thread_lock:
            if not self._begun:
                self._tx.run("BEGIN TRANSACTION")
                self._begun = True
            for step in pending:
                step(self._tx)
            return fn(self._tx)

    async def commit(self) -> None:
        await self.call(self._commit)

    def _commit(self, tx: Tx) -> None:
        self._engine._commit(tx._conn)
        self._engine._after_commit(tx._conn)

    @property
    def begun(self) -> bool:
        return self._begun


_INT_COLUMNS = frozenset({"depth", "version", "created_at", "updated_at", "number", "seq", "applied_at"})
_BOOL_COLUMNS = frozenset({"inherit"})
_LIST_COLUMNS = frozenset({"tags", "changed"})


def sentinel(column: str) -> Any:
    if column in _INT_COLUMNS:
        return 0
    if column in _BOOL_COLUMNS:
        return False
    if column in _LIST_COLUMNS:
        return [""]
    return ""


def columns(*names: str) -> str:
    """`name: $name[i], ...` for a CREATE/SET map read from `Tx.run_rows` columns."""
    return ", ".join(f"{name}: ${name}[i]" for name in names)


class Engine:
    """A database, a pool of reader connections and one writer connection."""

    def __init__(
        self, path: str, readers: int, count: Callable[[], None], batch_size: int = 5_000, *,
        buffer_pool_bytes: int = 0, checkpoint_wal_bytes: int = DEFAULT_CHECKPOINT_WAL_BYTES,
        inline_read_ms: float = DEFAULT_INLINE_READ_MS,
    ) -> None:
        self.path = path
        self.readers = max(1, readers)
        self.batch_size = batch_size
        self.buffer_pool_bytes = buffer_pool_bytes  # 0: the engine default (80% of RAM)
        self.checkpoint_wal_bytes = checkpoint_wal_bytes  # 0: leave checkpoints to the engine
        self.checkpoints = 0
        self.inline_read_ms = inline_read_ms  # 0: every read on a reader thread (read when opening)
        self.inline_overruns = 0  # reads run again on a reader thread after passing the budget
        self.inline_reads = 0  # reads done on the loop's thread
        self.threaded_reads = 0  # reads done on a reader thread (overruns, backed-off shapes, no budget)
        # The seqlock of snapshot reads (module docstring): raised on the writer thread, under
        # `_writer_thread_lock`, before and after every COMMIT.
        self.commits_begun = 0
        self.commits_ended = 0
        self.snapshot_retries = 0  # snapshot reads that met a commit and ran again in a transaction
        self._count = count
        self._next_memory_check = MEMORY_CHECK_WAL_BYTES
        self._used_after_checkpoint: int | None = None  # pool bytes in use after the last checkpoint
        self._db: ladybug.Database | None = None
        self._writer: ladybug.Connection | None = None
        self._pool: queue.SimpleQueue[ladybug.Connection] = queue.SimpleQueue()
        self._all_readers: list[ladybug.Connection] = []
        self._inline: ladybug.Connection | None = None  # the event loop thread's reader
        self._inline_lock = threading.Lock()  # held by the one read using it (loops in other threads go to readers)
        self._overruns = _ShapeOverruns()  # shapes of read that skip the loop's thread for now
        self._watchdog: _Watchdog | None = None
        self._write_lock = asyncio.Lock()
        self._read_threads: ThreadPoolExecutor | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._writer_thread_lock = threading.Lock()
        self._lifecycle_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._db is not None

    def open_sync(self) -> None:
        with self._lifecycle_lock:
            if self._db is None:
                self._open_locked()

    def _open_locked(self) -> None:
        db = ladybug.Database(self.path, buffer_pool_size=self.buffer_pool_bytes)
        try:
            writer = ladybug.Connection(db)
            self.run_on(writer, f"CALL var_length_extend_max_depth={MAX_TREE_DEPTH}")
            readers = [ladybug.Connection(db) for _ in range(self.readers)]
            inline = ladybug.Connection(db) if self.inline_read_ms > 0 else None
            for reader in [*readers, inline]:
                if reader is not None:
                    # A request's reads are small: run them on the calling thread instead of waking
                    # the engine's workers for each (concurrency comes from the reader threads).
                    reader.set_max_threads_for_exec(1)
        except BaseException:
            db.close()
            raise
        self._db, self._writer, self._all_readers, self._inline = db, writer, readers, inline
        self._overruns.clear()
        if inline is not None:
            self._watchdog = _Watchdog(inline, self.inline_read_ms / 1000)
        self._pool = queue.SimpleQueue()
        for conn in readers:
            self._pool.put(conn)
        self._read_threads = ThreadPoolExecutor(self.readers, thread_name_prefix="ladybug-read")
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="ladybug-write")

    def close_sync(self) -> None:
        with self._lifecycle_lock:
            if self._db is not None:
                self._close_locked()

    def _close_locked(self) -> None:
        with self._writer_thread_lock:
            db, self._db = self._db, None
            if self._watchdog is not None:  # first: it must not interrupt a closed connection
                self._watchdog.stop()
                self._watchdog = None
            for conn in [*self._all_readers, self._inline, self._writer]:
                if conn is not None:
                    conn.close()  # interrupts and waits for a call in flight
                    _forget_prepared(conn)
            self._all_readers, self._inline, self._writer = [], None, None
            if db is not None:
                db.close()
        for executor in (self._read_threads, self._write_thread):
            if executor is not None:
                executor.shutdown(wait=False)
        self._read_threads = self._write_thread = None

    # -- statements -------------------------------------------------------------

    def run_on(self, conn: ladybug.Connection, query: str, params: dict[str, Any] | None = None) -> Rows:
        """Run one statement; the caller owns `conn` for the duration of the call.

        The one place a statement reaches the engine, so it is timed (and spanned) here, rows included."""
        self._count()
        with statement(LADYBUG, query):
            return self._execute(conn, query, params)

    @staticmethod
    def _execute(conn: ladybug.Connection, query: str, params: dict[str, Any] | None) -> Rows:
        prepared = (_prepared(conn, query, params) if params
                    else _control(conn, query) if query in _CONTROL else None)
        result = conn.execute(query if prepared is None else prepared, params or {})
        if isinstance(result, list):  # one result per statement: this code sends one statement per call
            for each in result:
                each.close()
            raise TypeError("run_on takes one statement")
        try:
            return cast(Rows, result.get_all())  # rows are lists unless a connection asks for dicts
        finally:
            result.close()
            _bound_statement_cache(conn)

    async def read(self, query: str, params: dict[str, Any] | None = None) -> Rows:
        """Run one read-only statement (on the loop's thread within the budget, else on a reader)."""
        return await self.read_with(lambda run: run(query, params), shape=query)

    async def read_with(self, work: Callable[[Reader], T], snapshot: bool = False, shape: object = None) -> T:
        """Run `work`: several read statements (the later ones chosen from the earlier ones' rows)
        on one connection, on the loop's thread within the budget, else in one reader-thread call.
        With `snapshot`, every statement sees the same committed state: `work` runs as a seqlock
        reader, and again in one read-only transaction if a commit landed meanwhile (module
        docstring). `work` may run twice (after an overrun or a commit), so it only reads. `shape`
        names reads that cost alike (default: `work`'s code)."""
        executor = self._read_threads
        if executor is None:
            raise RuntimeError("the Ladybug store is not open")
        result = self._read_inline(work, snapshot, getattr(work, "__code__", work) if shape is None else shape)
        if result is not _NOT_INLINE:
            self.inline_reads += 1
            # A read still lets the loop run other tasks, as one on a reader thread did: a loop of
            # reads (an export, a polling worker) must not starve the rest of the server.
            await asyncio.sleep(0)
            return result
        self.threaded_reads += 1
        return await asyncio.get_running_loop().run_in_executor(
            executor, in_context(self._read_work), work, snapshot)

    def _read_inline(self, work: Callable[[Reader], T], snapshot: bool, shape: object) -> T:
        """`work` on the loop thread's connection, or `_NOT_INLINE` when it is busy, the shape
        keeps overrunning, or this read passed the budget."""
        conn, watchdog = self._inline, self._watchdog  # both set while open with a budget, else None
        if conn is None or watchdog is None or self._overruns.skip(shape):
            return _NOT_INLINE
        if not self._inline_lock.acquire(blocking=False):
            return _NOT_INLINE
        limits = _limits(self.inline_read_ms / 1000)
        watchdog.watch(limits)
        try:

            def run(query: str, params: dict[str, Any] | None) -> Rows:
                if limits.passed():
                    raise _Overran
                return self.run_on(conn, query, params)

            result = self._read_on(conn, run, work, snapshot)
            self._overruns.ran(shape)
            return result
        except (_Overran, RuntimeError) as exc:
            # "Interrupted.": the watchdog's doing, on any statement of the read (BEGIN and COMMIT too).
            if isinstance(exc, RuntimeError) and str(exc) != _INTERRUPTED:
                raise
            if snapshot:
                with contextlib.suppress(RuntimeError):  # an interrupted COMMIT may leave it open
                    self._execute(conn, "ROLLBACK", None)
            self.inline_overruns += 1
            self._overruns.overran(shape)
            return _NOT_INLINE
        finally:
            watchdog.done()
            self._inline_lock.release()

    def _read_sync(self, query: str, params: dict[str, Any] | None) -> Rows:
        return self._read_work(lambda run: run(query, params))

    def _read_work(self, work: Callable[[Reader], T], snapshot: bool = False) -> T:
        """`work` on a pooled reader connection (on a reader thread)."""
        if self._db is None:
            raise RuntimeError("the Ladybug store is not open")
        conn = self._pool.get()
        try:
            return self._read_on(conn, functools.partial(self.run_on, conn), work, snapshot)
        finally:
            self._pool.put(conn)

    def _read_on(self, conn: ladybug.Connection, run: Reader, work: Callable[[Reader], T], snapshot: bool) -> T:
        try:
            if not snapshot:
                return work(run)
            result = self._seqlock_read(run, work)
            if result is not _MET_A_COMMIT:
                return result
            self.snapshot_retries += 1
            self.run_on(conn, "BEGIN TRANSACTION READ ONLY", None)
            try:
                result = work(run)
            except BaseException:
                with contextlib.suppress(RuntimeError):  # the engine may have ended it already
                    self._execute(conn, "ROLLBACK", None)
                raise
            self.run_on(conn, "COMMIT", None)
            return result
        except RuntimeError as exc:
            domain = _domain_error(exc)
            if domain is not None:
                raise domain from exc
            raise

    def _seqlock_read(self, run: Reader, work: Callable[[Reader], T]) -> T:
        """`work` outside a transaction, or `_MET_A_COMMIT` if a commit was in flight or landed
        meanwhile (module docstring)."""
        ended = self.commits_ended  # read first: a commit between the two reads makes them differ
        if self.commits_begun != ended:
            return _MET_A_COMMIT
        try:
            result = work(run)
        except (_Overran, RuntimeError):  # overruns and engine errors: the caller's to handle
            raise
        except Exception:
            if self.commits_begun == ended:
                raise
            return _MET_A_COMMIT  # rows of two states may break what `work` assumes of them
        return result if self.commits_begun == ended else _MET_A_COMMIT

    async def write(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in one write transaction; on any error nothing is kept."""
        async with self._write_lock:
            executor = self._write_thread
            if executor is None:
                raise RuntimeError("the Ladybug store is not open")
            return await asyncio.get_running_loop().run_in_executor(executor, in_context(self._write_sync), work)

    def _write_sync(self, work: Callable[[Tx], T]) -> T:
        with self._writer_thread_lock:
            conn = self._writer
            if conn is None:
                raise RuntimeError("the Ladybug store is not open")
            self.run_on(conn, "BEGIN TRANSACTION")
            try:
                result = work(Tx(self, conn))
                self._commit(conn)
            except BaseException as exc:
                self._rollback(conn)
                if is_pool_full(exc):
                    self._checkpoint(conn)
                domain = _domain_error(exc)
                if domain is not None:
                    raise domain from exc
                raise
            self._after_commit(conn)
            return result

    def _commit(self, conn: ladybug.Connection) -> None:
        """COMMIT the writer's transaction, within the seqlock that snapshot reads check (`_seqlock_read`)."""
        self.commits_begun += 1
        try:
            self.run_on(conn, "COMMIT")
        finally:
            self.commits_ended += 1

    @property
    def writing(self) -> bool:
        """Whether a write holds the writer (a write started now would wait)."""
        return self._write_lock.locked()

    @contextlib.asynccontextmanager
    async def writes_paused(self) -> AsyncIterator[None]:
        """Hold every write of this process back (they queue on the write lock) while the body reads;
        with one writing process, the body then reads one instant's state."""
        async with self._write_lock:
            yield

    async def transaction(self, work: Callable[[AsyncTx], Awaitable[T]]) -> T:
        """Run async `work` in one write transaction that spans several writer-thread calls.

        The write lock is held throughout, so this transaction is the only writer; `work`
        hands statements to the writer thread through `AsyncTx.call`. On any error (or
        cancellation) the transaction is rolled back before the lock is released.
        """
        async with self._write_lock:
            executor = self._write_thread
            conn = self._writer
            if executor is None or conn is None:
                raise RuntimeError("the Ladybug store is not open")
            loop = asyncio.get_running_loop()
            tx = AsyncTx(self, conn, loop, executor)
            try:
                result = await work(tx)
                await tx.commit()
                return result
            except BaseException as exc:
                if tx.begun:
                    await asyncio.shield(loop.run_in_executor(executor, self._rollback_locked, conn, is_pool_full(exc)))
                domain = _domain_error(exc)
                if domain is not None:
                    raise domain from exc
                raise

    def _rollback_locked(self, conn: ladybug.Connection, checkpoint: bool = False) -> None:
        with self._writer_thread_lock:
            self._rollback(conn)
            if checkpoint:
                self._checkpoint(conn)

    # -- checkpoints (see the module docstring) -----------------------------------------

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.path + ".wal")
        except OSError:
            return 0

    def _after_commit(self, conn: ladybug.Connection) -> None:
        """On the writer thread, after a COMMIT: checkpoint once the WAL is past the threshold, or
        once the changes since the last checkpoint hold a quarter of the pool."""
        if not self.checkpoint_wal_bytes:
            return
        wal = self.wal_bytes()
        if wal >= self.checkpoint_wal_bytes:
            self._checkpoint(conn)
        elif wal >= self._next_memory_check:
            self._next_memory_check = wal + MEMORY_CHECK_WAL_BYTES
            if self._pool_growth(conn) >= self.buffer_pool_bytes // 4 > 0:
                self._checkpoint(conn)

    def _pool_used(self, conn: ladybug.Connection) -> int:
        # Not counted as a statement either (see `_checkpoint`).
        return int(self._execute(conn, "CALL bm_info() RETURN *", None)[0][1])

    def _pool_growth(self, conn: ladybug.Connection) -> int:
        """Pool bytes in use beyond what was in use after the last checkpoint (the first check:
        beyond nothing), i.e. the copies of changed columns, and pages read since."""
        try:
            return self._pool_used(conn) - (self._used_after_checkpoint or 0)
        except RuntimeError as exc:
            log.warning("LadybugDB pool size unknown: %s", exc)
            return 0

    def _checkpoint(self, conn: ladybug.Connection) -> None:
        # The write is committed already: a failed checkpoint must not fail it. The next
        # commit tries again (the WAL is still past the threshold).
        try:
            # Not counted as a statement: it is the engine's housekeeping, not part of the operation
            # that happened to commit past the threshold (statement counts per operation stay exact).
            with statement(LADYBUG, "CHECKPOINT"):
                self._execute(conn, "CHECKPOINT", None)
            self.checkpoints += 1
            self._next_memory_check = MEMORY_CHECK_WAL_BYTES
            self._used_after_checkpoint = self._pool_used(conn)
        except RuntimeError as exc:
            log.warning("LadybugDB checkpoint failed (will retry after the next write): %s", exc)

    def memory(self) -> tuple[int, int]:
        """(buffer pool size, bytes of it in use), as the engine counts them."""
        rows = self._read_sync("CALL bm_info() RETURN *", None)
        return int(rows[0][0]), int(rows[0][1])

    def _rollback(self, conn: ladybug.Connection) -> None:
        # The engine may already have rolled back when the failing statement aborted
        # the transaction ("No active transaction").
        with contextlib.suppress(RuntimeError):
            self.run_on(conn, "ROLLBACK")
