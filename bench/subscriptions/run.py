"""Commit-to-delivery latency of subscriptions, and sustained events/s.

Starts `contextql serve` (embedded store) as separate processes, connects N graphql-transport-ws
subscribers, writes W updates over HTTP and records, per delivery, receive time minus the event's
`at` (the write's timestamp, taken just before its transaction commits: an upper bound that includes
the store write). `--redis` runs two instances sharing a Redis: writes go to A, subscribers sit on B.

    .venv/bin/python -m bench.subscriptions.run --subscribers 1 100 1000 --writes 200 [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from tests.live.servers import RedisServer, ServerProcess
from tests.live.wsclient import WsClient

QUERY = 'subscription { contextChanged(pathPrefix: "/bench") { ... on ContextChangeEvent { at version } ... on EventsDropped { count } } }'
UPDATE = 'mutation($t: String!) { updateContext(path: "/bench/doc", input: {title: $t}) { version } }'


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def subscriber(url: str, writes: int, latencies: list[float], dropped: list[int], ready: asyncio.Event, ready_count: list[int], total: int):
    async with WsClient(url, ping_interval=None) as ws:
        op = await ws.subscribe(QUERY)
        ready_count[0] += 1
        if ready_count[0] == total:
            ready.set()
        got = 0
        while got < writes:
            payload = (await ws.next(op, timeout=120))["data"]["contextChanged"]
            now = time.time()
            if "count" in payload:
                dropped.append(payload["count"])
                got += payload["count"]
                continue
            at = datetime.fromisoformat(payload["at"]).timestamp()
            latencies.append((now - at) * 1000)
            got += 1


async def scenario(subscribers: int, writes: int, redis: bool, work: Path) -> dict:
    env = {"CONTEXTQL_WORKSPACE": "bench", "CONTEXTQL_SUBSCRIPTION_BUFFER": "10000", "CONTEXTQL_SEARCH": "false",
           # 1,000 subscribe operations from one principal would trip the per-principal rate limit
           "CONTEXTQL_RATE_LIMIT_OPERATIONS": "0", "CONTEXTQL_RATE_LIMIT_COST": "0"}
    redis_server = RedisServer(work) if redis else None
    if redis_server:
        env["CONTEXTQL_REDIS_URL"] = redis_server.url
    a = ServerProcess({**env, "CONTEXTQL_DATA_DIR": str(work / "a")}, work / "a.log")
    await a.ready()
    b = a
    if redis:
        b = ServerProcess({**env, "CONTEXTQL_DATA_DIR": str(work / "b")}, work / "b.log")
        await b.ready()
    try:
        async with httpx.AsyncClient(base_url=a.http, timeout=60) as http:
            await http.post("/graphql", json={"query": 'mutation { createContext(input: {path: "/bench/doc"}, createParents: true) { id } }'})
            latencies: list[float] = []
            dropped: list[int] = []
            ready, count = asyncio.Event(), [0]
            tasks = [asyncio.create_task(subscriber(b.ws, writes, latencies, dropped, ready, count, subscribers))
                     for _ in range(subscribers)]
            await asyncio.wait_for(ready.wait(), 120)
            await asyncio.sleep(1.0)  # subscribe messages are handled asynchronously on the server
            started = time.perf_counter()
            for i in range(writes):
                body = (await http.post("/graphql", json={"query": UPDATE, "variables": {"t": f"t{i}"}})).json()
                assert not body.get("errors"), body
            write_done = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*tasks), 300)
            elapsed = time.perf_counter() - started
    finally:
        for server in {id(a): a, id(b): b}.values():
            server.stop()
        if redis_server:
            redis_server.stop()
    return {
        "subscribers": subscribers, "writes": writes, "redis_two_instances": redis,
        "deliveries": len(latencies), "dropped": sum(dropped),
        "latency_ms": {"p50": round(pct(latencies, 50), 2), "p95": round(pct(latencies, 95), 2),
                       "p99": round(pct(latencies, 99), 2), "max": round(max(latencies), 2),
                       "mean": round(statistics.fmean(latencies), 2)},
        "writes_per_s": round(writes / (write_done - started), 1),
        "deliveries_per_s": round(len(latencies) / elapsed, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    results = []
    for n in args.subscribers:
        with tempfile.TemporaryDirectory() as tmp:
            result = await scenario(n, args.writes, args.redis, Path(tmp))
        print(json.dumps(result))
        results.append(result)
    name = f"{time.strftime('%Y-%m-%d')}-{'redis' if args.redis else 'single'}.json"
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": __import__("os").cpu_count()}
    (args.out / name).write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
