"""The engine runs statements with parameters as statements prepared once per connection."""

from __future__ import annotations

import pytest

from contextql.graph.ladybug import engine as engine_module
from contextql.graph.ladybug.engine import Engine
from contextql.graph.records import Page
from tests.contract.factories import create_one
from tests.ladybug.test_memory import _opened


@pytest.fixture
async def store(tmp_path):
    opened = await _opened(str(tmp_path / "graph.lbug"), readers=1)
    try:
        yield opened
    finally:
        await opened.close()


async def test_each_connection_keeps_a_bounded_set_of_prepared_statements(store):
    for n in range(3):
        await create_one(store, "w", f"/p{n}")
    for size in range(1, 60):  # each page size is its own statement text
        assert len(await store.find_contexts("w", None, [], Page(size))) == min(size, 3)
    engine: Engine = store._engine
    kept = [len(engine_module._PREPARED.get(conn, {})) for conn in [*engine._all_readers, engine._inline, engine._writer]]
    assert max(kept) == engine_module._STATEMENT_CACHE_LIMIT


async def test_a_text_run_with_other_parameter_types_is_prepared_for_them(store):
    # The driver narrows integer parameters by value when it binds them (INT8, INT16, ...): one
    # statement prepared for a small value must not be reused for a large or negative one.
    for value in (1, 300, 70_000, 5_000_000_000, -7, 1):
        assert await store._engine.read("RETURN $v + 1", {"v": value}) == [[value + 1]]
    assert await store._engine.read("RETURN $v", {"v": "text"}) == [["text"]]
    assert await store._engine.read("RETURN $v", {"v": None}) == [[None]]


async def test_a_statement_that_does_not_prepare_fails_as_before(store):
    with pytest.raises(RuntimeError, match="Binder exception"):
        await store._engine.read("MATCH (c:NoSuchTable) RETURN c.id", {"x": 1})
    with pytest.raises(RuntimeError, match="Binder exception"):  # and again: nothing kept for it
        await store._engine.read("MATCH (c:NoSuchTable) RETURN c.id", {"x": 1})
