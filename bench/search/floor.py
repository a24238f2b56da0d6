"""The floor: embedding the benchmark's queries alone, in queries/s, in its own process.

    python -m bench.search.floor --queries Q.json --concurrency 1,16 --warmup 5 --duration 20 [--output F.json]

The embedder is made exactly as the server makes it (`contextql.server.search.make_embeddings`: the bundled
int8 MiniLM through fastembed with ONNX Runtime's default threads, one model thread behind
`EmbeddingService`, whose `embed_query` batches the callers that wait while a batch is at the model). c callers run a
closed loop of `embed_query` over the same query list in the same order as the load generator (one shared
cursor), so with a list longer than the query cache no call is answered from the cache. It runs while the
server is not running, so the two never compete for the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import percentile
from contextql.server.search import make_embeddings
from contextql.server.settings import Settings

from .drive import Cursor


async def phase(service, cursor: Cursor, concurrency: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration
    hits0, calls0 = cursor.hits, service.model_calls

    async def caller() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            await service.embed_query(cursor.next("DENSE"))
            latencies.append((time.perf_counter_ns() - started) / 1e6)

    started, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    latencies.sort()
    return {"concurrency": concurrency, "queries": len(latencies), "duration_s": round(wall, 3),
            "queries_per_s": round(len(latencies) / wall, 1), "model_calls": service.model_calls - calls0,
            # this process's threads: the model's (ONNX Runtime's pool included) and the callers'
            "cpu_cores": round(cpu / wall, 2), "cpu_ms_per_query": round(1000 * cpu / max(1, len(latencies)), 3),
            "latency_ms": {"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2)},
            "predicted_cache_hits": cursor.hits - hits0}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    texts: list[str] = json.loads(args.queries.read_text())
    with tempfile.TemporaryDirectory() as folder:
        service = make_embeddings(Settings(_env_file=None, data_dir=Path(folder)))
        cursor = Cursor(texts, service._cache_size)
        runs = []
        try:
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                if args.warmup > 0:
                    await phase(service, cursor, concurrency, args.warmup)
                result = await phase(service, cursor, concurrency, args.duration)
                runs.append(result)
                print(f"floor   c={concurrency:<3} {result['queries']:>6} queries {result['queries_per_s']:>7.1f} q/s  "
                      f"p50 {result['latency_ms']['p50']:.1f} ms  model calls {result['model_calls']}  "
                      f"cpu {result['cpu_cores']} cores  cache hits (predicted) {result['predicted_cache_hits']}", flush=True)
        finally:
            service.close()
    return {"embedder": service.name, "cache_size": cursor.cache_size, "max_batch": service.max_batch,
            "batching": "the queries that wait while a batch is at the model", "runs": runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.search.floor", description=__doc__.split("\n\n")[0])
    p.add_argument("--queries", type=Path, required=True)
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=1)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
