"""`contextql` command line: serve, migrate, export, import."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from . import index_cli
from .auth import cli as auth_cli
from .settings import Settings

err = Console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contextql", description="GraphQL server over a versioned graph of contexts.")
    parser.add_argument("--data-dir", type=Path, help="embedded store folder (default .contextql, env CONTEXTQL_DATA_DIR)")
    parser.add_argument("--neo4j-uri", help="use Neo4j at this URI instead of the embedded store (env CONTEXTQL_NEO4J_URI)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (Neo4j deployment only; default 1)")

    commands.add_parser("migrate", help="apply pending graph schema migrations and exit")

    export = commands.add_parser("export", help="write a workspace as JSON Lines")
    export.add_argument("--workspace", default=None, help="workspace to export (default: the configured one)")
    export.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")

    load = commands.add_parser("import", help="load a JSON Lines export into an empty workspace")
    load.add_argument("input", help="export file ('-' for standard input)")
    load.add_argument("--workspace", default=None, help="target workspace (default: the exported one)")
    load.add_argument("--resume", action="store_true",
                      help="skip records an earlier (interrupted) run of this import already stored")

    index_cli.add_commands(commands)
    auth_cli.add_commands(commands)

    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"data_dir": args.data_dir, "neo4j_uri": args.neo4j_uri}.items() if v is not None}
    if args.command == "serve":
        overrides |= {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        return _bad_settings(error)

    try:
        if args.command == "serve":
            return _serve(settings, args.reload, args.workers)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "reindex":
            return asyncio.run(index_cli.reindex(settings, args.workspace or settings.workspace, args.recreate,
                                                 not args.no_history))
        if args.command == "verify":
            return asyncio.run(index_cli.verify(settings, args.workspace or settings.workspace))
        if args.command == "api-key":
            return asyncio.run(auth_cli.run(settings, args))
        if args.command == "export":
            return asyncio.run(_export(settings, args.workspace or settings.workspace, args.output))
        return asyncio.run(_import(settings, args.input, args.workspace, args.resume))
    except KeyboardInterrupt:
        return 130


def _bad_settings(error: ValidationError) -> int:
    """A clear line per mistake at start-up, not a traceback."""
    for problem in error.errors():
        where = f"CONTEXTQL_{'_'.join(map(str, problem['loc'])).upper()}: " if problem["loc"] else ""
        err.print(f"configuration error: {where}{problem['msg'].removeprefix('Value error, ')}", markup=False, highlight=False,
                  soft_wrap=True)
    return 2


def _serve(settings: Settings, reload: bool, workers: int = 1) -> int:
    from .app import create_app
    from .serving import serve, serve_workers

    if workers < 1:
        err.print("error: --workers must be at least 1")
        return 2
    if workers > 1 and settings.graph != "neo4j":
        err.print("error: --workers needs the Neo4j deployment (CONTEXTQL_NEO4J_URI): the embedded store "
                  "admits one process. Use one worker, or point the server at Neo4j.")
        return 2
    if workers > 1 and settings.search and not settings.qdrant_url:
        err.print("error: --workers needs a Qdrant server for search (CONTEXTQL_QDRANT_URL): the local index "
                  "admits one process. Set it, or turn search off with CONTEXTQL_SEARCH=false.")
        return 2
    where = f"http://{settings.host}:{settings.port}/graphql"
    if workers > 1:
        if not settings.redis_url:
            err.print("warning: without CONTEXTQL_REDIS_URL each worker has its own subscribers and rate limits")
        err.print(f"ContextQL on {where} (graph: {settings.graph}, {workers} workers)")
        serve_workers(settings, workers)
        return 0
    err.print(f"ContextQL on {where} (graph: {settings.graph})")
    serve(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


async def _migrate(settings: Settings) -> int:
    from migrations import migrate

    from .stores import open_store

    store = await open_store(settings, apply_migrations=False)
    try:
        applied = await migrate(store)
    finally:
        await store.close()
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


async def _export(settings: Settings, workspace: str, output: str) -> int:
    from graph.transfer import export_workspace

    from .stores import open_store

    store = await open_store(settings)
    try:
        with _output(output) as out, _progress() as progress:
            task: TaskID | None = None
            async for line in export_workspace(store, workspace):
                if line["type"] == "header":
                    task = progress.add_task(f"export {workspace}", total=line["contexts"])
                elif line["type"] == "context" and task is not None:
                    progress.advance(task)
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        await store.close()
    return 0


@contextlib.contextmanager
def _output(output: str) -> Iterator[TextIO]:
    """The export's destination: standard output (left open) or a file closed at the end."""
    if output == "-":
        yield sys.stdout
        return
    with open(output, "w", encoding="utf-8") as out:
        yield out


def _read_lines(source: str) -> list[str]:
    if source == "-":
        return [line for line in sys.stdin if line.strip()]
    with open(source, encoding="utf-8") as handle:
        return [line for line in handle if line.strip()]


async def _import(settings: Settings, source: str, workspace: str | None, resume: bool = False) -> int:
    from graph.errors import ContextQLError
    from graph.transfer import import_workspace

    from .stores import open_store

    raw = await asyncio.to_thread(_read_lines, source)
    store = await open_store(settings)
    try:
        lines = [json.loads(line) for line in raw]
        total = sum(1 for line in lines if line.get("type") == "context")
        with _progress() as progress:
            task = progress.add_task("import", total=total)
            result = await import_workspace(
                store, lines, workspace, lambda n: progress.advance(task, n), resume=resume
            )
    except json.JSONDecodeError as error:
        err.print(f"[red]error:[/red] {source} is not JSON Lines ({error})")
        return 2
    except ContextQLError as error:
        err.print(f"[red]error:[/red] {error.message}")
        return 2
    finally:
        await store.close()
    skipped = f", skipped {result.skipped} already present" if result.skipped else ""
    err.print(f"imported {result.imported} context(s){skipped}")
    return 0


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err)


if __name__ == "__main__":
    raise SystemExit(main())
