"""`EdgeProcessEngine`: the Edge index engine (`edge.py`) run in a child process, behind the same contract.

Why: qdrant-edge-py holds the GIL for a whole query (bench/results/search-gil-2026-12-02.md: at c=16
a quarter of the server's GIL time was Edge queries), so every other thread of the server, the event
loop first, waited on it. In a child process the server only spends the IPC under its GIL: pickling
the request and the hits. Measured on a busy shared 2-core machine it was no faster end to end, so
it is off by default (`CONTEXTQL_INDEX_PROCESS`; bench/results/search-edgeproc-2026-12-02.md).

The child (`python -m contextql.graph.index.edge_process`) owns one `EdgeEngine` and answers over three
socket pairs (`multiprocessing.connection`'s framing: pickled messages), each served in order:
- the engine lane: every engine call from any thread (`VectorIndex`'s index thread), incl. the
  optimisation steps that touch the live shard (`plan_optimize`, `resume_writes`, `finish_optimize`);
- the query lane: `aquery`, queries sent from the event loop and pipelined (`_QueryLane`); the
  child runs them and the engine lane's calls one at a time;
- the job lane: the slow parts of an optimisation `VectorIndex.optimize` runs off the index thread
  (copying the shard's folder, loading the optimised copy, deleting the old one), so queries go on
  meanwhile, as they do in-process. The optimiser itself still runs in its own process (`edge.py`).

Failures: an exception the engine raises reaches the caller as the same type (with the child's
traceback as a note). If the child dies, the calls it was serving raise `IndexProcessError`; the
next call starts a new child, which reopens the shards from disk (Edge's WAL has every applied
update). An optimisation the dead child was running is dropped. `close()` ends the child; a child
whose parent dies sees its pipes close and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .engine import HIT_FIELDS, IndexProcessError, Point, Scored, Where

_ENGINE, _JOBS, _QUERIES = 0, 1, 2  # the lanes
_CLOSE_TIMEOUT = 10.0  # seconds the child gets to flush its shards and exit before it is killed


@dataclass
class RemoteJob:
    """An optimisation job the child holds (`edge.OptimizeJob`), as `VectorIndex.optimize` drives it."""

    owner: EdgeProcessEngine
    child: int  # which child holds it: a job of a dead child is gone
    key: int
    name: str
    argv: list[str]

    def copy(self) -> None:
        self.owner._job_call(self, "copy")

    def open(self) -> None:
        self.owner._job_call(self, "open")

    def retire(self) -> None:
        self.owner._job_call(self, "retire", stale_ok=True)

    def discard(self) -> None:
        self.owner._job_call(self, "discard", stale_ok=True)

    def command(self) -> list[str]:
        return self.argv


class _Child:
    """The child process and the parent's ends of its two pipes (sockets)."""

    def __init__(self, number: int, root: Path, options: dict[str, Any]) -> None:
        # A plain `python -m` child, not multiprocessing's spawn: that re-runs the parent's main script
        # in the child, which a script without a `__name__` guard (a tool, a benchmark) does not survive.
        self.number = number
        pairs = [socket.socketpair() for _ in (_ENGINE, _JOBS, _QUERIES)]
        theirs = [b.fileno() for _, b in pairs]
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, *map(str, theirs), str(root), json.dumps(options)], pass_fds=theirs,
            stdin=subprocess.DEVNULL)
        for _, child_end in pairs:  # closed here, so the child's death reads as EOF
            child_end.close()
        self.conns = tuple(Connection(ours.detach()) for ours, _ in pairs[:2])
        self.queries_socket = pairs[2][0]
        self.queries: _QueryLane | None = None  # opened by the first `aquery`, on its event loop
        self.opening: asyncio.Lock | None = None
        self.dead = False
        self.exitcode: int | None = None

    def stop(self, *, timeout: float) -> None:
        for conn in self.conns:
            conn.close()
        if self.queries is not None:
            self.queries.close()
        else:
            self.queries_socket.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.exitcode = self.process.returncode


class _QueryLane:
    """Queries from the event loop, pipelined over their own socket: no thread hop and no GIL hand-off per
    query (a thread blocked on a pipe must win the GIL back after each read, up to the 5 ms switch interval
    each time the event loop is busy). The child answers them in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.loop = asyncio.get_running_loop()
        self.reader, self.writer = reader, writer
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.error: IndexProcessError | None = None
        self.task = self.loop.create_task(self._read(), name="contextql-index-queries")

    @classmethod
    async def open(cls, sock: socket.socket) -> _QueryLane:
        return cls(*await asyncio.open_connection(sock=sock))

    def request(self, message: tuple[Any, ...]) -> asyncio.Future[Any]:
        if self.error is not None:
            raise self.error
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        future = self.loop.create_future()
        self.pending.append(future)
        self.writer.write(struct.pack("!i", len(data)) + data)  # `multiprocessing.connection`'s framing
        return future

    async def _read(self) -> None:
        try:
            while True:
                (size,) = struct.unpack("!i", await self.reader.readexactly(4))
                reply = pickle.loads(await self.reader.readexactly(size))
                future = self.pending.popleft()
                if not future.done():  # its caller may have given up (cancelled)
                    future.set_result(reply)
        except (asyncio.IncompleteReadError, OSError) as exc:
            self.error = IndexProcessError("the search index failed: its process ended; the next call starts it again")
            self.error.__cause__ = exc
            while self.pending:
                future = self.pending.popleft()
                if not future.done():
                    future.set_exception(self.error)

    def close(self) -> None:
        """From any thread."""
        with contextlib.suppress(RuntimeError):  # its loop is closed, and with it the socket
            self.loop.call_soon_threadsafe(self.writer.close)


class EdgeProcessEngine:
    """An `IndexEngine` (and Edge's optimisation steps) over an `EdgeEngine(root, **options)` in a child process."""

    def __init__(self, root: Path, **options: Any) -> None:
        self.root = root
        self.options = options
        self._child: _Child | None = None
        self._numbers = itertools.count(1)
        self._start = threading.Lock()
        self._lanes = (threading.Lock(), threading.Lock())
        root.mkdir(parents=True, exist_ok=True)  # an unusable folder fails here, as `EdgeEngine(root)` does

    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first call)."""
        child = self._child
        return child.process.pid if child is not None and not child.dead else None

    def _live_child(self) -> _Child:
        with self._start:
            child = self._child
            if child is None or child.dead or child.process.poll() is not None:
                if child is not None:
                    self._bury(child)
                child = self._child = _Child(next(self._numbers), self.root, self.options)
            return child

    def _bury(self, child: _Child) -> None:
        child.dead = True
        child.stop(timeout=1.0)

    def _send(self, child: _Child, lane: int, message: tuple[Any, ...]) -> Any:
        with self._lanes[lane]:
            if child.dead:
                raise IndexProcessError("the search index failed: its process ended; the next call starts it again")
            conn = child.conns[lane]
            try:
                conn.send(message)
                ok, value = conn.recv()
            except (EOFError, OSError) as exc:
                with self._start:
                    if not child.dead:
                        self._bury(child)
                raise IndexProcessError(f"the search index failed: its process ended (exit code {child.exitcode}); "
                                        "the next call starts it again") from exc
        if not ok:
            raise value
        return value

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._send(self._live_child(), _ENGINE, (method, args, kwargs))

    def _job_call(self, job: RemoteJob, step: str, *, stale_ok: bool = False) -> None:
        child = self._child
        if child is None or child.number != job.child or child.dead:
            if stale_ok:
                return
            raise IndexProcessError("the search index failed: its process ended during an optimisation")
        self._send(child, _JOBS, (step, (job.key,), {}))

    async def aquery(self, name: str, where: Where, limit: int, *, dense: list[float] | None = None,
                     sparse: tuple[list[int], list[float]] | None = None, fields: Sequence[str] = HIT_FIELDS
                     ) -> list[Scored]:
        """`query` from the event loop (`VectorIndex` prefers it): see `_QueryLane`."""
        child = self._child
        lane = child.queries if child is not None else None
        if child is None or child.dead or (lane is not None and lane.error is not None) \
                or child.process.poll() is not None:
            child = await asyncio.to_thread(self._fresh_child, child)
        if child.queries is None:
            child.opening = child.opening or asyncio.Lock()
            async with child.opening:
                if child.queries is None:
                    child.queries = await _QueryLane.open(child.queries_socket)
        if child.queries.loop is not asyncio.get_running_loop():  # opened by another event loop: not this one's
            return await asyncio.to_thread(self.query, name, where, limit, dense=dense, sparse=sparse, fields=fields)
        ok, value = await child.queries.request(("query", (name, where, limit),
                                                 {"dense": dense, "sparse": sparse, "fields": tuple(fields)}))
        if not ok:
            raise value
        return value

    def _fresh_child(self, failed: _Child | None) -> _Child:
        """A running child, in place of `failed` (whose query lane broke: its process is ending)."""
        with self._start:
            if failed is not None and self._child is failed and not failed.dead:
                self._bury(failed)
        return self._live_child()

    # -- the engine contract ----------------------------------------------------------

    def exists(self, name: str) -> bool:
        return bool(self._call("exists", name))

    def layout(self, name: str) -> tuple[int, str | None]:
        return self._call("layout", name)

    def create(self, name: str, dim: int) -> None:
        self._call("create", name, dim)

    def drop(self, name: str) -> None:
        self._call("drop", name)

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        self._call("upsert", name, list(points))

    def delete(self, name: str, where: Where) -> None:
        self._call("delete", name, where)

    def query(self, name: str, where: Where, limit: int, *, dense: list[float] | None = None,
              sparse: tuple[list[int], list[float]] | None = None, fields: Sequence[str] = HIT_FIELDS) -> list[Scored]:
        return self._call("query", name, where, limit, dense=dense, sparse=sparse,
                          fields=tuple(fields))

    def scroll(self, name: str, where: Where, fields: Sequence[str], offset: Any, limit: int
               ) -> tuple[list[dict[str, Any]], Any]:
        return self._call("scroll", name, where, list(fields), offset, limit)

    def count(self, name: str, where: Where) -> int:
        return int(self._call("count", name, where))

    def stats(self, name: str) -> dict[str, Any]:
        return self._call("stats", name)

    def close(self) -> None:
        """Flush and close the shards, and end the child (a later call starts a new one)."""
        with self._start:
            child, self._child = self._child, None
        if child is None or child.dead:
            return
        try:
            self._send(child, _ENGINE, ("close", (), {}))
        finally:
            child.dead = True
            child.stop(timeout=_CLOSE_TIMEOUT)

    # -- optimisation (edge.py's steps; the jobs stay in the child) ----------------------

    def plan_optimize(self) -> list[RemoteJob]:
        child = self._live_child()
        planned = self._send(child, _ENGINE, ("plan_optimize", (), {}))
        return [RemoteJob(self, child.number, key, name, argv) for key, name, argv in planned]

    def resume_writes(self, job: RemoteJob) -> None:
        if self._child is not None and self._child.number == job.child:
            self._call("resume_writes", job.key)

    def finish_optimize(self, job: RemoteJob, ok: bool) -> bool:
        if self._child is None or self._child.number != job.child:
            return False  # its child died: the new one swept the copy away
        return bool(self._call("finish_optimize", job.key, ok))


# -- the child ------------------------------------------------------------------------------


def serve(engine_conn: Connection, jobs_conn: Connection, queries_conn: Connection, root: str,
          options: dict[str, Any]) -> None:
    """The child's main: one `EdgeEngine`, its engine lane on this thread, its job and query lanes on others.
    Returns (the process ends) when the parent closes the pipes or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent closes this child
    from .edge import EdgeEngine, OptimizeJob

    engine = EdgeEngine(Path(root), **options)
    jobs: dict[int, OptimizeJob] = {}
    keys = itertools.count(1)

    def plan_optimize() -> list[tuple[int, str, list[str]]]:
        planned = []
        for job in engine.plan_optimize():
            key = next(keys)
            jobs[key] = job
            planned.append((key, job.name, job.command()))
        return planned

    def finish_optimize(key: int, ok: bool) -> bool:
        job = jobs[key]
        swapped = engine.finish_optimize(job, ok)
        if not swapped:
            del jobs[key]
        return swapped

    def job_step(step: str) -> Any:
        def run(key: int) -> None:
            job = jobs.get(key)
            if job is not None:
                getattr(job, step)()
            if step in ("retire", "discard"):
                jobs.pop(key, None)
        return run

    engine_calls: dict[str, Any] = {
        name: getattr(engine, name)
        for name in ("exists", "layout", "create", "drop", "upsert", "delete", "query", "scroll", "count", "stats",
                     "close")}
    engine_calls |= {"plan_optimize": plan_optimize, "finish_optimize": finish_optimize,
                     "resume_writes": lambda key: engine.resume_writes(jobs[key]) if key in jobs else None}
    job_calls = {step: job_step(step) for step in ("copy", "open", "retire", "discard")}
    one_at_a_time = threading.Lock()  # the engine lane and the query lane: the engine has one caller at a time
    threading.Thread(target=_answer, args=(jobs_conn, job_calls), daemon=True, name="index-jobs").start()
    threading.Thread(target=_answer, args=(queries_conn, {"query": engine.query}, one_at_a_time), daemon=True,
                     name="index-queries").start()
    try:
        _answer(engine_conn, engine_calls, one_at_a_time)
    finally:
        with one_at_a_time:
            engine.close()  # the parent went away without closing: flush what was written


def _answer(conn: Connection, calls: dict[str, Any], lock: threading.Lock | None = None) -> None:
    while True:
        try:
            method, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            with lock or contextlib.nullcontext():
                reply: tuple[bool, Any] = (True, calls[method](*args, **kwargs))
        except Exception as exc:
            reply = (False, _portable(exc))
        try:
            conn.send(reply)
        except OSError:  # the parent went away
            return
        except Exception as exc:  # a result that does not pickle: a bug, reported as such
            conn.send((False, RuntimeError(f"the search index's answer to {method} could not be sent: {exc}")))


def _portable(exc: Exception) -> Exception:
    """`exc` as the parent can unpickle it (same type, the child's traceback as a note), else a RuntimeError."""
    exc.add_note("in the search index's process:\n" + "".join(traceback.format_exception(exc)).rstrip())
    exc.__cause__ = exc.__context__ = None
    exc.__traceback__ = None
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":
    engine_fd, jobs_fd, queries_fd = (Connection(int(fd)) for fd in sys.argv[1:4])
    serve(engine_fd, jobs_fd, queries_fd, sys.argv[4], json.loads(sys.argv[5]))
