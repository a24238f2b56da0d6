"""Search load generator, in its own process (no GIL shared with the server):

    python -m bench.search.drive --url http://127.0.0.1:PORT --queries Q.json \
        --phases hybrid:1,dense:1,hybrid:16,dense:16,keyword:1,keyword:16[,none:16] --warmup 5 --duration 20 \
        [--watch server=PID] [--output R.json]

Per phase: a warm-up (discarded), then a measured closed loop of `--duration` seconds: c workers share one
keep-alive httpx.AsyncClient and send `search(query:, mode:, limit: 10)` as soon as the previous answer is
read. Queries come from the list in order through ONE cursor shared by all workers and all phases, so no
query repeats back to back. With a list longer than the server's query-embedding cache (an LRU), and the
embedding modes run before KEYWORD, no embedding request can hit that cache; the driver also replays the
request order through an LRU of the same size and reports the hits it predicts. Mode `none` sends
`{ __typename }` instead: the server's own ceiling, with no search in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx

from bench.load import cpu_seconds, descendants, percentile, require_loopback, system_busy_seconds, wait_quiet

QUERY = ("query($q: String!, $m: SearchMode!) { search(query: $q, mode: $m, limit: 10) "
         "{ score snippet context { path title } } }")
# Mode `NONE`: a GraphQL request through the same client, HTTP stack and schema that searches nothing, so
# its rate is a ceiling no search request can pass on this machine.
CEILING = {"query": "{ __typename }"}


class Cursor:
    """The next query, and a replay of the server's LRU query cache (embedding modes only)."""

    def __init__(self, texts: list[str], cache_size: int) -> None:
        self.texts, self.position = texts, 0
        self.lru: OrderedDict[str, None] = OrderedDict()
        self.cache_size = cache_size
        self.hits = 0

    def next(self, mode: str) -> str:
        text = self.texts[self.position % len(self.texts)]
        self.position += 1
        if mode != "KEYWORD":
            if text in self.lru:
                self.hits += 1
                self.lru.move_to_end(text)
            else:
                self.lru[text] = None
                while len(self.lru) > self.cache_size:
                    self.lru.popitem(last=False)
        return text


async def phase(client: httpx.AsyncClient, cursor: Cursor, mode: str, concurrency: int,
                duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    empty = 0
    deadline = time.perf_counter() + duration
    hits0 = cursor.hits

    async def worker() -> None:
        nonlocal empty
        while time.perf_counter() < deadline:
            payload = CEILING if mode == "NONE" else {"query": QUERY, "variables": {"q": cursor.next(mode), "m": mode}}
            started = time.perf_counter_ns()
            try:
                response = await client.post("/graphql", json=payload)
                body = response.json()
                problem = f"HTTP {response.status_code}" if response.status_code != 200 else (
                    str(body["errors"][0].get("message")) if body.get("errors") else None)
                if problem is None and mode != "NONE" and not body["data"]["search"]:
                    empty += 1
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                problem = f"{type(error).__name__}: {error}"
            latencies.append((time.perf_counter_ns() - started) / 1e6)
            if problem:
                errors.append(problem)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies), "errors": len(errors), "error_samples": sorted(set(errors))[:5],
        "empty_results": empty, "duration_s": round(wall, 3), "rps": round(len(latencies) / wall, 1),
        "latency_ms": {p: round(percentile(latencies, q), 2) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}
        | {"mean": round(sum(latencies) / max(1, len(latencies)), 2)},
        "predicted_cache_hits": cursor.hits - hits0,
    }


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    texts: list[str] = json.loads(args.queries.read_text())
    cursor = Cursor(texts, args.cache_size)
    watched = {k: int(v) for k, v in (w.split("=", 1) for w in args.watch)}
    phases = [(m.upper(), int(c)) for m, c in (p.split(":") for p in args.phases.split(","))]
    limit = max(c for _, c in phases)
    runs = []
    async with httpx.AsyncClient(base_url=args.url, timeout=httpx.Timeout(60.0),
                                 limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)) as client:
        for mode, concurrency in phases:
            waited = await wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
            if args.warmup > 0:
                await phase(client, cursor, mode, concurrency, args.warmup)
            # A watched process's children (the embedded index's process) count apart, as `<name>_children`.
            tracked = [*watched.items(), *((f"{k}_children", child) for k, pid in watched.items()
                                           for child in descendants(pid))]
            cpu0 = [cpu_seconds(pid) for _, pid in tracked]
            system0, driver0 = system_busy_seconds(), time.process_time()
            result = await phase(client, cursor, mode, concurrency, args.duration)
            wall = result["duration_s"] or 1.0
            cpu = {"driver": round((time.process_time() - driver0) / wall, 2)}
            for (name, pid), before in zip(tracked, cpu0, strict=True):
                after = cpu_seconds(pid)
                if after is not None and before is not None:
                    cpu[name] = round(cpu.get(name, 0.0) + (after - before) / wall, 2)
            system1 = system_busy_seconds()
            if system0 is not None and system1 is not None:
                cpu["other"] = round(max(0.0, (system1 - system0) / wall - sum(cpu.values())), 2)
            run = {"mode": mode, "concurrency": concurrency, **result, "cpu_cores": cpu, "waited_for_quiet_s": waited}
            runs.append(run)
            lat = run["latency_ms"]
            print(f"{mode:8} c={concurrency:<3} {run['requests']:>6} req {run['rps']:>7.1f} req/s  p50 {lat['p50']:.1f} ms  "
                  f"p95 {lat['p95']:.1f} ms  p99 {lat['p99']:.1f} ms  errors {run['errors']}  empty {run['empty_results']}  "
                  f"cache hits (predicted) {run['predicted_cache_hits']}  cpu {cpu}", flush=True)
    return {"queries": len(texts), "cache_size": args.cache_size, "warmup_s": args.warmup,
            "duration_s": args.duration, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.search.drive", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--queries", type=Path, required=True, help="JSON list of query texts")
    p.add_argument("--phases", default="hybrid:1,dense:1,hybrid:16,dense:16,keyword:1,keyword:16")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--cache-size", type=int, default=2_048, help="the server's query-embedding LRU size")
    p.add_argument("--wait-quiet", type=float, default=0.0)
    p.add_argument("--watch", action="append", default=[], metavar="NAME=PID")
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    require_loopback(args.url)
    report = asyncio.run(drive(args))
    text = json.dumps(report, indent=1)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
