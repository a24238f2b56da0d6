"""Is indexing at the embedder's pace? Two times on the same contexts, in the same run:

1. the embedder alone: every chunk (passage) of N contexts through `EmbeddingService.embed_documents`;
2. a bulk create of the same N contexts into a fresh embedded store (LadybugDB), with the outbox
   worker running in the background over Qdrant Edge, until the index has caught up (outbox empty).

    .venv/bin/python -m bench.index_pace --contexts 2000

The contexts are outside text (bench/search/corpus.py: standard-library docstrings, then package
descriptions: about 2,600 of them), or with `--text synthetic` the generated tree of the search
benchmark (bench/search/synthetic.py), for the issue's 50,000. Prints both times and their ratio; the
target (issue 12) is a ratio of at most 2.

    .venv/bin/python -m bench.index_pace --contexts 50000 --text synthetic
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.chunks import passages
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.index import IndexWorker, VectorIndex, verify
from contextql.graph.index.edge import EdgeEngine
from contextql.graph.ladybug import LadybugStore
from contextql.migrations import migrate
from contextql.resolvers import contexts as ops
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext

from .search.corpus import build_all
from .search.synthetic import tree

WORKSPACE = "pace"


def outside(n: int) -> list[dict[str, str]]:
    found, _ = build_all(n + 100)
    contexts = list({c["path"]: c for c in found}.values())[:n]  # a package installed twice repeats its paths
    if len(contexts) < n:
        raise SystemExit(f"the outside corpus has {len(contexts)} contexts; use --text synthetic for more")
    return [{"path": c["path"], "title": "", "content": c["content"]} for c in contexts]


def synthetic(n: int) -> list[dict[str, str]]:
    return [{"path": i.path, "title": i.title, "content": i.content} for i in tree(n)]


async def run(n: int, batch: int, text: str) -> None:
    contexts = outside(n) if text == "outside" else synthetic(n)
    embeddings = EmbeddingService(make_embedder("fastembed"))
    texts = [t for c in contexts for t in passages(c["title"], c["path"], c["content"])]
    started = time.perf_counter()
    for i in range(0, len(texts), 256):
        await embeddings.embed_documents(texts[i:i + 256])
    alone = time.perf_counter() - started
    print(f"{n} contexts, {len(texts)} chunks: embedder alone {alone:.1f} s ({len(texts) / alone:.0f} chunks/s)")

    with tempfile.TemporaryDirectory() as folder:
        store = LadybugStore(str(Path(folder) / "graph.lbug"))
        await store.open()
        await migrate(store)
        index = VectorIndex(EdgeEngine(Path(folder) / "index"), embeddings, collection="pace")
        await index.ensure()
        worker = IndexWorker(store, index, workspace=WORKSPACE, batch=batch)
        ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WORKSPACE)
        started = time.perf_counter()
        worker.start()
        for i in range(0, n, 500):
            await ops.create(ctx, [ops.NewContext(path=c["path"], title=c["title"], content=c["content"])
                                   for c in contexts[i:i + 500]],
                             create_parents=True)
            worker.wake()
        imported = time.perf_counter() - started
        while True:  # the worker has no "caught up" signal; the outbox count is the truth
            if not await store.count_index_tasks(WORKSPACE):
                break
            await asyncio.sleep(0.05)
        caught_up = time.perf_counter() - started
        await worker.stop()
        drift = await verify(store, index, WORKSPACE)
        total = await store.count_contexts(WORKSPACE, None)
        print(f"bulk create of {total} contexts (with parents) took {imported:.1f} s; the index caught up "
              f"{caught_up:.1f} s after it began (drift {drift.total}, {worker.applied} tasks applied)")
        print(f"ratio caught-up / embedder alone: {caught_up / alone:.2f}")
        await index.close()
        await store.close()
    embeddings.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=256, help="outbox tasks the worker claims at once")
    parser.add_argument("--text", choices=("outside", "synthetic"), default="outside")
    args = parser.parse_args()
    asyncio.run(run(args.contexts, args.batch, args.text))


if __name__ == "__main__":
    main()
