"""Per-request DataLoaders: every field resolved at one level of a query shares one store call.

Loaders are created per request (a shared cache would leak one principal's view
to another and serve stale data).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from aiodataloader import DataLoader

from contextql.graph.records import ContextRecord, Page, is_complete
from contextql.graph.store import GraphStore


_UNSET: Any = object()
MISSING: Any = object()


def cached(loader: DataLoader, key: Any) -> Any:
    """What `await loader.load(key)` would give right away (primed, or loaded earlier in this
    request), else `MISSING`: a field that finds its value here can be resolved without a coroutine."""
    future = loader._cache.get(loader.get_cache_key(key)) if loader.cache else None
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return MISSING
    return future.result()


class RememberingLoader(DataLoader):
    """A DataLoader whose `remember(key, value)` is a `clear(key).prime(key, value)` paid for only
    when the key is loaded: priming makes a future per key, and a children page primes every
    child it read (by id and by path) although few are ever loaded again."""

    def __init__(self) -> None:
        super().__init__()
        self._remembered: dict[Any, Any] = {}

    def remember(self, key: Any, value: Any) -> None:
        self._cache.pop(self.get_cache_key(key), None)
        self._remembered[key] = value

    def load(self, key: Any) -> Any:
        if self._remembered:
            value = self._remembered.pop(key, _UNSET)
            # A key primed or loaded after it was remembered keeps that newer entry.
            if value is not _UNSET and self.get_cache_key(key) not in self._cache:
                self.prime(key, value)
        return super().load(key)

    def clear(self, key: Any) -> Any:
        self._remembered.pop(key, None)
        return super().clear(key)

    def clear_all(self) -> Any:
        self._remembered.clear()
        return super().clear_all()


class ContextsById(RememberingLoader):
    def __init__(self, store: GraphStore, workspace: str) -> None:
        super().__init__()
        self.store, self.workspace = store, workspace

    async def batch_load_fn(self, ids: list[str]) -> list[ContextRecord | None]:
        found = await self.store.get_by_ids(self.workspace, ids)
        return [found.get(i) for i in ids]


class ContextsByPath(RememberingLoader):
    def __init__(self, store: GraphStore, workspace: str) -> None:
        super().__init__()
        self.store, self.workspace = store, workspace

    async def batch_load_fn(self, paths: list[str]) -> list[ContextRecord | None]:
        found = await self.store.get_by_paths(self.workspace, paths)
        return [found.get(p) for p in paths]


Position = tuple[Any, ...] | None
# (parent_id, limit, after, projection): see `resolvers.contexts.children_key`.
ChildrenKey = tuple[str, int, Position, frozenset[str] | None]


class ChildrenPages(DataLoader):
    """Keys are `ChildrenKey`s (`after`: a (name, id) position or None); parents asking for the
    same window share one store call. A page loaded here is always of complete records; only a
    projected read ahead primes pages of partial ones, under keys naming their projection."""

    def __init__(self, store: GraphStore, workspace: str) -> None:
        super().__init__()
        self.store, self.workspace = store, workspace

    async def batch_load_fn(self, keys: list[ChildrenKey]) -> list[list[ContextRecord]]:
        by_window: dict[tuple[int, Position], list[str]] = defaultdict(list)
        for parent_id, limit, after, _ in keys:
            by_window[(limit, after)].append(parent_id)
        pages: dict[tuple[str, int, Position], list[ContextRecord]] = {}
        for (limit, after), parents in by_window.items():
            found = await self.store.list_children(self.workspace, parents, Page(limit, after))
            for parent_id in parents:
                pages[(parent_id, limit, after)] = found.get(parent_id, [])
        return [pages[key[:3]] for key in keys]


class ChildCounts(DataLoader):
    def __init__(self, store: GraphStore, workspace: str) -> None:
        super().__init__()
        self.store, self.workspace = store, workspace

    async def batch_load_fn(self, parent_ids: list[str]) -> list[int]:
        counts = await self.store.count_children(self.workspace, parent_ids)
        return [counts.get(i, 0) for i in parent_ids]


class Loaders:
    """The request's loaders, each made when first used (most requests use one or two)."""

    def __init__(self, store: GraphStore, workspace: str) -> None:
        self.store, self.workspace = store, workspace

    @functools.cached_property
    def by_id(self) -> ContextsById:
        return ContextsById(self.store, self.workspace)

    @functools.cached_property
    def by_path(self) -> ContextsByPath:
        return ContextsByPath(self.store, self.workspace)

    @functools.cached_property
    def children(self) -> ChildrenPages:
        return ChildrenPages(self.store, self.workspace)

    @functools.cached_property
    def child_counts(self) -> ChildCounts:
        return ChildCounts(self.store, self.workspace)

    def prime(self, record: ContextRecord) -> None:
        """Remember a record read by this request, if complete: `by_id` and `by_path` hand out
        complete records only (a partial one would break any field, or write, that reads more)."""
        if not is_complete(record):
            return
        self.by_id.remember(record.id, record)
        self.by_path.remember(record.path, record)

    def forget(self) -> None:
        """Drop every cached entry (after a write that changed many contexts)."""
        for name in ("by_id", "by_path", "children", "child_counts"):
            made = self.__dict__.get(name)
            if made is not None:
                made.clear_all()
