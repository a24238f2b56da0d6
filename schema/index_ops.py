"""GraphQL for search-index operations (admins): `indexDrift`, `reindex` and its `IndexJob`.

They act in the request's workspace, like every other operation (the `X-ContextQL-Workspace`
header picks it), so the role check of that workspace covers them.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from contextql.graph.errors import BadUserInputError, StoreUnavailableError
from contextql.resolvers import index_ops
from contextql.resolvers.clock import to_datetime
from contextql.resolvers.index_ops import IndexJobs
from contextql.resolvers.request import RequestContext

from .types import ContextInfo

MAX_SAMPLE = 1_000


@strawberry.enum(description="Where a reindex job is.")
class IndexJobState(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.type(description="A rebuild of a workspace's search entries from the graph, run by the server. Poll "
                 "`indexJob(id:)` until `state` is no longer RUNNING.")
class IndexJob:
    job: strawberry.Private[index_ops.IndexJob]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.job.id)

    @strawberry.field
    def workspace(self) -> str:
        return self.job.workspace

    @strawberry.field
    def state(self) -> IndexJobState:
        return IndexJobState(self.job.state)

    @strawberry.field(description="The collections were dropped and made again first (every workspace's entries).")
    def recreate(self) -> bool:
        return self.job.recreate

    @strawberry.field(description="Past versions are indexed too (searched with `includeHistory`).")
    def include_history(self) -> bool:
        return self.job.history

    @strawberry.field(description="Contexts to index; null until they are counted.")
    def total(self) -> int | None:
        return self.job.total

    @strawberry.field(description="Contexts indexed so far.")
    def done(self) -> int:
        return self.job.done

    @strawberry.field(description="`done / total`, from 0 to 1; null until counted.")
    def progress(self) -> float | None:
        total = self.job.total
        return None if total is None else (1.0 if total == 0 else min(1.0, self.job.done / total))

    @strawberry.field
    def started_by(self) -> str:
        return self.job.started_by

    @strawberry.field
    def started_at(self) -> datetime:
        return to_datetime(self.job.started_at)

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return None if self.job.finished_at is None else to_datetime(self.job.finished_at)

    @strawberry.field(description="Why the job failed or was cancelled.")
    def error(self) -> str | None:
        return self.job.error

    @strawberry.field(description="The error's code, as `extensions.code` would give it (e.g. SERVICE_UNAVAILABLE).")
    def error_code(self) -> str | None:
        return self.job.error_code


@strawberry.type(description="One index entry out of step: a context (current entries), or one of its versions "
                 "(history entries).")
class DriftEntry:
    context_id: strawberry.ID
    version: int | None = strawberry.field(default=None, description="The version, for history entries.")


@strawberry.type(description="Entries of one kind of drift: how many, and the first of them.")
class DriftSet:
    count: int
    entries: list[DriftEntry] = strawberry.field(description="At most `sample` of them.")


def _ids(ids: list[str], sample: int) -> DriftSet:
    return DriftSet(count=len(ids), entries=[DriftEntry(context_id=strawberry.ID(i)) for i in ids[:sample]])


def _versions(pairs: list[tuple[str, int]], sample: int) -> DriftSet:
    return DriftSet(count=len(pairs),
                    entries=[DriftEntry(context_id=strawberry.ID(i), version=n) for i, n in pairs[:sample]])


@strawberry.type(description="How the search index of the workspace differs from the graph (the truth).")
class IndexDrift:
    workspace: str
    in_step: bool = strawberry.field(description="No drift at all (pending outbox tasks aside).")
    total: int = strawberry.field(description="Drifted entries of every kind.")
    contexts: int = strawberry.field(description="Contexts checked.")
    versions: int = strawberry.field(description="Versions checked (0 without `includeHistory`).")
    pending_tasks: int = strawberry.field(description="Outbox tasks not yet applied: drift the worker is about to "
                                          "repair by itself.")
    missing: DriftSet = strawberry.field(description="Contexts with no current entry.")
    orphaned: DriftSet = strawberry.field(description="Current entries of contexts the graph no longer has.")
    stale: DriftSet = strawberry.field(description="Current entries made from another version or path.")
    history_missing: DriftSet = strawberry.field(description="Versions with no history entry.")
    history_orphaned: DriftSet = strawberry.field(description="History entries of versions the graph does not have.")


def _jobs(ctx: RequestContext) -> IndexJobs:
    if ctx.index_jobs is None:
        raise StoreUnavailableError("Index jobs run only in a server.", retry_after=None)
    return ctx.index_jobs


@strawberry.type
class IndexQuery:
    @strawberry.field(description="Compare the workspace's search index with the graph (admins). `sample` caps the "
                      "entries listed per kind; the counts are always complete.")
    async def index_drift(self, info: ContextInfo, include_history: bool = True, sample: int = 20) -> IndexDrift:
        if not 0 <= sample <= MAX_SAMPLE:
            raise BadUserInputError(f"`sample` must be between 0 and {MAX_SAMPLE}.", argument="sample")
        found = await index_ops.drift(info.context, include_history)
        return IndexDrift(
            workspace=info.context.workspace, in_step=found.total == 0, total=found.total, contexts=found.contexts,
            versions=found.versions, pending_tasks=found.pending, missing=_ids(found.missing, sample),
            orphaned=_ids(found.orphaned, sample), stale=_ids(found.stale, sample),
            history_missing=_versions(found.history_missing, sample),
            history_orphaned=_versions(found.history_orphaned, sample),
        )

    @strawberry.field(description="A reindex job of this workspace (admins); null when this server has none by that "
                      "id (jobs are forgotten when it restarts).")
    def index_job(self, info: ContextInfo, id: strawberry.ID) -> IndexJob | None:
        job = _jobs(info.context).get(info.context.workspace, str(id))
        return None if job is None else IndexJob(job=job)

    @strawberry.field(description="This server's recent reindex jobs of the workspace, newest first (admins).")
    def index_jobs(self, info: ContextInfo) -> list[IndexJob]:
        return [IndexJob(job=job) for job in _jobs(info.context).of(info.context.workspace)]


@strawberry.type
class IndexMutation:
    @strawberry.mutation(description="Rebuild the workspace's search entries from the graph in the background "
                         "(admins); returns the job to poll. `recreate` first drops the collections of every "
                         "workspace (after changing the embedding model): only the server's operator may ask for it.")
    async def reindex(self, info: ContextInfo, recreate: bool = False, include_history: bool = True) -> IndexJob:
        # async although it only starts the job: the root guard audits asynchronous mutations
        return IndexJob(job=_jobs(info.context).start(info.context, recreate=recreate, history=include_history))
