"""An index the old qdrant-client local mode made (`<data dir>/qdrant`) is rebuilt from the graph at start-up."""

from __future__ import annotations

import logging

from qdrant_client import QdrantClient, models

from contextql.graph.index import verify
from contextql.graph.ladybug import LadybugStore
from contextql.migrations import migrate
from contextql.resolvers import contexts as ops
from contextql.resolvers import search as find
from contextql.resolvers.principal import ANONYMOUS
from contextql.resolvers.request import RequestContext
from contextql.server.search import start_search, stop_search
from contextql.server.settings import Settings


async def test_the_old_local_mode_index_is_rebuilt_with_one_message(tmp_path, caplog):
    store = LadybugStore(str(tmp_path / "graph.lbug"))  # the layout `serve --data-dir` uses
    await store.open()
    await migrate(store)
    ctx = RequestContext(store=store, principal=ANONYMOUS, workspace="default")
    await ops.create(ctx, [ops.NewContext(path="/ops/backups", content="Backups run nightly at 02:00.")],
                     create_parents=True)
    # The old index had these contexts; the outbox is empty, so only the rebuild can index them here.
    await store.complete_index_tasks(await store.claim_index_tasks(2**62, 1, 100, "default"))
    old = QdrantClient(path=str(tmp_path / "qdrant"))
    old.create_collection("contextql", vectors_config={"dense": models.VectorParams(size=4, distance=models.Distance.COSINE)})
    old.close()

    settings = Settings(workspace="default", data_dir=tmp_path, _env_file=None)
    with caplog.at_level(logging.INFO, logger="contextql.search"):
        runtime = await start_search(settings, store)
        assert runtime is not None and runtime.rebuild is not None
        await runtime.rebuild
    try:
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(said) == 1 and "old local-mode index" in said[0] and "rebuilding" in said[0], said
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
