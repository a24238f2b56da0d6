"""The engine runs statements with parameters as statements prepared once per connection."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ladybug import connection as ladybug_connection

from contextql.graph.ladybug import engine as engine_module
from contextql.graph.ladybug.engine import Engine
from contextql.graph.records import Page
from tests.contract.factories import create_one
from tests.ladybug.test_memory import _opened
from tests.ladybug.test_tree_reads import commit_meanwhile


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


# Parameter values as the store sends them, and the odd ones ladybug also keys (ints of every
# width the driver narrows to, mixed lists, lists of lists, maps).
_INT = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 127, 128, 255, 256, 2**15, 2**16, 2**31, 2**32]))
_SCALAR = st.one_of(st.none(), st.booleans(), _INT, st.floats(allow_nan=False), st.text(max_size=5))
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=6),  # the common case: ids, keys
        st.lists(st.one_of(st.none(), _INT), max_size=6),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), _VALUE, max_size=4))
def test_the_statement_key_is_the_drivers_own(params):
    # A prepared statement is reused only for parameters the driver binds alike: the engine's key
    # must be the driver's (`_pybind_param_signature`), which it computes without the driver's garbage.
    assert _outcome(engine_module._param_signature, params) == _outcome(ladybug_connection._pybind_param_signature,
                                                                        params)


def _outcome(signature, params):
    """The key, or the error the driver's own key raises for values it cannot bind (maps of unlike keys)."""
    try:
        return signature(params)
    except Exception as exc:  # compared below, not swallowed
        return type(exc)


async def test_statements_with_list_parameters_leave_no_cyclic_garbage(store):
    # The driver's own key makes a reference cycle per list parameter; on the loop's thread the
    # collector then ran every few seconds, for 5-8 ms, in the middle of reads (engine.py).
    await create_one(store, "w", "/a")
    engine: Engine = store._engine
    await engine.read("UNWIND $ids AS i RETURN i", {"ids": ["x", "y"], "n": [1, 2]})  # prepared once
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            await engine.read("UNWIND $ids AS i RETURN i", {"ids": ["x", "y"], "n": [1, 2]})
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable < 20  # ~800 before: 4 objects per list per statement


async def test_transaction_statements_are_prepared_once_and_keep_their_meaning(store):
    """BEGIN, COMMIT and ROLLBACK run prepared: a read-only snapshot still refuses a write, a failed write
    still leaves nothing, and the connection is free for the next statement after each."""
    engine: Engine = store._engine
    await create_one(store, "w", "/a")
    before = await engine.read("MATCH (c:Context) RETURN c.title")

    def write_inside(run):
        # A snapshot read runs in a transaction once a commit lands during its first attempt.
        if not attempts:
            attempts.append(commit_meanwhile(engine))
            return
        run("MATCH (c:Context) SET c.title = 'x'", None)

    for _ in range(2):
        attempts: list[None] = []
        with pytest.raises(RuntimeError, match="read-only transaction"):
            await engine.read_with(write_inside, snapshot=True)
        assert await engine.read_with(lambda run: run("MATCH (c:Context) RETURN c.title", None), snapshot=True) \
            == before

    def fail_after_writing(tx):
        tx.run("MATCH (c:Context) SET c.title = 'half'")
        raise ValueError("refused")

    with pytest.raises(ValueError):
        await engine.write(fail_after_writing)
    assert await engine.read("MATCH (c:Context) RETURN c.title") == before
    await engine.write(lambda tx: tx.run("MATCH (c:Context) SET c.title = 'whole'"))
    assert await engine.read("MATCH (c:Context) RETURN c.title") == [["whole"]]

    prepared = {conn: dict(engine_module._CONTROL_PREPARED.get(conn, {}))
                for conn in [*engine._all_readers, engine._inline, engine._writer]}
    assert set().union(*prepared.values()) == engine_module._CONTROL  # each ran prepared somewhere
    await engine.read_with(lambda run: commit_meanwhile(engine) if run("RETURN 1", None) else None, snapshot=True)
    await engine.write(lambda tx: tx.run("RETURN 1"))
    for conn, known in prepared.items():  # and the same statement again: prepared once per connection
        assert all(engine_module._CONTROL_PREPARED[conn][text] is statement for text, statement in known.items())
