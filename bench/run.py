"""One command: generate + round trips + serve + load, per backend, then write the results.

    python -m bench --backend ladybug|neo4j|both [--contexts 50000] [--reuse] ...

For each backend, each step in its own process:
1. `bench.generate` loads the seeded tree into a fresh store (Ladybug: a data
   folder under --work-dir; Neo4j: a Neo4j 5.26 started here with its home under
   --work-dir, or the server at --neo4j-uri). With --reuse, a store already
   generated with the same parameters is used as it is.
2. `bench.roundtrips` counts store statements per GraphQL request in-process.
3. `python -m contextql.server serve` on a free loopback port (CONTEXTQL_WORKSPACE=bench,
   log level warning so no access log is written per request).
4. `bench.load` drives HTTP load from a separate process and measures.
Then `bench/results/<date>-<backend>[-n<N>].json` and `bench/results/README.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from . import machine, report
from .tree import WORKSPACE

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FULL_SIZE = 50_000
console = Console(stderr=True, soft_wrap=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _step(title: str, command: list[str], env: dict[str, str] | None = None) -> float:
    console.rule(title)
    console.print(" ".join(command), style="dim")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{title} failed (exit {done.returncode})")
    return time.perf_counter() - started


def _server_env(backend: str, target: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    env |= {
        "CONTEXTQL_WORKSPACE": WORKSPACE,
        "CONTEXTQL_LOG_LEVEL": "warning",
        "CONTEXTQL_GRAPHIQL": "false",
        # Asks for the server's store counter (GET /debug/stats) where the server has it.
        "CONTEXTQL_DEBUG_STATS": "1",
        "CONTEXTQL_GRAPH": backend,
        # What is measured is the graph read path: no per-principal rate limits (the driver is one
        # principal sending thousands of operations a minute) and no search index, whose worker would
        # embed the 50,000 freshly loaded contexts in the background during the measurement.
        "CONTEXTQL_RATE_LIMIT_OPERATIONS": "0",
        "CONTEXTQL_RATE_LIMIT_COST": "0",
        "CONTEXTQL_SEARCH": "false",
    }
    if backend == "ladybug":
        env["CONTEXTQL_DATA_DIR"] = target["data_dir"]
    else:
        env["CONTEXTQL_NEO4J_URI"] = target["neo4j_uri"]
    return env


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM (a clean shutdown), SIGKILL if it does not end within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Until `url`/healthz says ok; SystemExit naming the log if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"{log.stem} exited ({proc.returncode}); see {log}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{url}/healthz", timeout=2).json().get("status") == "ok":
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{log.stem} did not become healthy; see {log}")
        time.sleep(0.3)


@contextlib.contextmanager
def _server(backend: str, target: dict[str, str], log: Path):
    port = _free_port()
    env = _server_env(backend, target)
    command = [sys.executable, "-m", "contextql.server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    console.rule(f"serve ({backend})")
    console.print(" ".join(command), style="dim")
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url, proc, command, {k: v for k, v in env.items() if k.startswith("CONTEXTQL_")}
    finally:
        stop_server(proc)


def _busy_cores(seconds: float = 3.0) -> float | None:
    from .load import system_busy_seconds

    before = system_busy_seconds()
    time.sleep(seconds)
    after = system_busy_seconds()
    return None if before is None or after is None else (after - before) / seconds


def _wait_quiet(limit: float, threshold: float = 0.3) -> dict[str, Any]:
    """Wait up to `limit` seconds for the machine to be idle (other work skews a 2-core benchmark)."""
    started = time.monotonic()
    busy = _busy_cores()
    while busy is not None and busy > threshold and time.monotonic() - started < limit:
        console.print(f"machine busy ({busy:.2f} cores in use by other processes); waiting for it to calm down")
        busy = _busy_cores(10.0)
    if busy is not None and busy > threshold:
        console.print(f"[yellow]warning: the machine is busy ({busy:.2f} cores) -- results will be skewed[/yellow]")
    return {"busy_cores_before_load": None if busy is None else round(busy, 2),
            "waited_s": round(time.monotonic() - started, 1)}


def _manifest_matches(path: Path, args: argparse.Namespace) -> bool:
    if not path.exists():
        return False
    tree = json.loads(path.read_text()).get("tree", {})
    return (tree.get("contexts"), tree.get("seed"), tree.get("depth"), tree.get("fanout")) == (
        args.contexts, args.seed, args.depth, args.fanout)


def run_backend(backend: str, args: argparse.Namespace) -> Path:
    work = args.work_dir / f"{backend}-n{args.contexts}-s{args.seed}"
    manifest_path = work / "manifest.json"
    reuse = args.reuse and _manifest_matches(manifest_path, args)
    if not reuse and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    neo4j_server = None
    backend_info: dict[str, Any] = {"name": backend}
    try:
        if backend == "ladybug":
            import ladybug

            target = {"data_dir": str(work / "data")}
            store_args = ["--data-dir", target["data_dir"]]
            backend_info["version"] = f"LadybugDB {getattr(ladybug, '__version__', '?')} (embedded, in the server process)"
        else:
            if args.neo4j_uri:
                uri = args.neo4j_uri
                backend_info["server"] = "external"
            else:
                from . import neo4j_runner

                console.rule("neo4j")
                neo4j_server = neo4j_runner.start(work / "neo4j", heap=args.neo4j_heap, pagecache=args.neo4j_pagecache)
                uri = neo4j_server.uri
                console.print(f"Neo4j at {uri} in {neo4j_server.startup_s:.1f}s (pid {neo4j_server.pid})")
                backend_info |= {"server": "bench/neo4j_runner.py", **neo4j_server.settings,
                                 "startup_s": round(neo4j_server.startup_s, 1)}
            from . import neo4j_runner

            target = {"neo4j_uri": uri}
            store_args = ["--neo4j-uri", uri]
            backend_info["version"] = neo4j_runner.version(uri)

        gen_args = [
            "--backend", backend, *store_args, "--contexts", str(args.contexts), "--depth", str(args.depth),
            "--fanout", str(args.fanout), "--seed", str(args.seed), "--batch", str(args.batch),
            "--history-contexts", str(args.history_contexts), "--history-versions", str(args.history_versions),
            "--manifest", str(manifest_path),
        ]
        if reuse:
            console.print(f"reusing the {backend} store generated in {work}")
        else:
            _step(f"generate ({backend})", [sys.executable, "-m", "bench.generate", *gen_args, "--reset"])
        manifest = json.loads(manifest_path.read_text())

        rt_path = work / "roundtrips.json"
        _step(f"round trips ({backend})", [sys.executable, "-m", "bench.roundtrips", "--backend", backend,
                                           *store_args, "--manifest", str(manifest_path), "--output", str(rt_path)])
        round_trips = json.loads(rt_path.read_text())

        load_path = work / "load.json"
        quiet = _wait_quiet(args.wait_quiet)
        with _server(backend, target, work / "server.log") as (url, proc, command, env):
            watch = ["--watch", f"server={proc.pid}"]
            if neo4j_server is not None:
                watch += ["--watch", f"neo4j={neo4j_server.pid}"]
            _step(f"load ({backend})", [
                sys.executable, "-m", "bench.load", "--url", url, "--manifest", str(manifest_path),
                "--scenarios", args.scenarios, "--concurrency", args.concurrency, "--warmup", str(args.warmup),
                "--duration", str(args.duration), "--max-requests", str(args.max_requests),
                "--wait-quiet", str(min(args.wait_quiet, 60.0)), *watch,
                "--output", str(load_path),
            ])
            server_info = {"command": ["python", *command[1:]], "env": env}
        load = json.loads(load_path.read_text())
    finally:
        if neo4j_server is not None:
            neo4j_server.stop()

    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "backend": backend_info,
        "machine": machine.describe(),
        "generate": {k: v for k, v in manifest.items() if k != "targets"} | {"reused": reuse},
        "targets": {k: (len(v) if isinstance(v, list) else v) for k, v in manifest["targets"].items()},
        "round_trips_in_process": round_trips,
        "server": server_info,
        "load": load,
        "machine_load": quiet,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    day = dt.date.today().isoformat()
    suffix = "" if args.contexts == FULL_SIZE else f"-n{args.contexts}"
    out = args.results_dir / f"{day}-{backend}{suffix}.json"
    run = 2
    while out.exists():  # never overwrite an earlier run of the same day
        out = args.results_dir / f"{day}-{backend}{suffix}-run{run}.json"
        run += 1
    out.write_text(json.dumps(result, indent=1) + "\n")
    console.print(f"[green]wrote {out}[/green]")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["ladybug", "neo4j", "both"], default="both")
    p.add_argument("--contexts", type=int, default=FULL_SIZE, help="tree size (e.g. 2000 for a smoke run)")
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--fanout", type=int, default=10)
    p.add_argument("--seed", type=int, default=20250101)
    p.add_argument("--batch", type=int, default=2_000, help="contexts per create_contexts call while loading")
    p.add_argument("--history-contexts", type=int, default=50)
    p.add_argument("--history-versions", type=int, default=20)
    p.add_argument("--scenarios", default="all")
    p.add_argument("--concurrency", default="1,8", help="comma-separated client concurrency levels")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up per scenario and level")
    p.add_argument("--duration", type=float, default=15.0, help="seconds measured per scenario and level")
    p.add_argument("--max-requests", type=int, default=100_000, help="cap on requests per phase")
    p.add_argument("--work-dir", type=Path, default=ROOT / "bench" / ".work", help="stores and logs")
    p.add_argument("--results-dir", type=Path, default=RESULTS, help="where result JSON and README.md go")
    p.add_argument("--reuse", action="store_true", help="reuse a store generated earlier with the same parameters")
    p.add_argument("--neo4j-uri", help="use this running Neo4j instead of starting one (its data is replaced)")
    p.add_argument("--neo4j-heap", default="1g")
    p.add_argument("--neo4j-pagecache", default="512m")
    p.add_argument("--wait-quiet", type=float, default=120.0,
                   help="wait up to this many seconds for other processes to leave the CPU before measuring")
    p.add_argument("--no-report", action="store_true", help="do not rewrite bench/results/README.md")
    args = p.parse_args(argv)

    backends = ["ladybug", "neo4j"] if args.backend == "both" else [args.backend]
    written = []
    started = time.perf_counter()
    for backend in backends:
        t0 = time.perf_counter()
        written.append(run_backend(backend, args))
        console.print(f"{backend}: {time.perf_counter() - t0:.0f}s")
    if not args.no_report:
        path = report.write(args.results_dir)
        console.print(f"[green]wrote {path}[/green]")
    console.print(f"done in {time.perf_counter() - started:.0f}s: {', '.join(str(w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
