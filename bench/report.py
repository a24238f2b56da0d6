"""Write bench/results/README.md: the latest result of each backend, side by side.

    python -m bench.report          # rebuild from bench/results/*.json

For each backend: among the full-size runs (50,000 contexts; else runs of any
size, marked as such) made with the newest code, the run least disturbed by other
processes (lowest mean `other` CPU) is shown. Every run file is listed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .scenarios import SCENARIOS

RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = ("ladybug", "neo4j")
BUSY = 0.3  # cores used by other processes during a phase above which a row is marked
LABEL = {"ladybug": "LadybugDB (embedded)", "neo4j": "Neo4j (Bolt)"}


def _load_all(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        # Only this benchmark's files (other benchmarks may write into the same folder).
        if isinstance(result, dict) and isinstance(result.get("backend"), dict) and "load" in result \
                and "generate" in result:
            found.append((path, result))
    return found


def other_cpu(result: dict[str, Any]) -> float:
    """Mean CPU (cores) used by other processes during the measured phases of a run."""
    values = [(r.get("cpu_cores") or {}).get("other") for r in result["load"]["runs"]]
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else 0.0


def _same_code(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["machine"].get("git_commit") == b["machine"].get("git_commit")


def latest(folder: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Per backend: among full-size runs (else any size), of the newest code, the least disturbed run."""
    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    for backend in BACKENDS:
        runs = [(p, r) for p, r in _load_all(folder) if r.get("backend", {}).get("name") == backend]
        if not runs:
            continue
        full = [(p, r) for p, r in runs if r["generate"]["tree"]["contexts"] == 50_000] or runs
        newest = max(full, key=lambda pr: pr[1].get("date", ""))
        candidates = [(p, r) for p, r in full if _same_code(r, newest[1])]
        candidates.sort(key=lambda pr: pr[1].get("date", ""), reverse=True)  # ties: the newest
        chosen[backend] = min(candidates, key=lambda pr: other_cpu(pr[1]))
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


def render(chosen: dict[str, tuple[Path, dict[str, Any]]], folder: Path = RESULTS) -> str:
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
        "Shown per backend: of the full-size (50,000) runs of the newest code, the one least disturbed by",
        "other processes on the machine (lowest mean `other` CPU). All runs:",
        "",
    ]
    for path, result in _load_all(folder):
        if result.get("backend", {}).get("name") not in BACKENDS:
            continue
        mark = " (shown)" if any(chosen[b][0] == path for b in present) else ""
        lines.append(
            f"- [{path.name}]({path.name}): {result['backend']['name']}, {result['generate']['tree']['contexts']:,} "
            f"contexts, {result['date']}, git {result['machine'].get('git_commit')}, other CPU "
            f"{other_cpu(result):.2f} cores{mark}"
        )
    lines.append("")
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
                    busy = " †" if (run.get("cpu_cores") or {}).get("other", 0) > BUSY else ""
                    row += [_fmt(run["rps"]) + errors + busy, _fmt(lat["p50"], 2), _fmt(lat["p95"], 2), _fmt(lat["p99"], 2)]
                rts.append(_round_trips(result, name, run))
            row.append(" / ".join(rts))
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"† other processes on the machine used more than {BUSY} cores during that phase (column `other`",
        "below): the run had less CPU than the machine has, so that row understates the backend.",
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
        "- Server settings: " + ", ".join(
            f"`{k}={v}`" for k, v in any_result["server"]["env"].items()
            if k not in ("CONTEXTQL_DATA_DIR", "CONTEXTQL_NEO4J_URI", "CONTEXTQL_GRAPH")
        ) + " (rate limits and the search index off: the graph read path is measured).",
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
    out.write_text(render(latest(folder), folder))
    return out


def main() -> int:
    print(write())
    return 0


if __name__ == "__main__":
    sys.exit(main())
