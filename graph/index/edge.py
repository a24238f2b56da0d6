"""`EdgeEngine`: the index engine over Qdrant Edge (the Qdrant engine in-process), for the embedded deployment.

Each collection is one Edge shard in a folder `<root>/<name>.<generation>`; `<root>/<name>.json`
names the live folder and the vector size (replaced atomically, written last, so a half-made or
half-swapped shard is never taken for the collection; unnamed folders are leftovers).

Optimisation (merging segments, building HNSW) runs in a CHILD PROCESS on a copy of the shard:
`EdgeShard.optimize()` in-process starves every other Python thread of the GIL for the whole
build (measured: a query waited 17 s behind an 8,000-point build), so it must not share the
server's process. The steps (`VectorIndex.optimize` drives them):
1. `plan_optimize` (index thread): from now on the shard's updates are held back.
2. `OptimizeJob.copy` (another thread): flush the shard and copy its folder, which nothing writes
   meanwhile; queries go on against the live shard (measured: copying 77 MB took 6.6 s on a busy disk).
3. `resume_writes` (index thread): apply the held-back updates; from now on they are logged.
4. the child process optimises the copy (the next generation's folder), then `OptimizeJob.open`
   loads it (another thread: loading segments takes a while).
5. `finish_optimize` (index thread): replay the log on it and make it the live shard; the old one
   is closed and deleted off that thread (`OptimizeJob.retire`).
Writes are never refused or waited on; between 1 and 3 they are applied a little later.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from .engine import DENSE, FILTER_FIELDS, HIT_FIELDS, KEYWORDS, RRF_K, AnyOf, AtLeast, IndexInUseError, Point, Scored, Where

_SCHEMA = {"keyword": edge.PayloadSchemaType.Keyword, "integer": edge.PayloadSchemaType.Integer}

# Edge's search pool has one thread per CPU by default, and its idle threads yield-spin (rayon) after
# every query: measured in the server, about 2 ms of CPU per HYBRID request in threads that found no
# work (bench/results/search-cpu-2026-12-01.md). One thread runs a query's segments one after another
# on the calling thread; a server's concurrency comes from its many requests, not from one query.
SEARCH_THREADS = 1


def _config(dim: int, *, search_threads: int | None, optimizers: Any = None) -> Any:
    """The shard configuration of a collection. Loading a shard with it checks that the vectors match
    and keeps the shard's optimiser settings (None: unspecified)."""
    return edge.EdgeConfig(
        vectors={DENSE: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine)},
        sparse_vectors={KEYWORDS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        optimizers=optimizers, max_search_threads=search_threads,
    )


@dataclass
class OptimizeJob:
    """One shard being optimised in a child process: the copy it works on, and the updates made meanwhile."""

    name: str
    live: Any  # the live shard when the job began
    source: Path
    work: Path
    held: list[Any] | None = field(default_factory=list)  # updates not applied yet (None: applied as they come)
    log: list[Any] = field(default_factory=list)  # updates since the copy, to replay on it
    shard: Any = None  # the optimised copy, loaded
    config: Any = None  # what the copy is loaded with (the live shard's search threads)

    def copy(self) -> None:
        self.live.flush()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.source, self.work)

    def retire(self) -> None:
        """Close and delete the shard the optimised copy replaced."""
        self.live.close()
        shutil.rmtree(self.source, ignore_errors=True)

    def open(self) -> None:
        self.shard = edge.EdgeShard.load(str(self.work), self.config)

    def discard(self) -> None:
        if self.shard is not None:
            self.shard.close()
            self.shard = None
        shutil.rmtree(self.work, ignore_errors=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "contextql.graph.index.edge", str(self.work)]


class EdgeEngine:
    def __init__(self, root: Path, *, optimize_after: int = 2_000, indexing_threshold_kb: int | None = None,
                 search_threads: int | None = SEARCH_THREADS) -> None:
        self.root = root
        self.search_threads = search_threads  # None: Edge's default, one per CPU
        self.optimize_after = optimize_after  # points written since the last optimisation
        self.indexing_threshold_kb = indexing_threshold_kb  # segments past this get HNSW (None: Edge's default)
        self._shards: dict[str, Any] = {}
        self._written: dict[str, int] = {}
        self._jobs: dict[str, OptimizeJob] = {}
        root.mkdir(parents=True, exist_ok=True)

    def _meta(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def _live(self, name: str) -> tuple[Path, int]:
        """The live folder of collection `name` and its generation."""
        meta = json.loads(self._meta(name).read_text())
        return self.root / f"{name}.{meta['generation']}", int(meta["generation"])

    def _name(self, name: str, generation: int, dim: int) -> None:
        """Make generation `generation` the live one (atomic)."""
        temp = self.root / f".{name}.json.tmp"
        temp.write_text(json.dumps({"dim": dim, "generation": generation, "keywords": KEYWORDS}))
        os.replace(temp, self._meta(name))

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is None:
            path, _ = self._live(name)
            self._sweep(name, keep=path)
            try:
                shard = self._shards[name] = edge.EdgeShard.load(str(path), self._load_config(name))
            except Exception as exc:
                if "WouldBlock" in str(exc):  # the WAL's file lock: one process per shard
                    raise IndexInUseError(
                        f"the search index in {self.root} is in use by another process (a running server?): stop "
                        "it, or use a Qdrant server (CONTEXTQL_QDRANT_URL)") from exc
                raise
            # Points without HNSW yet: each has two vectors, and sparse ones are always indexed.
            info = shard.info()
            self._written[name] = max(0, 2 * info.points_count - info.indexed_vectors_count)
        return shard

    def _load_config(self, name: str) -> Any:
        """What a shard of `name` is opened with: its own settings, with this engine's search threads."""
        dim = int(json.loads(self._meta(name).read_text())["dim"])
        return _config(dim, search_threads=self.search_threads)

    def _sweep(self, name: str, keep: Path | None) -> None:
        """Remove the folders of `name` the meta file does not name (an interrupted optimisation or drop)."""
        for folder in self.root.glob(f"{name}.*"):
            if folder.is_dir() and folder != keep and folder.name.removeprefix(name + ".").isdigit():
                shutil.rmtree(folder, ignore_errors=True)

    # -- collections ----------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self._meta(name).exists() and self._live(name)[0].is_dir()

    def layout(self, name: str) -> tuple[int, str | None]:
        meta = json.loads(self._meta(name).read_text())
        keywords = meta.get("keywords", "keywords")  # before the name carried the tokenizer's version
        if keywords == KEYWORDS:
            self._shard(name)  # opened now, so a shard another process holds is reported at start
        return int(meta["dim"]), keywords

    def _dim(self, name: str) -> int:
        return int(json.loads(self._meta(name).read_text())["dim"])

    def create(self, name: str, dim: int) -> None:
        self.drop(name)
        config = _config(dim, search_threads=self.search_threads,
                         optimizers=edge.EdgeOptimizersConfig(indexing_threshold=self.indexing_threshold_kb))
        shard = edge.EdgeShard.create(str(self.root / f"{name}.1"), config)
        for key, schema in FILTER_FIELDS.items():
            shard.update(edge.UpdateOperation.create_field_index(key, _SCHEMA[schema]))
        shard.flush()
        self._shards[name], self._written[name] = shard, 0
        self._name(name, 1, dim)

    def drop(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        job = self._jobs.pop(name, None)  # its copy is stale
        if job is not None:
            job.discard()
        self._meta(name).unlink(missing_ok=True)
        self._sweep(name, keep=None)

    # -- points ---------------------------------------------------------------

    def _apply(self, name: str, operation: Any) -> None:
        job = self._jobs.get(name)
        if job is not None and job.held is not None:
            job.held.append(operation)  # its folder is being copied (see the module docstring)
            return
        self._shard(name).update(operation)
        if job is not None:
            job.log.append(operation)

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if points:
            self._apply(name, edge.UpdateOperation.upsert_points([
                edge.Point(p.id, {DENSE: p.dense, KEYWORDS: edge.SparseVector(p.sparse[0], p.sparse[1])}, p.payload)
                for p in points]))
            self._written[name] = self._written.get(name, 0) + len(points)

    def delete(self, name: str, where: Where) -> None:
        self._apply(name, edge.UpdateOperation.delete_points_by_filter(_filter(where)))

    def query(self, name: str, where: Where, limit: int, *, dense: list[float] | None = None,
              sparse: tuple[list[int], list[float]] | None = None, fields: Sequence[str] = HIT_FIELDS) -> list[Scored]:
        flt = _filter(where)
        dense_q = edge.Query.Nearest(dense, using=DENSE) if dense is not None else None
        sparse_q = edge.Query.Nearest(edge.SparseVector(sparse[0], sparse[1]), using=KEYWORDS) if sparse else None
        if dense_q is not None and sparse_q is not None:
            request = edge.QueryRequest(
                # the stubs list `Fusion` where the binding takes its variants (`Fusion.Rrf`)
                limit=limit, filter=flt, with_payload=list(fields), query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
                prefetches=[edge.Prefetch(limit=limit, query=dense_q, filter=flt),
                            edge.Prefetch(limit=limit, query=sparse_q, filter=flt)])
        elif dense_q is not None or sparse_q is not None:
            request = edge.QueryRequest(limit=limit, filter=flt, with_payload=list(fields), query=dense_q or sparse_q)
        else:
            raise ValueError("a query needs a dense or a sparse vector")
        return [Scored(float(p.score), p.payload or {}) for p in self._shard(name).query(request)]

    def scroll(self, name: str, where: Where, fields: Sequence[str], offset: Any, limit: int
               ) -> tuple[list[dict[str, Any]], Any]:
        records, after = self._shard(name).scroll(edge.ScrollRequest(
            offset=offset, limit=limit, filter=_filter(where), with_payload=list(fields), with_vector=False))
        return [r.payload or {} for r in records], after

    def count(self, name: str, where: Where) -> int:
        return int(self._shard(name).count(edge.CountRequest(exact=True, filter=_filter(where))))

    def stats(self, name: str) -> dict[str, Any]:
        """What the shard holds: points, vectors with an index (HNSW; sparse ones always), payload indexes."""
        info = self._shard(name).info()
        return {"points": int(info.points_count), "indexed_vectors": int(info.indexed_vectors_count),
                "payload_indexes": sorted(info.payload_schema)}

    def close(self) -> None:
        for job in list(self._jobs.values()):
            self.resume_writes(job)
        self._jobs.clear()
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._shards.clear()

    # -- optimisation (see the module docstring) --------------------------------

    def plan_optimize(self) -> list[OptimizeJob]:
        """A job for every shard written enough since its last optimisation; its updates are held from now."""
        jobs = []
        for name in list(self._shards):
            if name in self._jobs or self._written.get(name, 0) < self.optimize_after:
                continue
            self._written[name] = 0
            path, generation = self._live(name)
            jobs.append(self._jobs.setdefault(name, OptimizeJob(
                name, self._shards[name], path, self.root / f"{name}.{generation + 1}", config=self._load_config(name))))
        return jobs

    def resume_writes(self, job: OptimizeJob) -> None:
        """The copy is made: apply the updates held meanwhile, and log them (and later ones) for the replay."""
        held, job.held = job.held, None
        if held and self._jobs.get(job.name) is job:
            for operation in held:
                self._apply(job.name, operation)

    def finish_optimize(self, job: OptimizeJob, ok: bool) -> bool:
        """Replay the updates made meanwhile on the optimised copy and make it live; False if it was
        discarded. The caller then retires the job (off this thread) when True."""
        if self._jobs.get(job.name) is not job or not ok or job.shard is None:  # dropped, closed or failed
            if self._jobs.get(job.name) is job:
                del self._jobs[job.name]
            job.discard()
            return False
        del self._jobs[job.name]
        shard, job.shard = job.shard, None
        try:
            for operation in job.log:  # durable once applied: the WAL has them
                shard.update(operation)
            generation = int(job.work.name.rsplit(".", 1)[1])
            self._name(job.name, generation, self._dim(job.name))
        except Exception:
            shard.close()
            shutil.rmtree(job.work, ignore_errors=True)
            raise
        self._shards[job.name] = shard
        return True


def _condition(c: AnyOf | AtLeast) -> Any:
    if isinstance(c, AtLeast):
        return edge.FieldCondition(key=c.key, range=edge.RangeFloat(gte=c.value))
    if len(c.values) == 1:
        return edge.FieldCondition(key=c.key, match=edge.MatchValue(c.values[0]))
    return edge.FieldCondition(key=c.key, match=edge.MatchAny(list(c.values)))


def _filter(where: Where) -> Any:
    return edge.Filter(must=[_condition(c) for c in where.must] or None,
                       must_not=[_condition(c) for c in where.must_not] or None)


def optimize_copy(path: str) -> bool:
    """In the child process: optimise the shard at `path` (blocks this process only)."""
    os.nice(10)  # the server's queries come first on a shared machine
    shard = edge.EdgeShard.load(path)
    try:
        return bool(shard.optimize())
    finally:
        shard.close()


if __name__ == "__main__":
    optimize_copy(sys.argv[1])
