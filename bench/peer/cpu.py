"""CPU per request of the peer scenarios, A/B inside one process: comparable on a busy machine.

    python -m bench.peer.cpu --neo4j-uri bolt://127.0.0.1:7697 \
        --manifest bench/.work/peer-n5000-s20250101/manifest.json [--requests 200] [--blocks 6]
    python -m bench.peer.cpu --ladybug bench/.work/peer-n5000-s20250101/ladybug \
        --manifest bench/.work/peer-n5000-s20250101/manifest.json --variants lean

Requests and timing of the HTTP server (`bench.peer.run`) depend on how many cores the machine
lends it; this tool measures what a change does to the server's own work. The app of
`contextql serve` (middleware, Strawberry's HTTP view, the schema, the store over a real Neo4j)
is called as an ASGI application directly, without uvicorn or a client, one request at a time;
`time.process_time()` around each block of requests counts this process's CPU, which is the
server's (the Neo4j driver included; the JVM is another process). With `--ladybug DIR` the store is the
embedded LadybugDB in DIR (a data directory: `graph.lbug` inside), so the database's own work is counted
too; `update_title` writes into it, so point it at a copy, never at a run's original. Variants alternate block by
block, so both see the same machine; the median block is reported.

Variants: `lean` (the schema as built), `transaction` (as built, revisions without the optimistic
attempt), `plain` (`build_schema(lean=False)`: graphql-core's
own executor for every field; schema/execution.py) and `whole` (as built, but the look-ahead asks
for whole records: no projection push-down, schema/lookahead.py). To compare two commits, run one process per
commit with `--variants lean` (another checkout first on PYTHONPATH as `contextql`), alternately,
and compare the medians of their `--json` files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from contextql.schema import root
from contextql.server import app as app_module
from contextql.server.app import create_app

from bench.stores import open_bench_store, settings_for
from bench.tree import build_tree

from .scenarios import SCENARIOS, Request, check, extra_targets

ASGIApp = Any


@contextlib.contextmanager
def _switched(variant: str) -> Any:
    """`whole`: the look-ahead reports every attribute as read (the reads before projection);
    `transaction`: revisions always in a managed transaction (no optimistic attempt, graph/neo4j/optimistic.py);
    `read-timeout`, `write-timeout`: socket reads with the read timeout Neo4j hints (120 s), flushes with the
    driver's write timeout (30 s), as the driver does without graph/neo4j/store.py `_without_driver_socket_timeouts`."""
    if variant in ("read-timeout", "write-timeout"):
        from neo4j._async_compat.network._bolt_socket import AsyncBoltSocketBase

        way, timeout = ("read", 120) if variant == "read-timeout" else ("write", 30)
        method = f"_wait_for_{way}"
        original = getattr(AsyncBoltSocketBase, method)

        def timed(self: Any, io: Any, *args: Any, **kwargs: Any) -> Any:
            return self._wait_for_io(way, getattr(self, f"_{way}_timeout") or timeout,
                                     getattr(self, f"_{way}_deadline"), io, *args, **kwargs)

        setattr(AsyncBoltSocketBase, method, timed)
        try:
            yield
        finally:
            setattr(AsyncBoltSocketBase, method, original)
        return
    if variant == "transaction":
        from contextql.graph.store import GraphStore

        with contextlib.ExitStack() as undo:
            for store_class in GraphStore.__subclasses__():
                if "write_revision" in vars(store_class):
                    undo.callback(setattr, store_class, "write_revision", store_class.write_revision)
                    store_class.write_revision = GraphStore.write_revision  # type: ignore[method-assign]
            yield
        return
    if variant != "whole":
        yield
        return
    from contextql.schema import lookahead, query

    with contextlib.ExitStack() as undo:
        for module, name, value in ((lookahead, "context_fields", lambda field: None),
                                    (lookahead, "connection_fields", lambda field: None),
                                    (query, "remembered", lambda info, planner: planner(info))):
            original = getattr(module, name)
            setattr(module, name, value)
            undo.callback(setattr, module, name, original)
        yield


def _app(store: Any, settings: Any, lean: bool) -> ASGIApp:
    if lean:  # as built (also for checkouts whose build_schema has no `lean`)
        return create_app(settings, store=store)
    original = app_module.build_schema
    app_module.build_schema = functools.partial(root.build_schema, lean=lean)  # type: ignore[assignment]
    try:
        return create_app(settings, store=store)
    finally:
        app_module.build_schema = original  # type: ignore[assignment]


async def _post(app: ASGIApp, request: Request) -> dict[str, Any]:
    body = json.dumps({"query": request.query, "variables": request.variables}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"accept", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return json.loads(b"".join(chunks))


async def _block(app: ASGIApp, name: str, targets: dict[str, Any], rng: random.Random, n: int) -> float:
    scenario = SCENARIOS[name]
    picks = [scenario.pick(rng, targets) for _ in range(n)]
    started = time.process_time()
    for target in picks:
        answer = await _post(app, scenario.contextql(target))
        problem = check(scenario, "contextql", answer, target)
        if problem:
            raise SystemExit(f"{name}: {problem}")
    return (time.process_time() - started) * 1000 / n


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    manifest = json.loads(Path(args.manifest).read_text())
    tree = manifest["tree"]
    targets = manifest["targets"] | extra_targets(build_tree(tree["contexts"], tree["depth"], tree["fanout"], tree["seed"]))
    gc.freeze()  # as the served app does at start: the 50k-tree targets would make full collections land in random blocks
    common: dict[str, Any] = {"log_level": "warning", "rate_limit_operations": 0, "rate_limit_cost": 0,
                              "search": False}
    if args.ladybug is not None:
        settings = settings_for("ladybug", data_dir=args.ladybug, **common)
    else:
        settings = settings_for("neo4j", neo4j_uri=args.neo4j_uri, **common)
    store = await open_bench_store(settings)
    variants = {name: _app(store, settings, lean=name != "plain") for name in args.variants.split(",")}
    results: dict[str, Any] = {}
    try:
        async with contextlib.AsyncExitStack() as stack:
            for app in variants.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            for name in args.scenarios.split(","):
                samples: dict[str, list[float]] = {v: [] for v in variants}
                for variant, app in variants.items():  # warm-up: caches, JIT-free but imports and pools
                    with _switched(variant):
                        await _block(app, name, targets, random.Random(f"warm:{variant}"), max(20, args.requests // 5))
                for block in range(args.blocks):
                    order = list(variants.items()) if block % 2 == 0 else list(reversed(variants.items()))
                    for variant, app in order:
                        rng = random.Random(f"{name}:{block}")  # the same targets for every variant
                        with _switched(variant):
                            samples[variant].append(await _block(app, name, targets, rng, args.requests))
                medians = {v: statistics.median(s) for v, s in samples.items()}
                results[name] = {"ms_per_request": medians, "blocks": samples}
                line = "  ".join(f"{v} {m:.3f} ms/req (blocks {min(samples[v]):.2f}-{max(samples[v]):.2f})"
                                 for v, m in medians.items())
                if len(medians) == 2:
                    a, b = medians.values()
                    line += f"  ratio {a / b:.2f}"
                print(f"{name:15s} {line}", flush=True)
    finally:
        await store.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peer.cpu", description=__doc__.split("\n\n")[0])
    backend = p.add_mutually_exclusive_group(required=True)
    backend.add_argument("--neo4j-uri")
    backend.add_argument("--ladybug", type=Path, metavar="DIR",
                         help="an embedded LadybugDB data directory (a COPY: update_title writes into it)")
    p.add_argument("--manifest", required=True, help="manifest.json written by the peer run's generate step")
    p.add_argument("--scenarios", default="context_by_path,children_page,nested,filtered_list,update_title")
    p.add_argument("--variants", default="lean,plain")
    p.add_argument("--requests", type=int, default=200, help="requests per block")
    p.add_argument("--blocks", type=int, default=6, help="blocks per variant (alternating)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    results = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
