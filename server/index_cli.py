"""`contextql reindex` and `contextql verify`: rebuild the search index from the graph, or measure drift."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .settings import Settings

if TYPE_CHECKING:
    from contextql.graph.index import VectorIndex

err = Console(stderr=True)
out = Console()


def add_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    reindex = commands.add_parser("reindex", help="rebuild the search index of a workspace from the graph",
                                  parents=parents)
    reindex.add_argument("--workspace", default=None, help="workspace to reindex (default: the configured one)")
    reindex.add_argument("--recreate", action="store_true",
                         help="drop and recreate the collections first (after changing the embedding model)")
    reindex.add_argument("--no-history", action="store_true", help="skip past versions (includeHistory search)")
    verify = commands.add_parser("verify", help="report drift between the graph and the search index (exit 1 if any)",
                                 parents=parents)
    verify.add_argument("--workspace", default=None, help="workspace to check (default: the configured one)")


async def _open_index(settings: Settings, *, recreate: bool = False) -> VectorIndex:
    from .search import open_index
    from .stores import EXIT_UNAVAILABLE, StoreOpenError

    from contextql.graph.index.engine import IndexInUseError
    from contextql.graph.index.qdrant import IndexUnavailableError

    try:
        return await open_index(settings, recreate=recreate)
    except IndexUnavailableError as exc:
        # The embedded index admits one process at a time.
        if not isinstance(exc.__cause__, IndexInUseError):
            raise
        raise StoreOpenError(str(exc), EXIT_UNAVAILABLE) from exc


async def reindex(settings: Settings, workspace: str, recreate: bool, history: bool) -> int:
    from contextql.graph.index import reindex as rebuild

    from .stores import open_store

    store = await open_store(settings)
    try:
        index = await _open_index(settings, recreate=recreate)
    except BaseException:
        await store.close()
        raise
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as progress:
            task = progress.add_task(f"reindex {workspace}", total=None)
            count = await rebuild(
                store, index, workspace, history=history,
                total=lambda n: progress.update(task, total=n), advance=lambda n: progress.advance(task, n),
            )
    finally:
        await index.close()
        await store.close()
    err.print(f"reindexed {count} context(s) of workspace {workspace!r}")
    return 0


async def verify(settings: Settings, workspace: str) -> int:
    from contextql.graph.index import verify as check

    from .stores import open_store

    store = await open_store(settings)
    try:
        index = await _open_index(settings)
    except BaseException:
        await store.close()
        raise
    try:
        drift = await check(store, index, workspace)
    finally:
        await index.close()
        await store.close()
    out.print(f"workspace {workspace!r}: {len(drift.missing)} missing, {len(drift.orphaned)} orphaned, "
              f"{len(drift.stale)} stale; {drift.pending} outbox task(s) pending")
    for label, ids in (("missing", drift.missing), ("orphaned", drift.orphaned), ("stale", drift.stale)):
        for context_id in ids[:20]:
            out.print(f"  {label} {context_id}")
    if drift.total:
        err.print("[red]drift found:[/red] run `contextql reindex` (or start the server to drain the outbox)")
        return 1
    return 0
