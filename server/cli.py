"""`contextql` command line: serve, migrate, export, import."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import logging
import logging.config
import os
import socket
import traceback
from pathlib import Path

from dotenv import dotenv_values
from pydantic import ValidationError
from rich.console import Console

from . import backup_cli, index_cli
from .auth import cli as auth_cli
from .settings import Settings
from .stores import EXIT_CONFIG, EXIT_UNAVAILABLE, StoreOpenError, contextql_version, describe

err = Console(stderr=True)
EXIT_INTERNAL = 70  # a failure nobody foresaw (sysexits EX_SOFTWARE): not 1, which `verify` gives to drift
EXIT_NOT_CHECKED = 2  # `verify` could not check, for any reason (the message says which)


def _shared_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Options every command takes, before or after its name.

    The copy given to each command defaults to SUPPRESS: argparse would otherwise let a
    command's default overwrite a value given before the command's name.
    """
    default = argparse.SUPPRESS if suppress else None
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--data-dir", type=Path, default=default,
                        help="embedded store folder (default .contextql, env CONTEXTQL_DATA_DIR)")
    shared.add_argument("--neo4j-uri", default=default,
                        help="use Neo4j at this URI instead of the embedded store (env CONTEXTQL_NEO4J_URI)")
    shared.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show the full traceback of a failure")
    return shared


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contextql", description="GraphQL server over a versioned graph of contexts.",
                                     parents=[_shared_options(suppress=False)])
    parser.add_argument("--version", action="version", version=f"contextql {contextql_version()}")
    shared = [_shared_options(suppress=True)]
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP/WebSocket server", parents=shared)
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (Neo4j deployment only; default 1)")

    commands.add_parser("migrate", help="apply pending graph schema migrations and exit", parents=shared)

    backup_cli.add_commands(commands, shared)
    index_cli.add_commands(commands, shared)
    auth_cli.add_commands(commands, shared)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code = _main(args)
    if args.command == "verify" and code not in (0, 1, 130):
        return EXIT_NOT_CHECKED  # whatever stopped it, as `diff` and `cmp` do: 1 is kept for drift
    return code


def _main(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except StoreOpenError as error:
        if args.debug:
            traceback.print_exc()
        _fail(str(error))
        return error.exit_code
    except OSError as error:
        if error.filename is None:
            raise  # not a file the person named: the last resort below
        if args.debug:
            traceback.print_exc()
        _fail(f"cannot use {error.filename} ({error.strerror})")
        return EXIT_CONFIG
    except Exception as error:  # the last resort: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
            return EXIT_INTERNAL
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _fail(f"unexpected {type(error).__name__}{': ' + first if first else ''} "
              "(run again with --debug for the traceback)")
        return EXIT_INTERNAL


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def _run(args: argparse.Namespace) -> int:
    if (code := _check_environment()) is not None:
        return code
    overrides = {k: v for k, v in {"data_dir": args.data_dir, "neo4j_uri": args.neo4j_uri}.items() if v is not None}
    if args.command == "serve":
        overrides |= {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        return _bad_settings(error)

    if args.command == "serve":
        return _serve(settings, args.reload, args.workers)
    if args.command in _READS_EXISTING and (code := _require_existing_store(settings)) is not None:
        return code
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "reindex":
        return asyncio.run(index_cli.reindex(settings, args.workspace or settings.workspace, args.recreate,
                                             not args.no_history))
    if args.command == "verify":
        return asyncio.run(index_cli.verify(settings, args.workspace or settings.workspace, not args.no_history))
    if args.command == "api-key":
        return asyncio.run(auth_cli.run(settings, args))
    if args.command == "export":
        return asyncio.run(backup_cli.export(settings, args, _fail))
    return asyncio.run(backup_cli.import_(settings, args, _fail))


# Commands that only make sense on a store that exists: run from the wrong folder, they would
# otherwise create an empty store and report on it as if nothing were wrong.
_READS_EXISTING = {"export", "reindex", "verify"}


def _require_existing_store(settings: Settings) -> int | None:
    if settings.graph == "ladybug" and not (settings.data_dir / "graph.lbug").exists():
        _fail(f"there is no ContextQL store in {settings.data_dir.resolve()}: run from the folder the server "
              "was started in, or pass --data-dir (or CONTEXTQL_DATA_DIR)")
        return EXIT_CONFIG
    return None


# Variables of the test suite, not of the server.
_TEST_VARIABLES = ("CONTEXTQL_TEST_", "CONTEXTQL_RACE_SEED", "CONTEXTQL_RECORD_AUDIT")
# Variables of the command-line client, not of the server.
_CLIENT_VARIABLES = (backup_cli.API_KEY_VARIABLE,)


def _check_environment() -> int | None:
    """Warn about unknown CONTEXTQL_* variables (a typo is otherwise silently ignored); refuse
    unknown CONTEXTQL_AUTH_* ones, since ignoring a misspelt secret would start without authentication."""
    known = {name.upper() for name in Settings.model_fields}
    names = set(os.environ)
    if Path(".env").is_file():
        names |= {name for name in dotenv_values(".env") if name}
    refused = False
    for name in sorted(names):
        upper = name.upper()
        setting = upper.removeprefix("CONTEXTQL_")
        if setting == upper or setting in known or upper.startswith(_TEST_VARIABLES) or upper in _CLIENT_VARIABLES:
            continue
        close = difflib.get_close_matches(setting, known, n=1, cutoff=0.7)
        hint = f" (did you mean CONTEXTQL_{close[0]}?)" if close else ""
        if upper.startswith("CONTEXTQL_AUTH_"):
            _fail(f"unknown setting {name}{hint}: fix or unset it; an authentication setting is never ignored")
            refused = True
        else:
            err.print(f"warning: unknown setting {name} is ignored{hint}", markup=False, highlight=False,
                      soft_wrap=True)
    return EXIT_CONFIG if refused else None


def _bad_settings(error: ValidationError) -> int:
    """A clear line per mistake at start-up, not a traceback."""
    for problem in error.errors():
        where = f"CONTEXTQL_{'_'.join(map(str, problem['loc'])).upper()}: " if problem["loc"] else ""
        err.print(f"configuration error: {where}{problem['msg'].removeprefix('Value error, ')}", markup=False, highlight=False,
                  soft_wrap=True)
    return EXIT_CONFIG


def _serve(settings: Settings, reload: bool, workers: int = 1) -> int:
    from .app import create_app
    from .serving import serve, serve_workers

    if workers < 1:
        _fail("--workers must be at least 1")
        return EXIT_CONFIG
    if workers > 1 and settings.graph != "neo4j":
        _fail("--workers needs the Neo4j deployment (CONTEXTQL_NEO4J_URI): the embedded store "
              "admits one process. Use one worker, or point the server at Neo4j.")
        return EXIT_CONFIG
    if workers > 1 and settings.search and not settings.qdrant_url:
        _fail("--workers needs a Qdrant server for search (CONTEXTQL_QDRANT_URL): the local index "
              "admits one process. Set it, or turn search off with CONTEXTQL_SEARCH=false.")
        return EXIT_CONFIG
    # The server opens everything inside uvicorn's lifespan, which reports a failure as a
    # traceback; trying first gives the one-line explanation instead.
    if (code := _port_taken(settings)) is not None:
        return code
    asyncio.run(_try_store(settings))
    if (code := _local_index_taken(settings)) is not None:
        return code
    where = f"http://{settings.host}:{settings.port}/graphql"
    if workers > 1:
        if not settings.redis_url:
            _announce(settings, "without CONTEXTQL_REDIS_URL each worker has its own subscribers and rate limits",
                      warning=True)
        _announce(settings, f"ContextQL {contextql_version()} on {where} ({describe(settings)}, {workers} workers)")
        serve_workers(settings, workers)
        return 0
    _announce(settings, f"ContextQL {contextql_version()} on {where} ({describe(settings)})")
    serve(create_app(settings), settings)
    return 0


def _announce(settings: Settings, message: str, *, warning: bool = False) -> None:
    """A start-up line: a log record when the logs are JSON (so every line of the server's output parses)."""
    from .logs import log_format, logging_config

    if log_format(settings.log_format) == "json":
        logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
        logging.getLogger("contextql.server").log(logging.WARNING if warning else logging.INFO, message)
        return
    err.print(f"warning: {message}" if warning else message, markup=False, highlight=False, soft_wrap=True)


async def _try_store(settings: Settings) -> None:
    from .stores import open_store

    store = await open_store(settings)
    await store.close()


def _port_taken(settings: Settings) -> int | None:
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((settings.host, settings.port))
        except OSError as error:
            _fail(f"cannot listen on {settings.host}:{settings.port} ({error.strerror}): stop the process using it, "
                  "or choose another with --port (or CONTEXTQL_PORT)")
            return EXIT_UNAVAILABLE
    return None


def _local_index_taken(settings: Settings) -> int | None:
    """Local-mode Qdrant admits one process; it locks <data dir>/qdrant/.lock like this (portalocker)."""
    lock_file = settings.data_dir.resolve() / "qdrant" / ".lock"
    if not settings.search or settings.qdrant_url or not lock_file.is_file():
        return None
    import portalocker

    with open(lock_file, "r+") as handle:
        try:
            portalocker.lock(handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException:
            _fail(f"the search index in {lock_file.parent} is in use by another process: stop it, or give this "
                  "server its own --data-dir (or a Qdrant server, CONTEXTQL_QDRANT_URL)")
            return EXIT_UNAVAILABLE
        portalocker.unlock(handle)
    return None


async def _migrate(settings: Settings) -> int:
    from contextql.migrations import migrate

    from .stores import open_store

    store = await open_store(settings, apply_migrations=False)
    try:
        applied = await migrate(store)
    finally:
        await store.close()
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
