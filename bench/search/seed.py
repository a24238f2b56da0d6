"""Seed a fresh embedded data directory (LadybugDB + Qdrant Edge) with the generated tree, and index it.

Runs in the orchestrator's process before the server starts (the embedded stores admit one process):
1. bulk `resolvers.contexts.create` in batches (what `createContexts` runs), parents before children;
2. the real `IndexWorker` drains the outbox (embeds every chunk, upserts to Edge), timed;
3. `VectorIndex.optimize()` (the server's background optimiser, a child process) builds HNSW, timed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from contextql.graph.index import IndexWorker, verify
from contextql.resolvers import contexts as ops
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.search import open_index
from contextql.server.settings import Settings
from contextql.server.stores import open_store

from .synthetic import tree

WORKSPACE = "bench"


def settings_for(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, workspace=WORKSPACE)


async def seed(data_dir: Path, contexts: int, *, batch: int = 1_000, worker_batch: int = 256,
               log=print) -> dict[str, Any]:
    settings = settings_for(data_dir)
    store = await open_store(settings)
    index = await open_index(settings)
    try:
        items = tree(contexts)
        ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WORKSPACE)
        started = time.perf_counter()
        for start in range(0, len(items), batch):
            await ops.create(ctx, [ops.NewContext(path=i.path, kind=i.kind, title=i.title, content=i.content,
                                                  tags=i.tags) for i in items[start:start + batch]], True)
        graph_s = time.perf_counter() - started
        total = await store.count_contexts(WORKSPACE, None)
        log(f"graph: {total} contexts created in {graph_s:.1f} s ({total / graph_s:.0f}/s)")
        worker = IndexWorker(store, index, workspace=WORKSPACE, batch=worker_batch)
        calls0 = index.embeddings.model_calls
        started = time.perf_counter()
        await worker.drain(timeout=6 * 3_600)
        index_s = time.perf_counter() - started
        log(f"index: {worker.applied} outbox tasks applied in {index_s:.1f} s ({total / index_s:.0f} contexts/s, "
            f"{index.embeddings.model_calls - calls0} model calls)")
        started = time.perf_counter()
        optimized = await index.optimize()
        optimize_s = time.perf_counter() - started
        log(f"optimise (HNSW build, child process): {optimized} shard(s) in {optimize_s:.1f} s")
        drift = await verify(store, index, WORKSPACE)
        return {
            "contexts": total, "graph_load_s": round(graph_s, 2), "graph_contexts_per_s": round(total / graph_s, 1),
            "index_s": round(index_s, 2), "index_contexts_per_s": round(total / index_s, 1),
            "index_tasks_applied": worker.applied, "index_model_calls": index.embeddings.model_calls - calls0,
            "optimize_s": round(optimize_s, 2), "optimized_shards": optimized, "drift": drift.total,
            "mean_content_chars": round(sum(len(i.content) for i in items) / len(items), 1),
        }
    finally:
        await index.close()
        index.embeddings.close()
        await store.close()
