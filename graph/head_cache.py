"""The heads of contexts this process revised lately, so that the next revision of one needs no read.

A revision without a transaction (graph/neo4j/optimistic.py) reads the head, then sends the write
behind a guard that checks the head is still the one read. When this process wrote that head, it
already knows it: the revision then costs one round trip instead of two. A head from here may be
stale (another process wrote since, or a move changed its path): the guard then holds nothing and
the revision runs again in a transaction, with a locking read. The guard compares the version, the
path and `updated_at`, which every revision sets, so a stale head can never be written over.

Bounded by entries and by the bytes of its text properties; least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_ENTRIES = 4096
MAX_BYTES = 16 << 20  # of text properties (title, content, data): bench contexts are ~0.5 KB
MAX_ENTRY_BYTES = 256 << 10  # a bigger head is read each time

Key = tuple[str, str]  # (workspace, id)


def _size(props: Mapping[str, Any]) -> int:
    return sum(len(value) for value in props.values() if isinstance(value, str))


class HeadCache:
    """Stored properties of contexts by (workspace, id), with their paths as a second key."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._max_entries, self._max_bytes = max_entries, max_bytes
        self._heads: OrderedDict[Key, tuple[dict[str, Any], int]] = OrderedDict()
        self._paths: dict[tuple[str, str], str] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._heads)

    def by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The known heads among `ids`; counts hits and misses."""
        found = {}
        for context_id in ids:
            entry = self._heads.get((workspace, context_id))
            if entry is not None:
                self._heads.move_to_end((workspace, context_id))
                found[context_id] = entry[0]
        self.hits += len(found)
        self.misses += len(ids) - len(found)
        return found

    def by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The known heads at `paths` (as last written here); counts hits and misses."""
        ids = {path: self._paths.get((workspace, path)) for path in paths}
        found = self.by_ids(workspace, [i for i in ids.values() if i is not None])
        self.misses += sum(1 for i in ids.values() if i is None)
        return {path: found[i] for path, i in ids.items() if i is not None and i in found}

    def put(self, props: dict[str, Any]) -> None:
        """Remember a head as stored; the caller hands over `props` and never changes it again."""
        key = (props["workspace"], props["id"])
        self.drop([key])
        size = _size(props)
        if size > MAX_ENTRY_BYTES:
            return
        self._heads[key] = (props, size)
        self._paths[(key[0], props["path"])] = key[1]
        self._bytes += size
        while len(self._heads) > self._max_entries or self._bytes > self._max_bytes:
            self.drop([next(iter(self._heads))])

    def drop(self, keys: Iterable[Key]) -> None:
        for key in keys:
            entry = self._heads.pop(key, None)
            if entry is None:
                continue
            self._bytes -= entry[1]
            path_key = (key[0], entry[0]["path"])
            if self._paths.get(path_key) == key[1]:
                del self._paths[path_key]

    def clear(self) -> None:
        self._heads.clear()
        self._paths.clear()
        self._bytes = 0
