"""Path-prefix reads by walking the subtree instead of scanning every context.

LadybugDB has no secondary index, so `path STARTS WITH $p` reads the path of every context
(~4.4 ms for a count at 50,000, measured). Every context whose path starts with `/a/b/x` is
a descendant of the context at `/a/b` (a path is its parent's path, "/" and its name), so
the matches can be looked for among the descendants of that context alone. They are one hop
from it along UNDER, the link every context has to each of its ancestors (written with the
tree: graph/ladybug/writes.py). The full filter is still applied to each descendant, so the
walk only has to cover a superset of the matches.

The walk's page of a median bench subtree (~450 descendants) costs ~1.9 ms against ~3.0 ms
for the recursive walk along CHILD_OF it replaced; it costs ~0.5 ms plus ~1 us per
descendant, the scan's page 5-8 ms whatever the prefix (measured on the 50,000-context bench
tree: bench/results/profile-2026-12-02-ladybug-filtered.md). So the walk pays for subtrees up
to about a tenth of the table (break-even ~5,000 descendants there). How big a subtree is
becomes known by walking it once; `SubtreeSizes` remembers that for a while, so the next read
of a big subtree scans instead. Either way the answer is the same.

Measured traps, each of which made the walk as slow as the scan or slower:
- The pattern must start from a node matched by primary key (a parameter): a start node
  joined from another table is planned as a hash join against a scan of every context. (A
  plain MATCH from it is cheaper than an OPTIONAL MATCH: see `store._WALK`.)
- Filtering in the pattern's WHERE or after a `WITH c` was planned the same bad way (measured
  with the OPTIONAL MATCH);
  the conditions go inside the aggregates (`CASE WHEN`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..filters import And, Compare, Filter

def implied_by_walk(where: Filter | None, root: str) -> Filter | None:
    """`where` without the `path startsWith` comparisons every descendant of the context at
    `root` passes (a prefix of `root` + "/"), at the top or in a top-level AND: the walk need
    not read each descendant's path for them (~0.3 ms for the median bench subtree, measured).
    A prefix that ends mid-segment ("/a/b" below "/a") still selects, so it is kept."""
    def implied(item: Filter) -> bool:
        return (isinstance(item, Compare) and item.field == "path" and item.op == "startsWith"
                and isinstance(item.value, str) and (root + "/").startswith(item.value))

    if where is None or implied(where):
        return None
    if isinstance(where, And):
        kept = tuple(item for item in where.items if not implied(item))
        return None if not kept else kept[0] if len(kept) == 1 else And(kept)
    return where


def subtree_root(where: Filter | None) -> str | None:
    """A path such that every context matching `where` lies strictly below it, or None.

    From a `path startsWith` comparison, at the top or in a top-level AND (the deepest one
    wins): the prefix up to its last "/" (for "/a/b/" that is "/a/b", for "/a/b" it is "/a").
    A prefix with no "/" after the first character names no context to start from.
    """
    if isinstance(where, Compare):
        if where.field == "path" and where.op == "startsWith" and isinstance(where.value, str):
            root = where.value[: where.value.rfind("/")]
            return root if root.startswith("/") and len(root) > 1 else None
        return None
    if isinstance(where, And):
        roots = [subtree_root(item) for item in where.items]
        return max((root for root in roots if root is not None), key=len, default=None)
    return None


@dataclass(frozen=True, slots=True)
class SubtreePolicy:
    """When a subtree is walked rather than the table scanned."""

    min_table: int = 10_000  # below this many contexts (all workspaces) the scan is cheap: always scan
    max_share: float = 1 / 10  # walk subtrees of at most this share of the table (measured break-even: ~5,000 of 50,000)
    ttl_s: float = 60.0  # how long a subtree's size and the table's size are trusted


class SubtreeSizes:
    """Recently seen subtree sizes (by root id) and the table's size: hints, never answers.

    Shared by the reader threads; a stale hint only picks the slower of two correct reads.
    """

    def __init__(self, policy: SubtreePolicy, capacity: int = 4096) -> None:
        self.policy = policy
        self._capacity = capacity
        self._sizes: dict[str, tuple[int, float]] = {}
        self._table: tuple[int, float] | None = None
        self._roots: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def table(self) -> int | None:
        """The table's size, if known and fresh."""
        with self._lock:
            if self._table is None or self._table[1] < time.monotonic():
                return None
            return self._table[0]

    def set_table(self, size: int) -> None:
        with self._lock:
            self._table = (size, time.monotonic() + self.policy.ttl_s)

    def walk(self, root_id: str, table: int) -> bool:
        """Whether to walk the subtree of `root_id` in a table of `table` contexts."""
        if table < self.policy.min_table:
            return False
        with self._lock:
            seen = self._sizes.get(root_id)
        if seen is None or seen[1] < time.monotonic():
            return True  # unknown: walking tells
        return seen[0] <= table * self.policy.max_share

    def record(self, root_id: str, size: int) -> None:
        with self._lock:
            if len(self._sizes) >= self._capacity and root_id not in self._sizes:
                self._sizes.pop(next(iter(self._sizes)))  # the oldest entry
            self._sizes[root_id] = (size, time.monotonic() + self.policy.ttl_s)

    def root_id(self, workspace: str, path: str) -> str | None:
        """The id last seen at `path`, if fresh: a hint the walk checks (its root must still be
        at `path`), so a read need not look the root up first."""
        with self._lock:
            seen = self._roots.get((workspace, path))
        return None if seen is None or seen[1] < time.monotonic() else seen[0]

    def set_root_id(self, workspace: str, path: str, root_id: str) -> None:
        with self._lock:
            if len(self._roots) >= self._capacity and (workspace, path) not in self._roots:
                self._roots.pop(next(iter(self._roots)))  # the oldest entry
            self._roots[(workspace, path)] = (root_id, time.monotonic() + self.policy.ttl_s)

    def forget_root(self, workspace: str, path: str) -> None:
        with self._lock:
            self._roots.pop((workspace, path), None)
