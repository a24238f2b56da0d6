"""LadybugDB memory: the buffer-pool setting, checkpoints that keep memory flat, and a full pool.

LadybugDB-only (the settings and failure modes are the embedded engine's), on real databases in
temporary folders: each test opens its own store because the pool size is fixed when it opens.
"""

from __future__ import annotations


import httpx
import pytest

from contextql.graph.errors import StoreUnavailableError
from contextql.graph.ladybug import LadybugStore
from contextql.graph.ladybug.store import MIN_BUFFER_POOL_MB, default_buffer_pool_mb
from contextql.server.app import create_app
from contextql.server.settings import Settings
from contextql.server.stores import make_store, open_store
from tests.contract.factories import changed, create_one


async def _opened(path: str, **options) -> LadybugStore:
    from contextql.migrations import migrate

    store = LadybugStore(path, **options)
    await store.open()
    await migrate(store)
    return store


async def _update(store: LadybugStore, record):
    new, version = changed(record, content=f"revision {record.version + 1} " + "x" * 300)
    await store.update_context(new, record.version, version)
    return new


# -- the setting ------------------------------------------------------------------------------


async def test_buffer_pool_setting_reaches_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEXTQL_LADYBUG_BUFFER_POOL_MB", "200")
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.ladybug_buffer_pool_mb == 200
    store = await open_store(settings)
    try:
        pool, used = await store.memory()
        assert pool == 200 << 20
        assert 0 < used < pool
    finally:
        await store.close()


def test_buffer_pool_setting_rejects_a_pool_too_small_to_work(tmp_path):
    with pytest.raises(ValueError):
        Settings(_env_file=None, data_dir=tmp_path, ladybug_buffer_pool_mb=8)


def test_default_pool_comes_from_the_data_on_disk_not_the_machine(tmp_path):
    path = str(tmp_path / "graph.lbug")
    assert default_buffer_pool_mb(path) == MIN_BUFFER_POOL_MB  # nothing on disk yet
    with open(path, "wb") as db, open(path + ".wal", "wb") as wal:
        db.truncate(300 << 20)  # sparse files: only their sizes count
        wal.truncate(20 << 20)
    assert default_buffer_pool_mb(path) == MIN_BUFFER_POOL_MB + 320
    store = make_store(Settings(_env_file=None, data_dir=tmp_path / "fresh"))
    assert store.buffer_pool_mb == MIN_BUFFER_POOL_MB


# -- checkpoints keep memory flat ----------------------------------------------------------------


async def test_updates_checkpoint_so_memory_stays_bounded(tmp_path, workspace):
    store = await _opened(str(tmp_path / "graph.lbug"), buffer_pool_mb=128, checkpoint_wal_bytes=256 << 10)
    try:
        record = await create_one(store, workspace, "/hot")
        for _ in range(400):  # unchecked, ~470 KB each: 180 MB, more than the whole pool
            record = await _update(store, record)
        assert store._engine.checkpoints >= 2
        assert store._engine.wal_bytes() < 512 << 10
        _, used = await store.memory()
        assert used < 100 << 20
        assert await store.count_versions(workspace, record.id) == 401
    finally:
        await store.close()


async def test_updates_checkpoint_before_their_copies_fill_the_pool_whatever_the_wal_threshold(tmp_path, workspace):
    """Content updates hold far more memory per WAL byte than title updates: the pool check
    (every 256 KB of WAL) checkpoints long before the default 4 MB threshold would."""
    store = await _opened(str(tmp_path / "graph.lbug"), buffer_pool_mb=128)
    try:
        record = await create_one(store, workspace, "/hot")
        for _ in range(400):  # unchecked, these fill the 128 MB pool (see the full-pool tests below)
            record = await _update(store, record)
        assert store._engine.checkpoints >= 1
        assert store._engine.wal_bytes() < store._engine.checkpoint_wal_bytes
        _, used = await store.memory()
        assert used < 100 << 20
        assert await store.count_versions(workspace, record.id) == 401
    finally:
        await store.close()


async def test_a_checkpoint_is_not_counted_as_a_statement_of_the_write_that_triggers_it(tmp_path, workspace):
    """Statement counts per operation (/debug/stats, the bench) stay exact whenever the WAL crosses the threshold."""
    store = await _opened(str(tmp_path / "graph.lbug"), checkpoint_wal_bytes=1)  # every commit checkpoints
    try:
        record = await create_one(store, workspace, "/c")
        checkpoints, before = store._engine.checkpoints, store.queries
        new, version = changed(record, title="new")
        await store.update_context(new, record.version, version)
        assert store._engine.checkpoints == checkpoints + 1
        assert store.queries - before == 6  # BEGIN, head, state, version, outbox, COMMIT (no audit here)
    finally:
        await store.close()


# -- a full pool ----------------------------------------------------------------------------------


async def _fill_until_unavailable(store: LadybugStore, record, limit: int = 2_000):
    for _ in range(limit):
        try:
            record = await _update(store, record)
        except StoreUnavailableError as exc:
            return record, exc
    pytest.fail(f"the pool never filled in {limit} updates")


async def test_full_pool_is_service_unavailable_and_the_store_recovers(tmp_path, workspace):
    # Our checkpoints off, so the updates fill the small pool (the engine's own come at 16 MB of WAL).
    store = await _opened(str(tmp_path / "graph.lbug"), buffer_pool_mb=64, checkpoint_wal_bytes=0)
    try:
        record = await create_one(store, workspace, "/hot")
        record, exc = await _fill_until_unavailable(store, record)
        assert exc.code == "SERVICE_UNAVAILABLE"
        assert "buffer pool is full" in exc.message and "CONTEXTQL_LADYBUG_BUFFER_POOL_MB" in exc.message
        assert isinstance(exc.__cause__, RuntimeError)  # the engine error is kept as the cause, for logs
        # The failed write kept nothing, and the checkpoint after it freed the pool.
        stored = (await store.get_by_ids(workspace, [record.id]))[record.id]
        assert stored.version == record.version
        for _ in range(20):
            record = await _update(store, record)
        assert (await store.get_by_ids(workspace, [record.id]))[record.id].version == record.version
    finally:
        await store.close()


UPDATE = """
mutation($path: String!, $content: String!) { updateContext(path: $path, input: {content: $content}) { version } }"""


async def test_full_pool_reaches_a_client_as_service_unavailable(tmp_path, workspace):
    store = await _opened(str(tmp_path / "graph.lbug"), buffer_pool_mb=64, checkpoint_wal_bytes=0)
    app = create_app(Settings(workspace=workspace, _env_file=None, search=False), store=store)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            async def update(n: int) -> dict:
                response = await client.post("/graphql", json={"query": UPDATE, "variables": {
                    "path": "/hot", "content": f"revision {n} " + "x" * 300}})
                body = response.json()
                # A full pool is a transient outage: HTTP 503 with Retry-After (server/health.py).
                assert response.status_code == (503 if body.get("errors") else 200), response.text
                return body

            created = await client.post("/graphql", json={"query": 'mutation { createContext(input: {path: "/hot"}) { id } }'})
            assert not created.json().get("errors"), created.text
            for n in range(2_000):
                body = await update(n)
                if body.get("errors"):
                    break
            else:
                pytest.fail("the pool never filled")
            error = body["errors"][0]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "buffer pool is full" in error["message"]
            assert "Buffer manager exception" not in str(body)
            assert not (await update(-1)).get("errors")
    finally:
        await store.close()


async def test_many_distinct_ordered_reads_do_not_fill_the_pool(tmp_path, workspace):
    # Each page size is its own statement text, and a cached prepared ORDER BY statement pins
    # ~1.5 MB of the pool: an unbounded statement cache fills a 128 MB pool in ~80 page sizes.
    from contextql.graph.records import Page

    store = await _opened(str(tmp_path / "graph.lbug"), buffer_pool_mb=128, readers=1)
    try:
        for n in range(5):
            await create_one(store, workspace, f"/p{n}")
        for size in range(1, 201):
            assert len(await store.find_contexts(workspace, None, [], Page(size))) == min(size, 5)
        _, used = await store.memory()
        assert used < 100 << 20
    finally:
        await store.close()
