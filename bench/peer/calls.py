"""Python function calls per request of the peer scenarios (cProfile): a measure of the server's own work that,
unlike CPU time, does not move with the machine's load.

    python -m bench.peer.calls --neo4j-uri bolt://127.0.0.1:7697 \
        --manifest bench/.work/peer-n50000-s20250101/manifest.json [--requests 50] [--top 25] [--json out.json]

The app is built and called as by `bench.peer.cpu` (its helpers: the app of `contextql serve` over the store,
in-process ASGI calls, one request at a time, `gc.freeze()` after set-up); each scenario is warmed up, then
cProfile counts every call (primitive and recursive) over `--requests` requests with the same seeded targets.
To compare two commits, run it once per commit (another checkout first on PYTHONPATH as `contextql`).
`--top N` also prints the N functions with the most calls per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import pstats
import random
from pathlib import Path
from typing import Any

from bench.stores import open_bench_store, settings_for
from bench.tree import build_tree

from .cpu import _app, _post
from .scenarios import SCENARIOS, check, extra_targets


# Where a function lives, by its file (built-ins: "~"); the driver's and the event loop's counts move with
# how the socket reads fall, so the other areas are the steadier measure of the server's own work.
AREAS = (("neo4j driver", "/neo4j/"), ("event loop", "/asyncio/"), ("event loop", "/selectors.py"),
         ("strawberry", "/strawberry/"), ("graphql-core", "/graphql/"), ("starlette", "/starlette/"),
         ("other libraries", "site-packages/"), ("standard library", "/lib/python3"))


def _area(filename: str) -> str:
    if filename == "~":
        return "built-ins"
    return next((area for area, marker in AREAS if marker in filename), "contextql")


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    for marker in ("site-packages/", "contextql/", "wt-rootpath/", "main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})" if line else name


async def _count(app: Any, name: str, targets: dict[str, Any], n: int, top: int) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    for target in [scenario.pick(random.Random("warm"), targets) for _ in range(max(20, n // 2))]:
        await _post(app, scenario.contextql(target))
    rng = random.Random(f"calls:{name}")
    picks = [scenario.pick(rng, targets) for _ in range(n)]
    profile = cProfile.Profile()
    for target in picks:
        request = scenario.contextql(target)
        profile.enable()
        answer = await _post(app, request)
        profile.disable()
        problem = check(scenario, "contextql", answer, target)
        if problem:
            raise SystemExit(f"{name}: {problem}")
    stats = pstats.Stats(profile)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(calls for (_, calls, _, _, _) in entries.values())
    ranked = sorted(entries.items(), key=lambda item: -item[1][1])[:top]
    areas: dict[str, float] = {}
    for (filename, _, _), (_, calls, _, _, _) in entries.items():
        areas[_area(filename)] = areas.get(_area(filename), 0) + calls / n
    return {"calls_per_request": total / n, "areas": dict(sorted(areas.items(), key=lambda item: -item[1])),
            "top": [[_label(func), calls / n] for func, (_, calls, _, _, _) in ranked]}


async def main_async(args: argparse.Namespace, manifest: dict[str, Any]) -> dict[str, Any]:
    tree = manifest["tree"]
    targets = manifest["targets"] | extra_targets(build_tree(tree["contexts"], tree["depth"], tree["fanout"], tree["seed"]))
    common: dict[str, Any] = {"log_level": "warning", "rate_limit_operations": 0, "rate_limit_cost": 0,
                              "search": False}
    settings = settings_for("neo4j", neo4j_uri=args.neo4j_uri, **common)
    store = await open_bench_store(settings)
    app = _app(store, settings, lean=True)
    results: dict[str, Any] = {}
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            gc.freeze()
            for name in args.scenarios.split(","):
                results[name] = found = await _count(app, name, targets, args.requests, args.top)
                print(f"{name:15s} {found['calls_per_request']:9.1f} calls/request  ("
                      + ", ".join(f"{area} {calls:.0f}" for area, calls in found["areas"].items()) + ")", flush=True)
                for label, calls in found["top"]:
                    print(f"    {calls:8.1f}  {label}")
    finally:
        await store.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer.calls", description=__doc__.split("\n\n")[0])
    p.add_argument("--neo4j-uri", required=True)
    p.add_argument("--manifest", required=True, help="manifest.json written by the peer run's generate step")
    p.add_argument("--scenarios", default="context_by_path,children_page,nested,filtered_list,update_title")
    p.add_argument("--requests", type=int, default=50, help="profiled requests per scenario")
    p.add_argument("--top", type=int, default=0, help="also list the functions with the most calls")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    results = asyncio.run(main_async(args, json.loads(Path(args.manifest).read_text())))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
