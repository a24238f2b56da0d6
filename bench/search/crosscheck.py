"""Cross-check: the exact numpy reproduction (`quality.run_pipeline`) against the real search path.

    .venv/bin/python -m bench.search.crosscheck [--set stdlib] [--pairs 200]

Loads a sample of an outside set into an embedded store (LadybugDB) as contexts (title, path, content),
indexes them with the outbox worker into the embedded index, and asks every query through
`resolvers.search.search` (what the GraphQL `search` field runs) in each mode. The same pairs go
through `run_pipeline` with the same code. Prints both scores per mode and how many queries got the
same top 10 in the same order; a difference beyond ties and int8 rounding means the reproduction
no longer describes the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.search.outside import load
from bench.search.quality import Pipeline, Vectors, context_path, run_pipeline, score

WS = "bench"


async def through_api(set_name: str, pairs, limit: int = 10):
    from contextql.graph.index import IndexWorker
    from contextql.graph.ladybug import LadybugStore
    from contextql.migrations import migrate
    from contextql.resolvers import contexts as ops
    from contextql.resolvers import search as find
    from contextql.resolvers.principal import ANONYMOUS
    from contextql.resolvers.request import RequestContext
    from contextql.server.search import open_index
    from contextql.server.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="contextql-search-crosscheck-"))
    settings = Settings(_env_file=None, data_dir=tmp, workspace=WS)
    store = LadybugStore(str(tmp / "graph.lbug"))
    await store.open()
    await migrate(store)
    # The qdrant-client engine (a Qdrant server's, here in local mode), whose points can be read back with
    # their vectors; Qdrant Edge, the embedded default, fuses the same way (RRF, k=2) and passes the same
    # search tests (tests/search runs on both engines).
    from qdrant_client import QdrantClient

    from contextql.graph.index.qdrant_engine import QdrantClientEngine

    engine = QdrantClientEngine(QdrantClient(path=str(tmp / "qdrant")), server=False)
    index = await open_index(settings, engine=engine)
    items = [ops.NewContext(path=context_path(set_name, p), title=p.title, content=p.document) for p in pairs]
    for start in range(0, len(items), 500):
        await ops.create(RequestContext(store=store, principal=ANONYMOUS, workspace=WS), items[start:start + 500], True)
    started = time.perf_counter()
    await IndexWorker(store, index, workspace=WS, batch=128).drain(timeout=3_600)
    info = {"engine": "qdrant-client (local mode) through the index engine contract", "indexing_s": round(time.perf_counter() - started, 1)}
    stored = await _stored_vectors(index)
    out: dict[str, list[list[str]]] = {}
    for mode in ("dense", "keyword", "hybrid"):
        out[mode] = []
        for p in pairs:
            ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WS, search=index)
            out[mode].append([h.context.path for h in await find.search(ctx, p.query, limit=limit, mode=mode)])
    await index.close()
    await store.close()
    return out, info, stored


async def _stored_vectors(index) -> dict[tuple[str, int], list[float]]:
    """(path, chunk) -> the dense vector the index holds, read from the qdrant-client engine's own client."""
    found: dict[tuple[str, int], list[float]] = {}
    offset = None
    while True:
        points, offset = index.engine.client.scroll(index.current, limit=1_000, offset=offset,
                                                    with_payload=["path", "chunk"], with_vectors=["dense"])
        for p in points:
            found[(p.payload["path"], int(p.payload["chunk"]))] = p.vector["dense"]
        if offset is None:
            return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search.crosscheck")
    parser.add_argument("--set", default="stdlib")
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    pairs = load(args.set, args.pairs)
    api, info, stored = asyncio.run(through_api(args.set, pairs))
    parent = ("", f"/{args.set}", "")  # the parent context the server creates
    contexts = [(p.title, context_path(args.set, p), p.document) for p in pairs] + [parent]
    paths = [path for _, path, _ in contexts]
    embed = Vectors()
    q = embed([p.query for p in pairs], alone=True)
    pipe = Pipeline.current()
    # The model's int8 vectors move with their batch-mates, so the worker's batches give other document
    # vectors than ours: score once with our own vectors and once with the very vectors the index holds.
    index_vectors = {text: np.asarray(stored[(path, i)], dtype=np.float32)
                     for title, path, content in contexts
                     for i, text in enumerate(pipe.passages(title, path, content))}
    runs = {"exact, own vectors": run_pipeline(args.set, pairs, embed, q, pipe, extra=[parent]),
            "exact, index's vectors": run_pipeline(args.set, pairs, lambda texts: np.stack([index_vectors[t] for t in texts]),
                                                   q, pipe, extra=[parent])}
    index_of = {path: i for i, path in enumerate(paths)}
    report: dict = {"set": args.set, "pairs": len(pairs), **info, "modes": {}}
    for mode in ("dense", "keyword", "hybrid"):
        api_rank = [[index_of[path] for path in row] for row in api[mode]]
        row: dict = {"api": score(api_rank)}
        for name, exact in runs.items():
            exact_rank = [r[:10] for r in exact[mode]]
            row[name] = {**score(exact_rank), "same_top10_order": sum(a == e for a, e in zip(api_rank, exact_rank)),
                         "same_top10_set": sum(set(a) == set(e) for a, e in zip(api_rank, exact_rank))}
        report["modes"][mode] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
