"""Choose and open the configured graph store; the rest of the code never knows which it is.

Opening is where an operator's mistakes surface (a data directory another process holds, an
unreachable Neo4j, a store from another ContextQL version), so failures there become a
`StoreOpenError` that says what is wrong and what to do, instead of an engine traceback.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from contextql.graph.store import GraphStore
from contextql.migrations import available, migrate

from .settings import Settings

# Exit codes of the `contextql` command (README "Command line").
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
EXIT_INCOMPATIBLE = 4

_NEO4J_SCHEMES = {f"{scheme}{tls}" for scheme in ("bolt", "neo4j") for tls in ("", "+s", "+ssc")}
_LOCK_PID = re.compile(r"held by PID (\d+)")
_STORAGE_VERSION = re.compile(r"Database file version: (\S+), Current build storage version: (\S+)")


class StoreOpenError(Exception):
    """The store could not be opened for a reason the operator can fix; `str()` is the whole explanation."""

    def __init__(self, message: str, exit_code: int, *, in_use: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.in_use = in_use  # another process (a running server) holds the embedded store


def contextql_version() -> str:
    try:
        return version("contextql")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def public_uri(uri: str) -> str:
    """`uri` without a password, fit to print."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else "")))


def describe(settings: Settings) -> str:
    """Where the data lives, as `serve` announces it: the absolute folder, or the Neo4j URI."""
    if settings.graph == "neo4j":
        return f"Neo4j at {public_uri(settings.neo4j_uri or '')}, database {settings.neo4j_database!r}"
    return f"data directory {settings.data_dir.resolve()}"


def make_store(settings: Settings) -> GraphStore:
    if settings.graph == "neo4j":
        from contextql.graph.neo4j import Neo4jStore

        if not settings.neo4j_uri:
            raise StoreOpenError("CONTEXTQL_GRAPH=neo4j needs CONTEXTQL_NEO4J_URI (e.g. bolt://localhost:7687).",
                                 EXIT_CONFIG)
        if urlsplit(settings.neo4j_uri).scheme not in _NEO4J_SCHEMES:
            raise StoreOpenError(f"CONTEXTQL_NEO4J_URI={public_uri(settings.neo4j_uri)} is not a Bolt URI: use "
                                 "bolt://host:7687 (one server) or neo4j://host:7687 (a cluster)", EXIT_CONFIG)
        return Neo4jStore(
            uri=settings.neo4j_uri, user=settings.neo4j_user, password=settings.neo4j_password,
            database=settings.neo4j_database, timeout=settings.neo4j_timeout,
        )
    from contextql.graph.ladybug import LadybugStore

    folder = settings.data_dir.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreOpenError(f"cannot use {folder} as the data directory ({exc.strerror}): "
                             "choose another with --data-dir or CONTEXTQL_DATA_DIR", EXIT_CONFIG) from exc
    return LadybugStore(
        str(folder / "graph.lbug"), buffer_pool_mb=settings.ladybug_buffer_pool_mb,
        checkpoint_wal_bytes=int(settings.ladybug_checkpoint_wal_mb * (1 << 20)),
        inline_read_ms=settings.ladybug_inline_read_ms,
    )


async def open_store(settings: Settings, *, apply_migrations: bool = True) -> GraphStore:
    store = make_store(settings)
    try:
        await store.open()
    except Exception as exc:
        explained = _explain(settings, exc)
        if explained is None:
            raise
        raise explained from exc
    try:
        await _refuse_newer(settings, store)
        if apply_migrations:
            await migrate(store)
    except BaseException:
        await store.close()
        raise
    return store


async def _refuse_newer(settings: Settings, store: GraphStore) -> None:
    """A store migrated by a newer ContextQL has a schema this one does not know: say so rather than misread it."""
    known = {migration.id for migration in available(store.backend)}
    unknown = sorted(set(await store.applied_migrations()) - known)
    if unknown:
        raise StoreOpenError(
            f"the store in {describe(settings)} was written by a newer ContextQL (migration {', '.join(unknown)} "
            f"is unknown to contextql {contextql_version()}): upgrade ContextQL, or use another store",
            EXIT_INCOMPATIBLE,
        )


def _explain(settings: Settings, exc: Exception) -> StoreOpenError | None:
    """The operator's view of an engine's failure to open, or None for a failure nobody foresaw."""
    if settings.graph == "neo4j":
        return _explain_neo4j(settings, exc)
    folder = settings.data_dir.resolve()
    text = str(exc)
    if "Could not set lock on file" in text:
        pid = _LOCK_PID.search(text)
        holder = f"another ContextQL process (pid {pid.group(1)})" if pid else "another process"
        return StoreOpenError(
            f"the data directory {folder} is in use by {holder}: stop it, or use the running server "
            "(the embedded store admits one process; for several, use Neo4j)", EXIT_UNAVAILABLE, in_use=True)
    if versions := _STORAGE_VERSION.search(text):
        return StoreOpenError(
            f"the data directory {folder} was written by another version of ContextQL (LadybugDB storage "
            f"version {versions.group(1)}, this one reads {versions.group(2)}): open it with that version and "
            "`contextql export` it, then `contextql import` it here", EXIT_INCOMPATIBLE)
    if "not a valid Lbug database file" in text:
        return StoreOpenError(f"{Path(folder, 'graph.lbug')} is not a ContextQL store: choose another data directory",
                              EXIT_INCOMPATIBLE)
    return None


def _explain_neo4j(settings: Settings, exc: Exception) -> StoreOpenError | None:
    from neo4j.exceptions import AuthError, ConfigurationError

    uri = public_uri(settings.neo4j_uri or "")
    cause = exc.__cause__ or exc
    if isinstance(cause, AuthError):
        return StoreOpenError(f"Neo4j at {uri} refused the credentials of user {settings.neo4j_user!r}: check "
                              "CONTEXTQL_NEO4J_USER and CONTEXTQL_NEO4J_PASSWORD", EXIT_CONFIG)
    if isinstance(exc, (ConfigurationError, ValueError)) or isinstance(cause, (ConfigurationError, ValueError)):
        return StoreOpenError(f"CONTEXTQL_NEO4J_URI={uri} is not usable ({exc}): use bolt://host:7687 (one "
                              "server) or neo4j://host:7687 (a cluster)", EXIT_CONFIG)
    from contextql.graph.errors import StoreUnavailableError

    if isinstance(exc, StoreUnavailableError):
        reason = str(cause).strip().splitlines()[0].rstrip(" :") if str(cause).strip() else type(cause).__name__
        return StoreOpenError(f"cannot reach Neo4j at {uri} ({reason}): start it, or fix CONTEXTQL_NEO4J_URI "
                              "(or --neo4j-uri)", EXIT_UNAVAILABLE)
    return None
