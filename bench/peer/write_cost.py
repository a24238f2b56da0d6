"""Neo4j's CPU per statement for the parts of ContextQL's title-update write, against the peer's one SET.

    python -m bench.peer.write_cost --neo4j-uri bolt://127.0.0.1:7697 \
        --manifest bench/.work/peer-n50000-s20250101/manifest.json VARIANT [VARIANT ...]

Variants: `peer` (what @neo4j/graphql sends: MATCH ... SET c.title), `full` (the guarded write of
graph/neo4j/optimistic.py: state, version, outbox task, audit entry), `no_audit`, `no_enqueue`,
`no_version`, `state_only`, `flat` (the same writes without CALL subqueries), `read` (the head read
a revision sends when its head is not cached) and `grouped` (`--group` full writes in one statement, as
graph/neo4j/group_commit.py sends them; CPU per write). Each runs `--statements` statements from `--concurrency`
sessions over the manifest's point-read targets (each session its own contexts, so guards hold), after
a warm-up; the JVM's CPU (utime+stime of the Neo4j process listening on the URI's port, from /proc) is
divided by the statements. Needs the Neo4j on this machine. It writes titles into the bench store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid

import neo4j

from contextql.graph.neo4j import writes as W
from contextql.graph.neo4j.group_commit import grouped
from contextql.graph.neo4j.optimistic import GUARD, GUARD_RETURN



def java_pid(port: int) -> int:
    """The Neo4j JVM listening on `port` (started with --port N by tools/neo4j/Launcher.java)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"java") and str(port).encode() in cmd:
                return int(entry)
    raise SystemExit(f"no java process started with port {port} here")


def jvm_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SET_STATE = W.SET_STATE.replace("{p}", "w0_")
VERS = W.INSERT_VERSIONS.replace("{p}", "w1_")
ENQ = W.ENQUEUE.replace("{p}", "w2_")
AUD = W.APPEND_AUDIT.replace("{p}", "w3_")
PARTS = {"full": [SET_STATE, VERS, ENQ, AUD], "no_audit": [SET_STATE, VERS, ENQ], "no_enqueue": [SET_STATE, VERS, AUD],
         "no_version": [SET_STATE, ENQ, AUD], "state_only": [SET_STATE], "flat": None}
FLAT = """
UNWIND $g_rows AS g
MATCH (c:Context {workspace: g.workspace, id: g.id})
SET c._lock = true
REMOVE c._lock
WITH c, g WHERE c.version = g.version AND c.path = g.path
WITH collect(c) AS held WHERE size(held) = size($g_rows)
WITH held[0] AS c
SET c += $w0_props
CREATE (c)-[:HAS_VERSION]->(v:Version)
SET v = $w1_rows[0]
MERGE (t:IndexTask {context_id: $w2_items[0].id})
ON CREATE SET t.workspace = $w2_workspace, t.since = $w2_items[0].since, t.token = $w2_task.token,
    t.enqueued_at = $w2_task.now, t.not_before = $w2_task.now, t.claimed_until = 0, t.attempts = 0, t.last_error = ''
ON MATCH SET t.since = CASE WHEN t.since < $w2_items[0].since THEN t.since ELSE $w2_items[0].since END,
    t.token = $w2_task.token, t.not_before = $w2_task.now, t.claimed_until = 0, t.attempts = 0
CREATE (a:AuditEntry)
SET a = $w3_rows[0]
RETURN 1 AS held
"""
PEER = "MATCH (c:Context {workspace: $ws, path: $path}) SET c.title = $t RETURN c.path, c.title"
READ = "UNWIND $paths AS path MATCH (c:Context {workspace: $workspace, path: path}) RETURN properties(c) AS props"

def _params(head: dict, title: str, now: int) -> dict:
    """The parameters ContextQL's revision sends for a new title (graph/neo4j/writes.py, optimistic.py)."""
    number = head["version"] + 1
    version = {"context_id": head["id"], "workspace": "bench", "number": number, "operation": "update",
               "path": head["path"], "kind": head.get("kind"), "title": title, "content": head.get("content"),
               "data": head.get("data"), "tags": head.get("tags"), "inherit": True, "author": "anonymous",
               "created_at": now, "changed": ["title"]}
    audit = {"id": uuid.uuid4().hex, "workspace": "bench", "at": now, "principal": "anonymous",
             "principal_kind": "anonymous", "operation": "mutation updateContext", "target": "path=" + head["path"],
             "outcome": "ok", "error": ""}
    return {
        "w0_workspace": "bench", "w0_id": head["id"],
        "w0_props": {"title": title, "version": number, "updated_at": now, "updated_by": "anonymous"},
        "w1_rows": [version],
        "w2_workspace": "bench", "w2_task": {"token": uuid.uuid4().hex, "now": now, "no_history": 1 << 62},
        "w2_items": [{"id": head["id"], "since": number}],
        "w3_rows": [audit],
        "g_rows": [{"workspace": "bench", "id": head["id"], "version": head["version"], "path": head["path"],
                    "updated_at": head["updated_at"]}],
    }


async def _group(session: neo4j.AsyncSession, heads: list[dict]) -> None:
    now = int(time.time() * 1e6)
    batch = [{**_params(head, f"G{uuid.uuid4().hex[:8]}", now), "i": i} for i, head in enumerate(heads)]
    query = grouped(GUARD + "\n".join(PARTS["full"]) + GUARD_RETURN)
    rows = [row async for row in await session.run(query, batch=batch)]
    if len(rows) != len(heads):
        raise SystemExit("a guard held nothing: another writer is changing the bench store")
    for head in heads:
        head["version"] += 1
        head["updated_at"] = now


async def _statement(session: neo4j.AsyncSession, variant: str, head: dict) -> None:
    title = f"T{uuid.uuid4().hex[:8]}"
    if variant == "peer":
        await (await session.run(PEER, ws="bench", path=head["path"], t=title)).consume()
        return
    if variant == "read":
        await (await session.run(READ, paths=[head["path"]], workspace="bench")).consume()
        return
    now = int(time.time() * 1e6)
    query = FLAT if variant == "flat" else GUARD + "\n".join(PARTS[variant]) + GUARD_RETURN
    rows = [row async for row in await session.run(query, _params(head, title, now))]
    if not rows:
        raise SystemExit("the guard held nothing: another writer is changing the bench store")
    head["version"] += 1
    head["updated_at"] = now


async def measure(uri: str, manifest_path: str, variant: str, n: int, conc: int, group: int = 1) -> None:
    jpid = java_pid(int(uri.rsplit(":", 1)[1]))
    with open(manifest_path) as manifest:
        paths = json.load(manifest)["targets"]["context_by_path"]
    driver = neo4j.AsyncGraphDatabase.driver(uri, auth=None)
    heads: dict[str, dict] = {}
    async with driver.session() as session:
        async for record in await session.run(READ, paths=paths, workspace="bench"):
            heads[record["props"]["path"]] = record["props"]
    paths = [p for p in paths if p in heads]
    random.shuffle(paths)
    groups = [paths[i::conc] for i in range(conc)]

    async def worker(mine: list[str], count: int) -> None:
        async with driver.session() as session:
            if variant == "grouped":
                for i in range(0, count - group + 1, group):
                    await _group(session, [heads[mine[(i + j) % len(mine)]] for j in range(group)])
                return
            for i in range(count):
                await _statement(session, variant, heads[mine[i % len(mine)]])

    await asyncio.gather(*(worker(g, 20) for g in groups))  # warm-up
    c0, w0, p0 = jvm_cpu(jpid), time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(g, n // conc) for g in groups))
    c1, w1, p1 = jvm_cpu(jpid), time.perf_counter(), time.process_time()
    label = f"grouped{group}" if variant == "grouped" else variant
    print(f"{label:11s} c={conc} java {1000 * (c1 - c0) / n:.2f} ms/write  client {1000 * (p1 - p0) / n:.2f} "
          f"ms/write  {n / (w1 - w0):.0f} writes/s", flush=True)
    await driver.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer.write_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", choices=[*PARTS, "peer", "read", "grouped"])
    parser.add_argument("--neo4j-uri", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--statements", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--group", type=int, default=8, help="writes per statement of `grouped`")
    args = parser.parse_args(argv)
    for _ in range(args.rounds):
        for variant in args.variants:
            asyncio.run(measure(args.neo4j_uri, args.manifest, variant, args.statements, args.concurrency,
                                args.group))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
