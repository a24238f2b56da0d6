"""Search benchmark: retrieval quality (recall@10, MRR) per mode, indexing throughput, HTTP search load.

    .venv/bin/python -m bench.search [--queries N] [--requests N]

Embedded graph (LadybugDB) + local-mode Qdrant + the bundled int8 model, all in this process;
the HTTP part serves the real app with uvicorn on 127.0.0.1. Writes bench/results/search-<date>.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.machine import describe
from bench.search.corpus import build_all
from contextql.graph.index import IndexWorker
from contextql.graph.ladybug import LadybugStore
from contextql.migrations import migrate
from contextql.resolvers import contexts as ops
from contextql.resolvers import search as find
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.search import SearchRuntime, open_index
from contextql.server.settings import Settings

WS = "bench"
RESULTS = Path(__file__).resolve().parent.parent / "results"
QUERY = "query($q: String!) { search(query: $q, limit: 10) { score context { path } } }"


async def load(store, contexts) -> None:
    ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WS)
    items = [ops.NewContext(path=c["path"], content=c["content"]) for c in contexts]
    for start in range(0, len(items), 500):
        await ops.create(RequestContext(store=store, principal=ANONYMOUS, workspace=WS), items[start:start + 500], True)
    del ctx


async def quality(store, index, queries) -> dict:
    out = {}
    for mode in ("dense", "keyword", "hybrid"):
        hits_at_10, rr = 0, 0.0
        started = time.perf_counter()
        for q in queries:
            ctx = RequestContext(store=store, principal=ANONYMOUS, workspace=WS, search=index)
            found = [h.context.path for h in await find.search(ctx, q["text"], limit=10, mode=mode)]
            if q["path"] in found:
                hits_at_10 += 1
                rr += 1 / (found.index(q["path"]) + 1)
        out[mode] = {"recall@10": round(hits_at_10 / len(queries), 4), "mrr@10": round(rr / len(queries), 4),
                     "seconds": round(time.perf_counter() - started, 2)}
    return out


def serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"the HTTP server could not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    return server, thread


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def http_load(port: int, queries, concurrency: int, requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": QUERY, "variables": {"q": queries[i % len(queries)]["text"]}})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or "errors" in response.json():
                errors += 1

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"concurrency": concurrency, "requests": requests, "errors": errors,
            "requests_per_s": round(requests / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1)}


async def main(args) -> dict:
    from contextql.server.app import create_app

    contexts, queries = build_all()
    queries = queries[:: max(1, len(queries) // args.queries)][: args.queries]
    tmp = Path(tempfile.mkdtemp(prefix="contextql-search-bench-"))
    settings = Settings(_env_file=None, data_dir=tmp, workspace=WS)
    store = LadybugStore(str(tmp / "graph.lbug"))
    await store.open()
    await migrate(store)
    index = await open_index(settings)
    report: dict = {"machine": describe(), "contexts": len(contexts), "queries": len(queries),
                    "model": index.embeddings.name + " (bundled int8 ONNX, fastembed)", "qdrant": "Qdrant Edge (embedded)"}
    started = time.perf_counter()
    await load(store, contexts)
    report["graph_load_s"] = round(time.perf_counter() - started, 2)
    total = await store.count_contexts(WS, None)  # includes the created parent contexts
    worker = IndexWorker(store, index, workspace=WS, batch=128)
    started = time.perf_counter()
    await worker.drain(timeout=3_600)
    seconds = time.perf_counter() - started
    report["indexing"] = {"contexts": total, "seconds": round(seconds, 2), "contexts_per_s": round(total / seconds, 1)}
    await index.optimize()  # as the server's background optimiser would (a child process): search with HNSW
    report["quality"] = await quality(store, index, queries)
    print(json.dumps({k: report[k] for k in ("indexing", "quality")}), flush=True)
    app = create_app(settings, store=store, search=SearchRuntime(index))
    port = args.port or free_port()
    server, thread = serve(app, port)
    try:
        report["http"] = [await http_load(port, queries, c, args.requests) for c in (10, 50)]
    finally:
        server.should_exit = True
        thread.join(10)
    await index.close()
    await store.close()
    return report


def write(report: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"search-{datetime.date.today().isoformat()}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    lines = [
        f"# Search benchmark, {datetime.date.today().isoformat()}", "",
        f"Machine: {json.dumps(m)}", "",
        f"Corpus: {report['contexts']} contexts (stdlib docstrings without their summary line, plus installed "
        f"packages' description paragraphs as distractors); {report['queries']} queries (each docstring's summary "
        f"line; its one relevant context is the docstring it came from). Model: {report['model']}; {report['qdrant']}.",
        "", "| mode | recall@10 | MRR@10 |", "|---|---|---|",
        *[f"| {mode.upper()} | {q['recall@10']} | {q['mrr@10']} |" for mode, q in report["quality"].items()], "",
        f"Indexing (embed + upsert, through the outbox worker): {report['indexing']['contexts']} contexts in "
        f"{report['indexing']['seconds']} s = {report['indexing']['contexts_per_s']} contexts/s.", "",
        "| HTTP clients | requests | req/s | p50 ms | p95 ms | errors |", "|---|---|---|---|---|---|",
        *[f"| {h['concurrency']} | {h['requests']} | {h['requests_per_s']} | {h['p50_ms']} | {h['p95_ms']} | {h['errors']} |"
          for h in report["http"]], "",
    ]
    stem.with_suffix(".md").write_text("\n".join(lines))
    return stem.with_suffix(".md")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    print(write(asyncio.run(main(parser.parse_args()))).read_text())
