"""Profile ContextQL under load with py-spy, one scenario at a time (`python -m bench.peer --profile`).

For each scenario: `--profile-concurrency` closed-loop workers (bench.peer.run's load) keep the server
busy while `py-spy record --pid <server> --format raw` samples it for `--profile-duration` seconds
(idle threads excluded, so samples are CPU). The collapsed stacks are kept under the work directory
and aggregated by bench/peer/stacks.py into bench/results/profile-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx

from . import stacks
from .scenarios import SCENARIOS

RATE = 199  # samples/s; not a multiple of common timer frequencies


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


async def _record(pid: int, seconds: float, out: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        _py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(RATE),
        "--format", "raw", "--output", str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-800:]}")


async def profile_all(url: str, pid: int, targets: dict[str, Any], args: argparse.Namespace, work: Path,
                      results_dir: Path) -> Path:
    from .run import _phase, console

    work.mkdir(parents=True, exist_ok=True)
    names = list(SCENARIOS) if args.scenarios == "all" else args.scenarios.split(",")
    files: dict[str, Path] = {}
    requests: dict[str, float] = {}
    c = args.profile_concurrency
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        for name in names:
            scenario = SCENARIOS[name]
            out = work / f"{name}.txt"
            await _phase(client, scenario, "contextql", targets, c, 2.0, args.max_requests, "profile-warmup")
            load = asyncio.create_task(_phase(client, scenario, "contextql", targets, c,
                                              args.profile_duration + 1.5, args.max_requests, "profile"))
            await asyncio.sleep(0.5)
            await _record(pid, args.profile_duration, out)
            done = await load
            requests[name] = round(len(done["latencies"]) / done["wall"], 1)
            files[name] = out
            console.print(f"profiled {name}: {out} ({requests[name]} req/s under py-spy, "
                          f"{len(done['errors'])} errors)")
    return write(files, requests, c, args.profile_duration, results_dir)


def write(files: dict[str, Path], rps: dict[str, float], concurrency: int, seconds: float, results_dir: Path) -> Path:
    day = dt.date.today().isoformat()
    per = {name: stacks.breakdown(stacks.read([path])) for name, path in files.items()}
    every = stacks.breakdown(stacks.read(files.values()))
    groups = [g for g, _ in every.groups.most_common()]
    lines = [
        f"# Where ContextQL's server CPU goes under load — {day}",
        "",
        f"py-spy {RATE} Hz on the `contextql serve` process (idle excluded), {seconds:g} s per scenario at "
        f"c = {concurrency}, against Neo4j 5.26 with the 50,000-context tree (`python -m bench.peer --profile`). "
        "Aggregated by `python -m bench.peer.stacks` (bench/peer/stacks.py explains the groups). The "
        "machine was shared with other work, so shares are indicative; py-spy itself slows the server "
        "a little (req/s under the profiler below).",
        "",
        "## Exclusive breakdown per scenario (% of samples; each column adds up to 100 %)",
        "",
        "| group | " + " | ".join(per) + " | all |",
        "|---|" + "---:|" * (len(per) + 1),
    ]
    for g in groups:
        lines.append(f"| {g} | " + " | ".join(stacks._pct(b.groups[g], b.total) for b in per.values())
                     + f" | {stacks._pct(every.groups[g], every.total)} |")
    lines.append("| samples | " + " | ".join(f"{b.total:,}" for b in per.values()) + f" | {every.total:,} |")
    lines.append("| req/s under py-spy | " + " | ".join(f"{rps[n]:,}" for n in per) + " | |")
    lines += ["", "## Inclusive (time under each phase; overlapping)", "",
              "| under | " + " | ".join(per) + " | all |", "|---|" + "---:|" * (len(per) + 1)]
    for marker, _ in stacks.MARKERS:
        lines.append(f"| {marker} | " + " | ".join(stacks._pct(b.markers[marker], b.total) for b in per.values())
                     + f" | {stacks._pct(every.markers[marker], every.total)} |")
    lines += ["", "## Top 10 hot spots, all scenarios pooled", "",
              "Self time of the leaf function (for a standard-library leaf, ← the library or project frame "
              "that called it):", "", "| # | function | self | worst scenario |", "|---:|---|---:|---|"]
    for i, (spot, n) in enumerate(every.self_spots.most_common(10), 1):
        worst = max(per, key=lambda s: per[s].self_spots[spot] / max(1, per[s].total))
        lines.append(f"| {i} | `{spot}` | {stacks._pct(n, every.total)} | {worst} "
                     f"({stacks._pct(per[worst].self_spots[spot], per[worst].total)}) |")
    lines += ["", "Project functions by inclusive time (the ContextQL code under which the CPU was spent):", "",
              "| # | function | inclusive |", "|---:|---|---:|"]
    for i, (spot, n) in enumerate(every.project_inclusive.most_common(15), 1):
        lines.append(f"| {i} | `{spot}` | {stacks._pct(n, every.total)} |")
    lines += ["", "Library functions by inclusive time:", "", "| # | function | inclusive |", "|---:|---|---:|"]
    for i, (spot, n) in enumerate(every.library_inclusive.most_common(15), 1):
        lines.append(f"| {i} | `{spot}` | {stacks._pct(n, every.total)} |")
    lines += ["", "## Per scenario", ""]
    for name, b in per.items():
        lines += [f"### {name}", "", stacks.markdown(b, top=10), ""]
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"profile-{day}.md"
    n = 2
    while path.exists():
        path = results_dir / f"profile-{day}-run{n}.md"
        n += 1
    path.write_text("\n".join(lines) + "\n")
    return path
