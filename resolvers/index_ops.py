"""Search-index operations run by the server for an admin: `indexDrift` now, `reindex` as a job.

The embedded store and the local index admit one process, so while the server runs these are
the only way to check or rebuild its index (`contextql verify` / `reindex` call them). A
reindex embeds every context, which takes minutes on a large workspace: it runs as a
background task of the server and the caller polls its `IndexJob`. Jobs live in memory: a
restarted server has forgotten them (the rebuild is idempotent, so it is simply run again).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from contextql.graph.errors import ConflictError, ContextQLError, ForbiddenError, StoreUnavailableError
from contextql.graph.index import Drift, VectorIndex, reindex, verify
from contextql.graph.index.qdrant import IndexUnavailableError
from contextql.graph.store import GraphStore

from .clock import now_us
from .request import RequestContext

logger = logging.getLogger("contextql.index")

KEEP = 20  # finished jobs remembered, so a poller that comes late still sees how one ended
STATES = ("running", "succeeded", "failed", "cancelled")


@dataclass
class IndexJob:
    id: str
    workspace: str
    recreate: bool
    history: bool
    started_by: str
    started_at: int  # µs since the epoch, like every timestamp of the store
    state: str = "running"
    total: int | None = None  # contexts to index, once counted
    done: int = 0
    finished_at: int | None = None
    error: str | None = None
    error_code: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)


def _index(ctx: RequestContext) -> VectorIndex:
    if ctx.search is None:
        raise StoreUnavailableError("Search is not enabled on this server (CONTEXTQL_SEARCH=false).", retry_after=None)
    return ctx.search


async def drift(ctx: RequestContext, history: bool = True) -> Drift:
    """How the request's workspace in the index differs from the graph."""
    index = _index(ctx)
    try:
        return await verify(ctx.store, index, ctx.workspace, history=history)
    except IndexUnavailableError as exc:
        raise StoreUnavailableError(f"The search index is unavailable right now ({exc}); try again shortly.") from None


class IndexJobs:
    """The reindex jobs of one server: at most one running per workspace."""

    def __init__(self) -> None:
        self._jobs: dict[str, IndexJob] = {}

    def get(self, workspace: str, job_id: str) -> IndexJob | None:
        job = self._jobs.get(job_id)
        # Another workspace's job is as absent as a job that never was.
        return job if job is not None and job.workspace == workspace else None

    def of(self, workspace: str) -> list[IndexJob]:
        """The workspace's jobs, newest first."""
        return [job for job in reversed(self._jobs.values()) if job.workspace == workspace]

    def start(self, ctx: RequestContext, *, recreate: bool, history: bool) -> IndexJob:
        index = _index(ctx)
        if recreate and not ctx.principal.all_workspaces:
            # The collections hold every workspace: recreating them empties the index of all.
            raise ForbiddenError(
                "`recreate` empties the search index of every workspace, so only the server's operator may ask "
                "for it: run `contextql reindex --recreate` on the server's machine.", action="manage_index")
        for job in self._jobs.values():
            if job.state == "running" and (job.workspace == ctx.workspace or job.recreate or recreate):
                raise ConflictError(
                    f"A reindex of workspace {job.workspace!r} is already running (job {job.id}): follow it with "
                    "`indexJob(id:)` and start another once it has finished.", jobId=job.id)
        job = IndexJob(id=uuid.uuid4().hex, workspace=ctx.workspace, recreate=recreate, history=history,
                       started_by=ctx.principal.id, started_at=now_us())
        self._jobs[job.id] = job
        self._forget_old()
        job.task = asyncio.create_task(_run(job, ctx.store, index), name=f"contextql-reindex-{job.id}")
        return job

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state != "running"]
        for job_id in finished[:max(0, len(finished) - KEEP)]:
            del self._jobs[job_id]

    async def close(self) -> None:
        """Stop running jobs (server shutdown), before the store and the index close under them."""
        tasks = [job.task for job in self._jobs.values() if job.task is not None and not job.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _run(job: IndexJob, store: GraphStore, index: VectorIndex) -> None:
    def total(n: int) -> None:
        job.total = n

    def advance(n: int) -> None:
        job.done += n

    try:
        if job.recreate or not index.ready:  # not ready: the index was unusable when the server started
            await index.ensure(recreate=job.recreate)
        await reindex(store, index, job.workspace, history=job.history, total=total, advance=advance)
        job.state = "succeeded"
    except asyncio.CancelledError:
        job.state, job.error, job.error_code = "cancelled", "The server stopped before the reindex finished.", None
        raise
    except IndexUnavailableError as exc:
        job.state, job.error, job.error_code = "failed", str(exc), StoreUnavailableError.code
    except ContextQLError as exc:
        job.state, job.error, job.error_code = "failed", exc.message, exc.code
    except Exception:
        logger.exception("reindex job %s of workspace %s failed", job.id, job.workspace)
        job.state, job.error, job.error_code = ("failed", "The reindex failed unexpectedly; the server logged why.",
                                                "INTERNAL_SERVER_ERROR")
    finally:
        job.finished_at = now_us()
