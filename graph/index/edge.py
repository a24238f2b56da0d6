"""`EdgeEngine`: the index engine over Qdrant Edge (the Qdrant engine in-process), for the embedded deployment.

Each collection is one Edge shard in `<root>/<name>`, with `<root>/<name>.json` recording its
vector size (written last, so a half-made shard is not taken for a collection).

Optimisation (merging segments, building HNSW) runs in a CHILD PROCESS on a copy of the shard:
`EdgeShard.optimize()` in-process starves every other Python thread of the GIL for the whole
build (measured: a query waited 17 s behind an 8,000-point build), so it must not share the
server's process. While the child works, every update to the live shard is also logged; when
the child is done, the optimised copy replaces the live shard and the log is replayed on it.
Queries and writes meanwhile go to the live shard as usual.
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

from .engine import DENSE, FILTER_FIELDS, KEYWORDS, AnyOf, AtLeast, Point, Scored, Where

RRF_K = 2  # what a Qdrant server's `Fusion.RRF` uses, so both deployments rank alike
_SCHEMA = {"keyword": edge.PayloadSchemaType.Keyword, "integer": edge.PayloadSchemaType.Integer}


@dataclass
class OptimizeJob:
    """One shard being optimised in a child process: the copy it works on, and the updates made meanwhile."""

    name: str
    work: Path
    log: list[Any] = field(default_factory=list)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "contextql.graph.index.edge", str(self.work)]


class EdgeEngine:
    def __init__(self, root: Path, *, optimize_after: int = 2_000) -> None:
        self.root = root
        self.optimize_after = optimize_after  # points written since the last optimisation
        self._shards: dict[str, Any] = {}
        self._written: dict[str, int] = {}
        self._jobs: dict[str, OptimizeJob] = {}
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / name

    def _meta(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is None:
            self._recover(name)
            shard = self._shards[name] = edge.EdgeShard.load(str(self._path(name)))
            # Unknown since the last run: let the optimiser look once (a no-op when already optimal).
            self._written[name] = shard.info().points_count
        return shard

    def _recover(self, name: str) -> None:
        """Finish or undo a swap a crash interrupted (see `finish_optimize`)."""
        path, old = self._path(name), self._path(name + ".old")
        if old.exists():
            if path.exists():
                shutil.rmtree(old)
            else:
                old.rename(path)
        shutil.rmtree(self._path(name + ".optimizing"), ignore_errors=True)

    # -- collections ----------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self._meta(name).exists() and self._path(name).is_dir()

    def dense_size(self, name: str) -> int:
        return int(json.loads(self._meta(name).read_text())["dim"])

    def create(self, name: str, dim: int) -> None:
        self.drop(name)
        config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine)},
            sparse_vectors={KEYWORDS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        )
        shard = edge.EdgeShard.create(str(self._path(name)), config)
        for key, schema in FILTER_FIELDS.items():
            shard.update(edge.UpdateOperation.create_field_index(key, _SCHEMA[schema]))
        shard.flush()
        self._shards[name], self._written[name] = shard, 0
        self._meta(name).write_text(json.dumps({"dim": dim}))

    def drop(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        self._jobs.pop(name, None)  # its copy is stale; finish_optimize discards it
        self._meta(name).unlink(missing_ok=True)
        shutil.rmtree(self._path(name), ignore_errors=True)

    # -- points ---------------------------------------------------------------

    def _apply(self, name: str, operation: Any) -> None:
        self._shard(name).update(operation)
        job = self._jobs.get(name)
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
              sparse: tuple[list[int], list[float]] | None = None) -> list[Scored]:
        flt = _filter(where)
        dense_q = edge.Query.Nearest(dense, using=DENSE) if dense is not None else None
        sparse_q = edge.Query.Nearest(edge.SparseVector(sparse[0], sparse[1]), using=KEYWORDS) if sparse else None
        if dense_q is not None and sparse_q is not None:
            request = edge.QueryRequest(
                # the stubs list `Fusion` where the binding takes its variants (`Fusion.Rrf`)
                limit=limit, filter=flt, with_payload=True, query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
                prefetches=[edge.Prefetch(limit=limit, query=dense_q, filter=flt),
                            edge.Prefetch(limit=limit, query=sparse_q, filter=flt)])
        elif dense_q is not None or sparse_q is not None:
            request = edge.QueryRequest(limit=limit, filter=flt, with_payload=True, query=dense_q or sparse_q)
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

    def close(self) -> None:
        for name in list(self._jobs):
            self._jobs.pop(name)
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._shards.clear()

    # -- optimisation (see the module docstring) --------------------------------

    def plan_optimize(self) -> list[OptimizeJob]:
        """Copy every shard written enough since its last optimisation; the caller optimises the copies."""
        jobs = []
        for name in list(self._shards):
            if name in self._jobs or self._written.get(name, 0) < self.optimize_after:
                continue
            shard, work = self._shards[name], self._path(name + ".optimizing")
            shard.flush()
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(self._path(name), work)
            self._written[name] = 0
            jobs.append(self._jobs.setdefault(name, OptimizeJob(name, work)))
        return jobs

    def finish_optimize(self, job: OptimizeJob, ok: bool) -> bool:
        """Swap the optimised copy in and replay the updates made meanwhile; False if it was discarded."""
        if self._jobs.get(job.name) is not job or not ok:  # dropped, closed or failed meanwhile
            if self._jobs.get(job.name) is job:
                del self._jobs[job.name]
            shutil.rmtree(job.work, ignore_errors=True)
            return False
        del self._jobs[job.name]
        path, old = self._path(job.name), self._path(job.name + ".old")
        self._shards.pop(job.name).close()
        path.rename(old)
        job.work.rename(path)
        try:
            shard = edge.EdgeShard.load(str(path))
            for operation in job.log:
                shard.update(operation)
        except Exception:
            shutil.rmtree(path, ignore_errors=True)
            old.rename(path)
            raise
        self._shards[job.name] = shard
        shutil.rmtree(old)
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
