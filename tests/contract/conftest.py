"""Fixtures of the contract suite, on top of `store` and `workspace` from tests/conftest.py."""

from __future__ import annotations

import pytest

from contextql.graph.store import GraphStore


@pytest.fixture
def other_workspace(workspace: str) -> str:
    """A second fresh workspace, for isolation tests."""
    return workspace + "-other"


@pytest.fixture
async def fresh_store(store: GraphStore, tmp_path_factory) -> GraphStore:
    """A new, unopened store instance of the same backend as `store`.

    Built with the same opener as `store`, so this stays backend-neutral: for an
    embedded backend it is a new empty database, for a server backend a new client
    of the same (already migrated) database.
    """
    from tests.conftest import OPENERS

    instance = await OPENERS[store.backend](tmp_path_factory)
    yield instance
    await instance.close()
