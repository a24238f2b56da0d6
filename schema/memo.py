"""Values worked out once per parsed document, kept by the identity of its nodes.

The operation pipeline caches parsed documents by their text (schema/pipeline.py), so every request
of one text gets the same node objects, and a value that depends on those nodes alone (no variable)
holds for every request of that text. Used for the cost estimate (server/guard/cost.py), the read
plans (schema/lookahead.py) and the executor's plans (schema/execution.py).
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Hashable, Iterator
from typing import Any

MISSING: Any = object()  # what `NodeMemo.get` returns for nothing kept


class NodeMemo:
    """Values by (nodes, extra key). An entry goes when its first node does (the document or the
    operation, which holds the others): nothing here keeps a document alive once the parse cache lets it
    go, and the first node's id cannot be another node's while the entry lives. The entry holds the other
    nodes, so neither can theirs. Bounded too: past `size` entries, the oldest goes.

    AST nodes compare and hash by content, so they cannot be the keys of a `WeakKeyDictionary`."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: dict[tuple[Hashable, ...], tuple[tuple[object, ...], Any]] = {}

    def get(self, nodes: tuple[object, ...], extra: Hashable = None) -> Any:
        """The value kept for these nodes and `extra`, or `MISSING`."""
        entry = self._entries.get((*map(id, nodes), extra))
        if entry is None or not all(map(operator.is_, entry[0], nodes[1:])):
            return MISSING
        return entry[1]

    def put(self, nodes: tuple[object, ...], value: Any, extra: Hashable = None) -> None:
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        key = (*map(id, nodes), extra)
        self._entries[key] = (nodes[1:], value)
        weakref.finalize(nodes[0], self._entries.pop, key, None)

    def __iter__(self) -> Iterator[tuple[Hashable, ...]]:
        """The keys: the nodes' ids, then the extra key."""
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
