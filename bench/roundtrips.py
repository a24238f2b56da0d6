"""Store round trips per GraphQL request, counted in-process.

    python -m bench.roundtrips --backend ladybug --data-dir D --manifest M.json [--output R.json]

Runs each scenario's operation through the real schema (the one the server
builds) with a fresh `RequestContext` per request -- as the server does -- over
the opened store, and reads `store.queries` (statements sent to the engine)
before and after each request. This stands in for a server-side counter until
the server exposes one (see bench/README.md: `/debug/stats`).

For the embedded backend this must run while no server holds the store open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

from contextql.schema import build_schema

from .scenarios import SCENARIOS, check
from .stores import open_bench_store, request_context, settings_for


async def measure(backend: str, data_dir: Path | None, neo4j_uri: str | None, targets: dict[str, Any],
                  samples: int = 20, seed: int = 7) -> dict[str, Any]:
    settings = settings_for(backend, data_dir=data_dir, neo4j_uri=neo4j_uri)
    schema = build_schema(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases,
                          max_tokens=settings.max_tokens)
    store = await open_bench_store(settings)
    results: dict[str, Any] = {}
    try:
        for name, scenario in SCENARIOS.items():
            rng = random.Random(f"{seed}:{name}")
            counts: list[int] = []
            for _ in range(samples):
                variables = scenario.pick(rng, targets)
                before = store.queries
                result = await schema.execute(scenario.query, variable_values=variables,
                                              context_value=request_context(store, settings))
                counts.append(store.queries - before)
                body = {"data": result.data, "errors": [{"message": str(e)} for e in result.errors or []]}
                problem = check(name, body)
                if problem:
                    raise SystemExit(f"{name} {variables}: {problem}")
            results[name] = {
                "samples": samples, "mean": round(sum(counts) / len(counts), 2),
                "min": min(counts), "max": max(counts),
            }
    finally:
        await store.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.roundtrips", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["ladybug", "neo4j"], required=True)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--neo4j-uri")
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--output", type=Path, help="write JSON here (default: standard output)")
    args = p.parse_args(argv)
    targets = json.loads(args.manifest.read_text())["targets"]
    results = asyncio.run(measure(args.backend, args.data_dir, args.neo4j_uri, targets, args.samples))
    text = json.dumps(results, indent=1)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
