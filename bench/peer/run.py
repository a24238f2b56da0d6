"""ContextQL against its peer (@neo4j/graphql 7 on @apollo/server 4), side by side, same Neo4j, same tree.

    python -m bench.peer [--quick] [--reuse] [--servers all] [--duration 16] [--rounds 4] [--warmup 2] [--concurrency 1,16]
                         [--profile]

1. Starts a Neo4j 5.26 (bench/neo4j_runner.py; or uses --neo4j-uri) and loads the seeded tree with
   `bench.generate` (50,000 contexts; `--reuse` keeps a store generated earlier with the same shape).
2. Starts the servers of `--servers` (bench/peer/variants.py; all by default) on loopback:
   `contextql serve` on that Neo4j (uvicorn, CONTEXTQL_DEBUG_STATS on), the same with `--workers 2`
   (contextql-w2), the same on embedded LadybugDB (contextql-ladybug: a copy of the Neo4j workspace
   made by `contextql export` | `contextql import`), the peer (`node bench/peer/server.mjs`, its
   lockfile installed with `npm ci` when needed) and the ceiling (a bare Starlette JSON endpoint,
   bench/peer/ceiling.py).
3. Checks that each ContextQL server answers every scenario as the peer does (same paths, titles,
   counts, versions...) on sample targets, and that a title written through one is read through
   the other. Nothing is timed when they differ.
4. Times each scenario at each concurrency level, the servers alternated: in `--servers` order, then
   reversed, each round a warm-up and `--duration`/2 seconds measured, so each server gets
   `--duration` seconds in all. Then the ceiling. The load comes from this process (closed-loop
   workers over keep-alive `httpx` connections), never from a server's.
5. Per server and phase: req/s, p50/p95/p99, server CPU ms per request (/proc/<pid>/stat
   utime+stime of the server and its worker processes), Neo4j CPU ms per request, statements per
   operation (GET /debug/stats; the peer counts the driver's `run` calls), and the ratios of each
   ContextQL server to the peer and to ContextQL on Neo4j.
6. Writes bench/results/peer-<date>[-runN].json and .md. With --profile, then profiles ContextQL
   under load with py-spy for each scenario (bench/peer/profile.py) and writes profile-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bench import machine
from bench.load import cpu_seconds, percentile, require_loopback, store_queries, system_busy_seconds
from bench.run import _free_port, _manifest_matches, _server_env, _step, _wait_quiet, stop_server, wait_healthy
from bench.tree import WORKSPACE, build_tree

from . import report
from .scenarios import SCENARIOS, Scenario, check, extra_targets
from .variants import VARIANTS, parse_servers, tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
PEER_DIR = ROOT / "bench" / "peer"
RESULTS = ROOT / "bench" / "results"
console = Console(stderr=True, soft_wrap=True)


# -- servers -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _process(name: str, command: list[str], env: dict[str, str], log: Path, url: str, cwd: Path = ROOT):
    console.rule(f"serve ({name})")
    console.print(" ".join(command), style="dim")
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, proc, log)
        yield proc
    finally:
        stop_server(proc)


def _copy_to_ladybug(uri: str, work: Path) -> Path:
    """A new LadybugDB data directory holding the workspace as it is in Neo4j now (titles earlier runs wrote
    included): `contextql export` from Neo4j, `contextql import` into the directory, which keeps ids, versions
    and timestamps, so both stores answer alike."""
    backup, data_dir = work / "bench-export.jsonl", work / "ladybug"
    shutil.rmtree(data_dir, ignore_errors=True)
    cli = [sys.executable, "-m", "contextql.server"]
    _step("export (neo4j)", [*cli, "export", "--workspace", WORKSPACE, "-o", str(backup)],
          _server_env("neo4j", {"neo4j_uri": uri}))
    _step("import (ladybug)", [*cli, "import", str(backup), "--workspace", WORKSPACE],
          _server_env("ladybug", {"data_dir": str(data_dir)}))
    backup.unlink()
    return data_dir


def _contextql(stack: contextlib.ExitStack, name: str, target: dict[str, str], log: Path
               ) -> tuple[str, subprocess.Popen, list[str], dict[str, str]]:
    """`contextql serve` for one variant (bench/peer/variants.py), as `python -m bench` serves it."""
    variant, port = VARIANTS[name], _free_port()
    env = _server_env(variant.backend, target)
    command = [sys.executable, "-m", "contextql.server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if variant.workers > 1:
        command += ["--workers", str(variant.workers)]
    url = f"http://127.0.0.1:{port}"
    proc = stack.enter_context(_process(name, command, env, log, url))
    return url, proc, command, {k: v for k, v in env.items() if k.startswith("CONTEXTQL_")}


def _ensure_peer_installed() -> None:
    if not (PEER_DIR / "node_modules" / "@neo4j" / "graphql").exists():
        _step("npm ci (bench/peer)", ["npm", "ci", "--prefix", str(PEER_DIR), "--no-audit", "--no-fund",
                                       "--loglevel=error"])


def _peer_versions() -> dict[str, str | None]:
    lock = json.loads((PEER_DIR / "package-lock.json").read_text())["packages"]
    names = ("@neo4j/graphql", "@apollo/server", "neo4j-driver", "graphql", "express")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {"node": node} | {n: lock.get(f"node_modules/{n}", {}).get("version") for n in names}


# -- load --------------------------------------------------------------------------------------------


async def _post(client: httpx.AsyncClient, scenario: Scenario, server: str, target: dict[str, Any]
                ) -> tuple[float, str | None, Any]:
    kind = VARIANTS[server].kind if server in VARIANTS else "contextql"  # bench/peer/ab.py: its two sides
    request = (scenario.contextql if kind == "contextql" else scenario.peer)(target)
    started = time.perf_counter_ns()
    try:
        response = await client.post("/graphql", json={"query": request.query, "variables": request.variables})
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if response.status_code != 200:
            return elapsed, f"HTTP {response.status_code}: {response.text[:200]}", None
        body = response.json()
        return elapsed, check(scenario, kind, body, target), body
    except (httpx.HTTPError, ValueError) as error:
        return (time.perf_counter_ns() - started) / 1e6, f"{type(error).__name__}: {error}", None


async def _ceiling_post(client: httpx.AsyncClient, scenario: Scenario, server: str, target: dict[str, Any]
                        ) -> tuple[float, str | None, Any]:
    started = time.perf_counter_ns()
    try:
        response = await client.post("/graphql", json={"query": "{ ceiling }", "variables": {"path": target["path"]}})
        elapsed = (time.perf_counter_ns() - started) / 1e6
        ok = response.status_code == 200 and response.json()["data"]["context"]["path"] == target["path"]
        return elapsed, None if ok else f"HTTP {response.status_code}", None
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        return (time.perf_counter_ns() - started) / 1e6, f"{type(error).__name__}: {error}", None


async def _phase(client: httpx.AsyncClient, scenario: Scenario, server: str, targets: dict[str, Any],
                 concurrency: int, duration: float, max_requests: int, seed: str, send=_post) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    deadline = time.perf_counter() + duration

    async def worker(number: int) -> None:
        rng = random.Random(f"{seed}:{scenario.name}:{server}:{concurrency}:{number}")
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            elapsed, problem, _ = await send(client, scenario, server, scenario.pick(rng, targets))
            latencies.append(elapsed)
            if problem:
                errors.append(problem)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return {"wall": time.perf_counter() - started, "latencies": latencies, "errors": errors}


def round_order(servers: list[str], number: int) -> list[str]:
    """Who runs in round `number`: in order, then reversed, and so on (AB BA AB ...)."""
    return servers if number % 2 == 0 else servers[::-1]


SETTLE_WINDOW_S = 5.0
SETTLE_GAIN = 1.03  # a window at least 3% faster than every earlier one: still warming up
# Requests per target of the scenario's working set before settling may stop: drawn at random, 5 per target
# leave 1 - e^-5 (99.3 %) of the targets seen, so the caches keyed by target hold the working set.
SETTLE_PASSES = 5


def settle_window(settle: float) -> float:
    return min(SETTLE_WINDOW_S, settle)


def settled_after(windows: list[float], minimum: int, sent: int = 0, working_set: int = 0) -> bool:
    """Steady: at least `minimum` windows and `SETTLE_PASSES` requests per target of the working set, and the
    last two windows set no new best (by more than SETTLE_GAIN)."""
    if len(windows) < max(minimum, 3) or sent < SETTLE_PASSES * working_set:
        return False
    best_before = max(windows[:-2])
    return max(windows[-2:]) < SETTLE_GAIN * best_before


async def _settle(client: httpx.AsyncClient, scenario: Scenario, server: str, targets: dict[str, Any],
                  concurrency: int, args: argparse.Namespace) -> list[float]:
    """Run the scenario untimed in windows until its req/s stops improving and the working set has been asked
    for (`settled_after`); the windows' req/s.

    At least `--settle` seconds, at most `--settle-max`: Neo4j's JIT keeps compiling a write's code
    paths for a minute or more, longer for a statement with more parts (bench/README.md "Settled first").
    """
    windows: list[float] = []
    window = settle_window(args.settle)
    minimum = max(1, round(args.settle / window))
    limit = max(minimum, round(args.settle_max / window))
    drawn = targets.get(scenario.drawn_from)
    working_set = len(drawn) if isinstance(drawn, list) else 0
    sent = 0
    while len(windows) < limit and not settled_after(windows, minimum, sent, working_set):
        part = await _phase(client, scenario, server, targets, concurrency, window, args.max_requests,
                            f"settle{len(windows)}", _post)
        sent += len(part["latencies"])
        windows.append(round(len(part["latencies"]) / part["wall"], 1) if part["wall"] else 0.0)
    console.print(f"settled {scenario.name} on {server} after {len(windows) * window:g} s: "
                  f"{' '.join(f'{w:g}' for w in windows)} req/s")
    return windows


async def _measured(client: httpx.AsyncClient, scenario: Scenario, server: str, targets: dict[str, Any],
                    concurrency: int, args: argparse.Namespace, pids: dict[str, int], seed: str,
                    send=_post) -> dict[str, Any]:
    if args.warmup > 0:
        await _phase(client, scenario, server, targets, concurrency, args.warmup, args.max_requests, "warmup", send)
    counted = server not in VARIANTS or VARIANTS[server].counts_statements
    q0 = await store_queries(client) if counted else None
    # The server's CPU with its children (the workers of `serve --workers N`); Neo4j's is one process.
    cpu0 = {k: tree_cpu_seconds(p) if k == "server" else cpu_seconds(p) for k, p in pids.items()}
    system0, driver0 = system_busy_seconds(), time.process_time()
    result = await _phase(client, scenario, server, targets, concurrency, args.duration / args.rounds, args.max_requests,
                          seed, send)
    driver_cpu = time.process_time() - driver0
    system1 = system_busy_seconds()
    cpu1 = {k: tree_cpu_seconds(p) if k == "server" else cpu_seconds(p) for k, p in pids.items()}
    q1 = await store_queries(client) if counted else None
    cpu = {k: cpu1[k] - cpu0[k] for k in pids if cpu0[k] is not None and cpu1[k] is not None}
    cpu["driver"] = driver_cpu
    if system0 is not None and system1 is not None:
        cpu["other"] = max(0.0, (system1 - system0) - sum(cpu.values()))
    result["cpu_s"] = cpu
    result["statements"] = None if q0 is None or q1 is None else q1 - q0
    return result


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one server into one row (requests and CPU summed, latencies pooled)."""
    latencies = sorted(x for p in parts for x in p["latencies"])
    requests, wall = len(latencies), sum(p["wall"] for p in parts)
    errors = [e for p in parts for e in p["errors"]]
    cpu: dict[str, float] = {}
    for p in parts:
        for k, v in p["cpu_s"].items():
            cpu[k] = cpu.get(k, 0.0) + v
    statements = None if any(p["statements"] is None for p in parts) else sum(p["statements"] for p in parts)
    per_request = (lambda s: round(1000 * s / requests, 3)) if requests else (lambda s: None)
    return {
        "requests": requests,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "duration_s": round(wall, 3),
        "rps": round(requests / wall, 1) if wall else 0.0,
        "rounds_rps": [round(len(p["latencies"]) / p["wall"], 1) if p["wall"] else 0.0 for p in parts],
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "mean": round(sum(latencies) / requests, 3) if requests else None,
            "max": round(latencies[-1], 3) if latencies else None,
        },
        "cpu_ms_per_request": {k: per_request(v) for k, v in cpu.items()},
        "cpu_cores": {k: round(v / wall, 2) for k, v in cpu.items()} if wall else {},
        "statements_per_request": round(statements / requests, 2) if statements is not None and requests else None,
    }


# -- equivalence ---------------------------------------------------------------------------------------


async def _answer(client: httpx.AsyncClient, scenario: Scenario, server: str, target: dict[str, Any]) -> Any:
    _, problem, body = await _post(client, scenario, server, target)
    if problem:
        raise SystemExit(f"{server} {scenario.name} {target}: {problem}")
    return scenario.normalize(VARIANTS[server].kind, body["data"])


async def equivalence(clients: dict[str, httpx.AsyncClient], targets: dict[str, Any], names: list[str],
                      servers: list[str], samples: int) -> dict[str, Any]:
    """Every ContextQL variant gives the peer's answer for each scenario on `samples` targets; raises when not."""
    checked: dict[str, Any] = {}
    by_path = SCENARIOS["context_by_path"]
    ours = [s for s in servers if s != "peer"]
    # Mutations last: after one, the embedded variant's copy and Neo4j may differ where only one was written.
    for name in sorted(names, key=lambda n: SCENARIOS[n].mutation):
        scenario = SCENARIOS[name]
        for server in ours:
            rng = random.Random(f"equivalence:{name}")
            for _ in range(samples):
                target = scenario.pick(rng, targets)
                a = await _answer(clients[server], scenario, server, target)
                if scenario.mutation:
                    # A title written through ContextQL is read through the peer (the embedded variant: through
                    # itself), then the peer writes it too, and on Neo4j one the peer writes is read through ContextQL.
                    reader = "peer" if VARIANTS[server].on_neo4j else server
                    read = await _answer(clients[reader], by_path, reader, target)
                    b = await _answer(clients["peer"], scenario, "peer", target)
                    if not (a == b and read["title"] == target["title"]):
                        raise SystemExit(f"{name} differs for {target}: {server} {a}, peer {b}, {reader} reads {read}")
                    if VARIANTS[server].on_neo4j:
                        other = dict(target, title=target["title"] + " (peer)")
                        await _answer(clients["peer"], scenario, "peer", other)
                        read = await _answer(clients[server], by_path, server, other)
                        if read["title"] != other["title"]:
                            raise SystemExit(f"{name}: the peer wrote {other['title']!r}, {server} reads "
                                             f"{read['title']!r}")
                else:
                    b = await _answer(clients["peer"], scenario, "peer", target)
                    if a != b:
                        raise SystemExit(f"{name} differs for {target}:\n {server} {json.dumps(a)[:1500]}\n"
                                         f" peer {json.dumps(b)[:1500]}")
        checked[name] = {"targets": samples, "equal": True, "servers": ours}
        console.print(f"equivalent: {name} ({samples} targets; {', '.join(ours)} = peer)")
    return checked


# -- the run -------------------------------------------------------------------------------------------


async def drive(urls: dict[str, str], pids: dict[str, dict[str, int]], targets: dict[str, Any],
                args: argparse.Namespace) -> dict[str, Any]:
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    levels = [int(c) for c in args.concurrency.split(",")]
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    async with contextlib.AsyncExitStack() as stack:
        clients = {k: await stack.enter_async_context(httpx.AsyncClient(base_url=u, limits=limits, timeout=60.0))
                   for k, u in urls.items()}
        servers: list[str] = args.servers
        for server in servers:
            if await store_queries(clients[server]) is None:
                raise SystemExit(f"{server} does not answer GET /debug/stats")
        checked = await equivalence(clients, targets, names, servers, args.check_samples)
        rows: list[dict[str, Any]] = []
        ceiling: list[dict[str, Any]] = []
        settled: dict[str, dict[str, list[float]]] = {}
        for name in names:
            scenario = SCENARIOS[name]
            if args.settle > 0:
                for server in servers:  # untimed: see --settle
                    settled.setdefault(name, {})[server] = await _settle(
                        clients[server], scenario, server, targets, max(levels), args)
            # The ceiling takes its rounds among the point read's, so that both see the same minutes of the host.
            timed = [*servers, "ceiling"] if name == "context_by_path" and "ceiling" in urls else servers
            for concurrency in levels:
                parts: dict[str, list[dict[str, Any]]] = {s: [] for s in timed}
                for round_number in range(args.rounds):
                    for server in round_order(timed, round_number):
                        parts[server].append(await _measured(
                            clients[server], scenario, server, targets, concurrency, args, pids[server],
                            f"measure{round_number}", _ceiling_post if server == "ceiling" else _post))
                row: dict[str, Any] = {"scenario": name, "title": scenario.title, "concurrency": concurrency}
                for server in servers:
                    row[server] = _merge(parts[server])
                row["ratios"] = report.row_ratios(row, servers)
                rows.append(row)
                report.print_row(console, row)
                if "ceiling" in parts:
                    ceiling.append({"scenario": "ceiling", "concurrency": concurrency, "ceiling": _merge(parts["ceiling"]),
                                    "alternated": True})
                    _print_ceiling(ceiling[-1])
        if "ceiling" in urls and not ceiling:  # no point read in this run: the ceiling alone, at the end
            scenario = SCENARIOS["context_by_path"]
            for concurrency in levels:
                part = await _measured(clients["ceiling"], scenario, "ceiling", targets, concurrency,
                                       # one round of the full --duration (_measured times a round of it)
                                       argparse.Namespace(**{**vars(args), "duration": args.rounds * args.duration}),
                                       pids["ceiling"], "ceiling", _ceiling_post)
                ceiling.append({"scenario": "ceiling", "concurrency": concurrency, "ceiling": _merge([part])})
                _print_ceiling(ceiling[-1])
    return {"equivalence": checked, "settle": settled, "runs": rows, "ceiling": ceiling}


def _print_ceiling(row: dict[str, Any]) -> None:
    console.print(f"ceiling c={row['concurrency']}: {row['ceiling']['rps']} req/s, p50 {row['ceiling']['latency_ms']['p50']} ms")


def _start_neo4j(args: argparse.Namespace, work: Path) -> tuple[Any, str, dict[str, Any]]:
    from bench import neo4j_runner

    if args.neo4j_uri:
        return None, args.neo4j_uri, {"server": "external", "version": neo4j_runner.version(args.neo4j_uri)}
    console.rule("neo4j")
    server = neo4j_runner.start(work / "neo4j", heap=args.neo4j_heap, pagecache=args.neo4j_pagecache)
    console.print(f"Neo4j at {server.uri} in {server.startup_s:.1f}s (pid {server.pid})")
    return server, server.uri, {"server": "bench/neo4j_runner.py", **server.settings,
                                "version": neo4j_runner.version(server.uri)}


def run(args: argparse.Namespace) -> Path:
    _ensure_peer_installed()
    work = args.work_dir / f"peer-n{args.contexts}-s{args.seed}"
    manifest_path = work / "manifest.json"
    reuse = args.reuse and _manifest_matches(manifest_path, args)
    if not reuse and work.exists() and not args.neo4j_uri:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    neo4j_server, uri, neo4j_info = _start_neo4j(args, work)
    try:
        if reuse:
            console.print(f"reusing the store generated in {work}")
        else:
            _step("generate", [sys.executable, "-m", "bench.generate", "--backend", "neo4j", "--neo4j-uri", uri,
                               "--contexts", str(args.contexts), "--depth", str(args.depth), "--fanout",
                               str(args.fanout), "--seed", str(args.seed), "--manifest", str(manifest_path),
                               "--reset"])
        manifest = json.loads(manifest_path.read_text())
        targets = manifest["targets"] | extra_targets(build_tree(args.contexts, args.depth, args.fanout, args.seed))
        copy_s, data_dir = None, work / "ladybug"
        if "contextql-ladybug" in args.servers:
            started = time.perf_counter()
            data_dir = _copy_to_ladybug(uri, work)
            copy_s = round(time.perf_counter() - started, 1)

        quiet = _wait_quiet(args.wait_quiet)
        peer_port, ceiling_port = _free_port(), _free_port()
        urls = {"peer": f"http://127.0.0.1:{peer_port}", "ceiling": f"http://127.0.0.1:{ceiling_port}"}
        for url in urls.values():
            require_loopback(url)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
        peer_env = base_env | {"NEO4J_URI": uri, "PORT": str(peer_port), "NODE_ENV": "production"}
        ceiling_cmd = [sys.executable, "-m", "uvicorn", "bench.peer.ceiling:app", "--host", "127.0.0.1",
                       "--port", str(ceiling_port), "--log-level", "warning"]
        servers: dict[str, dict[str, Any]] = {}
        with contextlib.ExitStack() as stack:
            neo = {"neo4j": neo4j_server.pid} if neo4j_server else {}
            pids: dict[str, dict[str, int]] = {}
            for name in args.servers:
                if name == "peer":
                    continue
                target = {"neo4j_uri": uri} if VARIANTS[name].on_neo4j else {"data_dir": str(data_dir)}
                urls[name], proc, command, cql_env = _contextql(stack, name, target, work / f"{name}.log")
                pids[name] = {"server": proc.pid, **(neo if VARIANTS[name].on_neo4j else {})}
                servers[name] = {"command": ["python", *command[1:]], "env": cql_env}
            peer = stack.enter_context(_process("peer", ["node", "server.mjs"], peer_env, work / "peer.log",
                                                urls["peer"], cwd=PEER_DIR))
            ceiling = None
            if not args.no_ceiling:
                ceiling = stack.enter_context(_process("ceiling", ceiling_cmd, base_env, work / "ceiling.log",
                                                       urls["ceiling"]))
            else:
                del urls["ceiling"]
            pids["peer"] = {"server": peer.pid, **neo}
            if ceiling is not None:
                pids["ceiling"] = {"server": ceiling.pid}
            measured = asyncio.run(drive(urls, pids, targets, args))
            profile_path = None
            if args.profile and "contextql" in pids:
                from . import profile

                profile_path = asyncio.run(profile.profile_all(
                    urls["contextql"], pids["contextql"]["server"], targets, args, work / "profile",
                    args.results_dir))
        servers |= {
            "peer": {"command": ["node", "bench/peer/server.mjs"], "versions": _peer_versions(),
                     "env": {"NODE_ENV": "production"}},
            "ceiling": {"command": ["python", *ceiling_cmd[1:]]},
        }
        if copy_s is not None:
            servers["contextql-ladybug"]["data"] = {"copied_from_neo4j_s": copy_s,
                                                    "how": "contextql export (Neo4j) | contextql import (LadybugDB)"}
    finally:
        if neo4j_server is not None:
            neo4j_server.stop()

    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "neo4j": neo4j_info,
        "servers": servers,
        "tree": manifest["tree"] | {"reused": reuse},
        "settings": {"servers": args.servers, "settle_s": args.settle, "settle_max_s": args.settle_max,
                     "settle_window_s": settle_window(args.settle), "settle_passes": SETTLE_PASSES, "warmup_s": args.warmup,
                     "duration_s_per_server": args.duration, "rounds": args.rounds,
                     "concurrency": args.concurrency, "max_requests": args.max_requests,
                     "check_samples": args.check_samples, "quick": args.quick},
        "machine_load": quiet,
        **measured,
        "profile": None if profile_path is None else profile_path.name,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"peer-{dt.date.today().isoformat()}{'-quick' if args.quick else ''}"
    out = args.results_dir / f"{stem}.json"
    n = 2
    while out.exists():
        out = args.results_dir / f"{stem}-run{n}.json"
        n += 1
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(report.markdown(result, out.name))
    console.print(f"[green]wrote {out} and {out.with_suffix('.md').name}[/green]")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short phases (1 s warm-up, 4 s per server), 3 checks")
    p.add_argument("--contexts", type=int, default=50_000)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--fanout", type=int, default=10)
    p.add_argument("--seed", type=int, default=20250101)
    p.add_argument("--scenarios", default="all", help=f"comma-separated, or all ({', '.join(SCENARIOS)})")
    p.add_argument("--servers", default="all", help=f"comma-separated, or all ({', '.join(VARIANTS)}); the peer "
                   "is always one")
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each measured round")
    p.add_argument("--settle", type=float, default=15.0,
                   help="least untimed seconds of each scenario per server (at the highest concurrency) before its "
                        "first measured round, continued in 5 s windows until its req/s stops improving, so Neo4j's "
                        "JIT has compiled that server's statements and the caches hold the working set, as in a "
                        "server that has been running")
    p.add_argument("--settle-max", type=float, default=120.0, help="most seconds of --settle per scenario and server")
    p.add_argument("--duration", type=float, default=16.0,
                   help="seconds measured per server, scenario and level (in --rounds rounds)")
    p.add_argument("--rounds", type=int, default=4,
                   help="rounds per server, scenario and level, the servers' order reversed each round (AB BA AB BA): "
                        "on a host whose speed drifts, more and shorter rounds put both servers in the same minutes")
    p.add_argument("--max-requests", type=int, default=100_000, help="cap on requests per round")
    p.add_argument("--check-samples", type=int, default=10, help="targets per scenario compared before timing")
    p.add_argument("--no-ceiling", action="store_true", help="skip the bare Starlette endpoint")
    p.add_argument("--profile", action="store_true", help="then profile ContextQL with py-spy per scenario")
    p.add_argument("--profile-duration", type=float, default=10.0, help="py-spy seconds per scenario")
    p.add_argument("--profile-concurrency", type=int, default=16)
    p.add_argument("--reuse", action="store_true", help="reuse the store generated earlier with the same shape")
    p.add_argument("--neo4j-uri", help="use this running Neo4j instead of starting one (its bench workspace is replaced)")
    p.add_argument("--neo4j-heap", default="1g")
    p.add_argument("--neo4j-pagecache", default="512m")
    p.add_argument("--wait-quiet", type=float, default=60.0,
                   help="wait up to this many seconds for other processes to leave the CPU first")
    p.add_argument("--work-dir", type=Path, default=ROOT / "bench" / ".work")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.servers = parse_servers(args.servers)
    if args.quick:
        args.warmup, args.duration, args.check_samples = min(args.warmup, 1.0), min(args.duration, 4.0), 3
        args.rounds = min(args.rounds, 2)
        args.settle, args.settle_max = min(args.settle, 2.0), min(args.settle_max, 2.0)
        args.profile_duration = min(args.profile_duration, 5.0)
    if not 0 < args.duration <= 1200:
        raise SystemExit("--duration must be in (0, 1200] seconds")
    if not 1 <= args.rounds <= 64:
        raise SystemExit("--rounds must be in [1, 64]")
    started = time.perf_counter()
    out = run(args)
    console.print(f"done in {time.perf_counter() - started:.0f}s: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
