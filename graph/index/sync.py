"""`IndexWorker`: applies outbox tasks to the index, with retries and exponential backoff.

The worker never trusts the task for content: it reads the context from the graph and makes
the index match (absent from the graph -> removed from the index), so applying a task twice,
late or out of order is harmless. A failing index only delays tasks; graph writes never wait
for it.

With an event bus (`events`), each applied or failed task is published as an `index`
ChangeEvent (see graph/events/event.py) once the index call returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Sequence

from ..events import ChangeEvent, IndexDetail, EventBus
from ..outbox import NO_HISTORY, IndexTask, now_us
from ..records import ContextRecord
from ..store import GraphStore
from ..telemetry import INDEX_APPLIED, INDEX_FAILURES, batch_span
from .qdrant import VectorIndex

logger = logging.getLogger("contextql.index")

PRINCIPAL = "contextql.index"  # the `principal` of index events: the worker, not a user


class IndexWorker:
    def __init__(self, store: GraphStore, index: VectorIndex, *, workspace: str | None = None, batch: int = 256,
                 poll: float = 0.25, lease: float = 120.0, backoff: float = 0.5, backoff_max: float = 60.0,
                 events: EventBus | None = None) -> None:
        self.store, self.index, self.workspace = store, index, workspace
        self.events = events  # set later by the app when it owns the bus
        self.batch, self.poll, self.lease = batch, poll, lease
        self.backoff, self.backoff_max = backoff, backoff_max
        self.applied = self.failed = 0
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    # -- one round ---------------------------------------------------------------

    async def run_once(self, now: int | None = None) -> int:
        """Claim one batch of due tasks and apply it; returns how many tasks were claimed."""
        now = now_us() if now is None else now
        tasks = await self.store.claim_index_tasks(now, int(self.lease * 1e6), self.batch, self.workspace)
        if tasks:
            with batch_span("index batch", [t.context_id for t in tasks], **{"contextql.index.tasks": len(tasks)}):
                await self._apply_batch(tasks)
        return len(tasks)

    async def _apply_batch(self, tasks: list[IndexTask]) -> None:
        by_workspace: dict[str, list[IndexTask]] = defaultdict(list)
        for task in tasks:
            by_workspace[task.workspace].append(task)
        for workspace, group in by_workspace.items():
            live: dict[str, ContextRecord] | None = None
            try:
                if not self.index.ready:
                    await self.index.ensure()
                live = await self.store.get_by_ids(workspace, [t.context_id for t in group])
                await self._write(workspace, group, live)
            except Exception as exc:  # the index (or the graph) failed: try again later
                self.failed += len(group)
                INDEX_FAILURES.inc(len(group))
                logger.warning("index refresh of %d context(s) failed, will retry: %s", len(group), exc)
                retries = []
                for task in group:
                    retry_at = now_us() + self._delay(task.attempts)
                    await self.store.retry_index_task(task, retry_at, str(exc))
                    retries.append((task, retry_at))
                await self._publish(workspace, [
                    self._event(workspace, "failed", task.context_id, (live or {}).get(task.context_id),
                                IndexDetail(task.context_id, task.attempts + 1, retry_at, str(exc)[:500]))
                    for task, retry_at in retries])
                continue
            await self.store.complete_index_tasks(group)
            self.applied += len(group)
            INDEX_APPLIED.inc(len(group))
            await self._publish(workspace, [
                self._event(workspace, "indexed" if t.context_id in live else "removed", t.context_id,
                            live.get(t.context_id), IndexDetail(t.context_id, t.attempts + 1))
                for t in group])

    async def apply(self, workspace: str, tasks: Sequence[IndexTask]) -> dict[str, ContextRecord]:
        """Make the index match the graph for these tasks' contexts; returns those still in the graph."""
        live = await self.store.get_by_ids(workspace, [t.context_id for t in tasks])
        await self._write(workspace, tasks, live)
        return live

    async def _write(self, workspace: str, tasks: Sequence[IndexTask], live: dict[str, ContextRecord]) -> None:
        ids = [t.context_id for t in tasks]
        await self.index.remove(workspace, [cid for cid in ids if cid not in live])
        since = {t.context_id: t.since for t in tasks if t.context_id in live and t.since < NO_HISTORY}
        versions = await self.store.versions_of(workspace, list(since)) if since else {}
        # One embedding call for the whole batch, current state and history together.
        await self.index.write(list(live.values()),
                               [v for cid, vs in versions.items() for v in vs if v.number >= since[cid]])

    @staticmethod
    def _event(workspace: str, operation: str, context_id: str, record: ContextRecord | None,
               detail: IndexDetail) -> ChangeEvent:
        return ChangeEvent(
            workspace=workspace, topic="index", operation=operation, key=context_id, at=now_us(),
            principal=PRINCIPAL, path=record.path if record else None, kind=record.kind if record else None,
            version=record.version if record else None, detail=detail,
        )

    async def _publish(self, workspace: str, events: list[ChangeEvent]) -> None:
        """Tell subscribers; a failing bus never fails or repeats index work."""
        if self.events is None or not events:
            return
        try:
            await self.events.publish(events)
        except Exception:
            logger.exception("could not publish %d index event(s) of workspace %s", len(events), workspace)

    def _delay(self, attempts: int) -> int:
        """Microseconds to wait before the next attempt: exponential, capped, with jitter."""
        seconds = min(self.backoff_max, self.backoff * 2 ** min(attempts, 30))
        return int(seconds * random.uniform(0.8, 1.2) * 1e6)

    # -- background loop ----------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="contextql-index-worker")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception as exc:  # the graph itself is unreachable: wait and retry
                logger.warning("index worker could not read the outbox: %s", exc)
                claimed = 0
            if claimed < self.batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)

    async def drain(self, timeout: float = 60.0) -> None:
        """Apply tasks until none is pending (waiting out backoffs); `TimeoutError` after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.store.count_index_tasks(self.workspace):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the index outbox did not drain in time")
            if not await self.run_once():
                await asyncio.sleep(min(self.poll, 0.05))
