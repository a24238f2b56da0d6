"""Generate the benchmark tree and load it into a backend, fast, through the store contract.

    python -m bench.generate --backend ladybug --data-dir bench/.work/ladybug --manifest M.json
    python -m bench.generate --backend neo4j --neo4j-uri bolt://127.0.0.1:7687 --manifest M.json

1. Builds the seeded tree (bench/tree.py) in memory.
2. Loads it with `store.create_contexts` in batches (parents first), each batch one
   atomic write, as the create resolver would hand it over (records + version 1).
3. Gives the history scenario's contexts real histories: `--history-versions` (20)
   updates each through the domain layer (`resolvers.contexts.update`), i.e. the
   same code path as the `updateContext` mutation, so each is a real new version.
4. Writes a manifest (tree shape, scenario targets, timings) for the load driver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from contextql.graph.errors import ContextQLError
from contextql.resolvers import contexts as ops

from .stores import open_bench_store, request_context, settings_for
from .tree import WORKSPACE, build_tree, records, targets

console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console,
    )


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    tree = build_tree(args.contexts, args.depth, args.fanout, args.seed)
    chosen = targets(tree, history_contexts=args.history_contexts)
    shape_seconds = time.perf_counter() - started
    console.print(
        f"tree: {len(tree.nodes):,} contexts, levels {tree.level_sizes}, {len(tree.wide)} wide parents "
        f"({shape_seconds:.1f}s)"
    )

    # A long transaction timeout: a batch of a few thousand contexts is one transaction.
    settings = settings_for(args.backend, data_dir=args.data_dir, neo4j_uri=args.neo4j_uri, neo4j_timeout=600.0)
    store = await open_bench_store(settings)
    timings: dict[str, float] = {"shape_s": round(shape_seconds, 3)}
    try:
        existing = await store.count_contexts(WORKSPACE, None)
        if existing:
            if not args.reset:
                raise SystemExit(
                    f"workspace {WORKSPACE!r} already has {existing:,} contexts: pass --reset to delete them first"
                )
            t0 = time.perf_counter()
            removed = (await store.delete_workspace(WORKSPACE))["contexts"]
            timings["reset_s"] = round(time.perf_counter() - t0, 3)
            console.print(f"reset: removed {removed:,} contexts in {timings['reset_s']:.1f}s")

        queries_before = store.queries
        t0 = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("load contexts", total=len(tree.nodes), rate="")
            for start in range(0, len(tree.nodes), args.batch):
                contexts, versions = records(tree, WORKSPACE, start, start + args.batch)
                await store.create_contexts(contexts, versions)
                done = start + len(contexts)
                elapsed = time.perf_counter() - t0
                progress.update(task, completed=done, rate=f"{done / elapsed:,.0f}/s")
        timings["load_s"] = round(time.perf_counter() - t0, 3)
        timings["load_contexts_per_s"] = round(len(tree.nodes) / timings["load_s"], 1)
        timings["load_statements"] = store.queries - queries_before

        history = chosen["history_page"]
        t0 = time.perf_counter()
        updates = 0
        with _progress() as progress:
            task = progress.add_task("history updates", total=len(history) * args.history_versions, rate="")
            for path in history:
                ctx = request_context(store, settings)
                record = await ops.target(ctx, path=path)
                for number in range(1, args.history_versions + 1):
                    changes = ops.ContextChanges(
                        merge_data={"revision": number, "settings": {"retries": number % 7}},
                        content=f"{record.content.split(' rev ')[0]} rev {number}" if number % 2 == 0 else None,
                        title=f"{record.title.split(' #')[0]} #{number}" if number % 5 == 0 else None,
                    )
                    record = await ops.update(ctx, ops.Ref(id=record.id), changes, record.version)
                    updates += 1
                    elapsed = time.perf_counter() - t0
                    progress.update(task, completed=updates, rate=f"{updates / elapsed:,.0f}/s")
        timings["history_s"] = round(time.perf_counter() - t0, 3)
        timings["history_updates"] = updates
        timings["history_updates_per_s"] = round(updates / timings["history_s"], 1) if updates else 0.0

        t0 = time.perf_counter()
        stored = await store.count_contexts(WORKSPACE, None)
        timings["count_s"] = round(time.perf_counter() - t0, 3)
        if stored != len(tree.nodes):
            raise SystemExit(f"loaded {stored:,} contexts, expected {len(tree.nodes):,}")
        if history:
            versions = await store.count_versions(WORKSPACE, (await store.get_by_paths(WORKSPACE, history[:1]))[history[0]].id)
            if versions != args.history_versions + 1:
                raise SystemExit(f"{history[0]} has {versions} versions, expected {args.history_versions + 1}")
    finally:
        await store.close()
    timings["total_s"] = round(time.perf_counter() - started, 3)

    manifest = {
        "backend": args.backend,
        "workspace": WORKSPACE,
        "tree": {
            "contexts": len(tree.nodes), "depth": args.depth, "fanout": args.fanout, "seed": args.seed,
            "level_sizes": tree.level_sizes, "wide_parents": len(tree.wide),
            "internal_nodes": sum(1 for n in tree.nodes if n.children),
            "mean_fanout": round(sum(n.children for n in tree.nodes) / max(1, sum(1 for n in tree.nodes if n.children)), 2),
            "batch": args.batch, "history_contexts": len(history), "history_versions": args.history_versions + 1,
        },
        "timings": timings,
        "targets": chosen,
    }
    _print_summary(manifest)
    return manifest


def _print_summary(manifest: dict[str, Any]) -> None:
    t = manifest["timings"]
    table = Table(title=f"generate ({manifest['backend']})", show_header=False)
    table.add_row("contexts", f"{manifest['tree']['contexts']:,}")
    table.add_row("load", f"{t['load_s']:.1f}s ({t['load_contexts_per_s']:,.0f} contexts/s, {t['load_statements']} statements)")
    table.add_row("history", f"{t['history_updates']} updates in {t['history_s']:.1f}s ({t['history_updates_per_s']:,.0f}/s)")
    table.add_row("total", f"{t['total_s']:.1f}s")
    console.print(table)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["ladybug", "neo4j"], required=True)
    p.add_argument("--data-dir", type=Path, help="ladybug: the store folder (as `contextql --data-dir`)")
    p.add_argument("--neo4j-uri", help="neo4j: bolt:// URI of the server")
    p.add_argument("--contexts", type=int, default=50_000)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--fanout", type=int, default=10)
    p.add_argument("--seed", type=int, default=20250101)
    p.add_argument("--batch", type=int, default=2_000, help="contexts per create_contexts call")
    p.add_argument("--history-contexts", type=int, default=50)
    p.add_argument("--history-versions", type=int, default=20, help="updates per history context")
    p.add_argument("--reset", action="store_true", help="delete the workspace's contexts first")
    p.add_argument("--manifest", type=Path, required=True, help="where to write the manifest JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        manifest = asyncio.run(generate(args))
    except ContextQLError as error:
        console.print(f"[red]error:[/red] {error.message}")
        return 2
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    args.manifest.write_text(json.dumps(manifest, indent=1))
    console.print(f"manifest: {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
