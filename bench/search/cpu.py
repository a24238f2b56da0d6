"""Where the server's CPU goes per search request: per-thread CPU of `contextql serve` under load.

    python -m bench.search.cpu --work-dir bench/.work/search-latency --phases dense:1,hybrid:16 \
        [--duration 8] [--env CONTEXTQL_EMBEDDING_THREADS=1] [--output R.json]

Starts the server over `<work-dir>/data` (a store `bench.search.latency` seeded; only one process can open
it), then per phase runs the load generator's closed loop in this process (`bench.search.drive.phase`) and
reads every server thread's utime + stime from `/proc/<pid>/task/*/stat` before and after. CPU milliseconds
per request are robust to other work on a shared machine in a way req/s are not: the numbers are what the
server's own threads spent, whatever else ran. Threads are grouped by name (`comm`): `python` is the event
loop and any unnamed native thread (ONNX Runtime's pool, Qdrant Edge's), `embed_0` the model thread;
`child:...` the threads of the server's child processes (the index process), counted in the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bench.load import CLOCK_TICKS, require_loopback
from bench.run import _free_port, stop_server, wait_healthy

from .drive import Cursor, phase
from .latency import ROOT, cache_size, server_env


def thread_ticks(pid: int, prefix: str = "") -> dict[int, tuple[str, int]]:
    """tid -> (name, utime + stime in clock ticks) of every live thread of `pid` and of its child processes
    (the index process, `CONTEXTQL_INDEX_PROCESS`), whose thread names get `child:` in front."""
    threads = {}
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        threads[int(task.name)] = (prefix + name, int(fields[11]) + int(fields[12]))
    for child in children:
        try:
            threads |= thread_ticks(child, "child:")
        except OSError:
            continue
    return threads


def breakdown(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], requests: int
              ) -> dict[str, Any]:
    """CPU ms per request, in all and per thread name (threads that ended meanwhile are lost: none should)."""
    by_name: dict[str, float] = defaultdict(float)
    by_thread = []
    for tid, (name, ticks) in after.items():
        spent = (ticks - before.get(tid, (name, 0))[1]) / CLOCK_TICKS
        if spent > 0:
            by_name[name] += spent
            by_thread.append((spent, name, tid))
    per = 1_000 / max(1, requests)
    return {
        "cpu_ms_per_request": round(sum(by_name.values()) * per, 2),
        "by_name": {k: round(v * per, 2) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])},
        "busiest_threads": [{"tid": tid, "name": name, "ms_per_request": round(s * per, 2)}
                            for s, name, tid in sorted(by_thread, reverse=True)[:8]],
        "threads": len(after),
    }


async def measure(url: str, pid: int, texts: list[str], phases: list[tuple[str, int]], warmup: float,
                  duration: float) -> list[dict[str, Any]]:
    cursor = Cursor(texts, cache_size())
    runs = []
    limit = max(c for _, c in phases)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0),
                                 limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)) as client:
        for mode, concurrency in phases:
            if warmup > 0:
                await phase(client, cursor, mode, concurrency, warmup)
            load0, before = os.getloadavg()[0], thread_ticks(pid)
            result = await phase(client, cursor, mode, concurrency, duration)
            after = thread_ticks(pid)
            run = {"mode": mode, "concurrency": concurrency, "requests": result["requests"], "rps": result["rps"],
                   "errors": result["errors"], "p50_ms": result["latency_ms"]["p50"],
                   "server_cores": round(sum(t for _, t in after.values()) / CLOCK_TICKS
                                         - sum(t for _, t in before.values()) / CLOCK_TICKS, 2) / result["duration_s"],
                   "load_avg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
                   **breakdown(before, after, result["requests"])}
            run["server_cores"] = round(run["server_cores"], 2)
            runs.append(run)
            print(f"{mode:8} c={concurrency:<3} {run['requests']:>5} req {run['rps']:>6.1f} req/s  p50 {run['p50_ms']:.1f} ms  "
                  f"server {run['server_cores']} cores = {run['cpu_ms_per_request']:.1f} ms CPU/request  "
                  f"{run['by_name']}  load {run['load_avg_1m']}", flush=True)
    return runs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.search.cpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", type=Path, required=True, help="a folder `bench.search.latency` seeded (data/, queries.json)")
    p.add_argument("--phases", default="keyword:1,dense:1,hybrid:1,dense:16,hybrid:16")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra server settings")
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    texts: list[str] = json.loads((args.work_dir / "queries.json").read_text())
    phases = [(m.upper(), int(c)) for m, c in (x.split(":") for x in args.phases.split(","))]
    port, log = _free_port(), args.work_dir / "server-cpu.log"
    url = f"http://127.0.0.1:{port}"
    require_loopback(url)
    env = server_env(args.work_dir / "data") | dict(kv.split("=", 1) for kv in args.env)
    command = [sys.executable, "-m", "contextql.server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, server, log)
        print(f"server pid {server.pid}", flush=True)
        time.sleep(1.0)  # start-up work (index open, maintenance task) settles
        runs = asyncio.run(measure(url, server.pid, texts, phases, args.warmup, args.duration))
    finally:
        stop_server(server)
    report = {"env": dict(kv.split("=", 1) for kv in args.env), "runs": runs}
    if args.output:
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
