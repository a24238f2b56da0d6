"""Group commit on LadybugDB: revisions that wait for the writer go together, in one transaction.

LadybugDB admits one writer, so revisions queue on the write lock (engine.py). Beyond its own few
statements, each revision's transaction costs BEGIN (~0.1 ms), COMMIT (~0.4 ms) and one or two
writer-thread hand-offs. A revision that finds the writer free runs at once, alone
(`LadybugStore.write_revision`): one client alone never waits. The others queue here; once the
writer is free, the waiting revisions (up to `most`, in order) run one after another in ONE
transaction, each through its own `LadybugWriteTx` with its statements guarded as when alone
(`StaleHead`), then one COMMIT. A revision whose heads all came from the cache sends nothing before
that commit, so a group of such revisions costs one hand-off: BEGIN, every revision's writes, COMMIT.

A revision sees the group's earlier ones: it takes heads first from those the group wrote
(`GroupHeads`), then from the store's cache, else reads them in the transaction, which holds the
group's writes. So revisions of one context in one group land in turn.

Nothing half-written, no revision lost:
- A work that raises before anything of it was sent (a domain error judged on a cached head) leaves
  the group: its deferred writes are dropped and it runs again alone, with a read (as alone).
- Any other failure (a statement: `StaleHead`, a constraint, the engine; a work that raised after a
  read sent its writes; the COMMIT) rolls the whole transaction back, and every revision of the group
  runs again alone (`RunAlone`): a failing one fails alone, with its own error; the others land.
A caller that gives up (cancelled) while waiting is dropped unsent; once its group runs, the group
runs on without it, so it lands whole with the group or not at all.

Neo4j's group commit (graph/neo4j/group_commit.py) groups the guarded statements of revisions; here
the writer is one and a revision's statements depend on its reads, so the works themselves are grouped.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ..head_cache import HeadCache, Key
from ..telemetry import tracing
from ..writes import Work
from .engine import AsyncTx, Engine
from .writes import LadybugWriteTx

T = TypeVar("T")

MOST = 32


class RunAlone(Exception):
    """The revision's group did not land it and nothing of it was written: run it again alone."""

    def __init__(self, reason: str, *, read: bool = False) -> None:
        super().__init__(reason)
        self.read = read  # its cached heads were forgotten: run it with a read of them


class _Empty(Exception):
    """Every revision taken had been given up: nothing to begin or commit."""


class GroupHeads(HeadCache):
    """The heads a group's revisions wrote, in front of the store's cache (`base`): the cache of the
    group's `LadybugWriteTx`s. `land` hands them to `base` once the group committed."""

    def __init__(self, base: HeadCache) -> None:
        super().__init__()
        self._base = base
        self._wrote: dict[Key, dict[str, Any]] = {}

    def by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = super().by_ids(workspace, ids)
        missing = [i for i in ids if i not in found]
        return {**found, **self._base.by_ids(workspace, missing)} if missing else found

    def by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = super().by_paths(workspace, paths)
        missing = [p for p in paths if p not in found]
        return {**found, **self._base.by_paths(workspace, missing)} if missing else found

    def put(self, props: dict[str, Any]) -> None:
        super().put(props)
        self._wrote[(props["workspace"], props["id"])] = props

    def land(self) -> None:
        """After the commit: the group's heads, as they now are, into the store's cache."""
        for props in self._wrote.values():
            self._base.put(props)
        self._base.hits += self.hits  # those it missed, `base` counted


@dataclass(slots=True, eq=False)
class _Waiting:
    work: Work[Any]
    future: asyncio.Future[Any]
    context: contextvars.Context | None  # the caller's, when tracing (its spans' parent)
    writes: LadybugWriteTx | None = None
    result: Any = None
    left: Exception | None = None  # why it left the group (see the module's docstring)


async def _in(context: contextvars.Context | None, work: Awaitable[T]) -> T:
    """`work` run in the caller's context when tracing, so its statements' spans are the caller's."""
    if context is None or not asyncio.iscoroutine(work):
        return await work
    return await asyncio.create_task(work, context=context)


class RevisionGroups:
    """Revisions of one store that wait for its writer, run in groups (see the module's docstring)."""

    def __init__(self, engine: Engine, heads: HeadCache, most: int = MOST) -> None:
        self._engine, self._heads, self._most = engine, heads, most
        self._waiting: deque[_Waiting] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.grouped = 0  # revisions that landed in a group of two or more (for benchmarks and tests)
        self.failed = 0  # groups rolled back, whose revisions all ran again alone

    @property
    def busy(self) -> bool:
        """Whether a revision started now would wait: it then waits here, to go with the others."""
        return self._engine.writing or bool(self._waiting)

    async def revise(self, work: Work[T]) -> T:
        """`work`'s result once its group committed; `RunAlone` if it did not land (nothing of it was written)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(_Waiting(work, future, contextvars.copy_context() if tracing.enabled else None))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return cast(T, await future)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group: list[_Waiting] = []
                try:
                    heads = await self._engine.transaction(functools.partial(self._run, group))
                except BaseException as exc:
                    self._failed(group, exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    self._landed(group, heads)
        finally:
            self._drainer = None
            for item in self._waiting:  # cancelled (the store is closing): each tries alone
                if not item.future.done():
                    item.future.set_exception(RunAlone("the group commit stopped"))
            self._waiting.clear()

    def _take(self) -> list[_Waiting]:
        """The revisions waiting, in order, up to `most`; one whose caller gave up is dropped unsent."""
        group: list[_Waiting] = []
        while self._waiting and len(group) < self._most:
            item = self._waiting.popleft()
            if not item.future.done():
                group.append(item)
        return group

    async def _run(self, group: list[_Waiting], tx: AsyncTx) -> GroupHeads:
        """In the transaction (the writer is ours): take the group and run its works in turn."""
        group.extend(self._take())
        if not group:
            raise _Empty
        heads = GroupHeads(self._heads)
        for item in group:
            item.writes = writes = LadybugWriteTx(tx, heads)
            calls, deferred = tx.calls, tx.deferred
            try:
                item.result = await _in(item.context, item.work(writes))
                writes.check_cached()
            except Exception as exc:
                if tx.calls != calls:
                    raise  # something of it may have been sent: the whole group goes back
                tx.undefer(deferred)
                item.left = exc
            else:
                writes.remember()  # into the group's heads: the next revisions see them
        return heads

    def _landed(self, group: list[_Waiting], heads: GroupHeads) -> None:
        heads.land()
        landed = [item for item in group if item.left is None]
        if len(landed) > 1:
            self.grouped += len(landed)
        for item in group:
            error = item.left
            if error is not None and item.writes is not None and item.writes.cached:
                item.writes.forget(self._heads)  # it was judged on a cached head: judge it again on a read one
                error = RunAlone(f"judged on a cached head: {error!r}", read=True)
                error.__cause__ = item.left
            if item.future.done():
                continue
            if error is None:
                item.future.set_result(item.result)
            else:
                item.future.set_exception(error)

    def _failed(self, group: list[_Waiting], exc: BaseException) -> None:
        if isinstance(exc, _Empty) or not group:
            return
        self.failed += 1
        for item in group:
            if not item.future.done():
                error = RunAlone(f"its group's transaction failed: {exc!r}")
                error.__cause__ = exc
                item.future.set_exception(error)
