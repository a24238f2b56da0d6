"""A Neo4j store of its own for the Neo4j-only tests (module scope: each file starts from its own data)."""

from __future__ import annotations

import pytest

from contextql.graph.neo4j import Neo4jStore
from contextql.migrations import migrate
from tests.neo4j_server import ensure_neo4j


@pytest.fixture(scope="module")
async def neo4j_store(tmp_path_factory):
    store = Neo4jStore(uri=ensure_neo4j(tmp_path_factory), user="neo4j", password="", database="neo4j")
    await store.open()
    await migrate(store)
    yield store
    await store.close()
