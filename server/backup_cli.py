"""`contextql export` and `contextql import`: backups of a workspace as JSON Lines (graph/transfer.py).

Export reads the store directly; when a running server holds the embedded store (one process
at a time), or `--server` is given, it downloads the same lines from that server's
`/admin/export` (server/backup.py) with an admin API key. The file is written under a
temporary name and renamed when complete, so an interrupted export never leaves a file that
looks like a backup. Import streams the file in bounded transactions; `--resume` finishes an
import that was interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from contextql.graph.restore import KINDS

from .settings import Settings
from .stores import EXIT_CONFIG, EXIT_UNAVAILABLE, StoreOpenError, describe

err = Console(stderr=True)
API_KEY_VARIABLE = "CONTEXTQL_API_KEY"  # a client setting (the key to send), not a server one
Fail = Callable[[str], None]


def add_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write a backup of a workspace as JSON Lines", parents=parents)
    export.add_argument("--workspace", default=None, help="workspace to export (default: the configured one)")
    export.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    export.add_argument("--server", default=None,
                        help="export through this running server (URL); by default only when a running server "
                             "holds the embedded store, at the configured host and port")
    export.add_argument("--api-key", default=None,
                        help=f"admin API key for --server (env {API_KEY_VARIABLE}; not needed without authentication)")

    load = commands.add_parser("import", help="restore a backup into an empty workspace", parents=parents)
    load.add_argument("input", help="backup file ('-' for standard input)")
    load.add_argument("--workspace", default=None, help="target workspace (default: the exported one)")
    load.add_argument("--resume", action="store_true",
                      help="finish an interrupted import: skip what an earlier run of it already stored")


async def export(settings: Settings, args: argparse.Namespace, fail: Fail) -> int:
    from .stores import open_store

    workspace = args.workspace or settings.workspace
    key = args.api_key or os.environ.get(API_KEY_VARIABLE)
    if args.server:
        return await _export_online(args.server, key, workspace, args.output, fail, None)
    try:
        store = await open_store(settings)
    except StoreOpenError as error:
        if not error.in_use:
            raise
        from .local_admin import endpoint, find_server

        # The server of this data directory says where it listens and lends its local admin token
        # (server/local_admin.py), so no API key is needed; else try the configured port.
        running = find_server(settings.data_dir)
        url = (running.url if running else endpoint(settings.host, settings.port)).removesuffix("/graphql")
        key = key or (running.token if running else None)
        err.print(f"a running server holds {settings.data_dir.resolve()}: exporting through it at {url}",
                  markup=False, highlight=False, soft_wrap=True)
        return await _export_online(url, key, workspace, args.output, fail, describe(settings))
    from contextql.graph.transfer import export_workspace

    try:
        async with contextlib.aclosing(export_workspace(store, workspace)) as lines:
            return await _write(lines, workspace, args.output, fail)
    finally:
        await store.close()


async def _export_online(
    url: str, key: str | None, workspace: str, output: str, fail: Fail, expected_store: str | None
) -> int:
    """Download the backup from the server at `url`; with `expected_store`, only from a server of that store."""
    import httpx

    from .backup import PATH, STORE_HEADER

    headers = {"authorization": f"Bearer {key}"} if key else {}
    target = url.rstrip("/") + PATH
    try:
        async with (httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None)) as client,
                    client.stream("GET", target, params={"workspace": workspace}, headers=headers) as response):
            if response.status_code != 200:
                await response.aread()
                fail(f"the server at {url} refused the export: {_refusal(response)}")
                return EXIT_CONFIG if response.status_code in (400, 401, 403, 404) else EXIT_UNAVAILABLE
            served = unquote(response.headers.get(STORE_HEADER, ""))
            if expected_store is not None and served != expected_store:
                fail(f"the server at {url} serves {served or 'another store'}, not {expected_store}: pass the "
                     "URL of the server holding it with --server (or set CONTEXTQL_PORT)")
                return EXIT_UNAVAILABLE

            async def lines() -> AsyncIterator[dict[str, Any]]:
                async for raw in response.aiter_lines():
                    if raw.strip():
                        yield json.loads(raw)

            return await _write(lines(), workspace, output, fail)
    except (httpx.TransportError, json.JSONDecodeError) as error:
        fail(f"the export from {url} failed ({type(error).__name__}: {error or 'no detail'}); nothing was written")
        return EXIT_UNAVAILABLE


def _refusal(response: Any) -> str:
    try:
        return str(response.json()["errors"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


async def _write(lines: AsyncIterator[dict[str, Any]], workspace: str, output: str, fail: Fail) -> int:
    from .backup import encode

    complete = False
    try:
        with _output(output) as out, _progress() as progress:
            task: TaskID | None = None
            async for line in lines:
                kind = line.get("type")
                if kind == "header":
                    task = progress.add_task(f"export {workspace}", total=sum(line.get("counts", {}).values()) or None)
                elif kind == "end":
                    complete = True
                elif task is not None and kind in _COUNTED:
                    progress.advance(task)
                out.write(encode(line))
            if not complete:
                raise _Incomplete
    except _Incomplete:
        where = "the output above is incomplete" if output == "-" else f"nothing was written to {output}"
        fail(f"the export stopped before its end (the server closed the stream): {where}; export again")
        return EXIT_UNAVAILABLE
    return 0


# The line types the header estimates, which the export's progress bar counts.
_COUNTED = {"contextType", "context", "tool", "execution", "apiKey", "audit"}


class _Incomplete(Exception):
    """The lines stopped before the `end` line."""


@contextlib.contextmanager
def _output(output: str) -> Iterator[TextIO]:
    """Standard output (left open), or a temporary file renamed to `output` only when complete."""
    if output == "-":
        yield sys.stdout
        return
    final = Path(output)
    partial = final.with_name(final.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as out:
            yield out
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


async def import_(settings: Settings, args: argparse.Namespace, fail: Fail) -> int:
    from contextql.graph.errors import ContextQLError
    from contextql.graph.transfer import import_workspace

    from .stores import open_store

    total = _total(args.input, fail)
    if total is None:
        return EXIT_CONFIG
    store = await open_store(settings)
    try:
        with _progress() as progress:
            task = progress.add_task("import", total=total or None)
            result = await import_workspace(store, _read(args.input), args.workspace,
                                            lambda n: progress.advance(task, n), resume=args.resume)
    except ContextQLError as error:
        fail(error.message)
        return EXIT_CONFIG
    finally:
        await store.close()
    written = _counts(result.counts.written) or "nothing"
    skipped = _counts(result.counts.skipped)
    err.print(f"imported {written}" + (f"; skipped, already there: {skipped}" if skipped else ""),
              markup=False, highlight=False, soft_wrap=True)
    return 0


_WORDS = {"contextTypes": "context types", "toolVersions": "tool versions", "apiKeys": "API keys",
          "auditEntries": "audit entries", "lineage": "lineage records"}


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[kind]} {_WORDS.get(kind, kind)}" for kind in KINDS if counts.get(kind))


def _total(source: str, fail: Fail) -> int | None:
    """Records in a backup file, from its `end` line (0 when unknown: standard input, version 1);
    None, after saying why, when the file is cut short: refused before anything is written."""
    if source == "-":
        return 0
    with open(source, "rb") as handle:
        first = handle.readline()
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 65536))
        tail = handle.read().splitlines()
    try:
        header, last = json.loads(first), json.loads(tail[-1]) if tail else {}
    except ValueError:
        fail(f"{source} is not a ContextQL backup (its first or last line is not JSON)")
        return None
    if not isinstance(header, dict) or header.get("formatVersion", 1) < 2:
        return 0
    if not isinstance(last, dict) or last.get("type") != "end":
        fail(f"{source} is incomplete: it has no end line (the export was cut short); nothing was imported. "
             "Export the workspace again.")
        return None
    return sum(int(n) for n in last.get("counts", {}).values())


def _read(source: str) -> Iterator[dict[str, Any]]:
    from contextql.graph.errors import BadUserInputError

    with (contextlib.nullcontext(sys.stdin) if source == "-" else open(source, encoding="utf-8")) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError as error:
                raise BadUserInputError(f"Line {number} of {source} is not JSON ({error}).") from None


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err)
