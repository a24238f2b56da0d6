"""HTTP load driver: run in its own process against a running `contextql serve`.

    python -m bench.load --url http://127.0.0.1:8765 --manifest M.json \
        [--scenarios all] [--concurrency 1,8] [--warmup 5] [--duration 15] [--max-requests 100000] \
        [--watch server=PID --watch neo4j=PID] [--output R.json]

For each scenario and each concurrency level: a warm-up phase (discarded), then
a measured phase of `--duration` seconds (or `--max-requests`, whichever comes
first) with N workers sharing one keep-alive `httpx.AsyncClient`, each sending
its next request as soon as the previous one is answered (closed loop).
Latency is measured per request, from send to the full body read; every
response is parsed and checked (a GraphQL error or a wrong answer counts as an
error). Reports p50/p95/p99 latency and requests/s, and the CPU used meanwhile
by the driver and by each watched process (`--watch NAME=PID`, from /proc).

Round trips: when the server answers `GET /debug/stats` with `{"queries": N}`
(the store's counter), the driver reads it before and after each measured phase
and reports statements per request; otherwise that column comes from
`bench.roundtrips` (in-process).

Only loopback addresses are accepted as targets; every phase is bounded in time
and in request count.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from .scenarios import SCENARIOS, check

console = Console(stderr=True, soft_wrap=True)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise SystemExit(f"cannot resolve {host!r}: {error}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"refusing to load {host!r}: the benchmark only targets loopback addresses")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def system_busy_seconds() -> float | None:
    """CPU seconds spent busy by the whole machine (all cores) since boot, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def wait_quiet(limit: float, threshold: float = 0.3, sample: float = 2.0) -> float:
    """Wait (up to `limit` s) until the machine is idle between phases; returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = system_busy_seconds()
        await asyncio.sleep(sample)
        after = system_busy_seconds()
        if before is None or after is None or (after - before) / sample <= threshold:
            break
    return round(time.perf_counter() - started, 1)


async def store_queries(client: httpx.AsyncClient) -> int | None:
    try:
        response = await client.get("/debug/stats")
        if response.status_code == 200:
            value = response.json().get("queries")
            return int(value) if value is not None else None
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return None


async def phase(client: httpx.AsyncClient, name: str, targets: dict[str, Any], concurrency: int,
                duration: float, max_requests: int, seed: str) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    deadline = time.perf_counter() + duration

    async def worker(number: int) -> None:
        rng = random.Random(f"{seed}:{name}:{concurrency}:{number}")
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            payload = {"query": scenario.query, "variables": scenario.pick(rng, targets)}
            started = time.perf_counter_ns()
            try:
                response = await client.post("/graphql", json=payload)
                elapsed = (time.perf_counter_ns() - started) / 1e6
                problem = (f"HTTP {response.status_code}" if response.status_code != 200
                           else check(name, response.json()))
            except (httpx.HTTPError, ValueError) as error:
                elapsed = (time.perf_counter_ns() - started) / 1e6
                problem = f"{type(error).__name__}: {error}"
            latencies.append(elapsed)
            if problem:
                errors.append(problem)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "duration_s": round(wall, 3),
        "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else None,
            "min": round(latencies[0], 3) if latencies else None,
            "max": round(latencies[-1], 3) if latencies else None,
        },
    }


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    manifest = json.loads(args.manifest.read_text())
    targets = manifest["targets"]
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    levels = [int(c) for c in args.concurrency.split(",")]
    if any(c < 1 or c > 256 for c in levels):
        raise SystemExit("--concurrency must be between 1 and 256")
    watched = dict(w.split("=", 1) for w in args.watch)
    watched_pids = {k: int(v) for k, v in watched.items()}
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    runs: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=httpx.Timeout(60.0)) as client:
        stats_hook = await store_queries(client) is not None
        console.print(f"server store counter (/debug/stats): {'yes' if stats_hook else 'not available'}")
        for name in names:
            for concurrency in levels:
                waited = await wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
                if args.warmup > 0:
                    await phase(client, name, targets, concurrency, args.warmup, args.max_requests, "warmup")
                q0 = await store_queries(client) if stats_hook else None
                cpu0 = {k: cpu_seconds(pid) for k, pid in watched_pids.items()}
                system0 = system_busy_seconds()
                driver0 = time.process_time()
                result = await phase(client, name, targets, concurrency, args.duration, args.max_requests, "measure")
                driver_cpu = time.process_time() - driver0
                system1 = system_busy_seconds()
                cpu1 = {k: cpu_seconds(pid) for k, pid in watched_pids.items()}
                q1 = await store_queries(client) if stats_hook else None
                wall = result["duration_s"] or 1.0
                cpu = {"driver": round(driver_cpu / wall, 2)}
                for key in watched_pids:
                    if cpu0[key] is not None and cpu1[key] is not None:
                        cpu[key] = round((cpu1[key] - cpu0[key]) / wall, 2)
                if system0 is not None and system1 is not None:
                    # Everything else on the machine (other users' work would show here).
                    busy = (system1 - system0) / wall
                    cpu["other"] = round(max(0.0, busy - sum(cpu.values())), 2)
                result = {"scenario": name, "concurrency": concurrency, **result, "cpu_cores": cpu,
                          "waited_for_quiet_s": waited}
                if q0 is not None and q1 is not None and result["requests"]:
                    result["round_trips_per_request"] = round((q1 - q0) / result["requests"], 2)
                runs.append(result)
                lat = result["latency_ms"]
                console.print(
                    f"{name:16} c={concurrency:<3} {result['requests']:>7} req {result['rps']:>8.1f} req/s  "
                    f"p50 {lat['p50']:.2f} ms  p95 {lat['p95']:.2f} ms  p99 {lat['p99']:.2f} ms  "
                    f"errors {result['errors']}  cpu {cpu}"
                )
    return {
        "url": args.url, "warmup_s": args.warmup, "duration_s": args.duration, "max_requests": args.max_requests,
        "concurrency": levels, "server_stats_hook": stats_hook, "runs": runs,
    }


def print_table(report: dict[str, Any]) -> None:
    table = Table(title="load")
    for column in ("scenario", "c", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in report["runs"]:
        lat = r["latency_ms"]
        table.add_row(r["scenario"], str(r["concurrency"]), f"{r['requests']:,}", f"{r['rps']:.1f}",
                      f"{lat['p50']:.2f}", f"{lat['p95']:.2f}", f"{lat['p99']:.2f}", str(r["errors"]))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="server base URL (loopback only), e.g. http://127.0.0.1:8765")
    p.add_argument("--manifest", type=Path, required=True, help="manifest written by bench.generate")
    p.add_argument("--scenarios", default="all", help=f"comma-separated, or all ({', '.join(SCENARIOS)})")
    p.add_argument("--concurrency", default="1,8", help="comma-separated concurrency levels")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of discarded warm-up per phase")
    p.add_argument("--duration", type=float, default=15.0, help="seconds measured per phase")
    p.add_argument("--max-requests", type=int, default=100_000, help="cap on requests per phase")
    p.add_argument("--wait-quiet", type=float, default=0.0,
                   help="before each phase, wait up to this many seconds for the machine to be idle")
    p.add_argument("--watch", action="append", default=[], metavar="NAME=PID",
                   help="report the CPU used by this process during each phase")
    p.add_argument("--output", type=Path, help="write the JSON report here (default: standard output)")
    args = p.parse_args(argv)
    require_loopback(args.url)
    if args.duration <= 0 or args.duration > 600:
        raise SystemExit("--duration must be in (0, 600] seconds")
    report = asyncio.run(drive(args))
    print_table(report)
    text = json.dumps(report, indent=1)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
