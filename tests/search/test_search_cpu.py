"""What a search costs in CPU besides its work: no spinning model threads, no idle search pool, no
timer before a lone query's embedding, and concurrent queries still batched (the real model and Edge)."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from pathlib import Path

import pytest

from contextql.graph.embeddings import EmbeddingService
from contextql.graph.embeddings.factory import make_embedder
from contextql.graph.embeddings.fastembed_engine import NO_SPINNING, FastEmbedder
from contextql.graph.index.edge import EdgeEngine
from contextql.graph.index.edge_process import EdgeProcessEngine
from contextql.graph.index.engine import AnyOf, Point, Where
from contextql.graph.index.qdrant import point_id


@pytest.fixture(scope="module")
def embedder() -> FastEmbedder:
    made = make_embedder("fastembed")
    assert isinstance(made, FastEmbedder)
    return made


def test_the_model_threads_do_not_spin_and_the_vectors_are_fastembeds(embedder):
    options = embedder.session().get_session_options()
    for key, value in NO_SPINNING.items():
        assert options.get_session_config_entry(key) == value
    from fastembed import TextEmbedding

    from contextql.models import bundled_model_path

    untouched = TextEmbedding(model_name=embedder.name, specific_model_path=str(bundled_model_path()))
    texts = ["how do I rotate the signing keys", "Search at the embedder's speed"]
    for ours, theirs in zip(embedder.embed(texts), untouched.embed(texts)):
        assert max(abs(a - b) for a, b in zip(ours, theirs.tolist())) < 1e-6


class Gated:
    """The real embedder, held at the model until the test lets it go (to have queries arrive meanwhile)."""

    def __init__(self, inner: FastEmbedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.gate = threading.Event()
        self.calls: list[list[str]] = []
        self.fail = False

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("model failed")
        return self.inner.embed(texts)


async def test_a_lone_query_goes_to_the_model_at_once_and_waiting_ones_go_together(embedder):
    gated = Gated(embedder)
    service = EmbeddingService(gated)
    try:
        first = asyncio.create_task(service.embed_query("the first query"))
        for _ in range(50):  # at the model with no timer in between
            if gated.calls:
                break
            await asyncio.sleep(0.01)
        assert gated.calls == [["the first query"]]
        waiting = [asyncio.create_task(service.embed_query(f"query {i}")) for i in range(5)]
        await asyncio.sleep(0.05)
        assert len(gated.calls) == 1  # held back while a batch is at the model
        gated.gate.set()
        vectors = await asyncio.gather(first, *waiting)
        assert gated.calls[1] == [f"query {i}" for i in range(5)]
        assert service.model_calls == 2
        # each as its batch embeds it (padding to the batch's longest text moves an int8 model's vectors a little)
        expected = embedder.embed(["the first query"]) + embedder.embed([f"query {i}" for i in range(5)])
        for got, want in zip(vectors, expected):
            assert math.isclose(sum(a * b for a, b in zip(got, want)), 1.0, abs_tol=1e-5)
        # callers that start together share one call
        await asyncio.gather(*(service.embed_query(f"together {i}") for i in range(16)))
        assert service.model_calls == 3 and len(gated.calls[2]) == 16
    finally:
        gated.gate.set()
        service.close()


async def test_a_failed_model_call_fails_its_waiters_and_the_next_query_is_answered(embedder):
    gated = Gated(embedder)
    gated.gate.set()
    gated.fail = True
    service = EmbeddingService(gated)
    try:
        results = await asyncio.gather(*(service.embed_query(f"q{i}") for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        gated.fail = False
        assert len(await service.embed_query("after the failure")) == embedder.dim
    finally:
        service.close()


def edge_search_threads(pid: int | str = "self") -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text()
        except FileNotFoundError:  # the thread ended between the listing and the read
            continue
        if name.startswith("edge-search"):
            found.add(int(task.name))
    return found


@pytest.mark.parametrize("make", [EdgeEngine, EdgeProcessEngine], ids=["in-process", "child-process"])
def test_edge_searches_with_one_thread_and_keeps_its_settings_across_a_reopen(tmp_path, make):
    engine = make(tmp_path / "index", indexing_threshold_kb=500)
    engine.create("c", 4)
    engine.upsert("c", [Point(point_id(f"c{i}", 0), [1.0, float(i), 0.0, 0.5], ([i], [1.0]), {"workspace": "w", "context_id": f"c{i}"})
                        for i in range(1, 20)])
    engine.close()
    before = edge_search_threads() if make is EdgeEngine else set()  # a child has no other Edge threads
    again = make(tmp_path / "index")  # opens the shard from disk
    hits = again.query("c", Where(must=(AnyOf("workspace", ("w",)),)), 5, dense=[1.0, 3.0, 0.0, 0.5],
                       sparse=([3], [1.0]))
    assert hits[0].payload["context_id"] == "c3"
    after = edge_search_threads(getattr(again, "pid", None) or "self")
    assert len(after - before) <= 1  # not one per CPU, idle ones spinning after each query
    config = json.loads(next((tmp_path / "index").glob("c.*/edge_config.json")).read_text())
    assert config["max_search_threads"] == 1
    assert config["optimizers"]["indexing_threshold"] == 500  # the reopen kept what create set
    again.close()
