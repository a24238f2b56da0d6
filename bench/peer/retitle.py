"""In process: `conc` clients retitling `n` contexts whose heads are cached (the app of `contextql serve`
over a copy of the bench LadybugDB store). Warm-up: one retitle of each (fills the head cache), then
`rounds` timed rounds; per round: process CPU ms per mutation (server + engine threads), mutations/s,
statements per mutation, share of revisions that went in a group, fallbacks, checkpoints.

    python -m bench.peer.retitle STORE --manifest bench/.work/peer-n50000-s20250101/manifest.json \
        --clients 16 --rounds 3 --contexts 800 [--cold]
STORE: a LadybugDB data folder (holding graph.lbug; give it a copy: the run writes), or a bolt:// URI
of the bench Neo4j. `--cold`: the head cache emptied before each round (every revision reads its head).
Targets: the first `--contexts` point-read paths of the peer manifest."""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import time
from pathlib import Path

from bench.peer import cpu
from bench.peer.scenarios import SCENARIOS
from bench.stores import open_bench_store, settings_for



def checkpoints(store: object) -> int:
    return getattr(getattr(store, "_engine", None), "checkpoints", 0)


async def main(target: str, manifest: dict, conc: int, rounds: int, n: int, cold: bool) -> None:
    common = {"log_level": "warning", "rate_limit_operations": 0, "rate_limit_cost": 0, "search": False}
    if target.startswith("bolt://"):
        settings = settings_for("neo4j", neo4j_uri=target, **common)
    else:
        settings = settings_for("ladybug", data_dir=Path(target), **common)
    store = await open_bench_store(settings)
    app = cpu._app(store, settings, True)
    sc = SCENARIOS["update_title"]
    paths = manifest["targets"]["context_by_path"][:n]
    group = getattr(store, "group_commit", None)
    async with app.router.lifespan_context(app):
        gc.collect()
        gc.freeze()
        async def worker(ps, tag):
            for p in ps:
                r = await cpu._post(app, sc.contextql({"path": p, "title": f"{tag}{random.getrandbits(30)}"}))
                assert "errors" not in r, r
        parts = [paths[i::conc] for i in range(conc)]
        await asyncio.gather(*(worker(g, "W") for g in parts))
        for rnd in range(rounds):
            if cold:
                store.heads.clear()
            q0, c0 = store.queries, checkpoints(store)
            g0 = getattr(group, "grouped", 0)
            t0, w0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker(g, f"R{rnd}") for g in parts))
            wall, cpu_s = time.perf_counter() - w0, time.process_time() - t0
            g1 = getattr(group, "grouped", 0)
            print(json.dumps({"conc": conc, "round": rnd, "cpu_ms": round(1000 * cpu_s / n, 3),
                              "per_s": round(n / wall), "stmts": round((store.queries - q0) / n, 2),
                              "grouped": round((g1 - g0) / n, 2), "failed_groups": getattr(group, "failed", 0),
                              "fallbacks": getattr(store, "pessimistic_revisions", 0),
                              "checkpoints": checkpoints(store) - c0, "cold": cold}), flush=True)
    await store.close()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contexts", type=int, default=800)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.store, json.loads(args.manifest.read_text()), args.clients, args.rounds, args.contexts, args.cold))
