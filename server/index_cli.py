"""`contextql reindex` and `contextql verify`: rebuild the search index from the graph, or measure drift.

When a server runs on the data directory it holds the embedded store and the local index (they
admit one process), so both commands then ask it, over the local admin channel
(server/local_admin.py); otherwise they open the stores themselves. Either way the work and its
report are the same, with a progress bar on standard error.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .settings import Settings

if TYPE_CHECKING:
    from contextql.graph.index import Drift, VectorIndex

    from .local_admin import RunningServer

err = Console(stderr=True)
out = Console()

POLL = 0.5  # seconds between looks at a server's reindex job (well under the default rate limit)
SHOWN = 20  # drifted entries listed per kind
VERIFY_TIMEOUT = 3_600.0  # seconds: the server scans the whole workspace before it answers

REINDEX = """mutation Reindex($recreate: Boolean!, $history: Boolean!) {
  reindex(recreate: $recreate, includeHistory: $history) { id state total done error errorCode }
}"""
JOB = "query Job($id: ID!) { indexJob(id: $id) { id state total done error errorCode } }"
DRIFT_SET = "{ count entries { contextId version } }"
DRIFT = f"""query Drift($history: Boolean!, $sample: Int!) {{
  indexDrift(includeHistory: $history, sample: $sample) {{
    contexts versions pendingTasks missing {DRIFT_SET} orphaned {DRIFT_SET} stale {DRIFT_SET}
    historyMissing {DRIFT_SET} historyOrphaned {DRIFT_SET}
  }}
}}"""


def add_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    reindex = commands.add_parser("reindex", help="rebuild the search index of a workspace from the graph",
                                  parents=parents)
    reindex.add_argument("--workspace", default=None, help="workspace to reindex (default: the configured one)")
    reindex.add_argument("--recreate", action="store_true",
                         help="drop and recreate the collections first (after changing the embedding model)")
    reindex.add_argument("--no-history", action="store_true", help="skip past versions (includeHistory search)")
    verify = commands.add_parser(
        "verify", help="report drift between the graph and the search index (exit 1 if any, 2 if it cannot check)",
        parents=parents)
    verify.add_argument("--workspace", default=None, help="workspace to check (default: the configured one)")
    verify.add_argument("--no-history", action="store_true", help="skip the past versions' entries")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err)


def _running_server(settings: Settings) -> RunningServer | None:
    from .local_admin import find_server

    return find_server(settings.data_dir)


async def _open_index(settings: Settings, *, recreate: bool = False) -> VectorIndex:
    from contextql.graph.index.engine import IndexInUseError
    from contextql.graph.index.qdrant import IndexUnavailableError

    from .search import open_index
    from .stores import EXIT_UNAVAILABLE, StoreOpenError

    where = settings.qdrant_url or str(settings.data_dir.resolve() / "index")
    try:
        return await open_index(settings, recreate=recreate)
    except (RuntimeError, IndexUnavailableError) as exc:
        if isinstance(exc.__cause__, IndexInUseError):  # the embedded index admits one process at a time
            raise StoreOpenError(str(exc), EXIT_UNAVAILABLE) from exc
        reason = str(exc.__cause__ or exc).strip().splitlines()[0] if str(exc.__cause__ or exc).strip() else ""
        raise StoreOpenError(f"the search index at {where} cannot be used ({reason or type(exc).__name__}): "
                             "fix or remove it, then run `contextql reindex`", EXIT_UNAVAILABLE) from exc


# -- reindex ---------------------------------------------------------------------


async def reindex(settings: Settings, workspace: str, recreate: bool, history: bool) -> int:
    server = _running_server(settings)
    code = (await _reindex_through(server, workspace, recreate, history) if server is not None
            else await _reindex_here(settings, workspace, recreate, history))
    if recreate:
        err.print("the collections were recreated: every other workspace's entries are gone too, so reindex each "
                  "of them (`--workspace`)", markup=False, highlight=False, soft_wrap=True)
    return code


async def _reindex_here(settings: Settings, workspace: str, recreate: bool, history: bool) -> int:
    from contextql.graph.index import reindex as rebuild

    from .stores import open_store

    store = await open_store(settings)
    try:
        index = await _open_index(settings, recreate=recreate)
    except BaseException:
        await store.close()
        raise
    try:
        with _progress() as progress:
            task = progress.add_task(f"reindex {workspace}", total=None)
            count = await rebuild(
                store, index, workspace, history=history,
                total=lambda n: progress.update(task, total=n), advance=lambda n: progress.advance(task, n),
            )
    finally:
        await index.close()
        await store.close()
    err.print(f"reindexed {count} context(s) of workspace {workspace!r}")
    return 0


async def _reindex_through(server: RunningServer, workspace: str, recreate: bool, history: bool) -> int:
    from .admin_client import EXIT_INTERNAL, AdminClient
    from .stores import EXIT_UNAVAILABLE, StoreOpenError

    async with AdminClient(server, workspace) as client:
        job = (await client.call(REINDEX, {"recreate": recreate, "history": history}))["reindex"]
        try:
            with _progress() as progress:
                task = progress.add_task(f"reindex {workspace} (in the server, pid {server.pid})", total=None)
                while True:
                    progress.update(task, total=job["total"], completed=job["done"])
                    if job["state"] != "RUNNING":
                        break
                    await asyncio.sleep(POLL)
                    job = (await client.call(JOB, {"id": job["id"]}))["indexJob"]
                    if job is None:
                        raise StoreOpenError(f"{server.describe()} no longer knows the reindex job (it restarted?): "
                                             "run `contextql reindex` again", EXIT_UNAVAILABLE)
        except (KeyboardInterrupt, asyncio.CancelledError):
            err.print(f"stopped following; the reindex goes on in the server (`indexJob(id: \"{job['id']}\")`)",
                      markup=False, highlight=False, soft_wrap=True)
            raise
    if job["state"] == "SUCCEEDED":
        err.print(f"reindexed {job['done']} context(s) of workspace {workspace!r} through {server.describe()}",
                  markup=False, highlight=False, soft_wrap=True)
        return 0
    code = (EXIT_UNAVAILABLE if job["state"] == "CANCELLED" or job["errorCode"] == "SERVICE_UNAVAILABLE"
            else EXIT_INTERNAL)
    raise StoreOpenError(f"the reindex in {server.describe()} {job['state'].lower()}: {job['error']}", code)


# -- verify ----------------------------------------------------------------------


@dataclass
class DriftReport:
    """What `verify` prints, from a `Drift` (stores opened here) or an `indexDrift` answer (a server)."""

    contexts: int
    versions: int
    pending: int
    history: bool
    counts: dict[str, int] = field(default_factory=dict)  # kind of drift -> how many
    shown: dict[str, list[str]] = field(default_factory=dict)  # kind of drift -> the first entries

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def of(cls, drift: Drift, history: bool) -> DriftReport:
        kinds: dict[str, list[str]] = {
            "missing": drift.missing, "orphaned": drift.orphaned, "stale": drift.stale,
            "history missing": [f"{cid}@{n}" for cid, n in drift.history_missing],
            "history orphaned": [f"{cid}@{n}" for cid, n in drift.history_orphaned],
        }
        return cls(drift.contexts, drift.versions, drift.pending, history,
                   {k: len(v) for k, v in kinds.items()}, {k: v[:SHOWN] for k, v in kinds.items()})

    @classmethod
    def answered(cls, data: dict[str, Any], history: bool) -> DriftReport:
        names = {"missing": "missing", "orphaned": "orphaned", "stale": "stale", "history missing": "historyMissing",
                 "history orphaned": "historyOrphaned"}
        return cls(
            data["contexts"], data["versions"], data["pendingTasks"], history,
            {k: data[n]["count"] for k, n in names.items()},
            {k: [e["contextId"] + (f"@{e['version']}" if e["version"] is not None else "") for e in data[n]["entries"]]
             for k, n in names.items()},
        )

    def print(self, workspace: str) -> None:
        c = self.counts
        past = (f"; history: {c['history missing']} missing, {c['history orphaned']} orphaned"
                if self.history else "")
        out.print(f"workspace {workspace!r}: {c['missing']} missing, {c['orphaned']} orphaned, {c['stale']} stale"
                  f"{past}; {self.pending} outbox task(s) pending", markup=False, highlight=False, soft_wrap=True)
        for label, entries in self.shown.items():
            for entry in entries:
                out.print(f"  {label} {entry}", markup=False, highlight=False)
            if c[label] > len(entries):
                out.print(f"  ... and {c[label] - len(entries)} more {label}", markup=False, highlight=False)


async def verify(settings: Settings, workspace: str, history: bool = True) -> int:
    server = _running_server(settings)
    if server is not None:
        report = await _verify_through(server, workspace, history)
        checked = f"through {server.describe()}"
        fix = ("its worker is still applying the outbox: run again shortly, or `contextql reindex`"
               if report.pending else "run `contextql reindex`")
    else:
        report = await _verify_here(settings, workspace, history)
        checked = "in the data directory"
        fix = "run `contextql reindex`" + (" (or start the server to drain the outbox)" if report.pending else "")
    err.print(f"checked {report.contexts} context(s)" + (f" and {report.versions} version(s)" if history else "")
              + f" {checked}", markup=False, highlight=False, soft_wrap=True)
    report.print(workspace)
    if report.total:
        err.print(f"drift found: {fix}", markup=False, highlight=False, soft_wrap=True)
        return 1
    return 0


async def _verify_here(settings: Settings, workspace: str, history: bool) -> DriftReport:
    from contextql.graph.index import verify as check

    from .stores import open_store

    store = await open_store(settings)
    try:
        index = await _open_index(settings)
    except BaseException:
        await store.close()
        raise
    try:
        with _progress() as progress:
            task = progress.add_task(f"verify {workspace}", total=None)
            drift = await check(store, index, workspace, history=history,
                                total=lambda n: progress.update(task, total=n),
                                advance=lambda n: progress.advance(task, n))
    finally:
        await index.close()
        await store.close()
    return DriftReport.of(drift, history)


async def _verify_through(server: RunningServer, workspace: str, history: bool) -> DriftReport:
    from .admin_client import AdminClient

    async with AdminClient(server, workspace) as client:
        # One query: the server does not report its progress, so the bar only shows that it works.
        with _spinner(f"verify {workspace} (in the server, pid {server.pid})"):
            data = (await client.call(DRIFT, {"history": history, "sample": SHOWN},
                                      timeout=VERIFY_TIMEOUT))["indexDrift"]
    return DriftReport.answered(data, history)


@contextmanager
def _spinner(description: str) -> Iterator[None]:
    with _progress() as progress:
        task = progress.add_task(description, total=None)
        yield
        progress.update(task, total=1, completed=1)
