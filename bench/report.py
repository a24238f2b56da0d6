"""Write bench/results/README.md: the latest result of each backend, side by side.

    python -m bench.report          # rebuild from bench/results/*.json

For each backend the newest full-size run (50,000 contexts) is shown, or, when
there is none, the newest run of any size (marked as such).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .scenarios import SCENARIOS

RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = ("ladybug", "neo4j")
LABEL = {"ladybug": "LadybugDB (embedded)", "neo4j": "Neo4j (Bolt)"}


def _load_all(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, json.JSONDecodeError):
            continue
    return found


def latest(folder: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path, result in _load_all(folder):
        backend = result.get("backend", {}).get("name")
        if backend not in BACKENDS:
            continue
        key = (result["generate"]["tree"]["contexts"] == 50_000, result.get("date", ""))
        current = chosen.get(backend)
        if current is None or key >= (current[1]["generate"]["tree"]["contexts"] == 50_000, current[1].get("date", "")):
            chosen[backend] = (path, result)
    return chosen


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _runs(result: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["scenario"], r["concurrency"]): r for r in result["load"]["runs"]}


def _round_trips(result: dict[str, Any], scenario: str, run: dict[str, Any] | None) -> str:
    if run and run.get("round_trips_per_request") is not None:
        return _fmt(run["round_trips_per_request"], 2)
    rt = result.get("round_trips_in_process", {}).get(scenario)
    if not rt:
        return "–"
    return _fmt(rt["mean"], 1) if rt["min"] == rt["max"] else f"{rt['mean']} ({rt['min']}–{rt['max']})"


def render(chosen: dict[str, tuple[Path, dict[str, Any]]]) -> str:
    present = [b for b in BACKENDS if b in chosen]
    lines = ["# Benchmark results", ""]
    if not present:
        return "\n".join(lines + ["No results yet: run `python -m bench` (see ../README.md).", ""])
    any_result = chosen[present[0]][1]
    lines += [
        "Written by `python -m bench` (bench/run.py); how to run it: [../README.md](../README.md).",
        "Each column is one run of the same seeded tree, the same four GraphQL operations and the same",
        "closed-loop HTTP driver (a separate process, keep-alive connections, `c` concurrent clients) against",
        "`contextql serve` (one uvicorn process) on loopback. Latency is per request, send to full body read.",
        "",
        "Files: " + ", ".join(f"[{chosen[b][0].name}]({chosen[b][0].name})" for b in present),
        "",
    ]
    for backend in present:
        path, result = chosen[backend]
        tree = result["generate"]["tree"]
        note = "" if tree["contexts"] == 50_000 else f" — **reduced size ({tree['contexts']:,} contexts), not the full run**"
        lines.append(f"- {LABEL[backend]}: {result['backend'].get('version') or '?'}, run {result['date']}{note}")
    lines.append("")

    levels = sorted({c for b in present for c in chosen[b][1]["load"]["concurrency"]})
    lines += ["## Latency and throughput", ""]
    header = ["scenario", "c"]
    for backend in present:
        short = "Ladybug" if backend == "ladybug" else "Neo4j"
        header += [f"{short} req/s", f"{short} p50 ms", f"{short} p95 ms", f"{short} p99 ms"]
    header += [f"round trips/request ({' / '.join('Ladybug' if b == 'ladybug' else 'Neo4j' for b in present)})"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, scenario in SCENARIOS.items():
        for level in levels:
            row = [scenario.title, str(level)]
            rts = []
            for backend in present:
                result = chosen[backend][1]
                run = _runs(result).get((name, level))
                if run is None:
                    row += ["–"] * 4
                else:
                    lat = run["latency_ms"]
                    errors = f" ({run['errors']} errors)" if run["errors"] else ""
                    row += [_fmt(run["rps"]) + errors, _fmt(lat["p50"], 2), _fmt(lat["p95"], 2), _fmt(lat["p99"], 2)]
                rts.append(_round_trips(result, name, run))
            row.append(" / ".join(rts))
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Round trips: statements the store sent to the engine per GraphQL request (the store's `queries`",
        "counter). Measured in-process by `bench/roundtrips.py` (same schema, a fresh request context per",
        "request, 20 requests per scenario) until the server exposes its counter; the same for any `c`.",
        "",
        "CPU used during each measured phase (cores; 2 available):",
        "",
    ]
    cpu_header = ["scenario", "c"] + [f"{'Ladybug' if b == 'ladybug' else 'Neo4j'}: {who}"
                                       for b in present for who in _cpu_keys(chosen[b][1])]
    lines += ["| " + " | ".join(cpu_header) + " |", "|" + "---|" * len(cpu_header)]
    for name, scenario in SCENARIOS.items():
        for level in levels:
            row = [scenario.title, str(level)]
            for backend in present:
                run = _runs(chosen[backend][1]).get((name, level)) or {}
                for who in _cpu_keys(chosen[backend][1]):
                    row.append(_fmt((run.get("cpu_cores") or {}).get(who), 2))
            lines.append("| " + " | ".join(row) + " |")

    lines += ["", "## Data set and load time", ""]
    lines += ["| | " + " | ".join(LABEL[b] for b in present) + " |", "|---|" + "---|" * len(present)]

    def row(label: str, get) -> None:
        cells = []
        for b in present:
            try:
                cells.append(get(chosen[b][1]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("contexts", lambda r: f"{r['generate']['tree']['contexts']:,}")
    row("contexts per level (depth 1–8)", lambda r: " / ".join(f"{s:,}" for s in r["generate"]["tree"]["level_sizes"]))
    row("parents / mean fan-out", lambda r: f"{r['generate']['tree']['internal_nodes']:,} / {r['generate']['tree']['mean_fanout']}")
    row("wide parents (150 children)", lambda r: str(r["generate"]["tree"]["wide_parents"]))
    row("load (create_contexts, batches of "
        f"{any_result['generate']['tree']['batch']:,})",
        lambda r: f"{r['generate']['timings']['load_s']:.1f} s ({r['generate']['timings']['load_contexts_per_s']:,.0f} contexts/s)")
    row("history: updates through the domain layer",
        lambda r: f"{r['generate']['timings']['history_updates']:,} in {r['generate']['timings']['history_s']:.1f} s "
                  f"({r['generate']['timings']['history_updates_per_s']:,.0f}/s)")
    row("store reused from an earlier run", lambda r: "yes" if r["generate"].get("reused") else "no")
    lines += [
        "",
        "## Method",
        "",
        f"- Phases: {any_result['load']['warmup_s']:g} s warm-up (discarded), then {any_result['load']['duration_s']:g} s "
        f"measured, per scenario and concurrency level; at most {any_result['load']['max_requests']:,} requests per phase.",
        "- Targets are drawn at random per request: 2,000 random contexts (by path); the wide parents, pages 1–3",
        "  (children page); 2,000 depth-8 leaves (effective view); 50 contexts with 21 versions (history page of 20).",
        "- Every response is parsed and checked; a GraphQL error or a wrong answer counts as an error.",
        "- The driver, the server and (for Neo4j) the JVM share the machine's 2 cores: at `c` > 1 the numbers",
        "  are those of the whole system on this machine, not of the server alone (see the CPU table).",
        "- The queries are in `bench/scenarios.py`.",
        "",
    ]
    lines += ["## Machine", ""]
    m = any_result["machine"]
    lines += [
        f"- CPU: {m['cpu_model']}, {m['cores']} cores ({m.get('cores_available')} available to the run)",
        f"- Memory: {m['memory_gib']} GiB",
        f"- OS: {m['os']}",
        f"- Python: {m['python']}; Java: {m.get('java') or '–'}",
        f"- Code: git {m.get('git_commit')}{' (with uncommitted changes)' if m.get('git_dirty') else ''}",
    ]
    for backend in present:
        b = chosen[backend][1]["backend"]
        extra = ""
        if backend == "neo4j" and b.get("heap"):
            extra = f"; heap {b['heap']}, page cache {b['pagecache']}, JVM defaults (C2, G1), started by bench/neo4j_runner.py"
        lines.append(f"- {LABEL[backend]}: {b.get('version') or '?'}{extra}")
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines += [f"- Packages: {packages}", ""]
    return "\n".join(lines)


def _cpu_keys(result: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for run in result["load"]["runs"]:
        for key in run.get("cpu_cores", {}):
            if key not in keys:
                keys.append(key)
    return keys


def write(folder: Path = RESULTS) -> Path:
    out = folder / "README.md"
    out.write_text(render(latest(folder)))
    return out


def main() -> int:
    print(write())
    return 0


if __name__ == "__main__":
    sys.exit(main())
