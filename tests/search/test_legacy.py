"""An index made by the old qdrant-client local mode (`<data dir>/qdrant`), or for another model or tokenizer,
is rebuilt from the graph at start-up (embedded), or named as the error to fix (a Qdrant server)."""

from __future__ import annotations

import json
import logging

import pytest
from qdrant_client import QdrantClient, models

from contextql.graph.index import verify
from contextql.graph.index.engine import KEYWORDS
from contextql.graph.index.qdrant import IndexOutdatedError
from contextql.graph.index.qdrant_engine import QdrantClientEngine
from contextql.graph.ladybug import LadybugStore
from contextql.migrations import migrate
from contextql.resolvers import contexts as ops
from contextql.resolvers import search as find
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.search import SearchRuntime, open_index, start_search, stop_search
from contextql.server.settings import Settings


async def indexed_elsewhere(tmp_path) -> LadybugStore:
    """A store whose one context is in no outbox: only a rebuild can index it (as the old index held it)."""
    store = LadybugStore(str(tmp_path / "graph.lbug"))  # the layout `serve --data-dir` uses
    await store.open()
    await migrate(store)
    ctx = RequestContext(store=store, principal=ANONYMOUS, workspace="default")
    await ops.create(ctx, [ops.NewContext(path="/ops/backups", content="Backups run nightly at 02:00.")],
                     create_parents=True)
    await store.complete_index_tasks(await store.claim_index_tasks(2**62, 1, 100, "default"))
    return store


async def rebuilt_at_start(settings: Settings, store: LadybugStore, caplog, why: str) -> SearchRuntime:
    """Start search, wait for the rebuild it starts, and check it said so once, naming `why`."""
    with caplog.at_level(logging.INFO, logger="contextql.search"):
        runtime = await start_search(settings, store)
        assert runtime is not None and runtime.rebuild is not None
        await runtime.rebuild
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 1 and why in said[0] and "rebuilding" in said[0], said
    return runtime


async def test_the_old_local_mode_index_is_rebuilt_with_one_message(tmp_path, caplog):
    store = await indexed_elsewhere(tmp_path)
    old = QdrantClient(path=str(tmp_path / "qdrant"))
    old.create_collection("contextql", vectors_config={"dense": models.VectorParams(size=4, distance=models.Distance.COSINE)})
    old.close()

    settings = Settings(workspace="default", data_dir=tmp_path, _env_file=None)
    runtime = await rebuilt_at_start(settings, store, caplog, "old local-mode index")
    try:
        assert not (tmp_path / "qdrant").exists() and (tmp_path / "index" / "contextql.json").exists()
        assert (await verify(store, runtime.index, "default")).total == 0
        ctx = RequestContext(store=store, principal=ANONYMOUS, workspace="default", search=runtime.index)
        assert [h.context.path for h in await find.search(ctx, "nightly backups", limit=1)] == ["/ops/backups"]
    finally:
        await stop_search(runtime)
        await store.close()

    # the next start finds nothing to rebuild
    store = LadybugStore(str(tmp_path / "graph.lbug"))
    await store.open()
    runtime = await start_search(settings, store)
    try:
        assert runtime is not None and runtime.rebuild is None
    finally:
        await stop_search(runtime)
        await store.close()


async def test_an_embedded_index_of_an_older_tokenizer_is_replaced_and_rebuilt(tmp_path, caplog):
    store = await indexed_elsewhere(tmp_path)
    settings = Settings(workspace="default", data_dir=tmp_path, _env_file=None)
    runtime = await start_search(settings, store)
    assert runtime is not None and runtime.rebuild is None
    await stop_search(runtime)
    # What an index made before the keyword vector's name carried the tokenizer's version looks like.
    for name in ("contextql", "contextql_history"):
        meta = tmp_path / "index" / f"{name}.json"
        meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "keywords"}))

    runtime = await rebuilt_at_start(settings, store, caplog, "another model or tokenizer")
    try:
        assert json.loads((tmp_path / "index" / "contextql.json").read_text())["keywords"] == KEYWORDS
        assert (await verify(store, runtime.index, "default")).total == 0
        ctx = RequestContext(store=store, principal=ANONYMOUS, workspace="default", search=runtime.index)
        hits = await find.search(ctx, "nightly backups", limit=1, mode="keyword")
        assert [h.context.path for h in hits] == ["/ops/backups"]
    finally:
        await stop_search(runtime)
        await store.close()


async def test_a_server_collection_of_an_older_tokenizer_is_an_error_naming_the_fix(tmp_path):
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    for name in ("contextql", "contextql_history"):
        client.create_collection(
            name, vectors_config={"dense": models.VectorParams(size=384, distance=models.Distance.COSINE)},
            sparse_vectors_config={"keywords": models.SparseVectorParams(modifier=models.Modifier.IDF)})
    settings = Settings(workspace="default", data_dir=tmp_path, qdrant_url="http://unused:6333", _env_file=None)
    engine = QdrantClientEngine(client, server=False)
    with pytest.raises(IndexOutdatedError, match=r"older tokenizer.*contextql reindex --recreate"):
        await open_index(settings, engine=engine)
    index = await open_index(settings, engine=engine, recreate=True)
    try:
        assert engine.layout("contextql") == (384, KEYWORDS)
    finally:
        await index.close()
