"""Search latency and throughput on the embedded default (issue 12, part 3).

    .venv/bin/python -m bench.search.latency [--contexts 50000] [--warmup 5] [--duration 20]
        [--work-dir DIR [--reuse]] [--results-dir bench/results]

1. Seed N generated contexts (bench/search/synthetic.py) into a fresh data directory through the resolvers,
   index them with the real outbox worker, optimise (HNSW) — bench/search/seed.py. `--reuse` skips this when
   DIR holds a store seeded with the same N.
2. The floor: the same queries embedded alone, at concurrency 1 and 16, in a separate process with the
   server's embedder and thread model — bench/search/floor.py.
3. `python -m contextql.server serve` over that data directory (search on), and the load generator in its own
   process: HYBRID, DENSE, KEYWORD at concurrency 1 and 16, then `{ __typename }` (mode NONE: the same server
   and client, no search), whose rate no search request can pass here — bench/search/drive.py.
4. Whether the c=16 target fits this machine at all: the CPU that rate would take, from what the same run
   measured (the embedder's per query, the driver's and the server's per request of NONE, the index
   process's per HYBRID search).
5. bench/results/search-latency-<date>[-n<N>][-runK].{json,md}, with the targets and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.run import _free_port, stop_server, wait_healthy
from contextql.graph.embeddings import EmbeddingService

from .seed import WORKSPACE, seed
from .synthetic import queries

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
MODES = ("HYBRID", "DENSE", "KEYWORD")
TARGETS = {"hybrid_c1_p50_ms": 25.0, "hybrid_c1_p95_ms": 60.0, "c16_share_of_floor": 0.70}


def cache_size() -> int:
    """The server's query-embedding LRU size (EmbeddingService's default, which the server uses)."""
    return int(inspect.signature(EmbeddingService.__init__).parameters["cache_size"].default)


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")}
    return env | {
        "CONTEXTQL_GRAPH": "ladybug", "CONTEXTQL_DATA_DIR": str(data_dir), "CONTEXTQL_WORKSPACE": WORKSPACE,
        "CONTEXTQL_SEARCH": "true", "CONTEXTQL_LOG_LEVEL": "warning", "CONTEXTQL_GRAPHIQL": "false",
        # One principal sends thousands of operations a minute.
        "CONTEXTQL_RATE_LIMIT_OPERATIONS": "0", "CONTEXTQL_RATE_LIMIT_COST": "0",
    }


def run_step(command: list[str], log: Path | None = None) -> None:
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{command[2]} failed (exit {done.returncode})" + (f"; see {log}" if log else ""))


def prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data, manifest = work / "data", work / "seed.json"
    if args.reuse and manifest.exists() and json.loads(manifest.read_text()).get("requested") == args.contexts:
        print(f"reusing the store seeded in {data}", flush=True)
        return {**json.loads(manifest.read_text()), "reused": True}
    shutil.rmtree(data, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    info = {"requested": args.contexts, **asyncio.run(seed(data, args.contexts))}
    manifest.write_text(json.dumps(info, indent=1))
    return {**info, "reused": False}


def serve_and_drive(args: argparse.Namespace, work: Path, query_file: Path) -> dict[str, Any]:
    port, log = _free_port(), work / "server.log"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "contextql.server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    print("$ " + " ".join(command), flush=True)
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=server_env(work / "data"), stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, server, log)
        levels = args.concurrency.split(",")
        order = [f"{m.lower()}:{c}" for m in ("HYBRID", "DENSE") for c in levels] + [
            f"{m}:{c}" for m in ("keyword", "none") for c in levels]
        output = work / "drive.json"
        run_step([sys.executable, "-m", "bench.search.drive", "--url", url, "--queries", str(query_file),
                  "--phases", ",".join(order), "--warmup", str(args.warmup), "--duration", str(args.duration),
                  "--cache-size", str(cache_size()), "--wait-quiet", str(args.wait_quiet),
                  "--watch", f"server={server.pid}", "--output", str(output)], log)
        return json.loads(output.read_text())
    finally:
        stop_server(server)


def summarise(load: dict[str, Any], floor: dict[str, Any], levels: list[int]) -> dict[str, Any]:
    floor_qps = {r["concurrency"]: r["queries_per_s"] for r in floor["runs"]}
    top = max(levels)
    out: dict[str, Any] = {}
    for mode in MODES:
        runs = {r["concurrency"]: r for r in load["runs"] if r["mode"] == mode}
        row: dict[str, Any] = {}
        if 1 in runs:
            row["c1_p50_ms"] = runs[1]["latency_ms"]["p50"]
            row["c1_p95_ms"] = runs[1]["latency_ms"]["p95"]
            row["c1_p50_vs_target"] = round(row["c1_p50_ms"] / TARGETS["hybrid_c1_p50_ms"], 2)
            row["c1_p95_vs_target"] = round(row["c1_p95_ms"] / TARGETS["hybrid_c1_p95_ms"], 2)
            row["c1_meets"] = row["c1_p50_ms"] < TARGETS["hybrid_c1_p50_ms"] and row["c1_p95_ms"] < TARGETS["hybrid_c1_p95_ms"]
        if top in runs and top in floor_qps:
            row[f"c{top}_rps"] = runs[top]["rps"]
            row[f"c{top}_share_of_floor"] = round(runs[top]["rps"] / floor_qps[top], 3)
            row[f"c{top}_meets"] = row[f"c{top}_share_of_floor"] >= TARGETS["c16_share_of_floor"]
        out[mode] = row
    return out


def budget(load: dict[str, Any], floor: dict[str, Any], cores: int, top: int) -> dict[str, Any] | None:
    """What the c=`top` target would take here, from this run's measurements: the rate it asks for, the
    server's rate with no search in the request (NONE), and the cores that rate would keep busy. Per
    request, at least: the query's embedding (the floor's CPU per query), the server's and the load
    generator's CPU for a request with no search (NONE), and the index process's CPU per HYBRID search."""
    floor_run = next((r for r in floor["runs"] if r["concurrency"] == top), None)
    runs = {(r["mode"], r["concurrency"]): r for r in load["runs"]}
    none, hybrid = runs.get(("NONE", top)), runs.get(("HYBRID", top))
    if floor_run is None or none is None or "cpu_ms_per_query" not in floor_run or not none["rps"]:
        return None
    target = TARGETS["c16_share_of_floor"] * floor_run["queries_per_s"]

    def per_request(run: dict[str, Any], key: str) -> float:
        return round(1000 * run["cpu_cores"].get(key, 0.0) / run["rps"], 3) if run["rps"] else 0.0

    server_side = {"embedding": floor_run["cpu_ms_per_query"], "server": per_request(none, "server"),
                   "index": per_request(hybrid, "server_children") if hybrid else 0.0}
    driver = per_request(none, "driver")
    without_driver = target * sum(server_side.values()) / 1000
    return {"concurrency": top, "target_rps": round(target, 1), "none_rps": none["rps"],
            "cpu_ms_per_request_at_least": server_side | {"driver": driver},
            "cores_needed_at_target": round(without_driver + target * driver / 1000, 2),
            "cores_needed_without_driver": round(without_driver, 2),
            "cores": cores, "fits": none["rps"] >= target and without_driver <= cores}


def result_stem(results: Path, contexts: int) -> Path:
    base = f"search-latency-{datetime.date.today().isoformat()}" + ("" if contexts == 50_000 else f"-n{contexts}")
    stem, n = results / base, 1
    while stem.with_suffix(".json").exists():
        n += 1
        stem = results / f"{base}-run{n}"
    return stem


def markdown(report: dict[str, Any]) -> str:
    s, m, idx = report["summary"], report["machine"], report["seed"]
    floor = {r["concurrency"]: r for r in report["floor"]["runs"]}
    lines = [
        f"# Search latency and throughput, {report['date']}", "",
        f"Embedded default: LadybugDB + Qdrant Edge + {report['floor']['embedder']} (bundled int8 ONNX, fastembed), "
        f"served by `contextql serve` (one uvicorn process), driven over HTTP from a separate process. "
        f"{idx['contexts']:,} generated contexts (mean content {idx['mean_content_chars']} chars), "
        f"{report['queries']:,} distinct queries walked in order (the server's query-embedding cache holds "
        f"{report['cache_size']:,}: no embedding request could hit it; predicted hits per phase are listed). "
        f"Warm-up {report['warmup_s']} s, measured {report['duration_s']} s per phase.", "",
        "## Indexing" + (" (reused store, times from its seeding run)" if idx.get("reused") else ""), "",
        f"- graph load (bulk create, batches of 1,000): {idx['graph_load_s']} s ({idx['graph_contexts_per_s']} contexts/s)",
        f"- index (outbox worker: embed + upsert): {idx['index_s']} s ({idx['index_contexts_per_s']} contexts/s, "
        f"{idx['index_model_calls']} model calls)",
        f"- optimise (HNSW build, child process): {idx['optimize_s']} s; drift after: {idx['drift']}", "",
        "## Floor: the queries embedded alone (same embedder and thread model as the server)", "",
        "| callers | queries/s | p50 ms | p95 ms | model calls |", "|---|---|---|---|---|",
        *[f"| {c} | {r['queries_per_s']} | {r['latency_ms']['p50']} | {r['latency_ms']['p95']} | {r['model_calls']} |"
          for c, r in floor.items()], "",
        "## Search over HTTP", "",
        "| mode | c | requests | req/s | p50 ms | p95 ms | p99 ms | errors | empty | cache hits (pred.) | cpu (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['mode']} | {r['concurrency']} | {r['requests']:,} | {r['rps']} | {r['latency_ms']['p50']} | "
          f"{r['latency_ms']['p95']} | {r['latency_ms']['p99']} | {r['errors']} | {r['empty_results']} | "
          f"{r['predicted_cache_hits']} | {json.dumps(r['cpu_cores'])} |" for r in report["load"]["runs"]], "",
        "## Against the targets (issue 12: HYBRID p50 < 25 ms and p95 < 60 ms at c=1; "
        "at c=16 ≥ 70% of the floor's queries/s)", "",
        "| mode | c=1 p50 / 25 ms | c=1 p95 / 60 ms | c=1 meets | c=16 req/s / floor | c=16 meets |",
        "|---|---|---|---|---|---|",
        *[f"| {mode} | {row.get('c1_p50_vs_target')} | {row.get('c1_p95_vs_target')} | {row.get('c1_meets')} | "
          f"{row.get('c16_share_of_floor')} | {row.get('c16_meets')} |" for mode, row in s.items()], "",
        *budget_lines(report.get("budget")),
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, {m['python']}, "
        f"commit {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}. `cpu` is cores used during the phase by the "
        "driver, the server and everything else (`other`: other users' work on the machine).", "",
        f"Command: `python -m bench.search.latency {' '.join(m['argv'][1:])}`", "",
    ]
    return "\n".join(lines)


def budget_lines(b: dict[str, Any] | None) -> list[str]:
    if b is None:
        return []
    per = b["cpu_ms_per_request_at_least"]
    return [
        f"## Does the c={b['concurrency']} target fit this machine?", "",
        f"- The target asks for {b['target_rps']} req/s (70% of the floor). The same server answered "
        f"`{{ __typename }}` (no search at all) at **{b['none_rps']} req/s** at c={b['concurrency']} in this run.",
        f"- CPU a HYBRID request costs at least, per request, measured here: the query's embedding "
        f"{per['embedding']} ms (the floor's process), the server's {per['server']} ms for `{{ __typename }}`, "
        f"the index process's {per['index']} ms per HYBRID search, and the load generator's {per['driver']} ms "
        f"for `{{ __typename }}`. At the target rate that is **{b['cores_needed_at_target']} cores** of the "
        f"machine's {b['cores']}, and {b['cores_needed_without_driver']} without the load generator, before "
        "the server's own work for a search (resolvers, ranking, reading the contexts found).",
        f"- Fits: **{b['fits']}**.", "",
    ]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.search.latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--contexts", type=int, default=50_000)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of discarded warm-up per phase")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--queries", type=int, default=3_000,
                   help="distinct queries; more than the server's query cache, so that it is never hit")
    p.add_argument("--work-dir", type=Path, help="keep the seeded store here (default: a temporary folder, removed)")
    p.add_argument("--reuse", action="store_true", help="with --work-dir: skip seeding if it holds the same --contexts")
    p.add_argument("--wait-quiet", type=float, default=0.0, help="before each HTTP phase, wait up to S s for idle CPU")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.reuse and args.work_dir is None:
        raise SystemExit("--reuse needs --work-dir")
    if args.queries <= cache_size():
        print(f"warning: {args.queries} queries <= the server's query cache ({cache_size()}): "
              "embedding requests will be answered from the cache", flush=True)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="contextql-search-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        info = prepare(args, work)
        query_file = work / "queries.json"
        query_file.write_text(json.dumps(queries(args.queries)))
        run_step([sys.executable, "-m", "bench.search.floor", "--queries", str(query_file),
                  "--concurrency", args.concurrency, "--warmup", str(args.warmup), "--duration", str(args.duration),
                  "--output", str(work / "floor.json")])
        floor = json.loads((work / "floor.json").read_text())
        load = serve_and_drive(args, work, query_file)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    levels = [int(c) for c in args.concurrency.split(",")]
    report = {"date": datetime.date.today().isoformat(), "machine": describe(), "seed": info,
              "queries": args.queries, "cache_size": cache_size(), "warmup_s": args.warmup,
              "duration_s": args.duration, "targets": TARGETS, "floor": floor, "load": load,
              "summary": summarise(load, floor, levels),
              "budget": budget(load, floor, os.cpu_count() or 1, max(levels)), "wall_s": round(time.perf_counter() - started, 1)}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = result_stem(args.results_dir, info["contexts"] if info.get("requested") is None else info["requested"])
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(stem.with_suffix(".md").read_text())
    print(f"wrote {stem}.json and .md; wall {report['wall_s']} s")


if __name__ == "__main__":
    main()
