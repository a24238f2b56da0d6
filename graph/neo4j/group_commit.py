"""Group commit: guarded revision writes that wait for a free flight go to Neo4j together, one statement.

Neo4j's work per write transaction is mostly the transaction itself (commit, log, locks), not the few
records a revision writes: the same guarded title updates cost its JVM ~1.3 ms each one per
transaction, and ~0.45 ms each eight per transaction (`python -m bench.peer.write_cost`,
bench/results/profile-2026-12-02-group-commit.md); the driver's work per statement is shared the same way.

At most `flights` statements (one by default) are on their way at once. A write that finds a flight
free goes at once, alone, in its caller's session: one client alone never waits. The others queue;
when a flight lands, the queued writes with the same statement (up to `most`) fly as one:
`UNWIND $batch AS b CALL (b) { <the write, its parameters read from b> }`. Each write keeps its own
guard (graph/neo4j/optimistic.py): one whose context changed writes nothing and learns it, the others land. Rows run in order in one
transaction, so a later row sees an earlier row's write (two revisions of one context: the second's guard
fails). If the statement fails, nothing of it was written and every write in it hears `GroupFailed`: each
then runs again on its own, in a transaction.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

Rows = list[list[Any]]
Send = Callable[[str, dict[str, Any]], Awaitable[Rows]]
Waiting = tuple[str, dict[str, Any], "asyncio.Future[bool]"]

# One statement in flight at a time: the writes that arrive meanwhile wait for it, then go as one.
# With two flights the groups were half as large, and at 16 clients the title update cost Neo4j ~40 %
# more CPU per write and served 0.95-1.05x the peer's req/s, against 1.27-1.30x with one
# (bench/results/profile-2026-12-03-flights.md).
FLIGHTS = 1
MOST = 32

# The parameters of a guarded write: `$g_rows` (the guard) and `$w<n>_...` (its parts, graph/neo4j/writes.py).
_PARAMETER = re.compile(r"\$(g_rows|w\d+_\w+)\b")
# A subquery and the variables it imports: each must import `b` too, to read the item's parameters.
_SUBQUERY = re.compile(r"CALL \(([^)]*)\) \{")


def _importing_b(match: re.Match[str]) -> str:
    names = match.group(1).strip()
    return f"CALL ({names + ', ' if names else ''}b) {{"


class GroupFailed(Exception):
    """The statement a write went in failed: nothing of it was written."""


@functools.lru_cache(maxsize=64)
def grouped(query: str) -> str:
    """`query` (a guarded write ending in `RETURN held`) once per item of `$batch`, each row's
    parameters read from the item; returns the indexes (`b.i`) of the items whose guard held."""
    body = _SUBQUERY.sub(_importing_b, _PARAMETER.sub(r"b.\1", query))
    return f"UNWIND $batch AS b\nCALL (b) {{\n{body}\n}}\nRETURN b.i"


class GroupCommit:
    """Guarded writes of one store, grouped while its flights are busy (see the module's docstring)."""

    def __init__(self, send: Send, flights: int = FLIGHTS, most: int = MOST) -> None:
        self._send = send  # one statement in a session of its own
        self._flights, self._most = flights, most
        self._flying = 0
        self._waiting: deque[Waiting] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self.grouped = 0  # writes that went with others (for benchmarks)

    async def write(self, query: str, params: dict[str, Any], alone: Send) -> bool:
        """Whether the guard of this write held; `alone` sends it in the caller's session when a flight is free."""
        if self._flying < self._flights and not self._waiting:
            self._flying += 1
            try:
                return bool(await alone(query, params))
            finally:
                self._landed()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((query, params, future))
        return await future

    def _landed(self) -> None:
        self._flying -= 1
        while self._waiting and self._flying < self._flights:
            taken = self._take()
            if taken is not None:
                self._flying += 1
                task = asyncio.get_running_loop().create_task(self._fly(*taken))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _take(self) -> tuple[str, list[Waiting]] | None:
        """The first waiting write's statement and the writes waiting with it, up to `most`, in order; a
        write whose caller gave up (cancelled) is dropped unsent."""
        query = self._waiting[0][0]
        group: list[Waiting] = []
        others: list[Waiting] = []
        while self._waiting and len(group) < self._most:
            item = self._waiting.popleft()
            if not item[2].done():
                (group if item[0] == query else others).append(item)
        self._waiting.extendleft(reversed(others))
        return (query, group) if group else None

    async def _fly(self, query: str, group: list[Waiting]) -> None:
        try:
            if len(group) == 1:
                held = {0} if await self._send(query, group[0][1]) else set()
            else:
                batch = [{**params, "i": i} for i, (_, params, _) in enumerate(group)]
                held = {row[0] for row in await self._send(grouped(query), {"batch": batch})}
                self.grouped += len(group)
        except Exception as exc:
            for _, _, future in group:
                if not future.done():
                    future.set_exception(GroupFailed(f"the statement failed: {exc!r}"))
        else:
            for i, (_, _, future) in enumerate(group):
                if not future.done():
                    future.set_result(i in held)
        finally:
            for _, _, future in group:  # cancelled while flying (the server is shutting down)
                if not future.done():
                    future.set_exception(GroupFailed("the statement was cancelled"))
            self._landed()
