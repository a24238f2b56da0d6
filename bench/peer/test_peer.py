"""Checks of the peer benchmark's pure parts (kept beside it; `testpaths` does not collect bench/).

    .venv/bin/python -m pytest -q bench/peer/test_peer.py
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.load import cpu_seconds
from bench.peer import report, stacks
from bench.peer.run import _merge
from bench.peer.scenarios import SCENARIOS, extra_targets, peer_cursor
from bench.peer.variants import VARIANTS, parse_servers, tree_cpu_seconds
from bench.tree import build_tree


def test_peer_cursor_is_graphql_relay_offset() -> None:
    assert base64.b64decode(peer_cursor(49)).decode() == "arrayconnection:49"


def test_targets_have_grandchildren_and_enough_matches() -> None:
    tree = build_tree(2_000, 8, 10, 20250101)
    targets = extra_targets(tree, sample=50)
    by_path = {n.path: n for n in tree.nodes}
    parents = {n.parent for n in tree.nodes}
    for path in targets["nested"]:
        node = by_path[path]
        assert node.depth <= 3 and node.index in parents
        assert any(c.parent == node.index and c.index in parents for c in tree.nodes)
    assert targets["filtered_list"] and all(t["matches"] >= 20 and t["prefix"].endswith("/")
                                            for t in targets["filtered_list"])


def test_both_servers_normalize_to_the_same_structure() -> None:
    nested = SCENARIOS["nested"]
    cql = {"context": {"path": "/a", "title": "A", "children": {"edges": [
        {"node": {"path": "/a/b", "title": "B", "children": {"edges": [{"node": {"path": "/a/b/c", "title": "C"}}]}}}]}}}
    peer = {"contexts": [{"path": "/a", "title": "A", "children": [
        {"path": "/a/b", "title": "B", "children": [{"path": "/a/b/c", "title": "C"}]}]}]}
    assert nested.normalize("contextql", cql) == nested.normalize("peer", peer)

    by_path = SCENARIOS["context_by_path"]
    common = {"id": "1", "path": "/a", "name": "a", "depth": 1, "kind": "org", "title": "A", "content": "",
              "tags": ["x"], "version": 2}
    a = by_path.normalize("contextql", {"context": common | {"data": {"k": 1}, "updatedAt": "2025-01-01T00:00:00.000001+00:00"}})
    b = by_path.normalize("peer", {"contexts": [common | {"data": '{"k":1}', "updatedAt": "1735689600000001"}]})
    assert a == b


def test_stack_groups_attribute_stdlib_to_the_caller_and_loop_to_the_loop() -> None:
    boot = "_serve (server/cli.py:88);asyncio_run (uvicorn/_compat.py:30);Runner.run (asyncio/runners.py:118)"
    raw = Counter({
        tuple(stacks.parse_frame(f) for f in f"{boot};sendall (neo4j/_bolt_socket.py:1);write (asyncio/streams.py:2)".split(";")): 3,
        tuple(stacks.parse_frame(f) for f in f"{boot};parse (graphql/language/parser.py:5)".split(";")): 2,
        tuple(stacks.parse_frame(f) for f in f"{boot};to_dict (graph/neo4j/convert.py:9);loads (json/__init__.py:3)".split(";")): 1,
        tuple(stacks.parse_frame(f) for f in boot.split(";")): 4,
    })
    b = stacks.breakdown(raw)
    assert b.total == 10
    assert b.groups["Neo4j Python driver (incl. Bolt packing, socket I/O)"] == 3
    assert b.groups["GraphQL parse (graphql-core language)"] == 2
    assert b.groups["JSON encode/decode (json)"] == 1
    assert b.groups["asyncio / uvloop event loop"] == 4
    assert "server/cli.py:_serve" not in b.project_inclusive
    assert b.project_inclusive["graph/neo4j/convert.py:to_dict"] == 1


def test_servers_selection_keeps_the_peer_and_the_known_order() -> None:
    assert parse_servers("all") == list(VARIANTS)
    assert parse_servers("contextql-w2,peer") == ["peer", "contextql-w2"]
    for bad in ("contextql", "peer", "peer,contextql-neo4j"):
        with pytest.raises(SystemExit):
            parse_servers(bad)
    assert VARIANTS["contextql-ladybug"].kind == "contextql" and not VARIANTS["contextql-ladybug"].on_neo4j
    assert not VARIANTS["contextql-w2"].counts_statements


BUSY = """
import sys, time
while time.process_time() < 0.3:
    pass
print("busy", flush=True)
sys.stdin.read()
"""


def test_server_cpu_counts_the_workers_below_it() -> None:
    # A grandchild burns 0.3 s of CPU, as a worker under uvicorn's supervisor would.
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY!r}])"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "busy\n"
        alone = cpu_seconds(parent.pid)
        with_workers = tree_cpu_seconds(parent.pid)
        assert alone is not None and with_workers is not None
        assert with_workers - alone >= 0.25  # clock ticks of 10 ms
    finally:
        parent.communicate("", timeout=30)


def test_report_has_a_row_and_ratios_per_server() -> None:
    def part(requests: int) -> dict[str, Any]:
        return {"wall": 1.0, "latencies": [1.0] * requests, "errors": [], "cpu_s": {"server": 0.001 * requests},
                "statements": None}

    row: dict[str, Any] = {"scenario": "nested", "title": "nested", "concurrency": 1}
    for server, requests in zip(VARIANTS, (100, 200, 150, 120)):
        row[server] = _merge([part(requests), part(requests)])
    row["ratios"] = report.row_ratios(row, list(VARIANTS))
    assert set(row["ratios"]) == {"contextql/peer", "contextql-ladybug/peer", "contextql-w2/peer",
                                  "contextql-ladybug/contextql", "contextql-w2/contextql"}
    assert row["ratios"]["contextql-ladybug/contextql"]["rps"] == 1.5
    result = {
        "date": "d", "machine": {"cores": 2, "packages": {"ladybug": "0"}, "cpu_model": "c", "memory_gib": 1,
                                 "os": "o", "python": "p"},
        "neo4j": {}, "tree": {"contexts": 10, "seed": 1}, "machine_load": {},
        "servers": {"peer": {"versions": {}}, "contextql-ladybug": {"data": {"copied_from_neo4j_s": 1.0}}},
        "settings": {"servers": list(VARIANTS), "quick": True, "warmup_s": 1, "duration_s_per_server": 4,
                     "check_samples": 3},
        "equivalence": {"nested": {"equal": True}}, "runs": [row], "ceiling": [],
    }
    text = report.markdown(result, "x.json")
    assert all(f"| {server} |" in text for server in VARIANTS)
    assert "**contextql-w2/contextql**" in text and "includes the database" in text


def _small_embedded_store(tmp_path: Path) -> tuple[Path, Path]:
    """A generated 1,500-context LadybugDB store and its manifest."""
    data, manifest = tmp_path / "ladybug", tmp_path / "manifest.json"
    subprocess.run([sys.executable, "-m", "bench.generate", "--backend", "ladybug", "--data-dir", str(data),
                    "--contexts", "1500", "--history-contexts", "2", "--history-versions", "2",
                    "--manifest", str(manifest)], check=True, capture_output=True)
    return data, manifest


def test_cpu_tool_runs_every_scenario_on_an_embedded_copy(tmp_path) -> None:
    """`bench.peer.cpu --ladybug`: a small generated tree, every scenario answered (and checked) in-process."""
    from bench.peer import cpu

    data, manifest = _small_embedded_store(tmp_path)
    out = tmp_path / "cpu.json"
    assert cpu.main(["--ladybug", str(data), "--manifest", str(manifest), "--variants", "lean",
                     "--requests", "3", "--blocks", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == set(SCENARIOS)
    assert all(r["ms_per_request"]["lean"] > 0 for r in results.values())


def test_cpu_tool_takes_exactly_one_backend() -> None:
    from bench.peer import cpu

    for argv in ([], ["--neo4j-uri", "bolt://x", "--ladybug", "d"]):
        with pytest.raises(SystemExit):
            cpu.main([*argv, "--manifest", "m.json"])


def test_settle_stops_once_req_per_s_stops_improving() -> None:
    from bench.peer.run import settled_after

    assert not settled_after([300.0, 320.0], 1)  # too few windows to tell
    assert not settled_after([100.0, 200.0, 300.0], 3)  # still warming up
    assert settled_after([300.0, 350.0, 352.0, 353.0], 3)  # two windows without a new best
    assert not settled_after([300.0, 350.0, 352.0], 6)  # at least the minimum
    # ... and not before the working set has been asked for, SETTLE_PASSES times over
    steady = [300.0, 350.0, 352.0, 353.0]
    assert not settled_after(steady, 3, sent=9_000, working_set=2_000)
    assert settled_after(steady, 3, sent=10_000, working_set=2_000)


def test_report_says_how_long_each_server_settled() -> None:
    result = {"settings": {"settle_s": 15.0, "settle_max_s": 120.0, "settle_window_s": 5.0},
              "settle": {"update_title": {"contextql": [1.0] * 8, "peer": [1.0] * 3}}}
    assert "update_title contextql 40, peer 15" in report._settled(result)
    assert report._settled({"settings": {"settle_s": 15.0}}) == "for 15 s"
    result["settings"]["settle_passes"] = 5
    assert "sent 5 requests per target" in report._settled(result)


def test_report_gives_the_host_speed_when_measured() -> None:
    from bench.machine import reference_cpu_ms

    assert reference_cpu_ms(repeats=3) > 0
    result = json.loads((Path(__file__).parents[1] / "results" / "peer-2026-12-03-run25.json").read_text())
    assert "Host speed" not in report.markdown(result, "run.json")  # runs before it did not measure it
    result["machine"]["reference_cpu_ms"] = 24.9
    assert "Host speed: 24.9 ms of CPU" in report.markdown(result, "run.json")


def test_report_pairs_rounds_and_checks_the_targets() -> None:
    def server(rounds: list[float], cpu: float, p95: float) -> dict[str, Any]:
        return {"rps": sum(rounds) / len(rounds), "rounds_rps": rounds, "latency_ms": {"p50": 1.0, "p95": p95, "p99": 1.0},
                "cpu_ms_per_request": {"server": cpu}, "statements_per_request": 1.0}

    row: dict[str, Any] = {"scenario": "nested", "concurrency": 16,
                           "contextql": server([100.0, 90.0, 120.0, 80.0], 2.0, 10.0),
                           "peer": server([100.0, 100.0, 100.0, 100.0], 1.5, 12.0),
                           "contextql-ladybug": server([110.0, 99.0, 150.0, 90.0], 3.0, 9.0)}
    row["ratios"] = report.row_ratios(row, ["contextql", "peer", "contextql-ladybug"])
    assert row["ratios"]["contextql/peer"]["rps_rounds"] == {"median": 0.95, "min": 0.8, "max": 1.2}
    assert report.paired_rounds(row["contextql"], {"rounds_rps": [1.0]}) is None  # rounds that do not pair
    lines = report.targets({"runs": [row], "ceiling": [{"concurrency": 16, "ceiling": {"rps": 300.0}}]})
    assert lines[0].startswith("- ContextQL (Neo4j) req/s ≥ the peer's: 0 of 1 cells; missed in 1: nested c=16 0.97 "
                               "(rounds 0.95 [0.80–1.20])")
    assert "server CPU per request ≤ the peer's: 0 of 1" in lines[1]
    assert "p95 at c=16 ≤ the peer's: 1 of 1 cells; met in every cell" in lines[2]
    assert "LadybugDB req/s ≥ the Neo4j deployment's: 1 of 1 cells" in lines[3]
    assert len(lines) == 4  # no point read in the run: no ceiling share



def test_ab_serves_two_sides_of_an_embedded_copy_in_turn(tmp_path) -> None:
    """`bench.peer.ab --ladybug`: two servers, each on its own copy of the store, take rounds in turn."""
    from bench.peer import ab

    data, manifest = _small_embedded_store(tmp_path)
    out = tmp_path / "ab.json"
    assert ab.main(["--ladybug", str(data), "--manifest", str(manifest), "--b-env", "CONTEXTQL_LADYBUG_INLINE_READ_MS=0",
                    "--scenarios", "context_by_path,update_title", "--concurrency", "2", "--rounds", "2",
                    "--round-s", "0.5", "--warmup", "0", "--settle", "0", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["runs"]
    assert [row["scenario"] for row in rows] == ["context_by_path", "update_title"]
    for row in rows:
        assert all(row[side]["requests"] > 0 and row[side]["errors"] == 0 for side in ab.SIDES)
        assert len(row["A"]["rounds_rps"]) == len(row["B"]["rounds_rps"]) == 2
        assert row["b/a"]["rps_rounds"] is not None and row["b/a"]["rps"] > 0


def test_ab_takes_only_contextql_settings() -> None:
    from bench.peer import ab

    assert ab.parse_env(["CONTEXTQL_LADYBUG_INLINE_READ_MS=0"]) == {"CONTEXTQL_LADYBUG_INLINE_READ_MS": "0"}
    for bad in ("PATH=/x", "CONTEXTQL_X"):
        with pytest.raises(SystemExit):
            ab.parse_env([bad])
    env = ab.side_env({"PYTHONPATH": "/base", "CONTEXTQL_GRAPH": "ladybug"}, {"CONTEXTQL_GRAPH": "neo4j"}, Path("/co"))
    assert env == {"PYTHONPATH": f"/co{os.pathsep}/base", "CONTEXTQL_GRAPH": "neo4j"}
