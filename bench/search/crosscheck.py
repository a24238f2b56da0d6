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

from bench.search.outside import load
from bench.search.quality import Pipeline, Vectors, context_path, run_pipeline, score

WS = "bench"


async def through_api(set_name: str, pairs, limit: int = 10) -> tuple[dict[str, list[list[str]]], dict]:
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
    index = await open_index(settings)
    items = [ops.NewContext(path=context_path(set_name, p), title=p.title, content=p.document) for p in pairs]
    for start in range(0, len(items), 500):
        await ops.create(RequestContext(store=store, principal=ANONYMOUS, workspace=WS), items[start:start + 500], True)
    started = time.perf_counter()
    await IndexWorker(store, index, workspace=WS, batch=128).drain(timeout=3_600)
    info = {"engine": "index as configured by default (Settings)", "indexing_s": round(time.perf_counter() - started, 1)}
    out: dict[str, list[list[str]]] = {}
    for mode in ("dense", "keyword", "hybrid"):
        out[mode] = []
        for p in pairs:
            ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WS, search=index)
            out[mode].append([h.context.path for h in await find.search(ctx, p.query, limit=limit, mode=mode)])
    await index.close()
    await store.close()
    return out, info


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search.crosscheck")
    parser.add_argument("--set", default="stdlib")
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    pairs = load(args.set, args.pairs)
    api, info = asyncio.run(through_api(args.set, pairs))
    paths = [context_path(args.set, p) for p in pairs] + [f"/{args.set}"]  # the parent the server creates
    embed = Vectors()
    q = embed([p.query for p in pairs], alone=True)
    exact = run_pipeline(args.set, pairs, embed, q, Pipeline.current(), extra=[("", f"/{args.set}", "")])
    report: dict = {"set": args.set, "pairs": len(pairs), **info, "modes": {}}
    for mode in ("dense", "keyword", "hybrid"):
        index_of = {path: i for i, path in enumerate(paths)}
        api_rank = [[index_of[path] for path in row] for row in api[mode]]
        exact_rank = [row[:10] for row in exact[mode]]
        same = sum(a == e for a, e in zip(api_rank, exact_rank))
        same_set = sum(set(a) == set(e) for a, e in zip(api_rank, exact_rank))
        report["modes"][mode] = {"api": score(api_rank), "exact": score(exact_rank),
                                 "same_top10_order": same, "same_top10_set": same_set}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
