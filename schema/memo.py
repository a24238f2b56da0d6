"""Values worked out once per parsed document, kept by the identity of its nodes.

The operation pipeline caches parsed documents by their text (schema/pipeline.py), so every request
of one text gets the same node objects, and a value that depends on those nodes alone (no variable)
holds for every request of that text. Used for the cost estimate (server/guard/cost.py) and the
read plans (schema/lookahead.py).
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Iterator
from typing import Any

MISSING: Any = object()  # what `NodeMemo.get` returns for nothing kept


class NodeMemo:
    """Values by (nodes, extra key). An entry holds its nodes, so none of their ids can be another
    node's while it is kept. Bounded like the parse cache: past `size` entries, the oldest goes."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: dict[tuple[Hashable, ...], tuple[tuple[object, ...], Any]] = {}

    def get(self, nodes: tuple[object, ...], extra: Hashable = None) -> Any:
        """The value kept for these nodes and `extra`, or `MISSING`."""
        entry = self._entries.get((*map(id, nodes), extra))
        if entry is None or not all(map(operator.is_, entry[0], nodes)):
            return MISSING
        return entry[1]

    def put(self, nodes: tuple[object, ...], value: Any, extra: Hashable = None) -> None:
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[(*map(id, nodes), extra)] = (nodes, value)

    def __iter__(self) -> Iterator[tuple[Hashable, ...]]:
        """The keys: the nodes' ids, then the extra key."""
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
