"""Tables of a peer run: the console line per scenario and level, and the markdown results file."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from contextql.graph.head_cache import MAX_ENTRIES as HEAD_CACHE_ENTRIES

from .variants import VARIANTS

DISTURBED = 0.3  # cores used by other processes during a phase above which its row is marked †


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else round(a / b, 2)


def paired_rounds(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float] | None:
    """A's req/s over B's, round by round (round i of each ran in the same minutes: AB BA ...): the median and
    the range. On a host whose speed drifts this is the steadier figure, and the range shows how far one
    round pair can be trusted."""
    pairs = [x / y for x, y in zip(a.get("rounds_rps") or [], b.get("rounds_rps") or []) if y]
    if len(pairs) < 2 or len(a["rounds_rps"]) != len(b["rounds_rps"]):
        return None
    return {"median": round(statistics.median(pairs), 2), "min": round(min(pairs), 2), "max": round(max(pairs), 2)}


def ratios(cql: dict[str, Any], peer: dict[str, Any]) -> dict[str, float | None]:
    """ContextQL / peer: above 1 is more for ContextQL (better for req/s, worse for the rest)."""
    return {
        "rps": _ratio(cql["rps"], peer["rps"]),
        "rps_rounds": paired_rounds(cql, peer),
        "p50": _ratio(cql["latency_ms"]["p50"], peer["latency_ms"]["p50"]),
        "p95": _ratio(cql["latency_ms"]["p95"], peer["latency_ms"]["p95"]),
        "p99": _ratio(cql["latency_ms"]["p99"], peer["latency_ms"]["p99"]),
        "server_cpu_ms": _ratio(cql["cpu_ms_per_request"].get("server"), peer["cpu_ms_per_request"].get("server")),
        # The fair CPU figure against an embedded store, whose server CPU already holds its database's.
        "server_db_cpu_ms": _ratio(_with_db(cql), _with_db(peer)),
        "statements": _ratio(cql["statements_per_request"], peer["statements_per_request"]),
    }


def _with_db(r: dict[str, Any]) -> float | None:
    cpu = r["cpu_ms_per_request"]
    return None if cpu.get("server") is None else cpu["server"] + (cpu.get("neo4j") or 0.0)


def servers_of(row: dict[str, Any]) -> list[str]:
    return [name for name in VARIANTS if name in row]


def row_ratios(row: dict[str, Any], servers: list[str]) -> dict[str, dict[str, float | None]]:
    """Each ContextQL variant against the peer, and the other variants also against ContextQL on Neo4j."""
    out = {f"{s}/peer": ratios(row[s], row["peer"]) for s in servers if s != "peer"}
    if "contextql" in servers:
        out |= {f"{s}/contextql": ratios(row[s], row["contextql"]) for s in servers if s not in ("peer", "contextql")}
    return out


def _ratios_of(row: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    return row["ratios"] if "ratios" in row else {"contextql/peer": row["ratio"]}  # runs before the variants


def print_row(console: Console, row: dict[str, Any]) -> None:
    for server in servers_of(row):
        r = row[server]
        lat = r["latency_ms"]
        console.print(
            f"{row['scenario']:16} c={row['concurrency']:<3} {server:17} {r['rps']:>8.1f} req/s "
            f"(rounds {r['rounds_rps']})  p50 {lat['p50']:.2f}  p95 {lat['p95']:.2f}  p99 {lat['p99']:.2f} ms  "
            f"server {r['cpu_ms_per_request'].get('server')} ms/req  stmts {r['statements_per_request']}  "
            f"errors {r['errors']}"
        )
    for pair, ratio in _ratios_of(row).items():
        console.print(f"{'':16} {pair}: req/s {ratio['rps']}, p95 {ratio['p95']}, server CPU "
                      f"{ratio['server_cpu_ms']}, server + database CPU {ratio['server_db_cpu_ms']}")


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _mark(r: dict[str, Any]) -> str:
    return " †" if (r.get("cpu_cores") or {}).get("other", 0) > DISTURBED else ""


def _ceiling_note(result: dict[str, Any]) -> str:
    """When the ceiling was measured, and the point read of each server as a share of it."""
    when = ("Measured in rounds of their own among the point read's (the same minutes of the host)."
            if all(row.get("alternated") for row in result["ceiling"]) else "Measured after the scenarios.")
    reads = {row["concurrency"]: row for row in result["runs"] if row["scenario"] == "context_by_path"}
    shares = []
    for row in result["ceiling"]:
        read, top = reads.get(row["concurrency"]), row["ceiling"]["rps"]
        if read and top:
            shares.append(f"c={row['concurrency']}: " + ", ".join(
                f"{server} {100 * read[server]['rps'] / top:.0f}%" for server in servers_of(read)))
    return when + (" One context by path as a share of the ceiling's req/s: " + "; ".join(shares) + "."
                   if shares else "")


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _settled(result: dict[str, Any]) -> str:
    """How long each server ran each scenario before it was timed (runs before the windows: a fixed time)."""
    s = result["settings"]
    if "settle" not in result:
        return f"for {s['settle_s']:g} s"
    window = s.get("settle_window_s", 5.0)
    seconds = "; ".join(f"{name} " + ", ".join(f"{server} {len(w) * window:g}" for server, w in by_server.items())
                        for name, by_server in result["settle"].items())
    passes = s.get("settle_passes")
    asked = (f" and it had been sent {passes} requests per target of the scenario's working set (the target list "
             "its picks are drawn from)") if passes else ""
    return (f"for at least {s['settle_s']:g} s and until its req/s stopped improving{asked} ({window:g} s windows, "
            f"at most {s['settle_max_s']:g} s; seconds per scenario and server: {seconds})")


def _rounds_text(rounds: dict[str, float]) -> str:
    return f"{_f(rounds['median'])} [{_f(rounds['min'])}–{_f(rounds['max'])}]"


def _paired(ra: dict[str, Any]) -> str:
    rounds = ra.get("rps_rounds")
    return f" ({_rounds_text(rounds)})" if rounds else ""


CEILING_SHARE = 0.30  # issue 11: the point read at least this share of the bare endpoint's req/s


def _below(rows: list[dict[str, Any]], pair: str, key: str, at_most: bool = False,
           levels: tuple[int, ...] | None = None) -> tuple[int, list[str]]:
    """How many cells a ratio was checked in, and those where it missed 1.0 (above it when `at_most`)."""
    checked, missed = 0, []
    for row in rows:
        ra = _ratios_of(row).get(pair)
        if ra is None or ra.get(key) is None or (levels and row["concurrency"] not in levels):
            continue
        checked += 1
        value = ra[key]
        if (value > 1.0) if at_most else (value < 1.0):
            rounds = ra.get("rps_rounds") if key == "rps" else None
            median = f" (rounds {_rounds_text(rounds)})" if rounds else ""
            missed.append(f"{row['scenario']} c={row['concurrency']} {_f(value)}{median}")
    return checked, missed


def targets(result: dict[str, Any]) -> list[str]:
    """Issue 11's targets, checked against this run: one line each."""
    rows, lines = result["runs"], []
    top = max((row["concurrency"] for row in rows), default=16)
    checks = [("contextql/peer", "rps", False, None, "ContextQL (Neo4j) req/s ≥ the peer's"),
              ("contextql/peer", "server_cpu_ms", True, None, "ContextQL (Neo4j) server CPU per request ≤ the peer's"),
              ("contextql/peer", "p95", True, (top,), f"ContextQL (Neo4j) p95 at c={top} ≤ the peer's"),
              ("contextql-ladybug/contextql", "rps", False, None, "LadybugDB req/s ≥ the Neo4j deployment's")]
    for pair, key, at_most, levels, label in checks:
        checked, missed = _below(rows, pair, key, at_most, levels)
        if checked:
            verdict = "met in every cell" if not missed else f"missed in {len(missed)}: " + "; ".join(missed)
            lines.append(f"- {label}: {checked - len(missed)} of {checked} cells; {verdict}.")
    reads = {row["concurrency"]: row for row in rows if row["scenario"] == "context_by_path"}
    for row in result.get("ceiling") or []:
        read, top_rps = reads.get(row["concurrency"]), row["ceiling"]["rps"]
        if read and "contextql" in read and top_rps:
            share = read["contextql"]["rps"] / top_rps
            lines.append(f"- Point read ≥ {CEILING_SHARE:.0%} of the ceiling at c={row['concurrency']}: "
                         f"{share:.0%} ({'met' if share >= CEILING_SHARE else 'missed'}).")
    return lines


def _targets_section(result: dict[str, Any]) -> list[str]:
    found = targets(result)
    return ["## Targets (issue 11), as this run measured them", "", *found, ""] if found else []


def markdown(result: dict[str, Any], name: str) -> str:
    m = result["machine"]
    others = [row[s]["cpu_cores"].get("other", 0) for row in result["runs"] for s in servers_of(row)]
    others += [row["ceiling"]["cpu_cores"].get("other", 0) for row in result.get("ceiling") or []]
    mean_other = sum(others) / len(others) if others else 0.0
    s = result["settings"]
    rounds = s.get("rounds", 2)  # runs before --rounds had two
    peer = result["servers"]["peer"]["versions"]
    order = s.get("servers") or ["contextql", "peer"]
    ladybug = result["servers"].get("contextql-ladybug")
    lines = [
        f"# ContextQL vs @neo4j/graphql 7 on Apollo Server 4 — {result['date']}",
        "",
        *([f"**Measured on a busy machine**: other processes used {mean_other:.2f} cores on average during the "
           f"measured phases (of {m['cores']}); rows marked † had more than {DISTURBED} cores of such load. "
           "Absolute numbers are low and noisy; the ratios (both servers alternated in the same conditions) "
           "and the per-request CPU and statement counts are the more robust figures.", ""]
          if mean_other > DISTURBED else []),
        f"Raw numbers: [{name}]({name}). Command: `python -m bench.peer{' --quick' if s['quick'] else ''}` "
        "(see [bench/README.md](../README.md#peer-benchmark)).",
        "",
        f"- Tree: {result['tree']['contexts']:,} contexts (seed {result['tree']['seed']}), Neo4j "
        f"{result['neo4j'].get('version')}, heap {result['neo4j'].get('heap', '?')}, page cache "
        f"{result['neo4j'].get('pagecache', '?')}, one Neo4j for both servers.",
        f"- Peer: Node {peer.get('node')}, @neo4j/graphql {peer.get('@neo4j/graphql')}, @apollo/server "
        f"{peer.get('@apollo/server')}, neo4j-driver {peer.get('neo4j-driver')} (bench/peer/package-lock.json), "
        "NODE_ENV=production.",
        f"- ContextQL: commit {m.get('git_commit')}{' (dirty)' if m.get('git_dirty') else ''}, "
        f"strawberry {m['packages'].get('strawberry-graphql')}, graphql-core {m['packages'].get('graphql-core')}, "
        f"neo4j (Python) {m['packages'].get('neo4j')}, uvicorn {m['packages'].get('uvicorn')}.",
        f"- Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, {m['python']}, "
        f"{m.get('java')}. The load generator, the servers and Neo4j share these cores. Busy cores from "
        f"other processes before the run: {result['machine_load'].get('busy_cores_before_load')}."
        + (f" Host speed: {m['reference_cpu_ms']} ms of CPU for bench/machine.py's reference Python work "
           "(measured when the run ended; CPU per request scales with it from one host to another)."
           if m.get("reference_cpu_ms") else ""),
        *([f"- contextql-ladybug: ContextQL on embedded LadybugDB {m['packages'].get('ladybug')}, in the server's "
           "process, over a copy of the Neo4j workspace made at the start of the run (`contextql export` from "
           "Neo4j, `contextql import` into a new data directory, ids, versions and timestamps kept; "
           f"{ladybug['data']['copied_from_neo4j_s']} s)."] if ladybug else []),
        *(["- contextql-w2: `contextql serve --workers 2` on the same Neo4j (each worker its own driver)."]
          if "contextql-w2" in order else []),
        *([f"- Before a scenario's first measured round, each server ran it untimed {_settled(result)} at the "
           "highest concurrency (in the order below): Neo4j's JIT compiles each server's statements, and the "
           "caches (Neo4j's page cache, ContextQL's head cache) hold the working set, as in servers that have "
           "been running. The mutation's working set is its 2,000 targets; ContextQL's head cache holds "
           f"{HEAD_CACHE_ENTRIES:,} heads by default, so a workload spread over more contexts pays a read per miss (statements/op shows it)."]
          if s.get("settle_s") else []),
        f"- Each server: {s['warmup_s']} s warm-up then {s['duration_s_per_server'] / rounds:g} s measured, "
        f"{_times(rounds)} ({', '.join(order)}, then the reverse{', and so on' if rounds > 2 else ''}), "
        "per scenario and concurrency level. "
        "Before timing, each ContextQL server's answers were compared with the peer's on "
        f"{s['check_samples']} targets per scenario: "
        + ", ".join(f"{k} {'equal' if v['equal'] else 'DIFFERENT'}" for k, v in result["equivalence"].items()) + ".",
        "",
        "Server CPU is the utime+stime of the server process and its children (the workers of `--workers 2`) "
        "over the measured seconds, divided by requests (Neo4j's CPU is shown apart). Statements are Cypher "
        "statements sent to the database per operation (ContextQL: GET /debug/stats; the peer: `run` calls "
        "counted in its driver). Ratios are A / B: req/s above 1 favours A; latency, CPU and statements above 1 "
        "favour B. In a ratio row the Neo4j column holds the ratio of server + database CPU (server CPU "
        "plus Neo4j's): the one to read for contextql-ladybug, whose database runs in its server process. "
        "After a ratio of req/s, in brackets: the median of the ratios of the rounds run side by side "
        "(round i of A against round i of B) and their range.",
        "",
        *_targets_section(result),
        "| scenario | c | server | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | Neo4j CPU ms/req "
        "| statements/op | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["runs"]:
        for i, server in enumerate(servers_of(row)):
            r = row[server]
            lat, cpu = r["latency_ms"], r["cpu_ms_per_request"]
            lines.append(
                f"| {'' if i else row['scenario']} | {row['concurrency']} | {server}{_mark(r)} "
                f"| {_f(r['rps'], 1)} | {_f(lat['p50'])} | {_f(lat['p95'])} | {_f(lat['p99'])} "
                f"| {_f(cpu.get('server'))} | {_f(cpu.get('neo4j'))} | {_f(r['statements_per_request'])} "
                f"| {r['errors']} |")
        for pair, ra in _ratios_of(row).items():
            lines.append(f"| | | **{pair}** | **{_f(ra['rps'])}**{_paired(ra)} | {_f(ra['p50'])} | {_f(ra.get('p95'))} "
                         f"| {_f(ra['p99'])} | {_f(ra['server_cpu_ms'])} | {_f(ra.get('server_db_cpu_ms'))} "
                         f"| {_f(ra['statements'])} | |")
    if result.get("ceiling"):
        lines += ["", "## Ceiling: a bare Starlette JSON endpoint on uvicorn (no GraphQL, no database)", "",
                  "| c | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | load generator CPU ms/req "
                  "| other cores |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in result["ceiling"]:
            r = row["ceiling"]
            lat, cpu = r["latency_ms"], r["cpu_ms_per_request"]
            lines.append(f"| {row['concurrency']}{_mark(r)} | {_f(r['rps'], 1)} | {_f(lat['p50'])} | {_f(lat['p95'])} "
                         f"| {_f(lat['p99'])} | {_f(cpu.get('server'))} | {_f(cpu.get('driver'))} "
                         f"| {_f(r['cpu_cores'].get('other'))} |")
        lines += ["", _ceiling_note(result)]
    lines += ["", "## Where the CPU went (cores busy during the measured seconds)", "",
              "| scenario | c | server | server | Neo4j | load generator | other |", "|---|---:|---|---:|---:|---:|---:|"]
    for row in result["runs"]:
        for server in servers_of(row):
            c = row[server]["cpu_cores"]
            lines.append(f"| {row['scenario']} | {row['concurrency']} | {server} | {_f(c.get('server'))} "
                         f"| {_f(c.get('neo4j'))} | {_f(c.get('driver'))} | {_f(c.get('other'))} |")
    lines += ["", "Caveats: every process here shares the same cores, so at c = 16 the numbers describe the "
              "whole system on this machine; `other` is CPU used by processes outside the benchmark, and "
              "rows where it is high were disturbed. The peer's mutation sets the title only; ContextQL's "
              "`updateContext` also writes a version, an outbox task and an audit entry in the same "
              "transaction (that is the product)."]
    if ladybug:
        lines += ["", "contextql-ladybug's server CPU includes the database: LadybugDB runs inside the server "
                  "process, so that figure is ContextQL and its store together, where the Neo4j variants and the "
                  "peer show the database apart (Neo4j CPU); compare it with server + Neo4j of the others (the "
                  "server + database ratio). Its "
                  "writes go to its own copy, so after the mutation scenario the two stores' titles differ."]
    if "contextql-w2" in order:
        lines += ["", "contextql-w2's statements are not counted (GET /debug/stats answers the counter of whichever "
                  "worker took the connection); they are those of contextql, the same code. Keep-alive "
                  "connections stay with the worker that accepted them, so at c = 1 one worker serves."]
    lines += [""]
    if result.get("profile"):
        lines += [f"Profile of ContextQL under load: [{result['profile']}]({result['profile']}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer.report", description="Rebuild the markdown of a peer run.")
    p.add_argument("json", type=Path, help="bench/results/peer-<date>.json")
    args = p.parse_args(argv)
    result = json.loads(args.json.read_text())
    args.json.with_suffix(".md").write_text(markdown(result, args.json.name))
    print(args.json.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
