"""`contextql import` killed (SIGKILL) midway: the transaction in flight leaves nothing, a plain rerun is
refused, and a rerun with `--resume`, as the README says, completes it exactly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from contextql.graph.knowledge.records import NodeRef, RelationshipRecord
from contextql.graph.ladybug import LadybugStore
from contextql.graph.neo4j import Neo4jStore
from contextql.graph.records import ContextRecord, VersionRecord
from contextql.graph.transfer import export_workspace
from contextql.migrations import migrate
from tests.conftest import BACKENDS

CLI = [sys.executable, "-m", "contextql.server"]
CONTEXTS = 2000


async def _backup(tmp_path, workspace: str) -> list[dict]:
    """A workspace of CONTEXTS contexts and as many edges, as a backup file's lines."""
    (tmp_path / "source").mkdir()
    store = LadybugStore(str(tmp_path / "source" / "graph.lbug"))
    await store.open()
    await migrate(store)
    try:
        now = int(time.time() * 1_000_000)
        root = ContextRecord(str(uuid.uuid4()), workspace, "/r", None, "", "", "", {}, [], True, 1, now, now, "t", "t")
        records = [root, *(ContextRecord(str(uuid.uuid4()), workspace, f"/r/c{i:05d}", root.id, "", f"c{i}",
                                         "x" * 100, {"i": i}, [], True, 1, now, now, "t", "t") for i in range(CONTEXTS))]
        versions = [VersionRecord(r.id, workspace, 1, "create", r.path, "", r.title, r.content, r.data, [], True, "t",
                                  now) for r in records]
        for start in range(0, len(records), 500):
            await store.create_contexts(records[start:start + 500], versions[start:start + 500])
        for record in records[1:]:
            await store.relate(RelationshipRecord(workspace, NodeRef("context", record.id), NodeRef("context", root.id),
                                                  "PART_OF", {}, 1.0, now, "t"))
        return [line async for line in export_workspace(store, workspace)]
    finally:
        await store.close()


def _cli(*args: str, cwd) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTQL_")} | {"CONTEXTQL_SEARCH": "false"}
    return subprocess.Popen([*CLI, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_killed_import_is_completed_by_resume(tmp_path, tmp_path_factory, backend):
    workspace = f"killed-{uuid.uuid4().hex[:8]}"
    lines = await _backup(tmp_path, workspace)
    backup = tmp_path / "backup.jsonl"
    backup.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    if backend == "neo4j":
        from tests.neo4j_server import ensure_neo4j

        uri = ensure_neo4j(tmp_path_factory)
        target = ["--neo4j-uri", uri]
        store = Neo4jStore(uri=uri, user="neo4j", password="", database="neo4j")
    else:
        target = ["--data-dir", str(tmp_path / "target")]
        store = None

    running = _cli(*target, "import", str(backup), cwd=tmp_path)
    if store is not None:  # kill it once some batches are in, and well before the end
        await store.open()
        deadline = time.monotonic() + 120
        while await store.count_contexts(workspace, None) < 500:
            assert running.poll() is None and time.monotonic() < deadline, running.communicate()
            await asyncio.sleep(0.05)
    else:  # the embedded store is locked by the import: kill it blind, at whatever point it reached
        await asyncio.sleep(3)
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)

    again = _cli(*target, "import", str(backup), cwd=tmp_path)
    _, err = again.communicate(timeout=300)
    if store is not None or "already has" in err:
        assert again.returncode == 2 and "--resume" in err, err
        resumed = _cli(*target, "import", "--resume", str(backup), cwd=tmp_path)
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0 and "skipped, already there" in err, err
    else:  # killed before its first commit: nothing was kept, and a plain rerun simply imports
        assert again.returncode == 0, err

    if store is None:
        store = LadybugStore(str(tmp_path / "target" / "graph.lbug"))
        await store.open()
    try:
        restored = [line async for line in export_workspace(store, workspace)]
    finally:
        if store.backend == "neo4j":
            await store.delete_workspace(workspace)
        await store.close()
    assert restored[1:] == lines[1:]
