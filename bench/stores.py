"""Open the store of a benchmark target exactly as the server does (same settings, same migrations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contextql.graph.store import GraphStore
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.settings import Settings
from contextql.server.stores import open_store

from .tree import WORKSPACE


def settings_for(backend: str, *, data_dir: Path | None = None, neo4j_uri: str | None = None,
                 workspace: str = WORKSPACE, **overrides: Any) -> Settings:
    """Settings for one backend; ignores a stray `.env` and picks the graph explicitly."""
    if backend == "ladybug":
        if data_dir is None:
            raise SystemExit("--data-dir is needed for the ladybug backend")
        return Settings(_env_file=None, graph="ladybug", data_dir=Path(data_dir), neo4j_uri=None,
                        workspace=workspace, **overrides)
    if backend == "neo4j":
        if not neo4j_uri:
            raise SystemExit("--neo4j-uri is needed for the neo4j backend")
        return Settings(_env_file=None, graph="neo4j", neo4j_uri=neo4j_uri, workspace=workspace, **overrides)
    raise SystemExit(f"unknown backend {backend!r} (ladybug or neo4j)")


async def open_bench_store(settings: Settings) -> GraphStore:
    return await open_store(settings)


def request_context(store: GraphStore, settings: Settings) -> RequestContext:
    """A request context like the server builds per HTTP request (fresh DataLoaders)."""
    return RequestContext(store=store, principal=ANONYMOUS, workspace=settings.workspace, limits=settings.limits())
