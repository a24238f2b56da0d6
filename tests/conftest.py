"""Shared fixtures: every store-backed test runs once per real backend.

`CONTEXTQL_TEST_BACKENDS` (default `ladybug,neo4j`) chooses the backends. Neo4j
is started by `tests/neo4j_server.py` for the session unless
`CONTEXTQL_TEST_NEO4J_URI` points at a running server.
"""

from __future__ import annotations

import os
import uuid

import pytest

from contextql.graph.store import GraphStore
from contextql.migrations import migrate

BACKENDS = [b.strip() for b in os.environ.get("CONTEXTQL_TEST_BACKENDS", "ladybug,neo4j").split(",") if b.strip()]


async def _open_ladybug(tmp_path_factory) -> GraphStore:
    from contextql.graph.ladybug import LadybugStore

    # Reads run on the event loop's thread under a budget no read here passes even on a busy
    # machine, so statement counts stay exact (a read past it runs again on a reader thread and
    # counts twice; tests/ladybug/test_inline_reads.py covers that path).
    return LadybugStore(str(tmp_path_factory.mktemp("ladybug") / "graph.lbug"), inline_read_ms=10_000)


async def _open_neo4j(tmp_path_factory) -> GraphStore:
    from contextql.graph.neo4j import Neo4jStore
    from tests.neo4j_server import ensure_neo4j

    uri = ensure_neo4j(tmp_path_factory)
    return Neo4jStore(uri=uri, user="neo4j", password="", database="neo4j")


OPENERS = {"ladybug": _open_ladybug, "neo4j": _open_neo4j}


@pytest.fixture(scope="session", params=BACKENDS)
async def store(request, tmp_path_factory) -> GraphStore:
    """A migrated store of each backend, shared by the session (tests isolate by workspace)."""
    instance = await OPENERS[request.param](tmp_path_factory)
    await instance.open()
    await migrate(instance)
    yield instance
    await instance.close()


@pytest.fixture
def workspace() -> str:
    """A fresh workspace per test, so tests never see each other's data."""
    return f"test-{uuid.uuid4().hex[:12]}"
