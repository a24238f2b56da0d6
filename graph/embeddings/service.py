"""Embedding off the event loop, with micro-batching of concurrent requests and a query cache."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from .base import Embedder


class EmbeddingService:
    """Async front of an `Embedder`.

    Queries are batched as they come: with no query batch at the model, a query goes at once (at the
    end of the event loop's current step, with any others that arrived in it); while a batch is at
    the model, the queries that arrive wait and then go together as the next one (up to `max_batch`
    texts), which the ONNX runtime does far faster than one text at a time. So a lone query waits
    for no timer, and under load the batches grow with the load.
    Query vectors are kept in an LRU cache; document batches go to the model `max_batch` texts at a time.
    """

    def __init__(self, embedder: Embedder, *, max_batch: int = 64, cache_size: int = 2_048) -> None:
        self.embedder = embedder
        self.dim = embedder.dim
        self.name = embedder.name
        self.max_batch = max_batch
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._flush_scheduled = False
        self._in_flight = 0  # query batches at the model (0 or 1, more only past `max_batch` waiting texts)
        self._resolving: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks
        # One thread: the model uses several cores per call itself.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="embed")
        self.model_calls = 0

    async def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One call for many texts; run as model calls of `max_batch` texts, so that a query
        waiting for the model's thread waits for one such call, not for the whole batch."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.max_batch):
            vectors += await self._run(list(texts[start:start + self.max_batch]))
        return vectors

    async def embed_query(self, text: str) -> list[float]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._in_flight and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_idle)
        vector = await future
        self._remember(text, vector)
        return vector

    def _flush_idle(self) -> None:
        self._flush_scheduled = False
        if not self._in_flight:  # else the batch at the model flushes these when it is done
            self._flush()

    def _flush(self) -> None:
        batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
        if batch:
            self._in_flight += 1
            task = asyncio.create_task(self._resolve(batch))
            self._resolving.add(task)
            task.add_done_callback(self._resolving.discard)

    async def _resolve(self, batch: list[tuple[str, asyncio.Future]]) -> None:
        unique = list(dict.fromkeys(text for text, _ in batch))
        try:
            vectors = dict(zip(unique, await self._run(unique)))
        except Exception as exc:  # every waiter gets the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            self._in_flight -= 1
            if self._pending and not self._in_flight:  # what arrived meanwhile is the next batch
                self._flush()
        for text, future in batch:
            if not future.done():
                future.set_result(vectors[text])

    async def _run(self, texts: list[str]) -> list[list[float]]:
        self.model_calls += 1
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.embedder.embed, texts)

    def _remember(self, text: str, vector: list[float]) -> None:
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self._thread.shutdown(wait=False)
