"""Long-run bench: memory and write rate over many writes (`python -m bench.longrun --help`).

Drives one store, sequentially, through phases of a given number of operations each:
- `creates`: new contexts, one `createContext` each (under a few parents);
- `updates`: `updateContext` round-robin over the seeded contexts (a new version each time);
- `mixed`: one update per `--reads-per-update` reads of a context by path;
- `idle`: nothing for `--idle` seconds (does the memory come back?).
Every `--sample` operations (and every 5 s when idle) it records the resident memory of the
process holding the graph engine (the `contextql serve` process for LadybugDB; the server plus the
Neo4j JVM for Neo4j), the operation rate and latency of the window, and the database size on disk.

`--via http` (default) runs `python -m contextql.server serve` and talks GraphQL over HTTP, as a client
would; `--via store` calls the graph store in this process (the engine without the API around it).
Results go to `bench/results/longrun/longrun-<date>-<backend>-<via>[-<label>][-runN].json|md|svg`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from . import machine
from .run import ROOT, _server

RESULTS = ROOT / "bench" / "results" / "longrun"
WORKSPACE = "longrun"
CONTENT = "x" * 300  # about what a real context's text weighs


# -- measuring ------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def load_average() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return None


def disk_mb(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


@dataclass
class Sample:
    phase: str
    op: int  # operations done in this phase
    total: int  # operations done in the run
    t: float  # seconds since the start of the run
    rate: float  # operations/s over the window
    p50_ms: float | None
    p99_ms: float | None
    rss_mb: dict[str, float | None]
    disk_mb: float | None
    errors: int
    # CPU milliseconds each watched process spent per operation of the window: the work a write
    # costs, which other load on the machine does not change (the rate it does).
    cpu_ms_per_op: dict[str, float | None]
    load: float | None  # 1-minute load average of the machine (2 cores: above 2 means queueing)


class Recorder:
    def __init__(self, pids: dict[str, int], disk: Path | None, every: int) -> None:
        self.pids, self.disk, self.every = pids, disk, every
        self.samples: list[Sample] = []
        self.started = time.perf_counter()
        self.total = 0
        self.errors: dict[str, int] = {}
        self._window: list[float] = []
        self._window_started = self.started
        self._cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def rss(self) -> dict[str, float | None]:
        return {name: rss_mb(pid) for name, pid in self.pids.items()}

    def record(self, phase: str, op: int, seconds: float) -> None:
        self.total += 1
        self._window.append(seconds)
        if op % self.every == 0:
            self.flush(phase, op)

    def flush(self, phase: str, op: int) -> None:
        now = time.perf_counter()
        window, self._window = sorted(self._window), []
        rate = len(window) / (now - self._window_started) if window else 0.0
        self._window_started = now
        cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        per_op = {name: (round(1000 * (cpu[name] - self._cpu[name]) / len(window), 2)
                         if window and cpu[name] is not None and self._cpu[name] is not None else None)
                  for name in cpu}
        self._cpu = cpu
        pick = (lambda q: round(1000 * window[min(len(window) - 1, int(q * len(window)))], 2)) if window else (lambda q: None)
        sample = Sample(phase, op, self.total, round(now - self.started, 2), round(rate, 2), pick(0.5), pick(0.99),
                        self.rss(), disk_mb(self.disk), sum(self.errors.values()), per_op, load_average())
        self.samples.append(sample)
        rss = " ".join(f"{k}={v:.0f}MB" for k, v in sample.rss_mb.items() if v is not None)
        print(f"[{sample.t:8.1f}s] {phase:8s} {op:7d}  {rate:7.1f}/s  p50 {sample.p50_ms} ms  {rss}  "
              f"disk={sample.disk_mb}MB  errors={sample.errors}  cpu/op={per_op}  load={sample.load}", file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        key = message[:200]
        self.errors[key] = self.errors.get(key, 0) + 1


# -- drivers: the same operations over HTTP or straight on the store ------------------------------------


class HttpDriver:
    CREATE_MANY = "mutation($inputs: [CreateContextInput!]!) { createContexts(inputs: $inputs) { id } }"
    CREATE = "mutation($path: String!, $content: String!) { createContext(input: {path: $path, content: $content}) { id } }"
    UPDATE = "mutation($path: String!, $content: String!) { updateContext(path: $path, input: {content: $content}) { version } }"
    READ = "query($path: String!) { context(path: $path) { id version title content data } }"

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=60)

    def _run(self, query: str, **variables: Any) -> None:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            error = (body.get("errors") or [{}])[0]
            raise RuntimeError(f"{error.get('extensions', {}).get('code', response.status_code)}: {error.get('message')}")

    def seed(self, paths: list[str]) -> None:
        for start in range(0, len(paths), 500):
            self._run(self.CREATE_MANY, inputs=[{"path": p, "content": CONTENT} for p in paths[start:start + 500]])

    def create(self, path: str) -> None:
        self._run(self.CREATE, path=path, content=CONTENT)

    def update(self, path: str, n: int) -> None:
        self._run(self.UPDATE, path=path, content=f"revision {n} {CONTENT}")

    def read(self, path: str) -> None:
        self._run(self.READ, path=path)

    def close(self) -> None:
        self.client.close()


class StoreDriver:
    """The store contract in this process, records built the way the resolvers build them."""

    def __init__(self, store: Any, loop: asyncio.AbstractEventLoop) -> None:
        from contextql.graph.records import ContextRecord, VersionRecord

        self.store, self.loop = store, loop
        self._context, self._version = ContextRecord, VersionRecord
        self.heads: dict[str, Any] = {}

    def _now(self) -> int:
        return int(time.time() * 1_000_000)

    def _snapshot(self, rec: Any, operation: str) -> Any:
        return self._version(rec.id, rec.workspace, rec.version, operation, rec.path, rec.kind, rec.title,
                             rec.content, rec.data, rec.tags, rec.inherit, "bench", rec.updated_at)

    def _new(self, path: str) -> Any:
        parent = path.rsplit("/", 1)[0]
        now = self._now()
        return self._context(uuid.uuid4().hex, WORKSPACE, path, self.heads[parent].id if parent else None, "context",
                             "", CONTENT, {}, [], True, 1, now, now, "bench", "bench")

    def seed(self, paths: list[str]) -> None:
        for start in range(0, len(paths), 500):
            batch = []
            for path in paths[start:start + 500]:
                rec = self._new(path)
                self.heads[path] = rec
                batch.append(rec)
            self.loop.run_until_complete(self.store.create_contexts(batch, [self._snapshot(r, "create") for r in batch]))

    def load(self, paths: list[str]) -> None:
        self.heads.update(self.loop.run_until_complete(self.store.get_by_paths(WORKSPACE, ["/lr", *paths])))
        self.heads.update(self.loop.run_until_complete(self.store.get_by_paths(
            WORKSPACE, [f"/lr/new{i}" for i in range(1, 21)])))

    def create(self, path: str) -> None:
        self.seed([path])

    def update(self, path: str, n: int) -> None:
        head = self.heads[path]
        new = head.replace(version=head.version + 1, content=f"revision {n} {CONTENT}", updated_at=self._now())
        self.loop.run_until_complete(self.store.update_context(new, head.version, self._snapshot(new, "update")))
        self.heads[path] = new

    def read(self, path: str) -> None:
        self.loop.run_until_complete(self.store.get_by_paths(WORKSPACE, [path]))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())


# -- the run --------------------------------------------------------------------------------------


def _phases(args: argparse.Namespace) -> list[tuple[str, int]]:
    phases = []
    for item in args.phases.split(","):
        name = item.strip()
        count = {"creates": args.creates, "updates": args.updates, "mixed": args.mixed, "idle": 0}[name]
        phases.append((name, count))
    return phases


def run_phases(driver: Any, rec: Recorder, args: argparse.Namespace, seeded: list[str]) -> None:
    run_id = uuid.uuid4().hex[:6]  # new paths never collide with an earlier segment's
    def timed(phase: str, op: int, fn: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            rec.error(f"{phase}: {exc}")
        rec.record(phase, op, time.perf_counter() - started)

    revision = 0
    for phase, count in _phases(args):
        rec.flush(phase, 0)
        if phase == "idle":
            until = time.perf_counter() + args.idle
            while time.perf_counter() < until:
                time.sleep(5)
                rec.flush(phase, 0)
            continue
        for op in range(1, count + 1):
            if phase == "creates":
                timed(phase, op, lambda: driver.create(f"/lr/new{op % 20 + 1}/c{op}-{run_id}"))
            elif phase == "updates" or (phase == "mixed" and op % (args.reads_per_update + 1) == 0):
                revision += 1
                path = seeded[revision % len(seeded)]
                timed(phase, op, lambda: driver.update(path, revision))
            else:
                timed(phase, op, lambda: driver.read(seeded[(op * 7919) % len(seeded)]))
        if count % args.sample:
            rec.flush(phase, count)


@contextlib.contextmanager
def _target(args: argparse.Namespace, work: Path) -> Iterator[tuple[dict[str, str], dict[str, int], Path | None, dict]]:
    """(server target, pids to watch besides the server, disk path, backend info)."""
    if args.backend == "ladybug":
        yield {"data_dir": str(work / "data")}, {}, work / "data", {"version": _version("ladybug")}
        return
    from . import neo4j_runner

    server = neo4j_runner.start(work / "neo4j")
    try:
        yield {"neo4j_uri": server.uri}, {"neo4j": server.pid}, work / "neo4j" / "data", {
            "version": neo4j_runner.version(server.uri), **server.settings}
    finally:
        server.stop()


def _version(package: str) -> str | None:
    from importlib import metadata

    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(package)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.longrun", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["ladybug", "neo4j"], default="ladybug")
    parser.add_argument("--via", choices=["http", "store"], default="http")
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--creates", type=int, default=5_000)
    parser.add_argument("--mixed", type=int, default=20_000, help="operations of the mixed phase")
    parser.add_argument("--reads-per-update", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle phase")
    parser.add_argument("--phases", default="updates,creates,mixed,idle")
    parser.add_argument("--contexts", type=int, default=300, help="contexts seeded before the phases")
    parser.add_argument("--sample", type=int, default=500, help="operations per sample")
    parser.add_argument("--search", action="store_true", help="keep the search index (the outbox and its worker) on")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (e.g. CONTEXTQL_LADYBUG_BUFFER_POOL_MB=256)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 updates, 500 creates, 2,000 mixed, 10 s idle")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the store here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="continue on the store already in --work-dir (seeded by an earlier run): segments of one long run")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--label", default="", help="added to the result file names")
    args = parser.parse_args(argv)
    if args.quick:
        args.updates, args.creates, args.mixed, args.idle = 2_000, 500, 2_000, 10.0

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="longrun-"))
    work.mkdir(parents=True, exist_ok=True)
    seeded = [f"/lr/c{i}" for i in range(args.contexts)]
    parents = ["/lr", *(f"/lr/new{i}" for i in range(1, 21))]
    extra_env = dict(item.split("=", 1) for item in args.env)
    try:
        with _target(args, work) as (target, pids, disk, backend_info):
            if args.via == "http":
                with _serve(args, target, work, extra_env) as (url, pid, env):
                    driver = HttpDriver(url)
                    rec = Recorder({"server": pid, **pids}, disk, args.sample)
                    if not args.reuse:
                        driver.seed(parents[:1])
                        driver.seed(seeded + parents[1:])
                    run_phases(driver, rec, args, seeded)
                    driver.close()
                    server_info = {"env": env}
            else:
                loop = asyncio.new_event_loop()
                store = loop.run_until_complete(_open_store(args, target, extra_env))
                driver = StoreDriver(store, loop)
                rec = Recorder({"process": os.getpid(), **pids}, disk, args.sample)
                if args.reuse:
                    driver.load(seeded)
                else:
                    driver.seed(parents[:1])
                    driver.seed(seeded + parents[1:])
                run_phases(driver, rec, args, seeded)
                driver.close()
                loop.close()
                server_info = {"env": extra_env}
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "kind": "longrun", "reused_store": args.reuse, "backend": args.backend, "via": args.via, "search": args.search,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "backend_info": backend_info, "server": server_info, "machine": machine.describe(),
        "summary": summarize(rec.samples), "errors": rec.errors,
        "samples": [vars(s) for s in rec.samples],
    }
    paths = write_results(result, args)
    print("\n".join(str(p) for p in paths))
    return 0


@contextlib.contextmanager
def _serve(args: argparse.Namespace, target: dict[str, str], work: Path, extra_env: dict[str, str]):
    from . import run

    original = run._server_env

    def server_env(backend: str, target: dict[str, str]) -> dict[str, str]:
        env = original(backend, target) | {"CONTEXTQL_WORKSPACE": WORKSPACE, "CONTEXTQL_DEBUG_STATS": "0"}
        if args.search:
            env["CONTEXTQL_SEARCH"] = "true"
        return env | extra_env

    run._server_env = server_env
    try:
        with _server(args.backend, target, work / "server.log") as (url, proc, _command, env):
            yield url, proc.pid, env
    finally:
        run._server_env = original


async def _open_store(args: argparse.Namespace, target: dict[str, str], extra_env: dict[str, str]) -> Any:
    from contextql.server.settings import Settings
    from contextql.server.stores import open_store

    os.environ.update(extra_env)
    overrides: dict[str, Any] = {"graph": args.backend}
    if args.backend == "ladybug":
        overrides["data_dir"] = Path(target["data_dir"])
    else:
        overrides["neo4j_uri"] = target["neo4j_uri"]
    return await open_store(Settings(_env_file=None, **overrides))


# -- summary and output ---------------------------------------------------------------------------


def summarize(samples: list[Sample]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in dict.fromkeys(s.phase for s in samples):
        rows = [s for s in samples if s.phase == phase]
        moving = [s for s in rows if s.op > 0 and s.rate > 0]
        first = rows[0].rss_mb
        last = rows[-1].rss_mb
        key = next(iter(first))
        rss = [s.rss_mb[key] for s in rows if s.rss_mb.get(key) is not None]
        info: dict[str, Any] = {
            "operations": max(s.op for s in rows), "seconds": round(rows[-1].t - rows[0].t, 1),
            "rss_first_mb": first, "rss_last_mb": last, "rss_max_mb": max(rss) if rss else None,
            "disk_last_mb": rows[-1].disk_mb, "errors": rows[-1].errors - rows[0].errors,
        }
        if moving:
            head, tail = moving[:4], moving[-4:]
            info |= {
                "rate_first_windows": round(statistics.mean(s.rate for s in head), 1),
                "rate_last_windows": round(statistics.mean(s.rate for s in tail), 1),
                "rate_mean": round(info["operations"] / info["seconds"], 1) if info["seconds"] else None,
                "p50_first_ms": head[0].p50_ms, "p50_last_ms": tail[-1].p50_ms,
                "cpu_ms_per_op_first_windows": _mean_cpu(head, key), "cpu_ms_per_op_last_windows": _mean_cpu(tail, key),
            }
            # Warm level: the memory once the first 10% of the phase is done (buffers filled).
            warm = [s.rss_mb[key] for s in moving if s.op >= info["operations"] * 0.1 and s.rss_mb.get(key)]
            if warm:
                info["rss_warm_mb"], info["rss_growth_after_warm_mb"] = warm[0], round(max(warm) - warm[0], 1)
        out[phase] = info
    return out


def _mean_cpu(samples: list[Sample], key: str) -> float | None:
    values = [s.cpu_ms_per_op.get(key) for s in samples if s.cpu_ms_per_op.get(key) is not None]
    return round(statistics.mean(values), 2) if values else None


def write_results(result: dict[str, Any], args: argparse.Namespace) -> list[Path]:
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"longrun-{dt.date.today().isoformat()}-{args.backend}-{args.via}" + (f"-{args.label}" if args.label else "")
    base, n = args.results_dir / stem, 1
    while base.with_suffix(".json").exists():
        n += 1
        base = args.results_dir / f"{stem}-run{n}"
    base.with_suffix(".json").write_text(json.dumps(result, indent=1))
    base.with_suffix(".svg").write_text(svg(result))
    base.with_suffix(".md").write_text(markdown(result, base.with_suffix(".svg").name))
    return [base.with_suffix(s) for s in (".json", ".md", ".svg")]


def markdown(result: dict[str, Any], plot: str) -> str:
    m = result["machine"]
    lines = [
        f"# Long run: {result['backend']} via {result['via']} ({result['started']})", "",
        f"Search outbox/worker: {'on' if result['search'] else 'off'}. Command: `python -m bench.longrun "
        f"{' '.join(m['argv'][1:])}`", "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores ({m['cores_available']} available), {m['memory_gib']} GiB, "
        f"{m['os']}, {m['python']}; commit {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}; "
        f"backend {result['backend_info'].get('version')}. The machine is shared: rates are noisy.", "",
        "CPU ms/op is the CPU time the server process (or this process with `--via store`) spent per "
        "operation: unlike the rate, other load on the machine does not change it.", "",
        f"![RSS and rate]({plot})", "",
        "| phase | ops | s | ops/s first → last windows | p50 ms first → last | CPU ms/op first → last | RSS first → warm → max → last MB | growth after warm MB | disk MB | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, s in result["summary"].items():
        key = next(iter(s["rss_first_mb"]))
        lines.append(
            f"| {phase} | {s['operations']} | {s['seconds']} | {s.get('rate_first_windows', '')} → {s.get('rate_last_windows', '')} "
            f"| {s.get('p50_first_ms', '')} → {s.get('p50_last_ms', '')} "
            f"| {s.get('cpu_ms_per_op_first_windows', '')} → {s.get('cpu_ms_per_op_last_windows', '')} "
            f"| {s['rss_first_mb'][key]} → {s.get('rss_warm_mb', '')} → {s['rss_max_mb']} → {s['rss_last_mb'][key]} "
            f"| {s.get('rss_growth_after_warm_mb', '')} | {s['disk_last_mb']} | {s['errors']} |"
        )
    if result["errors"]:
        lines += ["", "Errors:", *(f"- {n} × {msg}" for msg, n in result["errors"].items())]
    lines += ["", f"Server settings: `{json.dumps(result['server']['env'])}`", ""]
    return "\n".join(lines)


def svg(result: dict[str, Any], width: int = 900, height: int = 420) -> str:
    """Two stacked panels over elapsed time: RSS (MB) of each watched process, operation rate (ops/s)."""
    samples = result["samples"]
    if not samples:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    t_max = max(s["t"] for s in samples) or 1.0
    left, right, gap = 60, 20, 30
    panel = (height - 3 * gap) / 2
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-family='sans-serif' font-size='11'>",
             "<rect width='100%' height='100%' fill='white'/>"]

    def x(t: float) -> float:
        return left + (width - left - right) * t / t_max

    def plot(top: float, title: str, series: dict[str, list[tuple[float, float]]]) -> None:
        values = [v for points in series.values() for _, v in points]
        v_max = (max(values) if values else 1.0) * 1.1 or 1.0
        parts.append(f"<text x='{left}' y='{top - 6}' font-weight='bold'>{title}</text>")
        parts.append(f"<rect x='{left}' y='{top}' width='{width - left - right}' height='{panel}' fill='none' stroke='#999'/>")
        for i in range(5):
            v = v_max * i / 4
            y = top + panel - panel * i / 4
            parts.append(f"<text x='{left - 4}' y='{y + 4}' text-anchor='end'>{v:.0f}</text>")
            parts.append(f"<line x1='{left}' x2='{width - right}' y1='{y}' y2='{y}' stroke='#eee'/>")
        for n, (name, points) in enumerate(series.items()):
            path = " ".join(f"{x(t):.1f},{top + panel - panel * v / v_max:.1f}" for t, v in points)
            parts.append(f"<polyline fill='none' stroke='{colors[n % 4]}' stroke-width='1.5' points='{path}'/>")
            parts.append(f"<text x='{width - right - 150}' y='{top + 14 + 13 * n}' fill='{colors[n % 4]}'>{name}</text>")

    # phase boundaries
    phase = None
    for s in samples:
        if s["phase"] != phase:
            phase = s["phase"]
            parts.append(f"<line x1='{x(s['t'])}' x2='{x(s['t'])}' y1='{gap}' y2='{height - gap}' stroke='#bbb' stroke-dasharray='4'/>")
            parts.append(f"<text x='{x(s['t']) + 3}' y='{height - gap + 12}'>{phase}</text>")
    names = list(samples[0]["rss_mb"])
    plot(gap, "RSS (MB)", {n: [(s["t"], s["rss_mb"][n]) for s in samples if s["rss_mb"].get(n) is not None] for n in names})
    rates = {p: [(s["t"], s["rate"]) for s in samples if s["phase"] == p and s["op"] > 0] for p in dict.fromkeys(s["phase"] for s in samples) if p != "idle"}
    plot(2 * gap + panel, "operations/s (per window)", rates)
    parts.append(f"<text x='{width / 2}' y='{height - 4}' text-anchor='middle'>seconds ({t_max:.0f} s in all)</text>")
    parts.append("</svg>")
    return "\n".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
