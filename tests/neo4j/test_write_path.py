"""Neo4j only: a write transaction's BEGIN travels with its first statement (graph/neo4j/store.py)."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from contextql.graph.neo4j import store as neo4j_store_module

from tests.contract.factories import changed, create_one


async def test_the_driver_still_has_the_pipelined_begin_switch(neo4j_store):
    """A driver upgrade that drops the private switch would silently cost a round trip per write."""
    driver = neo4j_store._driver
    async with driver.session(database=neo4j_store.database) as session:
        switch = neo4j_store_module._pipelined_begin(session)
        assert not isinstance(switch, contextlib.nullcontext)
        with switch:
            assert bool(session._pipelined_begin)
        assert not bool(session._pipelined_begin)


async def test_a_failing_write_after_a_pipelined_begin_changes_nothing(neo4j_store):
    workspace = f"wp-{uuid.uuid4().hex[:8]}"
    rec = await create_one(neo4j_store, workspace, "/doc", title="start")
    new, version = changed(rec, title="lost")

    class Boom(Exception):
        pass

    async def work(tx):
        await tx.set_state(new)
        await tx.insert_versions([version])
        await tx.heads(workspace, [rec.id])  # sends the buffered writes inside the transaction
        raise Boom()

    with pytest.raises(Boom):
        await neo4j_store.write(work)
    assert (await neo4j_store.get_by_ids(workspace, [rec.id]))[rec.id].title == "start"
    assert await neo4j_store.count_versions(workspace, rec.id) == 1
