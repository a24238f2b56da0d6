"""Two ContextQL servers served side by side over HTTP, alternated round by round: the A/B of a change.

    python -m bench.peer.ab --manifest bench/.work/peer-n50000-s20250101/manifest.json \
        --ladybug bench/.work/peer-n50000-s20250101/ladybug \
        --b-env CONTEXTQL_LADYBUG_INLINE_READ_MS=0 --scenarios nested,children_page --concurrency 16

Each side is `contextql serve` as `python -m bench.peer` serves it, with its own `--a-env`/`--b-env`
settings and, with `--a-path`/`--b-path`, another checkout first on PYTHONPATH (a directory holding
`contextql/`, e.g. a `git archive` of a commit). With `--ladybug` each side serves its own copy of that
data directory (the embedded store admits one process; writes of one side never reach the other);
with `--neo4j-uri` both serve that Neo4j. Per scenario, each side settles (untimed until its req/s stops
improving), then per level the sides take `--rounds` rounds in turn (AB BA AB ...). Reported: each
side's req/s, p50/p95, server CPU ms per request and statements per operation, and B/A of req/s,
pooled and as the median and range of the round-by-round ratios (the steadier figure on a drifting
host). In-process CPU per request without HTTP: `bench/peer/cpu.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.run import _free_port, _server_env
from bench.tree import build_tree

from . import report
from .run import _measured, _merge, _process, _settle, console, round_order
from .scenarios import SCENARIOS, extra_targets

SIDES = ("A", "B")


def parse_env(items: list[str]) -> dict[str, str]:
    """`NAME=value` settings for one side; only CONTEXTQL_* names (anything else is a typo here)."""
    env: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("CONTEXTQL_"):
            raise SystemExit(f"--a-env/--b-env take CONTEXTQL_NAME=value, not {item!r}")
        env[name] = value
    return env


def side_env(base: dict[str, str], overrides: dict[str, str], path: Path | None) -> dict[str, str]:
    """The bench's server environment with one side's settings, its checkout first on PYTHONPATH."""
    env = base | overrides
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(path), base.get("PYTHONPATH", "")) if p)
    return env


async def drive(urls: dict[str, str], pids: dict[str, int], targets: dict[str, Any],
                args: argparse.Namespace) -> list[dict[str, Any]]:
    levels = [int(c) for c in args.concurrency.split(",")]
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        clients = {side: await stack.enter_async_context(httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0))
                   for side, url in urls.items()}
        for name in args.scenarios.split(","):
            scenario = SCENARIOS[name]
            if args.settle > 0:
                for side in SIDES:
                    await _settle(clients[side], scenario, side, targets, max(levels), args)
            for concurrency in levels:
                parts: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
                for number in range(args.rounds):
                    for side in round_order(list(SIDES), number):
                        parts[side].append(await _measured(clients[side], scenario, side, targets, concurrency, args,
                                                           {"server": pids[side]}, f"ab{number}"))
                row: dict[str, Any] = {"scenario": name, "concurrency": concurrency,
                                       **{side: _merge(parts[side]) for side in SIDES}}
                row["b/a"] = report.ratios(row["B"], row["A"])  # req/s above 1 favours B; CPU above 1 favours A
                rows.append(row)
                _print(row)
    return rows


def _print(row: dict[str, Any]) -> None:
    for side in SIDES:
        r = row[side]
        console.print(f"{row['scenario']:16} c={row['concurrency']:<3} {side} {r['rps']:>8.1f} req/s "
                      f"(rounds {r['rounds_rps']})  p50 {r['latency_ms']['p50']:.2f}  p95 {r['latency_ms']['p95']:.2f} ms  "
                      f"server {r['cpu_ms_per_request'].get('server')} ms/req  stmts {r['statements_per_request']}  "
                      f"errors {r['errors']}")
    ratio, rounds = row["b/a"], row["b/a"]["rps_rounds"] or {}
    console.print(f"{'':16} B/A: req/s {ratio['rps']} (rounds median {rounds.get('median')}, "
                  f"{rounds.get('min')}-{rounds.get('max')}), server CPU {ratio['server_cpu_ms']}")


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    manifest = json.loads(args.manifest.read_text())
    tree = manifest["tree"]
    targets = manifest["targets"] | extra_targets(build_tree(tree["contexts"], tree["depth"], tree["fanout"], tree["seed"]))
    overrides = {"A": parse_env(args.a_env), "B": parse_env(args.b_env)}
    paths = {"A": args.a_path, "B": args.b_path}
    with tempfile.TemporaryDirectory(prefix="contextql-ab-") as scratch, contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        for side in SIDES:
            if args.ladybug:
                data = Path(scratch) / side
                shutil.copytree(args.ladybug, data)
                base = _server_env("ladybug", {"data_dir": str(data)})
            else:
                base = _server_env("neo4j", {"neo4j_uri": args.neo4j_uri})
            port = _free_port()
            urls[side] = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "contextql.server", "serve", "--host", "127.0.0.1", "--port", str(port)]
            proc = stack.enter_context(_process(side, command, side_env(base, overrides[side], paths[side]),
                                                Path(scratch) / f"{side}.log", urls[side]))
            pids[side] = proc.pid
        rows = asyncio.run(drive(urls, pids, targets, args))
    if args.json:
        args.json.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "runs": rows},
                                        indent=1) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer.ab", description=__doc__.split("\n\n")[0])
    store = p.add_mutually_exclusive_group(required=True)
    store.add_argument("--ladybug", type=Path, metavar="DIR", help="a LadybugDB data directory (each side a copy)")
    store.add_argument("--neo4j-uri", help="a Neo4j both sides serve")
    p.add_argument("--manifest", type=Path, required=True, help="manifest.json written by the peer run's generate step")
    p.add_argument("--a-env", action="append", default=[], metavar="CONTEXTQL_NAME=value")
    p.add_argument("--b-env", action="append", default=[], metavar="CONTEXTQL_NAME=value")
    p.add_argument("--a-path", type=Path, help="a directory holding another `contextql/`, first on A's PYTHONPATH")
    p.add_argument("--b-path", type=Path, help="the same for B")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--round-s", type=float, default=4.0, help="measured seconds per round")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each round")
    p.add_argument("--settle", type=float, default=10.0, help="least untimed seconds per scenario and side (0: none)")
    p.add_argument("--settle-max", type=float, default=60.0)
    p.add_argument("--max-requests", type=int, default=100_000, help="cap on requests per round")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    unknown = [n for n in args.scenarios.split(",") if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    if args.rounds < 2 or args.round_s <= 0:
        raise SystemExit("--rounds must be at least 2 and --round-s positive")
    args.duration = args.rounds * args.round_s  # what run._measured divides by --rounds
    started = time.perf_counter()
    run(args)
    console.print(f"done in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
