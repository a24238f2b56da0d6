"""Reads run on the event loop's thread within a budget; past it, they finish on a reader thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from contextql.graph.ladybug import engine as engine_module
from contextql.graph.ladybug.engine import Engine
from tests.contract.factories import create_one
from tests.ladybug.test_memory import _opened
from tests.ladybug.test_tree_reads import commit_meanwhile

# ~350 ms of engine work on this machine, far past the 50 ms budget of these tests (a budget that
# the short reads here stay well under, even on a busy machine); the answer is known.
SLOW = "UNWIND range(1, 10000000) AS x RETURN sum(x)"
SLOW_SUM = 50_000_005_000_000
BUDGET_MS = 50


@pytest.fixture
async def store(tmp_path):
    opened = await _opened(str(tmp_path / "graph.lbug"), readers=2, inline_read_ms=BUDGET_MS)
    try:
        yield opened
    finally:
        await opened.close()


def _engine(store) -> Engine:
    return store._engine


def _eventually(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def _threads_of(work):
    """`work` wrapped to note the thread of each attempt."""
    seen: list[str] = []

    def noted(run):
        seen.append(threading.current_thread().name)
        return work(run)

    return noted, seen


async def test_a_short_read_runs_on_the_loops_thread(store):
    await create_one(store, "w", "/a")
    before = store.read_counts
    work, seen = _threads_of(lambda run: run("MATCH (c:Context) RETURN c.path", None))
    assert await _engine(store).read_with(work) == [["/a"]]
    assert seen == [threading.current_thread().name]
    assert _since(before, store.read_counts) == {"inline_reads": 1, "threaded_reads": 0, "inline_overruns": 0,
                                                         "snapshot_retries": 0}


async def test_a_statement_past_the_budget_is_interrupted_and_the_read_finishes_on_a_reader(store):
    engine = _engine(store)
    work, seen = _threads_of(lambda run: run(SLOW, None))
    assert int((await engine.read_with(work))[0][0]) == SLOW_SUM
    assert seen[0] == threading.current_thread().name
    assert seen[1].startswith("ladybug-read")
    assert len(seen) == 2 and engine.inline_overruns == 1


async def test_a_shape_that_keeps_overrunning_skips_the_loops_thread_for_a_while(store, monkeypatch):
    monkeypatch.setattr(engine_module, "INLINE_BACKOFF_S", 60.0)
    engine = _engine(store)
    first: list[bool] = []
    for _ in range(3):  # from no history, the third overrun in a row starts the backoff
        work, seen = _threads_of(lambda run: run(SLOW, None))
        assert int((await engine.read_with(work, shape="slow"))[0][0]) == SLOW_SUM
        first.append(seen[0] == threading.current_thread().name)
    assert first == [True, True, True] and engine.inline_overruns == 3
    work, seen = _threads_of(lambda run: run("RETURN 1", None))
    assert await engine.read_with(work, shape="slow") == [[1]]
    assert [name.startswith("ladybug-read") for name in seen] == [True]


async def test_a_shape_that_rarely_overruns_stays_on_the_loops_thread(store, monkeypatch):
    # One shape, some of whose reads cost more than the budget (a filtered list's big subtree):
    # an overrun now and then must not send the short reads of the shape to the reader threads.
    monkeypatch.setattr(engine_module, "INLINE_BACKOFF_S", 60.0)
    engine = _engine(store)
    for _ in range(3):
        slow, _ = _threads_of(lambda run: run(SLOW, None))
        assert int((await engine.read_with(slow, shape="mixed"))[0][0]) == SLOW_SUM
        for _ in range(4):
            short, seen = _threads_of(lambda run: run("RETURN 1", None))
            assert await engine.read_with(short, shape="mixed") == [[1]]
            assert seen == [threading.current_thread().name]
    assert engine.inline_overruns == 3


def _busy(seconds: float) -> None:
    """CPU work on this thread for `seconds` of its CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def test_a_read_is_checked_between_statements(store):
    engine = _engine(store)

    def work(run):
        first = run("RETURN 1", None)
        _busy(2 * BUDGET_MS / 1000)  # Python work between statements counts toward the budget
        return first + run("RETURN 2", None)

    before = store.read_counts
    noted, seen = _threads_of(work)
    assert await engine.read_with(noted) == [[1], [2]]
    assert len(seen) == 2 and seen[1].startswith("ladybug-read")
    assert _since(before, store.read_counts) == {"inline_reads": 0, "threaded_reads": 1, "inline_overruns": 1,
                                                         "snapshot_retries": 0}


async def test_time_off_the_cpu_counts_only_up_to_the_wall_cap(store):
    # The budget is the loop thread's CPU time: a read whose thread the OS took off its core (a
    # sleep here) stays on the loop's thread, up to INLINE_WALL_FACTOR budgets of wall time.
    engine = _engine(store)

    def pausing(seconds):
        def work(run):
            first = run("RETURN 1", None)
            time.sleep(seconds)
            return first + run("RETURN 2", None)
        return work

    within, seen = _threads_of(pausing(1.2 * BUDGET_MS / 1000))  # past the budget, well within the cap
    assert await engine.read_with(within) == [[1], [2]]
    assert seen == [threading.current_thread().name] and engine.inline_overruns == 0
    past, seen_past = _threads_of(pausing(engine_module.INLINE_WALL_FACTOR * BUDGET_MS / 1000 * 1.5))
    assert await engine.read_with(past) == [[1], [2]]
    assert len(seen_past) == 2 and seen_past[1].startswith("ladybug-read") and engine.inline_overruns == 1


async def test_the_watchdog_interrupts_on_the_loop_threads_cpu_time(store):
    # The watchdog reads the CPU clock of the thread that runs the read, not its own.
    # (No wall-clock cap here: on a busy machine the busy loops below may take long in wall time.)
    limits = engine_module._limits(BUDGET_MS / 1000)._replace(wall=time.perf_counter() + 3600)
    assert limits.clock is not None and not limits.passed()
    passed = await asyncio.to_thread(lambda: (_busy(2 * BUDGET_MS / 1000), limits.passed())[1])
    assert not passed  # another thread's CPU time is not this read's
    _busy(2 * BUDGET_MS / 1000)
    assert await asyncio.to_thread(limits.passed)


async def test_an_overrun_in_a_snapshot_leaves_no_transaction_open(store):
    engine = _engine(store)
    await create_one(store, "w", "/a")
    attempts: list[None] = []

    def slow(run):  # meets a commit, then overruns in the transaction it runs in again
        if not attempts:
            return [attempts.append(commit_meanwhile(engine))]
        return run(SLOW, None)

    assert int((await engine.read_with(slow, snapshot=True))[0][0]) == SLOW_SUM
    assert len(attempts) == 1 and engine.inline_overruns == 1
    # The loop thread's connection starts the next snapshot cleanly (BEGIN fails inside a transaction).
    work, seen = _threads_of(_meeting_a_commit(engine))
    assert await engine.read_with(work, snapshot=True) == [[1]]
    assert seen == [threading.current_thread().name] * 2


async def test_engine_errors_are_not_taken_for_overruns(store):
    engine = _engine(store)
    with pytest.raises(RuntimeError, match="Binder exception"):
        await engine.read("MATCH (c:NoSuchTable) RETURN c.id")
    assert engine.inline_overruns == 0


async def test_a_read_finds_the_loops_connection_busy_and_uses_a_reader(store):
    engine = _engine(store)
    work, seen = _threads_of(lambda run: run("RETURN 1", None))
    with engine._inline_lock:  # another event loop's read, in another thread
        assert await engine.read_with(work) == [[1]]
    assert [name.startswith("ladybug-read") for name in seen] == [True]


async def test_a_budget_of_zero_keeps_every_read_on_the_readers(tmp_path):
    store = await _opened(str(tmp_path / "graph.lbug"), readers=1, inline_read_ms=0)
    try:
        work, seen = _threads_of(lambda run: run("RETURN 1", None))
        assert await _engine(store).read_with(work) == [[1]]
        assert [name.startswith("ladybug-read") for name in seen] == [True]
        assert _engine(store)._inline is None
    finally:
        await store.close()


async def test_the_overruns_keep_a_bounded_number_of_shapes(store):
    engine = _engine(store)
    for n in range(3):
        assert int((await engine.read(f"{SLOW} + {n}"))[0][0]) == SLOW_SUM + n
    assert engine.inline_overruns == 3 and len(engine._overruns) == 3
    for n in range(engine_module._ShapeOverruns.LIMIT - 3):
        engine._overruns.overran(n)
    assert len(engine._overruns) == engine_module._ShapeOverruns.LIMIT
    await engine.read(f"{SLOW} + 99")
    assert len(engine._overruns) == 1


async def test_the_watchdog_sleeps_when_no_read_runs_and_wakes_for_the_next(store):
    engine = _engine(store)
    watchdog = engine._watchdog
    assert await engine.read("RETURN 1") == [[1]]
    assert await asyncio.to_thread(_eventually, lambda: watchdog._parked)
    work, seen = _threads_of(lambda run: run(SLOW, None))
    assert int((await engine.read_with(work))[0][0]) == SLOW_SUM
    assert len(seen) == 2 and engine.inline_overruns == 1  # interrupted: the watchdog woke


async def test_closing_the_store_stops_the_watchdog(tmp_path):
    store = await _opened(str(tmp_path / "graph.lbug"), readers=1, inline_read_ms=BUDGET_MS)
    thread = store._engine._watchdog._thread
    await store.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


async def test_an_interrupt_that_lands_on_begin_or_commit_is_an_overrun(store, monkeypatch):
    # The watchdog may interrupt any statement of a read, and one of the next read if it looked
    # just as that one began: the engine then fails the statement with "Interrupted." (simulated
    # here: the moment cannot be caused on purpose).
    engine = _engine(store)
    await create_one(store, "w", "/a")
    run_on = engine.run_on
    for text in ("BEGIN", "COMMIT"):
        def interrupted(conn, query, params=None, text=text):
            if conn is engine._inline and query.startswith(text):
                raise RuntimeError("Interrupted.")
            return run_on(conn, query, params)

        monkeypatch.setattr(engine, "run_on", interrupted)
        work, seen = _threads_of(_meeting_a_commit(engine))
        assert await engine.read_with(work, snapshot=True, shape=text) == [[1]]
        # The attempt that met a commit, the one in a transaction (if BEGIN passed), then a reader's.
        assert len(seen) == (2 if text == "BEGIN" else 3) and seen[-1].startswith("ladybug-read")
        monkeypatch.setattr(engine, "run_on", run_on)
        # No transaction is left open on the loop thread's connection: it begins the next one.
        again, seen_again = _threads_of(_meeting_a_commit(engine))
        assert await engine.read_with(again, snapshot=True) == [[1]]
        assert seen_again == [threading.current_thread().name] * 2


def _meeting_a_commit(engine):
    """A snapshot read whose first attempt meets a commit, so that it runs again in a transaction."""
    attempts = []

    def work(run):
        if not attempts:
            attempts.append(commit_meanwhile(engine))
        return run("MATCH (c:Context) RETURN count(c)", None)

    return work


async def test_a_loop_of_reads_lets_other_tasks_run(store):
    # A read on the loop's thread finishes without waiting for anything; it must still yield, or a
    # task that reads in a loop (an export, or a test racing writers against readers) would starve
    # every other task of the server.
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        for _ in range(50):
            assert await _engine(store).read("RETURN 1") == [[1]]
    finally:
        task.cancel()
    assert ticks >= 25
