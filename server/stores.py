"""Choose and open the configured graph store; the rest of the code never knows which it is."""

from __future__ import annotations

from graph.store import GraphStore
from migrations import migrate

from .settings import Settings


def make_store(settings: Settings) -> GraphStore:
    if settings.graph == "neo4j":
        from graph.neo4j import Neo4jStore

        if not settings.neo4j_uri:
            raise SystemExit("CONTEXTQL_GRAPH=neo4j needs CONTEXTQL_NEO4J_URI (e.g. bolt://localhost:7687).")
        return Neo4jStore(
            uri=settings.neo4j_uri, user=settings.neo4j_user, password=settings.neo4j_password,
            database=settings.neo4j_database, timeout=settings.neo4j_timeout,
        )
    from graph.ladybug import LadybugStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return LadybugStore(
        str(settings.data_dir / "graph.lbug"), buffer_pool_mb=settings.ladybug_buffer_pool_mb,
        checkpoint_wal_bytes=int(settings.ladybug_checkpoint_wal_mb * (1 << 20)),
    )


async def open_store(settings: Settings, *, apply_migrations: bool = True) -> GraphStore:
    store = make_store(settings)
    await store.open()
    if apply_migrations:
        await migrate(store)
    return store
