"""Do reads of a node without a lock ever see part of a commit? (They do: graph/neo4j/optimistic.py.)

    python -m bench.torn_reads --uri bolt://127.0.0.1:7687 [--seconds 30] [--readers 6]

One writer commits states of one node in which every property carries the same number (a `version`,
`updated_at`, a JSON `data`, a title and 12 more); readers read `properties(n)` without a lock, in
a loop, and count the reads whose properties do not all carry one number. The node is labelled
`TornReadProbe` and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import neo4j

OTHERS = [f"p{i:02}" for i in range(12)]


def state(n: int) -> dict[str, Any]:
    return {"version": n, "updated_at": n * 10, "title": f"t{n}", "data": json.dumps({"n": n, "pad": "y" * (n % 50)}),
            **{name: f"x{n}" for name in OTHERS}}


def whole(props: dict[str, Any]) -> bool:
    return props == state(props["version"])


def numbers(props: dict[str, Any]) -> dict[str, int]:
    """The state each property came from."""
    found = {"version": props["version"], "updated_at": props["updated_at"] // 10, "title": int(props["title"][1:]),
             "data": json.loads(props["data"])["n"]}
    return {**found, **{name: int(props[name][1:]) for name in OTHERS}}


async def write(driver: neo4j.AsyncDriver, stop: asyncio.Event) -> int:
    n = 0
    async with driver.session() as session:
        while not stop.is_set():
            n += 1
            await (await session.run("MATCH (p:TornReadProbe) SET p += $props", props=state(n))).consume()
    return n


async def read(driver: neo4j.AsyncDriver, stop: asyncio.Event, torn: list[dict[str, Any]]) -> int:
    reads = 0
    async with driver.session() as session:
        while not stop.is_set():
            props = (await (await session.run("MATCH (p:TornReadProbe) RETURN properties(p)")).single(strict=True))[0]
            reads += 1
            if not whole(props):
                torn.append(props)
    return reads


async def probe(uri: str, seconds: float, readers: int) -> None:
    driver = neo4j.AsyncGraphDatabase.driver(uri, auth=None)
    try:
        await driver.execute_query("MATCH (p:TornReadProbe) DELETE p")
        await driver.execute_query("CREATE (p:TornReadProbe) SET p = $props", props=state(0))
        stop: asyncio.Event = asyncio.Event()
        torn: list[dict[str, Any]] = []
        tasks = [asyncio.create_task(write(driver, stop))]
        tasks += [asyncio.create_task(read(driver, stop, torn)) for _ in range(readers)]
        await asyncio.sleep(seconds)
        stop.set()
        writes, *reads = await asyncio.gather(*tasks)
        print(f"{writes} commits, {sum(reads)} reads, {len(torn)} torn")
        for props in torn[:5]:
            behind = {name: n for name, n in numbers(props).items() if n != props["version"]}
            print(f"  version {props['version']} with {behind}")
        await driver.execute_query("MATCH (p:TornReadProbe) DELETE p")
    finally:
        await driver.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.torn_reads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--readers", type=int, default=6)
    args = parser.parse_args(argv)
    asyncio.run(probe(args.uri, args.seconds, args.readers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
